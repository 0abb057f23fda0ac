"""Graphs as files: JSON round trips, GraphML and DOT export, hostile files refused."""

import io
import json
import uuid
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

import symgraph as sg
from symgraph import layers
from symgraph.core.adjoint import AdjointSymbol, MatrixAdjoint, adjoint_of
from symgraph.io import (
    from_json,
    load_json,
    save_dot,
    save_graphml,
    save_json,
    to_graphml,
    to_json,
)
from symgraph.io.decode import _decode_exprs, _decode_symbols
from symgraph.io.files import _MATRIX_CLASS_LIST, MAX_DEPTH, _Encoder
from symgraph.io.limits import MAX_TERMS, Costs
from symgraph.rules.matfuncs import (
    FrobeniusNorm,
    LogSumExp,
    RowLogSumExp,
    RowSoftmax,
    Softmax,
    SumEntries,
)

w, x, b, y = SYMBOLS = sp.symbols("w x b y", real=True)
p = sp.Symbol("p", positive=True)
n = sp.Symbol("n", integer=True, nonnegative=True)


def same(a, b, seen=None):
    """Structural equality, symbols with their assumptions, iteratively (deep expressions)."""
    stack, seen = [(a, b)], set() if seen is None else seen
    while stack:
        u, v = stack.pop()
        if (id(u), id(v)) in seen:
            continue
        seen.add((id(u), id(v)))
        if type(u) is not type(v) or (u is None) != (v is None):
            return False
        if not isinstance(u, sp.Basic):  # None, a function class (tanh of tanh.(X))
            if u is not v:
                return False
            continue
        if isinstance(u, sp.Symbol):
            if (u.name, u.assumptions0) != (v.name, v.assumptions0):
                return False
        elif u is not None and not u.args:
            if u != v:
                return False
        elif u is not None:
            if len(u.args) != len(v.args):
                return False
            stack.extend(zip(u.args, v.args, strict=True))
    return True


def assert_same_graph(g, h):
    """Same nodes (with assumptions), attributes, edges, partials, output and wrt."""
    seen: set = set()  # pairs already compared: shared subexpressions are compared once
    assert list(h.nx.nodes) == list(g.nx.nodes)
    for a, c in zip(g.nx.nodes, h.nx.nodes, strict=True):
        assert same(a, c, seen)
        assert h.nx.nodes[c]["role"] == g.nx.nodes[a]["role"]
        assert same(h.nx.nodes[c]["op"], g.nx.nodes[a]["op"], seen)
        assert same(h.nx.nodes[c]["expr"], g.nx.nodes[a]["expr"], seen)
    assert set(h.nx.edges) == set(g.nx.edges)
    for edge, data in g.nx.edges.items():
        assert same(h.nx.edges[edge]["partial"], data["partial"], seen)
    assert h.output == g.output and h.output.assumptions0 == g.output.assumptions0
    assert h.wrt == g.wrt


def assert_round_trip(g, gradient=True):
    h = from_json(to_json(g))
    assert_same_graph(g, h)
    assert h.backward().equations == g.backward().equations  # the δ-terms
    if gradient:  # and the closed forms
        grad_g, grad_h = g.backward(), h.backward()
        for weight in g.wrt:
            assert grad_h[weight] == grad_g[weight]
    return h


def _document(**changes):
    data = json.loads(to_json(sg.Graph.from_expr(sp.sin(w * x) + 2, wrt=[w])))
    data.update(changes)
    return data


# --- generated expressions ---------------------------------------------------

UNARY = [
    sp.sin,
    sp.cos,
    sp.tanh,
    sp.atan,
    sp.asinh,
    sp.erf,
    sp.exp,
    sp.Abs,
    sp.sign,
    lambda u: sp.log(1 + u**2),
    lambda u: sp.sqrt(1 + u**2),
    lambda u: sp.Heaviside(u),
    lambda u: sp.Max(0, u),
    lambda u: sp.Min(u, p),
]
CONSTANTS = [sp.Integer(-3), sp.Integer(2), sp.Rational(3, 2), sp.Float(0.1), sp.pi, sp.E]


def _extend(children):
    pair = st.tuples(children, children)
    return st.one_of(
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: t[0](t[1])),
        pair.map(lambda t: t[0] + t[1] + x),
        pair.map(lambda t: t[0] * t[1] * w),
        pair.map(lambda t: t[0] - 2 * t[1]),
        pair.map(lambda t: t[0] / (1 + t[1] ** 2)),
        st.tuples(children, st.integers(2, 3)).map(lambda t: t[0] ** t[1]),
        pair.map(lambda t: sp.Piecewise((t[0], (x > 0) & (y <= 1)), (t[1], True))),
    )


