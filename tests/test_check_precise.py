"""The cross-check never cries wolf, and still catches wrong rules (symgraph.numeric.check_precise).

Where the floating-point oracles cancel (``log(1 − σ(t))`` at ``t ≈ 28``), the
referee evaluates the graph at 50 digits.  Oracles here: SymPy's own
derivative evaluated at 50 digits, exact derivatives written by hand, and
gradients made wrong on purpose through ``sg.register_rule``.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph import layers, nn
from symgraph.numeric.check import check
from symgraph.numeric.check_precise import NAME, Referee
from symgraph.numeric.lines import argument_order
from symgraph.rules import registry as rules
from symgraph.rules.matfuncs import RowSoftmax, SumEntries

w1, w2, b, x, z, y = sp.symbols("w1 w2 b x z y", real=True)
T = w1 * x + w2 * z + b
SIGMA = 1 / (1 + sp.exp(-T))
SEEDS = range(31)

SCALAR_LOSSES = {
    "cross-entropy": -(y * sp.log(SIGMA) + (1 - y) * sp.log(1 - SIGMA)),
    "nn cross-entropy": nn.binary_cross_entropy([nn.sigmoid(T)], [y]),
    "nn cross-entropy on logits": nn.binary_cross_entropy([T], [y], logits=True),
    "logistic": sp.log(1 + sp.exp(-y * T)),
    "softplus": nn.softplus(T) - y * T,
    "squared sigmoid": (SIGMA - y) ** 2,
}


@contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging) past a generous limit: for "does not hang" cases only."""

    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def wrong_rule(cls, rule):
    """``rule`` registered for ``cls`` with sg.register_rule, the old registry restored after."""
    saved = dict(rules._RULES)
    sg.register_rule(cls, rule)
    try:
        yield
    finally:
        rules._RULES.clear()
        rules._RULES.update(saved)


def exact_partials(expr, wrt, point):
    """sympy.diff of the whole expression at 50 digits: an oracle independent of symgraph."""
    values = {sp.Symbol(k, real=True): sp.Float(v, 60) for k, v in point.items()}
    return [float(sp.diff(expr, s).xreplace(values).evalf(50)) for s in wrt]


def gaussian_process_likelihood(n=3):
    """``Trace(yᵀ K⁻¹ y)/2 + log(det K)/2`` with ``K = A Aᵀ + s I``; defined where det K > 0."""
    A, yv, s = sp.MatrixSymbol("A", n, 2), sp.MatrixSymbol("y", n, 1), sp.Symbol("s")
    K = A * A.T + s * sp.Identity(n)
    return sp.Trace(yv.T * K.inverse() * yv) / 2 + sp.log(sp.Determinant(K)) / 2, (A, s)


def cancelling_graph():
    """``L = log((1 + exp(-w x)) - 1)``, kept as three nodes: ∂L/∂w = -x exactly.

    At ``w x = 30`` the difference ``u - 1`` keeps three digits in double precision,
    so central differences and the complex step of the forward pass cancel.
    """
    w = sp.Symbol("w", real=True)
    u, v, L = sp.symbols("u v L", real=True)
    steps = [(u, 1 + sp.exp(-w * x)), (v, u - 1), (L, sp.log(v))]
    return w, sg.Graph.from_assignments(steps, wrt=[w]).backward()


class TestScalarLosses:
    @pytest.mark.parametrize("loss", list(SCALAR_LOSSES.values()), ids=list(SCALAR_LOSSES))
    def test_correct_gradient_passes_at_every_seed(self, loss):
        grad = sg.gradient(loss, wrt=[w1, w2, b])
        for seed in SEEDS:
            report = check(grad, seed=seed)
            assert report.ok, f"seed {seed}\n{report}"
            for row in report.rows:  # an ok row never shows a large error
                assert row.rel_error < 1e-5, f"seed {seed}\n{report}"

    def test_the_gradient_is_right(self):
        """The losses above have correct gradients (independent oracle: sympy.diff)."""
        point = {"w1": 2.9, "w2": 3.1, "b": 3.2, "x": 4.1, "z": 4.7, "y": 0.3}  # t ≈ 29
        for loss in SCALAR_LOSSES.values():
            grad = sg.gradient(loss, wrt=[w1, w2, b])
            _, partials = grad.lambdify()(**point)
            expected = exact_partials(loss, [w1, w2, b], point)
            np.testing.assert_allclose(np.ravel(partials), expected, rtol=1e-2)

    def test_cross_entropy_at_a_cancelling_point_is_decided_by_the_referee(self):
        grad = sg.gradient(SCALAR_LOSSES["cross-entropy"], wrt=[w1, w2, b])
        point = {"w1": 2.9, "w2": 3.1, "b": 3.2, "x": 4.1, "z": 4.7, "y": 0.3}
        report = check(grad, at=point)
        assert report.ok, report
        expected = exact_partials(SCALAR_LOSSES["cross-entropy"], [w1, w2, b], point)
        assert expected == pytest.approx([0.7 * 4.1, 0.7 * 4.7, 0.7], rel=1e-9)  # (σ - y) x
        for row in report.rows:
            assert row.rel_error < 1e-5
            if row.decided_by:
                assert row.decided_by == NAME and NAME in row.methods
                assert f"decided by {NAME}" in row.note


