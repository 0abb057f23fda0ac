r"""Tests of the LaTeX export, symgraph.present.latex.

Oracles: exact strings derived by hand for tiny cases (right sides printed by
``sympy.latex(sympy.diff(...))``), and a real TeX engine: every form is
compiled with pdflatex.
"""

from __future__ import annotations

import pytest
import sympy as sp
from oracles import compile_latex

import symgraph as sg
from symgraph.errors import GraphError, SymgraphError
from symgraph.present.latex import ENVIRONMENTS, gradient_latex, latex_document, partial_symbol

w, x, y = sp.symbols("w x y", real=True)
L = sp.Symbol("L", real=True)


def closed_line(expr, weight) -> str:
    """The expected closed-form line, with SymPy's own derivative as the right side."""
    lhs = rf"\frac{{\partial L}}{{\partial {sp.latex(weight)}}}"
    return f"{lhs} &= {sp.latex(sp.diff(expr, weight))}"


class TestPartialSymbol:
    def test_plain(self):
        assert partial_symbol(L, w) == r"\frac{\partial L}{\partial w}"

    def test_greek_and_indexed(self):
        alpha, w1 = sp.symbols("alpha W_1")
        assert partial_symbol(L, alpha) == r"\frac{\partial L}{\partial \alpha}"
        assert partial_symbol(L, w1) == r"\frac{\partial L}{\partial W_{1}}"


class TestClosedForm:
    def test_one_weight_exact(self):
        expr = sp.sin(w * x)
        expected = "\\begin{align}\n" + closed_line(expr, w) + "\n\\end{align}"
        assert expected.endswith("&= x \\cos{\\left(w x \\right)}\n\\end{align}")  # by hand
        assert gradient_latex(sg.gradient(expr, wrt=[w])) == expected

    def test_two_weights_one_line_each_in_wrt_order(self):
        expr = w * x + y**2
        got = gradient_latex(sg.gradient(expr, wrt=[y, w]), environment=None)
        assert got == closed_line(expr, y) + " \\\\\n" + closed_line(expr, w)

    @pytest.mark.parametrize("environment", ["align", "align*", "aligned"])
    def test_environments(self, environment):
        expr = sp.exp(w * x)
        got = gradient_latex(sg.gradient(expr, wrt=[w]), environment=environment)
        assert got == (f"\\begin{{{environment}}}\n{closed_line(expr, w)}\n\\end{{{environment}}}")

    def test_no_environment_gives_the_lines_alone(self):
        expr = sp.exp(w * x)
        got = gradient_latex(sg.gradient(expr, wrt=[w]), environment=None)
        assert got == closed_line(expr, w)
        assert "begin" not in got

    def test_environments_are_the_documented_ones(self):
        assert set(ENVIRONMENTS) == {"align", "align*", "aligned", None}

    def test_method_and_function_agree(self):
        grad = sg.gradient(sp.tanh(w * x) ** 2, wrt=[w, x])
        assert grad.latex() == gradient_latex(grad)
        assert grad.latex(form="structured", environment="align*") == gradient_latex(
            grad, form="structured", environment="align*"
        )

    def test_repr_latex_for_notebooks(self):
        expr = sp.sin(w * x)
        got = sg.gradient(expr, wrt=[w])._repr_latex_()
        assert got == "$$\\begin{aligned}\n" + closed_line(expr, w) + "\n\\end{aligned}$$"

    def test_too_deep_closed_form_suggests_structured(self):
        expr = w
        for i in range(1200):
            expr = sp.sin(expr) if i % 2 else expr * w + 1
        grad = sg.gradient(expr, wrt=[w])
        with pytest.raises(SymgraphError, match="structured"):
            gradient_latex(grad)
        structured = gradient_latex(grad, form="structured")  # one short line per node
        assert structured.count("\\\\\n") > 1200


class TestStructuredForm:
    def test_sin_exact(self):
        # derived by hand: v1 = w x, L = sin v1, δL = 1, δv1 = δL cos v1, ∂L/∂w = δv1 x
        expected = (
            "\\begin{align}\n"
            "v_{1} &= w x \\\\\n"
            "L &= \\sin{\\left(v_{1} \\right)} \\\\\n"
            "\\delta_{L} &= 1 \\\\\n"
            "\\delta_{v_{1}} &= \\delta_{L} \\cos{\\left(v_{1} \\right)} \\\\\n"
            "\\frac{\\partial L}{\\partial w} &= \\delta_{v_{1}} x\n"
            "\\end{align}"
        )
        assert gradient_latex(sg.gradient(sp.sin(w * x), wrt=[w]), form="structured") == expected

    def test_shape(self):
        grad = sg.gradient((sp.tanh(w * x) - y) ** 2, wrt=[w, x])
        lines = gradient_latex(grad, form="structured", environment=None).split(" \\\\\n")
        operations = grad.graph.size["operations"]
        forward, rest = lines[:operations], lines[operations:]
        assert forward[-1].startswith("L &= ")
        assert all(not line.startswith("\\delta") for line in forward)
        assert rest[0] == "\\delta_{L} &= 1"
        assert [line.split(" &= ")[0] for line in rest[-2:]] == [
            partial_symbol(L, w),
            partial_symbol(L, x),
        ]
        # weights are printed as ∂L/∂w, never also as their own δ-term
        assert not any(line.startswith(("\\delta_{w}", "\\delta_{x}")) for line in rest)


