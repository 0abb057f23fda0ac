"""Compiled gradients: call conventions, values against sympy.diff, generated code, kinks.

The oracles are independent of symgraph's code generator: ``sympy.diff`` evaluated
by SymPy's own ``lambdify`` (tests/oracles.py), plain NumPy loops with central
differences for the deep chain, and numbers worked out by hand.
"""

import ast
import os
import re
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import sympy as sp
from oracles import assert_matches_sympy_diff, sympy_values

import symgraph as sg
from symgraph.ad.backward import backward
from symgraph.errors import EvaluationError, GraphError, NoRuleError, SymgraphError
from symgraph.numeric.codegen import make_function

w, x, b, y = sp.symbols("w x b y", real=True)


@pytest.fixture
def rng():
    return np.random.default_rng(20261126)


def chain(depth, step=sp.sin):
    """Named steps a_k = step(w_k a_{k-1}) from a_0 = x; the last one is the output."""
    ws = sp.symbols(f"w1:{depth + 1}", real=True)
    steps = sp.symbols(f"a1:{depth + 1}", real=True)
    assignments, previous = [], x
    for wk, ak in zip(ws, steps, strict=True):
        assignments.append((ak, step(wk * previous)))
        previous = ak
    return backward(sg.Graph.from_assignments(assignments, wrt=list(ws))), ws


def body_lines(source):
    """The statements of the generated function, one string each."""
    return [line.strip() for line in source.splitlines()[1:]]


# --- calling -----------------------------------------------------------------------


class TestCallConventions:
    @pytest.fixture
    def f(self):
        # weights deliberately not in name order: args keep the wrt order
        return sg.gradient(sp.sin(w * x) + b * y, wrt=[w, b]).lambdify()

    @staticmethod
    def expected(x_, y_, w_, b_):
        return np.sin(w_ * x_) + b_ * y_, (x_ * np.cos(w_ * x_), y_)

    def test_args_are_inputs_by_name_then_weights_in_wrt_order(self, f):
        assert f.args == (x, y, w, b)
        assert f.wrt == (w, b)

    def test_positional_keyword_and_mixed_calls_agree(self, f):
        point = {"x": 0.7, "y": -1.3, "w": 2.1, "b": 0.4}
        value, (dw, db) = self.expected(**{k + "_": v for k, v in point.items()})
        calls = [
            f(*(point[s.name] for s in f.args)),
            f(**point),
            f(0.7, -1.3, w=2.1, b=0.4),
            f(0.7, b=0.4, w=2.1, y=-1.3),
        ]
        for got_value, (got_dw, got_db) in calls:
            assert got_value == pytest.approx(value, rel=1e-14)
            assert got_dw == pytest.approx(dw, rel=1e-14)
            assert got_db == pytest.approx(db, rel=1e-14)

    @pytest.mark.parametrize(
        "args, kwargs, words, error",
        [
            ((1.0, 2.0, 3.0, 4.0, 5.0), {}, ["at most 4", "5"], EvaluationError),
            # Python's own binding error: the entry takes the inputs' names as parameters
            ((1.0, 2.0), {"x": 1.0, "w": 1.0, "b": 1.0}, ["multiple values", "'x'"], TypeError),
            ((1.0, 2.0, 3.0), {}, ["b"], EvaluationError),
            ((), {"x": 1.0, "y": 1.0, "w": 1.0}, ["b"], EvaluationError),
            ((), {"x": 1.0, "y": 1.0, "w": 1.0, "b": 1.0, "q": 2.0}, ["q"], EvaluationError),
        ],
        ids=["too-many", "given-twice", "missing-positional", "missing-keyword", "unknown"],
    )
    def test_refused_calls_name_the_problem(self, f, args, kwargs, words, error):
        with pytest.raises(error) as info:
            f(*args, **kwargs)
        assert isinstance(info.value, ValueError if error is EvaluationError else TypeError)
        for word in words:
            assert word in str(info.value)

    @pytest.mark.parametrize("name", ["x_{1}", "x 1", "λ-2", "class", "a0", "t1", "numpy"])
    def test_names_that_are_not_identifiers_or_clash_with_generated_ones(self, name):
        s = sp.Symbol(name, real=True)
        f = sg.gradient(w * s + sp.exp(s), wrt=[w]).lambdify()
        value, (dw,) = f(**{name: 2.0, "w": 3.0})
        assert value == pytest.approx(6.0 + np.exp(2.0))
        assert dw == pytest.approx(2.0)
        assert f(2.0, 3.0)[0] == value

    def test_two_symbols_with_one_name_are_refused(self):
        """Matched by name, they would silently get one value (9 would come out as 12)."""
        plain_x = sp.Symbol("x")
        with pytest.raises(SymgraphError, match="two different symbols are named 'x'"):
            sg.gradient(w * x + w * plain_x, wrt=[w])


