"""Tests of the numeric cross-check, symgraph.numeric.check.

The checker is itself an oracle, so it is tested both ways: it must pass
correct gradients (over a table and hypothesis-generated expressions), and it
must catch a gradient that is deliberately wrong.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph import layers
from symgraph.core.gradient import Gradient
from symgraph.errors import CheckError, EvaluationError
from symgraph.numeric.check import CheckReport, check
from symgraph.rules.matfuncs import SumEntries

w, x, b, y = sp.symbols("w x b y", real=True)

ANALYTIC = {
    "sin": sp.sin(w * x),
    "tanh-loss": (sp.tanh(w * x + b) - y) ** 2,
    "exp": sp.exp(w * x) + sp.exp(-(w**2)),
    "log": sp.log(w**2 + x**2 + 1),
    "sqrt": sp.sqrt(w**2 + 1) * x,
    "atan": sp.atan(w * x),
    "asinh": sp.asinh(w) * sp.cosh(x),
    "sigmoid": 1 / (1 + sp.exp(-(w * x + b))),
    "power": (w * x + 1) ** 5 / (w**2 + 1) ** 2,
    "shared": sp.sin(w * x) + sp.sin(w * x) ** 2,
    "erf": sp.erf(w * x),
}
NON_ANALYTIC = {
    "Abs": sp.Abs(w * x - 1),
    "Max": sp.Max(w, x) * w,
    "Min": sp.Min(w * x, x**2),
    "Piecewise": sp.Piecewise((w**2, x > 0), (w * x, True)),
    "relu": sp.Max(0, w * x + b) ** 2,
}


def weights(expr):
    return sorted(expr.free_symbols, key=str)


class TestCorrectGradients:
    @pytest.mark.parametrize("expr", list(ANALYTIC.values()), ids=list(ANALYTIC))
    def test_analytic_uses_every_oracle(self, expr):
        report = check(sg.gradient(expr))
        assert report.ok, report
        assert [row.weight for row in report.rows] == weights(expr)
        for row in report.rows:
            assert row.methods == ("central-difference", "complex-step", "sympy.diff")
            assert all(ok for _, _, ok in row.per_method.values())
        assert report.notes == []
        assert str(report).startswith("cross-check at 3 points: ok")

    @pytest.mark.parametrize("expr", list(NON_ANALYTIC.values()), ids=list(NON_ANALYTIC))
    def test_non_analytic_skips_complex_step_with_a_note(self, expr):
        report = check(sg.gradient(expr))
        assert report.ok, report
        for row in report.rows:
            assert "complex-step" not in row.methods
            assert "central-difference" in row.methods and "sympy.diff" in row.methods
        assert any("complex step skipped" in note for note in report.notes)
        assert "note: complex step skipped" in str(report)

    def test_simplified_gradient(self):
        report = check(sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b]).simplify())
        assert report.ok, report

    def test_large_graph_skips_sympy_diff(self):
        xs = sp.symbols("x0:120", real=True)
        expr = sum(sp.sin(w * xi + i) for i, xi in enumerate(xs))
        grad = sg.gradient(expr, wrt=[w])
        assert grad.graph.nx.number_of_nodes() > 300
        report = check(grad)
        assert report.ok, report
        assert report.rows[0].methods == ("central-difference", "complex-step")
        assert any("sympy.diff skipped" in note for note in report.notes)

    def test_one_deep_node_skips_sympy_diff(self):
        """A 40-layer named step: a shallow graph whose one expression is 80 levels deep
        (sympy.diff of it, per weight, took 13 s for 49 layers)."""
        a, L = x, sp.Symbol("L", real=True)
        ws = sp.symbols("w1:41", real=True)
        for wk in ws:
            a = sp.tanh(wk * a, evaluate=False)
        step = sp.Pow(sp.Add(a, -y, evaluate=False), 2, evaluate=False)
        grad = sg.Graph.from_assignments([(L, step)], wrt=list(ws), granularity="named").backward()
        assert grad.graph.size["depth"] <= 2
        report = check(grad, points=2)
        assert report.ok, report
        assert any("sympy.diff skipped" in note for note in report.notes)

    def test_points_count(self):
        report = check(sg.gradient(sp.sin(w * x), wrt=[w]), points=5)
        assert {name: len(v) for name, v in report.points.items()} == {"w": 5, "x": 5}
        assert str(report).startswith("cross-check at 5 points: ok")


def wrong_gradient(expr, wrt, wrong):
    """A Gradient with the given (wrong) closed forms; simplified ones compile from them."""
    right = sg.gradient(expr, wrt=wrt)
    closed = {**right.closed_forms(), **wrong}
    return Gradient(right.graph, right.equations, right.adjoints, closed=closed, simplified="fast")


class TestWrongGradientIsCaught:
    EXPR = sp.sin(w * x) + w**2 * b

    def test_wrong_function(self):
        grad = wrong_gradient(self.EXPR, [w, b], {w: x * sp.sin(w * x) + 2 * w * b})
        report = check(grad)
        assert report.ok is False
        by_weight = {row.weight: row for row in report.rows}
        assert by_weight[w].ok is False and by_weight[b].ok is True
        text = str(report)
        assert "FAILED" in text.splitlines()[0]
        assert "FAIL" in text and "analytic" in text and "numeric" in text
        assert report.max_rel_error > 1e-3

    def test_small_relative_error_is_caught(self):
        right = sp.diff(self.EXPR, w)
        grad = wrong_gradient(self.EXPR, [w, b], {w: (1 + sp.Rational(1, 10**4)) * right})
        report = check(grad)
        assert report.ok is False
        assert report.rows[0].per_method["complex-step"][2] is False
        assert report.rows[0].per_method["sympy.diff"][2] is False

    def test_raise_on_failure(self):
        grad = wrong_gradient(self.EXPR, [w, b], {b: w**3})
        with pytest.raises(CheckError, match="FAIL") as info:
            check(grad, raise_on_failure=True)
        assert isinstance(info.value, AssertionError)
        assert "analytic" in str(info.value)
        with pytest.raises(AssertionError):
            check(grad).raise_if_failed()

    def test_raise_on_failure_passes_a_correct_gradient(self):
        report = check(sg.gradient(self.EXPR, wrt=[w, b]), raise_on_failure=True)
        assert isinstance(report, CheckReport) and report.ok
        assert report.raise_if_failed() is report


class TestDomain:
    @pytest.mark.parametrize(
        ("expr", "inside"),
        [
            (sp.log(w * x), lambda p: p["w"] * p["x"] > 0),
            (sp.sqrt(w - x), lambda p: p["w"] - p["x"] >= 0),
            (sp.acosh(w * x), lambda p: p["w"] * p["x"] >= 1),
            (sp.log(w) + sp.sqrt(x - 1), lambda p: (p["w"] > 0) & (p["x"] >= 1)),
            (sp.asin(w * x), lambda p: np.abs(p["w"] * p["x"]) <= 1),
        ],
        ids=["log", "sqrt", "acosh", "log+sqrt", "asin"],
    )
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_points_found_inside_the_domain(self, expr, inside, seed):
        report = check(sg.gradient(expr, wrt=[w]), seed=seed)
        assert report.ok, report
        assert len(report.points["w"]) == 3
        assert np.all(inside(report.points))
        value = sp.lambdify([w, x], expr, "math")
        for pw, px in zip(report.points["w"], report.points["x"], strict=True):
            assert math.isfinite(value(pw, px))  # real and finite: math raises outside

    @pytest.mark.parametrize(
        "expr", [sp.log(-(x**2) - 1) * w, sp.sqrt(-(w**2) - 1)], ids=["log", "sqrt"]
    )
    def test_undefined_everywhere(self, expr):
        with pytest.raises(EvaluationError, match=r"found only 0 of 3 points") as info:
            check(sg.gradient(expr, wrt=[w]))
        assert "domain" in str(info.value) and "at=" in str(info.value)

    def test_given_point_outside_the_domain(self):
        with pytest.raises(EvaluationError, match="not finite"):
            check(sg.gradient(sp.log(w * x), wrt=[w]), at={"w": -1.0, "x": 1.0})


class TestPoints:
    GRAD = sg.gradient(sp.tanh(w * x) * b, wrt=[w, b])

    @pytest.mark.parametrize(
        "at", [{"w": 0.3, "x": -1.2, "b": 2.0}, {w: 0.3, x: -1.2, b: 2.0}], ids=["names", "symbols"]
    )
    def test_given_point_is_used(self, at):
        report = check(self.GRAD, at=at)
        assert report.ok, report
        expected = {str(k): np.array([v]) for k, v in at.items()}
        assert set(report.points) == set(expected)
        for name, value in expected.items():
            np.testing.assert_array_equal(report.points[name], value)
        assert str(report).startswith("cross-check at 1 point: ok")

    def test_given_vector_of_points(self):
        at = {"w": [0.1, -0.5], "x": [1.0, 2.0], "b": [3.0, -1.0]}
        report = check(self.GRAD, at=at)
        assert report.ok, report
        for name, value in at.items():
            np.testing.assert_array_equal(report.points[name], value)

    def test_missing_value_at_point(self):
        with pytest.raises(EvaluationError):
            check(self.GRAD, at={"w": 1.0})

    def test_same_seed_same_points(self):
        first, again = check(self.GRAD, seed=7), check(self.GRAD, seed=7)
        for name in first.points:
            np.testing.assert_array_equal(first.points[name], again.points[name])

    def test_different_seed_different_points(self):
        first, other = check(self.GRAD, seed=7), check(self.GRAD, seed=8)
        assert any(
            not np.array_equal(first.points[name], other.points[name]) for name in first.points
        )

    def test_max_errors_are_the_max_of_rows(self):
        report = check(sg.gradient((sp.tanh(w * x + b) - y) ** 2))
        assert len(report.rows) == 4
        assert report.max_rel_error == max(row.rel_error for row in report.rows)
        assert report.max_abs_error == max(row.abs_error for row in report.rows)
        for row in report.rows:
            assert row.rel_error == max(r for _, r, _ in row.per_method.values())
            assert row.abs_error == max(a for a, _, _ in row.per_method.values())


class TestEveryShape:
    """A scalar weight is the 1×1 case of a matrix weight: the same check, the same verdict."""

    W, X = sp.MatrixSymbol("W", 1, 1), sp.MatrixSymbol("X", 1, 1)

    @staticmethod
    def off_by_a_thousandth(grad):
        """``grad`` with its last δ-equation (the weight's) scaled by 1 + 10⁻³."""
        *kept, (delta, rhs) = grad.equations
        return Gradient(grad.graph, (*kept, (delta, sp.Float(1.001) * rhs)), grad.adjoints)

    @pytest.mark.parametrize("wrong", [False, True], ids=["right", "wrong"])
    def test_a_scalar_weight_is_the_one_by_one_case(self, wrong):
        scalar = sg.gradient(sp.sin(w * x), wrt=[w])
        matrix = sg.gradient(SumEntries(layers.elementwise(sp.sin, self.W * self.X)), wrt=[self.W])
        if wrong:
            scalar, matrix = self.off_by_a_thousandth(scalar), self.off_by_a_thousandth(matrix)
        one = check(scalar, at={"w": 0.7, "x": 1.3})
        by_one = check(matrix, at={"W": [[0.7]], "X": [[1.3]]})
        assert one.ok is by_one.ok is (not wrong), f"{one}\n{by_one}"
        (row,), (matrix_row,) = one.rows, by_one.rows
        if wrong:  # 1.001 times the truth, relative to the truth: 10⁻³ off
            assert row.rel_error == pytest.approx(1e-3, rel=1e-6)
            assert matrix_row.rel_error == pytest.approx(1e-3, rel=1e-6)
            assert "analytic" in row.worst and "analytic" in matrix_row.worst
        central = [r.per_method["central-difference"] for r in (row, matrix_row)]
        assert central[0] == pytest.approx(central[1], rel=1e-6, abs=1e-12)
        assert row.methods[:3] == ("central-difference", "complex-step", "sympy.diff")
        assert matrix_row.methods[0] == "central-difference"
        assert "complex-step" not in matrix_row.methods  # it differentiates scalar graphs only


class TestPerEntryOrAlongDirections:
    """Up to 32 weight entries each is differenced; beyond, all at once along directions."""

    @staticmethod
    def sum_of_sines(count):
        ws = sp.symbols(f"v0:{count}", real=True)
        return sum(sp.sin(wk * x + k) for k, wk in enumerate(ws)), list(ws)

    def test_32_entries_are_differenced_one_by_one(self):
        expr, ws = self.sum_of_sines(32)
        report = check(sg.gradient(expr, wrt=ws))
        assert report.ok, report
        assert not any("directions" in note for note in report.notes)
        assert all(
            row.methods == ("central-difference", "complex-step", "sympy.diff")
            for row in report.rows
        )

    @pytest.mark.parametrize("wrong", [False, True], ids=["right", "wrong"])
    def test_33_entries_go_along_directions_with_the_same_verdict(self, wrong):
        expr, ws = self.sum_of_sines(33)
        grad = sg.gradient(expr, wrt=ws)
        if wrong:  # ∂/∂v7 = x cos(v7 x + 7), planted as x sin(v7 x + 7)
            grad = wrong_gradient(expr, ws, {ws[7]: x * sp.sin(ws[7] * x + 7)})
        report = check(grad)
        assert any("along 3 random directions" in note for note in report.notes)
        assert [row.weight for row in report.rows] == ws
        assert [row.weight for row in report.rows if not row.ok] == ([ws[7]] if wrong else [])
        if wrong:
            assert "analytic" in next(r for r in report.rows if not r.ok).worst
            assert str(report).startswith("cross-check at 3 points: FAILED")


class TestRegressions:
    """Bugs found once; each test failed before its fix."""

    def test_atan2(self):
        assert check(sg.gradient(sp.atan2(w, x), wrt=[w])).ok

    def test_loggamma(self):
        assert check(sg.gradient(sp.loggamma(w**2 + 1), wrt=[w])).ok

    def test_gamma_at_negative_argument(self):
        grad = sg.gradient(sp.gamma(w), wrt=[w])
        # the gradient itself is right (independent oracle: digamma)
        exact = float(sp.gamma(-0.5) * sp.polygamma(0, -0.5))
        assert float(grad[w].subs(w, -0.5)) == pytest.approx(exact, rel=1e-12)
        assert check(grad, at={"w": -0.5}).ok

    def test_steep_function_is_not_a_false_alarm(self):
        grad = sg.gradient(sp.sin(w**4), wrt=[w])
        assert sp.simplify(grad[w] - sp.diff(sp.sin(w**4), w)) == 0
        report = check(grad, at={"w": 4.25})
        assert report.rows[0].per_method["complex-step"][2]
        assert report.rows[0].per_method["sympy.diff"][2]
        assert report.ok, report


# --- hypothesis: random small expressions -----------------------------------------

LEAVES = st.sampled_from([w, x, b, sp.Integer(2), sp.Rational(1, 2)])


def _extend(children):
    return st.one_of(
        st.builds(sp.sin, children),
        st.builds(sp.tanh, children),
        st.builds(lambda e: sp.exp(sp.tanh(e)), children),  # bounded exponent
        st.builds(lambda e: sp.log(e**2 + 1), children),
        st.builds(lambda e, k: e**k, children, st.integers(2, 3)),
        st.builds(sp.Mul, children, children),
        st.builds(sp.Add, children, children),
    )


EXPRESSIONS = st.recursive(LEAVES, _extend, max_leaves=5)


# derandomize: steep expressions (sin(w**4)) can hit the central-difference false alarm
# recorded in TestKnownBugs; until it is fixed, the same examples run every time.
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(expr=EXPRESSIONS, seed=st.integers(0, 2**16))
def test_random_expressions_check_ok(expr, seed):
    symbols = weights(expr)
    assume(symbols)  # a constant has no weight to check
    report = check(sg.gradient(expr), seed=seed)
    assert report.ok, f"{expr}\n{report}"
    assert "complex-step" in report.rows[0].methods


def test_a_report_shows_as_a_table_in_a_notebook_and_a_summary_in_a_repl():
    wx, xx = sp.symbols("wx xx", real=True)
    report = sg.check(sg.gradient(sp.sin(wx) * xx, wrt=[wx]))
    assert repr(report).startswith("<CheckReport ok: 1 weight, max rel error")
    html = report._repr_html_()
    assert html.count("<tr>") == 2 and "<td>wx</td>" in html and "ok" in html

    class Printer:  # IPython's pretty printer: the same text as print()
        def text(self, t):
            self.out = t

    printer = Printer()
    report._repr_pretty_(printer, cycle=False)
    assert printer.out == str(report)
    failed = sg.check(sg.gradient(sp.sin(wx) * xx, wrt=[wx]))
    failed.rows[0].ok, failed.rows[0].worst = False, "analytic 1 vs numeric <2>"
    assert "<b>FAIL</b>" in failed._repr_html_() and "&lt;2&gt;" in failed._repr_html_()
