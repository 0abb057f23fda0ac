"""Graphs whose nodes hold matrices: a whole layer is one node.

An expression built from ``MatrixSymbol`` s (``W*x + b``,
``(W*x).applyfunc(tanh)``, ``Trace``, ...) becomes the same kind of
:class:`~symgraph.core.graph.Graph` as a scalar one, with a ``shape`` on every
node: ``(rows, cols)`` for a matrix node (named by a ``MatrixSymbol``), ``()``
for a scalar one.  Dimensions may be symbols (``n``, ``d``, ``h``).

Edges out of scalar operations carry ``partial`` as in scalar graphs.  Every
other edge carries ``vjp``: the vector-Jacobian product, the operand's share
of the adjoint written in the result's δ symbol, made by the rules of
:mod:`symgraph.rules.matrix` (``δ_W = δ_z xᵀ``).  Backpropagation sums those.

This module also routes: :func:`graph_of_expr` and :func:`graph_of_assignments`
build a matrix graph when matrices are present and a scalar one otherwise.

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

import networkx as nx
import sympy as sp
from sympy.logic.boolalg import Boolean
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.adjoint import adjoint_of
from .builder import (
    GRANULARITIES,
    Namer,
    _check_names,
    _check_wrt,
    build_from_assignments,
    build_from_expr,
    build_graph_from,
    scalar_partials,
)
from ..errors import GraphError, NoRuleError
from ..core.graph import Graph
from ..rules.matrix import has_vjp, matrix_vjp
from ..rules.registry import local_partial
from ..core.sizes import is_matrix, shape_of, shown, zero_like
from ..core.substitute import contains, folded, substitute

# Matrix graphs have no binary steps of their own: "fine" is a scalar granularity.
MATRIX_GRANULARITIES = tuple(g for g in GRANULARITIES if g != "fine")


def has_matrices(expr: object) -> bool:
    """True when ``expr`` is a matrix or holds a ``MatrixSymbol`` (a matrix graph)."""
    return isinstance(expr, sp.Basic) and (is_matrix(expr) or contains(expr, sp.MatrixSymbol))


# --- the expression's own DAG ---


def leaves_and_sizes(roots: Iterable[sp.Basic]) -> tuple[list[sp.Basic], set[sp.Symbol]]:
    """Leaf symbols (scalar and matrix), sorted by name, and the symbols used as sizes.

    >>> import sympy as sp
    >>> n = sp.Symbol("n", integer=True)
    >>> leaves_and_sizes([sp.Trace(sp.MatrixSymbol("X", n, n)) * sp.Symbol("c")])
    ([X, c], {n})
    """
    leaves: dict[sp.Basic, None] = {}
    dims: set[sp.Symbol] = set()
    seen: set[sp.Basic] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, sp.MatrixSymbol):
            leaves[e] = None
            for d in e.shape:
                dims |= d.free_symbols  # MatrixSymbol sympified its sizes itself
        elif isinstance(e, sp.Symbol):
            leaves[e] = None
        elif is_matrix(e) and not e.args:
            continue
        elif isinstance(e, sp.Lambda):  # an entrywise function: its variable is bound
            stack.extend(e.free_symbols)
        elif is_matrix(e) and not isinstance(e, sp.MatrixExpr):  # an explicit Matrix
            stack.extend(e.free_symbols)
        else:
            stack.extend(e.args)
    for e in list(leaves):
        if isinstance(e, sp.Symbol) and e in dims:
            del leaves[e]  # n in OneMatrix(n, 1) is a size, not a value
    return sorted(leaves, key=lambda s: s.name), dims


def _operand_slots(e: sp.Basic, is_value) -> list[int]:
    """Positions in ``e.args`` that hold values (not a function, a size or a constant)."""
    if isinstance(e, ElementwiseApplyFunction):
        return [1]
    if isinstance(e, (sp.MatrixSymbol, sp.Symbol)) or not e.args:
        return []
    return [k for k, a in enumerate(e.args) if is_value(a)]


def expression_vjp(op: sp.Basic, seed: sp.Basic, operands: Sequence[sp.Basic]) -> dict:
    """Each operand's share of ``seed``, the adjoint of ``op`` (one reverse sweep).

    ``op`` is an expression in ``operands`` (one operation, or several nested
    ones for a fused node); matrix operations go through the VJP rules,
    scalar ones through the scalar rules.  Iterative: nesting depth is free.

    Examples
    --------
    >>> import sympy as sp
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> d = sp.MatrixSymbol("d", 2, 1)
    >>> expression_vjp(W*x + W*x, d, [W, x])
    {W: 2*d*x.T, x: 2*W.T*d}
    """
    targets = set(operands)
    free = {}  # does this subexpression hold an operand?

    def holds(e: sp.Basic) -> bool:
        if e not in free:
            free[e] = e in targets or bool(e.free_symbols & targets)
        return free[e]

    order, seen, stack = [], set(), [(op, False)]
    while stack:
        e, ready = stack.pop()
        if ready:
            order.append(e)
            continue
        if e in seen:
            continue
        seen.add(e)
        stack.append((e, True))
        if e not in targets:
            stack.extend((e.args[k], False) for k in _operand_slots(e, holds))
    adjoint: dict[sp.Basic, sp.Basic] = {op: seed}
    for e in reversed(order):
        if e in targets or e not in adjoint:
            continue
        for k in _operand_slots(e, holds):
            share = _local_vjp(e, k, adjoint[e])
            operand = e.args[k]
            adjoint[operand] = share if operand not in adjoint else adjoint[operand] + share
    return {s: adjoint[s] for s in operands if s in adjoint}


def _local_vjp(e: sp.Basic, k: int, adjoint: sp.Basic) -> sp.Basic:
    try:
        if is_matrix(e) or has_vjp(e):
            return matrix_vjp(e, k, adjoint)
        if any(is_matrix(a) for a in e.args):
            raise NoRuleError(f"no rule for {type(e).__name__} of a matrix")
        placeholders = [sp.Dummy(f"s{j}") for j in range(len(e.args))]
        partial = local_partial(e.func(*placeholders), k)
        return adjoint * partial.xreplace(dict(zip(placeholders, e.args, strict=True)))
    except NoRuleError as err:
        raise NoRuleError(f"cannot backpropagate through {e}: {err}") from err


# --- the builder ---


class MatrixGraphBuilder:
    """Adds the nodes of matrix expressions to one DiGraph, sharing equal subexpressions."""

    def __init__(self, namer: Namer, weights: Sequence[sp.Basic], dims: set[sp.Symbol]):
        self.namer = namer
        self.weights = set(weights)
        self.dims = dims
        self.g = nx.DiGraph()
        self.node_of: dict[sp.Basic, sp.Basic] = {}  # full expression -> node
        self.full: dict[sp.Basic, sp.Basic] = {}  # node -> full expression
        self.node_of_op: dict[sp.Basic, sp.Basic] = {}  # local operation -> node

    def is_value(self, e: sp.Basic) -> bool:
        """Does ``e`` depend on a leaf (not only on sizes like ``n``)?"""
        if e in self.full:
            return True
        if isinstance(e, sp.MatrixSymbol):
            return True
        return bool(e.free_symbols - self.dims)

    def leaf(self, symbol: sp.Basic) -> sp.Basic:
        if symbol not in self.g:
            role = "weight" if symbol in self.weights else "input"
            self.g.add_node(symbol, op=None, expr=symbol, role=role, shape=shape_of(symbol))
            self.full[symbol] = symbol
            self.node_of[symbol] = symbol
        return symbol

    def node_in(self, a: sp.Basic) -> sp.Basic | None:
        """The node ``a`` is, or whose transpose it is (transposes are views, not nodes)."""
        if a in self.full:
            return a
        if isinstance(a, sp.Transpose) and a.arg in self.full:
            return a.arg
        return None

    def shared_transpose(self, op: sp.Basic) -> sp.Basic | None:
        """An existing node holding ``opᵀ``, found one level deep.

        SymPy writes ``(W x - y)ᵀ`` as ``xᵀWᵀ - yᵀ``; computing it again would
        double the work, so ``W x - y`` becomes that node's transpose.
        """

        def t(a):
            if isinstance(a, sp.Transpose) and a.arg in self.full:
                return a.arg
            return a.T if is_matrix(a) else a

        if isinstance(op, sp.MatMul):
            scalars = [a for a in op.args if not is_matrix(a)]
            key = sp.MatMul(*scalars, *(t(a) for a in reversed(op.args) if is_matrix(a)))
        elif isinstance(op, (sp.MatAdd, sp.HadamardProduct)):
            key = op.func(*(t(a) for a in op.args))
        elif isinstance(op, ElementwiseApplyFunction):
            key = ElementwiseApplyFunction(op.function, t(op.expr))
        else:
            return None
        return self.node_of_op.get(key)

    def _symbol_for(self, e: sp.Basic, node) -> sp.Basic:
        if node is not None:
            return node
        name = self.namer.fresh().name
        return sp.MatrixSymbol(name, *e.shape) if is_matrix(e) else sp.Symbol(name, real=True)

    def operation(self, op: sp.Basic, operands: Sequence[sp.Basic], node=None) -> sp.Basic:
        """The node computing ``op`` (in operand node symbols); reused when it exists."""
        full = substitute(op, {s: self.full[s] for s in operands})
        if node is None and full in self.node_of:
            return self.node_of[full]
        node = self._symbol_for(op, node)
        if shape_of(node) != shape_of(op):
            raise GraphError(f"{node} has shape {shape_of(node)}, its value {op} {shape_of(op)}")
        self.g.add_node(node, op=op, expr=full, role="intermediate", shape=shape_of(op))
        self.full[node] = full
        self.node_of.setdefault(full, node)
        self.node_of_op.setdefault(op, node)
        self._add_edges(node, op, operands)
        return node

    def _add_edges(self, node, op, operands) -> None:
        for operand, data in matrix_edges(node, op, operands):
            self.g.add_edge(operand, node, **data)

    def add(self, expr: sp.Basic, node=None) -> sp.Basic:
        """The node computing ``expr``; with ``node`` (a reserved name) a new node of that name."""
        local: dict[sp.Basic, sp.Basic] = {}
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in local:
                continue
            if e in self.full or isinstance(e, (sp.MatrixSymbol, sp.Symbol)):
                local[e] = e if e in self.full or not self.is_value(e) else self.leaf(e)
                continue
            if not self.is_value(e):
                local[e] = e  # a constant (numbers, Identity(n), OneMatrix(n, 1)...)
                continue
            slots = _operand_slots(e, self.is_value)
            if not ready:
                stack.append((e, True))
                stack.extend((e.args[k], False) for k in slots if e.args[k] not in local)
                continue
            args = list(e.args)
            for k in slots:
                args[k] = local[args[k]]
            op = _rebuild(e, args)
            named = node if e is expr else None
            shared = self.shared_transpose(op) if named is None else None
            if isinstance(e, sp.Transpose) and named is None:
                local[e] = args[0].T  # a view of its operand: no node of its own
            elif shared is not None:
                local[e] = shared.T
            else:
                found = (self.node_in(args[k]) for k in slots)
                operands = list(dict.fromkeys(n for n in found if n is not None))
                local[e] = self.operation(op, operands, named)
        result = local[expr]
        if node is not None and result != node:  # a leaf, a view or an existing node, renamed
            inner = self.node_in(result)
            result = self.operation(result, [inner] if inner is not None else [], node)
        return result


def matrix_edges(node, op, operands) -> list[tuple[sp.Basic, dict]]:
    """The in-edges of ``node = op``: ``partial`` for a scalar operation, else ``vjp``.

    ``op`` may be one operation or several nested ones (a named step, a fused
    node); a VJP is each operand's share of ``δ_node``, in ``δ_node``.
    """
    scalar = not is_matrix(op) and not has_vjp(op) and not any(map(is_matrix, operands))
    if scalar:  # the local partial on the edge, from the rules, as in scalar graphs
        return [(s, {"partial": partial}) for s, partial in scalar_partials(node, op, operands)]
    try:
        shares = expression_vjp(op, adjoint_of(node), operands)
    except NoRuleError:  # backward names the node if a weight's path needs it
        return [(s, {"vjp": None, "partial": None}) for s in operands]
    edges = []
    for s in operands:
        share = shares.get(s)
        if share is None:
            share = zero_like(s)
        else:  # tanh'(Z) = 1 - A⊙A: the node A, computed once, not tanh(Z) again
            share = folded(share.xreplace({op: node}) if share.has(op) else share)
        edges.append((s, {"vjp": share, "partial": None}))
    return edges


def _rebuild(e: sp.Basic, args: list) -> sp.Basic:
    if isinstance(e, ElementwiseApplyFunction):
        return ElementwiseApplyFunction(args[0], args[1])
    return e.func(*args)


# --- public builders ---


def _check_output(root_value: sp.Basic) -> None:
    if is_matrix(root_value) and tuple(root_value.shape) != (1, 1):
        rows, cols = root_value.shape
        raise GraphError(
            f"the output is a {rows}×{cols} matrix; a gradient needs a scalar output "
            "(use sg.jacobian for vector outputs, or reduce it: Trace, SumEntries)"
        )


def build_matrix_graph(expr, wrt=None, granularity: str = "op", output="L") -> Graph:
    """The graph of a matrix expression with a scalar value."""
    return build_matrix_assignments([(output, expr)], wrt, granularity, single=True)


def build_matrix_assignments(assignments, wrt=None, granularity="op", single=False) -> Graph:
    """The graph of named matrix assignments ``[(Z1, W1*X + b), ...]``, the last the output."""
    if granularity not in MATRIX_GRANULARITIES:
        raise GraphError(
            f"matrix graphs have granularity {' or '.join(MATRIX_GRANULARITIES)}, "
            f"not {granularity!r}"
        )
    names = [name for name, _ in assignments]
    for name in names if not single else []:
        if not isinstance(name, (sp.Symbol, sp.MatrixSymbol)):
            raise GraphError(f"an assignment's target must be a Symbol or MatrixSymbol: {name!r}")
    if len(set(map(str, names))) != len(names):
        raise GraphError("a name is assigned twice; each intermediate needs its own name")
    leaves, dims = leaves_and_sizes(rhs for _, rhs in assignments)
    leaves = [s for s in leaves if s not in set(names)]
    wrt = _check_wrt(leaves if wrt is None else wrt, (sp.Symbol, sp.MatrixSymbol))
    _check_names([*leaves, *wrt])
    namer = Namer((str(s) for s in [*leaves, *wrt]), reserved=[] if single else map(str, names))
    b = MatrixGraphBuilder(namer, wrt, dims)
    root = None
    defined: set = set()
    for name, rhs in assignments:
        if not isinstance(rhs, sp.Basic):
            raise GraphError(f"the right side of {name} must be a SymPy expression")
        for s in leaves_and_sizes([rhs])[0]:
            if s in set(names) and s not in defined:
                raise GraphError(f"{name} uses {s} before {s} is assigned")
        if single:
            name = _output_symbol(str(name), rhs, namer)
        else:
            namer.named(name.name)
            if shape_of(name) != shape_of(rhs):
                raise GraphError(f"{name} has shape {shape_of(name)} but {rhs} has {shape_of(rhs)}")
        if granularity == "named" and not single:
            operands = [s if s in b.full else b.leaf(s) for s in leaves_and_sizes([rhs])[0]]
            root = b.operation(rhs, operands, name)
        else:
            root = b.add(rhs, name)
        defined.add(name)
        b.node_of[b.full[root]] = root
    _check_output(root)
    return build_graph_from(b, root, wrt)


def _output_symbol(name: str, value: sp.Basic, namer: Namer) -> sp.Basic:
    if name in namer.taken:
        name = namer.fresh().name
    else:
        namer.named(name)
    return sp.MatrixSymbol(name, *value.shape) if is_matrix(value) else sp.Symbol(name, real=True)


def graph_of_expr(expr, wrt=None, granularity: str = "op", output="L") -> Graph:
    """A matrix graph when ``expr`` holds matrices, a scalar graph otherwise."""
    check_value(expr, "the expression")
    _check_output_name(output)
    if has_matrices(expr):
        return build_matrix_graph(expr, wrt, granularity, output)
    return build_from_expr(expr, wrt=wrt, granularity=granularity, output=output)


def graph_of_assignments(assignments, wrt=None, granularity: str = "op") -> Graph:
    """A matrix graph when any assignment holds matrices, a scalar graph otherwise."""
    if isinstance(assignments, (str, bytes, sp.Basic)) or not isinstance(assignments, Iterable):
        raise GraphError(
            "assignments must be a list of (name, expression) pairs, "
            f"not {type(assignments).__name__}"
        )
    assignments = list(assignments)
    for k, pair in enumerate(assignments):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise GraphError(f"assignment {k} must be a (name, expression) pair, not {shown(pair)}")
        check_value(pair[1], f"the right side of {shown(pair[0])}")
    if any(has_matrices(rhs) or isinstance(name, sp.MatrixSymbol) for name, rhs in assignments):
        return build_matrix_assignments(assignments, wrt, granularity)
    return build_from_assignments(assignments, wrt=wrt, granularity=granularity)


def check_value(expr: object, what: str) -> None:
    """A condition (``c > 1``, ``True``) has no derivative: refused, not differentiated as 0."""
    if isinstance(expr, Boolean) and not isinstance(expr, sp.Expr):
        raise GraphError(
            f"{what} is a condition ({shown(expr)}), not a number; differentiate a "
            "number-valued expression (a Piecewise for a branch)"
        )


def _check_output_name(output: object) -> None:
    if isinstance(output, sp.Symbol) or (isinstance(output, str) and output.isidentifier()):
        return
    raise GraphError(
        f"the output's name must be a Symbol or an identifier such as 'L', not {shown(output)}"
    )
