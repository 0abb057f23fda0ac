"""Property-based tests: generated expressions, every partial against sympy.diff.

The same gradient must come out of every way of building the graph (one node
per SymPy operation, fine binary steps, named assignments).
"""

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracles import sympy_values

import symgraph as sg

w, x, b, y = SYMBOLS = sp.symbols("w x b y", real=True)

# Functions defined on the whole real line (so random points are in the domain),
# plus log/sqrt of positive arguments and kinks.
UNARY = [
    sp.sin,
    sp.cos,
    sp.tanh,
    sp.atan,
    sp.asinh,
    sp.erf,
    sp.exp,
    lambda u: sp.log(1 + u**2),
    lambda u: sp.sqrt(1 + u**2),
    lambda u: 1 / (1 + sp.exp(-u)),
    sp.Abs,
    lambda u: sp.Max(0, u),
]


def _extend(children):
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0](t[1])),
        pair.map(lambda t: t[0] + t[1]),
        pair.map(lambda t: t[0] * t[1]),
        pair.map(lambda t: t[0] - 2 * t[1]),
        pair.map(lambda t: t[0] / (1 + t[1] ** 2)),
        st.tuples(children, st.integers(2, 3)).map(lambda t: t[0] ** t[1]),
        pair.map(lambda t: sp.Max(t[0], t[1])),
        pair.map(lambda t: sp.Piecewise((t[0], x > 0), (t[1], True))),
    )


leaves = st.one_of(st.sampled_from(SYMBOLS), st.integers(-3, 3).map(sp.Integer))
expressions = st.recursive(leaves, _extend, max_leaves=10).filter(
    lambda e: e.free_symbols and len(str(e)) < 400
)


def _compare(grad, expr, seed=0, points=12):
    """Compiled partials equal SymPy's derivative wherever SymPy's is finite."""
    f = grad.lambdify()
    rng = np.random.default_rng(seed)
    columns = [rng.uniform(-1.5, 1.5, points) for _ in f.args]
    value, partials = f(*columns)
    np.testing.assert_allclose(
        np.broadcast_to(value, (points,)), sympy_values(expr, f.args, columns).real, rtol=1e-9
    )
    for wk, ours in zip(grad.wrt, partials, strict=True):
        theirs = sympy_values(sp.diff(expr, wk), f.args, columns)
        usable = np.isfinite(theirs)
        np.testing.assert_allclose(
            np.broadcast_to(ours, (points,))[usable], theirs.real[usable], rtol=1e-8, atol=1e-9
        )


COMMON = dict(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(**COMMON)
@given(expressions)
def test_gradient_equals_sympy_diff(expr):
    _compare(sg.gradient(expr, wrt=sorted(expr.free_symbols, key=str)), expr)


@settings(**COMMON)
@given(expressions)
def test_fine_granularity_gives_the_same_gradient(expr):
    wrt = sorted(expr.free_symbols, key=str)
    op, fine = sg.gradient(expr, wrt=wrt), sg.gradient(expr, wrt=wrt, granularity="fine")
    assert fine.graph.size["nodes"] >= op.graph.size["nodes"]
    _compare(fine, expr, seed=1)
    for wk in wrt:
        assert _same_numbers(op[wk], fine[wk], wrt)


@settings(**COMMON)
@given(expressions)
def test_named_assignments_give_the_same_gradient(expr):
    """Name each function application as an intermediate: same partials."""
    wrt = sorted(expr.free_symbols, key=str)
    grad = sg.Graph.from_assignments(named_steps(expr), wrt=wrt).backward()
    _compare(grad, expr, seed=2)


def named_steps(expr):
    """Name every function application of ``expr`` (innermost first), then the output."""
    steps, names = [], {}
    for k, sub in enumerate(_functions_innermost_first(expr)):
        name = sp.Symbol(f"h{k}", real=True)
        steps.append((name, sub.xreplace(names)))
        names[sub] = name
    steps.append((sp.Symbol("L", real=True), expr.xreplace(names)))
    return steps


def _functions_innermost_first(expr):
    found, stack, seen = [], [expr], set()
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, sp.Function) and e.free_symbols:
            found.append(e)
        stack.extend(e.args)
    return sorted(found, key=lambda e: sp.count_ops(e))


def _same_numbers(a, c, symbols, points=10):
    rng = np.random.default_rng(3)
    columns = [rng.uniform(-1.5, 1.5, points) for _ in symbols]
    va, vc = sympy_values(a, symbols, columns), sympy_values(c, symbols, columns)
    usable = np.isfinite(va) & np.isfinite(vc)
    return np.allclose(va[usable], vc[usable], rtol=1e-8, atol=1e-9)
