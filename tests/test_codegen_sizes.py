"""Generated code whose lines stay short however large the graph grows.

A weight used in thousands of places gives a δ-sum of thousands of terms, a
wide loss gives a forward sum as wide; written on one line, Python's own
compiler overflows its recursion limit.  The oracles are hand-written NumPy
(a sum, and backpropagation through time in a loop) and plain Python floats
added in the printed order; the property asserted on the code is a bound on
the length of every line of ``f.source``.
"""

import functools
import operator

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from test_matrix_deep import matrix_chain

import symgraph as sg
from symgraph.numeric.chunks import CHARACTERS, LONG_TERM, WIDTH
from symgraph.numeric.codegen import make_function
from symgraph.numeric.compile import values_at
from symgraph.numeric.stable_forms import LogAddExp
from symgraph.rules.matfuncs import SumEntries

LINE_BOUND = CHARACTERS + LONG_TERM + 100  # a chunk, one more term, the name it goes to

w, b, t = sp.symbols("w b t", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20261202)


def assert_lines_bounded(source: str) -> None:
    """Every line is short, and joins a bounded number of terms, items or factors."""
    longest = max(source.splitlines(), key=len)
    assert len(longest) < LINE_BOUND, longest[:200]
    for line in source.splitlines():
        assert max(line.count(joint) for joint in ("+", " - ", ",")) <= WIDTH + 1, line[:200]
        # a term of a chunk may be a node's small product (δ·(1 - h²)·h): a few factors each
        assert line.count("*") <= 4 * (WIDTH + 1), line[:200]


def sum_of_sines(n: int):
    xs = sp.symbols(f"x0:{n}", real=True)
    return sg.gradient(sp.Add(*[sp.sin(w * x) for x in xs]), wrt=[w]), xs


def tied_tanh_recurrence(n: int):
    """``h_t = tanh(w·h_{t-1} + b + x_t)`` from ``h_0 = x_0``, ``L = Σ_t h_t``."""
    xs = sp.symbols(f"x0:{n + 1}", real=True)
    hs = sp.symbols(f"h1:{n + 1}", real=True)
    steps, previous = [], xs[0]
    for h, x in zip(hs, xs[1:], strict=True):
        steps.append((h, sp.tanh(w * previous + b + x)))
        previous = h
    steps.append((sp.Symbol("L", real=True), sp.Add(*hs)))
    return sg.Graph.from_assignments(steps, wrt=[w, b]).backward(), xs


def backpropagation_through_time(xs, w_, b_):
    """Value and (∂L/∂w, ∂L/∂b) of :func:`tied_tanh_recurrence`, in a NumPy loop."""
    hs = [xs[0]]
    for x in xs[1:]:
        hs.append(np.tanh(w_ * hs[-1] + b_ + x))
    dw = db = carried = 0.0
    for k in range(len(xs) - 1, 0, -1):
        dz = (carried + 1.0) * (1.0 - hs[k] ** 2)  # δ_h = 1 from L, plus what h_{k+1} sends back
        dw, db, carried = dw + dz * hs[k - 1], db + dz, dz * w_
    return sum(hs[1:]), dw, db


