"""Graph building (static), order, generations, roles, and forward propagation."""

import networkx as nx
import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError, NotFoundError

w, x, b, y, z = sp.symbols("w x b y z", real=True)
L = sp.Symbol("L", real=True)


class TestFromExpr:
    def test_nodes_hold_local_ops_and_full_expressions(self):
        g = sg.Graph.from_expr(sp.tanh(w * x + b), wrt=[w, b])
        for node, data in g.nx.nodes(data=True):
            if data["op"] is None:
                assert data["expr"] == node
                continue
            operands = list(g.nx.predecessors(node))
            assert data["op"].free_symbols <= set(operands)
            rebuilt = data["op"].xreplace({s: g.nx.nodes[s]["expr"] for s in operands})
            assert sp.simplify(rebuilt - data["expr"]) == 0
        assert g.expr == sp.tanh(w * x + b)

    def test_roles(self):
        g = sg.Graph.from_expr(sp.tanh(w * x + b), wrt=[w, b])
        assert set(g.nodes_with_role("weight")) == {w, b}
        assert g.nodes_with_role("input") == [x]
        assert g.nodes_with_role("output") == [g.output] and g.output == L

    def test_repeated_subexpression_is_one_node_with_two_out_edges(self):
        s = sp.sin(w * x)
        g = sg.Graph.from_expr(s + s**2, wrt=[w])
        nodes = [n for n, e in g.nx.nodes(data="expr") if e == s]
        assert len(nodes) == 1 and g.nx.out_degree(nodes[0]) == 2

    def test_edge_partial_is_the_local_derivative(self):
        g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
        product = next(n for n, op in g.nx.nodes(data="op") if op == w * x)
        assert g.partial(w, product) == x
        assert g.partial(product, g.output) == sp.cos(product)

    def test_fine_granularity_splits_nary_operations(self):
        expr = w * x * y * z + w + x + b
        op = sg.Graph.from_expr(expr)
        fine = sg.Graph.from_expr(expr, granularity="fine")
        for _, data in fine.nx.nodes(data=True):
            if isinstance(data["op"], (sp.Add, sp.Mul)):
                assert sum(1 for a in data["op"].args if a.free_symbols) <= 2
        assert fine.size["operations"] > op.size["operations"]
        assert fine.expr == op.expr == expr

    def test_topological_order_and_generations(self):
        g = sg.Graph.from_expr((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
        order = g.topological_order()
        position = {n: k for k, n in enumerate(order)}
        assert all(position[u] < position[v] for u, v in g.nx.edges)
        generations = g.generations()
        assert sorted(map(str, generations[0])) == ["b", "w", "x", "y"]
        assert generations[-1] == [g.output]
        assert sum(map(len, generations)) == g.nx.number_of_nodes()

    def test_weight_absent_from_the_expression(self):
        g = sg.Graph.from_expr(x**2, wrt=[w])
        assert g.nx.nodes[w]["role"] == "weight" and g.nx.degree(w) == 0
        assert sg.gradient(x**2, wrt=[w])[w] == 0

    def test_constant_expression(self):
        g = sg.Graph.from_expr(sp.Integer(3), wrt=[w])
        assert g.nx.nodes[g.output]["op"] == 3
        assert sg.gradient(sp.Integer(3), wrt=[w])[w] == 0

    def test_output_name_taken_by_a_leaf(self):
        g = sg.Graph.from_expr(L * x, wrt=[L])
        assert g.output != L and g.nx.nodes[L]["role"] == "weight"
        assert sg.gradient(L * x, wrt=[L])[L] == x

    def test_is_a_networkx_dag(self):
        g = sg.Graph.from_expr(sp.exp(w * x) * sp.sin(w * x))
        assert isinstance(g.nx, nx.DiGraph) and nx.is_directed_acyclic_graph(g.nx)

    @pytest.mark.parametrize(
        "expr, wrt, message",
        [
            ("x*w", None, "parse it first"),
            (x * w, [x * w], "symbols"),
            (x * w, [w, w], "twice"),
            (object(), None, "SymPy expression"),
        ],
    )
    def test_refusals(self, expr, wrt, message):
        with pytest.raises(GraphError, match=message):
            sg.Graph.from_expr(expr, wrt=wrt)

    def test_unknown_granularity(self):
        with pytest.raises(GraphError, match="granularity"):
            sg.Graph.from_expr(x * w, granularity="coarse-ish")


class TestFromAssignments:
    def test_named_nodes_and_structured_names(self):
        z1, a1 = sp.symbols("z1 a1", real=True)
        g = sg.Graph.from_assignments(
            [(z1, w * x + b), (a1, sp.tanh(z1)), (L, (a1 - y) ** 2)], wrt=[w, b]
        )
        assert g.nx.nodes[a1]["op"] == sp.tanh(z1)
        assert g.nx.nodes[z1]["expr"] == w * x + b
        assert g.output == L
        grad = g.backward()
        rhs = dict(grad.equations)
        z1_delta = next(d for d in rhs if d.name == "delta_z1")
        assert "a1" in str(rhs[z1_delta])  # δ_z1 = δ_a1 (1 - a1²)
        expected = sp.diff((sp.tanh(w * x + b) - y) ** 2, w)
        assert sp.simplify(grad[w] - expected) == 0

    def test_copy_assignment(self):
        a = sp.Symbol("a", real=True)
        g = sg.Graph.from_assignments([(a, x), (L, a * w)], wrt=[w])
        assert g.backward()[w] == x

    @pytest.mark.parametrize(
        "assignments, message",
        [
            ([], "no assignments"),
            ([(L, x), (L, y)], "twice"),
            ([("L", x)], "Symbol"),
            ([(z, L * 2), (L, x)], "before"),
        ],
    )
    def test_refusals(self, assignments, message):
        with pytest.raises(GraphError, match=message):
            sg.Graph.from_assignments(assignments)


class TestForward:
    def test_numeric_values_in_topological_order(self):
        g = sg.Graph.from_expr((sp.tanh(w * x + b) - y) ** 2)
        values = g.forward({w: 0.5, x: 2.0, "b": 0.1, y: 0.3})
        assert list(values) == g.topological_order()
        for node, value in values.items():
            expected = g.nx.nodes[node]["expr"].subs({w: 0.5, x: 2.0, b: 0.1, y: 0.3})
            assert float(value) == pytest.approx(float(expected), rel=1e-12)

    def test_vectorized_over_arrays(self):
        g = sg.Graph.from_expr(sp.exp(w * x))
        xs = np.linspace(-1, 1, 7)
        values = g.forward(x=xs, w=2.0)
        np.testing.assert_allclose(values[g.output], np.exp(2 * xs))

    def test_symbolic(self):
        g = sg.Graph.from_expr(sp.sin(w * x))
        assert g.forward()[g.output] == sp.sin(w * x)

    @pytest.mark.parametrize(
        "values, message", [({"w": 1.0}, "no value given for x"), ({"q": 1, "w": 1, "x": 1}, "q")]
    )
    def test_missing_or_unknown_values(self, values, message):
        with pytest.raises(EvaluationError, match=message):
            sg.Graph.from_expr(w * x).forward(values)


class TestLookups:
    """A node or edge that is not there: one NotFoundError line (also a KeyError)."""

    g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])

    def test_by_symbol_or_by_name(self):
        v1 = self.g.node_named("v1")
        assert self.g.op("v1") == self.g.op(v1) == w * x
        assert self.g.partial("w", "v1") == self.g.partial(w, v1) == x

    @pytest.mark.parametrize(
        "call, message",
        [
            (lambda g: g.op("zz"), "no node named 'zz'"),
            (lambda g: g.op(sp.Symbol("zz")), "zz is not a node of this graph"),
            (lambda g: g.op([1]), r"\[1\] is not a node of this graph"),
            (lambda g: g.partial(w, x), "no edge w -> x"),
            (lambda g: g.node_named(5), "no node named 5"),
        ],
    )
    def test_missing(self, call, message):
        # were raw KeyErrors from networkx (or a TypeError for an unhashable node)
        with pytest.raises(NotFoundError, match=message) as info:
            call(self.g)
        assert isinstance(info.value, KeyError) and "\n" not in str(info.value)

    def test_unknown_role_and_bad_coarsen(self):
        with pytest.raises(GraphError, match="unknown role 'bogus'; choose one of input"):
            self.g.nodes_with_role("bogus")
        with pytest.raises(GraphError, match="needs a list of nodes"):
            self.g.coarsen(5)