leaves = st.one_of(st.sampled_from([*SYMBOLS, p, n]), st.sampled_from(CONSTANTS))
expressions = st.recursive(leaves, _extend, max_leaves=8).filter(
    lambda e: e.free_symbols and len(str(e)) < 300
)
FAST = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


class TestRoundTrip:
    @FAST
    @given(expressions, st.sampled_from(["op", "fine"]))
    def test_from_expr(self, expr, granularity):
        weights = sorted(expr.free_symbols, key=lambda s: s.name)[:2]
        assert_round_trip(sg.Graph.from_expr(expr, wrt=weights, granularity=granularity))

    @FAST
    @given(expressions, expressions)
    def test_from_assignments(self, first, second):
        z, a, L = sp.symbols("z a L", real=True)
        g = sg.Graph.from_assignments([(z, first), (a, sp.tanh(z) + second), (L, (a - y) ** 2)])
        assert_round_trip(g, gradient=False)  # closed forms here can be slow to build

    def test_example_keeps_everything(self):
        g = sg.Graph.from_expr(sp.tanh(w * x + b) * p**n, wrt=[w, b], output="loss")
        h = assert_round_trip(g)
        assert h.node_named("p").is_positive and h.node_named("n").is_integer
        assert h.output.name == "loss"

    def test_deep_chain_without_recursion_errors(self):
        names = sp.symbols("z1:2001", real=True)
        steps = [(names[0], w * x)]
        steps += [(names[k], sp.sin(names[k - 1]) + b) for k in range(1, len(names))]
        g = sg.Graph.from_assignments(steps, wrt=[w, b])
        text = to_json(g)
        assert len(text) < 2_000_000  # shared subexpressions are written once
        h = from_json(text)
        assert_same_graph(g, h)
        assert h.backward().equations == g.backward().equations  # the δ-terms

    def test_deep_expression_from_expr(self):
        expr = x
        for k in range(600):
            expr = sp.Add(sp.tanh(expr, evaluate=False), w if k % 2 else b, evaluate=False)
        assert_round_trip(sg.Graph.from_expr(expr, wrt=[w, b]), gradient=False)

    def test_numbers_and_constants(self):
        big = sp.Integer(7) ** 4_700  # 3,972 digits: near the 4,000-digit limit
        expr = (
            sp.Float("0.1", 30) * w
            + sp.Float(1 / 3) * x
            + sp.pi * sp.exp(b)
            + sp.E
            + sp.Rational(-22, 7) * y
            + sp.Rational(1, big) * w**2
            + sp.EulerGamma
        )
        h = assert_round_trip(sg.Graph.from_expr(expr, wrt=[w, b]))
        assert h.expr.has(sp.Float("0.1", 30)) and h.expr.has(sp.Rational(1, big))

    def test_adjoint_symbols(self):
        delta = AdjointSymbol(x)
        g = sg.Graph.from_expr(delta * sp.cos(w), wrt=[w])
        h = assert_round_trip(g)
        assert any(isinstance(node, AdjointSymbol) for node in h.nx)

    def test_same_name_different_assumptions(self):
        other = sp.Symbol("w")  # no assumptions: not the node w
        back = through_the_table(other * w + x)
        assert back == other * w + x and back != w**2 + x

    def test_save_and_load_path_and_file(self, tmp_path):
        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        save_json(g, tmp_path / "g.json")
        assert_same_graph(g, load_json(tmp_path / "g.json"))
        assert_same_graph(g, load_json(str(tmp_path / "g.json")))
        buffer = io.StringIO()
        save_json(g, buffer)
        assert_same_graph(g, load_json(io.StringIO(buffer.getvalue())))
        assert_same_graph(g, load_json(io.BytesIO(buffer.getvalue().encode())))

    def test_node_link_layout(self):
        data = json.loads(to_json(sg.Graph.from_expr(sp.sin(w * x), wrt=[w])))
        assert (data["format"], data["version"], data["output"], data["wrt"]) == (
            "symgraph-graph",
            1,
            "L",
            ["w"],
        )
        assert [node["id"] for node in data["nodes"]] == ["w", "x", "v1", "L"]
        plain = nx.node_link_graph({**data, "nodes": data["nodes"]}, edges="edges")
        assert set(plain.edges) == {("w", "v1"), ("x", "v1"), ("v1", "L")}


