"""The one-call entry points: build, backpropagate, return the Gradient.

Examples
--------
>>> import sympy as sp
>>> x, w = sp.symbols("x w", real=True)
>>> gradient(sp.exp(w * x), wrt=[w])[w]
x*exp(w*x)
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from ..build.assignments import graph_of_expr
from ..core.gradient import Gradient
from .backward import backward


def gradient(
    expr: sp.Basic,
    wrt: Iterable[sp.Symbol] | None = None,
    granularity: str = "op",
    progress: bool = False,
):
    """Build the graph of ``expr`` and backpropagate: ∂expr/∂w for each weight.

    Parameters
    ----------
    expr : sympy.Basic
        A scalar expression; it may be built from ``MatrixSymbol`` s, and then
        ``grad[W]`` has ``W``'s shape.
    wrt : iterable of Symbol or MatrixSymbol, optional
        The weights (all free symbols, sorted by name, when omitted).
    granularity : {"op", "fine", "named"}
        How finely the graph is cut; the gradient is the same either way.
    progress : bool
        Show the backward pass's progress on standard error (a tqdm bar, with
        the ``progress`` extra).

    Returns
    -------
    Gradient
        ``grad[w]`` is the closed form; ``grad.equations`` the δ-equations.
    """
    return backward(graph_of_expr(expr, wrt=wrt, granularity=granularity), progress=progress)


__all__ = ["gradient", "Gradient"]
