"""The graph-file corpus: a saved graph, mutated to carry hostile names, unknown
classes, malformed entries and cost bombs, then loaded and used end to end."""

from __future__ import annotations

import copy
import json
import math
from functools import partial
from pathlib import Path

import sympy as sp

import symgraph as sg
from symgraph.numeric.compile import values_at

from .harness import Case, Wrong

W, X = sp.symbols("w x", real=True)
# The base graph: L = 2*w*x + sin(w); at w = x = 0.7 (every leaf) its value and ∂L/∂w are
AT = 0.7
VALUE = 2 * AT * AT + math.sin(AT)
D_W = 2 * AT + math.cos(AT)


def base() -> dict:
    return json.loads(sg.to_json(sg.Graph.from_expr(2 * W * X + sp.sin(W), wrt=[W])))


def _constant_index(doc: dict) -> int:
    return doc["exprs"].index({"n": "2"})


def shifted(doc: dict, k: int) -> dict:
    """``doc`` with ``k`` free entries at the head of ``exprs`` (every reference moved)."""
    doc = copy.deepcopy(doc)
    move = lambda i: i + k if isinstance(i, int) else i  # noqa: E731
    for node in doc["nodes"]:
        node["op"], node["expr"] = move(node["op"]), move(node["expr"])
        if "shape" in node:
            node["shape"] = [move(i) for i in node["shape"]]
    for edge in doc["edges"]:
        for key in ("partial", "vjp"):
            if key in edge:
                edge[key] = move(edge[key])
    for entry in doc["symbols"].values():
        if "shape" in entry:
            entry["shape"] = [move(i) for i in entry["shape"]]
    for entry in doc["exprs"]:
        if "a" in entry:
            entry["a"] = [move(i) for i in entry["a"]]
    doc["exprs"] = [None] * k + doc["exprs"]
    return doc


def with_constant(table: list, root: dict) -> dict:
    """The base graph with its constant 2 replaced by ``root`` over the entries ``table``.

    Every op, expr and partial that used the 2 now uses the new expression, so
    the graph stays consistent: only its cost changes.
    """
    doc = shifted(base(), len(table))
    doc["exprs"][: len(table)] = table
    doc["exprs"][_constant_index(doc)] = root
    return doc


def _rename(doc: dict, old: str, new: str, ids: bool) -> dict:
    """Give the symbol ``old`` the name ``new`` (and, with ``ids``, the node id too)."""
    doc = copy.deepcopy(doc)
    doc["symbols"][old]["name"] = new
    if ids:
        doc["symbols"][new] = doc["symbols"].pop(old)
        for node in doc["nodes"]:
            node["id"] = new if node["id"] == old else node["id"]
        for edge in doc["edges"]:
            for end in ("source", "target"):
                edge[end] = new if edge[end] == old else edge[end]
        for entry in doc["exprs"]:
            if entry.get("s") == old:
                entry["s"] = new
        doc["wrt"] = [new if w == old else w for w in doc["wrt"]]
        doc["output"] = new if doc["output"] == old else doc["output"]
    return doc


