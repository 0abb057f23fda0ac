r"""Walkthrough: backpropagation for one weight, step by step, as on a teacher's slide.

Two views of the same derivative ∂L/∂w (written so in every form: ``\partial`` in LaTeX):

- the path view: ∂L/∂w is a sum over every path from ``w`` to the output of
  the product of the local partials written on the path's edges.  It exists
  where those edges carry a local partial (``partial``), that is where they
  are scalar;
- the δ-view, always: backpropagation computes the same sum without listing
  the paths, one δ-equation per node between the weight and the output
  (``grad.equations``), in the order it computes them, each δ with its
  node's shape and, for a product of matrices, the shapes that meet
  (``n×1 · 1×h → n×h``).  A matrix graph has this view only.

Every operation a printed line mentions is defined first, in topological
order, with those off the paths marked (``v1 = -y`` beside ``v5 = v1 + v4``).
At a point the walkthrough adds the number on every edge and node (small
arrays in full, larger ones by shape and norm), each path's product, the sum,
and a check against the compiled gradient.

The number of paths can grow exponentially with the graph's depth: at most
``max_paths`` are listed (found iteratively, depth first), and their total is
counted by dynamic programming in topological order, without listing them.
The δ-view is always complete: it has one line per node.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b, y = sp.symbols("w x b y", real=True)
>>> grad = sg.gradient((sp.tanh(w*x + b) - y)**2, wrt=[w, b])
>>> walk = explain(grad, "w", at={"w": 1.0, "x": 0.5, "b": 0.1, "y": 0.2})
>>> print(walk.text())  # doctest: +NORMALIZE_WHITESPACE
∂L/∂w by the chain rule, at b = 0.1, w = 1, x = 0.5, y = 0.2
1 path from w to L
<BLANKLINE>
nodes on the paths, and the operands they use:
  v1 = -y = -0.2 (off the paths from w)
  v2 = w*x = 0.5
  v3 = b + v2 = 0.6
  v4 = tanh(v3) = 0.53705
  v5 = v1 + v4 = 0.33705
  L = v5**2 = 0.113602
<BLANKLINE>
path 1: w → v2 → v3 → v4 → v5 → L
  ∂v2/∂w = x = 0.5
  ∂v3/∂v2 = 1
  ∂v4/∂v3 = 1 - v4**2 = 0.711578
  ∂v5/∂v4 = 1
  ∂L/∂v5 = 2*v5 = 0.674099
  product = 2*v5*x*(1 - v4**2) = 0.239837
<BLANKLINE>
sum over 1 path = 2*v5*x*(1 - v4**2) = 0.239837 = ∂L/∂w (compiled gradient: 0.239837, agrees)
<BLANKLINE>
δ-form (backpropagation: each node sums δ_child·∂child/∂node over its out-edges):
  δ_L = 1
  δ_v5 = δ_L·∂L/∂v5 = 2*δ_L*v5 = 0.674099
  δ_v4 = δ_v5·∂v5/∂v4 = δ_v5 = 0.674099
  δ_v3 = δ_v4·∂v4/∂v3 = δ_v4*(1 - v4**2) = 0.479674
  δ_v2 = δ_v3·∂v3/∂v2 = δ_v3 = 0.479674
  δ_w = δ_v2·∂v2/∂w = δ_v2*x = 0.239837 = ∂L/∂w
>>> walk.total_paths, float(walk.sum_value)
(1, 0.23983697676545418)

Through matrix nodes, the δ-view alone:

>>> W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
>>> Z, A, L = sp.MatrixSymbol("Z", 2, 1), sp.MatrixSymbol("A", 2, 1), sp.Symbol("L")
>>> steps = [(Z, W*x), (A, Z.applyfunc(sp.tanh)), (L, sp.Trace((A - y).T*(A - y)))]
>>> print(explain(sg.Graph.from_assignments(steps, wrt=[W], granularity="named").backward(), W))
∂L/∂W by backpropagation through matrix nodes
<BLANKLINE>
forward:
  Z  2×1 = W*x
  A  2×1 = tanh(Z)
  L  ()  = Trace((Aᵀ - yᵀ)*(A - y))
<BLANKLINE>
backward (each δ has its node's shape; a node sums what its results send back):
  δ_L  ()  = 1
  δ_A  2×1 = (2*δ_L)*(A - y)    from L
  δ_Z  2×1 = (1 - A**2) ⊙ δ_A    from A
  δ_W  2×3 = δ_Z*xᵀ    from Z   [2×1 · 1×3 → 2×3]
∂L/∂W = δ_W
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import sympy as sp

from ..core.adjoint import adjoint_of
from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..errors import GraphError
from ..numeric.compile import partials_at, values_at
from ..numeric.edge_values import Number, as_number, partial_values
from ..numeric.lines import has_piecewise
from .explain_render import render
from .latex import pass_throughs


@dataclass(frozen=True)
class Step:
    """One edge of a path: ``∂result/∂operand``, symbolic and (at a point) numeric."""

    operand: sp.Symbol
    result: sp.Symbol
    partial: sp.Basic
    value: Number | None = None


@dataclass(frozen=True)
class PathTerm:
    """One path from the weight to the output, its local partials and their product."""

    nodes: tuple[sp.Symbol, ...]
    steps: tuple[Step, ...]
    product: sp.Basic
    value: Number | None = None


@dataclass(frozen=True)
class Term:
    """What one child sends back to a node: its share of the node's δ."""

    child: sp.Basic
    share: sp.Basic  # in the child's δ symbol
    partial: sp.Basic | None  # ∂child/∂node, on a scalar edge
    shapes: tuple = ()  # for a product of matrices: the factors' shapes, then the result's