# --- values ------------------------------------------------------------------------

EXPRESSIONS = {
    "tanh loss": ((sp.tanh(w * x + b) - y) ** 2, [w, b], -2, 2),
    "sigmoid": (1 / (1 + sp.exp(-(w * x + b))), [w, b], -2, 2),
    "softplus": (sp.log(1 + sp.exp(w * x + b)), [w, b], -2, 2),
    "shared subexpression": (sp.sin(w * x) * sp.cos(w * x) + sp.sin(w * x) ** 3, [w], -2, 2),
    "quotient": (w / (1 + w**2 * x**2), [w], -2, 2),
    "log sqrt pow": (sp.log(w) * sp.sqrt(x) + w**x, [w, x], 0.1, 3),
    "atan2 erf": (sp.atan2(w, x) + sp.erf(w * b), [w, b], 0.1, 2),
    "three weights": (sp.exp(-((w - x) ** 2) / b**2) * y, [w, b, y], 0.3, 2),
}


@pytest.mark.parametrize("name", EXPRESSIONS)
def test_partials_equal_sympy_diff_at_random_points(name):
    expr, wrt, low, high = EXPRESSIONS[name]
    assert_matches_sympy_diff(sg.gradient(expr, wrt=wrt), points=25, low=low, high=high)


@pytest.mark.parametrize("name", ["tanh loss", "three weights"])
def test_value_equals_the_expression(name, rng):
    expr, wrt, low, high = EXPRESSIONS[name]
    f = sg.gradient(expr, wrt=wrt).lambdify()
    columns = [rng.uniform(low, high, 30) for _ in f.args]
    value, _ = f(*columns)
    np.testing.assert_allclose(value, sympy_values(expr, f.args, columns).real, rtol=1e-12)


