"""Tests of the chain-rule walkthrough, symgraph.present.explain.

Oracles: ``sympy.diff`` of the whole expression (symbolically and at the point,
by SymPy's own ``subs``), networkx's ``all_simple_paths`` for the paths and
their number, the compiled gradient, backward's own δ-equations, and a real
TeX engine for the LaTeX.
"""

from __future__ import annotations

import math
import re
import time

import networkx as nx
import pytest
import sympy as sp
from oracles import compile_latex

import symgraph as sg
from symgraph.core.adjoint import AdjointSymbol
from symgraph.errors import EvaluationError, GraphError
from symgraph.present.explain import Walkthrough, explain
from symgraph.present.latex import latex_document

w, x, b, y, u = sp.symbols("w x b y u", real=True)
z, a, L = sp.symbols("z a L", real=True)


def from_assignments():
    """Named intermediates, ``z`` used twice: the paper's picture."""
    graph = sg.Graph.from_assignments(
        [(z, w * x + b), (a, sp.tanh(z)), (L, a * z + a**2)], wrt=[w, b]
    )
    return graph.backward()


# (name, gradient factory, weight, point)
CASES = [
    (
        "tanh-loss-w",
        lambda: sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b]),
        w,
        {"w": 1.0, "x": 0.5, "b": 0.1, "y": 0.2},
    ),
    (
        "tanh-loss-b",
        lambda: sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b]),
        b,
        {"w": -0.7, "x": 1.5, "b": 0.3, "y": -0.4},
    ),
    (
        "shared-subexpression",
        lambda: sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2 + sp.exp(w), wrt=[w]),
        w,
        {"w": 0.8, "x": -1.3},
    ),
    (
        "product-quotient",
        lambda: sg.gradient(sp.exp(w) * sp.sin(w * u) / (1 + w**2), wrt=[w, u]),
        u,
        {"w": 0.4, "u": 2.0},
    ),
    (
        "log-sqrt-positive",
        lambda: sg.gradient(sp.log(w**2 + 1) * w + sp.sqrt(w) * x, wrt=[w]),
        w,
        {"w": 1.7, "x": 0.25},
    ),
    (
        "fine-granularity",
        lambda: sg.gradient((w * x + w * y + w) ** 3, wrt=[w], granularity="fine"),
        w,
        {"w": 0.3, "x": 1.1, "y": -0.6},
    ),
    (
        "abs-away-from-kink",
        lambda: sg.gradient(sp.Abs(w * x - 1) + w * sp.cos(w), wrt=[w]),
        w,
        {"w": 0.9, "x": 2.0},
    ),
    ("named-assignments", from_assignments, w, {"w": 0.6, "x": -0.8, "b": 0.2}),
]
IDS = [case[0] for case in CASES]


def chain_gradient(steps: int):
    """``a_k = sin(a_{k-1}) + cos(a_{k-1})``: each step doubles the paths (a node per op)."""
    nodes = sp.symbols(f"a0:{steps + 1}", real=True)
    assignments = [(nodes[0], w * x)]
    assignments += [
        (nodes[k], sp.sin(nodes[k - 1]) + sp.cos(nodes[k - 1])) for k in range(1, steps + 1)
    ]
    return sg.Graph.from_assignments(assignments, wrt=[w], granularity="op").backward()


def sympy_derivative_at(grad, weight, point) -> float:
    """The independent oracle: SymPy differentiates the whole expression."""
    subs = {s: sp.Float(point[s.name]) for s in grad.expr.free_symbols}
    return float(sp.diff(grad.expr, weight).subs(subs))


def compiled_derivative_at(grad, weight, point) -> float:
    _, partials = grad.lambdify()(**point)
    return float(partials[grad.wrt.index(weight)])