class TestReferee:
    def test_cancelling_graph_is_decided_at_50_digits(self):
        w, grad = cancelling_graph()
        report = check(grad, at={"w": 30.0, "x": 1.0})
        assert report.ok, report
        (row,) = report.rows
        assert row.decided_by == NAME
        assert row.methods[-1] == NAME
        assert "central-difference" in row.note and "cancel" in row.note
        assert row.rel_error < 1e-5
        assert f"decided by {NAME} at 1 point" in str(report)

    def test_reference_is_the_exact_derivative(self):
        w, grad = cancelling_graph()
        args = argument_order(grad)
        assert [a.name for a in args] == ["x", "w"]
        (verdict,) = Referee(grad, args, [[1.5, 20.0]]).decide(0, [(0, 0)])
        assert verdict.reference == pytest.approx(-1.5, rel=1e-14)  # ∂/∂w (-w x) = -x
        assert verdict.formula == pytest.approx(-1.5, rel=1e-14)
        assert verdict.formula_agrees and verdict.float_agrees

    def test_compiled_value_off_beyond_rounding_is_caught(self):
        """A compiled partial off by more than rounding explains fails; the formula is right."""
        w, grad = cancelling_graph()
        args = argument_order(grad)
        (verdict,) = Referee(grad, args, [[1.0, 3.0]]).decide(0, [(0, 0)], [-1.001], [4.0])
        assert verdict.formula_agrees and not verdict.float_agrees


class TestWrongRulesAreCaught:
    def test_wrong_exp_rule_fails_the_cross_entropy(self):
        with wrong_rule(sp.exp, lambda op, i: 1.001 * op):
            grad = sg.gradient(SCALAR_LOSSES["cross-entropy"], wrt=[w1, w2, b])
            for seed in range(5):
                report = check(grad, seed=seed)
                assert not report.ok, f"seed {seed}\n{report}"
                failed = [row.weight for row in report.rows if not row.ok]
                assert w1 in failed
                line = next(t for t in str(report).splitlines() if t.strip().startswith("w1"))
                assert "FAIL" in line
        assert check(sg.gradient(SCALAR_LOSSES["cross-entropy"], wrt=[w1, w2, b])).ok  # undone

    def test_wrong_log_rule_is_caught_where_differences_cancel(self):
        w, _ = cancelling_graph()
        with wrong_rule(sp.log, lambda op, i: (1 + sp.Rational(1, 10**6)) / op.args[0]):
            _, grad = cancelling_graph()
            report = check(grad, at={"w": 30.0, "x": 1.0})
        assert not report.ok, report
        (row,) = report.rows
        assert row.weight == w and not row.ok
        assert row.per_method[NAME][2] is False  # the referee itself says no
        assert NAME in row.worst and "analytic" in row.worst

    def test_wrong_log_rule_fails_the_gaussian_process_likelihood(self):
        loss, (A, s) = gaussian_process_likelihood()
        with wrong_rule(sp.log, lambda op, i: 1 / (op.args[0] + sp.Rational(1, 1000))):
            grad = sg.gradient(loss, wrt=[A, s])
        for seed in range(3):
            report = check(grad, seed=seed)
            assert not report.ok, report
            assert {row.weight for row in report.rows if not row.ok} == {A, s}
            assert any(t.strip().startswith("A ") and "FAIL" in t for t in str(report).split("\n"))


