"""Jacobians, Hessians and Hessian-vector products against independent oracles.

Oracles: ``sympy.Matrix.jacobian`` and ``sympy.hessian`` (compared exactly
with ``sympy.simplify`` on small cases, at random points otherwise), central
differences of the compiled gradient, and a plain DAG evaluator for closed
forms too deep for SymPy's own ``lambdify``.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import sympy_values
from test_properties import expressions

import symgraph as sg
from symgraph.ad.derivatives import AdjointNode, gradient_assignments, hessian, hvp, jacobian
from symgraph.errors import GraphError

w, x, b, y = sp.symbols("w x b y", real=True)
u1, u2, u3 = sp.symbols("u1 u2 u3", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def values_at(matrix, symbols, columns):
    """Every entry of ``matrix`` at the points ``columns`` by SymPy's lambdify: (entries, n).

    One ``lambdify`` for all entries, with ``Heaviside(0) = 1/2`` given as a
    NumPy function (SymPy's own printer rewrites Heaviside of a Piecewise
    into nested Piecewise, which takes seconds); entry by entry
    (:func:`sympy_values`) if SymPy's printer fails on one of them.
    """
    entries = [e.replace(sp.DiracDelta, lambda *a: sp.S.Zero) for e in matrix]
    shape = np.shape(columns[0])
    try:
        fn = sp.lambdify(symbols, entries, modules=[{"Heaviside": _heaviside}, "scipy", "numpy"])
        with np.errstate(all="ignore"):
            values = fn(*columns)
        return np.array([np.broadcast_to(np.asarray(v, dtype=complex), shape) for v in values])
    except (TypeError, ValueError, NameError):
        return np.array([sympy_values(e, symbols, columns) for e in matrix])


def _heaviside(t, at_zero=0.5):
    return np.heaviside(t, at_zero)


def assert_exactly_equal(ours, theirs):
    difference = (sp.Matrix(ours) - sp.Matrix(theirs)).applyfunc(sp.simplify)
    assert difference == sp.zeros(*difference.shape), difference


def fd_hessian(grad, point, h=1e-5):
    """Central differences of the compiled gradient: column j is ∂(∇f)/∂w_j."""
    f = grad.lambdify()
    columns = []
    for wj in grad.wrt:
        up, down = dict(point), dict(point)
        up[wj.name] += h
        down[wj.name] -= h
        columns.append((np.array(f(**up)[1]) - np.array(f(**down)[1])) / (2 * h))
    return np.array(columns).T


NUMPY = {sp.sin: np.sin, sp.cos: np.cos, sp.tanh: np.tanh, sp.exp: np.exp, sp.log: np.log}


def dag_values(exprs, point):
    """Closed forms' values, walking them as one DAG (iteratively, each shared piece once).

    Independent of symgraph's code generator, and fine on closed forms far
    too deep for ``sympy.lambdify``.
    """
    done: dict[int, float] = {}
    stack = [(e, False) for e in exprs]
    while stack:
        e, ready = stack.pop()
        if id(e) in done:
            continue
        if e.is_Symbol or e.is_Number:
            done[id(e)] = float(point[e.name]) if e.is_Symbol else float(e)
            continue
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in done)
            continue
        args = [done[id(a)] for a in e.args]
        if isinstance(e, sp.Add):
            done[id(e)] = float(np.sum(args))
        elif isinstance(e, sp.Mul):
            done[id(e)] = float(np.prod(args))
        elif isinstance(e, sp.Pow):
            done[id(e)] = args[0] ** args[1]
        elif e.func in NUMPY:
            done[id(e)] = float(NUMPY[e.func](*args))
        else:
            done[id(e)] = float(e.func(*map(sp.Float, args)))
    return np.array([done[id(e)] for e in exprs])


# --- jacobian -------------------------------------------------------------------


class TestJacobian:
    def test_polar_coordinates_equal_sympy_exactly(self):
        r, t = sp.symbols("r t", positive=True)
        exprs = [r * sp.cos(t), r * sp.sin(t)]
        assert_exactly_equal(jacobian(exprs, [r, t]), sp.Matrix(exprs).jacobian([r, t]))

    def test_layer_with_shared_subexpressions_equals_sympy(self, rng):
        """Three outputs sharing tanh(w*x + b): one graph, one pass per output."""
        hidden = sp.tanh(w * x + b)
        exprs = [hidden, hidden**2 - y, sp.exp(hidden) * w, sp.log(1 + hidden**2)]
        wrt = [w, b, y]
        ours = jacobian(exprs, wrt)
        assert ours.shape == (4, 3)
        symbols = [w, x, b, y]
        columns = [rng.uniform(-2, 2, 15) for _ in symbols]
        theirs = sp.Matrix(exprs).jacobian(wrt)
        np.testing.assert_allclose(
            values_at(ours, symbols, columns), values_at(theirs, symbols, columns), rtol=1e-10
        )

    def test_same_with_fine_granularity(self):
        exprs = [w * x * b + y, sp.sin(w + x + b)]
        fine = jacobian(exprs, [w, b], granularity="fine")
        assert_exactly_equal(fine, jacobian(exprs, [w, b]))
        assert_exactly_equal(fine, sp.Matrix(exprs).jacobian([w, b]))

    @pytest.mark.parametrize("shape", [(3, 1), (1, 3)])
    def test_column_or_row_matrix_gives_one_row_per_output(self, shape):
        outputs = sp.Matrix(*shape, [w**2, w * b, sp.sin(b)])
        ours = jacobian(outputs, [w, b])
        assert ours.shape == (3, 2)
        assert_exactly_equal(ours, sp.Matrix(list(outputs)).jacobian([w, b]))

    def test_constant_weight_and_input_outputs(self):
        """An output may be a constant, a weight itself, or an input alone."""
        ours = jacobian([sp.Integer(3), w, x, w * x], [w, b])
        assert ours == sp.ImmutableMatrix([[0, 0], [1, 0], [0, 0], [x, 0]])

    def test_one_output_is_part_of_another(self):
        inner = sp.sin(w * x)
        ours = jacobian([inner, inner * b], [w, b])
        assert_exactly_equal(ours, sp.Matrix([inner, inner * b]).jacobian([w, b]))

    def test_all_free_symbols_when_wrt_is_none(self):
        assert jacobian([w * x, b], None) == sp.ImmutableMatrix([[0, x, w], [1, 0, 0]])

    def test_one_scalar_and_no_outputs(self):
        assert jacobian(w**2, [w]) == sp.ImmutableMatrix([[2 * w]])
        assert jacobian([], [w, b]).shape == (0, 2)

    def test_empty_wrt_is_refused(self):
        with pytest.raises(GraphError, match="wrt is empty"):
            jacobian([w * x], [])

    def test_weight_listed_twice_is_refused(self):
        with pytest.raises(GraphError, match="w is listed twice"):
            jacobian([w * x], [w, b, w])

    def test_two_dimensional_matrix_is_refused(self):
        with pytest.raises(GraphError, match="row or a column"):
            jacobian(sp.Matrix([[w, b], [x, y]]), [w])

    def test_text_and_non_symbol_weights_are_refused(self):
        with pytest.raises(GraphError, match="text"):
            jacobian(["w*x"], [w])
        with pytest.raises(GraphError, match="symbols"):
            jacobian([w * x], [w * 2])


# --- hessian --------------------------------------------------------------------

SMALL = [
    (w**3 * b + sp.sin(w * b), [w, b]),
    ((sp.tanh(w * x + b) - y) ** 2, [w, b]),
    (sp.log(1 + sp.exp(-y * (w * x + b))), [w, b]),
    (sp.exp(w) * sp.cos(b) + w * b * x, [w, b, x]),
]


class TestHessian:
    @pytest.mark.parametrize("expr, wrt", SMALL, ids=["poly-sin", "neuron", "logistic", "three"])
    def test_equals_sympy_hessian_exactly(self, expr, wrt):
        assert_exactly_equal(hessian(expr, wrt), sp.hessian(expr, wrt))

    @pytest.mark.parametrize("expr, wrt", SMALL, ids=["poly-sin", "neuron", "logistic", "three"])
    def test_symmetric_exactly(self, expr, wrt):
        ours = hessian(expr, wrt)
        assert_exactly_equal(ours, ours.T)

    def test_symmetric_numerically_and_equal_to_central_differences(self, rng):
        loss = sp.log(1 + sp.exp(-y * sp.tanh(w * x + b * x**2))) + sp.atan(w * b) ** 2
        wrt = [w, b]
        ours = hessian(loss, wrt)
        grad = sg.gradient(loss, wrt)
        for _ in range(4):
            point = {s.name: rng.uniform(-1.5, 1.5) for s in (w, x, b, y)}
            values = dag_values(list(ours), point).reshape(2, 2)
            np.testing.assert_allclose(values, values.T, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(values, fd_hessian(grad, point), rtol=1e-6, atol=1e-8)

    def test_weight_not_in_expression_has_zero_row_and_column(self):
        ours = hessian(w**2 * x, [w, b])
        assert ours == sp.ImmutableMatrix([[2 * x, 0], [0, 0]])

    def test_linear_expression_has_zero_hessian(self):
        assert hessian(w * x + b, [w, b]) == sp.zeros(2, 2)

    def test_same_with_fine_granularity(self):
        expr = w * x * b * sp.sin(w + b + x)
        assert_exactly_equal(hessian(expr, [w, b], granularity="fine"), sp.hessian(expr, [w, b]))

    def test_graph_of_named_assignments(self):
        """A graph from a paper's assignments: its own weights when wrt is None."""
        z, a, L = sp.symbols("z a L", real=True)
        g = sg.Graph.from_assignments([(z, w * x + b), (a, sp.tanh(z)), (L, (a - y) ** 2)], [w, b])
        expr = (sp.tanh(w * x + b) - y) ** 2
        assert_exactly_equal(hessian(g, None), sp.hessian(expr, [w, b]))

    def test_all_free_symbols_when_wrt_is_none(self):
        assert hessian(b * w**2, None) == sp.ImmutableMatrix([[0, 2 * w], [2 * w, 2 * b]])

    @pytest.mark.parametrize("outputs", [[w * x, b], (w,), sp.Matrix([w**2, b])])
    def test_non_scalar_is_refused(self, outputs):
        with pytest.raises(GraphError, match="one scalar expression.*jacobian"):
            hessian(outputs, [w, b])

    def test_empty_wrt_is_refused(self):
        with pytest.raises(GraphError, match="wrt is empty"):
            hessian(w * x, [])

    def test_weight_listed_twice_is_refused(self):
        with pytest.raises(GraphError, match="b is listed twice"):
            hessian(w * b, [b, w, b])


