"""Drawings of a graph: Graphviz DOT source always, SVG/PNG through the ``dot`` program.

Nodes show their name and operation; with a Gradient, each node also shows
its forward value and adjoint at a point, and each edge its local partial.
Ranks follow the topological generations (leaves on top, the output below).

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> print(to_dot(sg.Graph.from_expr(sp.sin(w * x), wrt=[w])))  # doctest: +ELLIPSIS
digraph symgraph {
  rankdir=TB;
  node [fontname="Helvetica", fontsize=11];
  edge [fontname="Helvetica", fontsize=9];
  "w" [label="w\\nweight", shape=box, style=filled, fillcolor="#fde2b8"];
...
}
"""

from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sympy as sp

from ..core.collector import paused_collector
from ..core.graph import Graph
from ..errors import SymgraphError
from ..numeric.edge_values import partial_values
from .draw_labels import edge_text, has_delta, kinds, legend_lines
from .draw_tikz import to_tikz
from .latex import paper_text
from .numbers import format_value

FILL = {
    "weight": "#fde2b8",
    "input": "#d7e8fb",
    "leaf": "#e6e6e6",
    "operation": "#ffffff",
    "output": "#d5f0d5",
    "intermediate": "#ffffff",  # a role: the matplotlib drawing colours by role
}
FORMATS = ("svg", "png", "pdf")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@paused_collector
def to_dot(
    graph: Graph,
    values: Mapping[Any, Any] | None = None,
    adjoints: Mapping[Any, Any] | None = None,
    highlight: sp.Symbol | None = None,
    legend: bool = True,
) -> str:
    """Graphviz DOT source for ``graph``.

    Leaves are labelled weight or input (or leaf, when every leaf is a weight:
    :func:`~symgraph.present.draw_labels.kinds`); an edge ``a → b`` is
    labelled ``∂b/∂a = partial`` (``= value`` at a point); a legend explains
    the kinds, the edge labels and δ.

    Parameters
    ----------
    graph : Graph
    values : mapping, optional
        node -> forward value, written under each node.
    adjoints : mapping, optional
        node -> adjoint value δ, written under each node that has one (a
        weight or an operation on a path from a weight; never an input).
    highlight : Symbol, optional
        A weight whose paths to the output are drawn in red.
    legend : bool
        Add the legend (a box beside the output).

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> dot = to_dot(sg.Graph.from_expr(sp.sin(w * x), wrt=[w]))
    >>> for line in dot.splitlines():
    ...     if "->" in line and "invis" not in line: print(line)
      "w" -> "v1" [label="∂v1/∂w = x"];
      "x" -> "v1" [label="∂v1/∂x = w"];
      "v1" -> "L" [label="∂L/∂v1 = cos(v1)"];
    """
    on_path = graph.nodes_between([highlight]) if highlight is not None else set()
    kind = kinds(graph)
    with_delta = has_delta(graph, kind)
    lines = [
        "digraph symgraph {",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.topological_order():
        data = graph.nx.nodes[node]
        label = [str(node) if data["op"] is None else f"{node} = {paper_text(data['op'])}"]
        if data["op"] is None:
            label.append(kind[node])
        if data.get("shape"):
            label.append("×".join(map(str, data["shape"])))
        if values is not None and node in values:
            label.append(f"value {format_value(values[node])}")
        if adjoints is not None and node in adjoints and node in with_delta:
            label.append(f"δ {format_value(adjoints[node])}")
        shape = "box" if data["op"] is None else "ellipse"
        color = ', color="#c0392b", penwidth=2' if node in on_path else ""
        lines.append(
            f"  {_quote(str(node))} [label={_quote(chr(10).join(label))}, shape={shape}, "
            f'style=filled, fillcolor="{FILL[kind[node]]}"{color}];'
        )
    for generation in graph.generations():
        names = " ".join(_quote(str(n)) for n in generation)
        lines.append(f"  {{ rank=same; {names} }}")
    at_point = {} if values is None else partial_values(graph, values)  # compiled conventions
    for operand, result in graph.nx.edges:
        text = edge_text(graph, operand, result, at_point.get((operand, result)))
        color = ', color="#c0392b", penwidth=2' if {operand, result} <= on_path else ""
        lines.append(
            f"  {_quote(str(operand))} -> {_quote(str(result))} [label={_quote(text)}{color}];"
        )
    if legend:
        matrix_edges = any(d.get("partial") is None for _, _, d in graph.nx.edges(data=True))
        rows = legend_lines(kind, values is not None, matrix_edges, highlight)
        lines.append(f"  {_LEGEND} [shape=plain, label=<{_legend_table(rows)}>];")
        lines.append(f"  {{ rank=sink; {_LEGEND} }}")
        lines.append(f"  {_quote(str(graph.output))} -> {_LEGEND} [style=invis];")
    lines.append("}")
    return "\n".join(lines)


_LEGEND = '"symgraph legend"'  # a name no symbol has (symbols have no space)


def _legend_table(rows: list) -> str:
    """The legend as a Graphviz HTML-like table: a colour swatch per kind, then the words."""
    cells = ['<tr><td colspan="2"><b>legend</b></td></tr>']
    for what, words in rows:
        swatch = f' bgcolor="{FILL[what]}" border="1"' if what is not None else ""
        text = html.escape(words, quote=False)
        cells.append(f'<tr><td width="14"{swatch}> </td><td align="left">{text}</td></tr>')
    return (
        '<table border="1" cellborder="0" cellspacing="2" cellpadding="3" color="#999999">'
        + "".join(cells)
        + "</table>"
    )


def draw_matplotlib(graph: Graph, path: str | Path | None = None, ax=None):
    """Draw ``graph`` with matplotlib through networkx: the fallback without Graphviz.

    Nodes are placed by topological generation (leaves on top), labelled with
    name and operation; edges with their local partials.  Returns the axes;
    with ``path``, also saves the figure (PNG, SVG or PDF by suffix).

    Raises
    ------
    SymgraphError
        When matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise SymgraphError("matplotlib is not installed (pip install matplotlib)") from err
    import networkx as nx

    generations = graph.generations()
    position = {}
    for row, generation in enumerate(generations):
        offset = (len(generation) - 1) / 2
        for column, node in enumerate(generation):
            position[node] = (column - offset, -row)
    if ax is None:
        width = max(len(g) for g in generations)
        _, ax = plt.subplots(figsize=(2.2 * width + 2, 1.3 * len(generations) + 1))
    labels = {
        n: str(n) if d["op"] is None else f"{n} = {d['op']}" for n, d in graph.nx.nodes(data=True)
    }
    colors = [FILL[d["role"]] for _, d in graph.nx.nodes(data=True)]
    nx.draw_networkx_nodes(graph.nx, position, ax=ax, node_color=colors, edgecolors="#555555")
    nx.draw_networkx_labels(graph.nx, position, labels, ax=ax, font_size=8)
    nx.draw_networkx_edges(graph.nx, position, ax=ax, arrows=True)
    edge_labels = {
        (u, v): "?" if d["partial"] is None else str(d["partial"])
        for u, v, d in graph.nx.edges(data=True)
    }
    nx.draw_networkx_edge_labels(graph.nx, position, edge_labels, ax=ax, font_size=7)
    ax.set_axis_off()
    if path is not None:
        ax.figure.savefig(path, bbox_inches="tight")
        plt.close(ax.figure)
    return ax


#: Graphviz lays out about this many nodes in seconds; more can take minutes.
MAX_RENDERED_NODES = 1500
#: How long ``dot`` may run before the drawing is given up.
RENDER_SECONDS = 60


def render(dot_source: str, path: str | Path, format: str | None = None) -> Path:
    """Write DOT source to ``path`` as SVG, PNG or PDF through Graphviz's ``dot``.

    Raises
    ------
    SymgraphError
        When the ``dot`` program is not installed (the DOT source still works:
        see :func:`to_dot`), or the format is unknown.
    """
    path = Path(path)
    format = format or path.suffix.lstrip(".") or "svg"
    if format not in FORMATS:
        raise SymgraphError(
            f"unknown drawing format {format!r}; choose one of {', '.join(FORMATS)}"
        )
    dot = shutil.which("dot")
    if dot is None:
        raise SymgraphError(
            "Graphviz's dot program is not installed (apt-get install graphviz); "
            "to_dot() gives the DOT source without it"
        )
    try:
        result = subprocess.run(
            [dot, f"-T{format}", "-o", str(path)],
            input=dot_source,
            text=True,
            capture_output=True,
            timeout=RENDER_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise SymgraphError(
            f"Graphviz's dot took over {RENDER_SECONDS} s to lay the graph out; "
            "write the DOT source instead (a .dot file) or draw a coarser graph"
        ) from None
    except OSError as err:
        raise SymgraphError(f"cannot run Graphviz's dot: {err.strerror or err}") from None
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[0]
        raise SymgraphError(f"dot failed: {reason[:200]}")
    return path


__all__ = ["draw_matplotlib", "render", "to_dot", "to_tikz"]
