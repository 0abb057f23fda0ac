r"""A TikZ picture of a graph for a paper: laid out in Python, compiled by pdflatex alone.

Positions come from :func:`symgraph.present.layout.layered` (no ``graphdrawing``
library, which needs LuaLaTeX): every box has its size written out
(``minimum width``, ``minimum height``, the sizes the layout planned), and
every edge is a polyline through its own slots, so it runs around the other
boxes, its label ``∂b/∂a = …`` in a row of labels above its result.  Under
each node: its kind (leaves), its value and δ at a point, or its δ symbol.
A legend below explains the colours, the edge labels and δ.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> tikz = to_tikz(sg.Graph.from_expr(sp.sin(w * x), wrt=[w]))
>>> print(tikz.splitlines()[0])
\begin{tikzpicture}[>=stealth, every node/.style={font=\small, inner sep=2pt}]
>>> print(tikz.splitlines()[1].split("] ")[1])
(n0) at (0.85, -0.69) {$w$\\{\scriptsize weight}\\{\scriptsize $\delta_{w}$}};
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from ..core.graph import Graph
from ..numeric.edge_values import partial_values
from .draw_labels import edge_text, has_delta, kinds
from .latex import paper_text
from .layout import layered
from .numbers import format_number

FILL = {
    "weight": "orange!15",
    "input": "blue!8",
    "leaf": "gray!12",
    "operation": "white",
    "output": "green!12",
}
KIND_TEX = {
    "weight": r"weight: a leaf we differentiate by; its $\delta$ is $\partial L/\partial w$",
    "input": r"input: a leaf held fixed (no $\delta$)",
    "leaf": r"leaf: no weights were chosen, so every leaf is differentiated, with its $\delta$",
    "operation": r"operation: $v_N$ = its operation on its operands (the arrows into it)",
    "output": r"output: $L$, the function differentiated ($\delta_L = 1$)",
}
EDGE_TEX = r"edge $a \to b$: $\partial b/\partial a$, the local partial (the chain rule's factor)"
MATRIX_EDGE_TEX = r"matrix edge $a \to b$: $\delta_b \mapsto$ the share of $\delta_a$ it sends back"
VALUE_TEX = r"at the point: each node's value, and its $\delta$; each edge's partial's value"
DELTA_TEX = (
    r"$\delta_n = \partial L/\partial n = \sum_c \delta_c\,\partial c/\partial n$"
    r" over $n$'s out-edges"
)

# Estimated sizes (cm) of TeX's text: generous, so that the box TeX makes is the one planned.
CHAR_SMALL, CHAR_TINY, LINE_SMALL, LINE_TINY, PAD = 0.18, 0.14, 0.5, 0.36, 0.3


def to_tikz(
    graph: Graph,
    values: Mapping[Any, Any] | None = None,
    adjoints: Mapping[Any, Any] | None = None,
    legend: bool = True,
) -> str:
    r"""A TikZ picture of ``graph``: boxes, local partials on the edges, values and δs.

    Needs ``\usepackage{tikz}`` and, for SymPy's LaTeX in the node texts and
    edge labels, ``amsmath`` and ``amssymb``; pdflatex compiles it.

    Parameters
    ----------
    graph : Graph
    values : mapping, optional
        node -> forward value (``values_at(grad, point)[0]``): under each node,
        and each edge's partial at the point.
    adjoints : mapping, optional
        node -> δ at the point (``values_at(grad, point)[1]``); without it, each
        node that has a δ shows its symbol ``δ_v``.
    legend : bool
        Add the legend below the picture.

    Returns
    -------
    str
        One ``tikzpicture`` environment.
    """
    order = graph.topological_order()
    ident = {node: f"n{k}" for k, node in enumerate(order)}
    kind = kinds(graph)
    with_delta = has_delta(graph, kind)
    at_point = {} if values is None else partial_values(graph, values)
    texts, sizes = {}, {}
    for node in order:
        lines = _node_lines(graph, node, kind[node], values, adjoints, node in with_delta)
        texts[node] = r"\\".join(text for text, _ in lines)
        width = max(chars * (CHAR_SMALL if small else CHAR_TINY) for (_, (chars, small)) in lines)
        height = sum(LINE_SMALL if small else LINE_TINY for _, (_, small) in lines)
        sizes[node] = (round(width + PAD, 2), round(height + PAD / 2, 2))
    labels, label_sizes = {}, {}
    for edge in graph.nx.edges:
        labels[edge] = edge_text(graph, *edge, at_point.get(edge), latex=True)
        plain = edge_text(graph, *edge, at_point.get(edge))
        label_sizes[edge] = (round(len(plain) * CHAR_TINY + PAD, 2), round(LINE_TINY + 0.1, 2))
    plan = layered(graph, sizes, label_sizes)

    out = [r"\begin{tikzpicture}[>=stealth, every node/.style={font=\small, inner sep=2pt}]"]
    for node in order:
        (x, y), (w, h) = plan.centre[node], sizes[node]
        corners = "rounded corners=5pt, " if kind[node] in ("operation", "output") else ""
        out.append(
            rf"  \node[draw, rectangle, {corners}fill={FILL[kind[node]]}, align=center, "
            rf"minimum width={w}cm, minimum height={h}cm] ({ident[node]}) at {_at(x, y)} "
            rf"{{{texts[node]}}};"
        )
    for k, edge in enumerate(graph.nx.edges):
        points = " -- ".join(_at(*p) for p in plan.routes[edge])
        (lx, ly), (lw, lh) = plan.label[edge], label_sizes[edge]
        out.append(rf"  \draw[->, rounded corners=3pt] {points};")
        out.append(
            rf"  \node[fill=white, font=\scriptsize, inner sep=1pt, minimum width={lw}cm, "
            rf"minimum height={lh}cm] (e{k}) at {_at(lx, ly)} {{${labels[edge]}$}};"
        )
    if legend:
        out += _legend(graph, kind, values is not None, plan.height + 0.6)
    out.append(r"\end{tikzpicture}")
    return "\n".join(out)


def _at(x: float, y: float) -> str:
    """A TikZ coordinate in cm; the layout's y grows downward, TikZ's upward."""
    return f"({x:.2f}, {-y:.2f})"


def _node_lines(graph, node, kind, values, adjoints, delta) -> list:
    """(LaTeX, (characters, small type)) for each line of a node's box."""
    data = graph.nx.nodes[node]
    name = sp.latex(node)
    if data["op"] is None:
        lines = [(f"${name}$", (len(str(node)), True))]
    else:
        plain = f"{node} = {paper_text(data['op'])}"
        lines = [(f"${name} = {sp.latex(data['op'])}$", (len(plain), True))]
    if data["op"] is None:
        lines.append((rf"{{\scriptsize {kind}}}", (len(kind), False)))
    if data.get("shape"):
        shape = r" \times ".join(sp.latex(d) for d in data["shape"])
        lines.append((rf"{{\scriptsize ${shape}$}}", (len(str(data["shape"])), False)))
    numbers, chars = [], 0
    if values is not None and node in values:
        text = _tex_number(values[node])
        numbers.append(f"value ${text}$")
        chars += 7 + len(text)
    if delta:
        symbol = rf"\delta_{{{name}}}"
        if adjoints is not None and node in adjoints:
            text = _tex_number(adjoints[node])
            numbers.append(f"${symbol} = {text}$")
            chars += 6 + len(str(node)) + len(text)
        elif adjoints is None:
            numbers.append(f"${symbol}$")
            chars += 3 + len(str(node))
    if numbers:
        lines.append((rf"{{\scriptsize {', '.join(numbers)}}}", (chars, False)))
    return lines