def test_equal_leaves_are_written_once_whatever_objects_hold_them():
    """SymPy's caches may drop a symbol and build an equal one again: one entry all the same."""
    w_old = sp.Symbol("w", real=True)
    w_new = sp.Symbol.__xnew__(sp.Symbol, "w", real=True)  # equal, not the same object
    assert w_old == w_new and w_old is not w_new
    x = sp.Symbol("x", real=True)
    graph = sg.Graph.from_expr(2 * w_new * x + sp.sin(w_old, evaluate=False), wrt=[w_new])
    entries = json.loads(sg.to_json(graph))["exprs"]
    assert entries.count({"s": "w"}) == 1 and entries.count({"n": "2"}) == 1
    assert_round_trip(graph)


class TestRefusedToSave:
    def test_undefined_function(self):
        f = sp.Function("f")
        with pytest.raises(sg.GraphError, match="not among the SymPy classes"):
            to_json(sg.Graph.from_expr(f(w * x), wrt=[w]))

    def test_integer_too_long(self):
        with pytest.raises(sg.GraphError, match="4000 digits"):
            to_json(sg.Graph.from_expr(w * 10**4_000))


# --- hostile and broken files --------------------------------------------------

CODE = "__import__('os').system('touch {marker}')"


@pytest.fixture
def marker():
    path = Path(f"/tmp/symgraph_pwned_{uuid.uuid4().hex}")
    yield path
    assert not path.exists(), "a loaded file executed code"


class TestHostile:
    def test_code_as_symbol_names_is_only_a_name(self, marker):
        code = CODE.format(marker=marker)
        evil, evil2 = sp.Symbol(code, real=True), sp.Symbol(code + "#", real=True)
        data = json.loads(to_json(sg.Graph.from_expr(sp.sin(evil * evil2), wrt=[evil])))
        h = from_json(json.dumps(data))
        grad = h.backward()
        f = grad.lambdify()
        value, (partial,) = f(**{code: 2.0, code + "#": 0.5})
        assert np.isclose(value, np.sin(1.0)) and np.isclose(partial, 0.5 * np.cos(1.0))
        assert h.node_named(code).name == code

    @pytest.mark.parametrize(
        "entry",
        [
            {"f": CODE, "a": []},
            {"f": "__class__", "a": [0]},
            {"f": "Symbol", "a": []},
            {"f": "Function", "a": []},
            {"f": "Lambda", "a": [7, 0]},  # Lambda(2, w): 2 is no variable
            {"fn": "tanh"},  # a function class is not an expression
            {"fn": "Add"},
            {"fn": CODE},
            {"f": "MatMul", "a": [0, 1]},  # no matrix factor
            {"f": "Identity", "a": [5]},  # sin(v1) rows
            {"f": "ZeroMatrix", "a": [7, 11]},  # cos(v1) columns
            {"n": CODE},
            {"n": "1e3"},
            {"n": "1/0"},
            {"fl": CODE, "prec": 53},
            {"fl": "0.5", "prec": CODE},
            {"c": CODE},
            {"s": CODE},
            {"x": 1},
            {"f": "Add", "a": [0, 99]},
            {"f": "Add", "a": [-1]},
            {"f": "Add", "a": "0"},
            {"f": "sin", "a": [0, 0, 0]},
            {"f": "Pow", "a": [0]},
        ],
    )
    def test_bad_expressions_are_refused(self, marker, entry):
        raw = json.dumps(entry).replace("{marker}", str(marker))
        data = _document()
        data["exprs"].append(json.loads(raw))
        data["nodes"][-1]["op"] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "changes",
        [
            {"format": CODE},
            {"version": 2},
            {"version": True},
            {"output": CODE},
            {"wrt": [CODE]},
            {"wrt": ["w", "w"]},
            {"nodes": "everything"},
            {"edges": [{"source": "w", "target": CODE}]},
            {"symbols": {"w": {"name": "w", "assumptions": {CODE: True}}}},
            {"symbols": {"w": {"name": "w", "assumptions": {"real": CODE}}}},
            {"symbols": {"w": {"name": "w", "class": CODE}}},
            {"symbols": {"w": {"name": "w", "assumptions": {"positive": True, "negative": True}}}},
            {"exprs": CODE},
        ],
    )
    def test_bad_documents_are_refused(self, marker, changes):
        raw = json.dumps(changes).replace("{marker}", str(marker))
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(_document(**json.loads(raw))))

    def test_bad_roles_and_cycles(self):
        data = _document()
        data["nodes"][0]["role"] = "exec"
        with pytest.raises(sg.GraphError, match="role"):
            from_json(json.dumps(data))
        data = _document()
        data["edges"].append({"source": "L", "target": "w", "partial": None})
        with pytest.raises(sg.GraphError, match="cycle"):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "text", ["", "[1, 2]", "not json", "{" * 10, "[" * 100_000 + "]" * 100_000]
    )
    def test_not_a_graph(self, text):
        with pytest.raises(sg.GraphError, match="not a symgraph graph file"):
            from_json(text)

    def test_nesting_over_the_limit(self):
        data = _document()
        data["exprs"].append({"s": "x"})
        start = len(data["exprs"]) - 1
        data["exprs"] += [{"f": "sin", "a": [start + k]} for k in range(MAX_DEPTH)]
        data["nodes"][-1]["op"] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError, match=f"deeper than {MAX_DEPTH}"):
            from_json(json.dumps(data), max_terms=10**6)  # past the default's terms first

    def test_integers_bounded(self):
        data = _document()
        data["exprs"].append({"n": "9" * 4_001})
        with pytest.raises(sg.GraphError, match="4000 digits"):
            from_json(json.dumps(data))
        data["exprs"][-1] = {"n": "9" * 4_000}
        assert from_json(json.dumps(data)).nx.number_of_nodes() == 5

    def test_huge_files_refused_before_reading(self, tmp_path):
        path = tmp_path / "huge.json"
        with path.open("wb") as f:
            f.truncate(50 * 2**20 + 1)
        with pytest.raises(sg.GraphError, match="over 50 MB"):
            load_json(path)
        with pytest.raises(sg.GraphError, match="over 50 MB"):
            from_json(" " * (50 * 2**20 + 1))


