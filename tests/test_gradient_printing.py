"""Printing a Gradient never recurses with the graph's depth, and is bounded (issue 9).

Over a depth or size limit, ``str(grad)`` and ``grad.latex()`` print the
structured form (one δ-equation per node) and say why.  Deep cases run in a
forked child with a generous time limit, so a hang or a crash reads as a failure.
"""

import importlib
import math

import pytest
import sympy as sp
from children import in_child

import symgraph as sg
from symgraph.errors import SymgraphError

gradient_module = importlib.import_module("symgraph.core.gradient")  # sg.gradient is the function
x, b = sp.symbols("x b", real=True)


def deep_chain(depth=200):
    """x, then ``depth`` times tanh(w_k*prev + b)."""
    ws = sp.symbols(f"w1:{depth + 1}", real=True)
    prev = x
    for w in ws:
        prev = sp.tanh(w * prev + b)
    return sg.gradient(prev, wrt=[ws[0], b])


def _print_everything():
    grad = deep_chain()
    return {
        "str": str(grad),
        "repr": repr(grad),
        "latex": grad.latex(),
        "structured latex": grad.latex(form="structured"),
        "repr_latex": grad._repr_latex_(),
        "structured": str(grad.structured),
        "ops": sum(1 for _, data in grad.graph.nx.nodes(data=True) if data["op"] is not None),
        "equations": len(grad.equations),
    }


@pytest.fixture(scope="module")
def printed():
    result = in_child(_print_everything)
    assert isinstance(result, dict), result  # was RecursionError from str(grad)
    return result


class TestDeepChain:
    def test_str_is_the_structured_form_and_says_why(self, printed):
        lines = printed["str"].splitlines()
        assert lines[0] == (
            "# the closed form of ∂L/∂w1 is too big to print (depth over 100); "
            "the structured form follows, one equation per node"
        )
        # the forward definitions, one δ-equation per node, then each partial
        assert len(lines) == 1 + printed["ops"] + printed["equations"] + 2
        assert lines[1] == "v1 = w1*x"
        assert lines[2] == "v2 = b + v1"
        assert lines[3] == "v3 = tanh(v2)"
        assert "δ_L = 1" in lines
        assert lines[-2] == "∂L/∂w1 = δ_v1*x"
        assert lines[-1].startswith("∂L/∂b = δ_v101 + δ_v104")

    def test_repr_is_short(self, printed):
        assert printed["repr"] == "<Gradient of L wrt w1, b>"

    def test_latex_is_the_structured_form_after_a_comment(self, printed):
        lines = printed["latex"].splitlines()
        assert lines[0].startswith("% the closed form of ∂L/∂w1 is too big to print (depth")
        assert lines[1] == "\\begin{align}"
        assert lines[2] == "v_{1} &= w_{1} x \\\\"
        assert "\n".join(lines[1:]) == printed["structured latex"]

    def test_repr_latex_has_no_comment(self, printed):
        assert printed["repr_latex"].startswith("$$\\begin{aligned}\nv_{1} &= w_{1} x")
        assert "%" not in printed["repr_latex"]

    def test_structured_prints(self, printed):
        assert printed["structured"].startswith("{w1: delta_v1*x, b: delta_v101 + ")