class TestNumbers:
    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_sum_equals_compiled_and_sympy_diff(self, name, make, weight, point):
        grad = make()
        walk = explain(grad, weight, at=point)
        expected = sympy_derivative_at(grad, weight, point)
        assert not walk.truncated
        assert math.isclose(walk.sum_value, expected, rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(walk.delta_value, expected, rel_tol=1e-9, abs_tol=1e-12)
        compiled = compiled_derivative_at(grad, weight, point)
        assert math.isclose(walk.compiled_value, compiled, rel_tol=1e-12, abs_tol=1e-15)
        assert walk.agrees is True
        assert "agrees" in walk.text()

    def test_a_point_never_compiles_the_math_version(self, monkeypatch):
        """The check against ``grad.lambdify()`` runs its NumPy path: compiling the ``math``
        version for one call doubled a walkthrough's cost on a deep named step."""
        import symgraph.numeric.compile as compile_module
        from symgraph.present.view import page_data

        def refused(*args, **kwargs):
            raise AssertionError("the math version was compiled")

        monkeypatch.setattr(compile_module, "_scalar_function", refused)
        name, make, weight, point = CASES[0]
        grad = make()
        walk = explain(grad, weight, at=point)
        expected = sympy_derivative_at(grad, weight, point)
        assert math.isclose(walk.compiled_value, expected, rel_tol=1e-12, abs_tol=1e-15)
        assert walk.agrees is True
        assert page_data(grad, at=point)["compiled"]

    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_each_path_value_is_the_product_of_its_edge_values(self, name, make, weight, point):
        walk = explain(make(), weight, at=point)
        for path in walk.paths:
            assert math.isclose(path.value, math.prod(s.value for s in path.steps), rel_tol=1e-12)
        assert math.isclose(walk.sum_value, sum(p.value for p in walk.paths), rel_tol=1e-12)

    def test_edge_values_are_the_partials_at_the_forward_values(self):
        grad = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
        walk = explain(grad, w, at={w: 1.0, x: 0.5, b: 0.1, y: 0.2})  # keys may be symbols
        v4 = math.tanh(1.0 * 0.5 + 0.1)
        steps = {(s.result.name, s.operand.name): s.value for s in walk.paths[0].steps}
        assert steps["v2", "w"] == 0.5  # ∂(w x)/∂w = x
        assert math.isclose(steps["v4", "v3"], 1 - v4**2, rel_tol=1e-12)
        assert math.isclose(steps["L", "v5"], 2 * (v4 - 0.2), rel_tol=1e-12)

    def test_without_a_point_there_are_no_numbers(self):
        walk = explain(sg.gradient(sp.sin(w * x), wrt=[w]), "w")
        assert walk.point is None and walk.forward == {}
        assert walk.sum_value is walk.compiled_value is walk.agrees is None
        assert all(s.value is None for p in walk.paths for s in p.steps)
        assert "compiled" not in walk.text()
        assert "sum over 1 path = x*cos(v1) = ∂L/∂w" in walk.text()

    def test_a_missing_value_is_refused(self):
        with pytest.raises(EvaluationError, match="x"):
            explain(sg.gradient(sp.sin(w * x), wrt=[w]), "w", at={"w": 1.0})


class TestSymbolic:
    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_sum_of_path_products_is_sympy_diff(self, name, make, weight, point):
        grad = make()
        walk = explain(grad, weight)
        assert sp.simplify(walk.closed_form() - sp.diff(grad.expr, weight)) == 0

    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_products_are_the_edge_partials(self, name, make, weight, point):
        grad = make()
        walk = explain(grad, weight)
        for path in walk.paths:
            assert path.nodes[0] == weight and path.nodes[-1] == grad.output
            for step, (operand, result) in zip(
                path.steps, nx.utils.pairwise(path.nodes), strict=True
            ):
                assert (step.operand, step.result) == (operand, result)
                assert step.partial == grad.graph.nx.edges[operand, result]["partial"]
            assert path.product == sp.Mul(*(s.partial for s in path.steps))

    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_delta_form_matches_backward(self, name, make, weight, point):
        """With one weight, the δ-form is exactly backward's δ-equations."""
        grad = make()
        single = sg.Graph(grad.graph.nx, grad.graph.output, [weight]).backward()
        equations = dict(single.equations)
        walk = explain(single, weight)
        assert [line.node.name for line in walk.deltas] == [
            lhs.node_name for lhs, _ in single.equations
        ]
        for line in walk.deltas:
            assert sp.expand(line.rhs - equations[AdjointSymbol(line.node)]) == 0

    def test_shared_node_sums_over_its_out_edges(self):
        walk = explain(sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2 + sp.exp(w), wrt=[w]), w)
        several = [line for line in walk.deltas if len(line.terms) > 1]
        assert {line.node.name for line in several} == {"v2", "w"}
        assert "a sum: v2 has 2 outputs" in walk.text()


