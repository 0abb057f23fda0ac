"""Adjoint symbols: δ_n = ∂output/∂n, one per node, scalar or matrix.

A class of their own, so a δ never equals a user's symbol of the same name;
a matrix node's adjoint is a ``MatrixSymbol`` of the node's shape, so the
δ-equations of a matrix graph read as a paper's (``δ_W = δ_z xᵀ``).

Examples
--------
>>> import sympy as sp
>>> W = sp.MatrixSymbol("W1", 3, 2)
>>> d = adjoint_of(W)
>>> d.shape, sp.latex(d)
((3, 2), '\\\\delta_{W_{1}}')
>>> sp.latex(adjoint_of(sp.Symbol("z1")))
'\\\\delta_{z_{1}}'
"""

from __future__ import annotations

import functools
import math
import weakref

import sympy as sp


class AdjointSymbol(sp.Symbol):
    """The adjoint δ_n of the scalar node ``n``: printed δ_{n} in LaTeX."""

    def __new__(cls, node: sp.Symbol):
        obj = super().__new__(cls, f"delta_{node.name}", real=True)
        obj.node = node  # printed as δ of the node itself (W^{(1)}_{2,3}, not its name)
        return obj

    def __getnewargs_ex__(self):  # pickled as AdjointSymbol(node): a process pool, Dask
        return (getattr(self, "node", None) or sp.Symbol(self.node_name, real=True),), {}

    @property
    def node_name(self) -> str:
        return self.name[len("delta_") :]

    def _latex(self, printer) -> str:
        node = getattr(self, "node", None) or sp.Symbol(self.node_name)
        return rf"\delta_{{{printer._print(node)}}}"


class MatrixAdjoint(sp.MatrixSymbol):
    """The adjoint δ_N of the matrix node ``N``: a matrix of ``N``'s shape.

    ``MatrixAdjoint(N)``; SymPy rebuilds it as ``MatrixAdjoint(name, rows, cols)``.
    """

    def __new__(cls, node, rows=None, cols=None):
        if isinstance(node, sp.MatrixSymbol):
            return super().__new__(cls, f"delta_{node.name}", *node.shape)
        return super().__new__(cls, node, rows, cols)

    @property
    def node_name(self) -> str:
        return self.name[len("delta_") :]

    def _latex(self, printer) -> str:
        return rf"\delta_{{{printer._print(sp.MatrixSymbol(self.node_name, *self.shape))}}}"


_adjoints: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # node -> its δ


def adjoint_of(node: sp.Basic) -> AdjointSymbol | MatrixAdjoint:
    """The δ symbol of a node: matrix-shaped for a matrix node.

    The same object for a node while it is in use: SymPy's cache keeps only
    the last thousand symbols, and equal but distinct δs of a large graph
    would be compared field by field in every lookup instead of by identity.
    """
    found = _adjoints.get(node)
    if found is None:
        found = MatrixAdjoint(node) if isinstance(node, sp.MatrixSymbol) else AdjointSymbol(node)
        _adjoints[node] = found
    return found


def is_adjoint(e: sp.Basic) -> bool:
    return isinstance(e, (AdjointSymbol, MatrixAdjoint))


class AdjointNode(sp.Symbol):
    r"""A node of a gradient's graph: its value is the adjoint δ_n = ∂L/∂n.

    Named ``g_<n>`` and printed :math:`\bar{n}` (the adjoint notation of reverse
    mode), so it never reads as, nor equals, the δ symbols of a second pass.
    """

    def __new__(cls, name: str, node: sp.Symbol | None = None, **assumptions):
        obj = super().__new__(cls, name, real=True)
        if node is not None:
            obj.node = node
        return obj

    def _latex(self, printer) -> str:
        node = getattr(self, "node", None) or sp.Symbol(self.name[len("g_") :])
        return rf"\bar{{{printer._print(node)}}}"


def share_of(adjoint: sp.Basic, partial: sp.Basic | None) -> sp.Basic | None:
    """What a scalar edge sends back: ``δ_child · ∂child/∂operand`` (None: no rule).

    >>> import sympy as sp
    >>> d, x = adjoint_of(sp.Symbol("v")), sp.Symbol("x")
    >>> share_of(d, sp.Integer(1)), share_of(d, x), share_of(d, None)
    (delta_v, delta_v*x, None)
    """
    if partial is None:
        return None
    if partial == 1:
        return adjoint
    # built as SymPy's constructor would, without its checks: real symbols commute
    if isinstance(partial, sp.Symbol):  # the common product edge: nothing to combine
        return sp.Mul._from_args((adjoint, partial), True)
    if plain_number(partial):  # 0.5·δ: the coefficient first, as SymPy writes it
        return sp.Mul._from_args((partial, adjoint), True)
    if isinstance(partial, (sp.Add, sp.Function)) or (
        isinstance(partial, sp.Pow) and not partial.base.is_Number and partial.base != adjoint
    ):  # δ·(1 - a²): nothing combines, so SymPy's product is its two factors in its order
        return sp.Mul._from_args(sorted((adjoint, partial), key=_canonical), True)
    return adjoint * partial


_canonical = functools.cmp_to_key(sp.Basic.compare)  # the order SymPy's Mul sorts factors in


def plain_number(e: sp.Basic) -> bool:
    """A finite number other than 0 and 1: nothing folds when it meets a symbol.

    Read from the number itself (SymPy's assumption system would build a new
    table of facts for every Float asked).

    >>> plain_number(sp.Float(0.5)), plain_number(sp.Float(0.0)), plain_number(sp.oo)
    (True, False, False)
    """
    return isinstance(e, (sp.Rational, sp.Float)) and e != 1 and math.isfinite(e) and float(e) != 0
