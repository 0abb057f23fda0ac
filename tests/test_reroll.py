"""Re-rolled reductions: linear sums and grouped dot products as matrix products.

The oracle is the per-point ``grad.lambdify()`` summed with NumPy afterwards (as in
test_reduce.py), and the lines as they were before re-rolling, compiled as they are;
the source is checked for the matrix products and for bounded lines.
"""

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.numeric.chunks import CHARACTERS, WIDTH
from symgraph.numeric.codegen import make_function
from symgraph.numeric.lines import argument_order
from symgraph.numeric.reduce import reduced_lines
from symgraph.numeric.reroll import BatchDot, BatchSum, rerolled
from symgraph.numeric.source_check import check_source

w, v, b, c, x, y, z = sp.symbols("w v b c x y z", real=True)
XS = sp.symbols("x1:41", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20261207)


def per_point(grad, values, reduce):
    value, partials = grad.lambdify()(**values)
    scale = 1.0 / np.size(value) if reduce == "mean" else 1.0
    return np.sum(value) * scale, [np.sum(p) * scale for p in partials]


def not_rerolled(grad, values):
    """The reduced lines compiled as they are, without grouping: today's numbers."""
    size = sp.Dummy("n", integer=True, positive=True)
    lines, outputs = reduced_lines(grad, size)
    args = argument_order(grad)
    fn = make_function(lines, [*args, size], outputs)
    n = int(np.prod(np.broadcast_shapes(*(np.shape(values[s.name]) for s in args))))
    flat = [
        values[s.name] if s in grad.wrt else np.broadcast_to(values[s.name], (n,) * (n > 0))
        for s in args
    ]
    flat = [np.reshape(f, -1) if np.ndim(f) else np.full(n, f) for f in flat]
    value, *partials = fn(*flat, n)
    return float(value), [float(p) for p in partials]


def assert_reduces(grad, values, grouped=True):
    """Both reductions agree with the oracles; with ``grouped``, some matrix product ran."""
    for reduce in ("sum", "mean"):
        f = grad.lambdify(reduce=reduce)
        value, partials = f(**values)
        expected_value, expected = per_point(grad, values, reduce)
        assert np.allclose(value, expected_value, rtol=1e-12, atol=1e-12), reduce
        assert np.allclose(partials, expected, rtol=1e-12, atol=1e-12), reduce
    assert ("@" in f.source) == grouped, f.source
    check_source(f.source, "value_and_grad")
    return f


def data(rng, names, n, **weights):
    values = {s.name: rng.standard_normal(n) for s in names}
    return {**values, **{k: float(val) for k, val in weights.items()}}


def weighted(rng, weights, scale=1.0):
    """A random number for each weight."""
    drawn = rng.standard_normal(len(weights)) * scale
    return {s.name: float(r) for s, r in zip(weights, drawn, strict=True)}


def layer(rows, inputs, prefix="W"):
    """``tanh(c_j + Σ_i W_ji·x_i)`` for each row ``j``: the rows' weights and the units."""
    weights, units = [], []
    for j, row in enumerate(rows):
        ws = [sp.Symbol(f"{prefix}_{j}_{i}", real=True) for i in row]
        bias = sp.Symbol(f"{prefix}b_{j}", real=True)
        terms = (wi * inputs[i] for wi, i in zip(ws, row, strict=True))
        units.append(sp.tanh(sp.Add(bias, *terms)))
        weights += [*ws, bias]
    return weights, units


class TestGroups:
    def test_groups_of_different_sizes(self, rng):
        rows = [range(3), range(3), range(5), range(2, 7), range(3)]  # keys of 3, 5 and 5 names
        weights, units = layer(rows, XS)
        loss = (sp.Add(*units) - y) ** 2
        values = {**data(rng, [*XS[:7], y], 50), **weighted(rng, weights)}
        f = assert_reduces(sg.gradient(loss, wrt=weights), values)
        assert f.source.count(" @ ") == 3 + 3  # each key: one product forward, one backward
        assert f.source.count(".T)") == 1  # three rows: a block; one row: a vector of dots

    def test_a_weight_in_two_groups(self, rng):
        loss = (sp.tanh(w * x + v * y) + sp.sin(w * z + v * XS[0]) - b) ** 2
        values = data(rng, [x, y, z, XS[0]], 40, w=0.3, v=-0.7, b=0.2)
        assert_reduces(sg.gradient(loss, wrt=[w, v, b]), values)

    def test_a_sum_mixing_grouped_and_ungrouped_terms(self, rng):
        inner = w * x + v * y + sp.sin(z) + z + b + c * x * y + w * v * XS[0] + 3 * y
        loss = sp.tanh(inner) * (2 * x + b)
        values = data(rng, [x, y, z, XS[0]], 30, w=0.5, v=0.25, b=-1.0, c=0.75)
        assert_reduces(sg.gradient(loss, wrt=[w, v, b, c]), values)

    def test_a_weight_only_coefficient_gets_its_own_line(self, rng):
        loss = sp.exp(sp.sin(w) * x + w**2 * y + sp.exp(v) * z) - y
        values = data(rng, [x, y, z], 20, w=0.1, v=0.2)
        assert_reduces(sg.gradient(loss, wrt=[w, v]), values)

    def test_two_layers_group_the_hidden_deltas_too(self, rng):
        w1, hidden = layer([range(4)] * 5, XS, "A")
        w2, out = layer([range(5)] * 3, hidden, "B")
        loss = (sp.Add(*out) - y) ** 2
        weights = w1 + w2
        values = {**data(rng, [*XS[:4], y], 64), **weighted(rng, weights)}
        assert_reduces(sg.gradient(loss, wrt=weights), values)

    def test_piecewise_network(self, rng):
        units = [sp.Max(0, w * x + v * y + b), sp.Piecewise((w * x - v * y, x > 0), (c, True))]
        loss = (units[0] + units[1] - z) ** 2
        values = data(rng, [x, y, z], 40, w=0.4, v=-0.2, b=0.1, c=0.3)
        values["x"][:3] = 0.0
        assert_reduces(sg.gradient(loss, wrt=[w, v, b, c]), values)

    def test_simplified_gradient(self, rng):
        grad = sg.gradient((sp.tanh(w * x + v * y + b) - z) ** 2, wrt=[w, v, b]).simplify()
        values = data(rng, [x, y, z], 30, w=0.2, v=0.6, b=-0.1)
        for reduce in ("sum", "mean"):
            value, partials = grad.lambdify(reduce=reduce)(**values)
            expected_value, expected = per_point(grad, values, reduce)
            assert np.allclose([value, *partials], [expected_value, *expected], rtol=1e-12)

    def test_nothing_to_group(self, rng):
        grad = sg.gradient(sp.sin(w * x) * y, wrt=[w])
        assert_reduces(grad, data(rng, [x, y], 10, w=0.5), grouped=False)