class TestPaths:
    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_paths_are_networkx_simple_paths(self, name, make, weight, point):
        grad = make()
        walk = explain(grad, weight)
        theirs = {tuple(p) for p in nx.all_simple_paths(grad.graph.nx, weight, grad.output)}
        assert walk.total_paths == len(theirs) == len(walk.paths)
        assert {p.nodes for p in walk.paths} == theirs

    def test_shared_subexpression_has_three_paths(self):
        walk = explain(sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2 + sp.exp(w), wrt=[w]), w)
        assert walk.total_paths == 3
        assert "sum over 3 paths" in walk.text()

    @pytest.mark.parametrize("steps", [1, 2, 5, 7])
    def test_count_doubles_each_step(self, steps):
        grad = chain_gradient(steps)
        walk = explain(grad, w, max_paths=1000)
        theirs = {tuple(p) for p in nx.all_simple_paths(grad.graph.nx, w, grad.output)}
        assert walk.total_paths == 2**steps == len(theirs)
        assert {p.nodes for p in walk.paths} == theirs

    def test_truncation_counts_all_and_stays_fast(self):
        grad = chain_gradient(30)
        start = time.perf_counter()
        walk = explain(grad, "w", at={"w": 0.3, "x": 0.2}, max_paths=50)
        text = walk.text()
        elapsed = time.perf_counter() - start
        assert walk.total_paths == 2**30
        assert len(walk.paths) == 50 and walk.truncated
        assert len({p.nodes for p in walk.paths}) == 50
        assert f"{2**30} paths from w to a30; the first 50 are listed" in text
        assert f"sum over the first 50 of {2**30} paths (partial)" in text
        # the δ-form still covers every path: it matches the compiled gradient
        compiled = compiled_derivative_at(grad, w, {"w": 0.3, "x": 0.2})
        assert math.isclose(walk.delta_value, compiled, rel_tol=1e-9)
        assert walk.agrees is True
        assert elapsed < 5, elapsed

    def test_max_paths_zero_lists_none_but_counts(self):
        walk = explain(chain_gradient(4), w, max_paths=0)
        assert walk.paths == () and walk.total_paths == 16 and walk.truncated
        assert walk.total == 0

    def test_weight_that_does_not_reach_the_output(self):
        grad = sg.gradient(x * y, wrt=[w, x])
        walk = explain(grad, "w", at={"w": 1.0, "x": 2.0, "y": 3.0})
        assert walk.total_paths == 0 and walk.paths == () and walk.deltas == ()
        assert walk.sum_value == 0 and walk.compiled_value == 0 and walk.agrees
        assert "no path from w to L" in walk.text()
        assert "∂L/∂w = 0" in walk.text()


