"""Stable forms at extreme arguments, against an arbitrary-precision mpmath reference.

Each case is a formula as a user writes it (``1/(1 + exp(-z))``), its value
and its derivative computed by mpmath in arbitrary precision, and the
compiled value and gradient, through ``sg.gradient(...).lambdify()``, the
simplified gradient and ``Graph.forward``, for scalar and matrix (entrywise)
graphs alike.  Where the true value underflows a float, ours must be 0 (not
NaN); elsewhere it must agree to 1e-12 relative.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph import layers, nn
from symgraph.numeric.stable import Logistic, Softplus, stable_form, stable_lines

DIGITS = 600  # 1 - σ(1000) is e^-1000 ≈ 1e-434
RTOL = 1e-12

z, y, a, b = sp.symbols("z y a b", real=True)


def _sigmoid(t):
    return 1 / (1 + mpmath.exp(-t))


def _bce(t, label):
    s = _sigmoid(t)
    return -(label * mpmath.log(s) + (1 - label) * mpmath.log(1 - s))


# name, formula in z (and y), mpmath value as a function of (z, y)
SCALAR = [
    ("sigmoid", nn.sigmoid(z), lambda t, _: _sigmoid(t)),
    ("sigmoid as exp/(1+exp)", sp.exp(z) / (1 + sp.exp(z)), lambda t, _: _sigmoid(t)),
    ("softplus", nn.softplus(z), lambda t, _: mpmath.log(1 + mpmath.exp(t))),
    ("log sigmoid", sp.log(nn.sigmoid(z)), lambda t, _: mpmath.log(_sigmoid(t))),
    ("log(1 - sigmoid)", sp.log(1 - nn.sigmoid(z)), lambda t, _: mpmath.log(1 - _sigmoid(t))),
    ("cross-entropy", nn.binary_cross_entropy([nn.sigmoid(z)], [y]), _bce),
    # y = 1 is left out: σ(25) - 1 cancels in the data itself (σ(25) is rounded before)
    (
        "squared sigmoid error",
        (nn.sigmoid(z) - 3 * y / 10) ** 2,
        lambda t, lab: (_sigmoid(t) - 3 * lab / 10) ** 2,
    ),
]
POINTS = [-1000.0, -35.0, -30.0, -25.0, -1e-12, 0.0, 1e-12, 25.0, 30.0, 35.0, 1000.0]
LABELS = [0.0, 1.0, 0.3]


def _reference(fn, t, label):
    """Value and derivative, in enough digits that 1 - σ(1000) ≈ 1e-434 is exact."""
    with mpmath.workdps(DIGITS):
        t, label = mpmath.mpf(t), mpmath.mpf(label)
        return fn(t, label), mpmath.diff(lambda u: fn(u, label), t)


def _close(ours, exact):
    """Within RTOL of the reference; 0 where the reference underflows a float."""
    exact = float(exact) if abs(exact) > mpmath.mpf("1e-300") else 0.0
    ours = float(ours)
    assert np.isfinite(ours), ours
    assert abs(ours - exact) <= RTOL * abs(exact) + 1e-300, (ours, exact)


@pytest.mark.parametrize("name, expr, fn", SCALAR, ids=[c[0] for c in SCALAR])
class TestScalarGraphs:
    def test_value_and_gradient_compiled(self, name, expr, fn):
        f = sg.gradient(expr, wrt=[z]).lambdify()
        labels = LABELS if expr.has(y) else [0.0]
        for label in labels:
            values = {"y": np.full(len(POINTS), label)} if expr.has(y) else {}
            value, (dz,) = f(z=np.array(POINTS), **values)
            for k, t in enumerate(POINTS):
                exact, slope = _reference(fn, t, label)
                _close(value[k], exact)
                _close(dz[k], slope)

    def test_scalar_floats_take_the_same_path(self, name, expr, fn):
        f = sg.gradient(expr, wrt=[z]).lambdify()
        values = {"y": 1.0} if expr.has(y) else {}
        for t in (-1000.0, 30.0, 1000.0):
            value, (dz,) = f(z=t, **values)
            exact, slope = _reference(fn, t, 1.0)
            _close(value, exact)
            _close(dz, slope)

    def test_simplified_gradient(self, name, expr, fn):
        f = sg.gradient(expr, wrt=[z]).simplify().lambdify()
        values = {"y": np.zeros(len(POINTS))} if expr.has(y) else {}
        value, (dz,) = f(z=np.array(POINTS), **values)
        for k, t in enumerate(POINTS):
            exact, slope = _reference(fn, t, 0.0)
            _close(value[k], exact)
            _close(dz[k], slope)

    def test_graph_forward(self, name, expr, fn):
        g = sg.Graph.from_expr(expr)
        values = {"y": 0.0} if expr.has(y) else {}
        for t in POINTS:
            _close(g.forward(z=t, **values)[g.output], _reference(fn, t, 0.0)[0])


class TestLog1pExpm1LogSumExp:
    def test_log_of_one_plus_a_small_number(self):
        f = sg.gradient(sp.log(1 + z**3) + sp.log(1 - z), wrt=[z]).lambdify()
        for t in (1e-12, 1e-6, -1e-9):
            value, (dz,) = f(z=t)
            exact, slope = _reference(lambda u, _: mpmath.log(1 + u**3) + mpmath.log(1 - u), t, 0)
            _close(value, exact)
            _close(dz, slope)

    def test_exp_minus_one(self):
        f = sg.gradient(sp.exp(z) - 1 + sp.exp(2 * z) - 1, wrt=[z]).lambdify()
        for t in (1e-12, -1e-9, 3e-5):
            value, (dz,) = f(z=t)
            exact, slope = _reference(lambda u, _: mpmath.exp(u) + mpmath.exp(2 * u) - 2, t, 0)
            _close(value, exact)
            _close(dz, slope)

    @pytest.mark.parametrize("point", [(1000.0, 999.0), (-1000.0, -1001.0), (30.0, -30.0)])
    def test_log_sum_exp(self, point):
        f = sg.gradient(sp.log(sp.exp(a) + sp.exp(b)), wrt=[a, b]).lambdify()
        value, (da, db) = f(a=point[0], b=point[1])
        ra, rb = (mpmath.mpf(p) for p in point)
        total = mpmath.exp(ra) + mpmath.exp(rb)
        _close(value, mpmath.log(total))
        _close(da, mpmath.exp(ra) / total)
        _close(db, mpmath.exp(rb) / total)

    def test_log_sum_exp_by_nn(self):
        f = sg.gradient(nn.logsumexp([a, b]), wrt=[a, b]).lambdify()
        value, (da, db) = f(a=1000.0, b=999.0)
        _close(value, mpmath.log(mpmath.exp(1000) + mpmath.exp(999)))
        _close(da + db, 1)


class TestMatrixGraphs:
    """Entrywise sigmoids and cross-entropy, value and gradient per entry."""

    Z = sp.MatrixSymbol("Z", len(POINTS), 1)
    Y = sp.MatrixSymbol("Y", len(POINTS), 1)

    @pytest.mark.parametrize("label", LABELS)
    def test_cross_entropy_on_sigmoid_outputs(self, label):
        loss = layers.binary_cross_entropy(
            layers.elementwise("sigmoid", self.Z), self.Y, reduction="sum"
        )
        f = sg.gradient(loss, wrt=[self.Z]).lambdify()
        value, (dZ,) = f(Z=np.array(POINTS), Y=np.full(len(POINTS), label))
        total = sum(_reference(_bce, t, label)[0] for t in POINTS)
        _close(value, total)
        for k, t in enumerate(POINTS):
            if abs(t) <= 35:
                _close(dZ[k, 0], _reference(_bce, t, label)[1])

    @pytest.mark.parametrize("label", LABELS)
    def test_cross_entropy_from_logits_everywhere(self, label):
        # every point, ±1000 included: the gradient (1 − y)σ(z) − yσ(−z) keeps every digit
        loss = layers.binary_cross_entropy(self.Z, self.Y, reduction="sum", logits=True)
        value, (dZ,) = sg.gradient(loss, wrt=[self.Z]).lambdify()(
            Z=np.array(POINTS), Y=np.full(len(POINTS), label)
        )
        _close(value, sum(_reference(_bce, t, label)[0] for t in POINTS))
        for k, t in enumerate(POINTS):
            _close(dZ[k, 0], _reference(_bce, t, label)[1])

    @pytest.mark.parametrize("label", LABELS)
    def test_scalar_cross_entropy_from_logits_everywhere(self, label):
        z, y = sp.symbols("z y", real=True)
        f = sg.gradient(nn.binary_cross_entropy([z], [y], logits=True), wrt=[z]).lambdify()
        _, (dz,) = f(z=np.array(POINTS), y=label)
        for k, t in enumerate(POINTS):
            # finite everywhere; SymPy distributes (1 − y)σ(z) into σ(z) − yσ(z), so where
            # σ(z) − y is tiny (y = 1, z = 25) the scalar graph keeps a few ulps of 1, not of it
            exact = float(_reference(_bce, t, label)[1])
            assert abs(dz[k] - exact) <= 1e-12 * abs(exact) + 4e-16, (t, dz[k], exact)

    def test_cross_entropy_gradient_at_a_logit_of_1000(self):
        loss = layers.binary_cross_entropy(
            layers.elementwise("sigmoid", self.Z), self.Y, reduction="sum"
        )
        _, (dZ,) = sg.gradient(loss, wrt=[self.Z]).lambdify()(
            Z=np.array(POINTS), Y=np.zeros(len(POINTS))
        )
        _close(dZ[-1, 0], 1.0)

    def test_sum_of_sigmoids(self):
        loss = (
            sg.SumEntries(layers.elementwise("sigmoid", self.Z))
            if hasattr(sg, "SumEntries")
            else None
        )
        from symgraph.rules.matfuncs import SumEntries

        loss = SumEntries(layers.elementwise("sigmoid", self.Z))
        value, (dZ,) = sg.gradient(loss, wrt=[self.Z]).lambdify()(Z=np.array(POINTS))
        _close(value, sum(_sigmoid(mpmath.mpf(t)) for t in POINTS))
        for k, t in enumerate(POINTS):
            _close(dZ[k, 0], _reference(lambda u, _: _sigmoid(u), t, 0)[1])

    def test_forward_of_softplus_entries(self):
        from symgraph.rules.matfuncs import SumEntries

        g = sg.Graph.from_expr(SumEntries(layers.elementwise("softplus", self.Z)))
        value = g.forward(Z=np.array(POINTS))[g.output]
        _close(value, sum(mpmath.log(1 + mpmath.exp(mpmath.mpf(t))) for t in POINTS))


class TestRewrites:
    def test_forms(self):
        assert stable_form(1 / (1 + sp.exp(-z))) == Logistic(z)
        assert stable_form(sp.log(1 + sp.exp(z))) == Softplus(z)
        assert stable_form(sp.log(nn.sigmoid(z))) == -Softplus(-z)
        assert stable_form(1 - nn.sigmoid(z)) == Logistic(-z)

    def test_forms_are_the_same_mathematics(self):
        """Each rewrite is an identity: its value equals the naive form's, in 50 digits."""
        exprs = [f for _, f, _ in SCALAR] + [sp.log(1 + z**2), sp.exp(z) - 1]
        for expr in exprs:
            stable = (
                stable_form(expr)
                .replace(Logistic, lambda u: 1 / (1 + sp.exp(-u)))
                .replace(Softplus, lambda u: sp.log(1 + sp.exp(u)))
            )
            for t in (sp.Integer(-3), sp.Rational(1, 2), sp.Integer(2)):
                point = {z: t, y: sp.Rational(3, 10)}
                naive, ours = (sp.N(e.subs(point), 30) for e in (expr, stable))
                assert abs(naive - ours) <= 1e-25 * (1 + abs(naive)), expr

    def test_lines_keep_names_and_reuse_earlier_lines(self):
        v1, v2, v3, s, t = sp.symbols("v1 v2 v3 s t", real=True)
        lines = [(v1, -z), (v2, sp.exp(v1)), (v3, 1 + v2), (s, 1 / v3), (t, s * y)]
        out = dict(stable_lines(lines))
        assert out[s] == Logistic(z)
        assert out[t] == s * y  # the sigmoid is not computed twice

    def test_lines_without_exp_or_log_are_untouched(self):
        v1, v2 = sp.symbols("v1 v2", real=True)
        lines = [(v1, sp.tanh(z)), (v2, 1 / (1 + v1))]
        assert stable_lines(lines) == lines

    def test_complex_step_through_stable_forms(self):
        """Each branch is analytic: Im f(z + ih)/h is the derivative."""
        f = sg.Graph.from_expr(nn.softplus(z) + nn.sigmoid(z))
        from symgraph.numeric.forward import forward_function

        fn = forward_function(f, inputs=[z], outputs=[f.output])
        h = 1e-30
        for t in (-30.0, 0.3, 30.0):
            slope = np.imag(fn(np.array([t + 1j * h]))[0][0]) / h
            exact = _reference(lambda u, _: mpmath.log(1 + mpmath.exp(u)) + _sigmoid(u), t, 0)[1]
            _close(slope, exact)