# --- export -------------------------------------------------------------------


class TestExport:
    def test_graphml_loads_in_networkx(self, tmp_path):
        g = sg.Graph.from_expr(sp.tanh(w * x + b), wrt=[w, b])
        save_graphml(g, tmp_path / "g.graphml")
        for h in (nx.read_graphml(tmp_path / "g.graphml"), nx.parse_graphml(to_graphml(g))):
            assert set(h.nodes) == {str(node) for node in g.nx}
            assert set(h.edges) == {(str(s), str(t)) for s, t in g.nx.edges}
            for node, data in g.nx.nodes(data=True):
                # a scalar graph's nodes are all shape (): its files name no shapes
                expected = {k: "" if v is None else str(v) for k, v in data.items() if k != "shape"}
                assert h.nodes[str(node)] == expected
            for s, t, data in g.nx.edges(data=True):
                assert h.edges[str(s), str(t)]["partial"] == str(data["partial"])
            assert (h.graph["output"], h.graph["wrt"]) == ("L", "w b")

    def test_dot(self, tmp_path):
        from symgraph.present.draw import to_dot  # being edited by others; import it where needed

        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        save_dot(g, tmp_path / "g.dot", highlight=w)
        assert (tmp_path / "g.dot").read_text() == to_dot(g, highlight=w) + "\n"


# --- matrix graphs ----------------------------------------------------------------

N = sp.Symbol("N", integer=True, positive=True)  # the batch size
A3, V3 = sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("V", 3, 1)
T = sp.Dummy("t", real=True)
C3 = sp.ImmutableMatrix([[1, 2, 0], [0, sp.Rational(1, 2), w], [sp.pi, 0, sp.Float("0.25")]])


MATRIX_EXPRESSIONS = [
    sp.Trace(A3 * C3) + sp.log(sp.Determinant(A3)) + sp.Trace(sp.Inverse(A3)),
    sp.Trace(sp.MatPow(A3, 2) + sp.Identity(3)),
    sp.MatAdd(sp.HadamardProduct(A3.T, A3), sp.ZeroMatrix(3, 3), evaluate=False),
    SumEntries(sp.HadamardPower(A3, 3)) + FrobeniusNorm(A3),
    SumEntries(sp.HadamardPower(2, A3)),  # 2 to the power of each entry
    LogSumExp(Softmax(A3 * V3)) + (A3 * V3)[1, 0],
    SumEntries(RowLogSumExp(RowSoftmax(A3))),
    (MatrixElement(C3, N, 1) + (A3 * V3)[1, 0]) * sp.OneMatrix(1, 1),
    sp.MatMul(2, N, A3, evaluate=False),  # two scalar factors, kept apart
    sp.Basic.__new__(ElementwiseApplyFunction, sp.tanh, A3),  # a function class
    ElementwiseApplyFunction(sp.Lambda(T, sp.exp(-(T**2))), A3),  # a Dummy with assumptions
    A3.applyfunc(lambda t: sp.Max(0, t) + sp.Heaviside(t)),
    C3 * V3 + sp.OneMatrix(3, 1),
]


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)


