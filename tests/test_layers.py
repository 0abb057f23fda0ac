"""Layers over a batch: the matrix network against the scalar core, finite differences, refusals.

Oracles: the same network built from scalars by ``symgraph.nn`` (summed over
the batch with ``nn.batch_loss``), and central differences of the compiled
loss, entry by entry.  Nothing is hard-coded but the conventions themselves.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph import layers, nn
from symgraph.core.adjoint import adjoint_of
from symgraph.errors import GraphError
from symgraph.rules.matfuncs import SumEntries

n_, d_, h_ = sp.symbols("n d h", integer=True, positive=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20240602)


# --- the two sides ---


def random_arrays(rng, n, d, widths, loss="squared_error"):
    """A batch, its targets and weights (``W{l}`` out × in, ``b{l}`` out × 1) by name."""
    k = widths[-1]
    arrays = {"X": rng.uniform(-1.5, 1.5, (n, d))}
    if loss == "binary_cross_entropy":
        arrays["Y"] = rng.integers(0, 2, (n, k)).astype(float)
    elif loss == "softmax_cross_entropy":
        arrays["Y"] = np.eye(k)[rng.integers(0, k, n)]
    else:
        arrays["Y"] = rng.uniform(-1.0, 1.0, (n, k))
    previous = d
    for layer, width in enumerate(widths, start=1):
        arrays[f"W{layer}"] = rng.uniform(-1.0, 1.0, (width, previous))
        arrays[f"b{layer}"] = rng.uniform(-0.5, 0.5, (width, 1))
        previous = width
    return arrays


def scalar_names(name: str, array: np.ndarray) -> dict[str, float]:
    """One matrix's entries under symgraph.nn's names: x_s_i, y_s_j, W1_j_k, b1_j."""
    rows, cols = array.shape
    if name in ("X", "Y"):
        base = name.lower()
        return {f"{base}_{s + 1}_{i + 1}": array[s, i] for s in range(rows) for i in range(cols)}
    if name.startswith("b"):
        return {f"{name}_{j + 1}": array[j, 0] for j in range(rows)}
    return {f"{name}_{j + 1}_{k + 1}": array[j, k] for j in range(rows) for k in range(cols)}


def scalar_side(arrays, widths, activations, loss, reduction):
    """Value and partials (by scalar name) of the network built from scalars by sg.nn."""
    n, d = arrays["X"].shape

    def sample(xs, ys):
        return nn.as_expression(xs, widths, activations, loss, targets=ys)[0]

    total, _, _ = nn.batch_loss(sample, n, d, widths[-1], mean=reduction == "mean")
    _, params = nn.mlp(nn.input_symbols(d), widths, activations)
    f = sg.gradient(total, wrt=params).lambdify()
    point = {}
    for name, array in arrays.items():
        point.update(scalar_names(name, array))
    value, partials = f(**{s.name: point[s.name] for s in f.args})
    return float(value), {p.name: float(g) for p, g in zip(params, partials, strict=True)}


def matrix_side(grad, arrays):
    """Value and partials (by scalar name) of a matrix gradient, by its compiled callable."""
    value, partials = grad.lambdify()(**arrays)
    by_name = {}
    for w, g in zip(grad.wrt, partials, strict=True):
        assert g.shape == tuple(arrays[w.name].shape), f"d/d{w} has the wrong shape"
        by_name.update(scalar_names(w.name, g))
    return value, by_name


def assert_same_numbers(scalar, matrix):
    (value, partials), (mvalue, mpartials) = scalar, matrix
    assert mvalue == pytest.approx(value, rel=1e-10, abs=1e-12)
    assert set(mpartials) == set(partials)
    for name, g in partials.items():
        assert mpartials[name] == pytest.approx(g, rel=1e-9, abs=1e-12), name


def matrix_gradients(n, d, widths, activations, loss, reduction):
    """The matrix network's gradient from named layers and from one expression."""
    X = layers.input_matrix(n, d)
    steps, params = layers.as_assignments(X, widths, activations, loss, reduction=reduction)
    expr, same_params = layers.as_expression(X, widths, activations, loss, reduction=reduction)
    assert same_params == params
    return (
        sg.Graph.from_assignments(steps, wrt=params).backward(),
        sg.gradient(expr, wrt=params),
    )


