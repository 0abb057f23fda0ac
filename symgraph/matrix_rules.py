"""Vector-Jacobian product rules for matrix operations (issue 4, first step).

A VJP rule sends the adjoint of an operation's result back to one operand:
``vjp(op, index, adjoint)`` returns ``Σ adjoint ⊙ ∂op/∂operand`` as a matrix
expression of the operand's shape, never a 4-index tensor.  With these,
``∂L/∂W = δ xᵀ`` comes out the way papers write it.

The rules live in one table keyed by SymPy matrix class, looked up along the
class's MRO like the scalar rules (:mod:`symgraph.rules`).

Examples
--------
>>> import sympy as sp
>>> W, x = sp.MatrixSymbol("W", 3, 2), sp.MatrixSymbol("x", 2, 1)
>>> delta = sp.MatrixSymbol("delta", 3, 1)
>>> matrix_vjp(W * x, 0, delta)
delta*x.T
>>> matrix_vjp(W * x, 1, delta)
W.T*delta
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
from sympy.matrices.expressions import (
    Determinant,
    HadamardProduct,
    Inverse,
    MatAdd,
    MatMul,
    Trace,
    Transpose,
)
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import NoRuleError

VJP = Callable[[sp.Basic, int, sp.Basic], sp.Basic]
_VJP: dict[type, VJP] = {}


def register_vjp(cls: type, rule: VJP | None = None):
    """Register ``rule(op, index, adjoint) -> operand adjoint`` for a matrix class."""
    if rule is None:
        return lambda fn: register_vjp(cls, fn)
    _VJP[cls] = rule
    return rule


def matrix_vjp(op: sp.Basic, index: int, adjoint: sp.Basic) -> sp.Basic:
    """The adjoint of ``op.args[index]`` given the adjoint of ``op``.

    Raises
    ------
    NoRuleError
        When no rule is registered for ``op``'s class.
    """
    for klass in type(op).__mro__:
        if klass in _VJP:
            return _VJP[klass](op, index, adjoint)
    raise NoRuleError(f"no vector-Jacobian rule for {type(op).__name__} (in {op})")


def _is_scalar(e: sp.Basic) -> bool:
    return not getattr(e, "is_Matrix", False)


@register_vjp(MatAdd)
def _matadd(op, index, adjoint):
    return adjoint


@register_vjp(MatMul)
def _matmul(op, index, adjoint):
    args = op.args
    scalars = [a for a in args if _is_scalar(a)]
    if _is_scalar(args[index]):  # a scalar coefficient: ⟨δ, rest⟩ = tr(δᵀ rest)
        rest = MatMul(*(a for k, a in enumerate(args) if k != index)).doit()
        return Trace(adjoint.T * rest).doit()
    coefficient = sp.Mul(*scalars)
    left = [a for a in args[:index] if not _is_scalar(a)]
    right = [a for a in args[index + 1 :] if not _is_scalar(a)]
    result = adjoint
    if left:
        result = MatMul(*left).T * result
    if right:
        result = result * MatMul(*right).T
    return (coefficient * result).doit() if coefficient != 1 else result.doit()


@register_vjp(Transpose)
def _transpose(op, index, adjoint):
    return adjoint.T


@register_vjp(HadamardProduct)
def _hadamard(op, index, adjoint):
    others = [a for k, a in enumerate(op.args) if k != index]
    return HadamardProduct(adjoint, *others).doit()


@register_vjp(ElementwiseApplyFunction)
def _elementwise(op, index, adjoint):
    u = sp.Dummy("u")
    derivative = sp.Lambda(u, op.function(u).diff(u))
    return HadamardProduct(adjoint, ElementwiseApplyFunction(derivative, op.expr)).doit()


@register_vjp(Trace)
def _trace(op, index, adjoint):
    return adjoint * sp.Identity(op.arg.shape[0])


@register_vjp(Determinant)
def _determinant(op, index, adjoint):
    matrix = op.arg
    return adjoint * op * Inverse(matrix).T


@register_vjp(Inverse)
def _inverse(op, index, adjoint):
    return -(op.T * adjoint * op.T)