class TestShapes:
    @pytest.fixture
    def f(self):
        # d/dw is the constant 3, d/db is y: neither depends on every argument
        return sg.gradient(3 * w + b * y + sp.sin(x), wrt=[w, b]).lambdify()

    def check(self, result, shape, y_values):
        value, (dw, db) = result
        for out in (value, dw, db):
            assert isinstance(out, np.ndarray) and out.shape == shape
        np.testing.assert_array_equal(dw, np.full(shape, 3.0))
        np.testing.assert_array_equal(db, np.broadcast_to(y_values, shape))

    def test_arrays_of_one_shape(self, f, rng):
        xs, ys, ws, bs = (rng.uniform(-1, 1, 7) for _ in range(4))
        self.check(f(x=xs, y=ys, w=ws, b=bs), (7,), ys)

    def test_scalar_weights_with_array_inputs(self, f, rng):
        xs, ys = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
        self.check(f(x=xs, y=ys, w=0.5, b=-0.25), (5,), ys)

    def test_column_times_row_broadcasts(self, f, rng):
        xs = rng.uniform(-1, 1, (4, 1))
        ys = rng.uniform(-1, 1, 3)
        self.check(f(x=xs, y=ys, w=1.0, b=2.0), (4, 3), ys)

    def test_only_the_weight_is_an_array(self, f):
        self.check(f(x=0.1, y=0.2, w=[1.0, 2.0], b=3.0), (2,), 0.2)

    def test_lists_are_accepted_as_arrays(self, f):
        value, _ = f(x=[0.0, 1.0], y=[1.0, 1.0], w=[0.0, 0.0], b=[2.0, 2.0])
        np.testing.assert_allclose(value, [2.0, 2.0 + np.sin(1.0)])

    def test_array_results_equal_pointwise_results(self, f, rng):
        columns = [rng.uniform(-1, 1, 6) for _ in f.args]
        value, partials = f(*columns)
        for k in range(6):
            v, ps = f(*(c[k] for c in columns))
            assert v == value[k]
            assert [float(p) for p in ps] == [float(p[k]) for p in partials]

    def test_scalar_inputs_give_numpy_scalars(self, f):
        value, partials = f(0.5, 1.5, 2.0, -1.0)
        for out in (value, *partials):
            assert isinstance(out, np.generic) and np.ndim(out) == 0
        assert float(value) == pytest.approx(6.0 - 1.5 + np.sin(0.5))
        assert [float(p) for p in partials] == [3.0, 1.5]

    def test_weight_the_output_does_not_depend_on(self, rng):
        f = sg.gradient(sp.sin(x) * b, wrt=[w, b]).lambdify()
        xs = rng.uniform(-1, 1, 4)
        value, (dw, db) = f(x=xs, w=1.0, b=2.0)
        np.testing.assert_array_equal(dw, np.zeros(4))
        np.testing.assert_allclose(db, np.sin(xs))


# --- the generated code ------------------------------------------------------------

DETERMINISM_SCRIPT = textwrap.dedent(
    """
    import sympy as sp
    import symgraph as sg
    w, x, b, y, c = sp.symbols("w x b y c", real=True)
    expr = (sp.tanh(w*x + b) - y)**2 + sp.exp(w*b)*sp.sin(x + c) + sp.log(1 + w**2)*c
    grad = sg.gradient(expr, wrt=[w, b, c])
    print(grad.lambdify().source)
    print(grad)
    print(grad.equations)
    simple = grad.simplify()
    print(simple)
    print(simple.lambdify().source)
    """
)


