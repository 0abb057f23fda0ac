"""Define-by-run tracing: structure kept as written, numbers as micrograd and PyTorch."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import symgraph as sg
from symgraph.errors import GraphError


def micrograd_example():
    """The expression of micrograd's README (also its test against PyTorch)."""
    a = sg.Value(-4.0, name="a")
    b = sg.Value(2.0, name="b")
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return a, b, g


def test_reproduces_micrograd_and_pytorch_numbers():
    # micrograd README: g.data 24.7041, a.grad 138.8338, b.grad 645.5773 (PyTorch agrees)
    a, b, g = micrograd_example()
    assert g.data == pytest.approx(24.7041, abs=5e-5)
    grad = g.backward()
    assert a.grad == pytest.approx(138.8338, abs=5e-5)
    assert b.grad == pytest.approx(645.5773, abs=5e-5)
    # the closed form agrees with SymPy's own derivative of the traced expression
    A, B = a.symbol, b.symbol
    point = {A: -4, B: 2}
    for w, value in ((A, a.grad), (B, b.grad)):
        assert float(sp.diff(grad.expr, w).subs(point)) == pytest.approx(value, rel=1e-12)
        assert float(grad[w].subs(point)) == pytest.approx(value, rel=1e-12)


def test_relu_example_of_the_design():
    x = sg.Value(-4.0, name="x")
    out = (2 * x + 2).relu() * x
    assert out.data == 0.0
    out.backward()
    assert x.grad == 0.0  # relu is off: no gradient flows
    x2 = sg.Value(3.0, name="x2")
    out2 = (2 * x2 + 2).relu() * x2  # (2x + 2) x = 2x² + 2x, derivative 4x + 2
    out2.backward()
    assert out2.data == 24.0 and x2.grad == 14.0


def test_structure_is_kept_as_written():
    w, x = sg.Value(1.5, name="w"), sg.Value(2.0, name="x")
    out = w * x + w * x
    g = out.graph
    products = [n for n, op in g.nx.nodes(data="op") if op is not None and op.is_Mul]
    assert len(products) == 2  # SymPy alone would merge them into 2*w*x
    assert g.nx.out_degree(w.symbol) == 2
    grad = out.backward()
    assert grad[w.symbol] == 2 * x.symbol and w.grad == 4.0


def test_loops_unroll_and_branches_follow_the_numbers():
    w = sg.Value(0.5, name="w")
    h = sg.Value(1.0, name="h")
    for _ in range(20):
        h = (w * h).tanh() if h.data > 0 else h * 2
    grad = h.backward()
    assert grad.graph.size["operations"] == 40
    hs = [1.0]
    for _ in range(20):
        hs.append(math.tanh(0.5 * hs[-1]))
    # the oracle: forward-mode recurrence dh_k/dw = (1 - h_k²)(h_{k-1} + w dh_{k-1}/dw)
    dh = 0.0
    for k in range(20):
        dh = (1 - hs[k + 1] ** 2) * (hs[k] + 0.5 * dh)
    assert w.grad == pytest.approx(dh, rel=1e-12)


UNARY = ["exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs"]


@st.composite
def programs(draw):
    """A random straight-line program over two leaves: (op, i, j, constant) steps."""
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["+", "-", "*", "/c", "**2", *UNARY]),
                st.integers(0, 100),
                st.integers(0, 100),
                st.integers(1, 3),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return steps


class AtAKink(Exception):
    """The program evaluates relu or abs at 0, where the derivative is a convention.

    There the traced and the static gradient may both be right and differ:
    relu(relu(x)) traced gives ½·½ at 0, SymPy merges it into Max(0, x): ½.
    """


