"""Compiled Jacobians and Hessians: one function from the graph's shared lines.

Nothing is compiled from a closed form.  :func:`lambdify_jacobian` builds the
one graph :func:`symgraph.jacobian` builds (every output a root, equal
subexpressions one node) and runs one reverse pass per output over it; each
pass's δ-equations are in node symbols, so the generated function computes
the forward lines once, then every pass's equations, and returns the matrix
entries.  The δ symbols of different passes are renamed apart (``δ_v1`` of
pass 0 is not ``δ_v1`` of pass 1), and a local partial that several passes
multiply by (``cos(v1)`` in ``δ·cos(v1)``) is one line for all of them.
:func:`lambdify_hessian` does the same over the gradient's graph
(:func:`symgraph.ad.derivatives.gradient_assignments`), one pass per gradient
component.

Examples
--------
>>> import sympy as sp
>>> x, y, c = sp.symbols("x y c", real=True)
>>> J = lambdify_jacobian([c * x * y, x**2 + y], [x, y])
>>> J.args, J.shape
((c, x, y), (2, 2))
>>> J(c=1.0, x=2.0, y=3.0)
array([[3., 2.],
       [4., 1.]])
>>> J(1.0, [1.0, 2.0, 3.0], 0.5).shape     # three points: (points, outputs, weights)
(3, 2, 2)
>>> lambdify_hessian(x**3 * y, [x, y])(x=1.0, y=2.0)
array([[12.,  3.],
       [ 3.,  0.]])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from ..ad.backward import backward
from ..ad.derivatives import entries, hessian_graph, jacobian_graph, view
from ..build.builder import GraphBuilder
from ..core.adjoint import AdjointSymbol
from ..core.collector import paused_collector
from ..core.sizes import is_matrix
from .codegen import ZeroSafeProduct
from .compile import CompiledGradient
from .forward import run, stable_function
from .lines import numeric_equations
from .values import declared_shapes

__all__ = ["CompiledJacobian", "lambdify_hessian", "lambdify_jacobian"]


class CompiledJacobian:
    """``J(*args)`` or ``J(**values)`` -> the matrix as a NumPy array.

    Called as a compiled gradient is (``grad.lambdify()``): positionally in
    ``args`` order or by name, the same checks and the same one-line
    :class:`~symgraph.EvaluationError` for an unknown name, a missing value or
    shapes that do not broadcast.  Scalar arguments may be arrays of points:
    the result then has shape ``(*points, m, k)``, the matrix of each point in
    the last two axes.  A graph with matrix arguments takes each at its
    declared shape and returns one ``(m, k)`` matrix.

    Attributes
    ----------
    args : tuple of Symbol
        Positional order: inputs sorted by name, then the weights in order.
    wrt : tuple of Symbol
        The weights; a matrix weight gives ``rows·cols`` columns, row-major.
    shape : (int, int)
        ``(m, k)``: outputs (gradient components for a Hessian) by weight entries.
    source : str
        The generated Python code.
    """

    def __init__(self, fn, args, wrt, constant: np.ndarray, slots, has_matrices: bool):
        self._fn = fn
        self.args, self.wrt, self.source = tuple(args), tuple(wrt), fn.source
        self.shape = constant.shape
        self._constant = constant  # the entries known when compiling (0, 1)
        self._slots = tuple(slots)  # (row, first column, width) of each computed output
        shapes = declared_shapes(self.args) if has_matrices else None
        self._checked = CompiledGradient(_CheckedArguments(), self.args, self.wrt, shapes)
        scalar = [k for k, (_, _, width) in enumerate(self._slots) if width == 1]
        self._scalar = np.array(scalar, dtype=int)
        self._rows = np.array([self._slots[k][0] for k in scalar], dtype=int)
        self._cols = np.array([self._slots[k][1] for k in scalar], dtype=int)

    def __call__(self, *args: Any, **values: Any) -> np.ndarray:
        zero, ordered = self._checked(*args, **values)
        points = np.shape(zero)  # the broadcast shape of the scalar arguments
        entries = run(self._fn, ordered)
        result = np.array(np.broadcast_to(self._constant, points + self.shape))
        if points == () and len(self._scalar):  # one point: all scalar entries at once
            result[self._rows, self._cols] = [entries[k] for k in self._scalar]
        for (row, col, width), entry in zip(self._slots, entries, strict=True):
            if width > 1:  # a matrix weight's δ: its entries row-major
                result[row, col : col + width] = np.asarray(entry, dtype=float).reshape(-1)
            elif points != ():
                result[..., row, col] = entry
        return result

    def __repr__(self) -> str:
        args = ", ".join(map(str, self.args))
        return f"<CompiledJacobian ({args}) -> {self.shape[0]}×{self.shape[1]} matrix>"


class _CheckedArguments:
    """Returns its arguments: run by a CompiledGradient, it gives them checked and in order.

    ``grad.lambdify()``'s own checks (names, positions, values, shapes) then
    guard a compiled Jacobian, with the same messages.
    """

    source = ""

    def __call__(self, *ordered):
        return (0.0, *ordered)


@paused_collector
def lambdify_jacobian(exprs, wrt: Iterable[sp.Symbol] | None, granularity: str = "op"):
    """The Jacobian ∂exprs_i/∂w_j compiled: one reverse pass per output, one function.

    Parameters
    ----------
    exprs, wrt, granularity
        As for :func:`symgraph.jacobian` (outputs: a list, a row or column
        Matrix, one expression, or a matrix expression whose entries are the
        outputs, row-major; wrt None: all free symbols sorted by name).

    Returns
    -------
    CompiledJacobian
        ``J(**values)`` -> array of shape ``(len(exprs), len(wrt))`` (more
        columns for matrix weights), ``(*points, m, k)`` over arrays of points.

    Raises
    ------
    GraphError
        As :func:`symgraph.jacobian` does.

    Examples
    --------
    >>> import sympy as sp
    >>> w, x = sp.symbols("w x", real=True)
    >>> J = lambdify_jacobian([sp.sin(w * x), w**2], [w])
    >>> J(w=1.0, x=0.0)
    array([[0.],
           [2.]])
    """
    return compile_rows(*jacobian_graph(exprs, wrt, granularity), name="jacobian")


@paused_collector
def lambdify_hessian(expr, wrt: Iterable[sp.Symbol] | None, granularity: str = "op"):
    """The Hessian ∂²expr/∂w_i∂w_j compiled from the gradient's graph.

    One reverse pass gives the gradient as assignments (the forward nodes,
    then a node ``g_n`` per δ-equation); one more pass per gradient component
    over that graph gives the rows, and one function computes them all.

    Parameters
    ----------
    expr, wrt, granularity
        As for :func:`symgraph.hessian`.

    Returns
    -------
    CompiledJacobian
        ``H(**values)`` -> array ``(k, k)``, ``(*points, k, k)`` over arrays of points.

    Raises
    ------
    GraphError
        As :func:`symgraph.hessian` does.

    Examples
    --------
    >>> import sympy as sp
    >>> w, b, x = sp.symbols("w b x", real=True)
    >>> H = lambdify_hessian(sp.exp(w * x + b), [w, b])
    >>> H(w=0.0, b=0.0, x=2.0)
    array([[4., 2.],
           [2., 1.]])
    """
    return compile_rows(*hessian_graph(expr, wrt, granularity), name="hessian")


def compile_rows(b: GraphBuilder, roots: Sequence[sp.Basic], wrt, name: str) -> CompiledJacobian:
    """One function computing row ``i`` = the gradient of ``roots[i]`` over ``b``'s graph.

    The forward lines once, then each root's reverse pass (its δ symbols
    renamed apart, local partials shared between passes); the outputs are the
    entries, weights' entries row-major.
    """
    wrt = tuple(wrt)
    widths = [len(entries(w)) for w in wrt]
    starts = np.cumsum([0, *widths[:-1]]).tolist()
    constant = np.zeros((len(roots), sum(widths)))
    ops = b.g.nodes(data="op")
    forward = [(n, ops[n]) for n in nx.topological_sort(b.g) if ops[n] is not None]
    taken = {n.name for n in b.g}
    partials = SharedPartials()
    lines, outputs, slots = [], [], []
    for row, root in enumerate(roots):
        if root not in b.g or b.g.nodes[root]["op"] is None:  # a constant, or a leaf itself
            for w, col in zip(wrt, starts, strict=True):
                constant[row, col] = int(root == w and not is_matrix(w))
            continue
        grad = backward(view(b, root, wrt))
        rename = renamed_adjoints(grad.equations, f"_{row}", taken)
        for lhs, rhs in numeric_equations(grad):
            lines.append((rename[lhs], partials.hoist(rhs, rename)))
        for w, col, width in zip(wrt, starts, widths, strict=True):
            adjoint = rename.get(grad.adjoints[w], grad.adjoints[w])
            if adjoint.free_symbols:
                outputs.append(adjoint)
                slots.append((row, col, width))
            elif not is_matrix(adjoint):
                constant[row, col] = float(adjoint)
    lines = forward + partials.lines + lines  # a partial reads forward nodes only
    args = argument_order(b, wrt)
    fn = stable_function(lines, args, outputs, name=name)
    has_matrices = any(is_matrix(n) for n in b.g)
    return CompiledJacobian(fn, args, wrt, constant, slots, has_matrices)


def argument_order(b: GraphBuilder, wrt: Sequence[sp.Basic]) -> list[sp.Basic]:
    """The builder's inputs sorted by name, then the weights in ``wrt`` order."""
    weights = set(wrt)
    leaves = (n for n, op in b.g.nodes(data="op") if op is None and n not in weights)
    return sorted(leaves, key=lambda s: s.name) + list(wrt)