# --- the same network at scalar granularity ---

ACTIVATIONS = [
    "tanh",
    "sigmoid",
    "relu",
    "softplus",
    "identity",
]


class TestSameAsScalarCore:
    """n=3 samples of d=2 features, a hidden layer of 3: every number as sg.nn gives it."""

    @pytest.mark.parametrize("reduction", ["mean", "sum"])
    @pytest.mark.parametrize("act", ACTIVATIONS)
    def test_squared_error_each_activation(self, act, reduction, rng):
        widths, acts = [3, 1], [act, act]
        arrays = random_arrays(rng, 3, 2, widths)
        scalar = scalar_side(arrays, widths, acts, "squared_error", reduction)
        for grad in matrix_gradients(n_, 2, widths, acts, "squared_error", reduction):
            assert_same_numbers(scalar, matrix_side(grad, arrays))

    @pytest.mark.parametrize("reduction", ["mean", "sum"])
    @pytest.mark.parametrize(
        ("loss", "acts", "k"),
        [
            ("binary_cross_entropy", ["tanh", "sigmoid"], 1),
            ("binary_cross_entropy", ["softplus", "sigmoid"], 2),
            ("softmax_cross_entropy", ["tanh", "identity"], 3),
        ],
    )
    def test_cross_entropies(self, loss, acts, k, reduction, rng):
        widths = [3, k]
        arrays = random_arrays(rng, 3, 2, widths, loss)
        scalar = scalar_side(arrays, widths, acts, loss, reduction)
        for grad in matrix_gradients(3, 2, widths, acts, loss, reduction):
            assert_same_numbers(scalar, matrix_side(grad, arrays))

    def test_binary_cross_entropy_on_logits(self, rng):
        widths = [3, 1]
        arrays = random_arrays(rng, 3, 2, widths, "binary_cross_entropy")

        def scalar_loss(outputs, targets):
            return nn.binary_cross_entropy(outputs, targets, logits=True)

        def matrix_loss(outputs, targets, reduction):
            return layers.binary_cross_entropy(outputs, targets, reduction, logits=True)

        scalar = scalar_side(arrays, widths, ["tanh", "identity"], scalar_loss, "mean")
        steps, params = layers.as_assignments(
            layers.input_matrix(3, 2), widths, ["tanh", "identity"], matrix_loss
        )
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        assert_same_numbers(scalar, matrix_side(grad, arrays))

    def test_deeper_network_with_per_layer_activations(self, rng):
        widths, acts = [3, 2, 1], ["softplus", "tanh", "sigmoid"]
        arrays = random_arrays(rng, 2, 2, widths, "binary_cross_entropy")
        scalar = scalar_side(arrays, widths, acts, "binary_cross_entropy", "mean")
        grad, _ = matrix_gradients(n_, 2, widths, acts, "binary_cross_entropy", "mean")
        assert_same_numbers(scalar, matrix_side(grad, arrays))


# --- finite differences, symbolic sizes ---


def central_differences(f, arrays, name, eps=1e-6):
    base = arrays[name]
    fd = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        plus, minus = base.copy(), base.copy()
        plus[index] += eps
        minus[index] -= eps
        fd[index] = (f(**{**arrays, name: plus})[0] - f(**{**arrays, name: minus})[0]) / (2 * eps)
    return fd


class TestFiniteDifferences:
    @pytest.mark.parametrize(
        ("loss", "acts", "k"),
        [
            ("squared_error", ["tanh", "identity"], 2),
            ("binary_cross_entropy", ["sigmoid", "sigmoid"], 1),
            ("softmax_cross_entropy", ["softplus", "identity"], 3),
        ],
    )
    def test_one_callable_for_every_batch_size(self, loss, acts, k, rng):
        steps, params = layers.as_assignments(layers.input_matrix(n_, d_), [h_, k], acts, loss)
        f = sg.Graph.from_assignments(steps, wrt=params).backward().lambdify()
        for n, d, h in [(3, 2, 4), (5, 3, 2)]:
            arrays = random_arrays(rng, n, d, [h, k], loss)
            _, partials = f(**arrays)
            for w, g in zip(params, partials, strict=True):
                assert g.shape == arrays[w.name].shape
                fd = central_differences(f, arrays, w.name)
                np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8, err_msg=f"d/d{w}")

    def test_mean_is_the_sum_over_n(self, rng):
        arrays = random_arrays(rng, 4, 2, [3, 1])
        results = {}
        for reduction in ("mean", "sum"):
            steps, params = layers.as_assignments(
                layers.input_matrix(n_, 2), [3, 1], reduction=reduction
            )
            results[reduction] = sg.Graph.from_assignments(steps, wrt=params).backward()
        mean, mean_grads = results["mean"].lambdify()(**arrays)
        total, sum_grads = results["sum"].lambdify()(**arrays)
        assert mean == pytest.approx(total / 4)
        for a, b in zip(mean_grads, sum_grads, strict=True):
            np.testing.assert_allclose(a, b / 4)

    def test_check_agrees(self):
        steps, params = layers.as_assignments(
            layers.input_matrix(n_, d_), [h_, 1], ["tanh", "identity"]
        )
        report = sg.check(sg.Graph.from_assignments(steps, wrt=params).backward(), seed=0)
        assert report.ok, report


