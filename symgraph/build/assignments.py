"""Static graphs: a whole expression, or named assignments in a paper's order.

One path for every shape: an expression is the one-assignment case (its
output named ``L``), and matrices are values like any other.

Examples
--------
>>> import sympy as sp
>>> W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
>>> g = graph_of_expr(sp.Trace((W*x - y).T * (W*x - y)), wrt=[W])
>>> for n in g.topological_order()[3:]: print(n, "=", g.op(n), g.nx.nodes[n]["shape"])
v1 = W*x (2, 1)
v2 = -y (2, 1)
v3 = v1 + v2 (2, 1)
v4 = v3.T*v3 (1, 1)
L = Trace(v4) ()
>>> g.nx.edges[W, sp.MatrixSymbol("v1", 2, 1)]["vjp"]
delta_v1*x.T
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp

from ..core.collector import paused_collector
from ..core.graph import Graph
from ..core.sizes import is_matrix, shape_of, shown
from ..errors import GraphError
from .builder import GraphBuilder, build_graph_from
from .inputs import (
    GRANULARITIES,
    Namer,
    as_value,
    check_names,
    check_output_name,
    check_scalar_output,
    check_wrt,
    leaves_and_sizes,
)

# Matrix graphs have no binary steps of their own: "fine" splits scalar sums and products.
MATRIX_GRANULARITIES = tuple(g for g in GRANULARITIES if g != "fine")


@paused_collector
def graph_of_expr(expr, wrt=None, granularity: str = "op", output="L") -> Graph:
    """The graph of one expression; see :meth:`symgraph.Graph.from_expr`."""
    expr = as_value(expr, "the expression")
    check_output_name(output)
    return _build([(output, expr)], wrt, granularity, single=True)


@paused_collector
def graph_of_assignments(assignments, wrt=None, granularity: str = "named") -> Graph:
    """The graph of named assignments; see :meth:`symgraph.Graph.from_assignments`."""
    if isinstance(assignments, (str, bytes, sp.Basic)) or not isinstance(assignments, Iterable):
        raise GraphError(
            "assignments must be a list of (name, expression) pairs, "
            f"not {type(assignments).__name__}"
        )
    pairs = []
    for k, pair in enumerate(assignments):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise GraphError(f"assignment {k} must be a (name, expression) pair, not {shown(pair)}")
        name, rhs = pair
        if not isinstance(name, (sp.Symbol, sp.MatrixSymbol)):
            raise GraphError(f"an assignment's target must be a Symbol, not {name!r}")
        pairs.append((name, as_value(rhs, f"the right side of {shown(name)}")))
    if not pairs:
        raise GraphError("no assignments given")
    return _build(pairs, wrt, granularity, single=False)


def _build(assignments: Sequence[tuple], wrt, granularity: str, single: bool) -> Graph:
    """The graph of ``(name, value)`` pairs, the last the output (``single``: one expression)."""
    values = [rhs for _, rhs in assignments]
    if granularity == "fine" and any(is_matrix(v) or v.has(sp.MatrixSymbol) for v in values):
        raise GraphError(
            f"matrix graphs have granularity {' or '.join(MATRIX_GRANULARITIES)}, not 'fine'"
        )
    names = [] if single else [name for name, _ in assignments]
    assigned = set(names)
    if len(assigned) != len(names):
        raise GraphError("a name is assigned twice; each intermediate needs its own name")
    leaves, sizes = leaves_and_sizes(values)
    leaves = [s for s in leaves if s not in assigned]
    wrt = check_wrt(leaves if wrt is None else wrt)
    check_names([*leaves, *wrt, *names])
    namer = Namer((str(s) for s in [*leaves, *wrt]), reserved=(str(s) for s in names))
    b = GraphBuilder(granularity, namer, wrt, sizes, exprs_are_full=single)
    defined: set[sp.Basic] = set()
    root = None
    for name, rhs in assignments:
        uses = leaves_and_sizes([rhs])[0]
        for s in uses:
            if s in assigned and s not in defined:
                raise GraphError(f"{name} uses {s} before {s} is assigned")
        if single:
            target = _output_symbol(str(name), rhs, namer)
        else:
            target = namer.named(name)
            if shape_of(target) != shape_of(rhs):
                raise GraphError(f"{name} has shape {shape_of(name)} but {rhs} has {shape_of(rhs)}")
        if granularity == "named":  # the whole right side is one node, as the paper wrote it
            operands = [s if s in b.full else b.leaf(s) for s in uses if s not in sizes]
            root = b.operation(rhs, operands, target)
        else:
            root = b.add(rhs, target)
        defined.add(name)
        b.node_of[b.full[root]] = root  # later uses of this expression mean this name
    check_scalar_output(root)
    return build_graph_from(b, root, wrt)


def _output_symbol(name: str, value: sp.Basic, namer: Namer) -> sp.Basic:
    """The output's node: ``L`` unless a leaf has that name, a matrix symbol for a 1×1 value."""
    symbol = namer.fresh() if name in namer.taken else namer.named(name)
    return sp.MatrixSymbol(symbol.name, *value.shape) if is_matrix(value) else symbol


def build_shared(exprs, granularity: str = "op"):
    """One DiGraph computing several expressions, equal subexpressions shared.

    Structural sharing is common-subexpression elimination done iteratively,
    so it works on expressions too deep for ``sympy.cse``.

    Returns
    -------
    (networkx.DiGraph, list)
        The graph, and for each expression its node (or itself if constant).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> g, roots = build_shared([sp.sin(x)**2, sp.sin(x) + 1])
    >>> g.number_of_nodes()     # x, sin(x), sin(x)**2, sin(x) + 1
    4
    """
    exprs = [as_value(e, "an expression") for e in exprs]
    leaves, sizes = leaves_and_sizes(exprs)
    b = GraphBuilder(granularity, Namer(str(s) for s in leaves), [], sizes)
    roots = [b.add(e) for e in exprs]
    b.finish()
    return b.g, roots