class TestGeneratedCode:
    def test_same_expression_gives_the_same_source(self):
        expr = sp.exp(w * x) * sp.tanh(b * x + w) + sp.Max(w, b) * y
        first = sg.gradient(expr, wrt=[w, b]).lambdify().source
        second = sg.gradient(expr, wrt=[w, b]).lambdify().source
        assert first == second

    def test_source_and_gradient_do_not_depend_on_the_hash_seed(self):
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", DETERMINISM_SCRIPT],
                env={**os.environ, "PYTHONHASHSEED": seed},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for seed in ("1", "2")
        ]
        outputs = []
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert run.returncode == 0, err
            outputs.append(out)
        assert "def value_and_grad" in outputs[0]
        assert outputs[0] == outputs[1]

    def test_symbol_names_never_reach_the_source(self, tmp_path):
        marker = tmp_path / "pwned"
        evil = sp.Symbol(f"__import__('os').system('touch {marker}')", real=True)
        grad = sg.gradient(sp.sin(w * evil) + evil**2, wrt=[w])
        for f in (grad.lambdify(), grad.simplify().lambdify()):
            value, (dw,) = f(**{evil.name: 2.0, "w": 0.5})
            assert value == pytest.approx(np.sin(1.0) + 4.0)
            assert dw == pytest.approx(2.0 * np.cos(1.0))
            assert evil.name not in f.source
            assert "__import__" not in f.source and "system" not in f.source
        assert not marker.exists()

    def test_one_line_per_node_grows_linearly(self):
        def lines(depth):
            grad, _ = chain(depth, sp.tanh)
            return len(grad.lambdify().source.splitlines())

        short, long = lines(50), lines(100)
        assert 1.8 <= long / short <= 2.2, (short, long)
        assert long <= 12 * 100

    def test_every_computed_temporary_is_used(self):
        # y*exp(x) is needed for the value only; nothing else may be computed
        grad = sg.gradient(sp.sin(w * x) ** 2 + y * sp.exp(x), wrt=[w])
        tree = ast.parse(grad.lambdify().source)
        statements = tree.body[0].body
        for k, stmt in enumerate(statements):
            if isinstance(stmt, ast.Assign):
                (target,) = stmt.targets
                later = ast.Module(body=statements[k + 1 :], type_ignores=[])
                loads = {
                    n.id
                    for n in ast.walk(later)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                }
                assert target.id in loads, f"{target.id} is computed but never used"

    def test_dead_assignments_are_not_emitted(self):
        t, u, v = sp.symbols("t u v")
        fn = make_function([(t, sp.sin(x)), (u, sp.exp(x)), (v, sp.cosh(t))], [x], [t])
        assert "exp" not in fn.source and "cosh" not in fn.source
        assert fn(0.0) == (0.0,)

    def test_a_node_the_output_does_not_need_is_not_computed(self):
        z, u, L = sp.symbols("z u L", real=True)
        graph = sg.Graph.from_assignments([(z, w * x), (u, sp.exp(x)), (L, sp.sin(z))], wrt=[w])
        source = backward(graph).lambdify().source
        assert "exp" not in source

    def test_temporaries_are_freed(self):
        grad, _ = chain(5, sp.tanh)
        source = grad.lambdify().source
        deleted = [line for line in body_lines(source) if line.startswith("del ")]
        assert deleted, source
        # nothing deleted is used again, and each name is deleted at most once
        names = [n.strip() for line in deleted for n in line[4:].split(",")]
        assert len(names) == len(set(names))
        lines = body_lines(source)
        for k, line in enumerate(lines):
            if line.startswith("del "):
                for name in line[4:].split(","):
                    pattern = re.compile(rf"\b{name.strip()}\b")
                    assert not any(pattern.search(rest) for rest in lines[k + 1 :]), name


# --- kinks -------------------------------------------------------------------------

GRID = np.linspace(-1.0, 1.0, 9)  # contains the kink at 0 exactly

# expression of w, value at w = 0, d/dw at w = 0 (Heaviside(0) = 1/2, sign(0) = 0, δ = 0)
KINKS = {
    "Abs": (sp.Abs(w), 0.0, 0.0),
    "relu": (sp.Max(0, w), 0.0, 0.5),
    "Min": (sp.Min(w, 0), 0.0, 0.5),
    "Heaviside": (sp.Heaviside(w), 0.5, 0.0),
    "Heaviside(w, 0)": (sp.Heaviside(w, 0), 0.0, 0.0),
    "sign": (sp.sign(w), 0.0, 0.0),
    "Piecewise": (sp.Piecewise((w**2, w > 0), (0, True)), 0.0, 0.0),
    "Piecewise jump": (sp.Piecewise((1 + w, w >= 0), (-w, True)), 1.0, 1.0),
    "Abs inside": (sp.Abs(sp.sin(w)) * sp.cos(w), 0.0, 0.0),
}


@pytest.mark.parametrize("name", KINKS)
def test_kinks_follow_the_conventions_without_nan_or_warning(name):
    expr, at_kink, slope_at_kink = KINKS[name]
    f = sg.gradient(expr, wrt=[w]).lambdify()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dw,) = f(w=GRID)
        scalar_value, (scalar_dw,) = f(w=0.0)
    assert np.isfinite(value).all() and np.isfinite(dw).all()
    assert float(scalar_value) == at_kink and float(scalar_dw) == slope_at_kink
    assert value[4] == at_kink and dw[4] == slope_at_kink
    away = GRID != 0
    np.testing.assert_allclose(value, sympy_values(expr, [w], [GRID]).real, atol=1e-15)
    theirs = sympy_values(sp.diff(expr, w), [w], [GRID]).real
    np.testing.assert_allclose(dw[away], theirs[away], atol=1e-15)


