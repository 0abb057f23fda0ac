"""Hostile graph files: cost bombs refused before anything is computed, lies refused.

Each file is built here, small; the "does not hang" cases run in a forked
child with a generous time limit (the fixed loader refuses them in
milliseconds), and every refusal is one SymgraphError line.
"""

import io
import json
import multiprocessing
import xml.etree.ElementTree as ET

import networkx as nx
import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.io import from_json, load_json, save_graphml, to_graphml, to_json
from symgraph.io.limits import MAX_TERMS

w, x, y, b = sp.symbols("w x y b", real=True)
LIMIT = 20  # seconds: a hang, not a slow machine

# --- helpers ------------------------------------------------------------------


def _run(fn, conn):
    try:
        fn()
        conn.send(("ok", ""))
    except BaseException as err:  # noqa: BLE001 - reported to the parent
        conn.send((type(err).__name__, str(err)))


def in_child(fn):
    """``fn()`` in a forked process: (exception class name or "ok", message); fails if it hangs."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_run, args=(fn, child))
    process.start()
    try:
        if not parent.poll(LIMIT):
            pytest.fail(f"still running after {LIMIT} s")
        return parent.recv()
    finally:
        process.kill()
        process.join()


def refusal(text, **kw):
    """The one-line GraphError message ``from_json(text)`` gives (run in a child)."""
    kind, message = in_child(lambda: from_json(text, **kw))
    assert kind == "GraphError", (kind, message)
    assert "\n" not in message and len(message) < 400, message
    return message


def document(nodes, edges, exprs, output="L", wrt=("w",), symbols=("w", "x", "L")):
    """A graph file by hand: nodes (id, op, expr, role), edges (source, target, partial)."""
    return json.dumps(
        {
            "format": "symgraph-graph",
            "version": 1,
            "directed": True,
            "multigraph": False,
            "graph": {},
            "nodes": [{"id": i, "op": op, "expr": e, "role": r} for i, op, e, r in nodes],
            "edges": [{"source": s, "target": t, "partial": p} for s, t, p in edges],
            "output": output,
            "wrt": list(wrt),
            "symbols": {s: {"name": s, "assumptions": {"real": True}} for s in symbols},
            "exprs": exprs,
        }
    )


def one_operation(exprs, partial=None):
    """w -> L, L's op and expr the last entry of ``exprs`` (entry 0 is w), then its partial."""
    top = len(exprs) - 1
    exprs = [*exprs, partial or {"n": "1"}]
    nodes = [("w", None, 0, "weight"), ("L", top, top, "output")]
    return document(nodes, [("w", "L", top + 1)], exprs)


def doubling(times):
    """w, w*w, (w*w)*(w*w), ...: each entry shares the one before twice."""
    return [{"s": "w"}] + [{"f": "Mul", "a": [k, k]} for k in range(times)]


# --- expensive to use, cheap to write -------------------------------------------