def _replace_entry(doc: dict, find: dict, new: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["exprs"][doc["exprs"].index(find)] = new
    return doc


#: How a hostile name gets into a file: name -> document maker.
MUTATIONS = {
    "input-name": lambda p: _rename(base(), "x", p, ids=False),
    "input-id": lambda p: _rename(base(), "x", p, ids=True),
    "weight-id": lambda p: _rename(base(), "w", p, ids=True),
    "intermediate-id": lambda p: _rename(base(), "v1", p, ids=True),
    "output-id": lambda p: _rename(base(), "L", p, ids=True),
    "class": lambda p: _replace_entry(base(), {"f": "sin", "a": [0]}, {"f": p, "a": [0]}),
    "function-class": lambda p: _replace_entry(base(), {"f": "sin", "a": [0]}, {"fn": p}),
    "constant": lambda p: _replace_entry(base(), {"n": "2"}, {"c": p}),
    "number": lambda p: _replace_entry(base(), {"n": "2"}, {"n": p}),
    "float": lambda p: _replace_entry(base(), {"n": "2"}, {"fl": p, "prec": 53}),
    "symbol-class": lambda p: _set(base(), ["symbols", "x", "class"], p),
    "assumption": lambda p: _set(base(), ["symbols", "x", "assumptions"], {p: True}),
    "role": lambda p: _set(base(), ["nodes", 1, "role"], p),
    "format": lambda p: _set(base(), ["format"], p),
}


def _set(doc: dict, path: list, value) -> dict:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def use(path: str, numbers: bool = True) -> None:
    """Load a graph file and take it through every stage; the numbers are the base's."""
    graph = sg.load_json(path)
    grad = graph.backward()
    point = {leaf: AT for leaf in graph.leaves}
    f = grad.lambdify()
    value, partials = f(*[AT for _ in f.args])
    forward = graph.forward(point)
    fwd, delta = values_at(grad, point)
    str(grad)
    grad.latex()
    if numbers:
        weight = graph.wrt[0]
        if not math.isclose(float(value), VALUE, rel_tol=1e-9):
            raise Wrong(f"value {value} != {VALUE}")
        if not math.isclose(float(partials[0]), D_W, rel_tol=1e-9):
            raise Wrong(f"∂L/∂w {partials[0]} != {D_W}")
        if not math.isclose(float(forward[graph.output]), VALUE, rel_tol=1e-9):
            raise Wrong(f"forward {forward[graph.output]} != {VALUE}")
        if not math.isclose(float(delta[weight]), D_W, rel_tol=1e-9):
            raise Wrong(f"δ_w {delta[weight]} != {D_W}")
    report = sg.check(grad, seed=0)
    if numbers and not report.ok:
        raise Wrong(f"check fails a correct gradient: {report}")


def _file_case(make, numbers: bool, tmp: Path) -> None:
    data = make()
    path = tmp / "g.json"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    use(str(path), numbers)


def name_cases(names: list[str]) -> list[Case]:
    return [
        Case(f"file-inject:{how}:{i}", "graph-file",
             partial(_file_case, partial(make, name), how.endswith(("-id", "-name"))))
        for how, make in MUTATIONS.items()
        for i, name in enumerate(names)
    ]  # fmt: skip


def _shared(levels: int, op: str = "Mul") -> tuple[list, dict]:
    """e0 = w + x, e(k+1) = e(k) * (e(k) + 1): a DAG of ``levels`` steps, 2**levels as a tree."""
    table = [{"s": "w"}, {"s": "x"}, {"n": "1"}, {"f": "Add", "a": [0, 1]}]
    for _ in range(levels - 1):
        last = len(table) - 1
        table += [{"f": "Add", "a": [last, 2]}, {"f": op, "a": [last, last + 1]}]
    last = len(table) - 1
    return table, {"f": "Add", "a": [last, 2]}


def _explicit(n: int) -> tuple[list, dict]:
    table = [{"n": str(n)}, {"n": "1"}, {"f": "Tuple", "a": [1] * (n * n)}]
    table.append({"f": "ImmutableDenseMatrix", "a": [0, 0, 2]})
    return table, {"f": "Trace", "a": [3]}


def _chain_graph(n: int) -> dict:
    """A scalar chain of n nodes v_i = sin(v_{i-1}) * w, saved by hand (symgraph's format)."""
    nodes = [{"op": None, "expr": 0, "role": "weight", "id": "w"}]
    symbols = {"w": {"name": "w", "assumptions": {"real": True}}}
    exprs = [{"s": "w"}]
    edges = []
    prev = "w"
    for i in range(1, n + 1):
        name = "L" if i == n else f"v{i}"
        symbols[name] = {"name": name, "assumptions": {"real": True}}
        k = len(exprs)
        exprs += [{"s": prev}, {"f": "sin", "a": [k]}, {"f": "cos", "a": [k]}]
        role = "output" if i == n else "intermediate"
        nodes.append({"op": k + 1, "expr": None, "role": role, "id": name})
        edges.append({"partial": k + 2, "source": prev, "target": name})
        prev = name
    return {"format": "symgraph-graph", "version": 1, "directed": True, "multigraph": False,
            "graph": {}, "nodes": nodes, "edges": edges, "output": "L", "wrt": ["w"],
            "symbols": symbols, "exprs": exprs}  # fmt: skip


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _pow(a: str, b: str) -> tuple[list, dict]:
    return [{"n": a}, {"n": b}], {"f": "Pow", "a": [0, 1]}


def _call(cls: str, *numbers: str) -> tuple[list, dict]:
    return [{"n": n} for n in numbers], {"f": cls, "a": list(range(len(numbers)))}


def _tower(base: str, height: int) -> tuple[list, dict]:
    table = [{"n": base}]
    for _ in range(height - 1):
        table.append({"f": "Pow", "a": [0, len(table) - 1]})
    return table[:-1], table[-1]


BOMBS = {
    "pow-10-10-10": lambda: _tower("10", 3),
    "pow-9-9-9": lambda: _tower("9", 3),
    "pow-4000-digits": lambda: _pow("10", "4000"),
    "pow-2-13000": lambda: _pow("2", "13000"),
    "pow-float-1e400": lambda: (
        [{"n": "2"}, {"fl": "1e400", "prec": 53}],
        {"f": "Pow", "a": [0, 1]},
    ),
    "factorial-1e9": lambda: _call("factorial", "1000000000"),
    "gamma-1600": lambda: _call("gamma", "1600"),
    "binomial": lambda: _call("binomial", "1000000000", "500000000"),
    "integer-9999-digits": lambda: ([], {"n": "9" * 9999}),
    "integer-10001-digits": lambda: ([], {"n": "9" * 10001}),
    "rational-huge": lambda: ([], {"n": "1/" + "7" * 9999}),
    "float-precision": lambda: ([], {"fl": "1.5", "prec": 100000}),
    "float-precision-over": lambda: ([], {"fl": "1.5", "prec": 10**9}),
    "float-exponent": lambda: ([], {"fl": "1e999999999", "prec": 53}),
    "shared-40": lambda: _shared(40),
    "shared-40-add": lambda: _shared(40, "Add"),
    "shared-20": lambda: _shared(20),
    "identity-46340": lambda: _call("Identity", "46340"),
    "identity-2e9": lambda: _call("Identity", "2000000000"),
    "explicit-300": lambda: _explicit(300),
    "explicit-1000": lambda: _explicit(1000),
    "true-in-sin": lambda: ([{"c": "true"}], {"f": "sin", "a": [0]}),
    "true-as-number": lambda: ([], {"c": "true"}),
    "nan": lambda: ([], {"c": "nan"}),
    "zoo": lambda: ([], {"c": "zoo"}),
}


def _bomb_doc(name: str) -> dict:
    table, root = BOMBS[name]()
    return with_constant(table, root)


def _lying_partial() -> dict:
    """dL/dw on the edge w -> v1 says 21 instead of 2x: the loader must verify or recompute."""
    doc = base()
    doc["exprs"].append({"n": "21"})
    for edge in doc["edges"]:
        if edge["source"] == "w" and edge["target"] == "v1":
            edge["partial"] = len(doc["exprs"]) - 1
    return doc


def _bool_number() -> dict:
    doc = base()
    doc["exprs"][_constant_index(doc)] = {"n": True}
    return doc


def _edit(fn):
    def make():
        doc = base()
        fn(doc)
        return doc

    return make


MALFORMED = {
    "empty": lambda: "",
    "null": lambda: "null",
    "list": lambda: "[]",
    "object": lambda: "{}",
    "binary": lambda: bytes(range(256)) * 4,
    "utf16": lambda: json.dumps(base()).encode("utf-16"),
    "latin1-name": lambda: json.dumps(_rename(base(), "x", "caf\u00e9", False),
                                      ensure_ascii=False).encode("latin-1"),
    "json-nesting-100000": lambda: _nested(100_000),
    "json-nesting-in-exprs": lambda: json.dumps(base())[:-1] + ', "junk": ' + _nested(50_000) + "}",
    "json-huge-number": lambda: json.dumps(base()).replace('"version": 1', '"version": 1e999999'),
    "json-nan": lambda: json.dumps(base()).replace('"version": 1', '"version": NaN'),
    "json-big-int": lambda: json.dumps(base()).replace('"version": 1', '"version": ' + "9" * 5000),
    "over-50mb": lambda: json.dumps(base()) + " " * (51 * 2**20),
    "chain-100k": lambda: _chain_graph(100_000),
    "chain-20k": lambda: _chain_graph(20_000),
    "lying-partial": _lying_partial,
    "bool-number": _bool_number,
    "ref-out-of-range": _edit(lambda d: d["nodes"][2].update(op=10**6)),
    "ref-negative": _edit(lambda d: d["nodes"][2].update(op=-1)),
    "ref-string": _edit(lambda d: d["nodes"][2].update(op="0")),
    "ref-bool": _edit(lambda d: d["nodes"][2].update(op=True)),
    "ref-forward": _edit(lambda d: d["exprs"].__setitem__(3, {"f": "Mul", "a": [3, 4]})),
    "args-not-list": _edit(lambda d: d["exprs"].__setitem__(3, {"f": "Mul", "a": 0})),
    "args-huge": _edit(lambda d: d["exprs"].__setitem__(3, {"f": "Add", "a": [0] * 200_000})),
    "edge-missing-node": _edit(
        lambda d: d["edges"].append({"partial": 0, "source": "q", "target": "L"})),
    "edge-cycle": _edit(lambda d: d["edges"].append({"partial": 0, "source": "L", "target": "w"})),
    "self-loop": _edit(lambda d: d["edges"].append({"partial": 0, "source": "v1", "target": "v1"})),
    "output-missing": _edit(lambda d: d.update(output="q")),
    "output-is-leaf": _edit(lambda d: d.update(output="x")),
    "wrt-missing": _edit(lambda d: d.update(wrt=["q"])),
    "wrt-intermediate": _edit(lambda d: d.update(wrt=["v1"])),
    "wrt-not-list": _edit(lambda d: d.update(wrt="w")),
    "duplicate-node": _edit(lambda d: d["nodes"].append(dict(d["nodes"][0]))),
    "version-2": _edit(lambda d: d.update(version=2)),
    "nodes-not-list": _edit(lambda d: d.update(nodes={})),
    "symbol-missing": _edit(lambda d: d["symbols"].pop("x")),
    "exprs-missing": _edit(lambda d: d.pop("exprs")),
    "entry-two-kinds": _edit(lambda d: d["exprs"].__setitem__(0, {"s": "w", "n": "1"})),
    "entry-not-dict": _edit(lambda d: d["exprs"].__setitem__(0, ["s", "w"])),
    "matrix-negative": _edit(lambda d: d["symbols"].__setitem__(
        "x", {"name": "x", "class": "MatrixSymbol", "shape": [0, 0]})),
    "dummy-index-huge": _edit(lambda d: d["symbols"].__setitem__(
        "x", {"name": "x", "class": "Dummy", "dummy_index": 10**30, "assumptions": {}})),
    "name-100k": lambda: _rename(base(), "x", "x" * 100_000, False),
    "name-control-chars": lambda: _rename(base(), "x", "x\u0000\u0007\u001b[2J", False),
}  # fmt: skip


def structural_cases() -> list[Case]:
    cases = [
        Case(
            f"file-bomb:{name}", "graph-file", partial(_file_case, partial(_bomb_doc, name), False)
        )
        for name in BOMBS
    ]
    numbers = {"lying-partial", "latin1-name", "name-100k", "name-control-chars", "utf16"}
    cases += [
        Case(f"file-malformed:{name}", "graph-file", partial(_file_case, make, name in numbers))
        for name, make in MALFORMED.items()
    ]
    return cases


def _graphml_case(name: str, tmp: Path) -> None:
    """GraphML export of a name with control characters must be XML that a reader accepts."""
    import networkx as nx

    w = sp.Symbol(name, real=True)
    graph = sg.Graph.from_expr(2 * w * X + sp.sin(w), wrt=[w])
    path = tmp / "g.graphml"
    sg.save_graphml(graph, path)
    try:
        nx.read_graphml(path)
    except Exception as err:
        raise Wrong(f"save_graphml wrote a file networkx cannot read: {err}") from None


def graphml_cases() -> list[Case]:
    names = ["x\u0000", "x\u0007y", "x\u001b[2J", "x]]>", "x<&>'\"", "\ud800"]
    return [
        Case(f"graphml:{i}", "graph-file", partial(_graphml_case, n)) for i, n in enumerate(names)
    ]


def cases(names: list[str]) -> list[Case]:
    return name_cases(names) + structural_cases() + graphml_cases()