class TestCost:
    """The pass stays linear: each generated line stays a few operations, whatever the depth."""

    def test_a_deep_sigmoid_chain_keeps_short_lines_and_its_gradient(self):
        from symgraph.core.graph import forward_assignments
        from symgraph.numeric.lines import numeric_equations

        w, b, x = sp.symbols("w b x", real=True)
        steps, prev = [], x
        for i in range(40):
            a_i = sp.Symbol(f"a{i}", real=True)
            steps.append((a_i, 1 / (1 + sp.exp(-(w * prev + b)))))
            prev = a_i
        steps.append((sp.Symbol("L"), prev**2))
        grad = sg.Graph.from_assignments(steps, wrt=[w, b]).backward()
        lines = forward_assignments(grad.graph, needed_only=True) + numeric_equations(grad)
        grown = [
            sp.count_ops(new) - sp.count_ops(old)
            for (_, old), (_, new) in zip(lines, stable_lines(lines), strict=True)
        ]
        assert max(grown) <= 4, max(grown)  # was up to 78: earlier lines inlined again

        def loss(wv, bv):
            a_v = mpmath.mpf("0.3")
            for _ in range(40):
                a_v = _sigmoid(wv * a_v + bv)
            return a_v**2

        _, (dw, db) = grad.lambdify()(x=0.3, w=0.8, b=-0.2)
        with mpmath.workdps(40):
            exact_w = mpmath.diff(lambda t: loss(t, mpmath.mpf("-0.2")), mpmath.mpf("0.8"))
            exact_b = mpmath.diff(lambda t: loss(mpmath.mpf("0.8"), t), mpmath.mpf("-0.2"))
        _close(dw, exact_w)
        _close(db, exact_b)
