"""Graph files that share subexpressions: a residual network loads, bombs are bounded.

A residual layer ``h + tanh(w*h)`` uses ``h`` twice, so 25 layers are 2²⁵
terms as a tree and a few hundred table entries; the loader counts distinct
parts.  Files small as a DAG and exponential as a tree either load, and every
stage after loading finishes in a forked child within seconds, or are refused
with one GraphError line naming the entry.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from children import in_child

import symgraph as sg
from symgraph.io import from_json, to_json

SECONDS = 10.0  # a hang, not a slow machine: each stage takes well under one


def residual(layers):
    """h = x, then h + tanh(w_k*h) for each layer, recorded by the tracer."""
    x = sg.Value(0.3, name="x")
    ws = [sg.Value(0.1 * k, name=f"w{k}") for k in range(1, layers + 1)]
    h = x
    for w in ws:
        h = h + (w * h).tanh()
    return h.backward()


def forward(x, ws):
    h = x
    for w in ws:
        h = h + np.tanh(w * h)
    return h


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture(scope="module")
def deep():
    """``to_json(residual(25).graph)`` as written on 2026-12-03: a file from before loads."""
    return Path(__file__).with_name("residual25.json").read_text()


class TestResidual:
    def test_25_layers_round_trip(self, deep, rng):
        text = deep
        assert len(json.loads(text)["exprs"]) < 400  # 2**25 terms as a tree
        loaded = from_json(text).backward()
        values = {"x": rng.uniform(0.2, 0.8)} | {f"w{k}": rng.uniform(-1, 1) for k in range(1, 26)}
        value, grads = loaded.lambdify()(**values)
        ws = np.array([values[f"w{k}"] for k in range(1, 26)])
        assert value == pytest.approx(forward(values["x"], ws), rel=1e-12)
        step = 1e-6
        by_name = dict(zip(map(str, loaded.wrt), grads, strict=True))  # the tracer's: x too
        for k in range(25):  # central differences, the independent oracle
            e = np.eye(25)[k] * step
            fd = (forward(values["x"], ws + e) - forward(values["x"], ws - e)) / (2 * step)
            assert by_name[f"w{k + 1}"] == pytest.approx(fd, rel=1e-6, abs=1e-8)

    def test_10_layers_loaded_equals_in_memory(self, rng):
        grad = residual(10)
        loaded = from_json(to_json(grad.graph)).backward()
        values = {str(a): rng.uniform(-1, 1) for a in grad.lambdify().args}
        value, grads = grad.lambdify()(**values)
        value_h, grads_h = loaded.lambdify()(**values)
        assert value_h == pytest.approx(value, rel=1e-13)
        np.testing.assert_allclose(grads_h, grads, rtol=1e-12)

    def test_every_stage_finishes_on_the_loaded_graph(self, deep):
        text = deep

        def stages():
            grad = from_json(text).backward()
            lines = [str(grad), grad.latex(), str(grad.equations), grad.source()]
            assert grad.unprintable_reason() is not None  # 2**25 terms: structured form
            assert sg.check(grad).ok
            grad.simplify(budget=1.0)
            return all(lines) and grad[grad.wrt[0]] is not None  # a closed form, unprinted

        assert in_child(stages, SECONDS) is True


# --- small as a DAG, exponential as a tree ---------------------------------------------


def one_node(steps):
    """A file whose one operation (L, of w) is a table chain, ``steps`` entries a layer."""
    exprs, top = [{"s": "w"}], 0
    for _ in range(40):
        i = len(exprs)
        exprs += steps(top, i)
        top = len(exprs) - 1
    exprs.append({"n": "1"})
    return json.dumps(
        {
            "format": "symgraph-graph",
            "version": 1,
            "nodes": [
                {"id": "w", "op": None, "expr": 0, "role": "weight"},
                {"id": "L", "op": top, "expr": top, "role": "output"},
            ],
            "edges": [{"source": "w", "target": "L", "partial": top + 1}],
            "output": "L",
            "wrt": ["w"],
            "symbols": {s: {"name": s, "assumptions": {"real": True}} for s in ("w", "L")},
            "exprs": exprs,
        }
    )


BOMBS = {  # a_{k+1} from a_k (table position a; i is the layer's first entry)
    "a*a": lambda a, i: [{"f": "Mul", "a": [a, a]}],
    "a + a": lambda a, i: [{"f": "Add", "a": [a, a]}],
    "sin(a) + cos(a)": lambda a, i: [
        {"f": "sin", "a": [a]},
        {"f": "cos", "a": [a]},
        {"f": "Add", "a": [i, i + 1]},
    ],
    "a*a + a": lambda a, i: [{"f": "Mul", "a": [a, a]}, {"f": "Add", "a": [i, a]}],
    "a**2": lambda a, i: [{"n": "2"}, {"f": "Pow", "a": [a, i]}],
    "Max(a, -a)": lambda a, i: [
        {"n": "-1"},
        {"f": "Mul", "a": [i, a]},
        {"f": "Max", "a": [a, i + 1]},
    ],
    "Piecewise((a, a > 0), (-a, True))": lambda a, i: [
        {"n": "0"},
        {"f": "StrictGreaterThan", "a": [a, i]},
        {"f": "ExprCondPair", "a": [a, i + 1]},
        {"n": "-1"},
        {"f": "Mul", "a": [i + 3, a]},
        {"c": "true"},
        {"f": "ExprCondPair", "a": [i + 4, i + 5]},
        {"f": "Piecewise", "a": [i + 2, i + 6]},
    ],
    "a + tanh(w*a)": lambda a, i: [
        {"f": "Mul", "a": [0, a]},
        {"f": "tanh", "a": [i]},
        {"f": "Add", "a": [a, i + 1]},
    ],
}


@pytest.mark.parametrize("name", list(BOMBS))
def test_an_operation_exponential_as_a_tree_is_refused_in_one_line(name):
    """An operation is differentiated as a tree; Max and Piecewise are built walking one."""
    text = one_node(BOMBS[name])
    result = in_child(lambda: from_json(text), SECONDS)
    assert isinstance(result, str) and result.startswith("GraphError: "), result
    assert "expression" in result or "edge w -> L" in result, result


def test_node_expressions_exponential_as_trees_load_and_every_stage_finishes():
    """40 nodes a_k = sin(a_{k-1}) + cos(a_{k-1}): their expressions are 2**40 as trees."""
    w = sp.Symbol("w", real=True)
    names = sp.symbols("a1:41", real=True)
    steps, previous = [], w
    for a in names:
        steps.append((a, sp.sin(previous) + sp.cos(previous)))
        previous = a
    text = to_json(sg.Graph.from_assignments(steps, wrt=[w]))

    def stages():
        graph = from_json(text)
        grad = graph.backward()
        value, (dw,) = grad.lambdify()(w=0.4)
        lines = [str(graph), str(grad), grad.latex(), grad.source()]
        assert sg.check(grad).ok
        return float(value), float(dw), all(lines)

    def loop(w):  # the oracle: the recurrence in NumPy
        for _ in range(40):
            w = np.sin(w) + np.cos(w)
        return w

    value, dw, printed = in_child(stages, SECONDS)
    assert printed and value == pytest.approx(loop(0.4), rel=1e-12)
    assert dw == pytest.approx((loop(0.4 + 1e-6) - loop(0.4 - 1e-6)) / 2e-6, rel=1e-5, abs=1e-9)
