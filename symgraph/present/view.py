"""One self-contained, offline, interactive page of a gradient: ``sg.view(grad, "page.html")``.

The page draws the graph (a layered layout computed here: leaves on top, one
row per topological generation, no Graphviz needed), shows a node's
operation, value, δ and chain-rule step when it is clicked, steps through the
backward pass node by node, and, for scalar graphs, recomputes every number
in the browser when a leaf's value is edited (:mod:`symgraph.present.view_js`).
Everything is in the one file: the data as JSON, the program, the styles and
the script; the page makes no network request.

The numbers are those of a walkthrough (:func:`symgraph.numeric.compile.values_at`,
the compiled gradient's lines and conventions); the δ-equations are the
walkthrough's (:class:`~symgraph.present.explain.DeltaLine`, written by its
text renderer).  Names are data, never markup: JSON-encoded with ``<``, ``>``
and ``&`` escaped, and written into the page as text nodes.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b = sp.symbols("w x b", real=True)
>>> page = view(sg.gradient(sp.tanh(w * x + b), wrt=[w, b]), at={"w": 1.0, "x": 0.5, "b": 0.1})
>>> page
<View of ∂L/∂w, ∂L/∂b: 6 nodes, recomputed in the page>
>>> page.html.startswith("<!DOCTYPE html>"), "http://" in page.html
(True, False)
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import sympy as sp

from ..ad.backward import backward
from ..core.gradient import Gradient
from ..core.graph import Graph
from ..core.sizes import shape_text, tree_shape
from ..errors import SymgraphError
from ..numeric.compile import partials_at, values_at
from ..numeric.edge_values import as_number, partial_values
from .explain import DeltaLine, _term  # the walkthrough's δ-lines, built the same way
from .explain_render import ShapedTextRenderer, TextRenderer
from .latex import paper_text
from .numbers import format_value
from .view_js import js_program
from .view_page import render_page

__all__ = ["View", "view"]

#: The value every scalar leaf has when no point is given.
DEFAULT_VALUE = 0.5
#: A node's full expression is shown when it has at most this many terms.
EXPR_MAX_TERMS = 80
#: Labels on the drawing are cut to this many characters (the panel shows them whole).
LABEL_CHARS = 34


class View:
    """The interactive page of a gradient: its HTML, written to a file or shown in a notebook.

    Attributes
    ----------
    html : str
        The whole page, one self-contained HTML file.
    data : dict
        What the page shows, as embedded (JSON-compatible).
    """

    def __init__(self, html_text: str, data: dict):
        self.html = html_text
        self.data = data

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8); returns the path.

        Raises
        ------
        SymgraphError
            When the file cannot be written.
        """
        path = Path(path)
        try:
            path.write_text(self.html, encoding="utf-8")
        except OSError as err:
            raise SymgraphError(f"cannot write {path}: {err.strerror or err}") from None
        return path

    def _repr_html_(self) -> str:
        """The page in a notebook: an iframe holding it (its scripts run inside)."""
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            'style="width:100%;height:640px;border:1px solid #ccc" '
            'title="symgraph view"></iframe>'
        )

    def __repr__(self) -> str:
        how = "recomputed in the page" if self.data["editable"] else "numbers from Python"
        return f"<View of {self.data['title']}: {len(self.data['nodes'])} nodes, {how}>"


def view(
    grad: Gradient | Graph,
    path: str | Path | None = None,
    at: Mapping[Any, Any] | None = None,
) -> View:
    """The interactive page of ``grad``; with ``path``, also written there.

    Parameters
    ----------
    grad : Gradient or Graph
        A graph is backpropagated first (``graph.backward()``).
    path : str or Path, optional
        Where to write the page (``page.html``).
    at : mapping, optional
        The point, keyed by symbol or name (arrays for matrices).  Without it a
        scalar graph starts with every leaf at 0.5 (editable in the page) and a
        matrix graph shows its structure and formulas only.

    Returns
    -------
    View
        ``view.html`` is the page; in a notebook it displays itself.

    Raises
    ------
    EvaluationError
        When ``at`` misses a value or names an unknown symbol.
    SymgraphError
        When the file cannot be written.

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> page = view(sg.gradient(sp.sin(w * x), wrt=[w]))
    >>> [n["name"] for n in page.data["nodes"]], page.data["point"]
    (['w', 'x', 'v1', 'L'], {'w': 0.5, 'x': 0.5})
    """
    if isinstance(grad, Graph):
        grad = backward(grad)
    data = page_data(grad, at)
    program = _program_text(grad, data)  # first: it says whether the page recomputes
    page = View(render_page(data, _script_json(data), program), data)
    if path is not None:
        page.save(path)
    return page


