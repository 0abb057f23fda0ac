"""Graphs whose nodes are matrices: shapes, δ-equations in matrix form, compiled, checked.

Oracles: central differences entry by entry (``sg.check``, refereed at 50
digits where they disagree), and SymPy's own matrix derivative where SymPy has one.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import symgraph as sg
from symgraph.core.adjoint import MatrixAdjoint
from symgraph.errors import EvaluationError, GraphError, NoRuleError
from symgraph.rules import registry as matrix_rules
from symgraph.rules.matfuncs import LogSumExp, SumEntries

n, d, h = sp.symbols("n d h", integer=True, positive=True)
W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)


def squared_error(r):
    return sp.Trace(r.T * r)


def tanh_layer_loss():
    return squared_error((W * x).applyfunc(sp.tanh) - y)


def batch_network(n=n, d=d, h=h):
    """A 2-layer tanh network over a batch X (n × d), mean squared error (sizes symbolic)."""
    X, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("Y", n, 1)
    W1, b1, w2 = (
        sp.MatrixSymbol("W1", h, d),
        sp.MatrixSymbol("b1", h, 1),
        sp.MatrixSymbol("w2", h, 1),
    )
    Z1, A1, R = sp.MatrixSymbol("Z1", n, h), sp.MatrixSymbol("A1", n, h), sp.MatrixSymbol("R", n, 1)
    L = sp.Symbol("L", real=True)
    steps = [
        (Z1, X * W1.T + sp.OneMatrix(n, 1) * b1.T),
        (A1, Z1.applyfunc(sp.tanh)),
        (R, A1 * w2 - Y),
        (L, SumEntries(sp.HadamardProduct(R, R)) / n),
    ]
    return steps, [W1, b1, w2]


class TestGraph:
    def test_every_node_has_a_shape_and_matrix_nodes_are_matrix_symbols(self):
        g = sg.Graph.from_expr(tanh_layer_loss(), wrt=[W])
        for node, data in g.nx.nodes(data=True):
            assert data["shape"] == (tuple(node.shape) if isinstance(node, sp.MatrixSymbol) else ())
        assert g.nx.nodes[g.output]["shape"] == ()
        assert g.has_matrices

    def test_symbolic_sizes_are_sizes_not_leaves(self):
        steps, weights = batch_network()
        g = sg.Graph.from_assignments(steps, wrt=weights)
        assert {s.name for s in g.leaves} == {"X", "Y", "W1", "b1", "w2"}
        assert g.nx.nodes[sp.MatrixSymbol("Z1", n, h)]["shape"] == (n, h)

    def test_a_transposed_residual_is_not_computed_twice(self):
        """SymPy writes (tanh(Wx) - y)ᵀ as tanh(xᵀWᵀ) - yᵀ; the graph shares it."""
        g = sg.Graph.from_expr(tanh_layer_loss(), wrt=[W])
        elementwise = [n for n in g.nx if isinstance(g.op(n), ElementwiseApplyFunction)]
        assert len(elementwise) == 1

    def test_matrix_edges_carry_the_vector_jacobian_product(self):
        g = sg.Graph.from_expr(squared_error(W * x - y), wrt=[W])
        shares = {}
        for child in g.nx.successors(W):
            share = g.nx.edges[W, child]["vjp"]
            assert share.shape == W.shape
            shares[str(g.op(child))] = str(share)
        product = next(c for c in g.nx.successors(W) if g.op(c) == W * x)
        assert shares["W*x"] == f"delta_{product.name}*x.T"

    def test_non_scalar_outputs_are_refused_with_a_pointer_to_jacobian(self):
        with pytest.raises(GraphError, match="jacobian"):
            sg.gradient(W * x, wrt=[W])

    def test_shape_mismatch_in_an_assignment_is_refused(self):
        Z = sp.MatrixSymbol("Z", 3, 1)
        with pytest.raises(GraphError, match="shape"):
            sg.Graph.from_assignments([(Z, W * x), (sp.Symbol("L"), SumEntries(Z))], wrt=[W])

    def test_an_operation_without_a_rule_is_named_when_a_weight_needs_it(self):
        A = sp.MatrixSymbol("A", 2, 2)
        with pytest.raises(NoRuleError, match="Pow|rule"):
            sg.gradient(sp.Trace(A ** sp.Rational(1, 2)), wrt=[A])


class TestGradient:
    def test_delta_equations_read_like_a_paper(self):
        """δ_W1 = δ_Z1ᵀ X, δ_Z1 = δ_A1 ⊙ (1 - tanh²)(Z1), δ_b1 = δ_Z1ᵀ 1."""
        steps, (W1, b1, w2) = batch_network()
        grad = sg.Graph.from_assignments(steps, wrt=[W1, b1, w2]).backward()
        rhs = dict(grad.equations)

        def resolve(delta):  # follow δ_v = δ_Z1 (a sum node passes its δ on unchanged)
            while isinstance(rhs[delta], MatrixAdjoint):
                delta = rhs[delta]
            return delta

        Z1, A1 = sp.MatrixSymbol("Z1", n, h), sp.MatrixSymbol("A1", n, h)
        X = sp.MatrixSymbol("X", n, d)
        (delta,) = [a for a in grad.structured[W1].atoms(MatrixAdjoint)]
        assert grad.structured[W1] == delta.T * X
        assert resolve(delta) == MatrixAdjoint(Z1)
        assert rhs[MatrixAdjoint(Z1)].has(MatrixAdjoint(A1))
        assert isinstance(rhs[MatrixAdjoint(Z1)], sp.HadamardProduct)
        assert grad[W1].shape == W1.shape and grad[b1].shape == b1.shape

    def test_sympy_raises_for_a_tanh_layer_and_we_do_not(self):
        loss = tanh_layer_loss()
        with pytest.raises(Exception):  # noqa: B017 - SymPy 1.14 raises various errors here
            sp.diff(loss, W)
        grad = sg.gradient(loss, wrt=[W])
        assert grad[W].shape == (2, 3)
        assert sg.check(grad).ok

    def test_closed_forms_agree_with_central_differences(self):
        loss = tanh_layer_loss()
        ours = sg.gradient(loss, wrt=[W])[W]
        at = {W: np.arange(6).reshape(2, 3) / 7, x: np.ones((3, 1)) / 3, y: np.ones((2, 1))}

        def value(point):
            return float(loss.xreplace({k: sp.Matrix(v) for k, v in point.items()}).doit())

        a = np.array(ours.xreplace({k: sp.Matrix(v) for k, v in at.items()}).doit().evalf(), float)
        h = 1e-6
        for i, j in np.ndindex(2, 3):
            step = np.zeros((2, 3))
            step[i, j] = h
            up, down = value({**at, W: at[W] + step}), value({**at, W: at[W] - step})
            assert a[i, j] == pytest.approx((up - down) / (2 * h), rel=1e-7, abs=1e-9)

    def test_log_det_comes_out_as_the_inverse_transpose(self):
        X = sp.MatrixSymbol("X", 3, 3)
        grad = sg.gradient(sp.log(sp.Determinant(X)), wrt=[X])
        at = np.eye(3) * 2 + 0.1
        _, (g,) = grad.lambdify()(X=at)
        np.testing.assert_allclose(g, np.linalg.inv(at).T, rtol=1e-12)

    def test_a_scalar_weight_times_a_matrix(self):
        c = sp.Symbol("c", real=True)
        grad = sg.gradient(squared_error(c * W * x - y), wrt=[c, W])
        report = sg.check(grad)
        assert report.ok, str(report)
        assert [r.methods for r in report.rows][0] == ("central-difference",)  # nothing expanded

    def test_weights_off_the_path_get_zero_matrices(self):
        V = sp.MatrixSymbol("V", 2, 2)
        grad = sg.gradient(squared_error(W * x - y), wrt=[W, V])
        assert grad[V] == sp.ZeroMatrix(2, 2)
        _, (_, gV) = grad.lambdify()(
            W=np.ones((2, 3)), x=np.ones((3, 1)), y=np.ones((2, 1)), V=np.eye(2)
        )
        assert gV.shape == (2, 2) and not gV.any()


class TestCompiled:
    def test_one_callable_serves_every_batch_size(self):
        steps, weights = batch_network()
        grad = sg.Graph.from_assignments(steps, wrt=weights).backward()
        f = grad.lambdify()
        assert "@" in f.source
        rng = np.random.default_rng(0)
        W1, b1, w2 = rng.normal(size=(4, 3)), rng.normal(size=(4, 1)), rng.normal(size=(4, 1))
        for batch in (5, 50):
            X, Y = rng.normal(size=(batch, 3)), rng.normal(size=(batch, 1))
            value, (gW1, gb1, gw2) = f(X=X, Y=Y, W1=W1, b1=b1, w2=w2)
            A1 = np.tanh(X @ W1.T + b1.T)  # hand-written NumPy backpropagation
            R = A1 @ w2 - Y
            dZ1 = (2 * R / batch) @ w2.T * (1 - A1**2)
            assert value == pytest.approx(np.sum(R**2) / batch, rel=1e-12)
            np.testing.assert_allclose(gw2, A1.T @ (2 * R / batch), rtol=1e-10)
            np.testing.assert_allclose(gW1, dZ1.T @ X, rtol=1e-10)
            np.testing.assert_allclose(gb1, dZ1.sum(axis=0)[:, None], rtol=1e-10)

    def test_wrong_shapes_are_refused_with_the_names(self):
        steps, weights = batch_network()
        f = sg.Graph.from_assignments(steps, wrt=weights).backward().lambdify()
        good = dict(
            X=np.ones((5, 3)),
            Y=np.ones((5, 1)),
            W1=np.ones((4, 3)),
            b1=np.ones((4, 1)),
            w2=np.ones((4, 1)),
        )
        with pytest.raises(EvaluationError, match="n is 5 in X but 6 in Y"):
            f(**{**good, "Y": np.ones((6, 1))})
        with pytest.raises(EvaluationError, match="is a matrix"):
            f(**{**good, "W1": 1.0})
        fixed = sg.gradient(squared_error(W * x - y), wrt=[W]).lambdify()
        with pytest.raises(EvaluationError, match=r"W has shape \(2, 3\)"):
            fixed(W=np.ones((3, 2)), x=np.ones((3, 1)), y=np.ones((2, 1)))

    def test_flat_vectors_are_taken_as_columns(self):
        f = sg.gradient(squared_error(W * x - y), wrt=[W]).lambdify()
        v1, (g1,) = f(W=np.ones((2, 3)), x=[1.0, 2.0, 3.0], y=[0.0, 1.0])
        v2, (g2,) = f(W=np.ones((2, 3)), x=[[1.0], [2.0], [3.0]], y=[[0.0], [1.0]])
        assert v1 == v2 and np.array_equal(g1, g2)

    def test_a_deep_stack_of_layers_builds_and_compiles_without_recursion(self):
        """300 layers as named steps (SymPy's own ``V*a`` re-simplifies the whole chain)."""
        V, v = sp.MatrixSymbol("V", 3, 3), sp.MatrixSymbol("v", 3, 1)
        steps, a = [], v
        for k in range(300):
            a_next = sp.MatrixSymbol(f"a{k}", 3, 1)
            steps.append((a_next, sp.MatMul(V, a).applyfunc(sp.tanh)))
            a = a_next
        steps.append((sp.Symbol("L"), SumEntries(a)))
        grad = sg.Graph.from_assignments(steps, wrt=[V]).backward()
        value, (g,) = grad.lambdify()(V=np.eye(3) * 0.5, v=np.ones((3, 1)))
        assert np.isfinite(value) and g.shape == (3, 3)
        at = {"V": np.eye(3) * 0.5 + 0.01, "v": np.ones((3, 1))}
        assert sg.check(grad, at=at).ok


class TestCheck:
    def test_a_wrong_rule_is_caught(self, monkeypatch):
        loss = squared_error((W * x).applyfunc(sp.tanh) - y)
        right = matrix_rules._VJP[sp.Transpose]
        monkeypatch.setitem(
            matrix_rules._VJP, sp.Transpose, lambda op, i, adj: 2 * right(op, i, adj)
        )
        report = sg.check(sg.gradient(loss, wrt=[W]))
        assert not report.ok
        with pytest.raises(sg.CheckError):
            report.raise_if_failed()

    def test_a_given_point(self):
        grad = sg.gradient(LogSumExp(W * x), wrt=[W])
        at = {"W": np.ones((2, 3)), "x": np.ones((3, 1)), "y": np.zeros((2, 1))}
        report = sg.check(grad, at={k: v for k, v in at.items() if k != "y"})
        assert report.ok and report.max_rel_error < 1e-6
        as_lists = sg.check(grad, at={"W": [[1, 2, 3], [4, 5, 6]], "x": [0.1, 0.2, 0.3]})
        assert as_lists.ok and as_lists.points["x"].shape == (1, 3, 1)  # a flat x: a column


# --- property: random matrix expressions, every gradient checked ---

A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
u = sp.MatrixSymbol("u", 2, 1)
c = sp.Symbol("c", real=True)
UNARY = [
    lambda e: e.T,
    lambda e: e.applyfunc(sp.tanh),
    lambda e: e.applyfunc(sp.sin),
    lambda e: A * e,
    lambda e: e * B,
    lambda e: c * e,
    lambda e: sp.HadamardProduct(e, B),
    lambda e: e + A,
]
BINARY = [lambda p, q: p * q, lambda p, q: p + q, lambda p, q: sp.HadamardProduct(p, q)]
REDUCE = [
    lambda e: sp.Trace(e),
    lambda e: SumEntries(e),
    lambda e: (u.T * e * u)[0, 0] if False else sp.Trace(u.T * e * u),
    lambda e: sp.Trace(e.T * e),
]


@st.composite
def matrix_losses(draw):
    e = draw(st.sampled_from([A, B]))
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            e = draw(st.sampled_from(UNARY))(e)
        else:
            e = draw(st.sampled_from(BINARY))(e, draw(st.sampled_from([A, B, A.T])))
    return draw(st.sampled_from(REDUCE))(e)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loss=matrix_losses())
