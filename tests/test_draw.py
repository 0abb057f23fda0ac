"""Drawings: DOT source always, SVG through Graphviz; values and adjoints at a point."""

import os
import re
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
    # the local partial ∂v2/∂w, named as such (it read "x = 0.5", like an assignment), and its value
    assert 'label="∂v2/∂w = x = 0.5"' in dot
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


# --- what a class reads on a drawing: kinds, edge labels, legend (issue 13) ---------------

w1, w2, x1, x2 = sp.symbols("w1 w2 x1 x2", real=True)
NEURON = "(tanh(w1*x1 + w2*x2 + b) - y)**2"
NEURON_POINT = dict(w1=1.0, w2=2.0, x1=1.0, x2=0.5, b=0.0, y=0.3)


def neuron(wrt=None):
    return sg.Graph.from_expr((sp.tanh(w1 * x1 + w2 * x2 + b) - y) ** 2, wrt=wrt)


def node_label(dot: str, name: str) -> str:
    (line,) = [ln for ln in dot.splitlines() if ln.startswith(f'  "{name}" [label=')]
    return line.split('label="')[1].split('"')[0]


class TestKindsAndLabels:
    def test_without_wrt_every_leaf_is_a_leaf_with_its_delta(self):
        graph = neuron()
        forward, delta = values_at(graph.backward(), NEURON_POINT)
        dot = to_dot(graph, forward, delta)
        for leaf in ("w1", "w2", "x1", "x2", "b", "y"):
            label = node_label(dot, leaf)
            assert label.split("\\n")[1] == "leaf", label
            assert "\\nδ " in label  # every leaf is differentiated, as `symgraph grad` does
        assert "weight" not in dot.split("symgraph legend")[0]
        assert "no weights were chosen" in dot  # the legend says why

    def test_with_wrt_weights_and_inputs_and_no_delta_for_inputs(self):
        graph = neuron([w1])
        forward, delta = values_at(graph.backward(), NEURON_POINT)
        dot = to_dot(graph, forward, delta)
        assert node_label(dot, "w1").split("\\n")[1] == "weight"
        for leaf in ("w2", "x1", "x2", "b", "y"):
            label = node_label(dot, leaf)
            assert label.split("\\n")[1] == "input" and "δ" not in label, label
        assert "\\nleaf" not in dot

    def test_edge_labels_name_the_partial_and_its_value(self):
        graph = neuron([w1])
        forward, _ = values_at(graph.backward(), NEURON_POINT)
        dot = to_dot(graph, forward)
        assert '"w1" -> "v2" [label="∂v2/∂w1 = x1 = 1"]' in dot
        assert '"v2" -> "v4" [label="∂v4/∂v2 = 1"]' in dot  # a constant: no "= 1 = 1"
        symbolic = to_dot(graph)
        assert '"w1" -> "v2" [label="∂v2/∂w1 = x1"]' in symbolic
        for line in symbolic.splitlines():
            if "->" in line and "invis" not in line:  # every edge label says what it is
                assert 'label="∂' in line, line

    def test_legend_explains_kinds_edges_and_delta(self):
        graph = neuron([w1])
        forward, delta = values_at(graph.backward(), NEURON_POINT)
        dot = to_dot(graph, forward, delta, highlight=w1)
        legend = dot.split('"symgraph legend" [')[1]
        for words in ("weight:", "input:", "operation:", "output:", "edge a → b: ∂b/∂a",
                      "δ_n = ∂L/∂n", "red: every path from w1"):  # fmt: skip
            assert words in legend, words
        assert "leaf:" not in legend  # only the kinds drawn
        assert "symgraph legend" not in to_dot(graph, legend=False)

    def test_the_legend_renders_in_graphviz(self, tmp_path):
        if shutil.which("dot") is None:
            pytest.skip("Graphviz's dot is not installed")
        svg = render(to_dot(neuron([w1])), tmp_path / "g.svg").read_text()
        assert "legend" in svg and "∂b/∂a" in svg and "input: a leaf held fixed" in svg