def run(steps, values, lib):
    """Run a program on Values (lib='trace') or SymPy symbols (lib='sympy')."""
    regs = list(values)
    for op, i, j, c in steps:
        a, b = regs[i % len(regs)], regs[j % len(regs)]
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/c":
            r = a / c
        elif op == "**2":
            r = a**2
        elif lib == "trace":
            if op in ("relu", "abs") and a.data == 0.0:
                raise AtAKink(op)
            r = getattr(a, op)()
        else:
            r = {
                "exp": sp.exp, "sin": sp.sin, "cos": sp.cos, "tanh": sp.tanh,
                "sigmoid": lambda u: 1 / (1 + sp.exp(-u)), "relu": lambda u: sp.Max(0, u),
                "abs": sp.Abs,
            }[op](a)  # fmt: skip
        regs.append(r)
    return regs[-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_traced_gradient_equals_the_static_one(steps, u, v):
    x, y = sg.Value(u, name="x"), sg.Value(v, name="y")
    try:
        out = run(steps, [x, y], "trace")
    except AtAKink:
        assume(False)
    if not out._parents:
        return  # the program returned a leaf: nothing traced
    X, Y = sp.symbols("x y", real=True)
    expr = run(steps, [X, Y], "sympy")
    assert out.data == pytest.approx(float(expr.subs({X: u, Y: v})), rel=1e-9, abs=1e-12)
    traced = out.backward(wrt=[x, y])
    static = sg.gradient(expr, wrt=[X, Y])
    f = static.lambdify()
    _, (dx, dy) = f(x=u, y=v)
    assert np.isfinite(x.grad) and x.grad == pytest.approx(float(dx), rel=1e-9, abs=1e-12)
    assert y.grad == pytest.approx(float(dy), rel=1e-9, abs=1e-12)
    assert set(traced.wrt) == {X, Y}


def test_refusals():
    x = sg.Value(1.0, name="x")
    with pytest.raises(GraphError, match="str"):
        x + "1"
    a, b = sg.Value(1.0, name="same"), sg.Value(2.0, name="same")
    with pytest.raises(GraphError, match="same name"):
        _ = (a * b).graph


# --- the fast tracer: the same graph as the walk, the same numbers as the compiled gradient ---

from symgraph.build.builder import GraphBuilder, build_graph_from  # noqa: E402
from symgraph.build.inputs import Namer  # noqa: E402
from symgraph.trace import OPERATIONS, _postorder, operation_on  # noqa: E402

R = sp.Symbol("r", real=True)
S = sp.Symbol("s", real=True)
NUMBERS = [0, 1, 2, -1, -3, 0.0, 1.0, -1.0, 2.5, 0.5, 1e300, sp.Rational(1, 2)]


@pytest.mark.parametrize("kind", sorted(OPERATIONS))
def test_operations_are_built_as_sympy_builds_them(kind):
    if kind in ("add", "sub", "mul", "truediv", "pow"):
        cases = [[R, S], [S, R], [R, R]]
        cases += [[R, sp.sympify(c)] for c in NUMBERS] + [[sp.sympify(c), R] for c in NUMBERS]
    else:
        cases = [[R], [sp.Integer(2)], [sp.Float(0.0)]]
    for operands in cases:
        expected = OPERATIONS[kind].symbolic(*operands)
        built = operation_on(kind, operands)
        assert type(built) is type(expected) and built.args == expected.args, (kind, operands)


def walked_graph(output, wrt=None):
    """The oracle: every recorded operation built by SymPy and walked by GraphBuilder.add."""
    order = _postorder(output)
    leaves = [v for v in order if not v._parents]
    weights = [v.symbol for v in (leaves if wrt is None else wrt)]
    builder = GraphBuilder(
        "op", Namer([v.symbol.name for v in leaves]), weights, exprs_are_full=False
    )
    node_of = {}
    for v in order:
        if not v._parents:
            node_of[id(v)] = builder.leaf(v.symbol)
            continue
        args = [node_of[id(a)] if isinstance(a, sg.Value) else sp.sympify(a) for a in v._args]
        name = builder.namer.named("L") if v is output else builder.namer.fresh()
        node_of[id(v)] = builder.add(OPERATIONS[v._kind].symbolic(*args), name)
    return build_graph_from(builder, node_of[id(output)], weights)


def assert_same_graph(graph, expected):
    assert list(graph.nx.nodes) == list(expected.nx.nodes)
    for node, data in expected.nx.nodes(data=True):
        assert graph.nx.nodes[node] == data, node
    assert list(graph.nx.edges) == list(expected.nx.edges)
    for a, b, data in expected.nx.edges(data=True):
        assert graph.nx.edges[a, b] == data, (a, b)


FOLDING = {  # a constant on either side, and operations SymPy folds (x - x is 0)
    "c+": lambda a, c: c + a, "c*": lambda a, c: c * a, "c-": lambda a, c: c - a,
    "c/": lambda a, c: (c or 3) / a, "+c": lambda a, c: a + c, "*c": lambda a, c: a * c,
    "-c": lambda a, c: a - c, "/c": lambda a, c: a / (c or 2), "**c": lambda a, c: a**c,
    "x-x": lambda a, c: a - a, "x/x": lambda a, c: a / a,
}  # fmt: skip


@st.composite
def folding_programs(draw):
    steps = draw(programs())
    extra = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(FOLDING)),
                st.integers(0, 100),
            ),
            max_size=6,
        )
    )
    return steps, extra