def test_named_assignments_keep_the_users_nodes_and_the_latex_says_the_same():
    """Issue 13: a user who names the steps gets those nodes, in the structured form and LaTeX."""
    w1, w2, x, b1, y, z1, a1, z2, L = sp.symbols("w1 w2 x b1 y z1 a1 z2 L", real=True)
    steps = [(z1, w1 * x + b1), (a1, sp.tanh(z1)), (z2, w2 * a1), (L, (z2 - y) ** 2)]
    grad = sg.Graph.from_assignments(steps, wrt=[w1, w2, b1]).backward()
    assert set(grad.graph.nx) - set(grad.graph.leaves) == {z1, a1, z2, L}
    shown = {str(w): str(rhs) for w, rhs in grad.structured.items()}
    assert shown == {"w1": "delta_z1*x", "w2": "delta_z2*a1", "b1": "delta_z1"}
    latex = grad.latex(form="structured")
    assert r"\frac{\partial L}{\partial w_{1}} &= \delta_{z_{1}} x" in latex
    assert r"\frac{\partial L}{\partial w_{2}} &= \delta_{z_{2}} a_{1}" in latex
    assert "v_{" not in latex  # no generated node
    fine = sg.Graph.from_assignments(steps, wrt=[w1, w2, b1], granularity="op").backward()
    assert len(fine.graph.nx) > len(grad.graph.nx)  # "op" still splits each step
    assert all(sp.simplify(grad[w] - fine[w]) == 0 for w in (w1, w2, b1))