# --- the graph a network makes ---


class TestGraph:
    def test_one_node_per_layer_with_its_shape(self):
        steps, params = layers.as_assignments(layers.input_matrix(n_, d_), [h_, 1])
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        shapes = dict(grad.graph.nx.nodes(data="shape"))
        names = {str(node): shape for node, shape in shapes.items()}
        assert names["Z1"] == names["A1"] == (n_, h_)
        assert names["Z2"] == names["A2"] == (n_, 1)
        for w in params:
            assert grad[w].shape == w.shape
        assert (n_, n_) not in shapes.values(), "the loss must not form an n × n product"

    def test_named_layers_give_a_papers_equations(self):
        steps, params = layers.as_assignments(
            layers.input_matrix(n_, d_), [h_, 1], ["tanh", "identity"]
        )
        grad = sg.Graph.from_assignments(steps, wrt=params, granularity="named").backward()
        eq = dict(grad.equations)
        X = layers.input_matrix(n_, d_)
        (Z1, _), (A1, _), (Z2, _), _, _ = steps
        W1, b1, W2, b2 = params
        dZ1, dZ2 = adjoint_of(Z1), adjoint_of(Z2)
        assert eq[adjoint_of(W1)] == dZ1.T * X
        assert eq[adjoint_of(W2)] == dZ2.T * A1
        assert eq[adjoint_of(A1)] == dZ2 * W2
        assert eq[adjoint_of(b1)] == dZ1.T * sp.OneMatrix(n_, 1)

    def test_two_entrywise_functions_in_one_graph(self):
        Z = sp.MatrixSymbol("Z", n_, 3)
        loss = SumEntries(layers.elementwise(sp.exp, layers.elementwise("tanh", Z)))
        grad = sg.gradient(loss, wrt=[Z])
        z = np.random.default_rng(0).normal(size=(2, 3))
        _, (g,) = grad.lambdify()(Z=z)
        np.testing.assert_allclose(g, np.exp(np.tanh(z)) * (1 - np.tanh(z) ** 2))


# --- the API ---


class TestApi:
    def test_network_unpacks_and_nests(self):
        X = layers.input_matrix(4, 2)
        net = layers.mlp(X, [3, 1], ["relu", "identity"])
        steps, params = net
        assert [str(s) for s, _ in steps] == ["Z1", "A1", "Z2", "A2"]
        assert [(str(p), p.shape) for p in params] == [
            ("W1", (3, 2)),
            ("b1", (3, 1)),
            ("W2", (1, 3)),
            ("b2", (1, 1)),
        ]
        assert net.output == steps[-1][0] and net.output.shape == (4, 1)
        W1, b1, W2, b2 = params
        hidden = layers.dense(X, W1, b1, "relu")
        assert net.expression() == layers.dense(hidden, W2, b2)
        assert dict(steps)[net.output] == steps[2][0]  # identity: A2 is Z2 renamed

    def test_dense_uses_the_scalar_activations(self):
        Z = sp.MatrixSymbol("Z", 2, 2)
        u = sp.Symbol("u", real=True)
        for name, fn in nn.ACTIVATIONS.items():
            out = layers.elementwise(name, Z)
            if name == "identity":
                assert out == Z
            else:
                assert out.function(u) == fn(u), name

    def test_loss_names_and_targets(self):
        net = layers.mlp(layers.input_matrix(n_, 2), [3, 2])
        *_, (L, loss) = net.with_loss("softmax_cross_entropy", output="J")
        assert str(L) == "J"
        assert layers.target_matrix(n_, 2) in loss.atoms(sp.MatrixSymbol)
        T = sp.MatrixSymbol("T", n_, 2)
        *_, (_, loss) = net.with_loss(targets=T)
        assert T in loss.atoms(sp.MatrixSymbol)

    def test_l2_penalty(self, rng):
        W = layers.weights(1, 2, 3)
        grad = sg.gradient(layers.l2_penalty([W], 0.5), wrt=[W])
        w = rng.normal(size=(2, 3))
        value, (g,) = grad.lambdify()(W1=w)
        assert value == pytest.approx(0.25 * np.sum(w**2))
        np.testing.assert_allclose(g, 0.5 * w)


