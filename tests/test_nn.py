"""Neural-network building blocks: every gradient against sympy.diff, both granularities."""

from __future__ import annotations

import keyword
import pickle

import numpy as np
import pytest
import sympy as sp
from oracles import assert_matches_sympy_diff

import symgraph as sg
from symgraph import nn
from symgraph.errors import GraphError

w, b, x, y = sp.symbols("w b x y", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def evaluate(grad, point):
    """The compiled value and partials of ``grad`` at ``point`` (name -> number)."""
    f = grad.lambdify()
    value, partials = f(**{s.name: point[s.name] for s in f.args})
    return float(value), {w.name: float(p) for w, p in zip(grad.wrt, partials, strict=True)}


def random_point(symbols, rng, low=-1.5, high=1.5):
    return {s.name: rng.uniform(low, high) for s in symbols}


class TestLayerSymbol:
    def test_names_are_identifiers_and_latex_is_indexed(self):
        W = nn.weights(1, 2, 3)
        assert W[1][2].name == "W1_2_3"
        assert sp.latex(W[1][2]) == "W^{(1)}_{2,3}"
        assert sp.latex(nn.biases(1, 2)[1]) == "b^{(1)}_{2}"
        assert sp.latex(nn.input_symbols(2, sample=4)[0]) == "x_{4,1}"
        for s in [*sum(W, []), *nn.biases(3, 12), *nn.input_symbols(3, sample=2)]:
            assert s.name.isidentifier() and not keyword.iskeyword(s.name)
            assert s.is_real

    def test_pickles_and_differs_from_a_plain_symbol(self):
        s = nn.layer_symbol("W", 2, 1, 1)
        assert pickle.loads(pickle.dumps(s)) == s
        assert s != sp.Symbol("W2_1_1", real=True)
        assert str(s) == "W2_1_1"

    def test_refuses_a_base_that_is_not_letters(self):
        with pytest.raises(GraphError, match="letters"):
            nn.layer_symbol("W_1", 1, 1)


class TestActivations:
    @pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
    def test_gradient_matches_sympy_diff(self, name):
        expr = nn.activation(name)(w * x + b) * y
        assert_matches_sympy_diff(sg.gradient(expr, wrt=[w, b]))

    def test_named_forms(self):
        z = sp.Symbol("z", real=True)
        assert nn.sigmoid(z) == 1 / (1 + sp.exp(-z))
        assert nn.relu(z) == sp.Max(0, z)
        assert nn.softplus(z) == sp.log(1 + sp.exp(z))
        assert nn.identity(z) == z
        assert nn.activation(sp.sin) is sp.sin

    def test_unknown_name(self):
        with pytest.raises(GraphError, match="unknown activation 'gelu'"):
            nn.activation("gelu")


class TestLosses:
    def test_squared_error(self):
        loss = nn.squared_error([w * x + b, w - b], [y, 2 * y])
        assert sp.expand(loss - ((w * x + b - y) ** 2 + (w - b - 2 * y) ** 2) / 2) == 0
        assert_matches_sympy_diff(sg.gradient(loss, wrt=[w, b]))

    def test_binary_cross_entropy_on_a_sigmoid(self):
        loss = nn.binary_cross_entropy([nn.sigmoid(w * x + b)], [y])
        assert_matches_sympy_diff(sg.gradient(loss, wrt=[w, b]))

    def test_binary_cross_entropy_from_logits(self, rng):
        z = w * x + b
        stable = nn.binary_cross_entropy([z], [y], logits=True)
        plain = nn.binary_cross_entropy([nn.sigmoid(z)], [y])
        assert_matches_sympy_diff(sg.gradient(stable, wrt=[w, b]))
        point = random_point([w, b, x, y], rng)
        value, partials = evaluate(sg.gradient(stable, wrt=[w, b]), point)
        value2, partials2 = evaluate(sg.gradient(plain, wrt=[w, b]), point)
        assert value == pytest.approx(value2)
        assert partials == pytest.approx(partials2)
        value, _ = evaluate(sg.gradient(stable, wrt=[w]), {"w": 1000.0, "x": 1.0, "b": 0, "y": 0})
        assert value == pytest.approx(1000.0)

    def test_softmax_cross_entropy(self):
        z = sp.symbols("z1:3", real=True)  # SymPy's own lambdify of Max(z1, z2, z3)' is slow
        ys = sp.symbols("t1:3", real=True)
        loss = nn.softmax_cross_entropy(z, ys)
        assert_matches_sympy_diff(sg.gradient(loss, wrt=list(z)))

    def test_softmax_cross_entropy_is_finite_for_large_logits(self):
        z = sp.symbols("z1:4", real=True)
        ys = sp.symbols("t1:4", real=True)
        grad = sg.gradient(nn.softmax_cross_entropy(z, ys), wrt=list(z))
        point = {"z1": 1000.0, "z2": 999.0, "z3": -1000.0, "t1": 0.0, "t2": 1.0, "t3": 0.0}
        value, partials = evaluate(grad, point)
        softmax = np.exp([1.0, 0.0, -2000.0]) / np.exp([1.0, 0.0, -2000.0]).sum()
        assert value == pytest.approx(-np.log(softmax[1]))
        expected = softmax - [0.0, 1.0, 0.0]  # ∂/∂z = softmax(z) - y
        assert [partials[s.name] for s in z] == pytest.approx(expected)

    def test_l2_penalty_gradient_is_lambda_w(self):
        ws = sp.symbols("w1:4", real=True)
        lam = sp.Symbol("lambda", real=True)
        grad = sg.gradient(nn.l2_penalty(ws), wrt=list(ws))
        for wi in ws:
            assert sp.simplify(grad[wi] - lam * wi) == 0
        assert_matches_sympy_diff(grad)

    def test_refused(self):
        with pytest.raises(GraphError, match="2 outputs but 1 targets"):
            nn.squared_error([w, b], [y])
        with pytest.raises(GraphError, match="unknown loss"):
            nn.as_expression([x], [1], loss="hinge")


class TestLayers:
    def test_neuron(self):
        assert nn.neuron([x], [w], b, "tanh") == sp.tanh(w * x + b)
        with pytest.raises(GraphError, match="2 inputs but 1 weights"):
            nn.neuron([x, y], [w], b)

    def test_dense_params_in_row_order(self):
        outputs, params = nn.dense(nn.input_symbols(2), 3, 2, "sigmoid")
        assert [p.name for p in params] == [
            "W3_1_1", "W3_1_2", "W3_2_1", "W3_2_2", "b3_1", "b3_2",
        ]  # fmt: skip
        assert len(outputs) == 2

    def test_mlp_any_depth(self):
        outputs, params = nn.mlp(nn.input_symbols(2), [3, 4, 2, 1], "softplus")
        assert len(outputs) == 1
        assert len(params) == (2 * 3 + 3) + (3 * 4 + 4) + (4 * 2 + 2) + (2 * 1 + 1)
        assert len(set(params)) == len(params)
        assert params == nn.mlp(nn.input_symbols(2), [3, 4, 2, 1], "tanh")[1]  # stable

    def test_refused(self):
        with pytest.raises(GraphError, match="2 layers but 1 activations"):
            nn.mlp([x], [2, 1], ["tanh"])
        with pytest.raises(GraphError, match="widths is empty"):
            nn.mlp([x], [])


CONFIGS = [
    ([3, 1], "tanh", "squared_error"),
    ([2, 2], ["relu", "sigmoid"], "binary_cross_entropy"),
    ([3, 3], ["softplus", "identity"], "softmax_cross_entropy"),
]


class TestGranularities:
    @pytest.mark.parametrize(("widths", "acts", "loss"), CONFIGS)
    def test_expression_and_assignments_agree(self, widths, acts, loss, rng):
        inputs = nn.input_symbols(2)
        expr, params = nn.as_expression(inputs, widths, acts, loss)
        steps, params2 = nn.as_assignments(inputs, widths, acts, loss)
        assert params == params2
        one = sg.gradient(expr, wrt=params)
        named = sg.Graph.from_assignments(steps, wrt=params).backward()
        symbols = [*inputs, *nn.target_symbols(widths[-1]), *params]
        for _ in range(3):
            point = random_point(symbols, rng)
            value, partials = evaluate(one, point)
            value2, partials2 = evaluate(named, point)
            assert value2 == pytest.approx(value, rel=1e-10)
            assert partials2 == pytest.approx(partials, rel=1e-9, abs=1e-12)

    def test_assignment_graph_speaks_in_z_and_a(self):
        steps, params = nn.as_assignments(nn.input_symbols(2), [3, 1], "tanh")
        assert [str(name) for name, _ in steps[:2]] == ["z1_1", "a1_1"]
        grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        lhs = {str(left) for left, _ in grad.equations}
        assert {"delta_z1_1", "delta_a1_3", "delta_z2_1", "delta_a2_1"} <= lhs
        assert r"z^{(1)}_{1} &= " in grad.latex(form="structured")

    @pytest.mark.parametrize("form", ["expression", "assignments"])
    def test_two_layer_mlp_passes_check(self, form):
        inputs = nn.input_symbols(2)
        if form == "expression":
            expr, params = nn.as_expression(inputs, [3, 1], "tanh")
            grad = sg.gradient(expr, wrt=params)
        else:
            steps, params = nn.as_assignments(inputs, [3, 1], "tanh")
            grad = sg.Graph.from_assignments(steps, wrt=params).backward()
        report = sg.check(grad)
        assert report.ok, str(report)

    def test_latex_uses_paper_indices(self):
        expr, params = nn.as_expression(nn.input_symbols(2), [2, 1], "tanh")
        text = sg.gradient(expr, wrt=params).latex()
        assert r"\partial W^{(1)}_{2,1}" in text
        assert "b^{(2)}_{1}" in text


class TestBatchLoss:
    def test_gradient_is_the_sum_of_per_sample_gradients(self, rng):
        def sample(xs, ys):
            return nn.as_expression(xs, [2, 1], "tanh", targets=ys)[0]

        total, inputs, targets = nn.batch_loss(sample, 3, n_inputs=2)
        assert [s.name for s in inputs[2]] == ["x_3_1", "x_3_2"]
        params = nn.mlp(inputs[0], [2, 1])[1]
        point = random_point([*sum(inputs, []), *sum(targets, []), *params], rng)
        value, partials = evaluate(sg.gradient(total, wrt=params), point)
        per_sample = [
            evaluate(sg.gradient(sample(xs, ys), wrt=params), point)
            for xs, ys in zip(inputs, targets, strict=True)
        ]
        assert value == pytest.approx(sum(v for v, _ in per_sample))
        for p in params:
            assert partials[p.name] == pytest.approx(sum(g[p.name] for _, g in per_sample))

    def test_mean(self):
        def sample(xs, ys):
            return (w * xs[0] - ys[0]) ** 2

        total = nn.batch_loss(sample, 4, 1)[0]
        mean = nn.batch_loss(sample, 4, 1, mean=True)[0]
        assert sp.simplify(total / 4 - mean) == 0

    def test_refused(self):
        with pytest.raises(GraphError, match="at least one sample"):
            nn.batch_loss(lambda xs, ys: xs[0], 0, 1)
