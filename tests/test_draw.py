"""Drawings: DOT source always, SVG through Graphviz; values and adjoints at a point."""

import os
import shutil

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import SymgraphError
from symgraph.numeric.compile import values_at
from symgraph.present.draw import render, to_dot

w, x, b, y = sp.symbols("w x b y", real=True)
LOSS = (sp.tanh(w * x + b) - y) ** 2
POINT = dict(x=0.5, y=0.3, w=2.0, b=-0.5)


@pytest.fixture
def grad():
    return sg.gradient(LOSS, wrt=[w, b])


def test_values_at_match_the_compiled_gradient_and_the_forward_pass(grad):
    forward, delta = values_at(grad, **POINT)
    value, (dw, db) = grad.lambdify()(**POINT)
    assert float(delta[w]) == pytest.approx(float(dw), rel=1e-14)
    assert float(delta[b]) == pytest.approx(float(db), rel=1e-14)
    assert float(delta[grad.output]) == 1.0
    expected = grad.graph.forward(POINT)
    for node, v in expected.items():
        assert float(forward[node]) == pytest.approx(float(v), rel=1e-14)
    # Independent oracle: δ of the tanh node is ∂L/∂tanh = 2 (tanh - y)
    tanh_node = next(n for n, op in grad.graph.nx.nodes(data="op") if isinstance(op, sp.tanh))
    t = np.tanh(POINT["w"] * POINT["x"] + POINT["b"])
    assert float(delta[tanh_node]) == pytest.approx(2 * (t - POINT["y"]), rel=1e-12)


def test_dot_has_every_node_edge_value_and_adjoint(grad):
    forward, delta = values_at(grad, **POINT)
    dot = to_dot(grad.graph, forward, delta, highlight=w)
    for node in grad.graph.nx:
        assert f'"{node}" [label=' in dot
    for operand, result in grad.graph.nx.edges:
        assert f'"{operand}" -> "{result}"' in dot
    assert f"value {float(forward[grad.output]):.4g}" in dot
    assert f"δ {float(delta[w]):.4g}" in dot
    assert 'label="x = 0.5"' in dot  # the local partial ∂v2/∂w and its value at the point
    assert dot.count('color="#c0392b"') == 6 + 5  # nodes w, v2, v3, v4, v5, L and 5 edges


def test_quotes_in_names_cannot_break_the_dot_source():
    odd = sp.Symbol('a"b', real=True)
    dot = to_dot(sg.Graph.from_expr(odd * w))
    assert '"a\\"b"' in dot


def test_svg_contains_every_node(grad, tmp_path):
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("Graphviz's dot is not installed in CI (scripts/setup-system.sh)")
        pytest.skip("Graphviz's dot is not installed")
    svg = render(to_dot(grad.graph), tmp_path / "g.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for node in grad.graph.nx:
        assert f">{node}" in svg


def test_unknown_format_is_refused(grad, tmp_path):
    with pytest.raises(SymgraphError, match="format"):
        render(to_dot(grad.graph), tmp_path / "g.gif")


def test_tikz_export_compiles(grad, tmp_path):
    from oracles import compile_latex

    from symgraph.present.draw import to_tikz

    forward, _ = values_at(grad, **POINT)
    tikz = to_tikz(grad.graph, forward)
    for k in range(grad.graph.nx.number_of_nodes()):
        assert f"(n{k})" in tikz
    document = (
        "\\documentclass{article}\n\\usepackage{amsmath}\n\\usepackage{tikz}\n"
        f"\\begin{{document}}\n{tikz}\n\\end{{document}}\n"
    )
    compile_latex(document, tmp_path)


def test_graph_displays_itself_in_a_notebook(grad):
    svg = grad.graph._repr_svg_()
    if shutil.which("dot") is None:
        assert svg is None
    else:
        assert "<svg" in svg and ">L" in svg
    assert grad._repr_latex_().startswith("$$\\begin{aligned}")


def test_matplotlib_fallback_draws_every_node(grad, tmp_path):
    pytest.importorskip("matplotlib")
    from symgraph.present.draw import draw_matplotlib

    svg_path = tmp_path / "g.svg"
    draw_matplotlib(grad.graph, svg_path)
    svg = svg_path.read_text()
    assert "<svg" in svg
    for node in grad.graph.nx:  # matplotlib writes each label as text in the SVG
        assert str(node) in svg