def matrix_losses():
    X, Y = layers.input_matrix(4, 2), layers.target_matrix(4, 1)
    W, c = sp.MatrixSymbol("W", 2, 1), sp.Symbol("c", real=True)
    Z = sp.MatAdd(X * W, c * sp.OneMatrix(4, 1))
    Y3, V = layers.target_matrix(4, 3), sp.MatrixSymbol("V", 2, 3)
    return {
        "cross-entropy": layers.binary_cross_entropy(layers.elementwise("sigmoid", Z), Y),
        "cross-entropy on logits": layers.binary_cross_entropy(Z, Y, logits=True),
        "softplus": SumEntries(layers.elementwise("softplus", 20 * Z)),
        "softmax cross-entropy": layers.softmax_cross_entropy(X * V, Y3),
    }, [W, c, V]


class TestMatrixLosses:
    LOSSES, WEIGHTS = matrix_losses()

    @pytest.mark.parametrize("name", list(LOSSES))
    def test_correct_gradient_passes_at_every_seed(self, name):
        loss = self.LOSSES[name]
        grad = sg.gradient(loss, wrt=[s for s in self.WEIGHTS if s in loss.free_symbols])
        for seed in range(0, 31, 3):
            report = check(grad, seed=seed)
            assert report.ok, f"seed {seed}\n{report}"
            assert report.max_rel_error < 1e-5, f"seed {seed}\n{report}"

    def test_cancelling_entries_are_decided_by_the_referee(self):
        W = sp.MatrixSymbol("W", 2, 2)
        E, U, V = (sp.MatrixSymbol(n, 2, 2) for n in "EUV")
        L = sp.Symbol("L")
        ones = sp.OneMatrix(2, 2)
        steps = [
            (E, layers.elementwise(sp.exp, -40 * W)),
            (U, sp.MatAdd(E, ones)),
            (V, sp.MatAdd(U, -ones)),
            (L, SumEntries(layers.elementwise(sp.log, V))),
        ]
        grad = sg.Graph.from_assignments(steps, wrt=[W]).backward()
        report = check(grad, at={"W": [[0.75, 0.7], [0.1, -0.5]]})
        assert report.ok, report
        (row,) = report.rows
        assert row.decided_by == NAME and row.rel_error < 1e-5
        _, (g,) = grad.lambdify()(W=np.array([[0.75, 0.7], [0.1, -0.5]]))
        np.testing.assert_allclose(g, -40 * np.ones((2, 2)), rtol=1e-2)  # ∂Σ(-40 W)/∂W


class TestMatrixChecksAreBounded:
    def test_gaussian_process_likelihood_samples_inside_the_domain(self):
        loss, (A, s) = gaussian_process_likelihood()
        grad = sg.gradient(loss, wrt=[A, s])
        n = 3
        with time_limit(20):
            for seed in range(8):
                report = check(grad, seed=seed)
                assert report.ok, f"seed {seed}\n{report}"
                for sample in range(3):  # every point inside the domain: det K > 0
                    Ap, sv = report.points["A"][sample], report.points["s"][sample]
                    assert np.linalg.det(Ap @ Ap.T + sv * np.eye(n)) > 0

    def test_attention_over_three_tokens_is_not_expanded(self):
        d = 2
        X = sp.MatrixSymbol("X", 3, d)
        Q, Kw, V = (sp.MatrixSymbol(name, d, d) for name in ("Q", "K", "V"))
        scores = RowSoftmax(X * Q * (X * Kw).T / sp.sqrt(d))
        loss = SumEntries(sp.HadamardPower(scores * X * V, 2))
        grad = sg.gradient(loss, wrt=[Q, Kw, V])
        with time_limit(20):
            report = check(grad, seed=0)
        assert report.ok, report
        assert all(row.methods[0] == "central-difference" for row in report.rows)

    def test_a_large_weight_is_differenced_at_a_seeded_sample_of_entries(self):
        W, xv = sp.MatrixSymbol("W", 60, 60), sp.MatrixSymbol("x", 60, 1)
        loss = sp.log(SumEntries(layers.elementwise(sp.tanh, W * xv)) ** 2 + 1)
        with time_limit(20):
            report = check(sg.gradient(loss, wrt=[W]), seed=0, points=2)
            assert report.ok, report
            assert any("along 3 random directions" in note for note in report.notes)
            with wrong_rule(sp.log, lambda op, i: 2 / op.args[0]):
                wrong = sg.gradient(loss, wrt=[W])
            failed = check(wrong, seed=0, points=2)
        assert not failed.ok, failed
        assert f"{NAME} not run: 3660 entries" in failed.rows[0].note  # bounded: floats decide
