"""Coarsen and refine: the gradient is the same at every granularity."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from test_properties import expressions, named_steps

import symgraph as sg
from symgraph.errors import GraphError

w, x, b, y = sp.symbols("w x b y", real=True)


def fusible(graph, top):
    """``top`` and the operations only it (transitively) consumes: a one-exit set."""
    members, stack = {top}, [top]
    while stack:
        for p in graph.nx.predecessors(stack.pop()):
            if p in members or graph.nx.nodes[p]["op"] is None:
                continue
            if all(c in members for c in graph.nx.successors(p)):
                members.add(p)
                stack.append(p)
    return members


def same_gradient(g1, g2, points=8, seed=0):
    f1, f2 = g1.backward().lambdify(), g2.backward().lambdify()
    assert [s.name for s in f1.args] == [s.name for s in f2.args]
    rng = np.random.default_rng(seed)
    columns = [rng.uniform(-1.5, 1.5, points) for _ in f1.args]
    (v1, p1), (v2, p2) = f1(*columns), f2(*columns)
    np.testing.assert_allclose(v1, v2, rtol=1e-10, atol=1e-12)
    for a, c in zip(p1, p2, strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_coarsen_then_refine_keeps_the_gradient(expr):
    g = sg.Graph.from_expr(expr, wrt=sorted(expr.free_symbols, key=str), granularity="fine")
    for top in [g.output, *g.nodes_with_role("intermediate")[:3]]:
        members = fusible(g, top)
        coarse = g.coarsen(members)
        assert coarse.nx.number_of_nodes() == g.nx.number_of_nodes() - len(members) + 1
        same_gradient(g, coarse)
        fine_again = coarse.refine(top)
        same_gradient(g, fine_again)


def test_a_layer_as_one_node_reads_as_a_fused_partial():
    g = sg.Graph.from_expr((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
    tanh_node = next(n for n, op in g.nx.nodes(data="op") if isinstance(op, sp.tanh))
    layer = g.coarsen(fusible(g, tanh_node), name="a1")
    a1 = layer.node_named("a1")
    assert layer.nx.nodes[a1]["op"] == sp.tanh(w * x + b)
    assert layer.partial(w, a1) == x * (1 - a1**2)  # in the node's own value, as a paper writes
    in_leaves = layer.partial(w, a1).xreplace({a1: layer.nx.nodes[a1]["expr"]})
    assert sp.simplify(in_leaves - x * (1 - sp.tanh(w * x + b) ** 2)) == 0
    grad = layer.backward()
    assert sp.simplify(grad[w] - sp.diff(g.expr, w)) == 0
    assert any(lhs.name == "delta_a1" for lhs, _ in grad.equations)


def test_refusals():
    g = sg.Graph.from_expr(sp.sin(w * x) + sp.sin(w * x) ** 2, wrt=[w])
    shared = next(n for n, op in g.nx.nodes(data="op") if isinstance(op, sp.sin))
    with pytest.raises(GraphError, match="leaf"):
        g.coarsen([w, shared])
    square = next(n for n, op in g.nx.nodes(data="op") if isinstance(op, sp.Pow))
    with pytest.raises(GraphError, match="one exit"):
        g.coarsen([shared, square])  # sin(w*x) is also used by the sum: two exits
    with pytest.raises(GraphError, match="not an operation"):
        g.refine(w)
    with pytest.raises(GraphError, match="already used"):
        g.coarsen([square], name="w")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_named_op_and_fine_granularities_give_the_same_gradient(expr):
    wrt = sorted(expr.free_symbols, key=str)
    steps = named_steps(expr)
    graphs = [sg.Graph.from_assignments(steps, wrt, g) for g in ("named", "op", "fine")]
    assert graphs[0].size["nodes"] <= graphs[1].size["nodes"] <= graphs[2].size["nodes"]
    same_gradient(graphs[1], graphs[0])
    same_gradient(graphs[1], graphs[2])


def test_per_operation_per_neuron_and_fused_neurons_give_one_gradient():
    from symgraph.nn import as_assignments, input_symbols

    steps, params = as_assignments(input_symbols(2), [3, 1], "tanh")
    neurons = sg.Graph.from_assignments(steps, params, "named")
    assert {n.name for n in neurons.nodes_with_role("intermediate")} >= {"z1_1", "a1_3", "a2_1"}
    fused = neurons
    for j in (1, 2, 3):  # each hidden neuron's z and a as one node a1_j = tanh(W x + b)
        fused = fused.coarsen([fused.node_named(f"z1_{j}"), fused.node_named(f"a1_{j}")])
    assert fused.nx.number_of_nodes() == neurons.nx.number_of_nodes() - 3
    assert isinstance(fused.op(fused.node_named("a1_2")), sp.tanh)
    same_gradient(neurons, sg.Graph.from_assignments(steps, params, "op"))
    same_gradient(neurons, fused)


def test_fusing_a_chain_too_deep_for_sympy_says_so():
    x, y = sp.symbols("x y", real=True)
    ws = sp.symbols("w1:401", real=True)
    a = x
    for w in ws:
        a = sp.tanh(w * a, evaluate=False)
    graph = sg.Graph.from_expr(sp.Pow(a - y, 2, evaluate=False), wrt=list(ws))
    inside = [n for n in graph.nx if n != graph.output and graph.nx.nodes[n]["op"] is not None]
    with pytest.raises(GraphError, match="operations deep.*fuse fewer nodes"):
        graph.coarsen(inside)


def _tanh_tower(x, ws):
    a = x
    for w in ws:
        a = sp.tanh(w * a, evaluate=False)
    return a


def test_a_named_step_deeper_than_a_node_may_be_is_refused_in_one_line():
    from symgraph.build.edges import OPERATION_MAX_DEPTH

    x, y, L = sp.symbols("x y L", real=True)
    ws = sp.symbols(f"w1:{OPERATION_MAX_DEPTH}", real=True)  # two operations a layer
    step = sp.Add(_tanh_tower(x, ws), -y, evaluate=False)
    with pytest.raises(GraphError, match=r"^L would compute one expression \d+ operations deep"):
        sg.Graph.from_assignments([(L, step)], wrt=list(ws), granularity="named")


def test_a_named_step_as_deep_as_allowed_goes_through_every_stage():
    """49 tanh layers in one node: its gradient is the op-granularity graph's."""
    x, y, L = sp.symbols("x y L", real=True)
    ws = sp.symbols("w1:50", real=True)
    step = sp.Pow(sp.Add(_tanh_tower(x, ws), -y, evaluate=False), 2, evaluate=False)
    named = sg.Graph.from_assignments([(L, step)], wrt=list(ws), granularity="named")
    assert named.size["operations"] == 1
    fine = sg.Graph.from_assignments([(L, step)], wrt=list(ws), granularity="op")
    point = {x: 0.3, y: -0.2, **{w: 0.9 for w in ws}}
    ours, theirs = named.backward().lambdify(), fine.backward().lambdify()
    value, partials = ours(**{s.name: point[s] for s in ours.args})
    value_fine, partials_fine = theirs(**{s.name: point[s] for s in theirs.args})
    assert value == pytest.approx(value_fine, rel=1e-12)
    assert partials == pytest.approx(partials_fine, rel=1e-9)
    assert sg.from_json(sg.to_json(named)).size == named.size