class TestCommandLine:
    def draw(self, tmp_path, *extra):
        from symgraph.cli import main

        path = tmp_path / "g.dot"
        assert main(["draw", NEURON, "-o", str(path), *extra]) == 0
        return path.read_text()

    def test_draw_without_wrt_labels_leaves_as_grad_differentiates_them(self, tmp_path, capsys):
        dot = self.draw(tmp_path, "--at", "w1=1,w2=2,x1=1,x2=0.5,b=0,y=0.3")
        assert node_label(dot, "x1").startswith("x1\\nleaf\\n")
        assert "weight\\n" not in dot and "\\ninput" not in dot

    def test_draw_with_wrt(self, tmp_path, capsys):
        dot = self.draw(tmp_path, "--wrt", "w1", "--at", "w1=1,w2=2,x1=1,x2=0.5,b=0,y=0.3")
        assert node_label(dot, "y") == "y\\ninput\\nvalue 0.3"
        assert "∂v2/∂w1 = x1 = 1" in dot and "symgraph legend" in dot


# --- TikZ: laid out in Python, compiled by pdflatex, edges around the boxes -----------------

BOX = re.compile(
    r"minimum width=([\d.]+)cm, minimum height=([\d.]+)cm\] \((\w+)\) at \((-?[\d.]+), (-?[\d.]+)\)"
)
DRAW = re.compile(r"\\draw\[->[^\]]*\] (.*);")
POINT_RE = re.compile(r"\((-?[\d.]+), (-?[\d.]+)\)")


def tikz_boxes(tikz: str) -> dict:
    """name -> (x0, y0, x1, y1), the boxes as the picture plans them."""
    boxes = {}
    for m in BOX.finditer(tikz):
        w, h, x, y = float(m[1]), float(m[2]), float(m[4]), float(m[5])
        boxes[m[3]] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return boxes


def tikz_edges(tikz: str) -> list:
    return [[tuple(map(float, p)) for p in POINT_RE.findall(m[1])] for m in DRAW.finditer(tikz)]


def crosses(segment, box, margin=0.02) -> bool:
    """Whether a segment meets a box's inside (shrunk by ``margin``): Liang-Barsky clipping."""
    (x0, y0), (x1, y1) = segment
    bx0, by0, bx1, by1 = box[0] + margin, box[1] + margin, box[2] - margin, box[3] - margin
    lo, hi = 0.0, 1.0
    for p, q in (
        (x0 - x1, x0 - bx0),
        (x1 - x0, bx1 - x0),
        (y0 - y1, y0 - by0),
        (y1 - y0, by1 - y0),
    ):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
    return lo < hi


def measured_boxes(tikz: str, tmp_path) -> dict:
    """The boxes pdflatex made (name -> corners in cm), read back from its log."""
    from oracles import compile_latex

    names = re.findall(r"\((n\d+|e\d+)\) at", tikz)
    probe = "".join(
        rf"\pgfpointanchor{{{n}}}{{south west}}\pgfgetlastxy\ax\ay"
        rf"\pgfpointanchor{{{n}}}{{north east}}\pgfgetlastxy\bx\by"
        rf"\typeout{{BOX {n} \ax\space\ay\space\bx\space\by}}" + "\n"
        for n in names
    )
    body = tikz.replace(r"\end{tikzpicture}", probe + r"\end{tikzpicture}")
    compile_latex(
        "\\documentclass{article}\n\\usepackage{amsmath, amssymb}\n\\usepackage{tikz}\n"
        f"\\begin{{document}}\n{body}\n\\end{{document}}\n",
        tmp_path,
    )
    log = (tmp_path / "doc.log").read_text(errors="replace")
    found = re.findall(r"BOX (\S+) (-?[\d.]+)pt (-?[\d.]+)pt (-?[\d.]+)pt (-?[\d.]+)pt", log)
    cm = 72.27 / 2.54  # TeX points per centimetre
    return {m[0]: tuple(float(v) / cm for v in m[1:]) for m in found}


