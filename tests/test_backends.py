"""The JAX and torch backends: the NumPy backend's numbers, on each library's arrays.

Oracles: the NumPy backend at random points (fixed seeds), kinks and stable
forms included; each library's own autodiff of the value (``jax.grad``,
``torch.autograd``); NumPy sums and means for ``reduce``.
"""

import sys

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError
from symgraph.rules.matfuncs import FrobeniusNorm, LogSumExp, RowLogSumExp, Softmax, SumEntries

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")
jnp = pytest.importorskip("jax.numpy")

BACKENDS = ["jax", "torch"]
w, b, x, y = sp.symbols("w b x y", real=True)
n = sp.Symbol("n", integer=True, positive=True)
W, A = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("A", 2, 2)
v, X = sp.MatrixSymbol("v", 3, 1), sp.MatrixSymbol("X", n, 3)

SCALAR = {
    "relu": sp.Max(0, w * x + b) ** 2,
    "abs and sign": sp.Abs(w * x - y) + sp.sign(w) * b,
    "heaviside and min": sp.Heaviside(w * x) * w + sp.Min(w, x, b),
    "piecewise": sp.Piecewise((w**2, w > 0), (sp.sqrt(-w), True)) * x + b,
    "piecewise and": sp.Piecewise((w * b, (w > 0) & (x > 0)), (b, w < -1), (0, True)),
    "sigmoid, softplus": sp.log(1 + sp.exp(-(w * x + b))) + 1 / (1 + sp.exp(-w * y)),
    "logsumexp": sp.log(sp.exp(w * x) + sp.exp(b * y) + sp.exp(w)),
    "softmax": sp.exp(w * x) / (sp.exp(w * x) + sp.exp(b)),
    "functions": sp.atan(w) + sp.cosh(b) + sp.log(1 + w**2) + sp.erf(w * x) + sp.gamma(b + 3),
}

MATRIX = {
    "logsumexp": (LogSumExp(W * v), [W]),
    "softmax": (SumEntries(sp.HadamardProduct(Softmax(W * v), Softmax(W * v))), [W]),
    "row logsumexp, norm": (SumEntries(RowLogSumExp(X * W.T)) + FrobeniusNorm(W), [W]),
    "det, inverse, power": (sp.Determinant(A) + sp.Trace(sp.Inverse(A)) + sp.Trace(A**3), [A]),
    "softplus entrywise": (SumEntries((W * v).applyfunc(lambda z: sp.log(1 + sp.exp(-z)))), [W]),
    "relu entrywise": (SumEntries((W * v).applyfunc(lambda z: sp.Max(z, 0))), [W]),
    "tanh layer": (SumEntries(sp.HadamardProduct((X * W.T).applyfunc(sp.tanh), X * W.T)), [W]),
}


def as_numpy(value):
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def assert_same(result, expected):
    (value, partials), (want, wants) = result, expected
    assert len(partials) == len(wants)
    for got, reference in [(value, want), *zip(partials, wants, strict=True)]:
        got = as_numpy(got)
        assert got.shape == np.shape(reference)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, reference, rtol=1e-9, atol=1e-12)


def assert_library_arrays(result, backend):
    kind = torch.Tensor if backend == "torch" else jax.Array
    value, partials = result
    assert all(isinstance(r, kind) for r in (value, *partials))


def compiled(grad, backend, **options):
    """The backend's function; JAX's under ``jax.jit`` (one compilation, not one an operation)."""
    g = grad.lambdify(backend=backend, **options)
    return jax.jit(g) if backend == "jax" else g


def matrix_values(f, seed=0, rows=4):
    rng = np.random.default_rng(seed)
    values = {}
    for s in f.args:
        shape = tuple(int(d) if d.is_Integer else rows for d in getattr(s, "shape", ()))
        values[s.name] = rng.uniform(-1, 1, shape) + (2 * np.eye(2) if s.name == "A" else 0)
    return values


