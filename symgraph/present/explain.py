r"""Walkthrough: the chain rule for one weight, step by step, as on a teacher's slide.

For a weight ``w`` the derivative ∂L/∂w is a sum over every path from ``w`` to
the output of the product of the local partials written on the path's edges.
Backpropagation computes the same sum without listing the paths: each node
sums over its out-edges, ``δ_n = Σ δ_c · ∂c/∂n``.  A :class:`Walkthrough`
shows both, and at a point the number on every edge, each path's product, the
sum, and a check against the compiled gradient.

The number of paths can grow exponentially with the graph's depth: at most
``max_paths`` are listed (found iteratively, depth first), and their total is
counted by dynamic programming in topological order, without listing them.
The δ-form is always complete: it has one line per node.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b, y = sp.symbols("w x b y", real=True)
>>> grad = sg.gradient((sp.tanh(w*x + b) - y)**2, wrt=[w, b])
>>> walk = explain(grad, "w", at={"w": 1.0, "x": 0.5, "b": 0.1, "y": 0.2})
>>> print(walk.text())  # doctest: +NORMALIZE_WHITESPACE
dL/dw by the chain rule, at b = 0.1, w = 1, x = 0.5, y = 0.2
1 path from w to L
<BLANKLINE>
nodes on the paths:
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
sum over 1 path = 2*v5*x*(1 - v4**2) = 0.239837 = dL/dw (compiled gradient: 0.239837, agrees)
<BLANKLINE>
δ-form (backpropagation: each node sums δ_child·∂child/∂node over its out-edges):
  δ_L = 1
  δ_v5 = δ_L·∂L/∂v5 = 2*δ_L*v5 = 0.674099
  δ_v4 = δ_v5·∂v5/∂v4 = δ_v5 = 0.674099
  δ_v3 = δ_v4·∂v4/∂v3 = δ_v4*(1 - v4**2) = 0.479674
  δ_v2 = δ_v3·∂v3/∂v2 = δ_v3 = 0.479674
  δ_w = δ_v2·∂v2/∂w = δ_v2*x = 0.239837 = dL/dw
>>> walk.total_paths, float(walk.sum_value)
(1, 0.23983697676545418)
"""

from __future__ import annotations

import cmath
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import sympy as sp

from ..core.adjoint import AdjointSymbol
from ..core.gradient import Gradient
from ..errors import GraphError
from ..numeric.compile import has_piecewise, values_at
from ..numeric.edge_values import Number, as_number, partial_values
from .explain_render import LatexRenderer, MarkdownRenderer, TextRenderer, render_walk
from .matrix_explain import explain_matrices


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
class DeltaLine:
    """``δ_node = Σ δ_child · ∂child/∂node`` over the node's out-edges on the paths."""

    node: sp.Symbol
    terms: tuple[tuple[sp.Symbol, sp.Basic], ...]  # (child, ∂child/∂node)
    value: Number | None = None

    @property
    def rhs(self) -> sp.Basic:
        """The right side in δ symbols and node symbols (1 for the output)."""
        if not self.terms:
            return sp.S.One
        return sp.Add(*(AdjointSymbol(child) * partial for child, partial in self.terms))


class Walkthrough:
    """The chain rule for one weight: paths, local partials, sums, δ-form, numbers.

    Attributes
    ----------
    grad : Gradient
    weight, output : Symbol
    paths : tuple of PathTerm
        The listed paths (at most ``max_paths``), each with its steps and product.
    total_paths : int
        How many paths there are in all (counted, not listed).
    nodes : tuple of Symbol
        The nodes on some path from the weight to the output, in topological order.
    deltas : tuple of DeltaLine
        The δ-form, output first (reverse topological order), ending at the weight.
    point : dict or None
        name -> value, when a point was given.
    forward : dict
        node -> forward value at the point (empty without a point).
    sum_value, delta_value, compiled_value : number or None
        At a point: the sum of the listed path products, δ of the weight from
        the δ-form, and the compiled gradient's ∂L/∂w.
    """

    def __init__(self, grad, weight, output, paths, total_paths, nodes, deltas, point, forward):
        self.grad = grad
        self.weight = weight
        self.output = output
        self.paths = tuple(paths)
        self.total_paths = total_paths
        self.nodes = tuple(nodes)
        self.deltas = tuple(deltas)
        self.point = point
        self.forward = dict(forward)
        self.sum_value: Number | None = None
        self.delta_value: Number | None = None
        self.compiled_value: Number | None = None
        if point is not None:
            self.sum_value = sum((p.value for p in self.paths), 0.0)
            self.delta_value = self.deltas[-1].value if self.deltas else 0.0
            self.compiled_value = _compiled_partial(grad, weight, point)

    # --- the results ---

    @property
    def truncated(self) -> bool:
        """True when fewer paths are listed than there are."""
        return len(self.paths) < self.total_paths

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
    def checked(self) -> Number | None:
        """The value compared with the compiled gradient: the path sum, or δ_w if truncated."""
        return self.delta_value if self.truncated else self.sum_value

    @property
    def agrees(self) -> bool | None:
        """Whether :attr:`checked` equals the compiled gradient (None without a point)."""
        if self.point is None:
            return None
        return _close(self.checked, self.compiled_value)

    # --- renderings ---

    def text(self) -> str:
        """Plain text, one fact per line."""
        return render_walk(self, TextRenderer())

    def markdown(self) -> str:
        """Markdown, formulas as ``$…$`` LaTeX math."""
        return render_walk(self, MarkdownRenderer())

    def latex(self) -> str:
        r"""One amsmath ``align*`` environment; headings as ``\intertext``."""
        return render_walk(self, LatexRenderer())

    def __str__(self) -> str:
        return self.text()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return (
            f"<Walkthrough d{self.output}/d{self.weight}: "
            f"{len(self.paths)} of {self.total_paths} paths>"
        )


