r"""The walkthrough's renderings: one walk over it, printed as text, Markdown or LaTeX.

Used by :mod:`symgraph.present.explain`; the walk is duck-typed (a
:class:`~symgraph.present.explain.Walkthrough`).  :func:`render_walk` feeds it
to a renderer fact by fact; each form has a renderer for the path view and one
for the δ-view alone (a matrix graph), which writes every shape: a column of
them in text (Markdown shows that text as it is), ``\in \mathbb{R}^{m \times n}``
beside each δ-equation in LaTeX.

Examples
--------
>>> _chain(["2*v5", None, "0.5", "0.5"])
'2*v5 = 0.5'
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from ..core.adjoint import adjoint_of
from ..core.sizes import shape_text
from ..numeric.edge_values import as_number
from .latex import latex_of, paper_text
from .numbers import format_number, format_value


def render(walk, form: str) -> str:
    """``walk`` as ``form`` ("text", "markdown" or "latex"), in the renderer of its view."""
    by_paths, delta_only = RENDERERS[form]
    return render_walk(walk, by_paths() if walk.path_view else delta_only())


def render_walk(walk, r: TextRenderer) -> str:
    """Feed the walkthrough to a renderer, fact by fact, in slide order."""

    def num(value):
        return None if value is None else r.num(value)

    graph = walk.grad.graph
    r.title(walk)
    if walk.total_paths == 0:
        r.eq(r.total(walk), "0")
        return r.finish()
    on_paths = set(walk.nodes)
    defined = walk.defined or [n for n in walk.nodes if graph.op(n) is not None]
    heading = "nodes on the paths" if walk.path_view else "forward"
    if any(n not in on_paths for n in defined):
        heading += ", and the operands they use"
    r.heading(heading)
    for n in defined:
        rhs = _chain([r.expr(graph.op(n)), num(walk.forward.get(n))])
        r.eq(r.name(n), rhs, graph.nx.nodes[n].get("shape", ()))
        if n not in on_paths:  # an operand a printed line uses: defined, not walked
            r.aside(f"off the paths from {r.math(r.name(walk.weight))}")
    for i, p in enumerate(walk.paths, 1):
        r.path(i, r.arrow.join(r.name(n) for n in p.nodes))
        for s in p.steps:
            r.eq(r.partial(s.result, s.operand), _chain([r.expr(s.partial), num(s.value)]))
        r.eq(r.text("product"), _chain([r.expr(p.product), num(p.value)]))
    listed = len(walk.paths)
    checks_sum = walk.path_view and not walk.truncated
    if walk.truncated:
        # a partial sum: its number only (the δ-form below covers every path)
        label = f"sum over the first {listed} of {walk.total_paths} paths (partial)"
        r.sum(label, num(walk.sum_value))
    elif checks_sum:
        label = f"sum over {listed} path{'' if listed == 1 else 's'}"
        r.sum(label, _chain([r.expr(walk.total), num(walk.sum_value), r.total(walk)]))
        if walk.point is not None:
            r.check(walk)
    r.delta_heading()
    for line in walk.deltas:
        r.delta_line(walk, line, num(line.value))
    if walk.point is not None and not checks_sum:
        r.check(walk)
    return r.finish()


def _chain(parts: list[str | None]) -> str:
    """``a = b = c``, leaving out missing parts and repeats (no ``1 = 1``)."""
    out: list[str] = []
    for part in parts:
        if part is not None and (not out or part != out[-1]):
            out.append(part)
    return " = ".join(out)


def _finite(value) -> bool:
    return bool(np.all(np.isfinite(value)))


def _check_note(walk, plain) -> str:
    """The compiled gradient and the verdict on :attr:`checked`, numbers written by ``plain``."""
    what = "sum" if walk.path_view and not walk.truncated else "δ_" + walk.weight.name
    if walk.agrees:
        verdict = "agrees"
    elif not _finite(walk.checked) and _finite(walk.compiled_value):
        # inf·0 along the path: each factor is right, their floating-point product is not;
        # the compiled gradient multiplies in a stable form (docs/numerics.md)
        verdict = f"the {what} overflows in floating point here; the compiled form does not"
    else:
        difference = np.max(np.abs(np.subtract(walk.checked, walk.compiled_value)))
        verdict = f"{what} differs by {plain(difference)}"
    return f"compiled gradient: {plain(walk.compiled_value)}, {verdict}"


class TextRenderer:
    """Plain text, the path view; the subclasses print math with LaTeX, or shapes."""

    arrow, times = " → ", "·"
    plain = staticmethod(format_number)  # the numbers of notes

    def __init__(self):
        self.lines: list[str] = []

    # primitives
    def expr(self, e: sp.Basic) -> str:
        return paper_text(e)

    def num(self, value) -> str:
        return self.plain(value)

    def name(self, s: sp.Basic) -> str:
        return s.name

    def delta(self, s: sp.Basic) -> str:
        return f"δ_{s.name}"

    def partial(self, num: sp.Basic, den: sp.Basic) -> str:
        return f"∂{self.name(num)}/∂{self.name(den)}"

    def total(self, walk) -> str:
        """∂L/∂w: the derivative the walkthrough computes, in the notation of its steps."""
        return self.partial(walk.output, walk.weight)

    def text(self, words: str) -> str:
        return words

    def math(self, formula: str) -> str:
        return formula

    # blocks
    def summary(self, walk) -> tuple[str, str]:
        n = walk.total_paths
        name, math = self.name, self.math
        point = ", ".join(
            math(f"{name(sp.Symbol(k))} = {self.num(as_number(v))}")
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

    def eq(self, lhs, rhs, shape=None):
        self.lines.append(f"  {lhs} = {rhs}")

    def delta_line(self, walk, line, value):
        """δ_n = Σ δ_c·∂c/∂n = the rhs = its value, and ``= ∂L/∂w`` at the weight."""
        generic = " + ".join(
            self.delta(t.child) + self.times + self.partial(t.child, line.node) for t in line.terms
        )
        tail = self.total(walk) if line.node == walk.weight else None
        self.eq(self.delta(line.node), _chain([generic or None, self.expr(line.rhs), value, tail]))
        if len(line.terms) > 1:  # where backpropagation sums
            self.note(f"a sum: {self.math(self.name(line.node))} has {len(line.terms)} outputs")

    def sum(self, label, rhs):
        self.lines += ["", label if rhs is None else f"{label} = {rhs}"]

    def note(self, words):
        self.lines[-1] += f" ({words})"

    def aside(self, words):
        """A remark on the row just written (the δ-view's aligned rows note it in its column)."""
        self.note(words)

    def check(self, walk):
        """Note the compiled gradient and whether it agrees, after the value checked."""
        self.note(_check_note(walk, self.plain))

    def finish(self) -> str:
        return "\n".join(self.lines)


class ShapedTextRenderer(TextRenderer):
    """Plain text of the δ-view alone: shapes in a column, arrays by :func:`format_value`."""

    plain = staticmethod(format_value)

    def __init__(self):
        super().__init__()
        self.rows: list[
            tuple[str, str, str]
        ] = []  # a block's (lhs, shape, rhs), aligned at its end

    def title(self, walk):
        sizes = ", ".join(
            f"{k} {shape_text(np.shape(v))}" for k, v in sorted((walk.point or {}).items())
        )
        at = f", at {sizes}" if sizes else ""
        self.lines.append(f"{self.total(walk)} by backpropagation through matrix nodes{at}")

    def delta_heading(self):
        self.heading(
            "backward (each δ has its node's shape; a node sums what its results send back)"
        )

    def eq(self, lhs, rhs, shape=()):
        self.rows.append((lhs, shape_text(shape), rhs))

    def aside(self, words):
        lhs, shape, rhs = self.rows[-1]
        self.rows[-1] = (lhs, shape, f"{rhs}    ({words})")

    def delta_line(self, walk, line, value):
        """δ_n  shape = rhs = value, the nodes it comes back from, the shapes that meet."""
        rhs = _chain([self.expr(line.rhs), value])
        sources = ", ".join(self.name(t.child) for t in line.terms)
        products = " ".join(_product_text(t.shapes) for t in line.terms if t.shapes)
        rhs += (f"    from {sources}" if sources else "") + (f"   {products}" if products else "")
        self.eq(self.delta(line.node), rhs, line.shape)
        if line.node == walk.weight:
            self.aligned()
            self.lines.append(f"{self.total(walk)} = {self.delta(walk.weight)}")

    def aligned(self):
        """Write the pending rows, their names and shapes padded to one width each."""
        if self.rows:
            width = max(len(lhs) for lhs, _, _ in self.rows)
            shape_width = max(len(shape) for _, shape, _ in self.rows)
            for lhs, shape, rhs in self.rows:
                self.lines.append(f"  {lhs:<{width}}  {shape:<{shape_width}} = {rhs}")
            self.rows = []

    def heading(self, words):
        self.aligned()
        super().heading(words)

    def finish(self) -> str:
        self.aligned()
        return super().finish()


def _product_text(shapes: tuple) -> str:
    *factors, result = shapes
    return "[" + " · ".join(shape_text(s) for s in factors) + f" → {shape_text(result)}]"


class FencedTextRenderer(ShapedTextRenderer):
    """Markdown of the δ-view alone: its text in a code block, where the columns stay aligned."""

    def finish(self) -> str:
        return "```\n" + super().finish() + "\n```"


class MarkdownRenderer(TextRenderer):
    """Markdown with ``$…$`` math: one list item per fact."""

    arrow, times = r" \to ", r" \cdot "

    def expr(self, e):
        return latex_of(e)

    def num(self, value):
        if isinstance(value, complex):
            return sp.latex(sp.N(value, 6))
        text = format_number(value)
        if text in ("NaN", "inf", "-inf"):
            return {"NaN": r"\mathrm{NaN}", "inf": r"\infty", "-inf": r"-\infty"}[text]
        mantissa, _, exponent = text.partition("e")
        return mantissa + (rf" \cdot 10^{{{int(exponent)}}}" if exponent else "")

    def name(self, s):
        return latex_of(s)

    def delta(self, s):
        return latex_of(adjoint_of(s))

    def partial(self, num, den):
        return rf"\frac{{\partial {self.name(num)}}}{{\partial {self.name(den)}}}"

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

    def eq(self, lhs, rhs, shape=None):
        self.lines.append(f"- ${lhs} = {rhs}$")

    def sum(self, label, rhs):
        label = f"**{label[0].upper()}{label[1:]}**"
        self.lines += ["", label if rhs is None else f"{label}: ${rhs}$"]


class LatexRenderer(MarkdownRenderer):
    r"""One amsmath ``align*``; headings are ``\intertext``."""

    environment = "align*"

    def title(self, walk):
        title, text = self.summary(walk)
        self.lines.append(rf"\intertext{{{title}; {text}.}}")

    def heading(self, words):
        self.lines.append(rf"\intertext{{{words}}}")

    def eq(self, lhs, rhs, shape=None):
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
        begin, end = f"\\begin{{{self.environment}}}", f"\\end{{{self.environment}}}"
        return begin + "\n" + "\n".join(body) + "\n" + end


class EquationsLatexRenderer(LatexRenderer):
    r"""LaTeX of the δ-view alone: its δ-equations as a paper writes them, each with its shape.

    One numbered ``align``, ``δ_n &= rhs && \in \mathbb{R}^{m \times n}``: no prose, no numbers.
    """

    environment = "align"

    def title(self, walk):
        pass

    def heading(self, words):
        pass

    def check(self, walk):
        pass

    def num(self, value):
        return None

    def eq(self, lhs, rhs, shape=None):
        if shape is None:  # only the δ-equations are written
            super().eq(lhs, rhs)

    def aside(self, words):
        pass  # the forward rows are not written

    def delta_line(self, walk, line, value):
        row = f"{self.delta(line.node)} &= {self.expr(line.rhs)}"
        shape = r" \times ".join(latex_of(_sympify(d)) for d in line.shape)
        self.lines.append(row + (rf" && \in \mathbb{{R}}^{{{shape}}}" if shape else ""))


# form -> (the path view's renderer, the δ-view's alone)
RENDERERS = {
    "text": (TextRenderer, ShapedTextRenderer),
    "markdown": (MarkdownRenderer, FencedTextRenderer),
    "latex": (LatexRenderer, EquationsLatexRenderer),
}
