"""The straight-line program a gradient compiles to: its lines and its outputs.

Every backend (NumPy, ``math``, JAX, torch, C) and every reduction prints
the same assignments; this module says what they are.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> grad = sg.gradient(w**2 * x, wrt=[w])
>>> argument_order(grad)
[x, w]
>>> assignments, outputs = compiled_lines(grad)
>>> len(outputs)
2
"""

from __future__ import annotations

import sympy as sp

from ..core.adjoint import AdjointSymbol
from ..core.gradient import Gradient
from ..core.graph import forward_assignments
from .codegen import ZeroSafeProduct
from .forward import shared_lines

__all__ = ["argument_order", "compiled_lines", "has_piecewise", "numeric_equations"]


def argument_order(grad: Gradient) -> list[sp.Symbol]:
    """Inputs sorted by name, then the weights in ``wrt`` order."""
    weights = set(grad.wrt)
    inputs = sorted((n for n in grad.graph.leaves if n not in weights), key=lambda s: s.name)
    return inputs + list(grad.wrt)


def compiled_lines(grad: Gradient) -> tuple[list, list]:
    """The straight-line assignments the compiled function runs, and its outputs.

    The value first, then each partial in ``wrt`` order.  A simplified scalar
    gradient runs its closed forms, their common subexpressions shared; any
    other runs the graph itself: forward lines, then one line per δ-equation
    (``@`` for matrices).  Matrix closed forms are not simplified, and behind a
    ``Piecewise`` the graph's zero-safe adjoints are needed (see
    :func:`numeric_equations`).
    """
    if grad.simplified and not grad.graph.has_matrices and not has_piecewise(grad.graph):
        closed = grad.closed_forms()
        return shared_lines([grad.expr, *(closed[w] for w in grad.wrt)])
    outputs = [grad.output, *(grad.adjoints[w] for w in grad.wrt)]
    return forward_assignments(grad.graph, needed_only=True) + numeric_equations(grad), outputs


def has_piecewise(graph) -> bool:
    """Whether some operation of ``graph`` is a ``Piecewise`` (zero-safe adjoints needed)."""
    return any(op is not None and op.has(sp.Piecewise) for _, op in graph.nx.nodes(data="op"))


def numeric_equations(grad: Gradient) -> list:
    """The δ-equations as they are compiled.

    Behind a ``Piecewise``, an adjoint is exactly 0 in the branch not taken,
    where that branch's partials may be NaN: those products become
    :class:`~symgraph.numeric.codegen.ZeroSafeProduct` (0 where the adjoint is 0), the
    value SymPy's own derivative has there.  Simplified closed forms of such a
    gradient are not compiled for the same reason: the graph is.
    """
    if not has_piecewise(grad.graph):
        return list(grad.equations)
    return [(lhs, _zero_safe(rhs)) for lhs, rhs in grad.equations]


def _zero_safe(rhs: sp.Basic) -> sp.Basic:
    terms = []
    for term in sp.Add.make_args(rhs):
        factors = sp.Mul.make_args(term)
        deltas = [f for f in factors if isinstance(f, AdjointSymbol)]
        if len(deltas) == 1 and len(factors) > 1:
            rest = sp.Mul(*(f for f in factors if f is not deltas[0]))
            term = ZeroSafeProduct(deltas[0], rest)
        terms.append(term)
    return sp.Add(*terms)