def page_data(grad: Gradient, at: Mapping[Any, Any] | None = None) -> dict:
    """Everything the page shows, JSON-compatible: nodes, edges, δ-lines, numbers, layout."""
    graph = grad.graph
    matrices = graph.has_matrices
    order = graph.topological_order()
    index = {node: k for k, node in enumerate(order)}
    leaves = graph.leaves
    note = None
    if at is None and not matrices:
        at = {leaf.name: DEFAULT_VALUE for leaf in leaves}
        note = f"No point was given: every leaf starts at {DEFAULT_VALUE:g}."
    forward: dict = {}
    delta: dict = {}
    edge_value: dict = {}
    compiled: list = []
    if at is not None:
        forward, delta = values_at(grad, dict(at))
        if not matrices:
            edge_value = partial_values(graph, forward)
        point = {str(getattr(k, "name", k)): v for k, v in at.items()}
        compiled = [_number(p, matrices) for p in partials_at(grad, point)]
    elif matrices:
        note = "No point was given (--at): the structure and formulas only."

    nodes = []
    for node in order:
        data = graph.nx.nodes[node]
        op = data["op"]
        label = node.name if op is None else f"{node.name} = {paper_text(op)}"
        entry = {
            "name": node.name,
            "role": data["role"],
            "shape": shape_text(data["shape"]) if data.get("shape") else "",
            "label": label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…",
            "op": None if op is None else paper_text(op),
            "expr": _expr_text(data["expr"]) if op is not None else None,
            "value": _number(forward[node], matrices) if node in forward else None,
            "delta": _number(delta[node], matrices) if node in delta else None,
            "equation": None,
            "terms": [],
        }
        numbers = 22 if not matrices else _chars(entry["value"]) + _chars(entry["delta"]) + 6
        entry["w"] = box_width(entry["label"], numbers)
        nodes.append(entry)

    edges = []
    edge_index = {}
    for e, (operand, result) in enumerate(graph.nx.edges):
        edge = graph.nx.edges[operand, result]
        partial = edge.get("partial")
        text = "no rule" if partial is None else paper_text(partial)
        if partial is None and edge.get("vjp") is not None:  # a matrix edge: its share
            text = f"δ_{result.name} ↦ {paper_text(edge['vjp'])}"
        value = edge_value.get((operand, result))
        edges.append(
            {
                "from": index[operand],
                "to": index[result],
                "partial": text,
                "value": None if value is None else _number(value, False),
            }
        )
        edge_index[operand, result] = e

    keep = graph.nodes_between(list(grad.wrt))
    backward_order = []
    by_name = {node.name: node for node in order}
    for lhs, rhs in grad.equations:  # reverse topological order: the backward pass's own
        node = by_name[lhs.node_name]
        children = [c for c in graph.nx.successors(node) if c in keep]
        terms = tuple(_term(graph, node, child, {}) for child in children)
        line = DeltaLine(node, graph.nx.nodes[node].get("shape", ()), rhs, terms)
        entry = nodes[index[node]]
        entry["equation"] = _delta_text(grad, line, matrices)
        entry["terms"] = [[index[c], edge_index[node, c]] for c in children]
        backward_order.append(index[node])

    positions, width, height = layered_layout(graph, index, [n["w"] for n in nodes])
    for entry, (x, y) in zip(nodes, positions, strict=True):
        entry["x"], entry["y"] = x, y
    weights = [index[w] for w in grad.wrt if w in index]
    return {
        "title": ", ".join(f"∂{grad.output.name}/∂{w.name}" for w in grad.wrt),
        "output": index[grad.output],
        "nodes": nodes,
        "edges": edges,
        "backward": backward_order,
        "weights": weights,
        "compiled": compiled,
        "leaves": [index[leaf] for leaf in leaves],
        "point": None if at is None else {k: _number(v, matrices) for k, v in _named(at).items()},
        "matrices": matrices,
        "editable": False,  # set by the program below
        "note": note,
        "width": width,
        "height": height,
    }