class TestCostBombs:
    def test_shared_subexpression_2_to_the_40(self):
        text = one_operation(doubling(40))
        assert len(text) < 2500
        message = refusal(text)
        assert f"more than {MAX_TERMS} terms" in message and "max_terms=" in message

    def test_a_chain_of_nodes_sharing_their_operands(self):
        """Each node small (v_k = v_{k-1}*v_{k-1}), its expr a tree of 2**30 terms."""
        names = ["w"] + [f"v{k}" for k in range(1, 31)]
        exprs = [{"s": name} for name in names]  # 0..30
        exprs += [{"f": "Mul", "a": [k, k]} for k in range(30)]  # ops: 31..60
        exprs += [{"f": "Mul", "a": [0, 0]}]  # the full expressions: 61..90
        exprs += [{"f": "Mul", "a": [61 + k, 61 + k]} for k in range(29)]
        exprs += [{"f": "Mul", "a": [2, k]} for k in range(31)]  # partials 2*v_k: 91..121
        nodes = [("w", None, 0, "weight")]
        nodes += [(names[k], 30 + k, 60 + k, "intermediate") for k in range(1, 31)]
        nodes[-1] = (names[30], 60, 90, "output")
        edges = [(names[k - 1], names[k], 90 + k) for k in range(1, 31)]
        text = document(nodes, edges, exprs, output="v30", symbols=names)
        assert "edge w -> v1" in refusal(text)  # loaded as a DAG, its partials checked

    def test_raising_max_terms_loads_a_large_shared_expression(self):
        exprs = [{"s": "w"}] + [{"f": "Add", "a": [k, k]} for k in range(19)]  # 2**19 w
        text = one_operation(exprs, partial={"n": str(2**19)})
        assert "max_terms=" in refusal(text)  # 2**20 - 1 terms
        kind, message = in_child(lambda: from_json(text, max_terms=1_100_000))
        assert (kind, message) == ("ok", "")
        h = from_json(text, max_terms=1_100_000)
        assert float(h.backward()[h.wrt[0]]) == 2**19  # the oracle: d(2**19 w)/dw

    @pytest.mark.parametrize(
        ("exprs", "message"),
        [  # entry 0 is w; each case ends in a power multiplied by w
            ([{"n": "2"}, {"n": "1" + "0" * 3999}, {"f": "Pow", "a": [1, 2]}], "power"),
            ([{"n": "3"}, {"n": "100000"}, {"f": "Pow", "a": [1, 2]}], "power"),
            (
                [{"n": "7"}, {"n": "10"}, {"n": "40"}, {"f": "Pow", "a": [2, 3]}]
                + [{"f": "Pow", "a": [1, 4]}],
                "power",
            ),
            ([{"n": "2" * 400}, {"n": "1/3"}, {"f": "Pow", "a": [1, 2]}], "root"),
        ],
        ids=["4000-digit-exponent", "big-exponent", "power-tower", "root"],
    )
    def test_powers_of_numbers(self, exprs, message):
        exprs = [{"s": "w"}, *exprs]
        exprs.append({"f": "Mul", "a": [0, len(exprs) - 1]})
        assert message in refusal(one_operation(exprs))

    def test_numbers_python_cannot_print(self):
        """Over 4,300 digits str() raises ValueError: in a literal, or in a product of two."""
        exprs = [{"s": "w"}, {"n": "9" * 4500}, {"f": "Mul", "a": [0, 1]}]
        assert "more than 4000 digits" in refusal(one_operation(exprs))
        exprs = [{"s": "w"}, {"n": "9" * 2500}, {"f": "Mul", "a": [0, 1, 1]}]
        assert "more than 14000 bits" in refusal(one_operation(exprs))

    def test_products_of_large_numbers(self):
        """2**9000 squared 20 times: each power fine, the product 9000 * 2**20 bits."""
        exprs = [{"s": "w"}, {"n": "2"}, {"n": "9000"}, {"f": "Pow", "a": [1, 2]}]
        exprs += [{"f": "Mul", "a": [3 + k, 3 + k]} for k in range(20)]
        exprs += [{"f": "Mul", "a": [0, len(exprs) - 1]}]
        assert "bits" in refusal(one_operation(exprs))

    @pytest.mark.parametrize(
        ("name", "args"),
        [
            ("binomial", ["1000000000", "500000000"]),
            ("factorial", ["100000"]),
            ("gamma", ["20001"]),
            ("polygamma", ["1000000", "x"]),
        ],
    )
    def test_integer_valued_functions_of_huge_numbers(self, name, args):
        exprs = [{"s": "w"}, {"s": "x"}]
        exprs += [{"n": a} if a != "x" else {"f": "Add", "a": [1, 1]} for a in args]
        exprs += [{"f": name, "a": list(range(2, 2 + len(args)))}]
        exprs += [{"f": "Mul", "a": [0, len(exprs) - 1]}]
        message = refusal(one_operation(exprs))
        assert f"{name}() of a number above 10000" in message

    def test_binomial_of_symbols_is_not_refused_by_the_limit(self):
        exprs = [{"s": "w"}, {"n": "5"}, {"f": "binomial", "a": [0, 1]}]
        assert "too large" not in refusal(one_operation(exprs))  # refused: its partial lies

    @pytest.mark.parametrize(
        ("entries", "message"),
        [
            ([{"n": "46340"}, {"f": "Identity", "a": [1]}], "Identity of 2147395600 entries"),
            ([{"n": "100000"}, {"f": "ZeroMatrix", "a": [1, 1]}], "ZeroMatrix of"),
            ([{"n": "100000"}, {"n": "50"}, {"f": "OneMatrix", "a": [1, 2]}], "OneMatrix of"),
        ],
    )
    def test_materialized_matrices(self, entries, message):
        exprs = [{"s": "w"}, *entries, {"f": "Trace", "a": [len(entries)]}]
        exprs += [{"f": "Mul", "a": [0, len(exprs) - 1]}]
        assert message in refusal(one_operation(exprs))

    def test_an_explicit_matrix_of_101_by_100(self):
        exprs = [{"s": "w"}, {"n": "101"}, {"n": "100"}, {"n": "1"}]
        exprs += [{"f": "Tuple", "a": [3] * 10_100}, {"f": "ImmutableDenseMatrix", "a": [1, 2, 4]}]
        exprs += [{"f": "Trace", "a": [5]}, {"f": "Mul", "a": [0, 6]}]
        assert "explicit 101 × 100 matrix" in refusal(one_operation(exprs))

    def test_an_explicit_1000_by_1000_matrix(self):
        exprs = [{"s": "w"}, {"n": "1000"}, {"n": "1"}]
        exprs += [
            {"f": "Tuple", "a": [2] * 1_000_000},
            {"f": "ImmutableDenseMatrix", "a": [1, 1, 3]},
        ]
        exprs += [{"f": "Trace", "a": [4]}, {"f": "Mul", "a": [0, 5]}]
        assert "max_terms=" in refusal(one_operation(exprs))

    def test_a_matrix_dimension_over_the_parser_limit(self):
        W = sp.MatrixSymbol("W", 2, 3)
        data = json.loads(to_json(sg.Graph.from_expr(sp.Trace(W.T * W), wrt=[W])))
        data["exprs"][data["symbols"]["W"]["shape"][0]] = {"n": "100001"}
        assert "is not from 0 to 100000" in refusal(json.dumps(data))

    def test_too_many_nodes_names_the_keyword(self):
        text = json.dumps(
            {"format": "symgraph-graph", "version": 1, "nodes": [{}] * 100_000, "edges": []}
        )
        message = refusal(text)
        assert "100000 nodes" in message and "max_size=" in message

    def test_a_huge_expression_table(self):
        data = json.loads(to_json(sg.Graph.from_expr(sp.sin(w * x), wrt=[w])))
        data["exprs"] += [{"s": "w"}] * 300_001
        message = refusal(json.dumps(data))
        entries = len(data["exprs"])  # sin(w*x)'s own table may be 8 or 9, as SymPy orders it
        assert f"{entries} expression entries" in message and "max_size=" in message

    def test_max_size_is_a_keyword_of_both_loaders(self, tmp_path):
        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])  # 4 nodes, 3 edges
        sg.save_json(g, tmp_path / "g.json")
        assert "max_size=6" in refusal(to_json(g), max_size=6)
        assert from_json(to_json(g), max_size=7).nx.number_of_nodes() == 4
        with pytest.raises(sg.GraphError, match="max_size=6"):
            load_json(tmp_path / "g.json", max_size=6)


