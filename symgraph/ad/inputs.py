"""What the user hands to jacobian, hessian and hvp, checked before any work.

Each refusal is one GraphError line naming what was given and what to give
instead; text is never converted (no ``sympify``): numbers become SymPy numbers
by ``sp.Integer`` / ``sp.Float``, and text is refused.

Examples
--------
>>> import sympy as sp
>>> w, b, u = sp.symbols("w b u", real=True)
>>> check_directions([u, 2], (w, b))
{w: u, b: 2}
>>> check_directions(["u"], (w,))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symgraph.errors.GraphError: the direction for w is text ('u'); give a SymPy expression or ...
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.core.numbers import ComplexInfinity, Infinity, NaN, NegativeInfinity
from sympy.logic.boolalg import Boolean

from ..build.assignments import graph_of_expr
from ..build.inputs import as_value, check_wrt
from ..core.graph import Graph
from ..core.sizes import shown
from ..core.substitute import contains
from ..errors import GraphError


def check_weights(wrt: Iterable) -> tuple[sp.Symbol, ...]:
    """The weights as a tuple of symbols (one given alone is a tuple of one)."""
    if isinstance(wrt, (str, sp.Basic)) and not isinstance(wrt, sp.MatrixBase):
        wrt = [wrt]  # one weight given alone
    try:
        wrt = tuple(wrt)
    except TypeError:
        raise GraphError(
            f"wrt must be a list of symbols, not {type(wrt).__name__} {shown(wrt)}"
        ) from None
    if not wrt:
        raise GraphError("no weights to differentiate by: wrt is empty")
    return check_wrt(wrt)


def forward_graph(expr, wrt, granularity: str) -> Graph:
    """The graph of one scalar expression (or a Graph given as is).

    A 1×1 matrix expression (``xᵀ A x``) is a scalar, as for ``sg.gradient``.
    """
    if isinstance(expr, Graph):
        return expr if wrt is None else Graph(expr.nx, expr.output, check_weights(wrt))
    scalar = getattr(expr, "shape", None) == (1, 1)
    if isinstance(expr, (list, tuple)) or (getattr(expr, "is_Matrix", False) and not scalar):
        shape = expr.shape if hasattr(expr, "shape") else (len(expr),)
        raise GraphError(
            f"needs one scalar expression, not {'x'.join(map(str, shape))} of them; "
            "for several outputs use symgraph.derivatives.jacobian"
        )
    wrt = None if wrt is None else check_weights(wrt)
    return graph_of_expr(expr, wrt=wrt, granularity=granularity)


def outputs_of(exprs) -> list:
    """The outputs of a Jacobian, flattened: a sequence, a row or column Matrix, or one."""
    if isinstance(exprs, sp.MatrixBase):
        if min(exprs.shape) > 1:
            raise GraphError(
                f"jacobian needs a row or a column of outputs, not a {exprs.rows}x{exprs.cols} "
                "matrix; flatten it first (list(matrix))"
            )
        outputs = list(exprs)
    else:
        outputs = list(exprs) if isinstance(exprs, (list, tuple)) else [exprs]
    return [as_value(e, f"output {k}") for k, e in enumerate(outputs)]


def check_directions(vector, wrt: Sequence[sp.Basic]) -> dict[sp.Basic, sp.Basic]:
    """weight -> its direction v_w, checked: one per weight, free of the weights."""
    if isinstance(vector, Mapping):
        by_name = {w.name: w for w in wrt}
        given = {}
        for key, v in vector.items():
            w = by_name.get(key) if isinstance(key, str) else key
            if w not in set(wrt):
                raise GraphError(
                    f"the vector gives a direction for {shown(key)}, which is not a weight"
                )
            given[w] = v
        missing = [str(w) for w in wrt if w not in given]
        if missing:
            raise GraphError(f"the vector gives no direction for {', '.join(missing)}")
    else:
        if isinstance(vector, (str, bytes, sp.Basic)) or not isinstance(vector, Iterable):
            raise GraphError(
                f"the vector must be a list with one direction per weight, or a mapping "
                f"weight -> direction, not {type(vector).__name__} {shown(vector)}"
            )
        vector = list(vector)
        if len(vector) != len(wrt):
            raise GraphError(
                f"the vector has {len(vector)} entries but there are {len(wrt)} weights"
            )
        given = dict(zip(wrt, vector, strict=True))
    weights = set(wrt)
    return {w: _direction(w, v, weights) for w, v in given.items()}


def _direction(w: sp.Basic, v: object, weights: set) -> sp.Basic:
    """One direction as a SymPy value of ``w``'s shape, or a GraphError."""
    v = _as_sympy(w, v)
    if contains(v, NaN, Infinity, NegativeInfinity, ComplexInfinity):
        raise GraphError(f"the direction for {w} is not finite ({shown(v)}); give finite values")
    inside = sorted(map(str, v.free_symbols & weights))
    if inside:
        raise GraphError(
            f"the direction for {w} depends on the weight {', '.join(inside)}; "
            "a direction must be independent of the weights (use fresh symbols v1, v2, ...)"
        )
    shape = getattr(v, "shape", None) if getattr(v, "is_Matrix", False) else None
    if isinstance(w, sp.MatrixSymbol) and shape != w.shape:
        raise GraphError(
            f"the direction for {w} must have its shape {w.shape[0]}×{w.shape[1]}, "
            f"not {'a scalar' if shape is None else f'{shape[0]}×{shape[1]}'}"
        )
    if not isinstance(w, sp.MatrixSymbol) and shape is not None:
        raise GraphError(
            f"the direction for {w} must be a scalar, as {w} is, not a {shape[0]}×{shape[1]} matrix"
        )
    return v


def _as_sympy(w: sp.Basic, v: object) -> sp.Basic:
    if isinstance(v, (str, bytes)):
        raise GraphError(
            f"the direction for {w} is text ({shown(v)}); give a SymPy expression or a number "
            "(read text with symgraph.parse)"
        )
    if isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)):
        return sp.Integer(int(v))
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        if not math.isfinite(float(v)):
            raise GraphError(f"the direction for {w} is {float(v)}; give finite values")
        return sp.Float(float(v))
    if isinstance(v, np.ndarray) and v.dtype.kind in "iuf" and v.ndim in (1, 2):
        rows = v.reshape(len(v), -1) if v.ndim == 1 else v
        return sp.ImmutableMatrix([[_as_sympy(w, e.item()) for e in row] for row in rows])
    if isinstance(v, sp.MatrixBase) and not isinstance(v, sp.ImmutableMatrix):
        v = sp.ImmutableMatrix(v)
    if not isinstance(v, sp.Basic) or (isinstance(v, Boolean) and not isinstance(v, sp.Expr)):
        raise GraphError(
            f"the direction for {w} must be a SymPy expression or a number, "
            f"not {type(v).__name__} {shown(v)}"
        )
    return v


def check_direction_names(graph: Graph, symbols: Iterable[sp.Symbol]) -> None:
    """A direction symbol must not share its name with a different leaf of the graph.

    (The same symbol is fine: a direction may be an input.  An intermediate
    node of that name is renamed by :func:`symgraph.ad.derivatives.gradient_assignments`.)
    """
    leaves = {n.name: n for n in graph.leaves}
    for s in symbols:
        other = leaves.get(s.name)
        if other is not None and other != s:
            raise GraphError(
                f"the direction symbol {s} has the name of a different symbol of the "
                f"expression ({other!r}, assumptions {other.assumptions0}); rename one of them"
            )


__all__ = ["check_direction_names", "check_directions", "check_weights", "forward_graph"]