def _named(at: Mapping[Any, Any]) -> dict:
    return {str(getattr(k, "name", k)): v for k, v in at.items()}


def _program_text(grad: Gradient, data: dict) -> str:
    """The page's JavaScript program, or ``const symgraphCompute = null;`` and a note why."""
    program = js_program(grad)
    if isinstance(program, str):
        data["why_not_editable"] = program
        return "const symgraphCompute = null;"
    data["editable"] = True
    data["leaves"] = program.leaves
    return program.source


def _delta_text(grad: Gradient, line: DeltaLine, matrices: bool) -> str:
    """The walkthrough's text of one δ-equation (without its number: the page adds it)."""
    walk = SimpleNamespace(weight=line.node if line.node in grad.wrt else None, output=grad.output)
    renderer = ShapedTextRenderer() if matrices else TextRenderer()
    renderer.delta_line(walk, line, None)
    return "\n".join(text.strip() for text in renderer.finish().splitlines() if text.strip())


def _expr_text(expr: sp.Basic) -> str | None:
    """The node's whole expression in the leaves, when it is small enough to read."""
    size, _ = tree_shape(expr, EXPR_MAX_TERMS)
    return paper_text(expr) if size <= EXPR_MAX_TERMS else None


def _number(value: Any, matrices: bool) -> Any:
    """A JSON number, or text: ``"NaN"``, ``"inf"``, ``"-inf"``, a complex or an array."""
    array = np.asarray(value)
    if array.size != 1 or (matrices and array.ndim > 0 and array.size > 1):
        return {"text": format_value(array), "full": _array_text(array)}
    number = as_number(value)
    if isinstance(number, complex):
        return str(number)
    if number != number:
        return "NaN"
    if number in (float("inf"), float("-inf")):
        return "inf" if number > 0 else "-inf"
    return number


def _array_text(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array, dtype=float), precision=6, threshold=64)


def box_width(label: str, numbers: int = 0) -> float:
    """A node's box on the drawing: as wide as its label and its line of numbers."""
    return max(50.0, 6.6 * max(len(label), numbers) + 16.0)


def _chars(number: Any) -> int:
    """How long a number of :func:`_number` is written on the drawing."""
    if number is None:
        return 0
    return len(number["text"]) if isinstance(number, dict) else 12


def layered_layout(graph: Graph, index: dict, widths: list[float]) -> tuple[list, float, float]:
    """(x, y) centres by topological generation, leaves on top; rows ordered by barycentre.

    Each row is sorted by the mean position of its nodes' operands in the rows
    above (one pass down, linear in the edges), which keeps most edges short
    and uncrossed; ``widths`` are the boxes' widths, by node index.

    >>> import sympy as sp
    >>> g = Graph.from_expr(sp.Symbol("w") * sp.Symbol("x"))
    >>> order = g.topological_order()
    >>> layered_layout(g, {n: k for k, n in enumerate(order)}, [50.0, 50.0, 50.0])
    ([(45.0, 40.0), (109.0, 40.0), (77.0, 130.0)], 154.0, 170.0)
    """
    gap, row_height, margin = 14.0, 90.0, 20.0
    rows, centre = [], {}
    widest = 0.0
    for generation in graph.generations():
        keyed = []
        for position, node in enumerate(generation):
            above = [centre[p] for p in graph.nx.predecessors(node) if p in centre]
            keyed.append((sum(above) / len(above) if above else position, position, node))
        keyed.sort(key=lambda item: item[:2])
        x, row = 0.0, []
        for _, _, node in keyed:
            w = widths[index[node]]
            row.append((node, x + w / 2))
            x += w + gap
        span = x - gap
        widest = max(widest, span)
        for node, middle in row:  # centred on 0, so rows above and below line up
            centre[node] = middle - span / 2
        rows.append(row)
    positions: list = [None] * len(widths)
    for r, row in enumerate(rows):
        for node, _ in row:
            positions[index[node]] = (
                centre[node] + margin + widest / 2,
                margin + 20.0 + r * row_height,
            )
    return positions, widest + 2 * margin, (len(rows) - 1) * row_height + 2 * (margin + 20.0)


_UNSAFE = re.compile("[<>&\u2028\u2029]")


def _script_json(data: dict) -> str:
    """``data`` as JSON that cannot end its ``<script>`` element: ``<``, ``>``, ``&`` escaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