# --- what the file says and its operations contradict ----------------------------


def _loss_graph():
    """L = (tanh(w*x) - y)**2: v1 = -y, v2 = w*x, v3 = tanh(v2), v4 = v1 + v3, L = v4**2."""
    return sg.Graph.from_expr((sp.tanh(w * x) - y) ** 2, wrt=[w])


def _edge_into(data, target):
    return next(e for e in data["edges"] if e["target"] == target)


class TestContradictions:
    def test_a_partial_of_21(self):
        data = json.loads(to_json(_loss_graph()))
        data["exprs"].append({"fl": "21.0", "prec": 53})
        output_edge = _edge_into(data, "L")
        output_edge["partial"] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError, match=r"partial on edge v\d+ -> L is 21\.0+, but its"):
            from_json(json.dumps(data))

    def test_a_partial_of_another_function(self):
        data = json.loads(to_json(_loss_graph()))
        tanh_node = next(
            n["id"] for n in data["nodes"] if data["exprs"][n["op"] or 0].get("f") == "tanh"
        )
        edge = _edge_into(data, tanh_node)  # 1 - v**2: write cos(v) instead
        data["exprs"].append({"f": "cos", "a": [data["exprs"].index({"s": edge["source"]})]})
        edge["partial"] = len(data["exprs"]) - 1
        with pytest.raises(sg.GraphError, match=f"partial on edge {edge['source']} -> {tanh_node}"):
            from_json(json.dumps(data))

    def test_an_equal_partial_written_otherwise_loads_and_differentiates_right(self):
        g = _loss_graph()
        v = g.node_named("v2")  # w*x
        edge = (w, v)
        assert g.nx.edges[edge]["partial"] == x
        g.nx.edges[edge]["partial"] = sp.Mul(2, x, sp.Rational(1, 2), evaluate=False)
        h = from_json(to_json(g))
        assert h.nx.edges[w, v]["partial"] == g.nx.edges[edge]["partial"]
        point = {w: 0.3, x: 1.7, y: -0.4}
        expected = sp.diff((sp.tanh(w * x) - y) ** 2, w).subs(point)  # the oracle
        assert np.isclose(float(h.backward()[w].subs(point)), float(expected))

    def test_a_node_expression_that_lies(self):
        data = json.loads(to_json(_loss_graph()))
        output = next(n for n in data["nodes"] if n["id"] == "L")
        output["expr"] = data["exprs"].index({"s": "x"})
        with pytest.raises(sg.GraphError, match="expression of node L is x, but its operation"):
            from_json(json.dumps(data))

    def test_an_equal_expression_written_otherwise_loads(self):
        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        v = g.node_named("v1")
        g.nx.nodes[v]["expr"] = sp.Mul(x, w, evaluate=False)  # w*x, factors swapped
        assert from_json(to_json(g)).nx.nodes[v]["expr"].args == (x, w)

    @pytest.mark.parametrize(
        ("node", "role", "message"),
        [
            ("w", "input", "role 'input'; it is a weight node"),
            ("x", "weight", "role 'weight'; it is a input node"),
            ("v2", "output", "role 'output'; it is a intermediate node"),
            ("L", "intermediate", "role 'intermediate'; it is a output node"),
        ],
    )
    def test_roles(self, node, role, message):
        data = json.loads(to_json(_loss_graph()))
        next(n for n in data["nodes"] if n["id"] == node)["role"] = role
        with pytest.raises(sg.GraphError, match=message):
            from_json(json.dumps(data))

    def test_a_missing_edge(self):
        data = json.loads(to_json(_loss_graph()))
        data["edges"] = [e for e in data["edges"] if e["source"] != "x"]
        with pytest.raises(sg.GraphError, match="in-edges of v2 are not the nodes"):
            from_json(json.dumps(data))

    def test_an_extra_edge(self):
        data = json.loads(to_json(_loss_graph()))
        data["edges"].append({"source": "y", "target": "v2", "partial": None})
        with pytest.raises(sg.GraphError, match="in-edges of v2 are not the nodes"):
            from_json(json.dumps(data))

    def test_a_matrix_vjp_that_lies(self):
        W = sp.MatrixSymbol("W", 2, 3)
        data = json.loads(to_json(sg.Graph.from_expr(sp.Trace(W.T * W), wrt=[W])))
        edge = next(e for e in data["edges"] if e.get("vjp") is not None)
        edge["vjp"] = data["exprs"].index({"s": "W"})
        with pytest.raises(sg.GraphError, match="vector-Jacobian product on edge W -> v1 is W"):
            from_json(json.dumps(data))

    @pytest.mark.parametrize(
        "entries",
        [
            [{"c": "true"}, {"f": "sin", "a": [1]}],
            [{"c": "false"}, {"f": "Add", "a": [0, 1]}],
            [{"s": "x"}, {"f": "StrictGreaterThan", "a": [0, 1]}, {"f": "Mul", "a": [0, 2]}],
            [{"c": "true"}, {"f": "Heaviside", "a": [0, 1]}],
        ],
        ids=["sin(true)", "w + false", "w*(w > x)", "Heaviside(w, true)"],
    )
    def test_booleans_are_not_numbers(self, entries):
        exprs = [{"s": "w"}, *entries]
        with pytest.raises(sg.GraphError, match="a truth value"):
            from_json(one_operation(exprs))

    def test_conditions_stay_allowed(self):
        g = sg.Graph.from_expr(sp.Piecewise((w, (x > 0) & sp.Ne(x, 1)), (w**2, True)), wrt=[w])
        assert from_json(to_json(g)).expr == g.expr


