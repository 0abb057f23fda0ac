"""Simplification: never a different value, usually a shorter form, within its budget.

Values are compared with SymPy's own ``lambdify`` (tests/oracles.py), never with
symgraph's code generator or its ``same_values`` check.
"""

import time

import numpy as np
import pytest
import sympy as sp
from children import in_child
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import sympy_values

import symgraph as sg
from symgraph.ad.backward import backward
from symgraph.errors import GraphError
from symgraph.numeric.simplify import FAST_MAX_NODES, same_values, tree_shape

w, x, b, y = SYMBOLS = sp.symbols("w x b y", real=True)


def sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def assert_same_values(before, after, seed=0, points=40, low=-2.5, high=2.5):
    """``after`` equals ``before`` wherever ``before`` is finite (SymPy's lambdify)."""
    rng = np.random.default_rng(seed)
    columns = [rng.uniform(low, high, points) for _ in SYMBOLS]
    theirs = sympy_values(before, SYMBOLS, columns)
    ours = sympy_values(after, SYMBOLS, columns)
    usable = np.isfinite(theirs) & (np.abs(theirs.imag) < 1e-12)
    if not usable.any():
        return
    scale = 1 + np.max(np.abs(theirs[usable]))
    np.testing.assert_allclose(
        ours[usable], theirs[usable], rtol=1e-7, atol=1e-9 * scale, err_msg=f"{before} -> {after}"
    )


def deep_chain(depth):
    """Named steps a_k = tanh(w_k a_{k-1}) from a_0 = x."""
    ws = sp.symbols(f"w1:{depth + 1}", real=True)
    steps = sp.symbols(f"a1:{depth + 1}", real=True)
    assignments, previous = [], x
    for wk, ak in zip(ws, steps, strict=True):
        assignments.append((ak, sp.tanh(wk * previous)))
        previous = ak
    return backward(sg.Graph.from_assignments(assignments, wrt=list(ws)))


def _simplified_chain_agrees(depth):  # pragma: no cover - runs in a forked child
    grad = deep_chain(depth)
    simple = grad.simplify()
    point = {s.name: 0.9 for s in grad.graph.leaves}
    plain, smart = grad.lambdify(), simple.lambdify()
    same = np.allclose(plain(**point)[1], smart(**point)[1], rtol=1e-9)
    return "ok" if same else "different values"


def simplify_chain_in_child(depth, seconds):
    """Simplify a deep chain in a forked child: "ok", an error, or "timeout"."""
    return in_child(lambda: _simplified_chain_agrees(depth), seconds)


# --- fast never changes a value --------------------------------------------------

UNARY = [
    sp.sin,
    sp.cos,
    sp.exp,
    sp.tanh,
    lambda u: sp.log(1 + u**2),
    lambda u: sp.sqrt(1 + u**2),
]


def _extend(children):
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0](t[1])),
        pair.map(lambda t: t[0] + t[1]),
        pair.map(lambda t: t[0] * t[1]),
        pair.map(lambda t: t[0] / (1 + t[1] ** 2)),
        st.tuples(children, st.integers(2, 3)).map(lambda t: t[0] ** t[1]),
    )


