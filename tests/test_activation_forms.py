"""Every activation's derivative in the node's own value, as papers write it: σ′ = a(1 − a).

The sigmoid ``1/(1 + exp(-z))`` is one node (a registered pattern of the rules
registry), whose local partial is ``a*(1 - a)``, like tanh's ``1 - a**2``;
softplus ``log(1 + exp(z))`` is one node whose partial is the sigmoid of its
argument.  Oracles: ``sympy.diff`` of the loss, evaluated at 50 digits at
random points and at |z| = 30 and 700; central differences of the compiled
value; exact expected strings for the printed forms.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.core.activations import sigmoid, softplus
from symgraph.rules.registry import (
    LOG_ONE_MINUS_SIGMOID,
    LOG_SIGMOID,
    SIGMOID,
    SOFTPLUS,
    local_partial,
    pattern_of,
    slots,
)

w, x, b, y, z, a, L = sp.symbols("w x b y z a L", real=True)
NEURON = [(z, w * x + b), (a, sigmoid(z)), (L, (a - y) ** 2)]
# z = w*x + b at these points: around 0, then |z| = 30 and 700 (x = 1, b = 0)
EXTREMES = [{w: s * v, x: 1, b: 0, y: sp.Rational(1, 3)} for v in (30, 700) for s in (1, -1)]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240613)


def points(rng, count=6):
    found = [
        dict(zip((w, x, b, y), map(sp.Rational, row), strict=True))
        for row in rng.uniform(-3, 3, size=(count, 4)).round(6)
    ]
    return found + EXTREMES


def at_800_digits(expr, point) -> mpmath.mpf:
    """``expr`` at ``point`` in 800-digit arithmetic: 1 - σ(700) cancels 304 digits."""
    symbols = sorted(point, key=str)
    f = sp.lambdify(symbols, expr, "mpmath")
    with mpmath.workdps(800):
        return f(*(mpmath.mpf(sp.Rational(point[s]).p) / sp.Rational(point[s]).q for s in symbols))


def equations(grad) -> dict[str, str]:
    return {str(lhs): str(rhs) for lhs, rhs in grad.equations}


class TestThePattern:
    def test_the_sigmoid_is_one_operation_of_its_argument(self):
        assert pattern_of(sigmoid(z)) == (SIGMOID, z)
        assert slots(sigmoid(w * x + b)) == (b + w * x,)
        assert local_partial(sigmoid(z), 0) == sigmoid(z) * (1 - sigmoid(z))

    def test_softplus_is_one_operation_whose_partial_is_the_sigmoid(self):
        assert pattern_of(softplus(z)) == (SOFTPLUS, z)
        assert local_partial(softplus(z), 0) == sigmoid(z)

    def test_the_cross_entropy_halves_are_one_operation_each(self):
        assert pattern_of(sp.log(sigmoid(z))) == (LOG_SIGMOID, z)
        assert pattern_of(sp.log(1 - sigmoid(z))) == (LOG_ONE_MINUS_SIGMOID, z)
        assert local_partial(sp.log(sigmoid(z)), 0) == 1 - sigmoid(z)
        assert local_partial(sp.log(1 - sigmoid(z)), 0) == -sigmoid(z)

    @pytest.mark.parametrize(
        "expr",
        [1 / (2 + sp.exp(-z)), (1 + sp.exp(-z)) ** -2, 1 / (1 + sp.exp(-z) + z), sp.log(2 + z)],
    )
    def test_look_alikes_are_not_the_pattern(self, expr):
        assert pattern_of(expr) is None

    def test_the_graph_has_one_sigmoid_node_whose_edge_is_a_times_one_minus_a(self):
        graph = sg.Graph.from_expr(sigmoid(w * x + b), wrt=[w, b])
        node = graph.output
        assert graph.op(node) == sigmoid(next(iter(graph.nx.predecessors(node))))
        ((operand, _, data),) = graph.nx.in_edges(node, data=True)
        assert data["partial"] == node * (1 - node)
        assert not any(isinstance(graph.op(n), sp.exp) for n in graph.nx)  # no exp node

    @pytest.mark.parametrize("granularity", ["op", "fine"])
    def test_every_granularity(self, granularity):
        graph = sg.Graph.from_expr((sigmoid(w * x + b) - y) ** 2, [w], granularity)
        sigmoids = [n for n in graph.nx if graph.op(n) is not None and pattern_of(graph.op(n))]
        assert len(sigmoids) == 1


class TestPrintedForms:
    def test_a_sigmoid_neuron_reads_a_times_one_minus_a(self):
        grad = sg.Graph.from_assignments(NEURON, wrt=[w, b]).backward()
        assert equations(grad)["delta_z"] == "delta_a*a*(1 - a)"
        assert r"\delta_{z} &= \delta_{a} a \left(1 - a\right)" in grad.latex(form="structured")

    def test_the_closed_form_is_sigma_times_one_minus_sigma(self):
        grad = sg.gradient(sigmoid(w * x + b), wrt=[w])
        assert str(grad[w]) == "x*(1 - 1/(exp(-b - w*x) + 1))/(exp(-b - w*x) + 1)"
        assert grad.latex() == (
            "\\begin{align}\n\\frac{\\partial L}{\\partial w} &= "
            "\\frac{x \\left(1 - \\frac{1}{e^{- b - w x} + 1}\\right)}{e^{- b - w x} + 1}"
            "\n\\end{align}"
        )

    def test_softplus_differentiates_to_the_sigmoid_of_its_argument(self):
        grad = sg.Graph.from_assignments([(z, w * x), (L, softplus(z))], wrt=[w]).backward()
        assert equations(grad)["delta_z"] == "delta_L/(1 + exp(-z))"
        assert str(grad[w]) == "x/(1 + exp(-w*x))"
        assert "\\frac{x}{1 + e^{- w x}}" in grad.latex()

    def test_tanh_is_unchanged(self):
        tanh_neuron = [(z, w * x + b), (a, sp.tanh(z)), (L, (a - y) ** 2)]
        grad = sg.Graph.from_assignments(tanh_neuron, wrt=[w]).backward()
        assert equations(grad)["delta_z"] == "delta_a*(1 - a**2)"

    def test_the_command_line_prints_the_same(self, capsys):
        from symgraph.cli import main

        assert main(["grad", "sigmoid(w*x + b)", "--wrt", "w", "--structured"]) == 0
        out = capsys.readouterr().out
        assert "delta_v2 = delta_L*L*(1 - L)" in out.splitlines()


LOSSES = {
    "neuron": (sigmoid(w * x + b) - y) ** 2,
    "cross-entropy": -(y * sp.log(sigmoid(w * x + b)) + (1 - y) * sp.log(1 - sigmoid(w * x + b))),
    "softplus": softplus(w * x + b) * y,
    "two sigmoids": sigmoid(w * sigmoid(w * x + b) - y),
}


@pytest.mark.parametrize("name", list(LOSSES))
class TestCorrectEverywhere:
    def test_closed_forms_agree_with_sympy_diff(self, name, rng):
        loss = LOSSES[name]
        grad = sg.gradient(loss, wrt=[w, b])
        for point in points(rng):
            for weight in (w, b):
                got = at_800_digits(grad[weight], point)
                want = at_800_digits(sp.diff(loss, weight), point)
                assert abs(got - want) <= mpmath.mpf("1e-100") * abs(want), (name, point)

    def test_compiled_gradient_is_accurate_and_finite_at_large_z(self, name, rng):
        loss = LOSSES[name]
        grad = sg.gradient(loss, wrt=[w, b])
        f = grad.lambdify()
        for point in points(rng):
            value, partials = f(**{str(s): float(v) for s, v in point.items()})
            assert np.isfinite(value) and np.all(np.isfinite(partials)), (name, point)
            for weight, got in zip((w, b), partials, strict=True):
                want = float(at_800_digits(sp.diff(loss, weight), point))
                assert got == pytest.approx(want, rel=1e-9, abs=1e-300), (name, weight, point)

    def test_compiled_gradient_agrees_with_central_differences(self, name, rng):
        loss = LOSSES[name]
        f = sg.gradient(loss, wrt=[w, b]).lambdify()
        for v, u, c, d in rng.uniform(-2, 2, size=(5, 4)):
            at = {"w": v, "x": u, "b": c, "y": d}
            _, (dw, db) = f(**at)
            for key, got in (("w", dw), ("b", db)):
                h = 1e-6
                up, down = dict(at), dict(at)
                up[key] += h
                down[key] -= h
                numeric = (f(**up)[0] - f(**down)[0]) / (2 * h)
                assert got == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, key, at)

    def test_check_reports_ok(self, name):
        assert sg.check(sg.gradient(LOSSES[name], wrt=[w, b])).ok


def test_named_cross_entropy_is_finite_where_the_sigmoid_underflows():
    model = [(z, w * x), (a, sigmoid(z)), (L, -y * sp.log(a) - (1 - y) * sp.log(1 - a))]
    f = sg.Graph.from_assignments(model, wrt=[w]).backward().lambdify()
    _, (dw,) = f(w=np.array([-1000.0, 1000.0]), x=1.0, y=0.3)
    assert dw == pytest.approx([-0.3, 0.7])  # (σ(z) - y)·x, where σ·(1/σ) cancels first
    _, (dw,) = f(w=-1000.0, x=1.0, y=0.3)  # the scalar path too
    assert dw == pytest.approx(-0.3)


def test_the_tracer_makes_the_same_node():
    v = sg.Value(0.5, name="v")
    out = (v * 2).sigmoid()
    graph = out.graph
    node = graph.output
    ((_, _, data),) = graph.nx.in_edges(node, data=True)
    assert data["partial"] == node * (1 - node)
    (partial,) = out.backward().closed_forms().values()
    value = float(partial.subs(sp.Symbol("v", real=True), 0.5))
    s = 1 / (1 + np.exp(-1.0))
    assert value == pytest.approx(2 * s * (1 - s), rel=1e-12)


def sigmoid_layer_network(n=4, d=2, h=3, k=1):
    """``A1 = σ(X W1ᵀ + 1 b1ᵀ)``, ``A2 = A1 W2ᵀ + 1 b2ᵀ``, mean squared error; named layers."""
    X = sg.layers.input_matrix(n, d)
    net = sg.layers.mlp(X, [h, k], ["sigmoid", "identity"])
    grad = sg.Graph.from_assignments(net.with_loss(), wrt=net.params, granularity="named")
    return grad.backward(), net.params


def jax_sigmoid_loss():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def sigmoid(u):  # jax.nn.sigmoid's own derivative, ans*(1 - ans), keeps 3 digits at u = 30
        return jnp.exp(-jnp.logaddexp(0.0, -u))

    def loss(X, Y, W1, b1, W2, b2):
        A1 = sigmoid(X @ W1.T + b1.T)
        R = A1 @ W2.T + b2.T - Y
        return jnp.sum(R * R) / (2 * X.shape[0])

    return jax, loss


class TestSigmoidMatrixLayer:
    """``Z.applyfunc(σ)``: ``δ_Z = A ⊙ (1 − A) ⊙ δ_A`` in the node ``A``, as tanh's ``1 − A∘A``."""

    def test_the_delta_is_written_in_the_layers_own_value(self):
        grad, _ = sigmoid_layer_network()
        assert (
            equations(grad)["delta_Z1"] == "HadamardProduct(Lambda(_t, _t*(1 - _t)).(A1), delta_A1)"
        )
        assert (
            r"\delta_{Z_{1}} &= \left(A_{1} \left(1 - A_{1}\right)\right) \odot \delta_{A_{1}}"
            in grad.latex(form="structured")
        )
        assert "exp" not in equations(grad)["delta_Z1"]  # no σ(Z1) computed again

    def test_tanh_layer_is_unchanged(self):
        X = sg.layers.input_matrix(4, 2)
        net = sg.layers.mlp(X, [3, 1], ["tanh", "identity"])
        steps = net.with_loss()
        grad = sg.Graph.from_assignments(steps, wrt=net.params, granularity="named").backward()
        assert (
            equations(grad)["delta_Z1"] == "HadamardProduct(Lambda(_t, 1 - _t**2).(A1), delta_A1)"
        )

    @pytest.mark.parametrize("scale", [None, 30, 700])
    def test_compiled_gradient_matches_jax_and_stays_finite(self, scale, rng):
        jax, loss = jax_sigmoid_loss()
        grad, params = sigmoid_layer_network()
        point = {
            "X": rng.normal(size=(4, 2)),
            "Y": rng.normal(size=(4, 1)),
            "W1": rng.normal(size=(3, 2)),
            "b1": rng.normal(size=(3, 1)),
            "W2": rng.normal(size=(1, 3)),
            "b2": rng.normal(size=(1, 1)),
        }
        if scale is not None:  # Z1 = ±scale exactly, both signs in every column
            point["X"] = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
            point["W1"] = scale * np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
            point["b1"] = np.zeros((3, 1))
        order = ["X", "Y", "W1", "b1", "W2", "b2"]
        expected = jax.grad(loss, argnums=(2, 3, 4, 5))(*(point[s] for s in order))
        value, compiled = grad.lambdify()(**point)
        assert np.isfinite(value)
        assert value == pytest.approx(float(loss(*(point[s] for s in order))), rel=1e-12)
        for w, want, got in zip(params, expected, compiled, strict=True):
            assert np.all(np.isfinite(got)), (w, scale)
            np.testing.assert_allclose(got, np.asarray(want), rtol=1e-9, atol=1e-300)

    def test_the_c_printer_prints_it(self):
        grad, _ = sigmoid_layer_network()
        assert "symgraph_value_and_grad" in grad.source("c")
