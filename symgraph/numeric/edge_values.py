"""The local partials on a graph's edges at one point, with the compiled gradient's conventions.

Walkthroughs and drawings print the number on every edge.  Evaluated by
SymPy, ``DiracDelta(0)`` is undefined and ``1/0`` is ``zoo``; the compiled
gradient says ``DiracDelta → 0``, ``Heaviside(0) = 1/2``, ``sign(0) = 0`` and
``1/0 = inf`` (docs/numerics.md).  The partials are therefore compiled by the
same code generator, so the numbers shown are the numbers the gradient uses.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> import symgraph as sg
>>> x = sp.Symbol("x", real=True)
>>> graph = sg.Graph.from_expr(sp.Heaviside(x), wrt=[x])
>>> partial_values(graph, {x: np.float64(0.0)})
{(x, L): 0.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import SymgraphError
from .codegen import make_function

Number = complex | float


def as_number(value: Any) -> Number:
    """A Python float (or complex when the imaginary part is not 0) from a NumPy scalar.

    Examples
    --------
    >>> as_number(np.float64(-np.inf))
    -inf
    """
    z = complex(np.asarray(value).reshape(()))
    return z.real if z.imag == 0 else z


def partial_values(graph, forward: Mapping[Any, Any], edges=None) -> dict[tuple, Number]:
    """(operand, result) -> the edge's local partial at the forward values, as compiled.

    Parameters
    ----------
    graph : Graph
    forward : mapping
        node -> its forward value (from :func:`symgraph.numeric.compile.values_at`).
    edges : iterable of (operand, result), optional
        The edges wanted (default: every scalar edge with a partial).

    Returns
    -------
    dict
        Edges whose partial has no value (a matrix value, a symbol off the
        point) are left out.
    """
    if edges is None:
        edges = list(graph.nx.edges)
    wanted = []
    for a, b in edges:
        partial = graph.partial(a, b)
        if partial is None or getattr(partial, "is_Matrix", False):
            continue
        free = partial.free_symbols
        if all(s in forward and np.ndim(forward[s]) == 0 for s in free):
            wanted.append(((a, b), partial))
    if not wanted:
        return {}
    inputs = sorted({s for _, p in wanted for s in p.free_symbols}, key=lambda s: s.name)
    values = [_numpy(forward[s]) for s in inputs]
    try:
        fn = make_function([], inputs, [p for _, p in wanted], name="edge_values")
        results = fn(*values)
    except SymgraphError:  # a partial with no numeric form: evaluate what can be, one by one
        return _one_by_one(wanted, forward)
    return {edge: as_number(v) for (edge, _), v in zip(wanted, results, strict=True)}


def _numpy(value: Any) -> np.ndarray:
    """A NumPy real (so ``1/0`` is ``inf``), or a NumPy bool for a condition node."""
    array = np.asarray(value)
    return array if array.dtype == bool else array.astype(float)


def _one_by_one(wanted, forward) -> dict[tuple, Number]:
    found = {}
    for edge, partial in wanted:
        inputs = sorted(partial.free_symbols, key=lambda s: s.name)
        try:
            fn = make_function([], inputs, [partial], name="edge_value")
        except SymgraphError:
            continue
        (value,) = fn(*(_numpy(forward[s]) for s in inputs))
        found[edge] = as_number(value)
    return found
