"""The vector-Jacobian product rules of the matrix operations.

A VJP rule sends the adjoint of an operation's result back to one operand:
``vjp(op, index, adjoint)`` returns ``Σ adjoint ⊙ ∂op/∂operand`` as a matrix
expression of the operand's shape, never a 4-index tensor.  With these,
``∂L/∂W = δ xᵀ`` comes out the way papers write it.

They are registered in the one registry (:mod:`symgraph.rules.registry`, with
:func:`~symgraph.rules.registry.register_vjp`), looked up along the class's MRO like
the scalar rules.

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

from ..errors import NoRuleError
from .matfuncs import FrobeniusNorm, LogSumExp, RowLogSumExp, RowSoftmax, Softmax, SumEntries
from .registry import _VJP, has_rule, has_vjp, local_partial, matrix_vjp, register_vjp, slots  # noqa: F401 - re-exported


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
    """``f(Z)`` entrywise: δ ⊙ f'(Z), written in f's own value when it can be.

    ``f'`` is the scalar rule's partial at the entrywise variable when ``f``
    is one operation of it (a function such as tanh, or a registered pattern
    such as the sigmoid), else SymPy's ``diff``.  ``tanh' = 1 - tanh²`` and
    ``σ' = σ(1 - σ)`` become ``(1 - A⊙A)`` and ``A⊙(1 - A)`` of the result
    ``A`` (a graph puts the result's node there), so compiled code reuses
    ``A`` instead of computing ``tanh(Z)`` again, as backpropagation by hand does.
    """
    u = sp.Dummy("u", real=True)
    value = op.function(u)
    if slots(value) == (u,) and has_rule(value):  # tanh(u), 1/(1 + exp(-u)): one operation
        derivative = local_partial(value, 0)
    else:
        derivative = value.diff(u)
    t = sp.Dummy("t", real=True)
    in_value = derivative.xreplace({value: t})
    if u not in in_value.free_symbols and t in in_value.free_symbols:
        # no doit: it would fold the two entrywise functions back into tanh'(Z)
        return HadamardProduct(adjoint, ElementwiseApplyFunction(sp.Lambda(t, in_value), op))
    factor = ElementwiseApplyFunction(sp.Lambda(u, derivative), op.expr)
    return HadamardProduct(adjoint, factor).doit()


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


@register_vjp(SumEntries)
def _sum_entries(op, index, adjoint):
    return adjoint * sp.OneMatrix(*op.arg.shape)


@register_vjp(FrobeniusNorm)
def _frobenius_norm(op, index, adjoint):
    return (adjoint / op) * op.arg


@register_vjp(LogSumExp)
def _log_sum_exp(op, index, adjoint):
    return adjoint * Softmax(op.arg)


@register_vjp(Softmax)
def _softmax(op, index, adjoint):
    """``s ⊙ δ − s (sᵀ δ)`` for a column ``s``; ``s ⊙ δ − (δ sᵀ) s`` for a row."""
    along = op.T * adjoint if op.shape[1] == 1 else adjoint * op.T  # the 1×1 ⟨s, δ⟩
    projection = op * along if op.shape[1] == 1 else along * op
    return HadamardProduct(op, adjoint).doit() - projection


@register_vjp(RowLogSumExp)
def _row_log_sum_exp(op, index, adjoint):
    """Each row's δ spread over that row by its softmax: ``softmax_row(Z) ⊙ (δ 1ᵀ)``."""
    return HadamardProduct(RowSoftmax(op.arg), adjoint * sp.OneMatrix(1, op.arg.shape[1]))


@register_vjp(RowSoftmax)
def _row_softmax(op, index, adjoint):
    """Row by row, ``s ⊙ δ − s (sᵀ δ)``: ``S ⊙ δ − S ⊙ (((S ⊙ δ) 1) 1ᵀ)``."""
    k = op.shape[1]
    weighted = HadamardProduct(op, adjoint)
    row_sums = weighted * sp.OneMatrix(k, 1) * sp.OneMatrix(1, k)
    return weighted - HadamardProduct(op, row_sums)


@register_vjp(sp.MatPow)
def _matpow(op, index, adjoint):
    """``A^k`` for a whole k ≥ 1: Σ_j (Aᵀ)^j δ (Aᵀ)^(k-1-j)."""
    base, exponent = op.args
    if index == 1 or not (exponent.is_Integer and exponent > 0):
        raise NoRuleError(f"only whole positive powers of a matrix have a rule, not {op}")
    k = int(exponent)
    terms = [base.T**j * adjoint * base.T ** (k - 1 - j) for j in range(k)]
    return sp.MatAdd(*terms).doit()


@register_vjp(sp.HadamardPower)
def _hadamard_power(op, index, adjoint):
    """``A∘p`` (entrywise power): δ ⊙ p A∘(p-1); the exponent must be a constant."""
    base, exponent = op.args
    if index == 1:
        raise NoRuleError(f"no rule for a weight in the exponent of {op}")
    return HadamardProduct(adjoint, exponent * sp.HadamardPower(base, exponent - 1)).doit()


@register_vjp(sp.matrices.expressions.matexpr.MatrixElement)
def _matrix_element(op, index, adjoint):
    """``M[i, j]``: the adjoint at entry (i, j), zero elsewhere (concrete shapes only)."""
    matrix, i, j = op.args
    rows, cols = matrix.shape
    if index != 0 or not (rows.is_Integer and cols.is_Integer and i.is_Integer and j.is_Integer):
        raise NoRuleError(f"{op}: an entry of a matrix of symbolic shape has no rule")
    unit = sp.ImmutableMatrix(int(rows), int(cols), lambda r, c: int(r == i and c == j))
    return adjoint * unit
