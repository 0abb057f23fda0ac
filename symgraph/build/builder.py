"""Static graph builders: a whole expression, or a list of named assignments.

Every traversal here is iterative (an explicit stack), so an expression
10,000 operations deep builds without touching Python's recursion limit.
A subexpression met twice becomes one node with two out-edges: nodes are
keyed by the SymPy expression they hold.

Examples
--------
>>> import sympy as sp
>>> x, w = sp.symbols("x w", real=True)
>>> g = build_from_expr(sp.sin(w*x) + sp.sin(w*x)**2, wrt=[w])
>>> g.nx.out_degree(g.node_named("v2"))     # sin(w*x) feeds two results
2
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import networkx as nx
import sympy as sp
from sympy.core.function import ArgumentIndexError
from sympy.core.sympify import _sympify

from ..errors import GraphError, NoRuleError
from ..core.graph import Graph
from ..rules.registry import has_rule, local_partial, rebuild, slots, whole_partial
from ..core.substitute import EVALUATED_DEPTH, contains, substitute

GRANULARITIES = ("op", "fine", "named")  # "named": a node per named intermediate only
# A product of more factors is built in binary steps at every granularity.
MAX_PRODUCT_FACTORS = 8


class Namer:
    """Deterministic fresh node names (v1, v2, ...) that avoid the user's names."""

    def __init__(self, taken: Iterable[str], prefix: str = "v", reserved: Iterable[str] = ()):
        self.taken = set(taken)
        self.reserved = set(reserved)  # names the user assigns later: never generated
        self.prefix = prefix
        self.count = 0

    def fresh(self) -> sp.Symbol:
        while True:
            self.count += 1
            name = f"{self.prefix}{self.count}"
            if name not in self.taken and name not in self.reserved:
                self.taken.add(name)
                return sp.Symbol(name, real=True)

    def named(self, name: str | sp.Symbol) -> sp.Symbol:
        symbol = name if isinstance(name, sp.Symbol) else sp.Symbol(name, real=True)
        if symbol.name in self.taken:
            raise GraphError(f"the name {symbol.name!r} is already used by another node")
        self.taken.add(symbol.name)
        return symbol


def _as_expr(expr: object, what: str) -> sp.Basic:
    if isinstance(expr, sp.Basic):
        if getattr(expr, "is_Matrix", False) or contains(expr, sp.MatrixSymbol):
            raise GraphError(
                f"{what} holds matrices; build it with sg.Graph.from_expr / "
                "from_assignments or sg.gradient, which make matrix nodes"
            )
        return expr
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return _sympify(expr)
    if isinstance(expr, str):
        raise GraphError(
            f"{what} is text; parse it first with symgraph.parse (text is never evaluated)"
        )
    raise GraphError(f"{what} must be a SymPy expression, not {type(expr).__name__}")


def _check_names(leaves: Iterable[sp.Symbol]) -> None:
    """Two different symbols with one name (``x`` and real ``x``) would get one value."""
    seen: dict[str, sp.Symbol] = {}
    for s in leaves:
        if s.name in seen and seen[s.name] != s:
            raise GraphError(
                f"two different symbols are named {s.name!r} (assumptions "
                f"{seen[s.name].assumptions0} and {s.assumptions0}); give them different names"
            )
        seen[s.name] = s


def _check_wrt(wrt: Iterable[sp.Basic], kinds: tuple = (sp.Symbol,)) -> tuple[sp.Basic, ...]:
    """The weights as a tuple: each a symbol (of ``kinds``), none listed twice."""
    wrt = tuple(wrt)
    for w in wrt:
        if not isinstance(w, kinds):
            raise GraphError(f"can only differentiate by symbols, not by {w!r}")
    twice = sorted(str(w) for w, count in Counter(wrt).items() if count > 1)
    if twice:
        raise GraphError(f"the weight {', '.join(twice)} is listed twice in wrt={list(wrt)}")
    return wrt