class TestRefusals:
    def test_weights_transposed(self):
        X, W, b = layers.input_matrix(4, 2), layers.weights(1, 2, 3), layers.biases(1, 2)
        with pytest.raises(GraphError, match=r"W1 is 2×3, X is 4×2: W \(out × in\) needs 2"):
            layers.dense(X, W, b)

    def test_bias_not_a_column_of_the_layers_width(self):
        X, W = layers.input_matrix(4, 2), layers.weights(1, 3, 2)
        with pytest.raises(GraphError, match="must be a column 3×1"):
            layers.dense(X, W, sp.MatrixSymbol("b1", 1, 3))

    def test_unknown_activation(self):
        X, W, b = layers.input_matrix(4, 2), layers.weights(1, 3, 2), layers.biases(1, 3)
        with pytest.raises(GraphError, match="unknown activation 'gelu'"):
            layers.dense(X, W, b, "gelu")
        with pytest.raises(GraphError, match="unknown activation 'gelu'"):
            layers.mlp(X, [3, 1], ["tanh", "gelu"])

    def test_layers_and_activations(self):
        X = layers.input_matrix(4, 2)
        with pytest.raises(GraphError, match="at least one layer"):
            layers.mlp(X, [])
        with pytest.raises(GraphError, match="2 layers but 3 activations"):
            layers.mlp(X, [3, 1], ["tanh"] * 3)
        with pytest.raises(GraphError, match="n × d matrix"):
            layers.mlp(sp.Symbol("x"), [1])

    @pytest.mark.parametrize("size", [0, 2.5, sp.Symbol("m"), sp.Symbol("m", integer=True)])
    def test_sizes_are_positive_integers(self, size):
        with pytest.raises(GraphError, match="positive integer"):
            layers.input_matrix(size, 2)
        with pytest.raises(GraphError, match="positive integer"):
            layers.mlp(layers.input_matrix(3, 2), [size])

    def test_losses(self):
        P, Y = layers.input_matrix(4, 2, "P"), layers.target_matrix(4, 1)
        for loss in layers.LOSSES.values():
            with pytest.raises(GraphError, match="are 4×2 but the targets Y are 4×1"):
                loss(P, Y)
        with pytest.raises(GraphError, match="reduction must be one of mean, sum, not 'max'"):
            layers.squared_error(P, P, reduction="max")
        with pytest.raises(GraphError, match="unknown loss 'hinge'"):
            layers.as_expression(layers.input_matrix(4, 2), [1], loss="hinge")


def test_softmax_cross_entropy_stays_finite_at_large_logits():
    """The row-wise log-sum-exp is shifted: logits of 1000 give the textbook softmax − Y."""
    Z, Y = layers.input_matrix(3, 4, "Z"), layers.target_matrix(3, 4)
    grad = sg.gradient(layers.softmax_cross_entropy(Z, Y, reduction="sum"), wrt=[Z])
    logits = np.array([[1000.0, 0.0, -5.0, 2.0], [3.0, 1000.0, 999.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    onehot = np.eye(4)[[0, 2, 3]]
    value, (dZ,) = grad.lambdify()(Z=logits, Y=onehot)
    shifted = logits - logits.max(axis=1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    expected = np.sum(
        np.log(np.exp(shifted).sum(axis=1)) + logits.max(axis=1) - logits[onehot == 1]
    )
    assert np.isfinite(value) and value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dZ, softmax - onehot, atol=1e-12)
