"""What a drawing writes on a node and an edge, and its legend: shared by DOT and TikZ.

A leaf is a *weight* when the graph differentiates by it and the others are
*inputs*, held fixed, with no δ.  A graph whose every leaf is a weight (built
with ``wrt=None``, as ``symgraph draw`` without ``--wrt``, like ``symgraph
grad``) has not told weights from inputs: its leaves are drawn as *leaf*,
each with its δ, and the legend says so.  An edge ``a → b`` carries the local
partial ``∂b/∂a``, written as such (``∂v2/∂w = x = 0.5``), never as an
assignment.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
>>> [kinds(g)[n] for n in g.topological_order()]
['weight', 'input', 'operation', 'output']
>>> edge_text(g, w, g.topological_order()[2], 1.5)
'∂v1/∂w = x = 1.5'
>>> [kinds(sg.Graph.from_expr(sp.sin(w * x)))[s] for s in (w, x)]
['leaf', 'leaf']
"""

from __future__ import annotations

from typing import Any

import sympy as sp

from ..core.graph import Graph
from .latex import paper_text
from .numbers import format_value

#: The legend's words for each kind of node.
KIND_TEXT = {
    "weight": "weight: a leaf we differentiate by; its δ is ∂L/∂w",
    "input": "input: a leaf held fixed (no δ)",
    "leaf": "leaf: no weights were chosen (no --wrt), so every leaf is differentiated, with its δ",
    "operation": "operation: vN = its operation on its operands (the arrows into it)",
    "output": "output: L, the function differentiated (δ_L = 1)",
}
EDGE_TEXT = "edge a → b: ∂b/∂a, the local partial (the chain rule's factor)"
MATRIX_EDGE_TEXT = "matrix edge a → b: δ_b ↦ the share of δ_a it sends back"
VALUE_TEXT = "value: the node's value at the point; edges show their partial's value"
DELTA_TEXT = "δ_n = ∂L/∂n, summed over n's out-edges: δ_n = Σ δ_c·∂c/∂n"
HIGHLIGHT_TEXT = "red: every path from {weight} to the output"


def kinds(graph: Graph) -> dict[sp.Basic, str]:
    """Each node's kind: weight, input or leaf (see the module), operation, output."""
    leaves = graph.leaves
    undecided = bool(leaves) and all(graph.nx.nodes[n]["role"] == "weight" for n in leaves)
    out = {}
    for node, data in graph.nx.nodes(data=True):
        if data["op"] is None:
            out[node] = "leaf" if undecided else data["role"]
        else:
            out[node] = "output" if node == graph.output else "operation"
    return out


def has_delta(graph: Graph, kind: dict) -> set:
    """The nodes backpropagation gives a δ: those on a path from a weight, inputs aside."""
    return {n for n in graph.nodes_between(list(graph.wrt)) if kind[n] != "input"}


def edge_text(graph: Graph, operand, result, value: Any = None, latex: bool = False) -> str:
    """``∂result/∂operand = partial`` (``= value`` at a point), or a matrix edge's share.

    Plain text, or with ``latex`` the LaTeX math (without ``$``) of the same words.
    """
    data = graph.nx.edges[operand, result]
    factor = data.get("partial")
    show = sp.latex if latex else paper_text
    name = sp.latex if latex else str
    d = r"\partial " if latex else "∂"
    if factor is None and data.get("vjp") is not None:  # a matrix edge: its share
        arrow = r" \mapsto " if latex else " ↦ "
        delta = rf"\delta_{{{name(result)}}}" if latex else f"δ_{result}"
        return delta + arrow + show(data["vjp"])
    rule = show(factor) if factor is not None else (r"\text{no rule}" if latex else "no rule")
    text = f"{d}{name(result)}/{d}{name(operand)} = {rule}"
    if value is not None and factor is not None and not factor.is_Number:
        text += f" = {format_value(value)}"
    return text


def legend_lines(kind: dict, values: bool, matrix_edges: bool, highlight=None) -> list:
    """(kind or None, words) for the legend: the kinds present, then edges, values, δ."""
    present = set(kind.values())
    lines: list = [(k, KIND_TEXT[k]) for k in KIND_TEXT if k in present]
    lines.append((None, EDGE_TEXT))
    if matrix_edges:
        lines.append((None, MATRIX_EDGE_TEXT))
    if values:
        lines.append((None, VALUE_TEXT))
    lines.append((None, DELTA_TEXT))
    if highlight is not None:
        lines.append((None, HIGHLIGHT_TEXT.format(weight=highlight)))
    return lines


__all__ = ["edge_text", "has_delta", "kinds", "legend_lines"]