class TestRenderings:
    @pytest.fixture
    def walk(self) -> Walkthrough:
        grad = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
        return explain(grad, "w", at={"w": 1.0, "x": 0.5, "b": 0.1, "y": 0.2})

    def test_text_reads_like_the_slide(self, walk):
        lines = walk.text().splitlines()
        assert lines[0] == "∂L/∂w by the chain rule, at b = 0.1, w = 1, x = 0.5, y = 0.2"
        assert "path 1: w → v2 → v3 → v4 → v5 → L" in lines
        assert "  ∂v2/∂w = x = 0.5" in lines
        assert "  ∂v4/∂v3 = 1 - v4**2 = 0.711578" in lines
        assert "  product = 2*v5*x*(1 - v4**2) = 0.239837" in lines
        assert (
            "sum over 1 path = 2*v5*x*(1 - v4**2) = 0.239837 = ∂L/∂w "
            "(compiled gradient: 0.239837, agrees)"
        ) in lines
        assert lines[-1] == "  δ_w = δ_v2·∂v2/∂w = δ_v2*x = 0.239837 = ∂L/∂w"

    def test_str_is_text(self, walk):
        assert str(walk) == walk.text()
        assert repr(walk) == "<Walkthrough ∂L/∂w: 1 of 1 paths>"

    @pytest.mark.parametrize("name", ["shared-subexpression", "named-assignments"])
    def test_markdown_and_latex_contain_each_path(self, name):
        _, make, weight, point = CASES[IDS.index(name)]
        walk = explain(make(), weight, at=point)
        text, markdown, latex = walk.text(), walk.markdown(), walk.latex()
        for path in walk.paths:
            assert " → ".join(n.name for n in path.nodes) in text
            tex_path = r" \to ".join(sp.latex(n) for n in path.nodes)
            assert f"${tex_path}$" in markdown
            assert f"${tex_path}$" in latex
            for step in path.steps:
                result, operand = sp.latex(step.result), sp.latex(step.operand)
                factor = rf"\frac{{\partial {result}}}{{\partial {operand}}}"
                assert f"{factor} &= {sp.latex(step.partial)}" in latex
                assert f"- ${factor} = {sp.latex(step.partial)}" in markdown

    def test_latex_is_one_align_star(self, walk):
        latex = walk.latex()
        assert latex.startswith("\\begin{align*}\n") and latex.endswith("\n\\end{align*}")
        assert latex.count("\\begin{") == 1
        assert r"\frac{\partial v_{2}}{\partial w} &= x = 0.5 \\" in latex
        assert r"\text{(compiled gradient: 0.239837, agrees)}" in latex

    def test_small_and_large_numbers_print_as_powers_of_ten(self):
        walk = explain(sg.gradient(sp.exp(w * x), wrt=[w]), w, at={"w": 1e-7, "x": 3e-5})
        assert r"3 \cdot 10^{-5}" in walk.latex()
        assert "3e-05" in walk.text()


# --- compiled with a real TeX engine -------------------------------------------


def test_latex_compiles_with_pdflatex(tmp_path):
    walks = [explain(make(), weight, at=point) for _, make, weight, point in CASES[2:]]
    walks += [
        explain(chain_gradient(4), w, at={"w": 0.3, "x": 0.2}, max_paths=3),  # truncated
        explain(chain_gradient(3), w, max_paths=2),  # truncated, no point
        explain(sg.gradient(x * y, wrt=[w, x]), w),  # no path
    ]
    body = "\n\n".join(walk.latex() for walk in walks)
    compile_latex(latex_document(body), tmp_path)


class TestRefused:
    @pytest.fixture
    def grad(self):
        return sg.gradient(sp.sin(w * x) + b, wrt=[w, b])

    def test_unknown_name(self, grad):
        with pytest.raises(GraphError, match="no weight named 'nope'.*w, b"):
            explain(grad, "nope")

    def test_an_input_is_not_a_weight(self, grad):
        with pytest.raises(GraphError, match="'x' is an input node, not a weight"):
            explain(grad, x)

    def test_unknown_symbol(self, grad):
        with pytest.raises(GraphError):
            explain(grad, sp.Symbol("q"))

    def test_not_a_symbol_or_name(self, grad):
        with pytest.raises(GraphError, match="Symbol or a name"):
            explain(grad, 3)

    @pytest.mark.parametrize("bad", [-1, 2.5, True, None])
    def test_bad_max_paths(self, grad, bad):
        with pytest.raises(GraphError, match="max_paths"):
            explain(grad, w, max_paths=bad)

    def test_weight_by_symbol_or_name_is_the_same(self, grad):
        assert explain(grad, "w").text() == explain(grad, w).text()
        # a symbol without the real assumption is matched by its name
        assert explain(grad, sp.Symbol("w")).weight == w


class TestOverflowAlongAPath:
    def test_a_path_whose_factors_overflow_says_so_instead_of_differs(self):
        z, s, L = sp.symbols("z s L", real=True)
        # softplus typed as one expression is one node now; named steps keep the path
        steps = [(s, sp.exp(z)), (L, sp.log(1 + s))]
        grad = sg.Graph.from_assignments(steps, wrt=[z]).backward()
        text = explain(grad, z, at={"z": 1000.0}).text()
        # the true derivative σ(1000) is 1 to the last digit; exp(1000)·(1/(1 + exp(1000))) is inf·0
        assert "compiled gradient: 1," in text and "overflows in floating point" in text
        assert "differs" not in text


