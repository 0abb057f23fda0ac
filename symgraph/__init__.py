"""symgraph: symbolic differentiation through computational graphs.

>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> sg.gradient(sp.sin(w * x), wrt=[w])[w]
x*cos(w*x)
"""

from . import layers, nn
from .ad.api import gradient
from .ad.derivatives import hessian, hvp, jacobian

# through the module symgraph.check, so importing that module later cannot replace sg.check
from .check import CheckReport, check
from .core.gradient import Gradient
from .core.graph import Graph
from .errors import (
    CheckError,
    EvaluationError,
    GraphError,
    NoRuleError,
    ParseError,
    SymgraphError,
)
from .io.files import from_json, load_json, save_dot, save_graphml, save_json, to_graphml, to_json
from .numeric.jacobian import lambdify_hessian, lambdify_jacobian
from .present.explain import Walkthrough, explain
from .present.view import View, view
from .rules.registry import register_rule, register_vjp
from .trace import Value

__version__ = "0.1.0"

__all__ = [
    "CheckError",
    "CheckReport",
    "EvaluationError",
    "Gradient",
    "Graph",
    "GraphError",
    "NoRuleError",
    "ParseError",
    "SymgraphError",
    "Value",
    "View",
    "Walkthrough",
    "check",
    "explain",
    "from_json",
    "load_json",
    "save_dot",
    "save_graphml",
    "save_json",
    "to_graphml",
    "to_json",
    "view",
    "gradient",
    "hessian",
    "hvp",
    "jacobian",
    "lambdify_hessian",
    "lambdify_jacobian",
    "layers",
    "nn",
    "register_rule",
    "register_vjp",
]