@dataclass(frozen=True)
class DeltaLine:
    """``δ_node = rhs``, one of backpropagation's δ-equations, with where its terms come from."""

    node: sp.Basic
    shape: tuple
    rhs: sp.Basic  # in δ symbols and node symbols, as ``grad.equations`` has it
    terms: tuple[Term, ...]
    value: Any = None


@dataclass(eq=False, repr=False)
class Walkthrough:
    """Backpropagation for one weight: paths (where edges are scalar), δ-equations, numbers.

    Attributes
    ----------
    grad : Gradient
    weight : Symbol or MatrixSymbol
    nodes : tuple
        The nodes on some path from the weight to the output, in topological order.
    defined : tuple
        The operations the walkthrough defines, in topological order: those of
        :attr:`nodes` and every operation any printed line mentions (an operand
        off the paths, such as ``v1 = -y`` beside ``v6 = v1 + v5``), with the
        operations theirs mention in turn.
    paths : tuple of PathTerm
        The listed paths (at most ``max_paths``), each with its steps and product;
        empty without the path view.
    total_paths : int
        How many paths there are in all (counted, not listed).
    deltas : tuple of DeltaLine
        The δ-view, output first (reverse topological order), ending at the weight.
    path_view : bool
        Whether every edge between the weight and the output carries a local
        partial, so that the paths are products of numbers (False for matrix graphs).
    point : dict or None
        name -> value, when a point was given.
    forward : dict
        node -> forward value at the point (empty without a point).
    sum_value, delta_value, compiled_value : number, array or None
        At a point: the sum of the listed path products, δ of the weight from
        the δ-view, and the compiled gradient's ∂L/∂w.
    """

    grad: Gradient
    weight: sp.Basic
    nodes: tuple
    paths: tuple[PathTerm, ...]
    total_paths: int
    deltas: tuple[DeltaLine, ...]
    path_view: bool
    point: dict | None = None
    forward: dict = field(default_factory=dict)
    compiled_value: Any = None
    defined: tuple = ()
    sum_value: Any = field(init=False, default=None)
    delta_value: Any = field(init=False, default=None)

    def __post_init__(self):
        if self.point is not None:
            self.delta_value = self.deltas[-1].value if self.deltas else 0.0
            if self.path_view:
                self.sum_value = sum((p.value for p in self.paths), 0.0)

    # --- the results ---

    @property
    def output(self) -> sp.Symbol:
        return self.grad.output

    @property
    def steps(self) -> tuple[DeltaLine, ...]:
        """:attr:`deltas` (the name a walkthrough through matrix nodes had)."""
        return self.deltas

    @property
    def truncated(self) -> bool:
        """True when the path view lists fewer paths than there are."""
        return self.path_view and len(self.paths) < self.total_paths

    @property
    def total(self) -> sp.Basic:
        """The sum of the listed paths' products, in node symbols (∂L/∂w unless truncated)."""
        return sp.Add(*(p.product for p in self.paths))

    def closed_form(self) -> sp.Basic:
        """:attr:`total` in inputs and weights only (each node replaced by its ``expr``)."""
        graph = self.grad.graph.nx  # partials may mention nodes off the paths (other operands)
        exprs = {n: graph.nodes[n]["expr"] for n in self.total.free_symbols if n in graph}
        return self.total.xreplace(exprs)

    @property
    def checked(self) -> Any:
        """The value compared with the compiled gradient: the path sum, else δ of the weight."""
        return self.delta_value if self.truncated or not self.path_view else self.sum_value

    @property
    def agrees(self) -> bool | None:
        """Whether :attr:`checked` equals the compiled gradient (None without a point)."""
        if self.point is None:
            return None
        return _close(self.checked, self.compiled_value)

    # --- renderings ---

    def text(self) -> str:
        """Plain text, one fact per line (through matrix nodes, shapes in a column)."""
        return render(self, "text")

    def markdown(self) -> str:
        """Markdown, formulas as ``$…$`` LaTeX math (through matrix nodes, the text fenced)."""
        return render(self, "markdown")

    def latex(self) -> str:
        r"""One amsmath ``align*``, headings as ``\intertext`` (δ-view alone: its ``align``)."""
        return render(self, "latex")

    def __str__(self) -> str:
        return self.text()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        name = f"∂{self.output}/∂{self.weight}"
        if not self.path_view:
            return f"<Walkthrough {name}: {len(self.deltas)} δ-equations>"
        return f"<Walkthrough {name}: {len(self.paths)} of {self.total_paths} paths>"