@pytest.mark.parametrize("backend", BACKENDS)
class TestAgreesWithNumPy:
    @pytest.mark.parametrize("name", SCALAR)
    def test_scalar_graph_over_a_batch(self, backend, name):
        grad = sg.gradient(SCALAR[name], wrt=[w, b])
        f, g = grad.lambdify(), compiled(grad, backend)
        rng = np.random.default_rng(1)
        values = {s.name: rng.uniform(-2, 2, 9) for s in f.args}
        values["w"][:3] = [0.0, 1.0, -1.0]  # kinks: relu, Abs, sign, Heaviside at 0...
        result = g(**values)
        assert_same(result, f(**values))
        assert_library_arrays(result, backend)

    @pytest.mark.parametrize("name", MATRIX)
    def test_matrix_graph(self, backend, name):
        grad = sg.gradient(MATRIX[name][0], wrt=MATRIX[name][1])
        f, g = grad.lambdify(), compiled(grad, backend)
        values = matrix_values(f)
        result = g(**values)
        assert_same(result, f(**values))
        assert as_numpy(result[0]).shape == ()

    def test_stable_forms_stay_finite_at_large_arguments(self, backend):
        grad = sg.gradient(SCALAR["sigmoid, softplus"], wrt=[w, b])
        f, g = grad.lambdify(), compiled(grad, backend)
        values = dict(w=np.array([800.0, -800.0, 1.0]), b=np.array([-700.0, 700.0, 0.0]))
        values.update(x=np.array([1.0, 1.0, -900.0]), y=np.array([-1.0, 1.0, 900.0]))
        result = g(**values)
        assert all(np.isfinite(as_numpy(r)).all() for r in (result[0], *result[1]))
        assert_same(result, f(**values))

    def test_inputs_broadcast_and_constant_partials_take_their_shape(self, backend):
        grad = sg.gradient(3 * w + x * b + sp.sin(y), wrt=[w, b])
        f, g = grad.lambdify(), grad.lambdify(backend=backend)
        values = dict(x=np.arange(3.0).reshape(3, 1), y=0.5, w=np.linspace(0, 1, 4), b=2.0)
        result = g(**values)
        assert_same(result, f(**values))
        assert as_numpy(result[1][0]).shape == (3, 4)

    def test_scalars_give_zero_dimensional_arrays(self, backend):
        f = sg.gradient(w**2 * x, wrt=[w]).lambdify(backend=backend)
        value, (dw,) = f(3.0, 2.0)
        assert as_numpy(value).shape == () and float(value) == 12.0 and float(dw) == 12.0

    def test_the_batch_network_with_symbolic_sizes(self, backend):
        d, h = 3, 4
        X_, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("Y", n, 1)
        W1, b1, w2 = (
            sp.MatrixSymbol("W1", h, d),
            sp.MatrixSymbol("b1", h, 1),
            sp.MatrixSymbol("w2", h, 1),
        )
        R = (
            (X_ * W1.T + sp.OneMatrix(n, 1) * b1.T).applyfunc(sp.tanh) * w2
            + b * sp.OneMatrix(n, 1)
            - Y
        )
        grad = sg.gradient(SumEntries(sp.HadamardProduct(R, R)) / n, wrt=[W1, b1, w2, b])
        f, g = grad.lambdify(), compiled(grad, backend)
        values = matrix_values(f, seed=2, rows=6)
        values["b1"] = values["b1"].ravel()  # a flat vector for a column, as NumPy takes it
        values["b"] = 0.3
        assert_same(g(**values), f(**values))

    def test_calling_conventions_and_attributes(self, backend):
        grad = sg.gradient(sp.sin(w * x) + b * y, wrt=[w, b])
        f, g = grad.lambdify(), grad.lambdify(backend=backend)
        assert g.args == f.args and g.wrt == f.wrt == (w, b)
        assert "numpy.sin" in g.source and g.backend == backend
        assert_same(g(0.5, 2.0, 1.5, b=-1.0), f(0.5, 2.0, 1.5, -1.0))
        with pytest.raises(EvaluationError, match="w given both by position and by name"):
            g(0.5, 2.0, 1.5, w=1.0)
        with pytest.raises(EvaluationError, match="no value given for b"):
            g(x=1.0, y=1.0, w=1.0)

    def test_shapes_are_checked_as_numpy_checks_them(self, backend):
        f = sg.gradient(LogSumExp(W * v), wrt=[W]).lambdify(backend=backend)
        with pytest.raises(EvaluationError, match=r"W has shape \(2, 3\)"):
            f(v=np.ones((3, 1)), W=np.ones((3, 3)))

    @pytest.mark.parametrize("how", ["sum", "mean"])
    def test_reduce_over_the_batch(self, backend, how):
        grad = sg.gradient(sp.log(1 + sp.exp(w * x)) + 2 * b, wrt=[w, b])
        values = dict(x=np.linspace(-3, 3, 5).reshape(5, 1), w=np.array([0.5, -1.0]), b=1.0)
        value, partials = grad.lambdify()(**values)
        reduced = getattr(np, how)
        g = compiled(grad, backend, reduce=how)
        assert_same(g(**values), (reduced(value), tuple(reduced(p) for p in partials)))

    @pytest.mark.parametrize("how", ["sum", "mean"])
    def test_reduce_of_a_matrix_graph_is_refused(self, backend, how):
        grad = sg.gradient(LogSumExp(W * v), wrt=[W])
        with pytest.raises(GraphError, match="already one number"):
            grad.lambdify(backend=backend, reduce=how)

    def test_a_function_the_library_lacks_is_named_at_compile_time(self, backend):
        grad = sg.gradient(sp.besselj(0, w * x), wrt=[w])
        with pytest.raises(GraphError, match=rf"backend '{backend}' has no scipy.special.jv"):
            grad.lambdify(backend=backend)

    def test_workers_are_for_numpy(self, backend):
        with pytest.raises(GraphError, match="workers applies to the numpy backend"):
            sg.gradient(w * x, wrt=[w]).lambdify(backend=backend, workers=2)