def test_kink_of_a_two_argument_min_at_a_tie():
    f = sg.gradient(sp.Min(w, x) + sp.Max(w * x, b), wrt=[w, b]).lambdify()
    value, (dw, db) = f(x=[1.0, 0.0, 2.0], w=[1.0, 0.0, 3.0], b=[0.0, 0.0, 1.0])
    # d/dw = Heaviside(x - w) + x*Heaviside(w*x - b), d/db = Heaviside(b - w*x)
    np.testing.assert_array_equal(value, [2.0, 0.0, 8.0])
    np.testing.assert_array_equal(dw, [0.5 + 1.0, 0.5 + 0.0, 0.0 + 2.0])
    np.testing.assert_array_equal(db, [0.0, 0.5, 0.0])


# Piecewise whose unused branch is outside its domain (x < 0 for log) where it is not taken
PIECEWISE_DOMAIN = {
    "w * log(x) branch": (
        sp.Piecewise((sp.log(x), x > 0), (0, True)) * w,
        {"x": np.array([-2.0, -0.5, 0.5, 2.0]), "w": np.array([1.5, -1.0, 2.0, 0.5])},
    ),
    "log(w) branch": (
        sp.Piecewise((sp.log(w), w > 0), (0, True)),
        {"w": np.array([-2.0, -0.5, 0.5, 2.0])},
    ),
}


