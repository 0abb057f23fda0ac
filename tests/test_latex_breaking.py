r"""Tests of LaTeX line breaking, symgraph.present.latex_break (issue 13).

Oracles: pdflatex itself, in a two-column article: every ``Overfull \hbox``
it reports in the log must be at most 1 pt, and the widths TeX measures for
real right sides bound the estimates; the breaking is checked against the
unbroken LaTeX (the same text once the alignment markup is removed).
"""

from __future__ import annotations

import inspect
import re
import time

import pytest
import sympy as sp
from oracles import compile_latex

import symgraph as sg
from symgraph import layers
from symgraph.present.latex import gradient_latex, latex_document
from symgraph.present.latex_break import (
    COLUMN_WIDTH,
    break_right_side,
    break_rows,
    estimate_width,
    scan,
)

MARKUP = re.compile(r"\\nonumber|\\right\.|\\left\.|\\qquad|\\quad|\\\\|&|\s+")


def unmarked(tex: str) -> str:
    """``tex`` without the alignment markup the breaking adds (and without spaces)."""
    return MARKUP.sub("", tex)


def overfull(body: str, directory) -> list[float]:
    r"""Compile ``body`` in a two-column article; the ``Overfull \hbox`` widths in points."""
    document = latex_document(body).replace("{article}", "[twocolumn]{article}", 1)
    compile_latex(document, directory)
    log = (directory / "doc.log").read_text(encoding="utf-8", errors="replace")
    return [float(pt) for pt in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]


# --- the formulas of the issue ---------------------------------------------------

n, d, h = sp.symbols("n d h", integer=True, positive=True)


def matrix_network(loss: str) -> sg.Gradient:
    """The 2-layer tanh network of docs/matrices.md, one node per named step (3 classes)."""
    outputs = 1 if loss == "squared_error" else 3
    steps, params = layers.as_assignments(
        layers.input_matrix(n, d), [h, outputs], ["tanh", "identity"], loss=loss
    )
    return sg.Graph.from_assignments(steps, wrt=params, granularity="named").backward()


def scalar_network() -> sg.Gradient:
    """A 2-2-1 tanh network on two inputs, squared error: closed forms of 800+ characters."""
    x1, x2, y = sp.symbols("x1 x2 y", real=True)
    w = sp.symbols("w1:7", real=True)
    b = sp.symbols("b1:4", real=True)
    hidden = [sp.tanh(w[0] * x1 + w[1] * x2 + b[0]), sp.tanh(w[2] * x1 + w[3] * x2 + b[1])]
    out = w[4] * hidden[0] + w[5] * hidden[1] + b[2]
    return sg.gradient((out - y) ** 2, wrt=[w[0], w[4], b[0]])


def long_sum() -> str:
    """A sum of 24 products, each with a bracket holding a sum of its own."""
    return " + ".join(rf"c_{{{k}}} \left(a_{{{k}}} - b_{{{k}}}\right)" for k in range(24))


