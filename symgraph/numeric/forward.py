"""Forward propagation: every node's value, in topological order.

Numeric: one generated line per node, vectorized over NumPy arrays.
Symbolic: every node's expression in terms of the leaves.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> x, w = sp.symbols("x w", real=True)
>>> g = sg.Graph.from_expr(sp.exp(w * x))
>>> vals = forward_values(g, {"x": [0.0, 1.0], "w": 2.0})
>>> [round(float(v), 3) for v in vals[g.output]]
[1.0, 7.389]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from ..build.assignments import build_shared
from ..core.graph import Graph, forward_assignments
from ..errors import EvaluationError
from .codegen import make_function
from .stable import stable_lines
from .values import broadcast_shape, check_shapes, declared_shapes, real_value


def values_in_order(
    symbols: Sequence[sp.Symbol], values: Mapping[Any, Any] | None, kw: Mapping[str, Any]
) -> list[Any]:
    """The values of ``symbols`` in order, from a mapping keyed by symbol or name."""
    if values is not None and not isinstance(values, Mapping):
        raise EvaluationError(
            f"values must be a mapping of symbol or name to value, not a {type(values).__name__}"
        )
    by_name: dict[str, Any] = {}
    for key, value in {**(values or {}), **kw}.items():
        by_name[key.name if isinstance(key, sp.Symbol) else str(key)] = value
    known = {s.name for s in symbols}
    unknown = sorted(set(by_name) - known)
    if unknown:
        raise EvaluationError(
            f"values given for unknown symbols {', '.join(unknown)}; "
            f"the symbols are {', '.join(sorted(known)) or 'none'}"
        )
    missing = [s.name for s in symbols if s.name not in by_name]
    if missing:
        raise EvaluationError(f"no value given for {', '.join(missing)}")
    return [real_value(s.name, by_name[s.name]) for s in symbols]


def call_values(symbols, args: tuple, values: dict) -> list:
    """The values of a call by position and by name, checked, in the order of ``symbols``."""
    if len(args) > len(symbols):
        raise EvaluationError(f"expected at most {len(symbols)} arguments, got {len(args)}")
    given = dict(zip((s.name for s in symbols), args, strict=False))
    twice = sorted(set(given) & set(values))
    if twice:
        raise EvaluationError(f"{', '.join(twice)} given both by position and by name")
    return values_in_order(symbols, given, values)


def checked_values(symbols: Sequence[sp.Basic], values: Sequence[Any]) -> list[Any]:
    """Values of matrix arguments checked against their declared shapes; scalars broadcast."""
    if any(getattr(s, "is_Matrix", False) for s in symbols):
        return check_shapes(symbols, values, declared_shapes(symbols))
    broadcast_shape(symbols, values)
    return list(values)


def run(fn, args: Sequence[Any]):
    """``fn(*args)``; a singular matrix becomes an :class:`EvaluationError`."""
    try:
        return fn(*args)
    except np.linalg.LinAlgError as err:
        raise EvaluationError(
            f"{err} at the given point: choose values where every inverted matrix is invertible"
        ) from err


def forward_symbolic(graph: Graph) -> dict[sp.Symbol, sp.Basic]:
    """Each node's full expression, in topological order."""
    return {n: graph.nx.nodes[n]["expr"] for n in graph.topological_order()}


def forward_function(graph: Graph, inputs=None, outputs=None):
    """A generated function of the leaves (``inputs``, in that order) returning ``outputs``.

    By default: every leaf in topological order in, every node's value out.
    """
    order = graph.topological_order()
    if inputs is None:
        inputs = [n for n in order if graph.nx.nodes[n]["op"] is None]
    if outputs is None:
        outputs = order
    return stable_function(forward_assignments(graph), inputs, outputs, name="forward")


def expressions_function(exprs, inputs, name: str = "expressions"):
    """A generated function of ``inputs`` returning every expression of ``exprs``.

    The expressions share their common subexpressions in one graph (built
    iteratively), so this works where ``sympy.lambdify`` would recurse too deep.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> fn = expressions_function([sp.sin(x)**2, sp.sin(x) + 1], [x])
    >>> [float(v) for v in fn(0.0)]
    [0.0, 1.0]
    """
    ops, roots = shared_lines(exprs)
    return stable_function(ops, inputs, roots, name=name)


def shared_lines(exprs) -> tuple[list, list]:
    """``exprs`` as straight-line assignments sharing their common subexpressions.

    Returns the assignments in topological order and, for each expression, the
    symbol (or constant) that holds it.
    """
    g, roots = build_shared(exprs)
    ops = [(n, g.nodes[n]["op"]) for n in nx.topological_sort(g) if g.nodes[n]["op"] is not None]
    return ops, roots


def stable_function(assignments, inputs, outputs, name: str):
    """:func:`~symgraph.numeric.codegen.make_function` of the lines in their stable forms.

    See :mod:`symgraph.numeric.stable`: ``σ'(-1000)`` is 0, not NaN.
    """
    return make_function(stable_lines(assignments), inputs, outputs, name=name)


def forward_values(graph: Graph, values: Mapping[Any, Any] | None = None, **kw: Any) -> dict:
    """The numeric value of every node at a point or over arrays.

    Parameters
    ----------
    graph : Graph
    values : mapping
        Values of the leaves, keyed by symbol or by name; NumPy arrays
        broadcast (a batch of points in one call).

    Returns
    -------
    dict
        node symbol -> value, in topological order.

    Raises
    ------
    EvaluationError
        When a leaf has no value, a value names no leaf, a value is not real
        (text, ``None``, complex, masked...), or the shapes do not fit.
    """
    order = graph.topological_order()
    fn = forward_function(graph, outputs=order)
    args = checked_values(fn.inputs, values_in_order(fn.inputs, values, kw))
    return dict(zip(order, run(fn, args), strict=True))