# --- hvp ------------------------------------------------------------------------


class TestHvp:
    def test_equals_hessian_times_v_at_random_points(self, rng):
        loss = (sp.tanh(w * x + b) - y) ** 2 + sp.exp(w * b) / 10
        wrt, v = [w, b], [u1, u2]
        hv = hvp(loss, wrt, v)
        assert isinstance(hv, sg.Gradient) and hv.wrt == (w, b)
        f = hv.lambdify()
        columns = [rng.uniform(-1.5, 1.5, 20) for _ in f.args]
        _, ours = f(*columns)
        theirs = values_at(sp.hessian(loss, wrt) * sp.Matrix(v), f.args, columns)
        np.testing.assert_allclose(np.array(ours), theirs.real, rtol=1e-10, atol=1e-12)

    def test_equals_central_differences_of_the_gradient_along_v(self, rng):
        loss = sp.log(1 + sp.exp(-y * (w * x + b))) + sp.sin(w) * b**2
        wrt = [w, b]
        f_grad = sg.gradient(loss, wrt).lambdify()
        f_hv = hvp(loss, wrt, {w: u1, b: u2}).lambdify()
        h = 1e-5
        for _ in range(4):
            point = {s.name: rng.uniform(-1.5, 1.5) for s in (w, x, b, y)}
            v = rng.normal(size=2)
            up = {**point, "w": point["w"] + h * v[0], "b": point["b"] + h * v[1]}
            down = {**point, "w": point["w"] - h * v[0], "b": point["b"] - h * v[1]}
            numeric = (np.array(f_grad(**up)[1]) - np.array(f_grad(**down)[1])) / (2 * h)
            _, ours = f_hv(**point, u1=v[0], u2=v[1])
            np.testing.assert_allclose(ours, numeric, rtol=1e-6, atol=1e-8)

    def test_check_passes(self):
        hv = hvp(sp.tanh(w * x + b) ** 2 * sp.sin(b), [w, b], [u1, u2])
        report = sg.check(hv)
        assert report.ok, str(report)
        assert "sympy.diff" in report.rows[0].methods

    def test_latex_and_structured_form(self):
        hv = hvp(sp.sin(w * x), [w], [u1])
        assert hv[w] == -u1 * x**2 * sp.sin(w * x)
        assert r"\frac{\partial s}{\partial w}" in hv.latex()
        assert r"\bar{v_{1}}" in hv.latex(form="structured")  # the first pass's δ_v1, as a node

    def test_numeric_direction_gives_a_hessian_row(self):
        expr = w**3 * b + sp.sin(w * b)
        row = hvp(expr, [w, b], [1, 0])
        H = sp.hessian(expr, [w, b])
        assert_exactly_equal([row[w], row[b]], [H[0, 0], H[0, 1]])

    def test_mapping_by_name_equals_sequence(self):
        expr = sp.exp(w * b) * x
        by_name = hvp(expr, [w, b], {"b": u2, "w": u1})
        assert_exactly_equal([by_name[w], by_name[b]], [*hvp(expr, [w, b], [u1, u2]).values()])

    def test_weight_not_in_expression_gets_zero(self):
        hv = hvp(w**2 * x, [w, b], [u1, u2])
        assert hv[w] == 2 * u1 * x and hv[b] == 0

    def test_linear_expression_gives_zero(self):
        hv = hvp(w * x + b, [w, b], [u1, u2])
        assert hv[w] == 0 and hv[b] == 0
        _, partials = hv.lambdify()(x=1.0, w=2.0, b=3.0, u1=1.0, u2=1.0)
        assert [float(p) for p in partials] == [0.0, 0.0]

    def test_cost_is_linear_in_the_graph(self):
        """One node per forward node and per δ-equation, a few per weight: not k passes."""
        k = 40
        ws = sp.symbols(f"w1:{k + 1}", real=True)
        xs = sp.symbols(f"x1:{k + 1}", real=True)
        vs = sp.symbols(f"v1:{k + 1}", real=True)
        loss = sp.log(1 + sp.exp(-y * sum(a * c for a, c in zip(ws, xs, strict=True))))
        grad = sg.gradient(loss, ws)
        hv = hvp(loss, ws, vs)
        n = grad.graph.size["nodes"] + len(grad.equations)
        assert hv.graph.size["nodes"] <= n + 2 * k + 2
        assert len(hv.equations) <= hv.graph.size["nodes"]

    def test_wrong_length_is_refused(self):
        with pytest.raises(GraphError, match="3 entries but there are 2 weights"):
            hvp(w * b, [w, b], [u1, u2, u3])

    def test_missing_or_unknown_direction_is_refused(self):
        with pytest.raises(GraphError, match="no direction for b"):
            hvp(w * b, [w, b], {w: u1})
        with pytest.raises(GraphError, match="x, which is not a weight"):
            hvp(w * b, [w, b], {w: u1, b: u2, x: u3})

    def test_direction_depending_on_a_weight_is_refused(self):
        with pytest.raises(GraphError, match="depends on the weight w"):
            hvp(w * b, [w, b], [u1, w])

    def test_direction_named_like_another_symbol_is_refused(self):
        with pytest.raises(GraphError, match="name of a different symbol"):
            hvp(w * x, [w], [sp.Symbol("x")])

    def test_directions_named_like_generated_nodes(self):
        """v1, v2 are also the names symgraph gives intermediates: those are renamed."""
        v1, v2 = sp.symbols("v1 v2", real=True)
        expr = sp.sin(w * x + b) * b
        hv = hvp(expr, [w, b], [v1, v2])
        assert {v1, v2} <= set(hv.graph.leaves)
        assert_exactly_equal([*hv.values()], sp.hessian(expr, [w, b]) * sp.Matrix([v1, v2]))
        _, partials = hv.lambdify()(x=0.5, w=0.3, b=-0.2, v1=1.0, v2=0.0)
        assert np.isfinite(partials).all()

    def test_an_input_may_be_a_direction(self):
        hv = hvp(w**2 * sp.sin(b) * x, [w, b], [x, 1])
        assert_exactly_equal(
            [*hv.values()], sp.hessian(w**2 * sp.sin(b) * x, [w, b]) * sp.Matrix([x, 1])
        )

    def test_text_direction_is_refused(self):
        with pytest.raises(GraphError, match="SymPy expression"):
            hvp(w * b, [w, b], ["u1", "u2"])

    def test_non_scalar_empty_and_twice_are_refused(self):
        with pytest.raises(GraphError, match="scalar"):
            hvp([w, b], [w, b], [u1, u2])
        with pytest.raises(GraphError, match="wrt is empty"):
            hvp(w * b, [], [])
        with pytest.raises(GraphError, match="listed twice"):
            hvp(w * b, [w, w], [u1, u2])