def test_a_file_with_a_node_too_deep_is_refused():
    """A node's operation edited deeper than the builders allow (a hostile or hand-made file)."""
    x, y, L = sp.symbols("x y L", real=True)
    ws = sp.symbols("w1:81", real=True)
    graph = sg.Graph.from_assignments(
        [(L, sp.Add(_tanh_tower(x, ws[:40]), -y, evaluate=False))],
        wrt=list(ws[:40]),
        granularity="named",
    )
    graph.nx.nodes[L]["op"] = graph.nx.nodes[L]["expr"] = sp.Add(
        _tanh_tower(x, ws), -y, evaluate=False
    )
    for w in ws[40:]:
        graph.nx.add_node(w, op=None, expr=w, role="input", shape=())
        graph.nx.add_edge(w, L, partial=sp.S.One, vjp=sp.S.One)
    with pytest.raises(GraphError, match="operations deep"):
        sg.from_json(sg.to_json(graph))


@pytest.mark.parametrize("k", [400, 800])
def test_fusing_a_wide_sum_into_one_node_is_linear(k, monkeypatch):
    """L = sin(w*x1) + ... as one node: its k + 1 partials by one sweep, w's shares summed once
    (building the rule's k placeholders at each of k positions, and adding w's shares one by
    one, each flattened k² operands)."""
    from test_evaluated import _Flattened

    w = sp.Symbol("w", real=True)
    xs = sp.symbols(f"x1:{k + 1}", real=True)
    expr = sp.Add(*(sp.sin(w * xi) for xi in xs))
    graph = sg.Graph.from_expr(expr, wrt=[w])
    flattened = _Flattened(monkeypatch)
    fused = graph.coarsen([n for n in graph.nx if graph.op(n) is not None])
    assert flattened.count < 40 * k  # 21 k here; k² before
    assert fused.size["operations"] == 1
    assert sp.simplify(fused.partial(w, fused.output) - sp.diff(expr, w)) == 0
    point = {s.name: 0.1 * (i % 7) - 0.3 for i, s in enumerate([w, *xs])}
    value, (dw,) = fused.backward().lambdify()(**point)
    expected = sum(float(point[s.name]) * np.cos(point["w"] * point[s.name]) for s in xs)
    assert dw == pytest.approx(expected, rel=1e-12)