def batch_graph():
    """The brief's example: a tanh layer over a batch, mean squared error."""
    X, W, B, Y = (
        sp.MatrixSymbol("X", N, 3),
        sp.MatrixSymbol("W", 2, 3),
        sp.MatrixSymbol("b", 2, 1),
        sp.MatrixSymbol("y", N, 2),
    )
    R = (X * W.T + sp.OneMatrix(N, 1) * B.T).applyfunc(sp.tanh) - Y
    return sg.Graph.from_expr(SumEntries(sp.HadamardProduct(R, R)) / N, wrt=[W, B])


def network_graph(activations=("tanh", "identity"), loss="squared_error", granularity="named"):
    """A 3-4-2 network from symgraph.layers, its layers named Z1, A1, Z2, A2."""
    net = layers.mlp(layers.input_matrix(N, 3), [4, 2], list(activations))
    steps = net.with_loss(loss)
    return sg.Graph.from_assignments(steps, wrt=net.params, granularity=granularity)


MATRIX_GRAPHS = {
    "batch": batch_graph,
    "network": network_graph,
    "network-op": lambda: network_graph(granularity="op"),
    "network-sigmoid-bce": lambda: network_graph(("relu", "sigmoid"), "binary_cross_entropy"),
    "network-softmax": lambda: network_graph(("softplus", "identity"), "softmax_cross_entropy"),
}


def assert_same_matrix_graph(g, h):
    """Everything equal: node symbols (class, shape), data in order, edges with their vjp."""
    assert_same_graph(g, h)
    for a, c in zip(g.nx.nodes, h.nx.nodes, strict=True):
        assert type(c) is type(a) and c == a
        assert list(h.nx.nodes[c].items()) == list(g.nx.nodes[a].items())
        shape = h.nx.nodes[c]["shape"]
        assert isinstance(shape, tuple)
        assert [type(d) for d in shape] == [type(d) for d in g.nx.nodes[a]["shape"]]
    assert list(h.nx.edges) == list(g.nx.edges)
    seen: set = set()
    for edge, data in g.nx.edges.items():
        assert list(h.nx.edges[edge].items()) == list(data.items())
        assert same(h.nx.edges[edge].get("vjp"), data.get("vjp"), seen)


def random_arrays(graph, rng, n=5):
    """An array for each leaf, of its shape with the batch size N = n."""
    arrays = {}
    for node, data in graph.nx.nodes(data=True):
        if data["op"] is None:
            shape = tuple(int(d.subs(N, n)) for d in data["shape"])
            arrays[node.name] = rng.uniform(0.1, 0.9, size=shape)
    return arrays


def assert_same_numbers(g, h, rng):
    arrays = random_arrays(g, rng)
    value_g, grads_g = g.backward().lambdify()(**arrays)
    value_h, grads_h = h.backward().lambdify()(**arrays)
    assert np.isfinite(value_g) and value_h == value_g
    assert len(grads_h) == len(grads_g) == len(g.wrt)
    for a, c in zip(grads_g, grads_h, strict=True):
        assert np.array_equal(a, c)


def through_the_table(expr):
    """``expr`` written to a file's tables and read back (as JSON text, in between)."""
    enc = _Encoder()
    root = enc.expr(expr)
    symbols, matrices = _decode_symbols(json.loads(json.dumps(enc.symbols)))
    table = json.loads(json.dumps(enc.exprs))
    return _decode_exprs(table, symbols, matrices, Costs(MAX_TERMS))[root]


def _matrix_document(**changes):
    W, V = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("V", 3, 2)
    data = json.loads(to_json(sg.Graph.from_expr(sp.Trace(W * V), wrt=[W])))
    data.update(changes)
    return data