# --- the gradient's graph -------------------------------------------------------


class TestGradientAssignments:
    def test_forward_nodes_then_adjoint_nodes_weights_stay_leaves(self, rng):
        loss = (sp.tanh(w * x + b) - y) ** 2
        grad = sg.gradient(loss, [w, b])
        steps, component = gradient_assignments(grad)
        targets = [t for t, _ in steps]
        assert len(set(targets)) == len(targets)
        forward = [n for n in grad.graph.topological_order() if grad.graph.op(n) is not None]
        assert targets[: len(forward)] == forward
        assert all(isinstance(t, AdjointNode) for t in targets[len(forward) :])
        assert not {w, b} & set(targets)
        # The public builder takes them as they are; the components are the gradient.
        g = sg.Graph.from_assignments(steps, wrt=[w, b])
        point = {s.name: rng.uniform(-1, 1) for s in (w, x, b, y)}
        values = g.forward(point)
        _, partials = grad.lambdify()(**point)
        for wk, partial in zip([w, b], partials, strict=True):
            np.testing.assert_allclose(float(values[component[wk]]), float(partial), rtol=1e-12)

    def test_adjoint_node_prints_as_a_bar(self):
        steps, _ = gradient_assignments(sg.gradient(sp.sin(w * x), [w]))
        assert [str(t) for t, _ in steps] == ["v1", "L", "g_v1", "g_w"]
        assert sp.latex(steps[2][0]) == r"\bar{v_{1}}"

    def test_names_never_collide_with_the_graph(self):
        g_w = sp.Symbol("g_w", real=True)  # a user's symbol with an adjoint node's name
        steps, component = gradient_assignments(sg.gradient(sp.sin(w * g_w), [w]))
        assert component[w].name != "g_w"
        assert hessian(sp.sin(w * g_w), [w]) == sp.ImmutableMatrix([[-(g_w**2) * sp.sin(w * g_w)]])