@pytest.mark.parametrize(
    ("backend", "module", "message"),
    [
        ("jax", "jax", "backend 'jax' needs JAX: pip install 'symgraph[jax]'"),
        ("torch", "torch", "backend 'torch' needs PyTorch: pip install 'symgraph[torch]'"),
    ],
)
def test_a_missing_library_is_one_clear_line(monkeypatch, backend, module, message):
    monkeypatch.setitem(sys.modules, module, None)  # import then raises ImportError
    with pytest.raises(GraphError) as err:
        sg.gradient(w * x, wrt=[w]).lambdify(backend=backend)
    assert str(err.value) == message


class TestJax:
    def test_jit_and_vmap(self):
        grad = sg.gradient(sp.log(1 + sp.exp(-w * x)) + sp.Max(0, b * x), wrt=[w, b])
        f, g = grad.lambdify(), grad.lambdify(backend="jax")
        xs = np.linspace(-2, 2, 6)
        expected = f(x=xs, w=0.7, b=-1.3)
        assert_same(jax.jit(g)(x=xs, w=0.7, b=-1.3), expected)
        batched = jax.vmap(g, in_axes=(0, None, None))(jnp.asarray(xs), 0.7, -1.3)
        assert_same(batched, expected)

    def test_jit_of_a_matrix_graph_and_reduce(self):
        grad = sg.gradient(SumEntries(RowLogSumExp(X * W.T)), wrt=[W])
        f, g = grad.lambdify(), jax.jit(grad.lambdify(backend="jax"))
        values = matrix_values(f)
        assert_same(g(**values), f(**values))
        mean = jax.jit(sg.gradient(w * x**2, wrt=[w]).lambdify(backend="jax", reduce="mean"))
        value, (dw,) = mean(jnp.arange(4.0), 2.0)
        assert float(value) == 7.0 and float(dw) == 3.5

    def test_jax_grad_of_the_value_is_the_partial(self):
        g = sg.gradient(sp.tanh(w * x) * sp.exp(w), wrt=[w]).lambdify(backend="jax")
        at = dict(x=0.8, w=0.3)
        autodiff = jax.grad(lambda w_: g(x=at["x"], w=w_)[0])(at["w"])
        np.testing.assert_allclose(float(autodiff), float(g(**at)[1][0]), rtol=1e-12)


class TestTorch:
    def test_tensors_numbers_and_arrays_in_tensors_out(self):
        g = sg.gradient(w**2 * x + b, wrt=[w, b]).lambdify(backend="torch")
        for xs in (torch.arange(3.0, dtype=torch.float64), np.arange(3.0), [0.0, 1.0, 2.0]):
            value, (dw, db) = g(x=xs, w=2.0, b=torch.tensor(1.0, dtype=torch.float64))
            assert value.dtype == torch.float64 and dw.shape == db.shape == (3,)
            np.testing.assert_allclose(value.numpy(), [1.0, 5.0, 9.0])
            np.testing.assert_allclose(db.numpy(), 1.0)
        value, _ = g(x=torch.arange(3), w=2, b=1)  # integers become float64
        assert value.dtype == torch.float64

    def test_autograd_through_the_value_is_the_partial(self):
        g = sg.gradient(sp.tanh(w * x) * sp.exp(w), wrt=[w]).lambdify(backend="torch")
        weight = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        value, (dw,) = g(x=0.8, w=weight)
        (autodiff,) = torch.autograd.grad(value, weight)
        np.testing.assert_allclose(float(autodiff), float(dw.detach()), rtol=1e-12)

    def test_a_singular_matrix_is_an_evaluation_error(self):
        g = sg.gradient(sp.Trace(sp.Inverse(A)), wrt=[A]).lambdify(backend="torch")
        with pytest.raises(EvaluationError, match="invertible"):
            g(A=np.zeros((2, 2)))

    def test_row_wise_maxima_are_not_the_tensor_method(self):  # torch's .max(axis) has indices
        g = sg.gradient(SumEntries(RowLogSumExp(X * W.T)), wrt=[W]).lambdify(backend="torch")
        assert "numpy.amax(v, axis=1, keepdims=True)" in g.source and ".max(" not in g.source


def test_torch_fuses_the_tanh_derivative_and_numpy_does_not():
    """tanh'(Z) ⊙ G is one torch operation (kernels.tanh_backward); NumPy keeps the plain form."""
    loss = SumEntries((X * W.T).applyfunc(sp.tanh).applyfunc(sp.sin))
    grad = sg.gradient(loss, wrt=[W])
    f, g = grad.lambdify(), grad.lambdify(backend="torch")
    assert "kernels.tanh_backward(" in g.source
    assert "kernels" not in f.source
    values = matrix_values(f, seed=3, rows=50)
    assert_same(g(**values), f(**values))
    z = values["X"] @ values["W"].T  # by hand: d/dW Σ sin(tanh(XWᵀ)) = (cos(A) ⊙ (1 - A²))ᵀ X
    a = np.tanh(z)
    np.testing.assert_allclose(
        as_numpy(g(**values)[1][0]), (np.cos(a) * (1 - a**2)).T @ values["X"]
    )
