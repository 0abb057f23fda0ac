"""lambdify(reduce="sum" | "mean"): the loss over a batch, against summing per-point results.

The oracle is symgraph's own per-point ``grad.lambdify()`` (itself checked against
``sympy.diff`` in test_compile.py), summed or averaged with NumPy afterwards.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError
from symgraph.matfuncs import SumEntries

w, b, x, y, z = sp.symbols("w b x y z", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20261203)


def per_point(grad, values, reduce):
    """The oracle: per-point value and partials, summed (averaged) with NumPy."""
    value, partials = grad.lambdify()(**values)
    size = np.size(value)
    scale = 1.0 / size if reduce == "mean" else 1.0
    return np.sum(value) * scale, [np.sum(p) * scale for p in partials]


def assert_reduces(grad, values):
    for reduce in ("sum", "mean"):
        value, partials = grad.lambdify(reduce=reduce)(**values)
        expected_value, expected = per_point(grad, values, reduce)
        assert type(value) is float and all(type(p) is float for p in partials)
        assert np.allclose(value, expected_value, rtol=1e-12, atol=1e-12), reduce
        assert np.allclose(partials, expected, rtol=1e-12, atol=1e-12), reduce


def network(d=3, h=4):
    xs = sp.symbols(f"x1:{d + 1}", real=True)
    w1 = [[sp.Symbol(f"W_{j}_{i}", real=True) for i in range(d)] for j in range(h)]
    b1 = sp.symbols(f"c1:{h + 1}", real=True)
    w2 = sp.symbols(f"u1:{h + 1}", real=True)
    hidden = [
        sp.tanh(sum((wji * xi for wji, xi in zip(row, xs, strict=True)), bj))
        for row, bj in zip(w1, b1, strict=True)
    ]
    out = sum((uj * aj for uj, aj in zip(w2, hidden, strict=True)), b)
    weights = [v for row in w1 for v in row] + list(b1) + list(w2) + [b]
    return (out - y) ** 2, weights, xs


def network_values(rng, weights, xs, n):
    values = {
        s.name: float(v) for s, v in zip(weights, rng.standard_normal(len(weights)), strict=True)
    }
    values.update({s.name: rng.standard_normal(n) for s in xs})
    values["y"] = rng.standard_normal(n)
    return values


class TestAgainstPerPoint:
    def test_tanh_network(self, rng):
        loss, weights, xs = network()
        assert_reduces(sg.gradient(loss, wrt=weights), network_values(rng, weights, xs, 200))

    @settings(max_examples=15, deadline=None)
    @given(n=st.integers(1, 60), seed=st.integers(0, 2**16))
    def test_network_at_random_batches(self, n, seed):
        loss, weights, xs = network(2, 3)
        rng = np.random.default_rng(seed)
        assert_reduces(sg.gradient(loss, wrt=weights), network_values(rng, weights, xs, n))

    @pytest.mark.parametrize(
        "loss",
        [
            1 / (1 + sp.exp(-(w * x + b))) - y,
            sp.log(1 + sp.exp(w * x + b)) * y,
            sp.Max(0, w * x + b) * y,
            sp.Max(w * x, b) - y,
            sp.Piecewise((w * x, x > 0), (b * x**2, True)) * y,
            sp.Piecewise((sp.sqrt(w), w > 0), (b, True)) * x + y,
        ],
        ids=["sigmoid", "softplus", "relu", "max", "piecewise", "piecewise-weight"],
    )
    def test_kinks(self, loss, rng):
        xs = np.concatenate([rng.standard_normal(50), [0.0, 0.0]])
        values = {"x": xs, "y": rng.standard_normal(52), "w": 0.7, "b": -0.3}
        assert_reduces(sg.gradient(loss, wrt=[w, b]), values)

    def test_a_weight_only_term_counts_once_per_point(self, rng):
        grad = sg.gradient((w * x + b - y) ** 2 + 3 * w**2 + sp.exp(b), wrt=[w, b])
        values = {"x": rng.standard_normal(40), "y": rng.standard_normal(40), "w": 0.4, "b": 0.2}
        assert_reduces(grad, values)
        only_weights = sg.gradient(w**2 + b + sp.sin(x), wrt=[w, b]).lambdify(reduce="sum")
        assert only_weights(x=np.zeros(5), w=2.0, b=1.0) == (25.0, (20.0, 5.0))

    def test_data_as_plain_numbers(self, rng):
        grad = sg.gradient(sp.tanh(w * x + b) * y + w * z, wrt=[w, b])
        assert_reduces(grad, {"x": 0.5, "y": rng.standard_normal(7), "z": 2.0, "w": 0.3, "b": 1})
        assert_reduces(grad, {"x": 0.5, "y": -1.5, "z": 2.0, "w": 0.3, "b": 1.0})

    def test_broadcasting_data(self, rng):
        grad = sg.gradient((w * x + b - y) ** 2 + sp.sin(w * z), wrt=[w, b])
        values = {
            "x": rng.standard_normal((6, 1)),
            "y": rng.standard_normal((1, 5)),
            "z": rng.standard_normal((6, 5)),
            "w": 0.8,
            "b": -0.1,
        }
        assert_reduces(grad, values)

    def test_a_two_dimensional_batch(self, rng):
        grad = sg.gradient((w * x + b - y) ** 2, wrt=[w, b])
        values = {"x": rng.standard_normal((4, 3)), "y": rng.standard_normal((4, 3))}
        assert_reduces(grad, {**values, "w": 0.5, "b": 0.5})

    def test_a_batch_of_one(self, rng):
        loss, weights, xs = network(2, 2)
        assert_reduces(sg.gradient(loss, wrt=weights), network_values(rng, weights, xs, 1))

    def test_simplified_gradient(self, rng):
        grad = sg.gradient((sp.exp(w * x) - y) ** 2 + w * b * x, wrt=[w, b]).simplify()
        values = {"x": rng.standard_normal(30), "y": rng.standard_normal(30), "w": 0.2, "b": 1.5}
        assert_reduces(grad, values)

    def test_a_weight_in_many_places(self, rng):
        xs = sp.symbols("x1:41", real=True)
        loss = sum((sp.sin(w * xi) + b * xi - w * y) ** 2 for xi in xs) + w**3
        values = {s.name: rng.standard_normal(25) for s in xs}
        values.update(y=rng.standard_normal(25), w=0.6, b=-0.4)
        assert_reduces(sg.gradient(loss, wrt=[w, b]), values)

    def test_a_weight_the_loss_does_not_depend_on(self, rng):
        grad = sg.gradient((w * x - y) ** 2, wrt=[w, b])
        assert_reduces(grad, {"x": rng.standard_normal(9), "y": np.ones(9), "w": 1.0, "b": 2.0})


class TestTheCallable:
    grad = sg.gradient((w * x + b - y) ** 2, wrt=[w, b])

    def test_interface(self):
        f = self.grad.lambdify(reduce="mean")
        assert f.args == (x, y, w, b) and f.wrt == (w, b) and f.reduce == "mean"
        xs, ys = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 1.0])
        by_name = f(x=xs, y=ys, w=1.0, b=0.0)
        assert f(xs, ys, 1.0, 0.0) == by_name == f(xs, ys, b=0.0, w=1.0)
        assert by_name == (5 / 3, (16 / 3, 2.0))
        assert "mean" in repr(f) and "x, y, w, b" in repr(f)

    def test_inputs_are_checked_and_converted(self):
        f = self.grad.lambdify(reduce="sum")
        assert f(x=[1, 2], y=[0, 0], w=1, b=0) == (5.0, (10.0, 6.0))
        with pytest.raises(EvaluationError, match="x: expected a real number"):
            f(x="1", y=0.0, w=1.0, b=0.0)
        with pytest.raises(EvaluationError, match="no value given for b"):
            f(x=1.0, y=0.0, w=1.0)
        with pytest.raises(EvaluationError, match="both by position and by name"):
            f(1.0, x=1.0, y=0.0, w=1.0, b=0.0)

    def test_a_weight_must_be_one_number(self):
        f = self.grad.lambdify(reduce="sum")
        with pytest.raises(EvaluationError, match="w is a weight.*one number"):
            f(x=np.ones(3), y=np.ones(3), w=np.ones(3), b=0.0)

    def test_empty_batch(self):
        empty = {"x": np.zeros(0), "y": np.zeros(0), "w": 1.0, "b": 0.0}
        assert self.grad.lambdify(reduce="sum")(**empty) == (0.0, (0.0, 0.0))
        with pytest.raises(EvaluationError, match="empty batch"):
            self.grad.lambdify(reduce="mean")(**empty)

    def test_a_matrix_graph_is_refused(self):
        n, d = sp.symbols("n d", integer=True, positive=True)
        X, v, t = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("v", d, 1), sp.MatrixSymbol("t", n, 1)
        r = X * v - t
        grad = sg.gradient(SumEntries(sp.HadamardProduct(r, r)), wrt=[v])
        with pytest.raises(GraphError, match="a matrix graph's loss is already one number"):
            grad.lambdify(reduce="sum")

    def test_unknown_reduction(self):
        with pytest.raises(GraphError, match="unknown reduce 'max'"):
            self.grad.lambdify(reduce="max")


class TestFusedSource:
    def test_no_per_point_partial_is_formed(self):
        loss, weights, _ = network(3, 4)
        f = sg.gradient(loss, wrt=weights).lambdify(reduce="sum")
        returned = f.source[f.source.rindex("return") :]
        assert f.source.count(".T)") == 1  # δ_W = Σ δ_z·xᵀ, the 4×3 block in one product
        assert f.source.count(".sum(axis=1)") == 1  # δ_c = Σ δ_z, the four at once
        assert f.source.count("numpy.sum(") == 1 + 1  # δ_b = Σ δ_out; the value
        assert "numpy.sum(" in returned  # the value is summed where it is returned
        values = network_values(np.random.default_rng(1), weights, network(3, 4)[2], 100)
        _, partials = f(**values)
        assert all(type(p) is float for p in partials)

    def test_a_simplified_output_is_summed_in_its_own_line(self):
        grad = sg.gradient((w * x - y) ** 2, wrt=[w]).simplify()
        source = grad.lambdify(reduce="sum").source
        assert "numpy.dot" in source
