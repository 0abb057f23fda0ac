"""The walkthrough's renderings: one walk over it, printed as text, Markdown or LaTeX.

Used by :mod:`symgraph.present.explain`; the walk is duck-typed (a
:class:`~symgraph.present.explain.Walkthrough`).

Examples
--------
>>> _plain(float("nan")), _plain(float("inf")), _plain(0.1234567)
('NaN', 'inf', '0.123457')
"""

from __future__ import annotations

import cmath

import sympy as sp
from sympy.printing.str import StrPrinter

from ..core.adjoint import AdjointSymbol
from ..numeric.edge_values import Number, as_number

# --- renderings: one walk over the walkthrough, printed three ways ---


def render_walk(walk, r: TextRenderer) -> str:
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


def _check_note(walk) -> str:
    what = "δ_" + walk.weight.name if walk.truncated else "sum"
    if walk.agrees:
        verdict = "agrees"
    elif not cmath.isfinite(walk.checked) and cmath.isfinite(walk.compiled_value):
        # inf·0 along the path: each factor is right, their floating-point product is not;
        # the compiled gradient multiplies in a stable form (docs/numerics.md)
        verdict = f"the {what} overflows in floating point here; the compiled form does not"
    else:
        verdict = f"{what} differs by {_plain(abs(walk.checked - walk.compiled_value))}"
    return f"compiled gradient: {_plain(walk.compiled_value)}, {verdict}"


class _TextPrinter(StrPrinter):
    """SymPy's str printer, with δ symbols printed ``δ_v2``."""

    def _print_AdjointSymbol(self, expr):
        return f"δ_{expr.node_name}"


class TextRenderer:
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

    def total(self, walk) -> str:
        return f"d{self.name(walk.output)}/d{self.name(walk.weight)}"

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

    def eq(self, lhs, rhs):
        self.lines.append(f"  {lhs} = {rhs}")

    def sum(self, label, rhs):
        self.lines += ["", label if rhs is None else f"{label} = {rhs}"]

    def note(self, words):
        self.lines[-1] += f" ({words})"

    def finish(self) -> str:
        return "\n".join(self.lines)


class MarkdownRenderer(TextRenderer):
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


class LatexRenderer(MarkdownRenderer):
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