def run_folding(steps, extra, values):
    regs = list(values)
    out = run(steps, regs, "trace")
    regs.append(out)
    for k, (op, i) in enumerate(extra):
        regs.append(FOLDING[op](regs[i % len(regs)], [0.0, 1, 2.5, 0, -1, 1.0][k % 6]))
    return regs[-1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(folding_programs(), st.floats(0.2, 1.5), st.floats(-1.5, -0.2))
def test_graph_is_the_walked_one_and_grad_is_the_compiled_one(program, u, v):
    steps, extra = program
    x, y = sg.Value(u, name="x"), sg.Value(v, name="y")
    try:
        with np.errstate(all="ignore"):
            out = run_folding(steps, extra, [x, y])
    except AtAKink:
        assume(False)
    if not out._parents:
        return
    assume(np.isfinite(out.data) and abs(out.data) < 1e6)
    assert_same_graph(out.graph, walked_graph(out))
    grad = out.backward(wrt=[x, y])
    _, (dx, dy) = grad.lambdify()(x=u, y=v)  # the compiled gradient of the same graph
    for leaf, compiled in ((x, dx), (y, dy)):
        if np.isfinite(compiled):
            assert leaf.grad == pytest.approx(float(compiled), rel=1e-9, abs=1e-12)
        else:
            assert not np.isfinite(leaf.grad)


def test_folded_operations_send_nothing_back():
    x = sg.Value(0.0, name="x")
    root = x.sqrt() + 1
    for out in (x.sqrt() * 0, x - x + x.sqrt() * 0.0, root / root + 0 * x.sqrt()):
        out.backward()
        assert x.grad == 0.0  # sqrt'(0) is inf, but no edge carries it (SymPy folded it)
    y = sg.Value(0.0, name="y")
    (y.relu() + y.abs()).backward()
    assert y.grad == 0.5  # Heaviside(0) = 1/2 and sign(0) = 0, the compiled conventions


def test_arrays_broadcast_as_the_compiled_gradient():
    x, y = sg.Value([1.0, 2.0, 3.0], name="x"), sg.Value(2.0, name="y")
    (x * y).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("kind", ["tanh", "relu", "sigmoid"])
def test_a_chain_of_3000_operations(kind):
    w, b, h = sg.Value(0.5, name="w"), sg.Value(0.1, name="b"), sg.Value(1.0, name="x")
    for _ in range(1000):
        h = getattr(w * h + b, kind)()
    grad = h.backward()
    assert grad.graph.size["operations"] >= 3000
    # the oracle: forward mode, h_k = f(z_k), z_k = w h_{k-1} + b, by hand in NumPy
    f = {"tanh": np.tanh, "relu": lambda z: max(z, 0.0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    df = {
        "tanh": lambda z: 1 - np.tanh(z) ** 2,
        "relu": lambda z: float(z > 0),
        "sigmoid": lambda z: f["sigmoid"](z) * (1 - f["sigmoid"](z)),
    }
    value, dw, db = 1.0, 0.0, 0.0
    for _ in range(1000):
        z = 0.5 * value + 0.1
        dw, db = df[kind](z) * (value + 0.5 * dw), df[kind](z) * (0.5 * db + 1)
        value = f[kind](z)
    assert h.data == pytest.approx(value, rel=1e-12)
    assert w.grad == pytest.approx(dw, rel=1e-9) and b.grad == pytest.approx(db, rel=1e-9)


def test_relu_of_a_shallow_node_folds_as_sympys_max():
    """The tracer's Max(0, e) skips SymPy's search for common zeros; the result is SymPy's."""
    from symgraph.trace import folded_max_of_zero

    x, y = sp.symbols("x y", real=True)
    cases = [
        x, x**2, -(x**2), sp.exp(x), -sp.exp(x), x - y, sp.Max(0, x), sp.Abs(x),
        sp.tanh(x) ** 2 + 1, sp.Max(0, x) - 1, sp.Min(0, x), sp.Max(x, y), sp.Max(1, x),
        1 - sp.exp(-x) / 2, (x - y) ** 2 - 1, 0.5 * x, -sp.Abs(x) - 1, sp.Integer(3),
        sp.Integer(-2), sp.Symbol("c"), sp.Max(0, x) + sp.Max(0, y),
    ]  # fmt: skip
    for e in cases:
        ours, sympys = folded_max_of_zero(e), sp.Max(0, e)
        assert ours == sympys and sp.srepr(ours) == sp.srepr(sympys), e