class TestBounded:
    def test_a_small_gradient_prints_its_closed_forms(self):
        w = sp.Symbol("w", real=True)
        assert str(sg.gradient(sp.sin(w * x), wrt=[w])) == "∂L/∂w = x*cos(w*x)"

    def test_many_big_closed_forms_together_give_the_structured_form(self):
        xs = sp.symbols("x1:121", real=True)  # 120 closed forms of 119 factors each
        grad = sg.gradient(sp.Mul(*xs), wrt=list(xs))
        text = str(grad)
        first = text.splitlines()[0]
        assert first.startswith("# the closed form of ∂L/∂x") and "exceed 10000 nodes" in first
        assert len(text) < 200_000  # the closed forms written out: 120*119 factors
        # the forward definitions (binary steps of the product) compose to the loss
        names = {s.name: s for s in xs}
        values = {}
        for line in text.splitlines()[1:]:
            lhs, rhs = line.split(" = ")
            if lhs.startswith(("δ", "delta", "dL/")):
                break
            values[lhs] = sp.parse_expr(rhs, local_dict={**names, **values})
        assert values["L"] == sp.Mul(*xs)

    def test_the_structured_form_is_cut_past_its_limit_and_says_so(self, monkeypatch):
        monkeypatch.setattr(gradient_module, "PRINT_MAX_NODES", 20)
        monkeypatch.setattr(gradient_module, "STRUCTURED_MAX_NODES", 60)
        xs = sp.symbols("x1:9", real=True)  # one node: 8 partials of 7 factors
        grad = sg.gradient(sp.Mul(*xs), wrt=list(xs))
        lines = str(grad).splitlines()
        notes = [line for line in lines if line.startswith("# ") and "not printed" in line]
        assert len(notes) == 2
        assert notes[0].endswith("read them in grad.equations")
        assert notes[1].endswith("read them in grad.structured")
        assert lines[1] == "L = " + str(sp.Mul(*xs))

    def test_latex_too_big_even_structured_is_one_line_error(self, monkeypatch):
        monkeypatch.setattr(gradient_module, "PRINT_MAX_NODES", 20)
        monkeypatch.setattr(gradient_module, "STRUCTURED_MAX_NODES", 60)
        xs = sp.symbols("x1:11", real=True)
        grad = sg.gradient(sp.Mul(*xs), wrt=list(xs))
        for form in ("closed", "structured"):
            with pytest.raises(SymgraphError, match="too big for LaTeX") as info:
                grad.latex(form=form)
            assert "\n" not in str(info.value)


def _sin_chain_2000():
    w = sp.Symbol("w", real=True)
    expr = w
    for _ in range(2000):
        expr = sp.sin(expr, evaluate=False)  # SymPy's evaluation itself recurses this deep
    grad = sg.gradient(expr, wrt=[w])
    text, latex = str(grad), grad.latex()
    simple = grad.simplify()
    _, (dw,) = simple.lambdify()(w=0.3)
    return text.splitlines()[0], latex.splitlines()[0], float(dw)


def test_a_2000_deep_chain_builds_prints_simplifies_and_compiles():
    # closed_forms raised RecursionError: Mul(evaluate=False) asks is_commutative all the way down
    result = in_child(_sin_chain_2000)
    assert isinstance(result, tuple), result
    first, latex_first, dw = result
    assert first.startswith("# the closed form of ∂L/∂w is too big to print (depth over 100)")
    assert latex_first.startswith("% the closed form of ∂L/∂w is too big to print")
    value, expected = 0.3, 1.0  # the chain rule, by hand: the product of cos at each level
    for _ in range(2000):
        expected *= math.cos(value)
        value = math.sin(value)
    assert dw == pytest.approx(expected, rel=1e-9)


class TestEstimatedShapes:
    def test_exact_where_nothing_merges(self):
        # a deep chain's closed forms are built unevaluated: the estimate is their tree shape
        from symgraph.core.sizes import tree_shape

        grad = deep_chain(30)
        estimated = grad.estimated_shapes(cap=10**7)
        for w, form in grad.closed_forms().items():
            assert estimated[w] == tree_shape(form)

    def test_far_too_big_closed_forms_are_never_built(self, monkeypatch):
        grad = sg.gradient(sp.Mul(*[x + k for k in range(250)]), wrt=[x])

        def refuse(self):
            raise AssertionError("closed forms built")

        monkeypatch.setattr(sg.Gradient, "closed_forms", refuse)
        text = str(grad)  # the closed form: 250 products of 249 sums
        assert text.startswith(
            "# the closed form of ∂L/∂x is too big to print "
            "(the closed forms up to it exceed 10000 nodes written out)"
        )
        kept = grad.simplify()  # every form far too big: the gradient comes back unchanged,
        assert kept is grad and kept.simplified is None
        assert kept.lambdify().args == (x,)  # compiled from its graph: closed forms refused