# --- GraphML ----------------------------------------------------------------------


class TestGraphML:
    def test_control_characters_are_escaped(self, tmp_path):
        a, c = sp.Symbol("a\x01b", real=True), sp.Symbol("c\x1f\rd", real=True)
        g = sg.Graph.from_expr(sp.sin(a * c), wrt=[a])
        text = to_graphml(g)
        ET.fromstring(text)  # well-formed XML
        h = nx.parse_graphml(text)
        assert {"a\\x01b", "c\\x1f\\x0dd"} <= set(h.nodes)
        assert h.nodes["v1"]["expr"] == "a\\x01b*c\\x1f\\x0dd"
        assert h.graph["wrt"] == "a\\x01b"
        save_graphml(g, tmp_path / "g.graphml")
        assert set(nx.read_graphml(tmp_path / "g.graphml").nodes) == set(h.nodes)

    def test_lone_surrogates_are_escaped(self):
        s = sp.Symbol("s\ud800", real=True)
        h = nx.parse_graphml(to_graphml(sg.Graph.from_expr(s + 1, wrt=[s])))
        assert "s\\ud800" in h.nodes

    def test_a_lone_surrogate_in_a_name_saves_and_loads(self, tmp_path):
        s = sp.Symbol("s\ud800", real=True)
        g = sg.Graph.from_expr(sp.sin(s * w), wrt=[w])
        sg.save_json(g, tmp_path / "g.json")
        assert load_json(tmp_path / "g.json").node_named("s\ud800") == s

    def test_nodes_printed_alike_stay_apart(self):
        x_positive = sp.Symbol("x", positive=True)  # builders refuse it: made by hand
        d = nx.DiGraph()
        d.add_node(x, op=None, expr=x, role="weight")
        d.add_node(x_positive, op=None, expr=x_positive, role="input")
        d.add_node(y, op=x * x_positive, expr=x * x_positive, role="output")
        d.add_edge(x, y, partial=x_positive)
        d.add_edge(x_positive, y, partial=x)
        h = nx.parse_graphml(to_graphml(sg.Graph(d, y, [x])))
        assert set(h.nodes) == {"x", "x#1", "y"}
        assert set(h.edges) == {("x", "y"), ("x#1", "y")}


