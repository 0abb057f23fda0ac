"""f.objective(**data): fun(theta) -> (value, gradient) for scipy.optimize, over flat weights."""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import check_grad, minimize

import symgraph as sg
from symgraph.errors import EvaluationError
from symgraph.matfuncs import SumEntries

w, b, c, x, y = sp.symbols("w b c x y", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20261204)


class TestFits:
    def test_a_regression_recovers_its_weights(self, rng):
        xs = rng.uniform(-2, 2, 200)
        ys = 1.5 * np.tanh(0.8 * xs) - 0.5 + 1e-3 * rng.standard_normal(200)
        model = c * sp.tanh(w * x) + b
        f = sg.gradient((model - y) ** 2, wrt=[w, c, b]).lambdify(reduce="mean")
        fun = f.objective(x=xs, y=ys)
        result = minimize(fun, np.array([0.3, 1.0, 0.0]), jac=True, method="BFGS")
        assert result.success
        assert np.allclose(result.x, [0.8, 1.5, -0.5], atol=1e-2)
        assert fun.unpack(result.x).keys() == {"w", "c", "b"}

    def test_a_matrix_model(self, rng):
        n, d = sp.symbols("n d", integer=True, positive=True)
        X, W, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("W", d, 2), sp.MatrixSymbol("Y", n, 2)
        r = X * W - Y
        f = sg.gradient(SumEntries(sp.HadamardProduct(r, r)) / 2, wrt=[W]).lambdify()
        true_w = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]])
        data = rng.standard_normal((50, 3))
        fun = f.objective(X=data, Y=data @ true_w)
        assert fun.layout == (("W", 0, (3, 2)),) and fun.size == 6
        result = minimize(fun, np.zeros(fun.size), jac=True, method="BFGS")
        assert result.success
        assert np.allclose(fun.unpack(result.x)["W"], true_w, atol=1e-5)

    def test_a_scalar_graph_at_one_point(self):
        fun = sg.gradient((w - 3) ** 2 + (b + 1) ** 2, wrt=[w, b]).lambdify().objective()
        result = minimize(fun, np.zeros(2), jac=True, method="BFGS")
        assert np.allclose(result.x, [3.0, -1.0])


class TestLayout:
    def test_pack_unpack_round_trip(self, rng):
        h, d = 2, 3
        X, W, v = sp.MatrixSymbol("X", 4, d), sp.MatrixSymbol("W", d, h), sp.MatrixSymbol("v", h, 1)
        loss = SumEntries(X * W * v) * c
        f = sg.gradient(loss, wrt=[W, c, v]).lambdify()
        fun = f.objective(X=rng.standard_normal((4, d)))
        assert [s.offset for s in fun.layout] == [0, 6, 7] and fun.size == 9
        values = {"W": rng.standard_normal((d, h)), "c": 0.5, "v": rng.standard_normal((h, 1))}
        theta = fun.pack(values)
        assert np.array_equal(theta[:6], values["W"].ravel())  # row by row
        back = fun.unpack(theta)
        assert back["c"] == 0.5 and all(np.array_equal(back[k], values[k]) for k in "Wv")
        assert np.array_equal(fun.pack({W: back["W"], c: 0.5, "v": back["v"]}), theta)
        assert "W (3, 2)" in repr(fun) and "theta[9]" in repr(fun)

    def test_the_gradient_agrees_with_finite_differences(self, rng):
        xs, ys = rng.standard_normal(30), rng.standard_normal(30)
        grad = sg.gradient(sp.log(1 + sp.exp(w * x + b)) - y * (w * x + b) + c**2, wrt=[w, b, c])
        fun = grad.lambdify(reduce="sum").objective(x=xs, y=ys)
        for theta in rng.standard_normal((3, 3)):
            error = check_grad(lambda t: fun(t)[0], lambda t: fun(t)[1], theta)
            assert error < 1e-5 * max(1.0, np.linalg.norm(fun(theta)[1]))

    def test_the_value_is_a_float_and_the_gradient_flat(self):
        fun = sg.gradient((w * x - y) ** 2, wrt=[w]).lambdify(reduce="sum").objective(x=[1, 2], y=0)
        value, gradient = fun(np.array([1.0]))
        assert (value, gradient.tolist()) == (5.0, [10.0])
        assert type(value) is float and gradient.dtype == float


class TestRefused:
    f = sg.gradient((w * x + b - y) ** 2, wrt=[w, b]).lambdify(reduce="sum")

    @pytest.mark.parametrize(
        "data, message",
        [
            ({"x": 1.0}, "missing: y"),
            ({"x": 1.0, "y": 2.0, "z": 3.0}, "unknown: z"),
            ({"x": 1.0, "y": 2.0, "w": 3.0}, r"weights \(theta holds them\): w"),
            ({"x": "1", "y": 2.0}, "x: expected a real number"),
        ],
    )
    def test_bad_data(self, data, message):
        with pytest.raises(EvaluationError, match=message):
            self.f.objective(**data)

    def test_an_array_value_needs_a_reduction(self):
        f = sg.gradient((w * x + b - y) ** 2, wrt=[w, b]).lambdify()
        with pytest.raises(EvaluationError, match=r"array of shape \(3,\).*reduce='sum'"):
            f.objective(x=np.ones(3), y=np.ones(3))
        assert f.objective(x=1.0, y=2.0)(np.zeros(2))[0] == 4.0

    def test_theta_of_the_wrong_length(self):
        fun = self.f.objective(x=1.0, y=2.0)
        with pytest.raises(EvaluationError, match="flat vector of 2 numbers"):
            fun(np.zeros(3))
        with pytest.raises(EvaluationError, match="missing: b"):
            fun.pack({"w": 1.0})

    def test_a_weight_size_no_data_fixes(self):
        n = sp.Symbol("n", integer=True, positive=True)
        W, X = sp.MatrixSymbol("W", n, 1), sp.MatrixSymbol("X", 2, 2)
        f = sg.gradient(SumEntries(W) * SumEntries(X), wrt=[W]).lambdify()
        with pytest.raises(EvaluationError, match="the size n of the weight W"):
            f.objective(X=np.ones((2, 2)))