@pytest.mark.parametrize("name", PIECEWISE_DOMAIN)
def test_piecewise_with_the_unused_branch_outside_its_domain(name):
    expr, points = PIECEWISE_DOMAIN[name]
    f = sg.gradient(expr, wrt=[w]).lambdify()
    columns = [points[s.name] for s in f.args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, (dw,) = f(**points)
    assert np.isfinite(value).all() and np.isfinite(dw).all(), (value, dw)
    np.testing.assert_allclose(value, sympy_values(expr, f.args, columns).real, rtol=1e-12)
    theirs = sympy_values(sp.diff(expr, w), f.args, columns).real
    np.testing.assert_allclose(dw, theirs, rtol=1e-12, atol=1e-15)


# The branch taken is finite, but a node of the *other* branch is NaN there; the chain
# rule multiplies that NaN by the zero adjoint of the unused branch: 0 * nan = nan.
NAN_THROUGH_UNUSED_BRANCH = {
    "sqrt(w) at w < 0": (
        sp.Piecewise((sp.sqrt(w), w > 0), (0, True)),
        {"w": np.array([-3.0, -0.5, 1.5])},
    ),
    "w*log(w) at w < 0": (
        sp.Piecewise((w * sp.log(w), w > 0), (0, True)),
        {"w": np.array([-3.0, -0.5, 1.5])},
    ),
    "w*log(x) at x < 0": (
        sp.Piecewise((w * sp.log(x), x > 0), (0, True)),
        {"w": np.array([2.0, 2.0, 2.0]), "x": np.array([-3.0, -0.5, 1.5])},
    ),
    "asin(w) at |w| > 1": (
        sp.Piecewise((sp.asin(w), sp.Abs(w) < 1), (0, True)),
        {"w": np.array([-3.0, 0.5, 1.5])},
    ),
}


@pytest.mark.parametrize("name", NAN_THROUGH_UNUSED_BRANCH)
def test_unused_branch_nan_does_not_leak_into_partials(name):
    expr, points = NAN_THROUGH_UNUSED_BRANCH[name]
    f = sg.gradient(expr, wrt=[w]).lambdify()
    columns = [points[s.name] for s in f.args]
    value, (dw,) = f(**points)
    assert np.isfinite(value).all()
    theirs = sympy_values(sp.diff(expr, w), f.args, columns).real
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(dw, theirs, rtol=1e-12)


# --- deep graphs -------------------------------------------------------------------


@pytest.fixture(scope="module")
def deep_chain():
    return chain(1000, sp.sin)


def test_a_thousand_step_chain_compiles_and_runs(deep_chain, rng):
    grad, ws = deep_chain
    depth = len(ws)
    f = grad.lambdify()
    weights = rng.uniform(0.8, 1.2, depth)
    x0 = 0.7

    def forward(weights):
        a = x0
        for wk in weights:
            a = np.sin(wk * a)
        return a

    value, partials = f(x0, *weights)
    assert len(partials) == depth and all(np.isfinite(p) for p in partials)
    assert value == pytest.approx(forward(weights), rel=1e-12)
    h = 1e-6  # central differences on an independent NumPy loop
    for k in (0, 1, depth // 2, depth - 1):
        up, down = weights.copy(), weights.copy()
        up[k] += h
        down[k] -= h
        numeric = (forward(up) - forward(down)) / (2 * h)
        assert partials[k] == pytest.approx(numeric, rel=1e-5, abs=1e-10), k


def test_the_same_chain_overflows_sympy_lambdify(deep_chain):
    grad, ws = deep_chain
    try:
        sp.lambdify([x, *ws], grad.expr)
    except RecursionError:
        return
    pytest.skip("this SymPy prints 1,000 nested calls without overflowing")


# --- simplified gradients ----------------------------------------------------------


@pytest.mark.parametrize("strategy", ["fast", "thorough"])
def test_simplified_gradient_compiles_to_the_same_numbers(strategy, rng):
    expr = -y * sp.log(1 / (1 + sp.exp(-(w * x + b)))) + w / (1 + w) + sp.tanh(b * x) ** 2
    grad = sg.gradient(expr, wrt=[w, b])
    simple = grad.simplify(strategy, budget=0.5)
    plain_f, simple_f = grad.lambdify(), simple.lambdify()
    assert simple_f.args == plain_f.args
    columns = [rng.uniform(0.1, 2, 40) for _ in plain_f.args]
    plain_value, plain_partials = plain_f(*columns)
    simple_value, simple_partials = simple_f(*columns)
    np.testing.assert_allclose(simple_value, plain_value, rtol=1e-12)
    for ours, theirs in zip(simple_partials, plain_partials, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert_matches_sympy_diff(simple, low=0.1, high=2)


def test_simplified_gradient_keeps_the_shape_of_constant_partials():
    f = sg.gradient(3 * w + x * b, wrt=[w, b]).simplify().lambdify()
    value, (dw, db) = f(x=np.arange(4.0).reshape(2, 2), w=1.0, b=2.0)
    assert value.shape == dw.shape == db.shape == (2, 2)
    np.testing.assert_array_equal(dw, np.full((2, 2), 3.0))


# --- refusals ----------------------------------------------------------------------


def test_unknown_backend_is_refused():
    grad = sg.gradient(w * x, wrt=[w])
    with pytest.raises(GraphError, match="numba.*available: numpy, jax, torch"):
        grad.lambdify(backend="numba")
    for bad in ({"reduce": "max"}, {"workers": 0}, {"workers": 1.5}, {"workers": True}):
        with pytest.raises(GraphError, match="reduce|workers"):
            grad.lambdify(**bad)


def test_a_node_without_numeric_form_names_the_node_in_one_line():
    f = sp.Function("f")
    grad = sg.gradient(f(w * x) + w, wrt=[w])
    with pytest.raises(NoRuleError) as info:
        grad.lambdify()
    message = str(info.value)
    assert isinstance(info.value, NotImplementedError)
    assert "\n" not in message
    assert "f(" in message
    assert "node" in message


@pytest.mark.parametrize("number", [0.1 + 0.2, 1 / 3, -(2.0**-40) / 3, 6.02214076e23, 5e-324])
def test_a_float_constant_is_the_same_double_in_generated_code(number):
    """SymPy prints 15 digits (0.1 + 0.2 as 0.300000000000000, which is 0.3); ours round-trip."""
    grad = sg.gradient(sp.Float(number) * w, wrt=[w])
    f = grad.lambdify()
    for point in (3.0, np.array([3.0, -1.0])):  # the math version, then NumPy's
        value, (partial,) = f(w=point)
        assert np.array_equal(value, number * point) and np.all(partial == number)
    assert repr(number) in f.source
