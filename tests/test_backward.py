"""Reverse mode: δ-equations, closed forms, pruning, deep graphs."""

import numpy as np
import pytest
import sympy as sp
from oracles import assert_matches_sympy_diff, sympy_values

import symgraph as sg
from symgraph.ad.backward import relevant_nodes

w, x, b, y = sp.symbols("w x b y", real=True)


def chain(depth, real=True):
    """Named steps a_k = tanh(w_k a_{k-1} + b_k), loss (a_D - y)²."""
    ws = sp.symbols(f"w1:{depth + 1}", real=real)
    bs = sp.symbols(f"b1:{depth + 1}", real=real)
    steps = sp.symbols(f"a1:{depth + 1}", real=real)
    assignments, previous = [], x
    for wk, bk, ak in zip(ws, bs, steps, strict=True):
        assignments.append((ak, sp.tanh(wk * previous + bk)))
        previous = ak
    assignments.append((sp.Symbol("L", real=True), (previous - y) ** 2))
    return assignments, [*ws, *bs]


def test_equations_follow_the_chain_rule():
    grad = sg.gradient(sp.sin(w * x), wrt=[w])
    rhs = {str(lhs): e for lhs, e in grad.equations}
    assert list(rhs) == ["delta_L", "delta_v1", "delta_w"]
    assert rhs["delta_L"] == 1
    assert str(rhs["delta_v1"]) == "delta_L*cos(v1)"
    assert str(rhs["delta_w"]) == "delta_v1*x"


def test_node_with_two_outputs_sums_its_adjoints():
    s = sp.sin(w * x)
    grad = sg.gradient(s + s**2, wrt=[w])
    g = grad.graph
    shared = next(n for n, e in g.nx.nodes(data="expr") if e == s)
    rhs = dict(grad.equations)
    delta = next(d for d in rhs if d.name == f"delta_{shared.name}")
    assert isinstance(rhs[delta], sp.Add) and len(rhs[delta].args) == 2
    assert sp.simplify(grad[w] - sp.diff(s + s**2, w)) == 0


def test_only_nodes_between_weights_and_output_are_visited():
    expr = sp.sin(w * x) + sp.exp(y * x)
    grad = sg.gradient(expr, wrt=[w])
    visited = {lhs.name for lhs, _ in grad.equations}
    assert "delta_y" not in visited and "delta_x" not in visited
    exp_node = next(n for n, e in grad.graph.nx.nodes(data="expr") if e == sp.exp(y * x))
    assert exp_node not in relevant_nodes(grad.graph)


def test_multi_argument_functions():
    expr = sp.atan2(w * x, b) + sp.Max(w, b, x) + sp.Piecewise((w**2, x > 0), (b, True))
    assert_matches_sympy_diff(sg.gradient(expr, wrt=[w, b]), low=0.1, high=2)


def test_gradient_is_a_mapping_keyed_by_weight_or_name():
    grad = sg.gradient(w**2 * b, wrt=[w, b])
    assert list(grad) == [w, b] and len(grad) == 2
    assert grad["w"] == grad[w] == 2 * w * b
    assert dict(grad) == {w: 2 * w * b, b: w**2}


def test_deep_chain_of_5000_steps_builds_backprops_and_compiles():
    """The issue's target: graph, backprop and compiled callable, no recursion limit hit."""
    depth = 5000
    assignments, weights = chain(depth)
    grad = sg.Graph.from_assignments(assignments, wrt=weights).backward()
    assert len(grad.equations) == len(relevant_nodes(grad.graph))  # one δ per node, once
    f = grad.lambdify()
    rng = np.random.default_rng(0)
    point = {s.name: rng.uniform(0.5, 1.0) for s in f.args}
    value, partials = f(**point)
    # Compare the last layer's partials with central differences of the value.
    for name in (f"w{depth}", f"b{depth}", f"b{depth - 1}"):
        k = [s.name for s in f.args].index(name)
        h = 1e-6
        up, down = dict(point), dict(point)
        up[name] += h
        down[name] -= h
        numeric = (f(**up)[0] - f(**down)[0]) / (2 * h)
        analytic = partials[[w.name for w in grad.wrt].index(name)]
        assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(numeric)), (name, k)


def test_deep_chain_matches_sympy_where_sympy_still_works():
    assignments, weights = chain(6)
    grad = sg.Graph.from_assignments(assignments, wrt=weights).backward()
    symbols = sorted(grad.expr.free_symbols, key=str)
    columns = [np.linspace(0.2, 0.9, 5) + 0.01 * k for k in range(len(symbols))]
    for w_k in weights[::3]:
        ours = sympy_values(grad[w_k], symbols, columns)
        theirs = sympy_values(sp.diff(grad.expr, w_k), symbols, columns)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


class TestWideProducts:
    """A k-factor product is built in binary steps: its δ-equations are linear in k."""

    def test_the_equations_grow_linearly(self):
        from symgraph.core.sizes import tree_shape

        sizes = []
        for k in (100, 200, 400):
            xs = sp.symbols(f"x0:{k}", real=True)
            grad = sg.gradient(sp.Mul(*xs), wrt=list(xs))
            sizes.append(sum(tree_shape(rhs)[0] for _, rhs in grad.equations))
        assert sizes[1] < 2.2 * sizes[0] and sizes[2] < 2.2 * sizes[1]  # one node: k(k - 1)

    def test_against_sympy_diff(self):
        xs = sp.symbols("x0:20", real=True)
        expr = 3 * sp.Mul(*xs[:12]) * sp.sin(sp.Mul(*xs[12:]))
        assert_matches_sympy_diff(sg.gradient(expr, wrt=list(xs)), low=0.5, high=1.5)


