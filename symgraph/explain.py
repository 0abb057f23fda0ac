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

import networkx as nx
import sympy as sp
from sympy.printing.str import StrPrinter

from .backward import AdjointSymbol
from .compile import values_at
from .errors import GraphError
from .gradient import Gradient
from .matrix_explain import explain_matrices, find_weight

Number = complex | float


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
        return _render(self, _Renderer())

    def markdown(self) -> str:
        """Markdown, formulas as ``$…$`` LaTeX math."""
        return _render(self, _Markdown())

    def latex(self) -> str:
        r"""One amsmath ``align*`` environment; headings as ``\intertext``."""
        return _render(self, _Latex())

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
        :class:`~symgraph.matrix_explain.MatrixWalkthrough` (its edges carry
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
    weight = find_weight(grad, weight)
    output = graph.output
    nodes = _nodes_on_paths(graph, weight)
    on_path = set(nodes)

    def children(node):
        return [c for c in graph.nx.successors(node) if c in on_path]

    point = forward = None
    edge_value: dict = {}
    if at is not None:
        forward, _ = values_at(grad, dict(at))
        forward = {n: _number(v) for n, v in forward.items()}
        point = {(k.name if isinstance(k, sp.Symbol) else str(k)): v for k, v in at.items()}
        for node in nodes:
            for child in children(node):
                edge_value[node, child] = _evaluate(graph.partial(node, child), forward)

    paths = []
    for path in _enumerate_paths(weight, output, children, max_paths):
        steps = tuple(
            Step(a, b, graph.partial(a, b), edge_value.get((a, b))) for a, b in pairwise(path)
        )
        value = None
        if at is not None:
            value = 1.0
            for step in steps:
                value *= step.value
        paths.append(PathTerm(path, steps, sp.Mul(*(s.partial for s in steps)), value))

    deltas = []
    delta_value: dict = {}
    for node in reversed(nodes):
        terms = tuple((c, graph.partial(node, c)) for c in children(node))
        value = None
        if at is not None:
            value = 1.0 if node == output else 0.0
            for child, _ in terms:
                if delta_value[child] != 0:  # 0 · (NaN of a branch not taken) is 0
                    value += delta_value[child] * edge_value[node, child]
            delta_value[node] = value
        deltas.append(DeltaLine(node, terms, value))

    total = _count_paths(graph, weight, on_path)
    return Walkthrough(grad, weight, output, paths, total, nodes, deltas, point, forward or {})


# --- the graph work: nodes on paths, enumeration, counting ---


def _nodes_on_paths(graph, weight: sp.Symbol) -> list[sp.Symbol]:
    """Nodes on some path from ``weight`` to the output, in topological order."""
    reach_output = nx.ancestors(graph.nx, graph.output) | {graph.output}
    if weight not in reach_output:
        return []
    from_weight = nx.descendants(graph.nx, weight) | {weight}
    keep = reach_output & from_weight
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


def _number(value: Any) -> Number:
    z = complex(value)
    return z.real if z.imag == 0 else z


def _evaluate(partial: sp.Basic, forward: Mapping) -> Number:
    """A local partial at the forward values of the node symbols it mentions."""
    subs = {s: sp.sympify(forward[s]) for s in partial.free_symbols if s in forward}
    try:
        return _number(partial.xreplace(subs).evalf())
    except TypeError:  # zoo, nan, or a symbol without a value
        return float("nan")


def _compiled_partial(grad: Gradient, weight: sp.Symbol, point: Mapping[str, Any]) -> Number:
    _, partials = grad.lambdify()(**point)
    return _number(partials[grad.wrt.index(weight)])


def _close(a: Number | None, b: Number | None) -> bool:
    if a is None or b is None:
        return False
    return cmath.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# --- renderings: one walk over the walkthrough, printed three ways ---


def _render(walk: Walkthrough, r: _Renderer) -> str:
    """Feed the walkthrough to a renderer, fact by fact, in slide order."""
    at = walk.point is not None

    def num(value):
        return r.num(value) if at else None

    graph = walk.grad.graph
    r.title(walk)
    if walk.total_paths == 0:
        r.eq(r.total(walk), "0")
        return r.finish()
    r.heading("nodes on the paths")
    for n in walk.nodes:
        if graph.op(n) is not None:
            r.eq(r.name(n), _chain([r.expr(graph.op(n)), num(walk.forward.get(n))]))
    for i, p in enumerate(walk.paths, 1):
        r.path(i, r.arrow.join(r.name(n) for n in p.nodes))
        for s in p.steps:
            r.eq(r.partial(s.result, s.operand), _chain([r.expr(s.partial), num(s.value)]))
        r.eq(r.text("product"), _chain([r.expr(p.product), num(p.value)]))
    listed = len(walk.paths)
    if walk.truncated:
        # a partial sum: its number only (the δ-form below covers every path)
        label = f"sum over the first {listed} of {walk.total_paths} paths (partial)"
        r.sum(label, num(walk.sum_value))
    else:
        label = f"sum over {listed} path{'' if listed == 1 else 's'}"
        r.sum(label, _chain([r.expr(walk.total), num(walk.sum_value), r.total(walk)]))
        if at:
            r.note(_check_note(walk))
    r.delta_heading()
    for line in walk.deltas:
        generic = " + ".join(r.delta(c) + r.times + r.partial(c, line.node) for c, _ in line.terms)
        tail = r.total(walk) if line.node == walk.weight else None
        rhs = _chain([generic or None, r.expr(line.rhs), num(line.value), tail])
        r.eq(r.delta(line.node), rhs)
        if len(line.terms) > 1:  # where backpropagation sums
            r.note(f"a sum: {r.math(r.name(line.node))} has {len(line.terms)} outputs")
    if walk.truncated and at:
        r.note(_check_note(walk))
    return r.finish()


def _chain(parts: list[str | None]) -> str:
    """``a = b = c``, leaving out missing parts and repeats (no ``1 = 1``)."""
    out: list[str] = []
    for part in parts:
        if part is not None and (not out or part != out[-1]):
            out.append(part)
    return " = ".join(out)


def _plain(value: Number) -> str:
    return "NaN" if value != value else f"{value:.6g}"


def _check_note(walk: Walkthrough) -> str:
    what = "δ_" + walk.weight.name if walk.truncated else "sum"
    if walk.agrees:
        verdict = "agrees"
    else:
        verdict = f"{what} differs by {_plain(abs(walk.checked - walk.compiled_value))}"
    return f"compiled gradient: {_plain(walk.compiled_value)}, {verdict}"


class _TextPrinter(StrPrinter):
    """SymPy's str printer, with δ symbols printed ``δ_v2``."""

    def _print_AdjointSymbol(self, expr):
        return f"δ_{expr.node_name}"


class _Renderer:
    """Plain text; the subclasses print math with LaTeX."""

    arrow, times = " → ", "·"

    def __init__(self):
        self.lines: list[str] = []

    # primitives
    def expr(self, e: sp.Basic) -> str:
        return _TextPrinter().doprint(e)

    def num(self, value: Number) -> str:
        return _plain(value)

    def name(self, s: sp.Symbol) -> str:
        return s.name

    def delta(self, s: sp.Symbol) -> str:
        return f"δ_{s.name}"

    def partial(self, num: sp.Symbol, den: sp.Symbol) -> str:
        return f"∂{self.name(num)}/∂{self.name(den)}"

    def total(self, walk: Walkthrough) -> str:
        return f"d{self.name(walk.output)}/d{self.name(walk.weight)}"

    def text(self, words: str) -> str:
        return words

    def math(self, formula: str) -> str:
        return formula

    # blocks
    def summary(self, walk: Walkthrough) -> tuple[str, str]:
        n = walk.total_paths
        name, math = self.name, self.math
        point = ", ".join(
            math(f"{name(sp.Symbol(k))} = {self.num(_number(v))}")
            for k, v in sorted((walk.point or {}).items())
        )
        title = f"{math(self.total(walk))} by the chain rule" + (f", at {point}" if point else "")
        paths = f"{n} path{'' if n == 1 else 's'}" if n else "no path"
        text = f"{paths} from {math(name(walk.weight))} to {math(name(walk.output))}"
        if walk.truncated:
            text += f"; the first {len(walk.paths)} are listed"
        return title, text

    def title(self, walk):
        self.lines += list(self.summary(walk))

    def heading(self, words):
        self.lines += ["", words + ":"]

    def delta_heading(self):
        self.heading(
            "δ-form (backpropagation: each node sums δ_child·∂child/∂node over its out-edges)"
        )

    def path(self, i, arrows):
        self.lines += ["", f"path {i}: {arrows}"]

    def eq(self, lhs, rhs):
        self.lines.append(f"  {lhs} = {rhs}")

    def sum(self, label, rhs):
        self.lines += ["", label if rhs is None else f"{label} = {rhs}"]

    def note(self, words):
        self.lines[-1] += f" ({words})"

    def finish(self) -> str:
        return "\n".join(self.lines)


class _Markdown(_Renderer):
    """Markdown with ``$…$`` math: one list item per fact."""

    arrow, times = r" \to ", r" \cdot "

    def expr(self, e):
        return sp.latex(e)

    def num(self, value):
        if isinstance(value, complex):
            return sp.latex(sp.N(value, 6))
        text = _plain(value)
        if text in ("NaN", "inf", "-inf"):
            return {"NaN": r"\mathrm{NaN}", "inf": r"\infty", "-inf": r"-\infty"}[text]
        mantissa, _, exponent = text.partition("e")
        return mantissa + (rf" \cdot 10^{{{int(exponent)}}}" if exponent else "")

    def name(self, s):
        return sp.latex(s)

    def delta(self, s):
        return sp.latex(AdjointSymbol(s))

    def partial(self, num, den):
        return rf"\frac{{\partial {self.name(num)}}}{{\partial {self.name(den)}}}"

    def total(self, walk):
        return rf"\frac{{d {self.name(walk.output)}}}{{d {self.name(walk.weight)}}}"

    def text(self, words):
        return rf"\text{{{words}}}"

    def math(self, formula):
        return f"${formula}$"

    def title(self, walk):
        title, text = self.summary(walk)
        self.lines += [f"### {title}", "", text + "."]

    def heading(self, words):
        self.lines += ["", f"**{words[0].upper()}{words[1:]}**", ""]

    def delta_heading(self):
        self.heading(
            r"$\delta$-form (backpropagation: each node sums "
            r"$\delta_c \cdot \partial c / \partial n$ over its out-edges)"
        )

    def path(self, i, arrows):
        self.heading(f"Path {i}: ${arrows}$")

    def eq(self, lhs, rhs):
        self.lines.append(f"- ${lhs} = {rhs}$")

    def sum(self, label, rhs):
        label = f"**{label[0].upper()}{label[1:]}**"
        self.lines += ["", label if rhs is None else f"{label}: ${rhs}$"]


class _Latex(_Markdown):
    r"""One amsmath ``align*``; headings are ``\intertext``."""

    def title(self, walk):
        title, text = self.summary(walk)
        self.lines.append(rf"\intertext{{{title}; {text}.}}")

    def heading(self, words):
        self.lines.append(rf"\intertext{{{words}}}")

    def eq(self, lhs, rhs):
        self.lines.append(f"{lhs} &= {rhs}")

    def sum(self, label, rhs):
        self.heading(f"{label[0].upper()}{label[1:]}" + ("" if rhs is None else ":"))
        if rhs is not None:
            self.eq(self.text("sum"), rhs)

    def note(self, words):
        self.lines[-1] += rf" && \text{{({words})}}"

    def finish(self):
        body = []
        for line, following in zip(self.lines, [*self.lines[1:], None], strict=True):
            ends_row = following is not None and not line.startswith(r"\intertext")
            body.append(line + (r" \\" if ends_row else ""))
        return "\\begin{align*}\n" + "\n".join(body) + "\n\\end{align*}"