@paused_collector
def explain(
    grad: Gradient,
    weight: sp.Basic | str,
    at: Mapping[Any, Any] | None = None,
    max_paths: int = 50,
) -> Walkthrough:
    """Walk through backpropagation for one weight of a gradient.

    Parameters
    ----------
    grad : Gradient
        The result of backpropagation (``sg.gradient(...)`` or ``graph.backward()``).
    weight : Symbol, MatrixSymbol or str
        One of ``grad.wrt``, or its name.
    at : mapping, optional
        A point, keyed by symbol or name (every input and weight, arrays for
        matrices): adds the number on every edge and node, each path's
        product, the sum and the check against ``grad.lambdify()``.
    max_paths : int
        At most this many paths are listed; all of them are counted.

    Returns
    -------
    Walkthrough
        With the path view where the edges between the weight and the output
        carry local partials, and the δ-view always.

    Raises
    ------
    GraphError
        When ``weight`` is not a weight of ``grad``, or ``max_paths`` is negative.
    EvaluationError
        When ``at`` misses a value or names an unknown symbol.

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> walk = explain(sg.gradient(sp.sin(w*x) + sp.sin(w*x)**2 + sp.exp(w), wrt=[w]), w)
    >>> walk.total_paths
    3
    >>> for p in walk.paths: print(" → ".join(map(str, p.nodes)), " ", p.product)
    w → v1 → v2 → v3 → L   2*v2*x*cos(v1)
    w → v1 → v2 → L   x*cos(v1)
    w → v4 → L   v4
    """
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise GraphError(f"max_paths must be a non-negative integer, not {max_paths!r}")
    graph = grad.graph
    weight = grad.weight(weight)
    keep = graph.nodes_between([weight])
    nodes = [n for n in graph.topological_order() if n in keep]
    children = {n: [c for c in graph.nx.successors(n) if c in keep] for n in nodes}
    edges = [(node, child) for node in nodes for child in children[node]]
    path_view = all(graph.nx.edges[edge].get("partial") is not None for edge in edges)

    point = compiled = None
    forward: dict = {}
    edge_value: dict = {}
    compiled_delta: dict = {}
    if at is not None:
        # the compiled gradient's own numbers and conventions (DiracDelta → 0, 1/0 = inf)
        raw, raw_delta = values_at(grad, dict(at))
        number = as_number if path_view else np.asarray
        forward = {n: number(v) for n, v in raw.items()}
        compiled_delta = {n: number(v) for n, v in raw_delta.items()}
        point = {str(getattr(k, "name", k)): v for k, v in at.items()}
        if path_view:
            edge_value = partial_values(graph, raw, edges)
        compiled = number(partials_at(grad, point)[grad.wrt.index(weight)])

    paths = []
    edge_data = graph.nx.edges
    zero_safe = has_piecewise(graph)  # as compiled: δ = 0 wins over a NaN partial
    for path in _enumerate_paths(weight, graph.output, children, max_paths if path_view else 0):
        missing = None if at is None else _NAN  # an edge with no numeric form
        steps = tuple(  # the paths' edges exist: their partials read straight off the graph
            Step(a, b, edge_data[a, b]["partial"], edge_value.get((a, b), missing))
            for a, b in pairwise(path)
        )
        value = None if at is None else _path_product([s.value for s in steps], zero_safe)
        paths.append(PathTerm(path, steps, sp.Mul(*(s.partial for s in steps)), value))

    # without paths to follow, a δ that only passes its child's δ on is folded into it
    alias = {} if path_view else pass_throughs(grad.equations, keep={adjoint_of(weight)})
    rhs_of = dict(grad.equations)
    deltas = []
    delta_value: dict = {}
    for node in reversed(nodes):
        if adjoint_of(node) in alias:
            continue
        terms = tuple(_term(graph, node, child, alias) for child in children[node])
        value = compiled_delta.get(node)
        if value is None and path_view and at is not None:
            # a node the compiled pass does not visit: summed here alike
            value = 1.0 if node == graph.output else 0.0
            for child in children[node]:
                if not (zero_safe and delta_value[child] == 0):
                    value += delta_value[child] * edge_value.get((node, child), _NAN)
        delta_value[node] = value
        rhs = rhs_of[adjoint_of(node)].xreplace(alias)
        deltas.append(DeltaLine(node, graph.nx.nodes[node].get("shape", ()), rhs, terms, value))

    total = _count_paths(graph, weight, set(nodes))
    shown = [graph.op(n) for n in nodes] + [line.rhs for line in deltas]
    shown += [s.partial for p in paths for s in p.steps]
    defined = _defined(graph, nodes, shown)
    return Walkthrough(
        grad, weight, tuple(nodes), tuple(paths), total, tuple(deltas), path_view,
        point, forward, compiled, defined,
    )  # fmt: skip