def test_adjoint_symbols_pickle_as_themselves():
    """A process pool or a Dask worker receives δ-equations by pickle."""
    import pickle

    from symgraph.core.adjoint import AdjointSymbol

    w, x = sp.symbols("w x", real=True)
    grad = sg.gradient(sp.tanh(w * x) ** 2, wrt=[w])
    again = pickle.loads(pickle.dumps(grad.equations))
    for (lhs, rhs), (lhs2, rhs2) in zip(grad.equations, again, strict=True):
        assert type(lhs2) is AdjointSymbol and lhs2 == lhs and lhs2.node == lhs.node
        assert sp.expand(rhs2 - rhs) == 0


RESIDUAL = r"""
import numpy as np, sympy as sp, symgraph as sg
x = sp.Symbol("x", real=True)
ws, hs = sp.symbols("w1:26", real=True), sp.symbols("h1:26", real=True)
steps, previous = [], x
for w, h in zip(ws, hs):
    steps.append((h, previous + sp.tanh(w * previous)))  # h used twice: 2**25 terms as a tree
    previous = h
f = sg.Graph.from_assignments(steps, wrt=list(ws)).backward().lambdify()
rng = np.random.default_rng(3)
weights = rng.normal(size=25) * 0.5

def loop(weights, h=0.3):
    for w in weights:
        h = h + np.tanh(w * h)
    return h

value, partials = f(x=0.3, **{w.name: float(v) for w, v in zip(ws, weights)})
assert abs(value - loop(weights)) < 1e-12
step = 1e-6 * np.eye(25)
fd = [(loop(weights + step[k]) - loop(weights - step[k])) / 2e-6 for k in range(25)]
np.testing.assert_allclose(np.array(partials, dtype=float), fd, rtol=1e-6, atol=1e-9)
print("ok")
"""


def test_a_residual_network_builds_without_walking_its_shared_parts_as_trees():
    """25 layers h + tanh(w h): built unevaluated once the expressions are large as trees
    (SymPy's evaluation walks them as trees: it did not finish in 120 s); oracle: a NumPy
    loop and central differences.  In a child process, so a regression fails, not hangs."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", RESIDUAL], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_small_expressions_are_still_evaluated():
    x, y = sp.symbols("x y", real=True)
    g = sg.Graph.from_assignments([(y, x + x)], wrt=[x])
    assert g.nx.nodes[y]["expr"] == 2 * x


def test_a_wide_sum_keeps_sympys_evaluated_closed_form():
    """Large as a tree but not shared (12,000 terms, each once): still evaluated, as SymPy
    writes it (only shared trees, like the residual layers above, are built unevaluated)."""
    w = sp.Symbol("w", real=True)
    xs = sp.symbols("x1:3001", real=True)
    grad = sg.gradient(sp.Add(*[sp.sin(w * x) for x in xs]), wrt=[w])
    assert grad[w] == sp.Add(*[x * sp.cos(w * x) for x in xs])