class TestViews:
    """The path view where edges carry a local partial; the δ-view always."""

    def test_an_edge_with_a_vjp_and_a_partial_keeps_the_path_view(self):
        grad = sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2 + sp.exp(w), wrt=[w])
        graph = grad.graph.nx.copy()
        for _, result, data in graph.edges(data=True):
            data["vjp"] = AdjointSymbol(result) * data["partial"]  # the share, in δ_result
        both = sg.Graph(graph, grad.graph.output, [w]).backward()
        point = {"w": 0.8, "x": -1.3}
        before, after = explain(grad, w, at=point), explain(both, w, at=point)
        assert before.path_view and after.path_view
        assert [p.nodes for p in after.paths] == [p.nodes for p in before.paths]
        assert math.isclose(after.sum_value, before.sum_value, rel_tol=1e-12) and after.agrees

    @pytest.fixture
    def matrix_walk(self):
        W, v, t = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("v", 3, 1), sp.MatrixSymbol("t", 2, 1)
        Z, A = sp.MatrixSymbol("Z", 2, 1), sp.MatrixSymbol("A", 2, 1)
        steps = [(Z, W * v), (A, Z.applyfunc(sp.tanh)), (L, sp.Trace((A - t).T * (A - t)))]
        grad = sg.Graph.from_assignments(steps, wrt=[W], granularity="named").backward()
        at = {"W": [[1.0, 2, 3], [4, 5, 6]], "v": [[0.1], [0.2], [0.3]], "t": [[0.0], [1]]}
        return explain(grad, "W", at=at)

    def test_a_matrix_graph_has_the_delta_view_only(self, matrix_walk):
        walk = matrix_walk
        assert not walk.path_view and walk.paths == () and not walk.truncated
        assert walk.steps is walk.deltas and walk.deltas[-1].node == walk.weight
        assert walk.deltas[-1].shape == (2, 3) and walk.sum_value is None
        assert walk.checked is walk.delta_value and walk.agrees is True
        assert repr(walk) == "<Walkthrough ∂L/∂W: 4 δ-equations>"

    def test_a_matrix_graph_prints_its_shapes_in_every_form(self, matrix_walk):
        text = matrix_walk.text()
        lines = text.splitlines()
        assert lines[0] == "∂L/∂W by backpropagation through matrix nodes, at W 2×3, t 2×1, v 3×1"
        assert "  Z  2×1 = W*v = [[1.4], [3.2]]" in lines  # W v by hand: 1.4, 3.2
        assert "  L  ()  = Trace((Aᵀ - tᵀ)*(A - t)) = 0.7839" in lines
        # a 2×3 value prints by its shape and norm; the product's shapes are written out
        assert "  δ_W  2×3 = δ_Z*vᵀ = 2×3, ‖·‖ 0.1432    from Z   [2×1 · 1×3 → 2×3]" in lines
        assert lines[-1] == "∂L/∂W = δ_W (compiled gradient: 2×3, ‖·‖ 0.1432, agrees)"
        assert matrix_walk.markdown() == f"```\n{text}\n```"
        latex = matrix_walk.latex()
        assert latex.startswith("\\begin{align}\n") and latex.endswith("\n\\end{align}")
        assert r"\delta_{W} &= \delta_{Z} v^{\top} && \in \mathbb{R}^{2 \times 3}" in latex


# --- what a class reads: every node defined, one notation (issue 13) ------------------------

w1, w2, x1, x2 = sp.symbols("w1 w2 x1 x2", real=True)
NEURON = "(tanh(w1*x1 + w2*x2 + b) - y)**2"


def neuron_gradient():
    return sg.gradient((sp.tanh(w1 * x1 + w2 * x2 + b) - y) ** 2, wrt=[w1])


def defined_before_use(text: str, graph) -> None:
    """Every operation named anywhere in ``text`` has its line ``  name = …`` in the text."""
    operations = {n.name for n in graph.nx if graph.op(n) is not None}
    defined = {ln.split()[0] for ln in text.splitlines() if ln.startswith("  ") and " = " in ln}
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)) & operations
    assert named <= defined, sorted(named - defined)