def test_random_matrix_expressions_agree_with_differences(loss):
    weights = sorted((s for s in loss.free_symbols if s.name in "ABc"), key=lambda s: s.name)
    grad = sg.gradient(loss, wrt=weights)
    report = sg.check(grad, points=2, seed=1)
    assert report.ok, f"{loss}\n{report}"
    assert "central-difference" in report.rows[0].methods


class TestLaterStages:
    def grad(self):
        return sg.gradient(tanh_layer_loss(), wrt=[W])

    def test_drawing_shows_shapes_shares_and_array_values(self):
        from symgraph.numeric.compile import values_at
        from symgraph.present.draw import to_dot

        grad = self.grad()
        at = dict(W=np.ones((2, 3)), x=np.ones((3, 1)), y=np.zeros((2, 1)))
        dot = to_dot(grad.graph, *values_at(grad, **at))
        assert "2×3" in dot and "3×1" in dot
        product = next(c for c in grad.graph.nx.successors(W) if grad.graph.op(c) == W * x)
        assert f"δ_{product} ↦ δ_{product}*xᵀ" in dot
        assert "value 2×3, ‖·‖ 2.449" in dot  # W = ones(2, 3): shape and norm √6
        assert "value [[1.], [1.], [1.]]" in dot  # x: a small array in full

    def test_explain_walks_the_delta_form_with_shapes_and_numbers(self, tmp_path):
        from oracles import compile_latex

        from symgraph.present.latex import latex_document

        steps, weights = batch_network()
        grad = sg.Graph.from_assignments(steps, wrt=weights, granularity="named").backward()
        rng = np.random.default_rng(5)
        at = dict(X=rng.normal(size=(4, 3)), Y=rng.normal(size=(4, 1)))
        at.update(W1=rng.normal(size=(2, 3)), b1=rng.normal(size=(2, 1)))
        at.update(w2=rng.normal(size=(2, 1)))
        walk = sg.explain(grad, "W1", at=at)
        assert [str(s.node) for s in walk.steps] == ["L", "R", "A1", "Z1", "W1"]
        assert walk.steps[-1].shape == (h, d) and walk.agrees
        A1 = np.tanh(at["X"] @ at["W1"].T + at["b1"].T)  # by hand: δ_Z1 = (1 - A1²) ⊙ δ_R w2ᵀ
        delta_R = 2 * (A1 @ at["w2"] - at["Y"]) / 4
        delta_Z1 = (1 - A1**2) * (delta_R @ at["w2"].T)
        np.testing.assert_allclose(walk.steps[-2].value, delta_Z1, rtol=1e-12)
        np.testing.assert_allclose(walk.steps[-1].value, delta_Z1.T @ at["X"], rtol=1e-12)
        text = walk.text()
        assert "δ_W1  h×d = δ_Z1ᵀ*X" in text and "[h×n · n×d → h×d]" in text
        assert "agrees" in text
        latex = walk.latex()
        assert r"\in \mathbb{R}^{h \times d}" in latex
        compile_latex(latex_document(latex), tmp_path)
        with pytest.raises(GraphError, match="not a weight"):
            sg.explain(grad, "X")

    def test_simplify_keeps_the_matrix_form(self):
        grad = self.grad()
        assert grad.simplify()[W] == grad[W]

    def test_structured_latex_names_the_deltas_and_compiles(self, tmp_path):
        from oracles import compile_latex

        from symgraph.present.latex import latex_document

        steps, weights = batch_network()
        grad = sg.Graph.from_assignments(steps, wrt=weights, granularity="named").backward()
        text = grad.latex(form="structured")
        assert r"\frac{\partial L}{\partial W_{1}} &= \delta_{Z_{1}}^{\top} X" in text
        assert r"\delta_{Z_{1}} &= \left(1 - A_{1}^{2}\right) \odot \delta_{A_{1}}" in text
        compile_latex(latex_document(text), tmp_path)