class TestMatrixRoundTrip:
    @pytest.mark.parametrize("name", list(MATRIX_GRAPHS))
    def test_same_graph_gradient_and_numbers(self, name, rng):
        g = MATRIX_GRAPHS[name]()
        h = from_json(to_json(g))
        assert_same_matrix_graph(g, h)
        grad_g, grad_h = g.backward(), h.backward()
        assert grad_h.equations == grad_g.equations  # the δ-equations, exactly
        assert str(grad_h.equations) == str(grad_g.equations)
        for weight in g.wrt:
            assert grad_h.structured[weight] == grad_g.structured[weight]
        assert_same_numbers(g, h, rng)

    def test_symbols_table(self):
        data = json.loads(to_json(batch_graph()))
        X = data["symbols"]["X"]
        assert (X["name"], X["class"]) == ("X", "MatrixSymbol")
        assert [data["exprs"][k] for k in X["shape"]] == [{"s": "N"}, {"n": "3"}]
        assert data["symbols"]["N"]["assumptions"] == {"integer": True, "positive": True}
        assert data["symbols"]["delta_v3"]["class"] == "MatrixAdjoint"
        assert data["symbols"]["delta_v8"] == {"name": "delta_v8", "class": "AdjointSymbol"}
        dummies = [s for s in data["symbols"].values() if s.get("class") == "Dummy"]
        assert dummies and all(type(s["dummy_index"]) is int for s in dummies)
        v1 = next(node for node in data["nodes"] if node["id"] == "v1")
        assert [data["exprs"][k] for k in v1["shape"]] == [{"s": "N"}, {"n": "2"}]
        edge = next(e for e in data["edges"] if (e["source"], e["target"]) == ("W", "v2"))
        assert edge["partial"] is None and data["exprs"][edge["vjp"]]["f"] == "MatMul"

    def test_matrix_adjoint_in_a_vjp_survives(self):
        g = batch_graph()
        h = from_json(to_json(g))
        W, v2 = h.wrt[0], h.node_named("v2")
        vjp = h.nx.edges[W, v2]["vjp"]
        (delta,) = (a for a in vjp.atoms(sp.MatrixSymbol) if isinstance(a, MatrixAdjoint))
        assert delta == adjoint_of(v2) and delta.shape == (N, 2) and delta.node_name == "v2"
        assert vjp == g.nx.edges[W, v2]["vjp"]

    def test_lambda_dummy_comes_back_equal(self):
        g = network_graph()
        h = from_json(to_json(g))
        A1 = h.node_named("A1")
        op = h.nx.nodes[A1]["op"]
        assert isinstance(op, ElementwiseApplyFunction) and isinstance(op.function, sp.Lambda)
        assert op == g.nx.nodes[A1]["op"]  # the same Dummy: same name and dummy_index
        (u,) = op.function.variables
        (original,) = g.nx.nodes[A1]["op"].function.variables
        assert isinstance(u, sp.Dummy) and u.dummy_index == original.dummy_index
        assert u.assumptions0 == original.assumptions0

    def test_shapes_keep_python_integers(self):
        g = batch_graph()
        v1 = g.node_named("v1")
        g.nx.nodes[v1]["shape"] = (N, 2)  # a builder may write plain ints
        h = from_json(to_json(g))
        assert h.nx.nodes[v1]["shape"] == (N, 2)
        assert type(h.nx.nodes[v1]["shape"][1]) is int
        assert type(g.nx.nodes[g.wrt[0]]["shape"][0]) is type(h.nx.nodes[h.wrt[0]]["shape"][0])

    @pytest.mark.parametrize("expr", MATRIX_EXPRESSIONS, ids=lambda e: type(e).__name__)
    def test_each_matrix_class(self, expr):
        back = through_the_table(expr)
        assert back == expr and same(back, expr)
        assert str(back) == str(expr)

    def test_every_matrix_class_is_tried(self):
        seen, stack = set(), list(MATRIX_EXPRESSIONS)
        while stack:
            e = stack.pop()
            seen.add(type(e))
            stack.extend(e.args if isinstance(e, sp.Basic) else ())
        assert set(_MATRIX_CLASS_LIST) <= seen

    def test_identity_function(self):
        identity = ElementwiseApplyFunction(sp.S.IdentityFunction, A3)
        assert through_the_table(identity) == identity

    @pytest.mark.parametrize("make", [lambda: sg.Graph.from_expr(sp.tanh(w * x + b)), batch_graph])
    def test_gradient_graphs_with_adjoint_nodes(self, make):
        """The graph of a gradient's assignments: nodes g_v1 (AdjointNode or MatrixSymbol)."""
        from symgraph.ad.derivatives import AdjointNode, gradient_assignments

        g = make()
        steps, grads = gradient_assignments(g.backward())
        total = sp.Add(*(SumEntries(d) if d.is_Matrix else d for d in grads.values()))
        graph = sg.Graph.from_assignments([*steps, (sp.Symbol("S", real=True), total)])
        loaded = from_json(to_json(graph))
        assert_same_graph(graph, loaded)
        assert [type(node) for node in loaded.nx] == [type(node) for node in graph.nx]
        assert any(isinstance(node, AdjointNode) for node in loaded.nx)

    def test_save_and_load_a_file(self, tmp_path):
        g = network_graph()
        save_json(g, tmp_path / "net.json")
        assert_same_matrix_graph(g, load_json(tmp_path / "net.json"))

    def test_graphml(self, tmp_path):
        g = batch_graph()
        save_graphml(g, tmp_path / "g.graphml")
        for h in (nx.read_graphml(tmp_path / "g.graphml"), nx.parse_graphml(to_graphml(g))):
            assert set(h.nodes) == {str(node) for node in g.nx}
            for node, data in g.nx.nodes(data=True):
                expected = {k: "" if v is None else str(v) for k, v in data.items()}
                assert h.nodes[str(node)] == expected
            assert h.nodes["X"]["shape"] == "(N, 3)" and h.nodes["L"]["shape"] == "()"
            for s, t, data in g.nx.edges(data=True):  # a scalar edge's vjp is δ·partial: not saved
                saved = {k: v for k, v in data.items() if k != "vjp" or data["partial"] is None}
                assert h.edges[str(s), str(t)] == {
                    k: "" if v is None else str(v) for k, v in saved.items()
                }
            assert h.edges["W", "v2"]["vjp"] == "delta_v2.T*X"
            assert (h.graph["output"], h.graph["wrt"]) == ("L", "W b")