# --- deep graphs ----------------------------------------------------------------


@pytest.fixture(scope="module")
def deep_chain():
    """300 nested tanh/sin levels over two weights (built unevaluated: SymPy recurses)."""
    ws = sp.symbols("w1:3", real=True)
    e = x
    for k in range(300):
        if k % 2 == 0:
            e = sp.tanh(sp.Mul(ws[k % 4 // 2], e, evaluate=False), evaluate=False)
        else:
            e = sp.sin(sp.Add(e, ws[k % 4 // 2], evaluate=False), evaluate=False)
    point = {"x": 0.3, "w1": 0.9, "w2": 0.7}
    return e, list(ws), point, fd_hessian(sg.gradient(e, ws), point)


def test_deep_chain_hessian(deep_chain):
    expr, ws, point, numeric = deep_chain
    ours = hessian(expr, ws)
    values = dag_values(list(ours), point).reshape(2, 2)
    np.testing.assert_allclose(values, values.T, rtol=1e-10)
    np.testing.assert_allclose(values, numeric, rtol=1e-5, atol=1e-7)


def test_deep_chain_jacobian(deep_chain):
    expr, ws, point, _ = deep_chain
    ours = jacobian([expr, expr * ws[0]], ws)
    _, partials = sg.gradient(expr, ws).lambdify()(**point)
    value = dag_values([expr], point)[0]
    theirs = [*partials, *(point["w1"] * np.array(partials) + value * np.eye(2)[0])]
    np.testing.assert_allclose(dag_values(list(ours), point), theirs, rtol=1e-10)


def test_deep_chain_hvp(deep_chain):
    expr, ws, point, numeric = deep_chain
    vs = sp.symbols("v1:3", real=True)
    hv = hvp(expr, ws, vs)
    v = np.array([0.5, -2.0])
    _, ours = hv.lambdify()(**point, v1=v[0], v2=v[1])
    np.testing.assert_allclose(np.array(ours, dtype=float), numeric @ v, rtol=1e-5, atol=1e-7)


# --- properties -----------------------------------------------------------------

COMMON = dict(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _usable_compare(ours, theirs):
    usable = np.isfinite(theirs) & (np.abs(theirs.imag) < 1e-12)
    assert usable.mean() >= 0.5, "too few points where SymPy's derivative is finite"
    np.testing.assert_allclose(ours[usable], theirs.real[usable], rtol=1e-8, atol=1e-9)


@settings(**COMMON)
@given(expressions)
def test_hessian_equals_sympy_hessian(expr):
    wrt = sorted(expr.free_symbols, key=str)
    k = len(wrt)
    rng = np.random.default_rng(0)
    columns = [rng.uniform(-1.5, 1.5, 10) for _ in wrt]
    ours = values_at(hessian(expr, wrt), wrt, columns).real
    _usable_compare(ours, values_at(sp.hessian(expr, wrt), wrt, columns))
    square, mirrored = ours.reshape(k, k, -1), ours.reshape(k, k, -1).transpose(1, 0, 2)
    finite = np.isfinite(square) & np.isfinite(mirrored)
    np.testing.assert_allclose(square[finite], mirrored[finite], rtol=1e-8, atol=1e-9)


@settings(**COMMON)
@given(expressions, st.integers(0, 2**16))
def test_hvp_equals_hessian_times_v(expr, seed):
    wrt = sorted(expr.free_symbols, key=str)
    vs = sp.symbols(f"u1:{len(wrt) + 1}", real=True)
    f = hvp(expr, wrt, vs).lambdify()
    rng = np.random.default_rng(seed)
    columns = [rng.uniform(-1.5, 1.5, 10) for _ in f.args]
    _, ours = f(*columns)
    theirs = values_at(sp.hessian(expr, wrt) * sp.Matrix(vs), f.args, columns)
    ours = np.array([np.broadcast_to(p, (10,)) for p in ours], dtype=float)
    _usable_compare(ours, theirs)


@settings(**COMMON)
@given(st.lists(expressions, min_size=1, max_size=3))
def test_jacobian_equals_sympy_jacobian(exprs):
    symbols = sorted(set().union(*(e.free_symbols for e in exprs)), key=str)
    ours = jacobian(exprs, symbols)
    rng = np.random.default_rng(1)
    columns = [rng.uniform(-1.5, 1.5, 10) for _ in symbols]
    theirs = sp.Matrix(exprs).jacobian(symbols)
    mine = values_at(ours, symbols, columns).real
    _usable_compare(mine, values_at(theirs, symbols, columns))


# --- matrix weights and matrix outputs ---


class TestMatrices:
    W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
    V = sp.MatrixSymbol("V", 2, 3)

    def loss(self):
        r = (self.W * self.x).applyfunc(sp.tanh) - self.y
        return sp.Trace(r.T * r)

    def point(self, seed=1):
        rng = np.random.default_rng(seed)
        return dict(W=rng.normal(size=(2, 3)), x=rng.normal(size=(3, 1)), y=rng.normal(size=(2, 1)))

    def gradient_differences(self, at, direction, eps=1e-6):
        """Central differences of the compiled gradient along a direction (an HVP oracle)."""
        f = sg.gradient(self.loss(), wrt=[self.W]).lambdify()
        up = f(**{**at, "W": at["W"] + eps * direction})[1][0]
        down = f(**{**at, "W": at["W"] - eps * direction})[1][0]
        return (up - down) / (2 * eps)

    def test_hvp_of_a_matrix_weight_is_w_shaped_and_matches_differences(self):
        hv = sg.hvp(self.loss(), [self.W], [self.V])
        assert hv[self.W].shape == (2, 3)
        at = self.point()
        direction = np.random.default_rng(2).normal(size=(2, 3))
        _, (ours,) = hv.lambdify()(**at, V=direction)
        np.testing.assert_allclose(ours, self.gradient_differences(at, direction), atol=1e-7)
        assert sg.check(hv).ok

    def test_hessian_over_matrix_entries_matches_differences_and_is_symmetric(self):
        H = sg.hessian(self.loss(), [self.W])
        assert H.shape == (6, 6)
        at = self.point(3)
        values = {}
        for name, symbol in (("W", self.W), ("x", self.x), ("y", self.y)):
            for (i, j), v in np.ndenumerate(at[name]):
                values[symbol[i, j]] = v
        ours = np.array(H.xreplace(values).evalf(), dtype=float)
        np.testing.assert_allclose(ours, ours.T, atol=1e-12)
        for k in range(6):
            unit = np.zeros(6)
            unit[k] = 1.0
            column = self.gradient_differences(at, unit.reshape(2, 3)).ravel()
            np.testing.assert_allclose(ours[:, k], column, atol=1e-7)

    def test_hessian_of_a_matrix_weight_needs_concrete_shapes(self):
        n = sp.Symbol("n", integer=True, positive=True)
        A = sp.MatrixSymbol("A", n, n)
        with pytest.raises(GraphError, match="concrete shape"):
            sg.hessian(sp.Trace(A * A.T), [A])

    def test_hessian_of_a_quadratic_form_is_the_matrix_cookbook_one(self):
        """L = xᵀ A x: H = A + Aᵀ (Matrix Cookbook (81))."""
        A = sp.MatrixSymbol("A", 3, 3)
        H = sg.hessian(sp.Trace(self.x.T * A * self.x), [self.x])
        expected = (A + A.T).as_explicit()
        assert sp.simplify(H - expected) == sp.zeros(3, 3)

    def test_jacobian_of_a_vector_output(self):
        y = (self.W * self.x).applyfunc(sp.tanh)
        ours = sg.jacobian(y, [self.x])
        theirs = y.as_explicit().jacobian(list(self.x.as_explicit()))
        assert ours.shape == (2, 3)
        assert sp.simplify(ours - theirs) == sp.zeros(2, 3)
        by_weight = sg.jacobian(y, [self.W])
        assert by_weight.shape == (2, 6)
        assert sp.simplify(by_weight - y.as_explicit().jacobian(list(self.W.as_explicit()))) == (
            sp.zeros(2, 6)
        )