leaves = st.one_of(st.sampled_from([w, x, b]), st.integers(-2, 3).map(sp.Integer))
expressions = st.recursive(leaves, _extend, max_leaves=7).filter(
    lambda e: bool(e.free_symbols & {w, b})
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_fast_simplification_never_changes_a_value(expr):
    grad = sg.gradient(expr, wrt=sorted(expr.free_symbols & {w, b}, key=str))
    simple = grad.simplify()
    for weight in grad.wrt:
        assert_same_values(grad[weight], simple[weight])


# --- fast shortens typical gradients ------------------------------------------------

TYPICAL = {
    "tanh loss": ((sp.tanh(w * x + b) - y) ** 2, [w, b]),
    "sigmoid": (sigmoid(w * x + b), [w, b]),
    "w/(1+w)": (w / (1 + w), [w]),
    "softplus": (sp.log(1 + sp.exp(w * x + b)), [w, b]),
    "logistic loss": (
        -y * sp.log(sigmoid(w * x + b)) - (1 - y) * sp.log(1 - sigmoid(w * x + b)),
        [w, b],
    ),
}


def test_fast_simplification_shortens_typical_gradients():
    rows, before_total, after_total, shorter = [], 0, 0, 0
    for name, (expr, wrt) in TYPICAL.items():
        grad = sg.gradient(expr, wrt=wrt)
        simple = grad.simplify()
        for weight in wrt:
            before, after = sp.count_ops(grad[weight]), sp.count_ops(simple[weight])
            rows.append(f"{name} d/d{weight}: {before} -> {after}")
            assert after <= before, rows[-1]
            assert_same_values(grad[weight], simple[weight])
            before_total, after_total = before_total + before, after_total + after
            shorter += after < before
    summary = f"count_ops {before_total} -> {after_total}; " + "; ".join(rows)
    assert shorter > len(rows) / 2, summary
    assert after_total < 0.9 * before_total, summary


def test_docstring_example_w_over_one_plus_w():
    simple = sg.gradient(w / (1 + w), wrt=[w]).simplify()
    assert sp.simplify(simple[w] - 1 / (1 + w) ** 2) == 0
    assert sp.count_ops(simple[w]) <= sp.count_ops(1 / (1 + w) ** 2)


# --- thorough, with a budget -------------------------------------------------------

# sympy.simplify takes well over ten seconds on the gradient of this
SLOW = (sp.tanh(b * sp.tanh(w * sp.tanh(w * x + b) + b) + w) - y) ** 2


def test_thorough_respects_a_tiny_budget_and_stays_correct():
    grad = sg.gradient(SLOW, wrt=[w, b])
    budget = 0.05
    start = time.perf_counter()
    thorough = grad.simplify("thorough", budget=budget)
    elapsed = time.perf_counter() - start
    slack = 2.0  # closed forms, starting and stopping the child process
    assert elapsed < budget + slack, elapsed
    assert thorough.simplified == "thorough"
    for weight in grad.wrt:
        assert_same_values(grad[weight], thorough[weight])
        assert sp.count_ops(thorough[weight]) <= sp.count_ops(grad[weight])


def test_thorough_finds_what_fast_cannot():
    # the gradient is exp(w)*(sin(w)**2 + cos(w)**2) in some form; only simplify sees exp(w)
    expr = (sp.sin(w) ** 2 + sp.cos(w) ** 2) * sp.exp(w) * x
    grad = sg.gradient(expr, wrt=[w])
    fast, thorough = grad.simplify("fast"), grad.simplify("thorough", budget=5.0)
    assert_same_values(grad[w], thorough[w])
    assert sp.count_ops(thorough[w]) < sp.count_ops(fast[w]), (fast[w], thorough[w])


# --- the result object -------------------------------------------------------------


class TestResult:
    def test_a_new_gradient_and_the_input_untouched(self):
        grad = sg.gradient(sigmoid(w * x + b), wrt=[w, b])
        closed = dict(grad.closed_forms())
        equations = grad.equations
        simple = grad.simplify()
        assert isinstance(simple, sg.Gradient) and simple is not grad
        assert grad.simplified is None
        assert grad.closed_forms() == closed and grad.equations == equations
        assert simple.wrt == grad.wrt and simple.graph is grad.graph
        assert any(simple[v] != closed[v] for v in grad.wrt)

    @pytest.mark.parametrize("strategy", ["fast", "thorough"])
    def test_simplified_records_the_strategy(self, strategy):
        simple = sg.gradient(w / (1 + w), wrt=[w]).simplify(strategy, budget=2.0)
        assert simple.simplified == strategy

    def test_simplifying_twice_changes_nothing_more(self):
        grad = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
        once = grad.simplify()
        twice = once.simplify()
        for v in grad.wrt:
            assert sp.count_ops(twice[v]) <= sp.count_ops(once[v])
            assert_same_values(grad[v], twice[v])

    def test_unknown_strategy_is_refused(self):
        grad = sg.gradient(w * x, wrt=[w])
        with pytest.raises(GraphError, match="slow"):
            grad.simplify("slow")
        with pytest.raises(ValueError):
            grad.simplify("")

    def test_huge_expressions_are_returned_unchanged_quickly(self):
        xs = sp.symbols(f"x1:{700}", real=True)
        grad = sg.gradient(sum(sp.sin(w * xk) for xk in xs), wrt=[w])
        assert tree_shape(grad[w])[0] > FAST_MAX_NODES
        start = time.perf_counter()
        simple = grad.simplify()
        assert time.perf_counter() - start < 2.0
        assert simple[w] == grad[w]

    def test_progress_goes_to_stderr(self, capsys):
        grad = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
        grad.simplify(progress=True)
        out, err = capsys.readouterr()
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 2
        assert "w" in lines[0] and "b" in lines[1]
        assert "1" in lines[0] and "2" in lines[1]

    def test_no_progress_by_default(self, capsys):
        sg.gradient(w * x, wrt=[w]).simplify()
        assert capsys.readouterr() == ("", "")


# --- deep graphs -------------------------------------------------------------------


def test_fast_simplify_of_a_twelve_step_chain_is_fast():
    assert simplify_chain_in_child(12, seconds=3.0) == "ok"


def test_fast_simplify_of_a_hundred_step_chain_does_not_overflow():
    assert simplify_chain_in_child(100, seconds=4.0) == "ok"


# --- same_values -------------------------------------------------------------------


class TestSameValues:
    s = sp.Symbol("s")

    def test_rejects_a_wrong_candidate(self):
        assert not same_values(sp.sin(self.s) ** 2, sp.cos(self.s) ** 2, [self.s])

    def test_accepts_an_identity(self):
        assert same_values(sp.sin(self.s) ** 2 + sp.cos(self.s) ** 2, sp.S.One, [self.s])

    def test_rejects_a_candidate_wrong_for_negative_arguments(self):
        assert not same_values(sp.Abs(self.s), self.s, [self.s])

    def test_rejects_a_small_relative_error(self):
        assert not same_values(
            sp.exp(self.s), sp.exp(self.s) * (1 + sp.Rational(1, 10**6)), [self.s]
        )

    def test_several_symbols(self):
        assert same_values((w + x) ** 2, w**2 + 2 * w * x + x**2, [w, x])
        assert not same_values((w + x) ** 2, w**2 + x**2, [w, x])


def test_a_graph_with_a_condition_node_simplifies():
    """A node whose operation is a condition (w > 0) is not asked for its truth value."""
    w, x = sp.symbols("w x", real=True)
    loss = sp.Piecewise((w * x, w > 0), (sp.sin(w), True)) + sp.Abs(w)
    grad = sg.gradient(loss, wrt=[w])
    simplified = grad.simplify()
    for at in (-0.7, 0.4, 1.3):
        point = {w: at, x: 0.6}
        expected = float(sp.diff(loss, w).subs(point))  # the oracle
        assert float(simplified[w].subs(point)) == pytest.approx(expected)