class TestGranularity:
    def numbers(self, grad, seed=0):
        rng = np.random.default_rng(seed)
        at = dict(W=rng.normal(size=(2, 3)), x=rng.normal(size=(3, 1)), y=rng.normal(size=(2, 1)))
        value, (g,) = grad.lambdify()(**at)
        return value, g

    def test_coarsen_a_layer_and_refine_it_again_keep_the_gradient(self):
        g = sg.Graph.from_expr(tanh_layer_loss(), wrt=[W])
        product = next(c for c in g.nx.successors(W) if g.op(c) == W * x)
        (activation,) = g.nx.successors(product)
        layer = g.coarsen([product, activation], name="a")
        a = layer.node_named("a")
        assert isinstance(a, sp.MatrixSymbol) and a.shape == (2, 1)
        assert isinstance(layer.op(a), ElementwiseApplyFunction)
        assert layer.nx.edges[W, a]["vjp"].shape == (2, 3)
        refined = layer.refine(a)
        assert refined.size["nodes"] == g.size["nodes"]
        reference = self.numbers(g.backward())
        for graph in (layer, refined):
            value, grad = self.numbers(graph.backward())
            assert value == pytest.approx(reference[0], rel=1e-12)
            np.testing.assert_allclose(grad, reference[1], rtol=1e-12)
        assert sg.check(layer.backward()).ok

    def test_named_and_op_granularity_agree(self):
        steps, weights = batch_network()
        rng = np.random.default_rng(4)
        at = dict(X=rng.normal(size=(5, 3)), Y=rng.normal(size=(5, 1)))
        at.update(W1=rng.normal(size=(4, 3)), b1=rng.normal(size=(4, 1)))
        at.update(w2=rng.normal(size=(4, 1)))
        results = []
        for granularity in ("op", "named"):
            f = sg.Graph.from_assignments(steps, weights, granularity).backward().lambdify()
            results.append(f(**at))
        assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
        for a, b in zip(results[0][1], results[1][1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10)


def test_a_one_by_one_loss_is_a_number():
    r = W * x - y
    grad = sg.gradient(r.T * r, wrt=[W])  # (W x - y)ᵀ(W x - y), a 1×1 matrix
    value, (g,) = grad.lambdify()(W=np.ones((2, 3)), x=np.ones((3, 1)), y=np.zeros((2, 1)))
    assert isinstance(value, float) and value == 18.0
    np.testing.assert_allclose(g, 2 * np.full((2, 1), 3.0) @ np.ones((1, 3)))
    assert sg.check(grad).ok


class softsign(sp.Function):
    """x / (1 + |x|), without an fdiff of its own: only a registered rule differentiates it."""

    def _numpycode(self, printer):
        a = printer._print(self.args[0])
        return f"({a} / (1 + numpy.abs({a})))"


def test_scalar_steps_in_a_matrix_graph_use_the_registered_rules():
    sg.register_rule(softsign, lambda op, index: 1 / (1 + sp.Abs(op.args[0])) ** 2)
    grad = sg.gradient(softsign(SumEntries(W * x)), wrt=[W])
    rng = np.random.default_rng(6)
    at = dict(W=rng.normal(size=(2, 3)), x=rng.normal(size=(3, 1)))
    _, (g,) = grad.lambdify()(**at)
    s = float(np.sum(at["W"] @ at["x"]))
    expected = np.ones((2, 1)) @ at["x"].T / (1 + abs(s)) ** 2  # by hand
    np.testing.assert_allclose(g, expected, rtol=1e-12)