class TestRefused:
    @pytest.mark.parametrize("form", ["open", "", "Closed", None])
    def test_bad_form(self, form):
        grad = sg.gradient(sp.sin(w * x), wrt=[w])
        with pytest.raises(GraphError, match="form"):
            gradient_latex(grad, form=form)

    @pytest.mark.parametrize("environment", ["equation", "align**", "", "eqnarray"])
    def test_bad_environment(self, environment):
        grad = sg.gradient(sp.sin(w * x), wrt=[w])
        with pytest.raises(GraphError, match="environment"):
            gradient_latex(grad, environment=environment)
        with pytest.raises(ValueError):  # GraphError is also a ValueError
            grad.latex(environment=environment)


# --- compiled with a real TeX engine -------------------------------------------


def compile_tex(body: str, directory) -> None:
    compile_latex(latex_document(body), directory)


def test_latex_document_wraps_the_body():
    doc = latex_document("BODY")
    assert doc.startswith("\\documentclass{article}\n")
    assert "\\usepackage{amsmath, amssymb}" in doc
    assert doc.index("\\begin{document}") < doc.index("BODY") < doc.index("\\end{document}")


LOSS = (sp.tanh(w * x + sp.Symbol("b", real=True)) - y) ** 2
alpha, W1, x12 = sp.symbols("alpha W_1 x_{12}", real=True)
GREEK = sp.exp(alpha * W1) * sp.tanh(x12 * alpha) + sp.log(W1**2 + 1) + sp.sqrt(x12**2 + 1)


@pytest.mark.parametrize(
    ("expr", "wrt", "form", "environment"),
    [
        (LOSS, [w], "closed", "align"),
        (LOSS, [w], "structured", "align"),
        (LOSS, None, "closed", "align*"),
        (LOSS, None, "structured", "align*"),
        (GREEK, [alpha, W1, x12], "closed", "align"),
        (GREEK, [alpha, W1, x12], "structured", "align"),
        (sp.Abs(w * x) + sp.Max(w, y), [w], "closed", "align"),
    ],
    ids=[
        "closed",
        "structured",
        "closed-all",
        "structured-all",
        "greek-closed",
        "greek-structured",
        "non-analytic",
    ],
)
def test_compiles_with_pdflatex(tmp_path, expr, wrt, form, environment):
    grad = sg.gradient(expr, wrt=wrt)
    compile_tex(gradient_latex(grad, form=form, environment=environment), tmp_path)


def test_aligned_and_bare_lines_compile_inside_math(tmp_path):
    grad = sg.gradient(GREEK, wrt=[alpha, W1, x12])
    aligned = gradient_latex(grad, environment="aligned")
    bare = gradient_latex(grad, form="structured", environment=None)
    body = f"\\[\n{aligned}\n\\]\n\\begin{{align*}}\n{bare}\n\\end{{align*}}"
    compile_tex(body, tmp_path)


def test_simplified_gradient_compiles(tmp_path):
    grad = sg.gradient(LOSS, wrt=[w]).simplify()
    compile_tex(gradient_latex(grad), tmp_path)


def test_a_wide_sum_prints_whole_in_stored_order():
    ws = sp.symbols("w1:2001", real=True)
    x = sp.Symbol("x", real=True)
    grad = sg.gradient(sp.Add(*(sp.sin(w * x) for w in ws)), wrt=[x])
    text = grad.latex(form="structured", width=None)  # SymPy's term ordering was quadratic
    positions = [text.index(f"w_{{{k}}} x") for k in (1, 1000, 2000)]
    assert positions == sorted(positions)


def test_a_product_with_a_wide_sum_never_orders_the_sums_terms(monkeypatch):
    """``δ_L (Σ x_i cos(w x_i))``: SymPy's factor ordering would order the sum's terms.

    Ordering n terms over n generators builds an n-long monomial per term
    (quadratic); every sum of more than ``ORDERED_TERMS`` terms is printed as stored.
    """
    from symgraph.present.latex import ORDERED_TERMS

    ordered = []
    original = sp.Expr.as_ordered_terms

    def counting(self, *args, **kwargs):
        ordered.append(len(sp.Add.make_args(self)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.Expr, "as_ordered_terms", counting)
    w = sp.Symbol("w_ordered_factors", real=True)  # fresh names: no cached sort keys
    xs = sp.symbols("v_ordered_factors1:301", real=True)
    graph = sg.Graph.from_expr(sp.Add(*(sp.sin(w * x) for x in xs)), wrt=[w])
    grad = graph.coarsen([n for n in graph.nx if graph.op(n) is not None]).backward()
    text = grad.latex(form="structured", width=None)
    assert r"\delta_{L}" in text and text.count(r"\cos") == len(xs)
    assert max(ordered, default=0) <= ORDERED_TERMS
    monkeypatch.undo()
    expected = sp.diff(sp.Add(*(sp.sin(w * x) for x in xs)), w)
    assert sp.simplify(grad[w] - expected) == 0