class TestEveryNodeDefined:
    def test_operands_off_the_path_are_defined_in_order(self):
        walk = explain(neuron_gradient(), w1, at=dict(w1=1, w2=2, x1=1, x2=0.5, b=0, y=0.3))
        lines = walk.text().splitlines()
        assert "nodes on the paths, and the operands they use:" in lines
        assert "  v1 = -y = -0.3 (off the paths from w1)" in lines
        assert "  v3 = w2*x2 = 1 (off the paths from w1)" in lines
        names = [n.name for n in walk.defined]
        assert names == ["v1", "v2", "v3", "v4", "v5", "v6", "L"]  # topological order
        assert [n.name for n in walk.nodes] == ["w1", "v2", "v4", "v5", "v6", "L"]
        defined_before_use(walk.text(), walk.grad.graph)

    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_every_mentioned_node_is_defined(self, name, make, weight, point):
        grad = make()
        for at in (None, point):
            defined_before_use(explain(grad, weight, at=at).text(), grad.graph)

    def test_off_path_operations_close_over_their_operands(self):
        # v = w2*x2 + x2**2: its own operand (x2**2) is defined too, above it
        grad = sg.gradient((sp.tanh(w1 * x1 + w2 * x2 + x2**2) - y) ** 2, wrt=[w1])
        walk = explain(grad, w1)
        defined_before_use(walk.text(), grad.graph)
        order = grad.graph.topological_order()
        assert list(walk.defined) == [n for n in order if n in set(walk.defined)]

    def test_matrix_walk_defines_what_its_lines_use(self):
        W, v = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("v", 3, 1)
        c = sp.MatrixSymbol("c", 2, 1)
        loss = sp.Trace((W * v + c.applyfunc(sp.exp)).T * (W * v + c.applyfunc(sp.exp)))
        grad = sg.gradient(loss, wrt=[W])
        defined_before_use(explain(grad, W).text(), grad.graph)


class TestOneNotation:
    @pytest.mark.parametrize(("name", "make", "weight", "point"), CASES, ids=IDS)
    def test_partial_d_in_every_form(self, name, make, weight, point):
        walk = explain(make(), weight, at=point)
        text, markdown, latex = walk.text(), walk.markdown(), walk.latex()
        assert f"∂L/∂{weight}" in text and not re.search(r"\bd\w+/d\w+", text)
        assert not re.search(r"\bd\w+/d\w+", repr(walk))
        for tex in (markdown, latex):
            assert r"\frac{\partial L}{\partial" in tex
            assert not re.search(r"\\frac\{d ", tex) and r"\mathrm{d}" not in tex

    def test_matrix_walk_too(self):
        Wm, v = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("v", 3, 1)
        walk = explain(sg.gradient(sp.Trace((Wm * v).T * (Wm * v)), wrt=[Wm]), "W")
        lines = walk.text().splitlines()
        assert lines[0].startswith("∂L/∂W by backpropagation") and lines[-1] == "∂L/∂W = δ_W"


class TestCommandLine:
    def run(self, argv, capsys):
        from symgraph.cli import main

        status = main(argv)
        return status, capsys.readouterr().out

    def test_explain_defines_every_node_and_writes_partials(self, capsys):
        argv = ["explain", NEURON, "--wrt", "w1", "--at", "w1=1,w2=2,x1=1,x2=0.5,b=0,y=0.3"]
        status, out = self.run(argv, capsys)
        assert status == 0
        defined_before_use(out, neuron_gradient().graph)
        assert out.startswith("∂L/∂w1 by the chain rule") and "= ∂L/∂w1 (compiled" in out
        assert not re.search(r"\bdL/d", out)

    @pytest.mark.parametrize("form", ["markdown", "latex"])
    def test_explain_markdown_and_latex_write_partial(self, form, capsys):
        status, out = self.run(["explain", NEURON, "--wrt", "w1", "--format", form], capsys)
        assert status == 0 and r"\frac{\partial L}{\partial w_{1}}" in out
        assert r"\frac{d " not in out
        assert re.search(r"v_\{3\} &?= w_\{2\} x_\{2\}", out)  # defined, though off the path