def renamed_adjoints(equations, suffix: str, taken: set[str]) -> dict[sp.Basic, sp.Basic]:
    """Each δ of one reverse pass -> a symbol of its own, equal to no other pass's.

    Scalars become ``Dummy`` symbols; a matrix δ a ``MatrixSymbol`` whose name
    is in no graph node's (``taken``, which grows).
    """
    rename = {}
    for lhs, _ in equations:
        if isinstance(lhs, sp.MatrixSymbol):
            name = lhs.name + suffix
            while name in taken:
                name += "_"
            taken.add(name)
            rename[lhs] = sp.MatrixSymbol(name, *lhs.shape)
        else:
            rename[lhs] = sp.Dummy(lhs.name + suffix, real=True)
    return rename


class SharedPartials:
    """The factors a δ is multiplied by, one line each, shared by every reverse pass.

    A scalar term ``δ_c · p`` (``p`` in forward node symbols) becomes
    ``δ'_c · t`` with one line ``t = p`` for all passes meeting that edge.
    Other terms (matrix products) are only renamed.
    """

    def __init__(self):
        self.lines: list[tuple[sp.Basic, sp.Basic]] = []
        self._symbol: dict[sp.Basic, sp.Basic] = {}

    def hoist(self, rhs: sp.Basic, rename: dict) -> sp.Basic:
        """``rhs`` with its δ symbols renamed and its partials read from shared lines."""
        if getattr(rhs, "is_Matrix", False):
            return rhs.xreplace(rename)
        return sp.Add(*(self._term(t, rename) for t in sp.Add.make_args(rhs)))

    def _term(self, term: sp.Basic, rename: dict) -> sp.Basic:
        if isinstance(term, ZeroSafeProduct):
            delta, rest = term.args
            return ZeroSafeProduct(rename.get(delta, delta), self._shared(rest))
        if isinstance(term, AdjointSymbol):
            return rename.get(term, term)
        factors = sp.Mul.make_args(term)
        deltas = [f for f in factors if isinstance(f, AdjointSymbol)]
        if len(deltas) != 1 or any(getattr(f, "is_Matrix", False) for f in factors):
            return term.xreplace(rename)
        rest = sp.Mul(*(f for f in factors if f is not deltas[0]))
        return sp.Mul(rename.get(deltas[0], deltas[0]), self._shared(rest))

    def _shared(self, factor: sp.Basic) -> sp.Basic:
        if factor.is_Atom or factor.is_Number or (-factor).is_Atom:
            return factor
        if factor not in self._symbol:
            self._symbol[factor] = sp.Dummy("p", real=True)
            self.lines.append((self._symbol[factor], factor))
        return self._symbol[factor]
