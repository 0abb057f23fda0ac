"""The graph builder: one node per operation, for expressions of every shape.

A scalar is the 1×1 case, not a mode: the same builder makes the nodes of
``tanh(w*x + b)`` and of ``(W*X + b*1ᵀ).applyfunc(tanh)``.  Each node holds
its local operation (``op``, in its operands' node symbols), its full
expression in the leaves (``expr``), its role and its ``shape`` (``()`` for
a scalar); each edge what it sends back (:mod:`symgraph.build.edges`).

Every traversal is iterative (an explicit stack), so an expression 10,000
operations deep builds without touching Python's recursion limit.  A
subexpression met twice is one node with two out-edges: nodes are keyed by
the expression they hold.  A transpose is a view of its operand, not a node.

Examples
--------
>>> import sympy as sp
>>> x, w = sp.symbols("x w", real=True)
>>> b = GraphBuilder("op", Namer(["x", "w"]), [w])
>>> root = b.add(sp.sin(w*x) + sp.sin(w*x)**2)
>>> b.g.out_degree(sp.Symbol("v2", real=True))     # sin(w*x) feeds two results
2
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.graph import Graph
from ..core.sizes import TREE_CAP, is_matrix, shape_of, worth_evaluating
from ..core.substitute import EVALUATED_DEPTH, substitute
from ..errors import GraphError
from ..rules.registry import has_rule, has_vjp, rebuild, slots
from .edges import edges_of
from .inputs import GRANULARITIES, Namer, leaves_and_sizes

# A product of more factors is built in binary steps at every granularity.
MAX_PRODUCT_FACTORS = 8
# How many of the latest products holding a factor are asked for common factors,
# and how many common parts one product takes (each round reads its factors once).
RECENT_PRODUCTS = 8
SHARING_ROUNDS = 64


class GraphBuilder:
    """Adds the nodes of expressions to one DiGraph, sharing equal subexpressions.

    ``sizes`` are the symbols that only give shapes (``n`` in ``X: n×d``): never
    leaves.  ``exprs_are_full``: the added expressions are in the leaves only
    (``from_expr``), so each subexpression is its own full expression.
    """

    def __init__(
        self,
        granularity: str,
        namer: Namer,
        weights: Sequence[sp.Basic],
        sizes: Iterable[sp.Symbol] = (),
        exprs_are_full: bool = True,
    ):
        if granularity not in GRANULARITIES:
            raise GraphError(
                f"unknown granularity {granularity!r}; choose one of {', '.join(GRANULARITIES)}"
            )
        self.fine = granularity == "fine"
        self.namer = namer
        self.weights = set(weights)
        self.sizes = set(sizes)
        self.exprs_are_full = exprs_are_full
        self.g = nx.DiGraph()
        self.node_of: dict[sp.Basic, sp.Basic] = {}  # full expression -> node
        self.node_of_op: dict[sp.Basic, sp.Basic] = {}  # local operation -> node
        self.full: dict[sp.Basic, sp.Basic] = {}  # node -> full expression
        self.depth: dict[sp.Basic, int] = {}  # longest path from a leaf
        # the size of each node's full expression as a tree (shared parts at each use)
        self.terms: dict[sp.Basic, int] = {}
        self.parts = 0  # the operations' sizes so far: a bound on any expression's distinct parts
        # factor node -> the latest products of several nodes holding it, and their factors
        self.products_with: dict[sp.Basic, list[sp.Basic]] = {}
        self.product_factors: dict[sp.Basic, set[sp.Basic]] = {}

    # --- nodes ---

    def leaf(self, symbol: sp.Basic) -> sp.Basic:
        if symbol not in self.g:
            role = "weight" if symbol in self.weights else "input"
            self.g.add_node(symbol, op=None, expr=symbol, role=role, shape=shape_of(symbol))
            self.full[symbol] = symbol
            self.node_of[symbol] = symbol
            self.depth[symbol] = 0
        return symbol

    def operation(self, op, operands: Sequence[sp.Basic], node=None, full=None) -> sp.Basic:
        """A node computing ``op`` (in operand symbols); reused if it exists.

        ``node`` is a name already reserved for a user's named node: such a node
        is always new, never merged into an equal one.  ``full`` is the node's
        expression in the leaves, when the caller already has it.
        """
        depth = 1 + max((self.depth[s] for s in operands), default=0)
        # past EVALUATED_DEPTH nothing is evaluated, here or below: no size needed
        terms = self._terms_of(op, operands) if depth <= EVALUATED_DEPTH else TREE_CAP
        if full is None:
            # SymPy's evaluation walks an expression as a tree: a residual layer's
            # h + tanh(w*h) doubles it at each layer, so large trees are built unevaluated
            evaluate = depth <= EVALUATED_DEPTH and worth_evaluating(terms, self.parts)
            full = substitute(op, {s: self.full[s] for s in operands}, evaluate)
        if node is None:
            if full in self.node_of:
                return self.node_of[full]
            name = self.namer.fresh()
            node = sp.MatrixSymbol(name.name, *op.shape) if is_matrix(op) else name
        elif shape_of(node) != shape_of(op):
            raise GraphError(f"{node} has shape {shape_of(node)} but {op} has {shape_of(op)}")
        self.g.add_node(node, op=op, expr=full, role="intermediate", shape=shape_of(op))
        self.full[node] = full
        self.depth[node] = depth
        self.terms[node] = terms
        self.node_of.setdefault(full, node)
        self.node_of_op.setdefault(op, node)
        for operand, data in edges_of(node, op, operands):
            self.g.add_edge(operand, node, **data)
        return node

    def _terms_of(self, op: sp.Basic, operands: Sequence[sp.Basic]) -> int:
        """The tree size of ``op`` with each operand's full expression put in.

        Adds ``op``'s own size (its operands not counted) to :attr:`parts`, a bound
        on the distinct parts of every full expression so far.  Not
        :func:`~symgraph.core.sizes.shared_tree_size` twice: counting the operands
        too moves where evaluation stops, and the logistic map's shared products
        then cost 895 operations at 40 steps instead of 594.
        """
        inside = set(operands)
        total, own, stack = 0, 0, [op]
        while stack:
            e = stack.pop()
            if e in inside:
                total += self.terms.get(e, 1)
            else:
                own += 1
                stack.extend(e.args)
        self.parts += own
        return min(total + own, TREE_CAP)

    def node_in(self, a: sp.Basic) -> sp.Basic | None:
        """The node ``a`` is, or whose transpose it is (transposes are views, not nodes)."""
        if a in self.full:
            return a
        if isinstance(a, sp.Transpose) and a.arg in self.full:
            return a.arg
        return None

    # --- expressions ---

    def add(self, expr: sp.Basic, node: sp.Basic | None = None) -> sp.Basic:
        """The node computing ``expr`` (``expr`` itself when it is constant).

        With ``node`` (a reserved name), the result is a new node of that name.
        """
        local: dict[sp.Basic, sp.Basic] = {}  # subexpression -> its node, view or constant
        stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
        while stack:
            e, ready = stack.pop()
            if e in local:
                continue
            named = node if e is expr else None
            if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):  # a leaf, a size or a named node
                local[e] = e if e in self.full or e in self.sizes else self.leaf(e)
                continue
            if named is None and e in self.node_of:
                local[e] = self.node_of[e]
                continue
            if not e.args:  # a number, a constant matrix
                local[e] = e
                continue
            if not (has_rule(e) or has_vjp(e) or is_matrix(e)):
                local[e] = self._opaque(e, named)  # Integral, Derivative...: never entered
                continue
            parts = slots(e)
            if not ready:
                stack.append((e, True))
                # operands in reading order; a matrix operation's last first, since SymPy
                # writes a transposed operand first (rᵀ r) and the node keeps r's orientation
                order = parts if is_matrix(e) or has_vjp(e) else reversed(parts)
                stack.extend((p, False) for p in order if p not in local)
                continue
            mapped = [local[p] for p in parts]
            if all(self.node_in(m) is None for m in mapped):
                local[e] = e  # constant: written inline into its users' operations
            elif isinstance(e, sp.Transpose) and named is None:
                local[e] = mapped[0].T  # a view of its operand: no node of its own
            else:
                local[e] = self._operation_of(e, mapped, named)
        result = local[expr]
        if node is not None and result != node:  # a leaf, a view, a constant or an existing node
            inner = self.node_in(result)
            result = self.operation(result, [inner] if inner is not None else [], node)
        return result

    def _opaque(self, e: sp.Basic, node) -> sp.Basic:
        """A node for an operation without a derivative rule (bound variables stay inside).

        Backward raises NoRuleError, naming this node, only if a weight's path
        runs through it.
        """
        free = e.free_symbols  # not the bound variables
        leaves = [s for s in leaves_and_sizes([e])[0] if s in free and s not in self.sizes]
        if not leaves:
            return e
        leaves = [s if s in self.full else self.leaf(s) for s in leaves]
        return self.operation(e, leaves, node, e if self.exprs_are_full else None)

    def _operation_of(self, e: sp.Basic, mapped: list[sp.Basic], node) -> sp.Basic:
        shares = self._shares_factors(e, mapped)
        if shares:
            mapped = self._shared_factors(mapped)
            if len(mapped) == 1:  # all of it is an earlier product
                return mapped[0]
        if self.fine and isinstance(e, sp.Add) and len(mapped) > 2:
            return self._binary_chain(e.func, mapped, node, e if self.exprs_are_full else None)
        if isinstance(e, sp.Mul) and len(mapped) > MAX_PRODUCT_FACTORS:
            # one node's partials would be k products of k - 1 factors: k² work for a
            # k-factor product; in binary steps backpropagation stays linear (cheap gradient)
            return self._binary_tree(e, mapped, node)
        op = rebuild(e, mapped)
        if node is None:
            shared = self._shared_transpose(op)
            if shared is not None:
                return shared.T
        operands = _unique(n for n in map(self.node_in, mapped) if n is not None)
        result = self.operation(op, operands, node, e if self.exprs_are_full else None)
        if shares:
            self._remember_product(result)
        if self.fine and isinstance(e, sp.Mul) and result not in self.product_factors:
            self._binary_steps(result)  # finish() splits the products it indexed
        return result

    def finish(self) -> None:
        """With ``granularity="fine"``, every product left with three factors in binary steps.

        Products are grouped at full width first, so that their common factors
        are found (:meth:`_shared_factors`), and split into steps at the end.
        """
        if not self.fine:
            return
        for product in list(self.product_factors):
            self._binary_steps(product)
        self.product_factors.clear()
        self.products_with.clear()

    def _binary_steps(self, product: sp.Basic) -> None:
        op = self.g.nodes[product]["op"]
        if (
            not isinstance(op, sp.Mul)
            or len(op.args) <= 2
            or sum(a in self.full for a in op.args) < 2
        ):
            return  # one node and constants (9*pi**2*v1) is one step already
        if any(a not in self.full and not a.is_number for a in op.args):
            return  # x*y**2 folded by SymPy: y is inside a power, not a factor to chain
        self.g.remove_edges_from([(s, product) for s in list(self.g.predecessors(product))])
        if self.node_of_op.get(op) == product:
            del self.node_of_op[op]
        self._binary_chain(sp.Mul, list(op.args), product, self.full[product])

    def _shares_factors(self, e: sp.Basic, mapped: list[sp.Basic]) -> bool:
        """Whether ``e`` is a product of scalars whose factors may be regrouped."""
        return (
            isinstance(e, sp.Mul) and len(mapped) == len(e.args) and not any(map(is_matrix, mapped))
        )

    def _shared_factors(self, mapped: list[sp.Basic]) -> list[sp.Basic]:
        """The factors of a product, with those it shares with an earlier product as one node.

        SymPy flattens ``r*x*(1 - x)`` nested ten times into products of up to
        eleven factors, each holding the factors of the one before again: as
        separate products their work is quadratic in the nesting, where the
        common sub-products (those ``sympy.cse`` finds) make it linear.  Greedy:
        the earlier product sharing most factors gives its common part as a
        node, which that product then uses too.  Only the latest
        ``RECENT_PRODUCTS`` products holding each factor are asked, and at most
        ``SHARING_ROUNDS`` common parts are taken, so the cost is linear in the
        number of factors (a product nested deeper shares its first 64 levels).
        """
        nodes = [m for m in mapped if m in self.full]
        constants = [m for m in mapped if m not in self.full]
        for _ in range(SHARING_ROUNDS):
            if len(nodes) < 2:
                break
            counts: dict[sp.Basic, int] = {}
            for f in nodes:
                for product in self.products_with.get(f, ()):
                    counts[product] = counts.get(product, 0) + 1
            best = max(counts, key=counts.__getitem__, default=None)
            if best is None or counts[best] < 2:
                break
            common = [f for f in nodes if f in self.product_factors[best]]
            part = self.operation(sp.Mul(*common, evaluate=False), common)
            self._remember_product(part)
            if part != best:
                self._factor_out(best, common, part)
            nodes = [f for f in nodes if f not in common] + [part]
        return constants + nodes

    def _remember_product(self, product: sp.Basic) -> None:
        """Index a product of several nodes by its node factors."""
        op = self.g.nodes[product]["op"]
        factors = [a for a in op.args if a in self.full] if isinstance(op, sp.Mul) else []
        if (
            len(factors) < 2
            or product in self.product_factors
            or len(set(factors)) < len(factors)
            or set(factors) != set(self.g.predecessors(product))  # x*y**2: y is inside a power
        ):
            return
        self.product_factors[product] = set(factors)
        for f in factors:
            recent = self.products_with.setdefault(f, [])
            recent.append(product)
            del recent[:-RECENT_PRODUCTS]

    def _factor_out(self, product: sp.Basic, common: list[sp.Basic], part: sp.Basic) -> None:
        """Rewrite ``product``, an earlier node, to multiply ``part`` for ``common``."""
        data = self.g.nodes[product]
        op = sp.Mul(*(a for a in data["op"].args if a not in common), part, evaluate=False)
        operands = _unique(n for n in op.args if n in self.full)
        self.g.remove_edges_from([(s, product) for s in list(self.g.predecessors(product))])
        if self.node_of_op.get(data["op"]) == product:
            del self.node_of_op[data["op"]]
        data["op"] = op
        self.node_of_op.setdefault(op, product)
        self.depth[product] = max(self.depth[product], 1 + self.depth[part])
        for operand, edge in edges_of(product, op, operands):
            self.g.add_edge(operand, product, **edge)
        for f in common:
            recent = self.products_with[f]
            if product in recent:
                recent.remove(product)
        self.product_factors[product] = set(operands)
        self.products_with.setdefault(part, []).append(product)

    def _shared_transpose(self, op: sp.Basic) -> sp.Basic | None:
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

    def _binary_chain(self, func, mapped: list[sp.Basic], node, full=None) -> sp.Basic:
        """``a + b + c`` as ``(a + b) + c``: every summation its own node.

        Constants join the first step (``2*x*y`` is ``(2*x)*y``).  Building the
        partial expressions costs O(k²) in the arity k of this one operation,
        not in the graph's size.
        """
        nodes = [m for m in mapped if m in self.full]
        constants = [m for m in mapped if m not in self.full]
        acc = nodes[0]
        if constants:
            acc = self.operation(func(*constants, acc), [acc])
        for k, nxt in enumerate(nodes[1:], start=2):
            last = k == len(nodes)
            acc = self.operation(
                func(acc, nxt), _unique([acc, nxt]), node if last else None, full if last else None
            )
        return acc

    def _binary_tree(self, e: sp.Basic, mapped: list[sp.Basic], node) -> sp.Basic:
        """``a*b*c*d`` as ``(a*b)*(c*d)``: binary steps, about log2(k) levels deep.

        Shallow, so closed forms stay flat products however many factors there are.
        """
        level = [m for m in mapped if m in self.full]
        constants = [m for m in mapped if m not in self.full]
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


def _unique(items: Iterable[sp.Basic]) -> list[sp.Basic]:
    return list(dict.fromkeys(items))


def build_graph_from(b: GraphBuilder, root: sp.Basic, wrt: Sequence[sp.Basic]) -> Graph:
    """The Graph a builder made, ``root`` its output, with every weight a node."""
    b.finish()
    for w in wrt:
        b.leaf(w)
    b.g.nodes[root]["role"] = "output"
    return Graph(b.g, root, wrt)
