r"""LaTeX export of a Gradient: one ``\frac{\partial L}{\partial w} = …`` per weight.

Two forms:

- ``"closed"``: each partial in inputs and weights only;
- ``"structured"``: the forward definitions (``v_{1} = w x``), the δ-terms
  named after the graph's nodes (``\delta_{v_{1}} = \delta_{L} \cos{v_{1}}``),
  then each partial in δ-terms: the way a paper's backpropagation section reads.

SymPy prints every expression; this module only arranges equations.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> print(gradient_latex(sg.gradient(sp.sin(w * x), wrt=[w])))
\begin{align}
\frac{\partial L}{\partial w} &= x \cos{\left(w x \right)}
\end{align}
"""

from __future__ import annotations

import sympy as sp

from .errors import GraphError, SymgraphError
from .gradient import Gradient

FORMS = ("closed", "structured")
ENVIRONMENTS = ("align", "align*", "aligned", None)


def _tex(expr: sp.Basic) -> str:
    try:
        return sp.latex(expr)
    except RecursionError as err:
        raise SymgraphError(
            "this closed form is too deep to print; use form='structured', "
            "which prints one short equation per node"
        ) from err


def partial_symbol(output: sp.Symbol, weight: sp.Symbol) -> str:
    r"""``\frac{\partial L}{\partial w}`` for an output and a weight."""
    return rf"\frac{{\partial {_tex(output)}}}{{\partial {_tex(weight)}}}"


def gradient_latex(grad: Gradient, form: str = "closed", environment: str | None = "align") -> str:
    r"""The gradient as LaTeX equations, aligned at ``=``.

    Parameters
    ----------
    grad : Gradient
    form : {"closed", "structured"}
    environment : {"align", "align*", "aligned", None}
        The amsmath environment around the lines (None: the lines alone).
    """
    if form not in FORMS:
        raise GraphError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    if environment not in ENVIRONMENTS:
        raise GraphError(f"unknown environment {environment!r}")
    lines = []
    if form == "closed":
        for w, expr in grad.closed_forms().items():
            lines.append(f"{partial_symbol(grad.output, w)} &= {_tex(expr)}")
    else:
        lines += _structured_lines(grad)
    body = " \\\\\n".join(lines)
    if environment is None:
        return body
    return f"\\begin{{{environment}}}\n{body}\n\\end{{{environment}}}"


def _structured_lines(grad: Gradient) -> list[str]:
    graph = grad.graph
    lines = [
        f"{_tex(n)} &= {_tex(graph.nx.nodes[n]['op'])}"
        for n in graph.topological_order()
        if graph.nx.nodes[n]["op"] is not None
    ]
    weights = set(grad.adjoints.values())  # printed below as ∂L/∂w, not twice
    lines += [f"{_tex(lhs)} &= {_tex(rhs)}" for lhs, rhs in grad.equations if lhs not in weights]
    structured = grad.structured
    lines += [f"{partial_symbol(grad.output, w)} &= {_tex(structured[w])}" for w in grad.wrt]
    return lines


def latex_document(body: str) -> str:
    """A minimal compilable document around ``body`` (amsmath only)."""
    return (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n"
    )