def _tex_number(value: Any) -> str:
    """A value as LaTeX math: 4 digits, a small array in full, a larger one by shape and norm."""
    array = np.asarray(value) if not isinstance(value, sp.Basic) else None
    if array is not None and array.size > 4:
        rows, cols = (array.shape + (1,))[:2] if array.ndim < 2 else array.shape[-2:]
        return rf"{rows} \times {cols},\ \|\cdot\|\ {np.linalg.norm(array):.4g}"
    if array is not None and array.size > 1:
        return np.array2string(array, precision=3, separator=", ").replace("\n", "")
    try:
        number = complex(value) if array is None else array.reshape(()).item()
    except (TypeError, ValueError):
        return sp.latex(value)
    if isinstance(number, complex) and number.imag == 0:
        number = number.real
    text = format_number(number) if isinstance(number, complex) else f"{float(number):.4g}"
    return {"nan": r"\mathrm{NaN}", "inf": r"\infty", "-inf": r"-\infty"}.get(text, text)


def _legend(graph, kind, values: bool, top: float) -> list:
    """The legend's rows under the picture: a swatch per kind present, then the words."""
    present = set(kind.values())
    rows: list = [(k, KIND_TEX[k]) for k in KIND_TEX if k in present]
    rows.append((None, EDGE_TEX))
    if any(d.get("partial") is None for _, _, d in graph.nx.edges(data=True)):
        rows.append((None, MATRIX_EDGE_TEX))
    if values:
        rows.append((None, VALUE_TEX))
    rows.append((None, DELTA_TEX))
    out = [rf"  \node[anchor=west, font=\small\bfseries] at {_at(0, top)} {{Legend}};"]
    for k, (what, words) in enumerate(rows, 1):
        y = top + 0.45 * k
        if what is not None:
            out.append(
                rf"  \node[draw, fill={FILL[what]}, minimum size=0.25cm, inner sep=0pt] "
                rf"at {_at(0.15, y)} {{}};"
            )
        out.append(rf"  \node[anchor=west, font=\scriptsize] at {_at(0.4, y)} {{{words}}};")
    return out


__all__ = ["to_tikz"]