class TestWideGradients:
    def test_a_weight_in_3000_places_compiles_and_agrees_with_numpy(self, rng):
        grad, xs = sum_of_sines(3000)
        f = grad.lambdify()
        x_values, w_value = rng.normal(size=(len(xs), 2)), 0.7  # a batch of two points
        value, (dw,) = f(*x_values, w_value)
        np.testing.assert_allclose(value, np.sin(w_value * x_values).sum(axis=0), rtol=1e-12)
        expected = (x_values * np.cos(w_value * x_values)).sum(axis=0)
        np.testing.assert_allclose(dw, expected, rtol=1e-12)
        assert_lines_bounded(f.source)

    def test_a_tied_tanh_recurrence_agrees_with_backpropagation_through_time(self, rng):
        grad, xs = tied_tanh_recurrence(1500)
        f = grad.lambdify()
        assert f.args == (*sorted(xs, key=lambda s: s.name), w, b)
        x_values = dict(zip(xs, rng.normal(scale=0.5, size=(len(xs), 3)), strict=True))
        value, (dw, db) = f(**{s.name: v for s, v in x_values.items()}, w=0.9, b=-0.1)
        expected = backpropagation_through_time([x_values[s] for s in xs], 0.9, -0.1)
        np.testing.assert_allclose([value, dw, db], expected, rtol=1e-10)
        assert_lines_bounded(f.source)

    def test_many_weights_return_many_partials(self, rng):
        n = 300
        cs, xs = sp.symbols(f"c0:{n}", real=True), sp.symbols(f"x0:{n}", real=True)
        grad = sg.gradient(sp.Add(*[c * sp.sin(x) for c, x in zip(cs, xs, strict=True)]), cs)
        f = grad.lambdify()
        c_values, x_values = rng.normal(size=n), rng.normal(size=n)
        value, partials = f(
            **dict(zip(map(str, cs), c_values, strict=True)),
            **dict(zip(map(str, xs), x_values, strict=True)),
        )
        np.testing.assert_allclose(value, c_values @ np.sin(x_values), rtol=1e-12)
        np.testing.assert_allclose(partials, np.sin(x_values), rtol=1e-12)
        assert_lines_bounded(f.source)

    def test_every_node_value_of_a_wide_graph(self, rng):
        grad, xs = sum_of_sines(200)
        x_values = rng.normal(size=len(xs))
        forward, delta = values_at(grad, {**dict(zip(xs, x_values, strict=True)), w: 0.3})
        assert float(forward[grad.output]) == pytest.approx(np.sin(0.3 * x_values).sum())
        assert float(delta[w]) == pytest.approx((x_values * np.cos(0.3 * x_values)).sum())

    def test_the_check_passes_on_a_wide_graph(self):
        grad, _ = sum_of_sines(300)
        assert sg.check(grad).ok


class TestWideLines:
    """``make_function`` on one wide expression: bounded lines, the same arithmetic."""

    @pytest.fixture
    def xs(self):
        return sp.symbols(f"x0:{3 * WIDTH + 5}", real=True)

    def test_a_wide_sum_adds_in_the_printed_order(self, xs, rng):
        total = sp.Add(*xs)
        f = make_function([(t, total)], xs, [t])
        scales = 10.0 ** rng.integers(-8, 8, len(xs))  # rounding differs if regrouped
        values = dict(zip(xs, rng.normal(size=len(xs)) * scales, strict=True))
        by_hand = functools.reduce(operator.add, (values[a] for a in total.args))
        assert f(*(values[x] for x in xs))[0] == by_hand  # bit for bit: no reassociation
        assert len(f.source.splitlines()) > 4
        assert_lines_bounded(f.source)

    def test_a_wide_product_with_a_sign(self, xs, rng):
        f = make_function([(t, -sp.Mul(*xs))], xs, [t])
        values = 1 + rng.uniform(-0.01, 0.01, size=len(xs))
        np.testing.assert_allclose(f(*values)[0], -np.prod(values), rtol=1e-13)
        assert_lines_bounded(f.source)

    def test_wide_max_and_min(self, xs, rng):
        f = make_function([], xs, [sp.Max(*xs, evaluate=False), sp.Min(*xs, evaluate=False)])
        values = rng.normal(size=len(xs))
        assert f(*values) == (values.max(), values.min())
        assert_lines_bounded(f.source)

    def test_a_wide_log_sum_exp_in_its_stable_form(self, xs, rng):
        f = make_function([], xs, [LogAddExp(*xs)])
        values = rng.normal(size=len(xs)) * 1000.0  # exp overflows: only the stable form holds
        expected = values.max() + np.log(np.exp(values - values.max()).sum())
        np.testing.assert_allclose(f(*values)[0], expected, rtol=1e-12)
        assert_lines_bounded(f.source)

    def test_a_wide_sum_inside_a_function_and_a_piecewise(self, xs, rng):
        y = sp.Symbol("y", real=True)
        body = sp.Piecewise((sp.sin(sp.Add(*xs)), y > 0), (sp.Add(*xs[:-1]) + 1, True))
        f = make_function([(t, body)], [*xs, y], [t])
        values = rng.normal(size=len(xs))
        np.testing.assert_allclose(f(*values, 1.0)[0], np.sin(values.sum()), rtol=1e-12)
        np.testing.assert_allclose(f(*values, -1.0)[0], values[:-1].sum() + 1, rtol=1e-12)
        assert_lines_bounded(f.source)

    def test_wide_matrix_sums_and_hadamard_products(self, rng):
        ws = [sp.MatrixSymbol(f"W{k}", 2, 3) for k in range(2 * WIDTH + 1)]
        values = [1 + rng.uniform(-0.1, 0.1, size=(2, 3)) for _ in ws]
        out = sp.MatrixSymbol("M", 2, 3)
        f = make_function([(out, sp.MatAdd(*ws))], ws, [out])
        np.testing.assert_allclose(f(*values)[0], sum(values), rtol=1e-13)
        g = make_function([(out, sp.HadamardProduct(*ws))], ws, [out])
        np.testing.assert_allclose(g(*values)[0], np.prod(values, axis=0), rtol=1e-13)
        assert_lines_bounded(f.source + "\n" + g.source)

    def test_a_wide_sum_of_a_lambda_variable_stays_inside_the_lambda(self):
        q, X, out = sp.Dummy("q"), sp.MatrixSymbol("X", 2, 2), sp.MatrixSymbol("M", 2, 2)
        series = sp.Lambda(q, sp.Add(*[q**k for k in range(1, WIDTH + 9)]))
        f = make_function([(out, ElementwiseApplyFunction(series, X))], [X], [out])
        expected = sum(0.5**k for k in range(1, WIDTH + 9))
        np.testing.assert_allclose(f(np.full((2, 2), 0.5))[0], expected, rtol=1e-14)

    def test_many_inputs_and_outputs_keep_the_calling_convention(self, xs, rng):
        f = make_function([], xs, [2 * x for x in xs])
        values = rng.normal(size=len(xs))
        assert f.inputs == tuple(xs)
        assert f.source.splitlines()[0] == f"def generated(*a{len(xs)}):"
        result = f(*values)
        assert isinstance(result, tuple)
        np.testing.assert_array_equal(result, 2 * values)
        with pytest.raises(ValueError):
            f(*values[:-1])
        assert_lines_bounded(f.source)

    def test_small_functions_print_as_before(self):
        x = sp.Symbol("x")
        f = make_function([(t, sp.sin(x) + x)], [x], [t, 2 * t])
        assert (
            f.source == "def generated(a0):\n    t1 = (a0 + numpy.sin(a0))\n    return (t1, (2*t1))"
        )