def _defined(graph, nodes, shown) -> tuple:
    """``nodes`` and every operation that ``shown`` mentions, closed over operands, in order.

    One pass over the expressions' symbols and a stack over operands: linear in
    what is printed and in the graph.
    """
    wanted = set(nodes)
    distinct = set(shown)  # paths share their edges: each partial's symbols found once
    stack = [s for e in distinct if e is not None for s in e.free_symbols]
    while stack:
        node = stack.pop()
        if node in wanted or node not in graph.nx or graph.op(node) is None:
            continue
        wanted.add(node)
        stack.extend(graph.nx.predecessors(node))
    return tuple(n for n in graph.topological_order() if n in wanted and graph.op(n) is not None)


def _term(graph, node, child, alias) -> Term:
    """The child's share of δ_node: its vector-Jacobian product, or δ_child · ∂child/∂node."""
    edge = graph.nx.edges[node, child]
    partial = edge.get("partial")
    share = edge.get("vjp")
    if share is None:
        share = adjoint_of(child) * partial
    share = share.xreplace(alias)
    shapes: tuple = ()
    if isinstance(share, sp.MatMul):
        factors = [f for f in share.args if getattr(f, "is_Matrix", False)]
        if len(factors) > 1:
            shapes = (*(tuple(f.shape) for f in factors), tuple(share.shape))
    return Term(child, share, partial, shapes)


# --- the graph work: enumeration and counting of paths ---


def _enumerate_paths(weight, output, children, limit: int) -> list[tuple[sp.Symbol, ...]]:
    """Up to ``limit`` paths, depth first with an explicit stack.

    ``children`` (node -> its children on the paths) only yields nodes that
    reach the output, so every branch ends in a path: listing ``k`` paths costs
    ``O(k · length)``, however many there are.
    """
    if limit == 0 or not children.get(weight):  # no path (the output is never a weight)
        return []
    found: list[tuple[sp.Symbol, ...]] = []
    path = [weight]
    stack = [iter(children[weight])]
    while stack and len(found) < limit:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            path.pop()
        elif child == output:
            found.append((*path, child))
        else:
            path.append(child)
            stack.append(iter(children[child]))
    return found


def _count_paths(graph, weight: sp.Symbol, on_path: set) -> int:
    """The number of paths from ``weight`` to the output: one pass in topological order."""
    if not on_path:
        return 0
    count: dict[sp.Symbol, int] = {weight: 1}
    for node in graph.topological_order():
        if node in on_path and node != weight:
            count[node] = sum(count[p] for p in graph.nx.predecessors(node) if p in on_path)
    return count[graph.output]


# --- numbers ---


_NAN = float("nan")


def _path_product(values: list[Number | None], zero_safe: bool) -> Number:
    """The product of a path's partials, from the output back, as backpropagation forms it.

    With zero-safe products (a graph with a ``Piecewise``), a factor 0 nearer
    the output makes the rest 0 even where a partial is NaN (a branch not taken).
    """
    product: Number = 1.0
    for value in reversed(values):
        if not (zero_safe and product == 0):
            product *= _NAN if value is None else value
    return product


def _close(a: Any, b: Any) -> bool:
    """Equal within rounding, entry by entry; NaN equals NaN and an infinity itself."""
    if a is None or b is None:
        return False
    return bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True))
