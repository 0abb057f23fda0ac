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

import numpy as np
import sympy as sp

from .codegen import make_function
from .errors import EvaluationError
from .graph import Graph


def values_in_order(
    symbols: Sequence[sp.Symbol], values: Mapping[Any, Any] | None, kw: Mapping[str, Any]
) -> list[Any]:
    """The values of ``symbols`` in order, from a mapping keyed by symbol or name."""
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
    return [np.asarray(by_name[s.name]) if _is_sequence(by_name[s.name]) else by_name[s.name]
            for s in symbols]


def _is_sequence(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def forward_symbolic(graph: Graph) -> dict[sp.Symbol, sp.Basic]:
    """Each node's full expression, in topological order."""
    return {n: graph.nx.nodes[n]["expr"] for n in graph.topological_order()}


def forward_function(graph: Graph):
    """A generated function of the leaves returning every node's value."""
    order = graph.topological_order()
    leaves = [n for n in order if graph.nx.nodes[n]["op"] is None]
    ops = [(n, graph.nx.nodes[n]["op"]) for n in order if graph.nx.nodes[n]["op"] is not None]
    return make_function(ops, leaves, order, name="forward"), order


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
        When a leaf has no value or a value names no leaf.
    """
    fn, order = forward_function(graph)
    args = values_in_order(fn.inputs, values, kw)
    return dict(zip(order, fn(*args)))
