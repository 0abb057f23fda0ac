"""Tests of the cross-check along random directions, symgraph.numeric.check_directions.

Above 32 weight entries ``sg.check`` compares ∇f·v with the derivative of f
along a few random directions v, and only where one disagrees localizes the
wrong weight by bisection. It must pass hard but correct gradients (deep
chains, saturated units, large logits, cancellation, kinks) and catch a wrong
partial planted among a thousand, naming that weight with its numbers.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph import layers, nn
from symgraph.core.gradient import Gradient
from symgraph.numeric.check import PER_ENTRY_MAX, check
from symgraph.numeric.check_directions import (
    DIRECTIONS,
    Layout,
    Screen,
    judge,
    random_direction,
)
from symgraph.numeric.check_precise import NAME


def planted(grad: Gradient, weight, change) -> Gradient:
    """``grad`` with the δ-equation of ``weight`` replaced by ``change(rhs)``."""
    delta = grad.adjoints[weight]
    assert any(lhs == delta for lhs, _ in grad.equations), f"no δ-equation for {weight}"
    equations = tuple((lhs, change(rhs) if lhs == delta else rhs) for lhs, rhs in grad.equations)
    return Gradient(grad.graph, equations, grad.adjoints)


def failed_weights(report) -> list:
    return [row.weight for row in report.rows if not row.ok]


def numbers_of(worst: str) -> tuple[float, float]:
    """The analytic and numeric values a failing row names."""
    number = r"(?:np\.float64\()?([-+0-9.e]+|nan|inf)\)?"
    found = re.search(rf"analytic {number} vs numeric {number}", worst)
    assert found, worst
    return float(found.group(1)), float(found.group(2))


# --- the screen on a linear function: the truth is known exactly ---------------------


def linear_screen(true: np.ndarray, compiled: np.ndarray, shapes, seed: int = 0):
    """Screen ``f(x) = true·x`` whose compiled partials are ``compiled``; returns it run."""
    layout = Layout(shapes)
    verified = []

    def estimate(p, vector):  # the exact derivative along the vector
        return {"complex-step": (float(true @ vector), 0.0)}

    def verify(n, p, i):
        verified.append((n, i))
        flat = layout.offsets[n] + i
        return bool(np.isclose(true[flat], compiled[flat], rtol=1e-12))

    screen = Screen(layout, estimate, [compiled], [1.0], verify)
    rng = np.random.default_rng(seed)
    for _ in range(DIRECTIONS):
        screen.run(0, random_direction(np.zeros(layout.total), rng))
    return screen, verified


class TestScreen:
    SHAPES = [()] * 500 + [(20, 25)]  # 500 scalar weights and a 20×25 matrix: 1,000 entries

    def test_correct_partials_take_one_comparison_per_direction(self):
        true = np.random.default_rng(1).normal(size=1000)
        screen, verified = linear_screen(true, true.copy(), self.SHAPES)
        assert screen.comparisons == DIRECTIONS
        assert verified == [] and screen.failed == set()
        assert all(screen.vouched[n] for n in range(len(self.SHAPES)))

    @pytest.mark.parametrize("flat", [0, 137, 499, 500, 777, 999])
    @pytest.mark.parametrize("error", [-2.0, 1e-3, 1e-6], ids=["sign", "thousandth", "millionth"])
    def test_one_wrong_entry_is_localized_in_log_w_comparisons(self, flat, error):
        true = np.random.default_rng(2).uniform(0.5, 2.0, size=1000)
        compiled = true.copy()
        compiled[flat] *= 1 + error
        screen, verified = linear_screen(true, compiled, self.SHAPES)
        n, i = Layout(self.SHAPES).owner(flat)
        assert verified == [(n, i)]  # only the culprit went to the per-entry check
        assert screen.failed == {n}
        assert screen.comparisons <= DIRECTIONS + 2 * math.ceil(math.log2(1000)) + 2
        assert not screen.vouched[n] or n == 500  # the matrix: its other parts agreed first

    def test_two_wrong_weights_are_both_found(self):
        true = np.random.default_rng(3).uniform(0.5, 2.0, size=1000)
        compiled = true.copy()
        compiled[[10, 900]] += 1e-3
        screen, verified = linear_screen(true, compiled, self.SHAPES)
        assert screen.failed == {10, 500}
        assert sorted(verified) == [(10, 0), (500, 400)]

    def test_errors_that_would_cancel_in_one_direction_do_not_in_all(self):
        """Equal and opposite errors: random sizes 1..2 keep them from cancelling exactly."""
        true = np.ones(1000)
        compiled = true.copy()
        compiled[3], compiled[4] = 1.5, 0.5
        screen, _ = linear_screen(true, compiled, self.SHAPES)
        assert screen.failed == {3, 4}


class TestPieces:
    def test_layout(self):
        layout = Layout([(), (2, 3), (1, 1)])
        assert layout.total == 8
        assert [layout.owner(k) for k in (0, 1, 6, 7)] == [(0, 0), (1, 0), (1, 5), (2, 0)]
        assert layout.split(0, 8) == 1  # the weight boundary nearest the middle (1 and 7 tie)
        assert layout.split(1, 8) == 7
        assert layout.split(1, 7) == 4  # inside one weight: the middle
        moves = layout.moves(np.arange(8.0), [5, 2, 0])
        assert moves[5].shape == () and moves[2].shape == (2, 3) and moves[0].shape == (1, 1)
        np.testing.assert_array_equal(moves[2], [[1, 2, 3], [4, 5, 6]])

    def test_random_direction_has_no_small_entries(self):
        weights = np.array([0.0, -0.5, 3.0, -10.0] * 250)
        v = random_direction(weights, np.random.default_rng(0))
        size = np.abs(v) / np.maximum(1.0, np.abs(weights))
        assert size.min() >= 1.0 and size.max() <= 2.0
        assert 400 < np.sum(v > 0) < 600  # random signs

    def test_judge_by_hand(self):
        # central difference: rtol 1e-5, atol 1e-6 per unit of 1 + |f|, plus its own bound
        diff, rel, agrees, lenient = judge("central-difference", 1.0, 1.0 + 2e-5, 1e-4, 1.0)
        assert diff == pytest.approx(2e-5) and rel == pytest.approx(2e-5 / (1 + 2e-5))
        assert lenient and not agrees  # within its own bound, but disputed beyond 1e-5
        assert not judge("complex-step", 1.0, 1.0 + 1e-6, 0.0, 1.0)[3]


# --- sg.check along directions: correct gradients pass ------------------------------


@pytest.fixture(scope="module")
def network():
    """A tanh network of 4 inputs, 200 hidden units and one output: 1,201 weights."""
    steps, params = nn.as_assignments(nn.input_symbols(4), [200, 1], ["tanh", "identity"])
    return sg.Graph.from_assignments(steps, wrt=params).backward(), params


def tanh_chain(depth: int):
    """``a_k = tanh(w_k a_{k-1} + b_k)``, loss ``(a_D - y)²``, as named assignments."""
    x, y = sp.symbols("x y", real=True)
    steps, weights, previous = [], [], x
    for k in range(1, depth + 1):
        w, b = sp.symbols(f"w{k} b{k}", real=True)
        steps.append((sp.Symbol(f"a{k}", real=True), sp.tanh(w * previous + b)))
        weights += [w, b]
        previous = steps[-1][0]
    steps.append((sp.Symbol("L"), (previous - y) ** 2))
    return sg.Graph.from_assignments(steps, wrt=weights).backward()


class TestCorrectGradientsPass:
    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_network_of_1201_weights(self, network, seed):
        grad, params = network
        report = check(grad, seed=seed)
        assert report.ok, report
        assert [row.weight for row in report.rows] == params
        assert any("checked all at once along 3 random directions" in n for n in report.notes)
        for row in report.rows:
            assert row.methods[:2] == ("central-difference", "complex-step")
            assert row.rel_error <= 1e-5  # an ok row shows no large error
        assert "directions per point" in str(report)

    def test_deep_chain_with_vanishing_partials(self):
        report = check(tanh_chain(300), seed=0)
        assert report.ok, report
        assert len(report.rows) == 600

    def test_large_logits(self):
        """Softmax cross-entropy with logits near ±100: exp overflows unless computed stably."""
        steps, params = nn.as_assignments(
            nn.input_symbols(3), [6, 3], ["tanh", "identity"], loss="softmax_cross_entropy"
        )
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        rng = np.random.default_rng(0)
        at = {str(p): rng.uniform(-1, 1) for p in params}
        at |= {f"W2_{j}_{k}": 20.0 * (-1) ** (j + k) for j in (1, 2, 3) for k in range(1, 7)}
        at |= {f"x_{i}": 2.0 for i in range(1, 4)} | {"y_1": 1.0, "y_2": 0.0, "y_3": 0.0}
        report = check(grad, at=at)
        assert report.ok, report
        assert any("random directions" in note for note in report.notes)

    def test_cancellation(self):
        """Σ_k of cross-entropies at t ≈ 29, where 1 − σ(t) keeps four digits in doubles."""
        terms, point = [], {}
        for k in range(12):
            w1, w2, b, x, z = sp.symbols(f"w1_{k} w2_{k} b_{k} x_{k} z_{k}", real=True)
            sigma = 1 / (1 + sp.exp(-(w1 * x + w2 * z + b)))
            terms.append(
                -(sp.Rational(3, 10) * sp.log(sigma) + sp.Rational(7, 10) * sp.log(1 - sigma))
            )
            point |= {f"w1_{k}": 2.9, f"w2_{k}": 3.1, f"b_{k}": 3.2, f"x_{k}": 4.1, f"z_{k}": 4.7}
        loss = sp.Add(*terms)
        weights = sorted((s for s in loss.free_symbols if s.name[0] in "wb"), key=lambda s: s.name)
        assert len(weights) == 36 > PER_ENTRY_MAX
        report = check(sg.gradient(loss, wrt=weights), at=point)
        assert report.ok, report
        assert all(row.decided_by in ("", NAME) for row in report.rows)
        by_name = {row.weight.name: row for row in report.rows}
        assert all(row.rel_error < 1e-5 for row in by_name.values()), report

    @pytest.mark.parametrize("seed", [0, 1])
    def test_kinks_are_avoided_by_sampling(self, seed):
        steps, params = nn.as_assignments(nn.input_symbols(3), [10, 1], "relu")
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        assert len(params) == 51
        report = check(grad, seed=seed)
        assert report.ok, report
        assert any("complex step skipped" in note for note in report.notes)

    def test_matrix_network(self):
        steps, params = layers.as_assignments(layers.input_matrix(6, 5), [8, 1], "tanh")
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        report = check(grad, seed=0)
        assert report.ok, report
        assert any("random directions" in note for note in report.notes)

    def test_same_seed_same_report(self, network):
        grad, _ = network
        first, again = check(grad, seed=5), check(grad, seed=5)
        assert str(first) == str(again)


# --- planted errors fail, at the right weight ---------------------------------------


class TestPlantedErrorsAreLocalized:
    @pytest.mark.parametrize(
        ("name", "factor"),
        [("W2_1_7", -1.0), ("W2_1_150", 1.001), ("b1_42", 1.001), ("W1_77_3", 1.001)],
        ids=["sign", "thousandth-output", "thousandth-bias", "thousandth-hidden"],
    )
    def test_one_wrong_weight_among_1201(self, network, name, factor):
        grad, params = network
        (weight,) = [p for p in params if p.name == name]
        report = check(planted(grad, weight, lambda rhs: sp.Float(factor) * rhs), seed=0)
        assert report.ok is False
        assert failed_weights(report) == [weight], report
        (row,) = [r for r in report.rows if not r.ok]
        analytic, numeric = numbers_of(row.worst)  # the planted factor, in the row's numbers
        assert analytic == pytest.approx(factor * numeric, rel=1e-4)
        assert "FAIL" in str(report) and str(weight) in str(report)
        assert any("localized" in note for note in report.notes)

    def test_a_wrong_delta_equation_names_the_true_partial(self, network):
        """δW1_5_2 = δv·x_3 instead of δv·x_2: the row names the right partial as numeric."""
        grad, params = network
        (weight,) = [p for p in params if p.name == "W1_5_2"]
        x2, x3 = sorted((s for s in grad.graph.leaves if s.name in ("x_2", "x_3")), key=str)
        wrong = planted(grad, weight, lambda rhs: rhs.xreplace({x2: x3}))
        assert wrong.equations != grad.equations
        report = check(wrong, seed=0)
        assert failed_weights(report) == [weight], report
        (row,) = [r for r in report.rows if not r.ok]
        analytic, numeric = numbers_of(row.worst)
        # oracles: the right gradient's and the wrong one's compiled partials at a checked point
        right, planted_fn, k = grad.lambdify(), wrong.lambdify(), params.index(weight)
        names = [a.name for a in right.args]
        for p in range(len(report.points["x_1"])):
            values = [report.points[n][p] for n in names]
            if right(*values)[1][k] == pytest.approx(numeric, rel=1e-6, abs=1e-12):
                assert planted_fn(*values)[1][k] == pytest.approx(analytic, rel=1e-12)
                break
        else:
            pytest.fail(f"the numeric value {numeric} is no point's right partial")

    def test_a_wrong_matrix_weight(self):
        steps, params = layers.as_assignments(layers.input_matrix(6, 5), [8, 1], "tanh")
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        weight = params[0]  # the first layer's weight matrix
        report = check(planted(grad, weight, lambda rhs: sp.Float(1.001) * rhs), seed=0)
        assert failed_weights(report) == [weight], report
        (row,) = [r for r in report.rows if not r.ok]
        assert row.rel_error == pytest.approx(1e-3, rel=1e-2)