class TestNoNestedScopes:
    """Python compiles a function in time proportional to its lambdas times its local
    names: entrywise functions and stable forms are printed on named lines instead."""

    def test_entrywise_functions_and_stable_forms_bind_no_lambda(self, rng):
        X, W = sp.MatrixSymbol("X", 3, 5), sp.MatrixSymbol("W", 3, 3)
        layer = (W * X).applyfunc(sp.tanh).applyfunc(lambda z: sp.log(1 + sp.exp(-z)))
        grad = sg.gradient(SumEntries(layer), wrt=[W])
        f = grad.lambdify()
        assert "lambda" not in f.source
        x, w_ = rng.normal(size=(3, 5)), rng.normal(size=(3, 3))
        a = np.tanh(w_ @ x)  # by hand: d/dW Σ softplus(-tanh(WX)) = (-σ(-A) ⊙ (1 - A²)) Xᵀ
        by_hand = (-1 / (1 + np.exp(a)) * (1 - a**2)) @ x.T
        np.testing.assert_allclose(f(X=x, W=w_)[1][0], by_hand, rtol=1e-12)

        # the stable pass writes these as Softplus, Logistic and LogAddExp
        scalar = (
            sp.log(1 + sp.exp(-w * t))
            + 1 / (1 + sp.exp(-w))
            + sp.log(sp.exp(w) + sp.exp(b) + sp.exp(t))
        )
        g = sg.gradient(scalar, wrt=[w, b]).lambdify()
        assert "lambda" not in g.source
        assert "numpy.maximum" in g.source and "numpy.log1p" in g.source  # the stable forms
        ws = rng.normal(size=7)
        expected = sp.lambdify((w, b, t), sp.diff(scalar, w))(ws, 0.3, 1.1)
        np.testing.assert_allclose(g(w=ws, b=0.3, t=1.1)[1][0], expected, rtol=1e-12)

    def test_a_named_step_reuses_its_own_value_in_its_derivative(self):
        """A_k = tanh(W_k A_{k-1}) as one step: tanh' is 1 - A_k², never tanh(W_k A_{k-1}) again."""
        steps, Ws = matrix_chain(3)
        f = sg.Graph.from_assignments(steps, wrt=Ws).backward().lambdify()
        assert f.source.count("numpy.tanh(") == len(Ws)
        assert f.source.count("@") == len(Ws) + 2 * len(Ws) - 1  # forward, and δ·Aᵀ, Wᵀ·δ