class TestData:
    loss = (sp.tanh(w * x + v * y + b) - z) ** 2
    grad = sg.gradient(loss, wrt=[w, v, b])

    def test_broadcast_and_scalar_data(self, rng):
        values = {"x": rng.standard_normal((6, 1)), "y": rng.standard_normal((1, 5)), "z": 0.5}
        assert_reduces(self.grad, {**values, "w": 0.3, "v": 0.9, "b": 0.1})
        scalars = {"x": 0.5, "y": -1.0, "z": 2.0, "w": 0.3, "v": 0.9, "b": 0.1}
        assert_reduces(self.grad, scalars)

    def test_a_batch_of_one_and_an_empty_batch(self, rng):
        one = data(rng, [x, y, z], 1, w=0.3, v=0.9, b=0.1)
        assert_reduces(self.grad, one)
        empty = {**data(rng, [x, y, z], 0), "w": 0.3, "v": 0.9, "b": 0.1}
        assert self.grad.lambdify(reduce="sum")(**empty) == (0.0, (0.0, 0.0, 0.0))

    def test_integer_data_and_weights(self):
        f = self.grad.lambdify(reduce="sum")
        got = f(x=[1, 2], y=[0, 1], z=[1, 1], w=1, v=2, b=0)
        expected = f(x=[1.0, 2.0], y=[0.0, 1.0], z=[1.0, 1.0], w=1.0, v=2.0, b=0.0)
        assert np.allclose([got[0], *got[1]], [expected[0], *expected[1]], rtol=1e-12)

    def test_the_same_numbers_as_the_lines_not_rerolled(self, rng):
        values = data(rng, [x, y, z], 500, w=0.3, v=0.9, b=0.1)
        value, partials = self.grad.lambdify(reduce="sum")(**values)
        old_value, old = not_rerolled(self.grad, values)
        assert np.allclose([value, *partials], [old_value, *old], rtol=1e-12, atol=0)


class TestSource:
    def test_a_wide_network_has_bounded_lines(self, rng):
        d, h = 34, 33  # more than WIDTH inputs and units: every list is built over lines
        weights, units = layer([range(d)] * h, XS)
        out = [sp.Symbol(f"u{j}", real=True) for j in range(h)]
        loss = (sp.Add(*(u * a for u, a in zip(out, units, strict=True))) - y) ** 2
        weights += out
        grad = sg.gradient(loss, wrt=weights)
        values = {**data(rng, [*XS[:d], y], 20), **weighted(rng, weights, 1 / 6)}
        f = assert_reduces(grad, values)
        for line in f.source.splitlines()[1:]:
            if line.lstrip().startswith(("a", "def")):  # the signature's own unpacking
                continue
            assert len(line) < CHARACTERS and line.count(",") <= WIDTH + 1, line[:200]
        assert "numpy.dot" not in f.source  # every dot is an entry of a block
        assert f.source.count(".sum(axis=1)") == 1

    def test_the_source_is_the_same_each_time(self):
        grad = sg.gradient((sp.tanh(w * x + v * y) - z) ** 2 + sp.sin(w * z), wrt=[w, v])
        assert grad.lambdify(reduce="sum").source == grad.lambdify(reduce="sum").source


class TestRerolled:
    def test_a_dot_with_too_few_stacked_names_stays_a_dot(self):
        lines = [(z, w * x + v * y + c * XS[0] + b * XS[1])]
        outputs = [BatchDot(z, x), BatchSum(z)]
        new_lines, new_outputs = rerolled(lines, outputs, batched={x, y, z, *XS[:2]})
        assert new_outputs == outputs  # one of four names: numpy.dot as before
        assert len(new_lines) == 4  # the stack, the coefficients, their product, the sum

    def test_grouped_dots_are_entries_of_one_product(self):
        lines = [(z, w * x + v * y)]
        outputs = [BatchDot(z, x), BatchDot(y, z)]
        new_lines, new_outputs = rerolled(lines, outputs, batched={x, y, z})
        assert all(not out.has(BatchDot) for out in new_outputs)
        assert [type(e).__name__ for _, e in new_lines][-1] == "Product"

    def test_nothing_to_group_returns_the_lines(self):
        lines = [(z, w * x + y)]
        assert rerolled(lines, [BatchSum(z)], batched={x, y, z}) == (lines, [BatchSum(z)])
