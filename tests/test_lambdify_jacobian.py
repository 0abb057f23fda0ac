"""sg.lambdify_jacobian and sg.lambdify_hessian against independent oracles.

Oracles: ``sympy.Matrix.jacobian`` and ``sympy.hessian`` lambdified, central
differences of plain NumPy, and ``sg.jacobian`` / ``sg.hessian`` evaluated by
SymPy's own arithmetic.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError

x, y, w, b, c = sp.symbols("x y w b c", real=True)


def by_name(fn, values):
    """``fn`` called by name with ``values`` keyed by symbol."""
    return fn(**{s.name: v for s, v in values.items()})


def sympy_matrix(matrix, point):
    """A SymPy matrix at a point (symbol -> float), by lambdify of each entry."""
    symbols = sorted(point, key=lambda s: s.name)
    fn = sp.lambdify(symbols, matrix, "numpy")
    return np.array(fn(*(point[s] for s in symbols)), dtype=float)


def central_jacobian(f, point, wrt, h=1e-6):
    """∂f_i/∂w_j by central differences; ``f(point) -> 1-D array``."""
    columns = []
    for v in wrt:
        up, down = dict(point), dict(point)
        up[v] += h
        down[v] -= h
        columns.append((np.asarray(f(up)) - np.asarray(f(down))) / (2 * h))
    return np.stack(columns, axis=-1)


def numpy_outputs(point):
    """The outputs of OUTPUTS, written again in NumPy."""
    xv, yv, wv, bv = (point[s] for s in (x, y, w, b))
    z = np.tanh(wv * xv + bv)
    return np.array([z * yv, z**2 + np.sin(wv * yv), np.exp(bv) * wv])


OUTPUTS = [sp.tanh(w * x + b) * y, sp.tanh(w * x + b) ** 2 + sp.sin(w * y), sp.exp(b) * w]
POINTS = [{x: 0.3, y: -1.2, w: 0.7, b: 0.1}, {x: -1.5, y: 0.4, w: -0.2, b: 0.9}]


class TestLambdifyJacobian:
    @pytest.mark.parametrize("point", POINTS)
    def test_scalar_outputs_agree_with_sympy_and_sg_jacobian(self, point):
        J = sg.lambdify_jacobian(OUTPUTS, [w, b, x])
        got = by_name(J, point)
        assert got.shape == (3, 3)
        expected = sympy_matrix(sp.Matrix(OUTPUTS).jacobian([w, b, x]), point)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
        closed = sympy_matrix(sg.jacobian(OUTPUTS, [w, b, x]), point)
        np.testing.assert_allclose(got, closed, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("point", POINTS)
    def test_agrees_with_central_differences(self, point):
        J = sg.lambdify_jacobian(OUTPUTS, [w, b, x])
        numeric = central_jacobian(numpy_outputs, point, [w, b, x])
        np.testing.assert_allclose(by_name(J, point), numeric, rtol=1e-6, atol=1e-8)

    @pytest.mark.parametrize("shape", [(3, 1), (1, 3)], ids=["column", "row"])
    def test_a_matrix_of_outputs(self, shape):
        J = sg.lambdify_jacobian(sp.Matrix(*shape, OUTPUTS), [w, b])
        point = POINTS[0]
        expected = sympy_matrix(sp.Matrix(OUTPUTS).jacobian([w, b]), point)
        np.testing.assert_allclose(by_name(J, point), expected, rtol=1e-12, atol=1e-12)

    def test_one_expression_is_one_row(self):
        J = sg.lambdify_jacobian(w**2 * x, [w, x])
        np.testing.assert_allclose(J(w=3.0, x=2.0), [[12.0, 9.0]])

    def test_arguments_inputs_by_name_then_weights(self):
        J = sg.lambdify_jacobian(OUTPUTS, [w, b])
        assert J.args == (x, y, w, b)
        assert J.wrt == (w, b)
        point = POINTS[1]
        positional = J(*(point[s] for s in J.args))
        np.testing.assert_array_equal(positional, by_name(J, point))

    def test_constant_outputs_leaf_outputs_and_unused_weights(self):
        J = sg.lambdify_jacobian([sp.Integer(3), w, x, w * x], [w, b])
        np.testing.assert_array_equal(J(w=2.0, x=5.0, b=1.0), [[0, 0], [1, 0], [0, 0], [5, 0]])

    def test_vectorized_over_points(self):
        J = sg.lambdify_jacobian(OUTPUTS, [w, b])
        xs = np.linspace(-1, 1, 5)
        ys = np.linspace(0.5, 2, 4)[:, None]
        got = J(x=xs, y=ys, w=0.3, b=-0.4)
        assert got.shape == (4, 5, 3, 2)
        for i in range(4):
            for j in range(5):
                single = J(x=xs[j], y=ys[i, 0], w=0.3, b=-0.4)
                np.testing.assert_allclose(got[i, j], single, rtol=1e-14)

    def test_shared_subexpressions_are_computed_once(self):
        """tanh(w*x + b) feeds two outputs; one forward line, whatever the passes."""
        J = sg.lambdify_jacobian(OUTPUTS[:2], [w, b])
        assert J.source.count("numpy.tanh") == 1

    def test_matrix_weights_give_their_entries_row_major(self):
        W = sp.MatrixSymbol("W", 2, 3)
        xv = sp.MatrixSymbol("xv", 3, 1)
        out = (W * xv).applyfunc(sp.tanh)
        J = sg.lambdify_jacobian(out, [W, xv])
        assert J.shape == (2, 9)
        rng = np.random.default_rng(1)
        Wv, xval = rng.normal(size=(2, 3)), rng.normal(size=(3, 1))
        got = J(W=Wv, xv=xval)
        entries = {W[i, j]: Wv[i, j] for i in range(2) for j in range(3)}
        entries.update({xv[i, 0]: xval[i, 0] for i in range(3)})
        closed = np.array(sg.jacobian(out, [W, xv]).xreplace(entries).evalf(), dtype=float)
        np.testing.assert_allclose(got, closed, rtol=1e-12)

        def outputs(flat):  # the same map in NumPy, from W's entries row-major then x's
            return np.tanh(flat[:6].reshape(2, 3) @ flat[6:]).ravel()

        flat = np.concatenate([Wv.ravel(), xval.ravel()])
        point = dict(enumerate(flat))
        numeric = central_jacobian(lambda p: outputs(np.array(list(p.values()))), point, range(9))
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-9)

    def test_behind_a_piecewise_the_branch_not_taken_leaks_no_nan(self):
        e = sp.Piecewise((sp.sqrt(w), w > 0), (w**2, True))
        J = sg.lambdify_jacobian([e, e * x], [w, x])
        got = J(w=np.array([-1.0, 4.0]), x=2.0)
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got[0], [[-2.0, 0.0], [-4.0, 1.0]])
        np.testing.assert_allclose(got[1], [[0.25, 0.0], [0.5, 2.0]])

    def test_an_n_link_pendulum_agrees_with_sympy(self):
        from sympy.physics.mechanics import models

        kane = models.n_link_pendulum_on_cart(1, cart_force=False)
        states = list(kane.q.col_join(kane.u))
        plain = [sp.Symbol(f.func.__name__, real=True) for f in states]
        as_symbols = dict(zip(states, plain, strict=True))
        rhs = kane.mass_matrix_full.LUsolve(kane.forcing_full).xreplace(as_symbols)
        J = sg.lambdify_jacobian(rhs, plain)
        rng = np.random.default_rng(2)
        point = {s: rng.uniform(0.5, 1.5) for s in J.args}
        expected = sympy_matrix(rhs.jacobian(plain), point)
        np.testing.assert_allclose(by_name(J, point), expected, rtol=1e-10, atol=1e-12)

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.floats(-2, 2), min_size=4, max_size=4))
    def test_any_point_agrees_with_sympy(self, values):
        point = dict(zip((x, y, w, b), values, strict=True))
        J = sg.lambdify_jacobian(OUTPUTS, [w, b, x, y])
        expected = sympy_matrix(sp.Matrix(OUTPUTS).jacobian([w, b, x, y]), point)
        np.testing.assert_allclose(by_name(J, point), expected, rtol=1e-10, atol=1e-12)


LOSS = sp.log(1 + sp.exp(-y * (w * x + b))) + c * w**2 * sp.sin(b)


class TestLambdifyHessian:
    @pytest.mark.parametrize("point", [{**p, c: 0.5} for p in POINTS])
    def test_symmetric_and_equal_to_sympy_hessian(self, point):
        H = sg.lambdify_hessian(LOSS, [w, b])
        got = by_name(H, point)
        np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-14)
        expected = sympy_matrix(sp.hessian(LOSS, [w, b]), point)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
        closed = sympy_matrix(sg.hessian(LOSS, [w, b]), point)
        np.testing.assert_allclose(got, closed, rtol=1e-12, atol=1e-14)

    def test_agrees_with_central_differences_of_the_gradient(self):
        point = {**POINTS[0], c: 0.5}

        def gradient(p):  # the gradient in NumPy, by hand
            xv, yv, wv, bv, cv = (p[s] for s in (x, y, w, b, c))
            s = -yv / (1 + np.exp(yv * (wv * xv + bv)))
            return np.array([s * xv + 2 * cv * wv * np.sin(bv), s + cv * wv**2 * np.cos(bv)])

        H = sg.lambdify_hessian(LOSS, [w, b])
        numeric = central_jacobian(gradient, point, [w, b])
        np.testing.assert_allclose(by_name(H, point), numeric, rtol=1e-6, atol=1e-9)

    def test_vectorized_over_points(self):
        H = sg.lambdify_hessian(LOSS, [w, b, x])
        xs = np.linspace(-1, 1, 6)
        got = H(x=xs, y=0.5, w=0.3, b=-0.4, c=2.0)
        assert got.shape == (6, 3, 3)
        for j in range(6):
            np.testing.assert_allclose(got[j], H(2.0, 0.5, 0.3, -0.4, xs[j]), rtol=1e-14)
        np.testing.assert_allclose(got, np.swapaxes(got, -1, -2), rtol=1e-12, atol=1e-14)

    def test_matrix_weight_over_its_entries(self):
        W = sp.MatrixSymbol("W", 2, 3)
        xv, yv = sp.MatrixSymbol("xv", 3, 1), sp.MatrixSymbol("yv", 2, 1)
        r = (W * xv).applyfunc(sp.tanh) - yv
        loss = sp.Trace(r.T * r)
        H = sg.lambdify_hessian(loss, [W])
        rng = np.random.default_rng(3)
        Wv, xval, yval = rng.normal(size=(2, 3)), rng.normal(size=(3, 1)), rng.normal(size=(2, 1))
        got = H(W=Wv, xv=xval, yv=yval)
        assert got.shape == (6, 6)
        np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-14)

        def gradient(flat):  # ∂L/∂W in NumPy, row-major
            z = np.tanh(flat.reshape(2, 3) @ xval)
            return (2 * (z - yval) * (1 - z**2) @ xval.T).ravel()

        point = dict(enumerate(Wv.ravel()))
        numeric = central_jacobian(lambda p: gradient(np.array(list(p.values()))), point, range(6))
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-9)

    def test_refusals_are_graph_errors(self):
        with pytest.raises(GraphError):
            sg.lambdify_hessian([w, b], [w])
        with pytest.raises(GraphError):
            sg.lambdify_hessian(w * b, [])
        with pytest.raises(GraphError):
            sg.lambdify_jacobian([w * b], [w, w])


class TestArgumentErrors:
    @pytest.fixture(params=["jacobian", "hessian"])
    def f(self, request):
        if request.param == "jacobian":
            return sg.lambdify_jacobian([w * x + b, w * b], [w, b])
        return sg.lambdify_hessian(w**2 * x + b * w, [w, b])

    @pytest.mark.parametrize(
        "args, kwargs, words",
        [
            ((1.0, 2.0, 3.0, 4.0), {}, ["at most 3", "4"]),
            ((1.0,), {"x": 1.0, "w": 1.0, "b": 1.0}, ["x", "both"]),
            ((1.0, 2.0), {}, ["b"]),
            ((), {"x": 1.0, "w": 1.0}, ["no value", "b"]),
            ((), {"x": 1.0, "w": 1.0, "b": 1.0, "q": 2.0}, ["unknown", "q"]),
            ((), {"x": np.zeros(3), "w": np.zeros(2), "b": 1.0}, ["shape"]),
            ((), {"x": "one", "w": 1.0, "b": 1.0}, ["x"]),
        ],
        ids=["too-many", "given-twice", "positional", "missing", "unknown", "shapes", "text"],
    )
    def test_one_line_evaluation_errors(self, f, args, kwargs, words):
        with pytest.raises(EvaluationError) as info:
            f(*args, **kwargs)
        message = str(info.value)
        assert "\n" not in message
        for word in words:
            assert word in message

    def test_matrix_arguments_of_the_wrong_shape(self):
        W = sp.MatrixSymbol("W", 2, 2)
        J = sg.lambdify_jacobian(W * sp.MatrixSymbol("v", 2, 1), [W])
        with pytest.raises(EvaluationError, match="shape"):
            J(W=np.eye(3), v=np.ones(2))