class TestMatrixRefusedToSave:
    def test_symbol_of_another_class(self):
        class Custom(sp.Symbol):
            pass

        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        g.nx.edges[w, g.node_named("v1")]["partial"] = Custom("W1_1_1")
        with pytest.raises(sg.GraphError, match="class Custom"):
            to_json(g)

    def test_undefined_function_entrywise(self):
        f = sp.Function("f")
        with pytest.raises(sg.GraphError, match="function f"):
            through_the_table(sp.Basic.__new__(ElementwiseApplyFunction, f, A3))

    def test_shape_that_is_not_a_size(self):
        g = batch_graph()
        g.nx.nodes[g.node_named("v1")]["shape"] = (N, 2.5)
        with pytest.raises(sg.GraphError, match="not a size"):
            to_json(g)


class TestMatrixHostile:
    @pytest.mark.parametrize(
        ("dimension", "message"),
        [
            ({"n": "-1"}, "dimension"),
            ({"n": str(2**31)}, "dimension"),
            ({"n": "9" * 5000}, "4000 digits"),
            ({"n": "9" * 4000}, "dimension"),
            ({"n": "3/2"}, "dimension"),
            ({"fl": "2.0", "prec": 53}, "dimension"),
            ({"c": "oo"}, "dimension"),
            ({"c": "I"}, "dimension"),
            ({"s": "m"}, "dimension"),  # m is declared integer=False below
            ({"s": "k"}, "dimension"),  # k is negative
            ({"s": "V"}, "no earlier expression|dimension"),
        ],
    )
    def test_bad_matrix_shapes(self, dimension, message):
        data = _matrix_document()
        data["symbols"]["m"] = {"name": "m", "assumptions": {"integer": False}}
        data["symbols"]["k"] = {"name": "k", "assumptions": {"integer": True, "negative": True}}
        data["exprs"][data["symbols"]["W"]["shape"][0]] = dimension
        with pytest.raises(sg.GraphError, match=message):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "shape", [[0], [0, 1, 2], "2x3", [0, -1], [0, 10_000], [0, "1"], [0, None], {"rows": 2}]
    )
    def test_malformed_matrix_shapes(self, shape):
        data = _matrix_document()
        data["symbols"]["W"]["shape"] = shape
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(data))

    def test_shape_names_a_later_expression(self):
        data = _matrix_document()
        data["exprs"].append({"n": "2"})
        data["symbols"]["W"]["shape"][0] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError, match="no earlier expression"):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "entry",
        [
            {"name": "W", "class": CODE, "shape": [0, 1]},
            {"name": "W", "class": ["MatrixSymbol"], "shape": [0, 1]},
            {"name": "W", "class": "Symbol", "shape": [0, 1]},
            {"name": "W", "class": "MatrixSymbol", "shape": [0, 1], "assumptions": {}},
            {"name": "W", "class": "MatrixAdjoint", "shape": [0, 1]},  # not delta_...
            {"name": "W", "class": "Dummy", "dummy_index": -1},
            {"name": "W", "class": "Dummy", "dummy_index": 2**70},
            {"name": "W", "class": "Dummy", "dummy_index": "1"},
            {"name": "W", "class": "AdjointNode"},  # not g_...
            {"name": "W", "class": "AdjointSymbol", "shape": [0, 1]},
        ],
    )
    def test_bad_symbol_entries(self, entry):
        data = _matrix_document()
        data["symbols"]["W"] = entry
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "shape",
        [
            [{"int": -1}, {"int": 3}],
            [{"int": 3}, {"int": 2}],  # not W's shape
            [{"int": 2}, {"int": True}],
            [{"int": 2}, {"eval": CODE}],
            [{"int": 2}, CODE],
            [],  # W is a matrix
        ],
    )
    def test_bad_node_shapes(self, marker, shape):
        data = _matrix_document()
        raw = json.dumps(shape).replace("{marker}", str(marker))
        node = next(node for node in data["nodes"] if node["id"] == "W")
        node["shape"] = json.loads(raw)
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(data))

    def test_scalar_node_with_a_matrix_shape(self):
        data = _matrix_document()
        node = next(node for node in data["nodes"] if node["id"] == "L")
        node["shape"] = [{"int": 2}, {"int": 3}]
        with pytest.raises(sg.GraphError, match="not its symbol's"):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "entries",
        [
            [{"f": "HadamardPower", "a": ["big", "big"]}],  # SymPy would compute big**big
            [{"f": "ElementwiseApplyFunction", "a": ["tanh", "two"]}],  # not a matrix
            [{"f": "ElementwiseApplyFunction", "a": ["two", "W"]}],  # 2 is no function
            [{"f": "ElementwiseApplyFunction", "a": ["atan2", "W"]}],  # not unary
            [{"f": "Add", "a": ["tanh", "two"]}],  # a function class as an argument
            [{"f": "Tuple", "a": ["two"]}, {"f": "ImmutableDenseMatrix", "a": ["two", "two", -1]}],
            [{"f": "Tuple", "a": []}, {"f": "ImmutableDenseMatrix", "a": ["big", "big", -1]}],
            [{"f": "Tuple", "a": ["W"]}, {"f": "ImmutableDenseMatrix", "a": ["one", "one", -1]}],
            [{"f": "MatMul", "a": ["W", "W"]}],  # 2×3 times 2×3
            [{"f": "MatAdd", "a": ["W", "two"]}],
            [{"f": "Trace", "a": ["W"]}],  # not square
            [{"f": "Lambda", "a": ["two", "W"]}],
            [{"f": "MatrixElement", "a": ["two", "one", "one"]}],
            [{"f": "OneMatrix", "a": ["big", "one"]}],
            [{"f": "Softmax", "a": ["W"]}],  # not a vector
            [{"f": "SumEntries", "a": ["two"]}],
        ],
    )
    def test_bad_matrix_expressions(self, entries):
        data = _matrix_document()
        names = {"W": {"s": "W"}, "two": {"n": "2"}, "one": {"n": "1"}, "big": {"n": "9" * 40}}
        names |= {"tanh": {"fn": "tanh"}, "atan2": {"fn": "atan2"}}
        for name, entry in names.items():
            data["exprs"].append(entry)
            names[name] = len(data["exprs"]) - 1
        for entry in entries:  # a name, or -1 for the entry before
            args = [names[a] if isinstance(a, str) else len(data["exprs"]) + a for a in entry["a"]]
            data["exprs"].append({**entry, "a": args})
        data["nodes"][-1]["op"] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError):
            from_json(json.dumps(data))

    def test_scalar_factors_are_not_multiplied_out(self):
        """MatMul(2**1000, 2**1000, W): SymPy's constructor would multiply the factors."""
        W = sp.MatrixSymbol("W", 2, 3)
        power = sp.Pow(2, 1000, evaluate=False)
        back = through_the_table(sp.Basic.__new__(sp.MatMul, power, power, W))
        assert isinstance(back, sp.MatMul) and len(back.args) == 3
        assert back.args[0] == back.args[1] == power and back.args[2] == W


def test_a_graph_deeper_than_ten_thousand_levels_loads_again():
    w, b, x = sp.symbols("w b x", real=True)
    h = x
    for _ in range(3400):  # 10,200 operations deep
        h = sp.tanh(w * h + b, evaluate=False)
    graph = sg.Graph.from_expr(h, wrt=[w, b])
    loaded = from_json(sg.to_json(graph))
    assert loaded.size == graph.size
    value = loaded.backward().lambdify()(w=0.5, b=0.1, x=0.2)[0]
    expected = 0.2
    for _ in range(3400):
        expected = np.tanh(0.5 * expected + 0.1)
    assert np.isclose(value, expected, rtol=1e-12)