def explain(
    grad: Gradient,
    weight: sp.Symbol | str,
    at: Mapping[Any, Any] | None = None,
    max_paths: int = 50,
) -> Walkthrough:
    """Walk through the chain rule for one weight of a gradient.

    Parameters
    ----------
    grad : Gradient
        The result of backpropagation (``sg.gradient(...)`` or ``graph.backward()``).
    weight : Symbol or str
        One of ``grad.wrt``, or its name.
    at : mapping, optional
        A point, keyed by symbol or name (every input and weight): adds the
        number on every edge, each path's product, the sum and the check
        against ``grad.lambdify()``.
    max_paths : int
        At most this many paths are listed; all of them are counted.

    Returns
    -------
    Walkthrough
        For a graph with matrix nodes, a
        :class:`~symgraph.present.matrix_explain.MatrixWalkthrough` (its edges carry
        vector-Jacobian products, not numbers to multiply along a path: the
        δ-form, every shape written out), with the same ``text``, ``markdown``
        and ``latex``.

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
    if grad.graph.has_matrices:  # no paths of numbers: the δ-form, shapes written out
        return explain_matrices(grad, weight, at)
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise GraphError(f"max_paths must be a non-negative integer, not {max_paths!r}")
    graph = grad.graph
    weight = grad.weight(weight)
    output = graph.output
    nodes = _nodes_on_paths(graph, weight)
    on_path = set(nodes)

    def children(node):
        return [c for c in graph.nx.successors(node) if c in on_path]

    point = forward = None
    edge_value: dict = {}
    compiled_delta: dict = {}
    zero_safe = has_piecewise(graph)  # as compiled: δ = 0 wins over a NaN partial
    if at is not None:
        # the compiled gradient's own numbers and conventions (DiracDelta → 0, 1/0 = inf)
        raw, raw_delta = values_at(grad, dict(at))
        forward = {n: as_number(v) for n, v in raw.items()}
        compiled_delta = {n: as_number(v) for n, v in raw_delta.items()}
        point = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in at.items()}
        edges = [(node, child) for node in nodes for child in children(node)]
        edge_value = partial_values(graph, raw, edges)

    paths = []
    for path in _enumerate_paths(weight, output, children, max_paths):
        missing = None if at is None else _NAN  # an edge with no numeric form
        steps = tuple(
            Step(a, b, graph.partial(a, b), edge_value.get((a, b), missing))
            for a, b in pairwise(path)
        )
        value = None
        if at is not None:
            value = _path_product([s.value for s in steps], zero_safe)
        paths.append(PathTerm(path, steps, sp.Mul(*(s.partial for s in steps)), value))

    deltas = []
    delta_value: dict = {}
    for node in reversed(nodes):
        terms = tuple((c, graph.partial(node, c)) for c in children(node))
        value = None
        if at is not None:
            value = compiled_delta.get(node)
            if value is None:  # a node the compiled pass does not visit: summed here alike
                value = 1.0 if node == output else 0.0
                for child, _ in terms:
                    if not (zero_safe and delta_value[child] == 0):
                        value += delta_value[child] * edge_value.get((node, child), _NAN)
            delta_value[node] = value
        deltas.append(DeltaLine(node, terms, value))

    total = _count_paths(graph, weight, on_path)
    return Walkthrough(grad, weight, output, paths, total, nodes, deltas, point, forward or {})


# --- the graph work: nodes on paths, enumeration, counting ---


def _nodes_on_paths(graph, weight: sp.Symbol) -> list[sp.Symbol]:
    """Nodes on some path from ``weight`` to the output, in topological order."""
    keep = graph.nodes_between([weight])
    return [n for n in graph.topological_order() if n in keep]


def _enumerate_paths(weight, output, children, limit: int) -> list[tuple[sp.Symbol, ...]]:
    """Up to ``limit`` paths, depth first with an explicit stack.

    ``children`` only yields nodes that reach the output, so every branch ends
    in a path: listing ``k`` paths costs ``O(k · length)``, however many there are.
    """
    if limit == 0 or not children(weight):  # no path (the output is never a weight)
        return []
    found: list[tuple[sp.Symbol, ...]] = []
    path = [weight]
    stack = [iter(children(weight))]
    while stack and len(found) < limit:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            path.pop()
        elif child == output:
            found.append((*path, child))
        else:
            path.append(child)
            stack.append(iter(children(child)))
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


def _compiled_partial(grad: Gradient, weight: sp.Symbol, point: Mapping[str, Any]) -> Number:
    _, partials = grad.lambdify()(**point)
    return as_number(partials[grad.wrt.index(weight)])


def _close(a: Number | None, b: Number | None) -> bool:
    """Equal within rounding; NaN equals NaN and an infinity itself (both shown as such)."""
    if a is None or b is None:
        return False
    if cmath.isnan(a) or cmath.isnan(b):
        return cmath.isnan(a) and cmath.isnan(b)
    return cmath.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
