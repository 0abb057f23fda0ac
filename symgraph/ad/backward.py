"""Reverse mode over the graph: adjoints (δ-terms) and the Gradient.

Walk the nodes in reverse topological order, touching only those on a path
from a weight to the output.  The output's adjoint is 1; a node's adjoint is
the sum over its out-edges of what each child sends back, the edge's
vector-Jacobian product written in the child's δ (``δ_c · ∂c/∂n`` for a
scalar operation, ``δ_z xᵀ`` for ``z = W x``):

    δ_n = Σ_{c ∈ children(n)} vjp(c → n)

Each adjoint is one equation in node symbols and the children's δ symbols (the
structured form), so the cost is one small expression per edge: linear in the
graph's size.  Closed forms are made from these equations only when asked.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> grad = backward(sg.Graph.from_expr(sp.sin(w * x), wrt=[w]))
>>> for lhs, rhs in grad.equations: print(lhs, "=", rhs)
delta_L = 1
delta_v1 = delta_L*cos(v1)
delta_w = delta_v1*x
>>> grad[w]
x*cos(w*x)
"""

from __future__ import annotations

import sympy as sp

from ..core.adjoint import AdjointSymbol, MatrixAdjoint, adjoint_of
from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..core.graph import Graph
from ..core.progress import steps
from ..core.sizes import is_matrix, zero_like
from ..errors import NoRuleError
from ..rules.registry import has_vjp


def relevant_nodes(graph: Graph) -> set[sp.Symbol]:
    """Nodes on some path from a weight to the output (the only ones backprop needs)."""
    return graph.nodes_between(graph.wrt)


@paused_collector
def backward(graph: Graph, progress: bool = False) -> Gradient:
    """Symbolic backpropagation over ``graph``: the structured and closed gradient.

    With ``progress``, a bar on standard error counts the nodes done.

    Raises
    ------
    NoRuleError
        When an operation on a path from a weight to the output has no rule;
        the message names the node and its operation.
    """
    relevant = relevant_nodes(graph)
    adjoint: dict[sp.Basic, AdjointSymbol | MatrixAdjoint] = {}
    equations: list[tuple[AdjointSymbol, sp.Basic]] = []
    order = reversed(graph.topological_order())
    for node in steps(order, len(graph.nx), "backward", progress):
        if node not in relevant:
            continue
        adjoint[node] = adjoint_of(node)
        if node == graph.output:
            equations.append((adjoint[node], _seed(node)))
            continue
        terms = []
        for child in graph.nx.successors(node):
            if child not in relevant:
                continue
            share = graph.nx.edges[node, child]["vjp"]
            if share is None:
                op = graph.nx.nodes[child]["op"]
                matrices = is_matrix(child) or is_matrix(node) or has_vjp(op)
                raise NoRuleError(
                    f"cannot differentiate node {child} = {op} with respect to {node}: "
                    f"no derivative rule for {type(op).__name__}; "
                    f"register one with symgraph.{'register_vjp' if matrices else 'register_rule'}"
                )
            terms.append(share)
        equations.append((adjoint[node], _sum(terms, node)))
    return Gradient(graph, equations, {w: adjoint.get(w, zero_like(w)) for w in graph.wrt})


def _seed(output: sp.Basic) -> sp.Basic:
    """δ of the output: 1 (a 1×1 matrix output gets the 1×1 identity)."""
    return sp.Identity(1) if isinstance(output, sp.MatrixSymbol) else sp.S.One


def _sum(terms: list, node: sp.Basic) -> sp.Basic:
    if not isinstance(node, sp.MatrixSymbol):
        return sp.Add(*terms)
    terms = [t for t in terms if not t.is_ZeroMatrix]
    if len(terms) <= 1:
        return terms[0] if terms else zero_like(node)
    return sp.MatAdd(*terms)