def _operations(grad) -> int:
    """The operations of the forward nodes and of the δ-equations (``sp.count_ops``)."""
    nodes = grad.graph.nx.nodes
    forward = sum(sp.count_ops(nodes[n]["op"]) for n in nodes if nodes[n]["op"] is not None)
    return forward + sum(sp.count_ops(rhs) for _, rhs in grad.equations)


class TestSharedSubproducts:
    """Products holding an earlier product's factors share them as one node (as ``cse`` does)."""

    @staticmethod
    def logistic(steps: int):
        r, x0 = sp.symbols("r x0", real=True)
        x = x0
        for _ in range(steps):
            x = r * x * (1 - x)  # SymPy flattens this into products of up to steps + 1 factors
        return x, [r, x0]

    def test_the_logistic_map_costs_a_few_times_its_loss(self):
        expr, wrt = self.logistic(10)
        replacements, reduced = sp.cse([expr])
        loss = sum(sp.count_ops(rhs) for _, rhs in replacements) + sp.count_ops(reduced)
        assert _operations(sg.gradient(expr, wrt)) <= 4 * loss  # 19.5x before sharing

    def test_the_logistic_map_grows_linearly(self):
        sizes = [_operations(sg.gradient(*self.logistic(n))) for n in (10, 20, 40)]
        assert sizes[1] < 2.3 * sizes[0] and sizes[2] < 2.3 * sizes[1], sizes

    def test_the_logistic_map_against_sympy_diff(self):
        assert_matches_sympy_diff(sg.gradient(*self.logistic(6)), low=0.2, high=0.8)

    def test_random_products_with_shared_factors_against_sympy_diff(self):
        rng = np.random.default_rng(20261202)
        xs = sp.symbols("x0:6", real=True)
        for _ in range(60):
            terms = []
            for _ in range(rng.integers(2, 5)):
                factors = [sp.Integer(int(rng.integers(-2, 3)) or 1)]
                for i in rng.choice(6, size=int(rng.integers(2, 5)), replace=False):
                    base = xs[i] if rng.random() < 0.6 else sp.sin(xs[i])
                    factors.append(base ** int(rng.integers(1, 3)))
                terms.append(sp.Mul(*factors))
            expr = sp.Add(*terms) * (sp.Mul(*terms[:2]) if rng.random() < 0.5 else 1)
            assert_matches_sympy_diff(sg.gradient(expr, wrt=list(xs)), low=0.5, high=1.5)


class TestClosedFormOnDemand:
    """``grad[w]`` substitutes only the δs on w's path; the forms equal ``closed_forms()``."""

    def test_one_weight_equals_all_of_them(self):
        x, y, w, b = sp.symbols("x y w b", real=True)
        expr = (sp.tanh(w * x + b) - y) ** 2 + sp.sin(w * b) * x
        one_by_one = sg.gradient(expr, wrt=[w, b])
        together = sg.gradient(expr, wrt=[w, b]).closed_forms()
        for v in (b, w):  # b first: w's form then reuses what b's computed
            assert sp.simplify(one_by_one[v] - together[v]) == 0
            assert sp.simplify(one_by_one[v] - sp.diff(expr, v)) == 0

    def test_one_weight_of_a_wide_product_builds_that_form_alone(self):
        from symgraph.core.sizes import tree_shape

        sizes = []
        for k in (500, 1000, 2000):
            xs = sp.symbols(f"x0:{k}", real=True)
            grad = sg.gradient(sp.Mul(*xs), wrt=list(xs))
            form = grad[xs[7]]
            assert form == sp.Mul(*xs[:7], *xs[8:])
            assert grad._closed is None  # the other k - 1 forms were never built
            sizes.append(tree_shape(form)[0])
        assert sizes[2] < 2.2 * sizes[1] < 4.9 * sizes[0]


class TestShareOf:
    """An edge's share δ·∂ is built without SymPy's evaluation where nothing combines:
    it must be exactly SymPy's product, factors in SymPy's order (a symbol's share
    keeps δ first, as the δ-equations read: δ_v·w)."""

    @pytest.mark.parametrize("child", ["a", "b", "v10", "zz", "A", "delta_q"])
    def test_exactly_sympys_product(self, child):
        from symgraph.core.adjoint import adjoint_of, share_of

        d = adjoint_of(sp.Symbol(child, real=True))
        for n in sp.symbols("a b v10 zz A delta_q", real=True):
            partials = [
                1 - n**2, sp.cos(n), 1 / n, sp.exp(-n), sp.Heaviside(n), sp.sqrt(n), n + 3,
                sp.Float(0.5), sp.Integer(-1), sp.Rational(2, 3), sp.Integer(0), sp.oo, sp.nan,
                sp.Max(0, n), 2**n, (n + 1) ** 2, sp.Float(0.0), sp.Float(1.0),
                1 / (1 + sp.exp(-n)), sp.sign(n), n * sp.Symbol("y", real=True), sp.Float(1e-300),
            ]  # fmt: skip
            for partial in partials:
                ours, sympys = share_of(d, partial), d * partial
                assert ours == sympys and ours.args == sympys.args, (d, partial)