def tikz_cases():
    neuron_graph = neuron([w1])
    shared = sg.Graph.from_expr(sp.sin(w * x) + sp.sin(w * x) ** 2 + sp.exp(w), wrt=[w])
    quotient = sg.Graph.from_expr(sp.log(w**2 + 1) / (x + 1) + sp.sqrt(w) * x, wrt=[w])
    Wm, xm = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("xv", 3, 1)
    matrix = sg.Graph.from_expr(sp.Trace((Wm * xm).T * (Wm * xm)), wrt=[Wm])
    at_matrix = {"W": np.ones((2, 3)), "xv": np.ones((3, 1))}
    return [
        (neuron_graph, NEURON_POINT),
        (neuron(), None),
        (shared, {"w": 0.8, "x": -1.3}),
        (quotient, None),
        (sg.gradient(LOSS, wrt=[w, b]).graph, POINT),
        (matrix, at_matrix),
    ]


class TestTikz:
    @pytest.mark.parametrize("k", range(6))
    def test_compiles_text_fits_and_edges_avoid_the_boxes(self, k, tmp_path):
        from symgraph.present.draw import to_tikz

        graph, point = tikz_cases()[k]
        values = values_at(graph.backward(), point) if point is not None else (None, None)
        tikz = to_tikz(graph, *values)
        planned = tikz_boxes(tikz)
        nodes = {n: box for n, box in planned.items() if n.startswith("n")}
        assert len(nodes) == graph.nx.number_of_nodes()
        edges = tikz_edges(tikz)
        assert len(edges) == graph.nx.number_of_edges()
        order = {node: f"n{i}" for i, node in enumerate(graph.topological_order())}
        for label, ((operand, result), points) in enumerate(
            zip(graph.nx.edges, edges, strict=True)
        ):
            ends = {order[operand], order[result], f"e{label}"}
            for segment in zip(points, points[1:], strict=False):
                for name, box in planned.items():
                    if name not in ends:
                        assert not crosses(segment, box), (operand, result, name, segment)
            # the edge leaves its operand's box at the bottom and enters its result's at the top
            sx0, sy, sx1, _ = nodes[order[operand]]
            assert sx0 <= points[0][0] <= sx1 and abs(points[0][1] - sy) < 0.02
            ex0, _, ex1, ey = nodes[order[result]]
            assert ex0 <= points[-1][0] <= ex1 and abs(points[-1][1] - ey) < 0.02
        # the boxes pdflatex made are the boxes planned: every text fits, no box grew
        for name, (x0, y0, x1, y1) in measured_boxes(tikz, tmp_path).items():
            px0, py0, px1, py1 = planned[name]
            assert abs((x1 - x0) - (px1 - px0)) < 0.05 and abs((y1 - y0) - (py1 - py0)) < 0.05, name

    def test_deltas_under_the_nodes_and_the_legend(self):
        from symgraph.present.draw import to_tikz

        graph = neuron([w1])
        forward, delta = values_at(graph.backward(), NEURON_POINT)
        tikz = to_tikz(graph, forward, delta)
        assert rf"$\delta_{{w_{{1}}}} = {float(delta[w1]):.4g}$" in tikz
        assert r"{\scriptsize input}\\{\scriptsize value $0.3$}}" in tikz  # y: no δ
        assert r"$\partial v_{2}/\partial w_{1} = x_{1} = 1$" in tikz
        assert "Legend" in tikz and r"edge $a \to b$: $\partial b/\partial a$" in tikz
        symbolic = to_tikz(graph)
        assert r"{\scriptsize $\delta_{v_{2}}$}" in symbolic  # its δ symbol, without a point
        assert "Legend" not in to_tikz(graph, legend=False)