# --- bad files: one SymgraphError line, never a raw exception -----------------------


GOOD = to_json(sg.Graph.from_expr(sp.sin(w * x), wrt=[w]))


def _edited(edit):
    data = json.loads(GOOD)
    edit(data)
    return json.dumps(data)


BAD_TEXTS = {
    "truncated": GOOD[: len(GOOD) // 2],
    "empty": "",
    "nodes-a-dict": _edited(lambda d: d.update(nodes={"w": 1})),
    "exprs-a-string": _edited(lambda d: d.update(exprs="x")),
    "args-floats": _edited(lambda d: d["exprs"].__setitem__(2, {"f": "Mul", "a": [0.0, 1.0]})),
    "args-booleans": _edited(lambda d: d["exprs"].__setitem__(2, {"f": "Mul", "a": [False, True]})),
    "number-a-boolean": _edited(lambda d: d["exprs"].append({"n": True})),
    "op-a-boolean": _edited(lambda d: d["nodes"][2].update(op=True)),
    "unknown-class": _edited(lambda d: d["exprs"].__setitem__(2, {"f": "Subs", "a": [0, 1]})),
    "cycle": _edited(lambda d: d["edges"].append({"source": "L", "target": "v1", "partial": 0})),
    "self-loop": _edited(lambda d: d["edges"].append({"source": "L", "target": "L", "partial": 0})),
    "huge-json-int": GOOD[:-1] + ', "x": ' + "9" * 5000 + "}",
    "huge-number": _edited(lambda d: d["exprs"].append({"n": "9" * 20_000})),
    "huge-float-exponent": _edited(lambda d: d["exprs"].append({"fl": "1e999999", "prec": 53})),
    "deep-json": "[" * 100_000 + "]" * 100_000,
    "deep-table": _edited(
        lambda d: d["exprs"].extend({"f": "sin", "a": [len(d["exprs"]) + k]} for k in range(10_001))
    ),
    "wrt-not-a-list": _edited(lambda d: d.update(wrt="w")),
    "role-a-number": _edited(lambda d: d["nodes"][0].update(role=3)),
    "symbols-a-list": _edited(lambda d: d.update(symbols=[])),
    "name-a-number": _edited(lambda d: d["symbols"]["w"].update(name=7)),
    "version-true": _edited(lambda d: d.update(version=True)),
}
BAD_BYTES = {
    "latin-1": GOOD.replace('"L"', '"Lé"').encode("latin-1"),
    "utf-16": GOOD.encode("utf-16"),
    "random": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    "nul": b"\x00" * 100,
}


def _one_line(err):
    message = str(err.value)
    assert isinstance(err.value, sg.SymgraphError)
    assert "\n" not in message and 0 < len(message) < 400, message


class TestBadFiles:
    @pytest.mark.parametrize("name", list(BAD_TEXTS))
    def test_bad_text(self, name):
        with pytest.raises(sg.SymgraphError) as err:
            from_json(BAD_TEXTS[name])
        _one_line(err)

    @pytest.mark.parametrize("name", list(BAD_BYTES))
    def test_bad_bytes(self, name, tmp_path):
        with pytest.raises(sg.SymgraphError) as err:
            from_json(BAD_BYTES[name])
        _one_line(err)
        (tmp_path / "g.json").write_bytes(BAD_BYTES[name])
        with pytest.raises(sg.SymgraphError) as err:
            load_json(tmp_path / "g.json")
        _one_line(err)
        with pytest.raises(sg.SymgraphError) as err:
            load_json(io.BytesIO(BAD_BYTES[name]))
        _one_line(err)

    def test_a_text_file_in_latin_1(self, tmp_path):
        (tmp_path / "g.json").write_bytes(BAD_BYTES["latin-1"])
        with (tmp_path / "g.json").open(encoding="utf-8") as f, pytest.raises(sg.GraphError) as err:
            load_json(f)
        _one_line(err)

    @pytest.mark.parametrize("value", [None, 42, ["{}"], {"format": "symgraph-graph"}])
    def test_not_text(self, value):
        with pytest.raises(sg.GraphError, match="str or bytes") as err:
            from_json(value)
        _one_line(err)

    def test_paths_that_cannot_be_read(self, tmp_path):
        for path in (tmp_path / "missing.json", tmp_path):
            with pytest.raises(sg.GraphError, match="cannot read the graph file") as err:
                load_json(path)
            _one_line(err)

    def test_a_long_refusal_does_not_echo_the_input(self):
        with pytest.raises(sg.GraphError) as err:
            from_json(BAD_TEXTS["huge-number"])
        assert "9" * 100 not in str(err.value)