class TestEstimate:
    def test_commands_and_braces_are_invisible(self):
        assert estimate_width(r"\mathrm{x}") == estimate_width("x")
        assert estimate_width(r"\left(x\right)") == estimate_width("(x)")
        assert estimate_width(r"{x}") == estimate_width("x")

    def test_a_fraction_is_as_wide_as_its_wider_part(self):
        wide = estimate_width(r"\frac{a + b + c + d}{e}")
        assert wide == pytest.approx(estimate_width("a + b + c + d") + 2.4)
        assert estimate_width(r"\frac{e}{a + b + c + d}") == pytest.approx(wide)

    def test_scripts_are_smaller(self):
        assert estimate_width("x_{1}") < estimate_width("x 1")
        assert estimate_width("x^{2}") == pytest.approx(estimate_width("x^2"))

    def test_estimates_are_close_to_what_tex_measures(self, tmp_path):
        rights = [
            line.split("&= ", 1)[1].removesuffix(r" \\")
            for grad in (matrix_network("squared_error"), scalar_network())
            for form in ("closed", "structured")
            for line in grad.latex(form=form, width=None).splitlines()
            if "&= " in line
        ]
        body = "\n".join(
            rf"\setbox0\hbox{{$\displaystyle {{}}= {r}$}}\typeout{{WIDTH{k}=\the\wd0}}"
            for k, r in enumerate(rights)
        )
        compile_latex(latex_document(body + "\nmeasured"), tmp_path)
        log = (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")
        measured = {int(k): float(v) for k, v in re.findall(r"WIDTH(\d+)=([\d.]+)pt", log)}
        assert len(measured) == len(rights)
        for k, right in enumerate(rights):
            ratio = (estimate_width(right) + 13.4) / measured[k]  # 13.4: "= " as a relation
            assert 0.94 < ratio < 1.25, (ratio, right)


class TestBreakPoints:
    def test_ranks(self):
        s = scan(r"a + \frac{b + c}{d} \left(e - f \odot g\right) h")
        found = [(s.tokens[i], rank) for i, (rank, _) in s.breaks.items()]
        assert found == [("+", 0), (" ", 1), ("-", 2), (r"\odot", 3), (" ", 1)]

    def test_unary_signs_and_function_heads_are_not_break_points(self):
        s = scan(r"- a \left(- b\right) \tanh x")
        # the spaces between a and (−b), and between (−b) and tanh: not at a sign, not after tanh
        around = [f"{s.tokens[i - 1]}|{s.tokens[i + 1]}" for i in s.breaks]
        assert around == ["a|\\left", ")|\\tanh"]

    def test_nothing_inside_braces_or_environments(self):
        s = scan(r"\frac{a + b}{c} + \left[\begin{matrix}x + y & z\\ u & v\end{matrix}\right]")
        assert [s.tokens[i] for i in s.breaks] == ["+"]


class TestBreakRightSide:
    def test_a_long_sum_breaks_at_top_level_signs_only(self):
        lines, widest = break_right_side(long_sum(), budget=170)
        assert len(lines) > 3 and widest <= 170
        assert all(line.startswith(r"\quad + ") for line in lines[1:])
        assert not any(r"\left." in line or r"\right." in line for line in lines)

    def test_minus_is_a_break_point_too(self):
        tex = " - ".join(f"a_{{{k}}} b_{{{k}}}" for k in range(30))
        lines, _ = break_right_side(tex, budget=170)
        assert len(lines) > 2 and all(line.startswith(r"\quad - ") for line in lines[1:])

    def test_joined_back_it_is_the_same_latex(self):
        for tex in (long_sum(), scalar_network().latex(width=None)):
            lines, _ = break_right_side(tex, budget=120)
            assert unmarked("".join(lines)) == unmarked(tex)

    def test_a_product_breaks_between_its_factors_before_inside_a_bracket(self):
        factors = [rf"\left(a_{{{k}}} + b_{{{k}}} + c_{{{k}}}\right)" for k in range(8)]
        lines, widest = break_right_side(" ".join(factors), budget=170)
        assert len(lines) > 1 and widest <= 170
        assert all(line.startswith(r"\qquad \left(") for line in lines[1:])

    def test_inside_a_bracket_when_nothing_outside_it_breaks(self):
        inner = " + ".join(f"a_{{{k}}}" for k in range(40))
        lines, widest = break_right_side(rf"\left({inner}\right)^{{2}} x", budget=170)
        assert widest <= 170
        assert lines[0].endswith(r"\right.") and lines[1].startswith(r"\qquad \left. + ")
        for line in lines:  # each line's brackets balance, so TeX accepts it
            assert line.count(r"\left") == line.count(r"\right")

    def test_short_and_unbreakable_right_sides_are_kept(self):
        assert break_right_side("x + y", budget=170) == (["x + y"], pytest.approx(37.2))
        fraction = r"\frac{" + " + ".join(f"a_{{{k}}}" for k in range(40)) + "}{2}"
        lines, widest = break_right_side(fraction, budget=170)
        assert lines == [fraction] and widest > 170

    def test_linear_in_the_length_without_recursion(self):
        tex = " + ".join(f"a_{{{k}}} x" for k in range(20_000))
        start = time.perf_counter()
        lines, widest = break_right_side(tex, budget=170)
        assert widest <= 170 and len(lines) > 1000
        deep = r"\left(" * 3000 + "x + y" + r"\right)" * 3000  # deeper than Python's stack
        break_right_side(deep, budget=170)
        assert time.perf_counter() - start < 20


class TestBreakRows:
    def test_numbered_rows_get_one_number(self):
        rows = break_rows([("L", long_sum()), ("M", "x")], numbered=True)
        first, *middle, last, short = rows.lines
        assert first.startswith("L &= ") and first.endswith(r" \nonumber")
        assert all(line.endswith(r" \nonumber") for line in middle)
        assert not last.endswith(r"\nonumber") and short == "M &= x"
        assert rows.starts == [0, len(rows.lines) - 1] and rows.too_wide == []

    def test_no_width_never_breaks(self):
        rows = break_rows([("L", long_sum())], width=None)
        assert rows.lines == [f"L &= {long_sum()}"]


class TestGradientLatex:
    def test_short_formulas_are_unchanged(self):
        w, x = sp.symbols("w x", real=True)
        grad = sg.gradient(sp.tanh(w * x) ** 2, wrt=[w, x])
        for form in ("closed", "structured"):
            assert grad.latex(form=form) == grad.latex(form=form, width=None)

    def test_width_is_keyword_only_with_the_column_as_default(self):
        for function in (sg.Gradient.latex, gradient_latex):
            parameter = inspect.signature(function).parameters["width"]
            assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
            assert parameter.default == COLUMN_WIDTH

    def test_broken_closed_forms_are_the_same_latex(self):
        grad = scalar_network()
        assert len(grad.latex(width=None)) >= 600  # the 600-character closed form
        assert unmarked(grad.latex()) == unmarked(grad.latex(width=None))
        assert unmarked(grad.latex(environment="align*")) == unmarked(
            grad.latex(width=None, environment="align*")
        )
        assert r"\nonumber" not in grad.latex(environment="align*")

    def test_an_unbreakable_closed_form_gives_its_delta_equations(self):
        w, x = sp.symbols("w x", real=True)
        a = sp.symbols("a1:12", real=True)
        grad = sg.gradient(sp.log(sp.Add(*(sp.exp(w * v) for v in a))) + w * x, wrt=[x, w])
        text = grad.latex()
        assert r"\frac{\partial L}{\partial x} &= w \\" in text  # it fits: kept closed
        comment = next(line for line in text.splitlines() if line.startswith("%"))
        assert comment.startswith(r"% \frac{\partial L}{\partial w}: the closed form does not fit")
        assert "delta-equations instead" in comment
        after = text.split(comment, 1)[1]
        assert r"\delta_{L} &= 1" in after and after.count(r"\frac{\partial L}{\partial w}") == 1
        assert r"\frac{\delta_{L}}{v_{24}}" in after  # δ of the log's argument, a δ-equation


# --- compiled: no overfull box wider than 1 pt -------------------------------------

FORMULAS = {
    "matrix-mse-closed": lambda: matrix_network("squared_error").latex(),
    "matrix-mse-structured": lambda: matrix_network("squared_error").latex(form="structured"),
    "matrix-softmax-closed": lambda: matrix_network("softmax_cross_entropy").latex(),
    "matrix-softmax-structured": lambda: matrix_network("softmax_cross_entropy").latex(
        form="structured"
    ),
    "scalar-closed": lambda: scalar_network().latex(),
    "scalar-structured": lambda: scalar_network().latex(form="structured"),
    "scalar-align*": lambda: scalar_network().latex(environment="align*"),
    "scalar-aligned": lambda: (
        "\\begin{equation}\n" + scalar_network().latex(environment="aligned") + "\n\\end{equation}"
    ),
    "scalar-lines": lambda: (
        "\\begin{align}\n" + scalar_network().latex(environment=None) + "\n\\end{align}"
    ),
}


@pytest.mark.parametrize("name", FORMULAS)
def test_fits_a_two_column_article(tmp_path, name):
    assert max(overfull(FORMULAS[name](), tmp_path), default=0.0) <= 1.0


def test_unbroken_they_do_not_fit(tmp_path):
    """The oracle sees the problem: without breaking the same formulas overflow."""
    body = (
        scalar_network().latex(width=None)
        + "\n"
        + matrix_network("squared_error").latex(width=None)
    )
    assert max(overfull(body, tmp_path)) > 100
