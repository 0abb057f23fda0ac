r"""Backpropagation through matrix nodes, step by step, with every shape written out.

In a graph of matrix nodes each edge carries a vector-Jacobian product, not a
number to multiply along a path, so the walkthrough of a weight's derivative
is the δ-form: one line per node between the weight and the output, in the
order backpropagation computes them, each δ with its node's shape, each term
with the node it comes back from and, for a product, the shapes that meet
(``n×1 · 1×h → n×h``): the step where students most often lose their way.
At a point it adds every value (small arrays in full, larger ones by shape
and norm) and checks the weight's δ against the compiled gradient.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
>>> Z, A, L = sp.MatrixSymbol("Z", 2, 1), sp.MatrixSymbol("A", 2, 1), sp.Symbol("L")
>>> steps = [(Z, W*x), (A, Z.applyfunc(sp.tanh)), (L, sp.Trace((A - y).T*(A - y)))]
>>> grad = sg.Graph.from_assignments(steps, wrt=[W], granularity="named").backward()
>>> print(explain_matrices(grad, W).text())
dL/dW by backpropagation through matrix nodes
<BLANKLINE>
forward:
  Z  2×1 = W*x
  A  2×1 = tanh(Z)
  L  ()  = Trace((Aᵀ - yᵀ)*(A - y))
<BLANKLINE>
backward (each δ has its node's shape; a node sums what its results send back):
  δ_L  ()  = 1
  δ_A  2×1 = (2*δ_L)*(A - y)    from L
  δ_Z  2×1 = (1 - A**2) ⊙ δ_A    from A
  δ_W  2×3 = δ_Z*xᵀ    from Z   [2×1 · 1×3 → 2×3]
dL/dW = δ_W
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from ..core.adjoint import adjoint_of
from ..core.gradient import Gradient
from ..core.sizes import shape_text
from ..numeric.compile import compile_gradient, values_at
from .latex import latex_of, paper_text, pass_throughs


def format_value(value: Any) -> str:
    """A number to 4 digits; a small array in full, a larger one by its shape and norm.

    >>> format_value(0.123456), format_value(np.ones((3, 4)))
    ('0.1235', '3×4, ‖·‖ 3.464')
    """
    array = np.asarray(value) if not isinstance(value, sp.Basic) else None
    if array is not None and array.size > 1:
        if array.size <= 4:
            return np.array2string(array, precision=3, separator=", ").replace("\n", "")
        rows, cols = (array.shape + (1,))[:2] if array.ndim < 2 else array.shape[-2:]
        return f"{rows}×{cols}, ‖·‖ {np.linalg.norm(array):.4g}"
    if array is not None and array.size == 1:
        value = array.reshape(())  # a 1×1 matrix reads as its number
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class Term:
    """One child's share of a node's δ."""

    source: sp.Basic  # the node the share comes back from
    share: sp.Basic  # in that node's δ
    shapes: tuple  # for a product: the factors' shapes, then the result's


@dataclass(frozen=True)
class MatrixStep:
    """One δ of the walkthrough: δ_node = Σ terms (the rhs backpropagation computed)."""

    node: sp.Basic
    shape: tuple
    rhs: sp.Basic
    terms: tuple[Term, ...]
    value: Any = None


class MatrixWalkthrough:
    """The δ-form of one weight's derivative through matrix nodes; see the module.

    Attributes
    ----------
    grad : Gradient
    weight : MatrixSymbol or Symbol
    forward : tuple of (node, op, shape, value)
        The nodes on the weight's paths, in topological order.
    steps : tuple of MatrixStep
        Output first, ending at the weight.
    compiled_value : array or None
        At a point: the compiled gradient's ∂L/∂weight.
    """

    def __init__(self, grad, weight, forward, steps, point, compiled_value):
        self.grad = grad
        self.weight = weight
        self.forward = tuple(forward)
        self.steps = tuple(steps)
        self.point = point
        self.compiled_value = compiled_value

    @property
    def agrees(self) -> bool | None:
        """At a point: whether δ of the weight equals the compiled gradient."""
        if self.point is None:
            return None
        return bool(np.allclose(self.steps[-1].value, self.compiled_value, rtol=1e-9))

    def text(self) -> str:
        out = self.grad.output
        sizes = "" if not self.point else f", at {_point_text(self.point)}"
        lines = [f"d{out}/d{self.weight} by backpropagation through matrix nodes{sizes}", ""]
        lines.append("forward:")
        width = max(len(str(n)) for n, *_ in self.forward)
        shape_width = max(len(shape_text(s)) for *_, s, _ in self.forward)
        for node, op, shape, value in self.forward:
            tail = "" if value is None else f" = {format_value(value)}"
            lines.append(
                f"  {str(node):<{width}}  {shape_text(shape):<{shape_width}} = {paper_text(op)}"
                + tail
            )
        lines += [
            "",
            "backward (each δ has its node's shape; a node sums what its results send back):",
        ]
        width = max(len(f"δ_{s.node}") for s in self.steps)
        shape_width = max(len(shape_text(s.shape)) for s in self.steps)
        for step in self.steps:
            head = f"  {f'δ_{step.node}':<{width}}  {shape_text(step.shape):<{shape_width}}"
            line = f"{head} = {paper_text(step.rhs)}"
            if step.value is not None and not step.rhs.is_Number:
                line += f" = {format_value(step.value)}"
            sources = ", ".join(str(t.source) for t in step.terms)
            if sources:
                line += f"    from {sources}"
            products = [t.shapes for t in step.terms if t.shapes]
            if products:
                line += "   " + " ".join(_product_text(p) for p in products)
            lines.append(line)
        last = f"d{out}/d{self.weight} = δ_{self.weight}"
        if self.point is not None:
            verdict = "agrees" if self.agrees else "DISAGREES"
            last += f" (compiled gradient: {format_value(self.compiled_value)}, {verdict})"
        lines.append(last)
        return "\n".join(lines)

    def markdown(self) -> str:
        return "```\n" + self.text() + "\n```"

    def latex(self) -> str:
        rows = [
            rf"\delta_{{{latex_of(s.node)}}} &= {latex_of(s.rhs)}"
            + (rf" && \in \mathbb{{R}}^{{{_shape_latex(s.shape)}}}" if s.shape else "")
            for s in self.steps
        ]
        return "\\begin{align}\n" + " \\\\\n".join(rows) + "\n\\end{align}"

    def __str__(self) -> str:
        return self.text()


def _shape_latex(shape: tuple) -> str:
    return r" \times ".join(latex_of(_sympify(d)) for d in shape)


def _product_text(shapes: tuple) -> str:
    *factors, result = shapes
    return "[" + " · ".join(shape_text(s) for s in factors) + f" → {shape_text(result)}]"


def _point_text(point: Mapping) -> str:
    return ", ".join(f"{k} {shape_text(np.shape(v))}" for k, v in sorted(point.items()))


def explain_matrices(
    grad: Gradient, weight: sp.Basic | str, at: Mapping[Any, Any] | None = None
) -> MatrixWalkthrough:
    """The δ-form of ∂L/∂weight through a graph of matrix nodes, shapes written out.

    Parameters
    ----------
    grad : Gradient
        Of a graph with matrix nodes (``sg.gradient`` of a ``MatrixSymbol`` expression).
    weight : MatrixSymbol, Symbol or str
    at : mapping, optional
        Arrays for every input and weight (by symbol or name): adds every value
        and checks δ of the weight against ``grad.lambdify()``.

    Raises
    ------
    GraphError
        When ``weight`` is not one of ``grad.wrt``.
    """
    weight = grad.weight(weight)
    graph = grad.graph
    on_path = graph.nodes_between([weight])
    order = [n for n in graph.topological_order() if n in on_path]
    values = deltas = None
    compiled = None
    if at is not None:
        values, deltas = values_at(grad, dict(at))
        _, partials = compile_gradient(grad)(**{_name(k): v for k, v in at.items()})
        compiled = partials[grad.wrt.index(weight)]
    forward = [
        (n, graph.op(n), graph.nx.nodes[n]["shape"], None if values is None else values[n])
        for n in order
        if graph.op(n) is not None
    ]
    rhs_of = dict(grad.equations)
    alias = pass_throughs(grad.equations, keep={adjoint_of(weight)})
    steps = []
    for node in reversed(order):
        delta = adjoint_of(node)
        if delta in alias:
            continue
        children = [c for c in graph.nx.successors(node) if c in on_path]
        terms = tuple(_term(graph, node, child, alias) for child in children)
        value = None if deltas is None else deltas.get(node)
        shape = graph.nx.nodes[node]["shape"]
        steps.append(MatrixStep(node, shape, rhs_of[delta].xreplace(alias), terms, value))
    return MatrixWalkthrough(grad, weight, forward, steps, at, compiled)


def _term(graph, node, child, alias) -> Term:
    edge = graph.nx.edges[node, child]
    share = edge.get("vjp")
    if share is None:
        share = edge["partial"]
    share = share.xreplace(alias)
    shapes: tuple = ()
    if isinstance(share, sp.MatMul):
        factors = [f for f in share.args if getattr(f, "is_Matrix", False)]
        if len(factors) > 1:
            shapes = (*(tuple(f.shape) for f in factors), tuple(share.shape))
    return Term(child, share, shapes)


def _name(key: Any) -> str:
    return key if isinstance(key, str) else key.name