def _leaf_symbols(roots: Iterable[sp.Basic]) -> list[sp.Symbol]:
    """The free symbols under ``roots`` (iteratively: SymPy's own is recursive)."""
    seen: set[int] = set()
    found: dict[sp.Symbol, None] = {}
    stack = list(roots)
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, sp.Symbol):
            found[e] = None
        else:
            stack.extend(e.args)
    return sorted(found, key=lambda s: s.name)


class GraphBuilder:
    """Adds the nodes of expressions to one DiGraph, sharing equal subexpressions."""

    def __init__(
        self,
        granularity: str,
        namer: Namer,
        weights: Sequence[sp.Symbol],
        exprs_are_full: bool = True,
    ):
        if granularity not in GRANULARITIES:
            raise GraphError(
                f"unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}"
            )
        self.fine = granularity == "fine"
        self.namer = namer
        self.weights = set(weights)
        self.g = nx.DiGraph()
        self.node_of: dict[sp.Basic, sp.Symbol] = {}  # local expression -> node
        self.full: dict[sp.Symbol, sp.Basic] = {}  # node -> full expression
        # True when added expressions are in leaves only (from_expr), so each
        # subexpression is its own full expression and need not be rebuilt.
        self.exprs_are_full = exprs_are_full
        self.depth: dict[sp.Symbol, int] = {}  # longest path from a leaf

    # --- nodes ---

    def leaf(self, symbol: sp.Symbol) -> sp.Symbol:
        if symbol not in self.g:
            role = "weight" if symbol in self.weights else "input"
            self.g.add_node(symbol, op=None, expr=symbol, role=role)
            self.full[symbol] = symbol
            self.node_of[symbol] = symbol
            self.depth[symbol] = 0
        return symbol

    def operation(self, op, operands: Sequence[sp.Symbol], node=None, full=None) -> sp.Symbol:
        """A node computing ``op`` (in operand symbols); reused if it exists.

        ``node`` is a name already reserved for a user's named node: such a node
        is always new, never merged into an equal one.  ``full`` is the node's
        expression in the leaves, when the caller already has it.
        """
        depth = 1 + max((self.depth[s] for s in operands), default=0)
        if full is None:
            evaluate = depth <= EVALUATED_DEPTH
            full = substitute(op, {s: self.full[s] for s in operands}, evaluate)
        if node is None:
            if full in self.node_of:
                return self.node_of[full]
            node = self.namer.fresh()
        self.g.add_node(node, op=op, expr=full, role="intermediate")
        self.full[node] = full
        self.depth[node] = depth
        self.node_of.setdefault(full, node)
        self._add_edges(node, op, operands)
        return node

    def _add_edges(self, node: sp.Symbol, op: sp.Basic, operands: Sequence[sp.Symbol]) -> None:
        for operand, partial in scalar_partials(node, op, operands):
            self.g.add_edge(operand, node, partial=partial)

    def is_node(self, e: sp.Basic) -> bool:
        return isinstance(e, sp.Symbol) and e in self.full

    # --- expressions ---

    def add(self, expr: sp.Basic, node: sp.Symbol | None = None) -> sp.Basic:
        """The node computing ``expr`` (``expr`` itself when it is constant).

        With ``node`` (a reserved name), the result is a new node of that name.
        """
        local: dict[sp.Basic, sp.Basic] = {}  # subexpression -> its node, or itself if constant
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in local:
                continue
            if isinstance(e, sp.Symbol):  # a leaf, or an assigned name already a node
                local[e] = e if e in self.full else self.leaf(e)
                continue
            if e in self.node_of and not (node is not None and e is expr):
                local[e] = self.node_of[e]
                continue
            if not has_rule(e):  # Integral, Derivative...: one opaque node, never entered
                local[e] = self._opaque(e, node if e is expr else None)
                continue
            parts = slots(e)
            if not ready:
                stack.append((e, True))
                stack.extend((p, False) for p in reversed(parts) if p not in local)
                continue
            mapped = [local[p] for p in parts]
            if not any(self.is_node(m) for m in mapped):
                local[e] = e  # constant: written inline into its users' operations
            else:
                local[e] = self._operation_of(e, mapped, node if e is expr else None)
        result = local[expr]
        if node is not None and result != node:  # a leaf, a constant or an existing node
            operands = [result] if self.is_node(result) else []
            result = self.operation(result, operands, node)
        return result

    def _opaque(self, e: sp.Basic, node) -> sp.Basic:
        """A node for an operation without a derivative rule (bound variables stay inside).

        Backward raises NoRuleError, naming this node, only if a weight's path
        runs through it.
        """
        free = e.free_symbols  # not the bound variables
        leaves = [s if s in self.full else self.leaf(s) for s in _leaf_symbols([e]) if s in free]
        if not leaves:
            return e
        return self.operation(e, leaves, node, e if self.exprs_are_full else None)

    def _operation_of(self, e: sp.Basic, mapped: list[sp.Basic], node) -> sp.Symbol:
        if self.fine and isinstance(e, (sp.Add, sp.Mul)) and len(mapped) > 2:
            return self._binary_chain(e, mapped, node)
        if isinstance(e, sp.Mul) and len(mapped) > MAX_PRODUCT_FACTORS:
            # one node's partials would be k products of k - 1 factors: k² work for a
            # k-factor product; in binary steps backpropagation stays linear (cheap gradient)
            return self._binary_tree(e, mapped, node)
        operands = _unique(m for m in mapped if self.is_node(m))
        full = e if self.exprs_are_full else None
        return self.operation(rebuild(e, mapped), operands, node, full)

    def _binary_chain(self, e: sp.Basic, mapped: list[sp.Basic], node) -> sp.Symbol:
        """``a + b + c`` as ``(a + b) + c``: every summation its own node.

        Constants join the first step (``2*x*y`` is ``(2*x)*y``).  Building the
        partial expressions costs O(k²) in the arity k of this one operation,
        not in the graph's size.
        """
        nodes = [m for m in mapped if self.is_node(m)]
        constants = [m for m in mapped if not self.is_node(m)]
        acc = nodes[0]
        if constants:
            acc = self.operation(e.func(*constants, acc), [acc])
        for k, nxt in enumerate(nodes[1:], start=2):
            last = k == len(nodes)
            full = e if last and self.exprs_are_full else None
            acc = self.operation(
                e.func(acc, nxt), _unique([acc, nxt]), node if last else None, full
            )
        return acc


    def _binary_tree(self, e: sp.Basic, mapped: list[sp.Basic], node) -> sp.Symbol:
        """``a*b*c*d`` as ``(a*b)*(c*d)``: binary steps, about log2(k) levels deep.

        Shallow, so closed forms stay flat products however many factors there are.
        """
        level = [m for m in mapped if self.is_node(m)]
        constants = [m for m in mapped if not self.is_node(m)]
        if constants:
            level[0] = self.operation(e.func(*constants, level[0]), [level[0]])
        while len(level) > 1:
            last = len(level) == 2
            full = e if last and self.exprs_are_full else None
            paired = [
                self.operation(e.func(a, b), _unique([a, b]), node if last else None, full)
                for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            level = paired + level[len(paired) * 2 :]
        return level[0]


def scalar_partials(node, op: sp.Basic, operands: Sequence[sp.Symbol]) -> list[tuple]:
    """``(operand, ∂op/∂operand)`` for the in-edges of ``node = op``; None where no rule.

    The rules speak of slots: they apply when every slot is an operand or a
    constant.  A fused operation (operands nested deeper, as a coarse node
    has) and an opaque one (Sum, Integral) are differentiated whole.
    """
    if isinstance(op, sp.Symbol):  # a named copy: a = z
        return [(op, sp.S.One)]
    position_of: dict[sp.Symbol, list[int]] = {s: [] for s in operands}
    for k, slot in enumerate(slots(op)):
        if slot in position_of:
            position_of[slot].append(k)
    entered = has_rule(op) and all(
        slot in position_of or not slot.free_symbols for slot in slots(op)
    )
    edges = []
    for operand, positions in position_of.items():
        try:
            if entered:
                partials = [local_partial(op, k) for k in positions]
                partial = partials[0] if len(partials) == 1 else sp.Add(*partials)
            else:
                partial = whole_partial(op, operand)
        except (ArgumentIndexError, NoRuleError):  # no derivative: backward names the node
            edges.append((operand, None))
            continue
        if not isinstance(op, (sp.Add, sp.Mul, sp.Pow)) and not partial.has(sp.Subs):
            partial = partial.xreplace({op: node})  # tanh' = 1 - a**2, not 1 - tanh(z)**2
        edges.append((operand, partial))
    return edges


def _unique(items: Iterable[sp.Symbol]) -> list[sp.Symbol]:
    return list(dict.fromkeys(items))


def build_graph_from(b: GraphBuilder, root: sp.Symbol, wrt: Sequence[sp.Symbol]) -> Graph:
    """The Graph a builder made, ``root`` its output, with every weight a node."""
    for w in wrt:
        b.leaf(w)
    b.g.nodes[root]["role"] = "output"
    return Graph(b.g, root, wrt)


def build_from_expr(expr, wrt=None, granularity: str = "op", output="L") -> Graph:
    """The graph of one expression; see :meth:`symgraph.Graph.from_expr`."""
    expr = _as_expr(expr, "the expression")
    leaves = _leaf_symbols([expr])
    wrt = _check_wrt(leaves if wrt is None else wrt)
    _check_names([*leaves, *wrt])
    namer = Namer(str(s) for s in [*leaves, *wrt])
    b = GraphBuilder(granularity, namer, wrt)
    name = str(output)
    if granularity == "named":  # nothing is named inside one expression: it is one node
        return build_from_assignments([(sp.Symbol(name, real=True), expr)], wrt, "named")
    root = b.add(expr, namer.named(name) if name not in namer.taken else namer.fresh())
    return build_graph_from(b, root, wrt)


def build_from_assignments(assignments, wrt=None, granularity: str = "op") -> Graph:
    """The graph of named assignments; see :meth:`symgraph.Graph.from_assignments`."""
    assignments = [(name, _as_expr(rhs, f"the right side of {name}")) for name, rhs in assignments]
    if not assignments:
        raise GraphError("no assignments given")
    names = [name for name, _ in assignments]
    for name in names:
        if not isinstance(name, sp.Symbol):
            raise GraphError(f"an assignment's target must be a Symbol, not {name!r}")
    all_names = set(names)
    if len(all_names) != len(names):
        raise GraphError("a name is assigned twice; each intermediate needs its own name")
    leaves = [s for s in _leaf_symbols(rhs for _, rhs in assignments) if s not in all_names]
    wrt = _check_wrt(leaves if wrt is None else wrt)
    _check_names([*leaves, *wrt, *names])
    namer = Namer((str(s) for s in [*leaves, *wrt]), reserved=(str(s) for s in names))
    b = GraphBuilder(granularity, namer, wrt, exprs_are_full=False)
    defined: set[sp.Symbol] = set()
    root = None
    for name, rhs in assignments:
        for s in _leaf_symbols([rhs]):
            if s in all_names and s not in defined:
                raise GraphError(f"{name} uses {s} before {s} is assigned")
        if granularity == "named":  # the whole right side is one node, as the paper wrote it
            operands = [s if s in b.full else b.leaf(s) for s in _leaf_symbols([rhs])]
            root = b.operation(rhs, operands, namer.named(name))
        else:
            root = b.add(rhs, namer.named(name))
        defined.add(name)
        b.node_of[b.full[root]] = root  # later uses of this expression mean this name
    return build_graph_from(b, root, wrt)


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
    exprs = [_as_expr(e, "an expression") for e in exprs]
    leaves = _leaf_symbols(exprs)
    b = GraphBuilder(granularity, Namer(str(s) for s in leaves), [])
    return b.g, [b.add(e) for e in exprs]
