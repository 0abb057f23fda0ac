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

import symgraph as sg
from symgraph.backward import AdjointSymbol
from symgraph.io import (
    MAX_DEPTH,
    from_json,
    load_json,
    save_dot,
    save_graphml,
    save_json,
    to_graphml,
    to_json,
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
        big = sp.Integer(7) ** 11_000  # 9,297 digits: over Python's 4,300-digit str limit
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

    def test_same_name_different_assumptions_in_a_partial(self):
        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        other = sp.Symbol("w")  # no assumptions: not the node w
        g.nx.edges[w, g.node_named("v1")]["partial"] = other + x
        h = from_json(to_json(g))
        partial = h.nx.edges[w, h.node_named("v1")]["partial"]
        assert partial == other + x and partial != w + x

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


class TestRefusedToSave:
    def test_undefined_function(self):
        f = sp.Function("f")
        with pytest.raises(sg.GraphError, match="not among the SymPy classes"):
            to_json(sg.Graph.from_expr(f(w * x), wrt=[w]))

    def test_integer_too_long(self):
        with pytest.raises(sg.GraphError, match="10000 digits"):
            to_json(sg.Graph.from_expr(w * 10**10_001))


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
            {"f": "Lambda", "a": [0, 0]},
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
        with pytest.raises(sg.GraphError, match="deeper than 10000"):
            from_json(json.dumps(data))

    def test_integers_bounded(self):
        data = _document()
        data["exprs"].append({"n": "9" * 10_001})
        with pytest.raises(sg.GraphError, match="10000 digits"):
            from_json(json.dumps(data))
        data["exprs"][-1] = {"n": "9" * 10_000}
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
                expected = {k: "" if v is None else str(v) for k, v in data.items()}
                assert h.nodes[str(node)] == expected
            for s, t, data in g.nx.edges(data=True):
                assert h.edges[str(s), str(t)]["partial"] == str(data["partial"])
            assert (h.graph["output"], h.graph["wrt"]) == ("L", "w b")

    def test_dot(self, tmp_path):
        from symgraph.draw import to_dot  # being edited by others; import it where needed

        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        save_dot(g, tmp_path / "g.dot", highlight=w)
        assert (tmp_path / "g.dot").read_text() == to_dot(g, highlight=w) + "\n"
