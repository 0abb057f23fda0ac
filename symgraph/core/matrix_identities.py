"""The standard matrix identities, one node at a time: what a paper folds without saying.

Backpropagation's rules write what they must for every shape, and leave a
broadcast scalar as ``(c·1) ⊙ M`` and a factor and its inverse apart
(``2 Xᵀ ((1/2) M)``).  :func:`rewritten` applies, to one node whose operands
are already rewritten, the identities that hold for every shape and value:

- ``1 ⊙ M = M`` (a Hadamard product's factors all have its shape, so an
  all-ones factor is always the identity);
- ``(c A) ⊙ B = c (A ⊙ B)`` for a scalar ``c``: so ``(c·1) ⊙ M = c M``, and
  SymPy's own product then cancels ``2 Xᵀ ((1/2) M) = Xᵀ M``;
- ``c a A + c b B = c (a A + b B)``: a scalar common to every term of a sum
  (``−(a/n) Y + (a/n) S = (a/n)(S − Y)``), pulled out only when what stays in
  each term is a plain number;
- transposes keep the forward's orientation: ``(Mᵀ)ᵀ = M``, ``(c M)ᵀ = c Mᵀ``
  and ``(Aᵀ Bᵀ)ᵀ = B A`` (a transpose that cancels) are folded, but a transpose
  of a sum, a Hadamard product, an entrywise function or a product with an
  untransposed factor stays outside: ``tanh(W X)ᵀ``, not ``tanh(Xᵀ Wᵀ)``.

Each identity is local (it reads a node and its operands), so one bottom-up
pass over an expression applies them all: :func:`symgraph.core.substitute.folded`
calls :func:`rewritten` at every node, on the δ-equations when edges are made
and on the closed forms when they are folded.

Examples
--------
>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> M, Y = sp.MatrixSymbol("M", n, 2), sp.MatrixSymbol("Y", n, 2)
>>> rewritten(sp.HadamardProduct(sp.OneMatrix(n, 2) / (2 * n), M))
(1/(2*n))*M
>>> rewritten(sp.MatAdd(-Y / n, M / n))
1/n*(M - Y)
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, OneMatrix, Transpose
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = ["coefficient_and_matrix", "is_factored", "keeps_transpose", "rewritten", "scaled"]

_CONSTANTS = (sp.Identity, sp.ZeroMatrix, OneMatrix)  # their transposes are of their own kind


def coefficient_and_matrix(e: sp.Basic) -> tuple[sp.Basic, sp.Basic]:
    """``(c, M)`` with ``e = c M``, ``c`` a scalar and ``M`` a matrix (``c = 1`` if none).

    >>> import sympy as sp
    >>> coefficient_and_matrix(3 * sp.MatrixSymbol("A", 2, 2))
    (3, A)
    """
    if not isinstance(e, MatMul):
        return sp.S.One, e
    coefficient, matrices = e.as_coeff_matrices()
    if coefficient == 1 or not matrices:
        return sp.S.One, e
    return coefficient, matrices[0] if len(matrices) == 1 else MatMul(*matrices)


def is_factored(e: sp.Basic) -> bool:
    """Whether ``e`` is a number times a sum, ``(1/64)(S − Y)``, which SymPy's ``doit`` distributes.

    >>> import sympy as sp
    >>> A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
    >>> is_factored(sp.MatMul(sp.Rational(1, 2), A + B))
    True
    """
    return (
        isinstance(e, MatMul)
        and len(e.args) == 2
        and e.args[0].is_Rational
        and isinstance(e.args[1], MatAdd)
    )


def scaled(coefficient: sp.Basic, matrix: sp.Basic) -> sp.Basic:
    """``coefficient * matrix`` as SymPy folds it, but a number stays outside a sum.

    >>> import sympy as sp
    >>> A, B = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)
    >>> scaled(sp.Rational(1, 2), A - B), scaled(2, sp.MatMul(sp.Rational(1, 2), A))
    ((1/2)*(A - B), A)
    """
    if coefficient == 1:
        return matrix
    product = MatMul(coefficient, matrix)
    return product if is_factored(product) else product.doit(deep=False)


def rewritten(e: sp.Basic) -> sp.Basic:
    """``e`` with the identities above applied at its top node (its operands as they are).

    The value never changes; ``e`` itself comes back when no identity applies.
    """
    if isinstance(e, HadamardProduct):
        return _hadamard(e)
    if isinstance(e, MatAdd):
        return _common_factor(e)
    if isinstance(e, Transpose):
        return _transpose(e)
    return e


def keeps_transpose(e: Transpose) -> bool:
    """Whether ``e = Mᵀ`` stays a transpose: its operand is in the forward's orientation.

    >>> import sympy as sp
    >>> W, X = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("X", 2, 2)
    >>> keeps_transpose(sp.Transpose((W * X).applyfunc(sp.tanh)))
    True
    >>> keeps_transpose(sp.Transpose(W.T * X.T))  # (Wᵀ Xᵀ)ᵀ = X W
    False
    """
    arg = e.arg
    if isinstance(arg, (HadamardProduct, MatAdd, sp.HadamardPower)):
        return True
    if isinstance(arg, ElementwiseApplyFunction):
        return True
    if isinstance(arg, MatMul):
        _, matrices = arg.as_coeff_matrices()
        return not all(isinstance(m, (Transpose, *_CONSTANTS)) for m in matrices)
    return False


def _transpose(e: Transpose) -> sp.Basic:
    """``(c M)ᵀ = c Mᵀ``; otherwise ``e`` (pushed further or not: :func:`keeps_transpose`)."""
    coefficient, matrix = coefficient_and_matrix(e.arg)
    if coefficient == 1:
        return e
    inner = Transpose(matrix)
    if not keeps_transpose(inner):
        inner = inner.doit(deep=False)
    return scaled(coefficient, inner)


def _hadamard(e: HadamardProduct) -> sp.Basic:
    """``(a A) ⊙ (b 1) ⊙ B = a b (A ⊙ B)``: scalars out, all-ones factors dropped."""
    coefficient, factors = sp.S.One, []
    for arg in e.args:
        c, matrix = coefficient_and_matrix(arg)
        coefficient *= c
        if not isinstance(matrix, OneMatrix):  # same shape as the product: ⊙ 1 is the identity
            factors.append(matrix)
    if coefficient == 1 and len(factors) == len(e.args):
        return e
    if not factors:
        body = OneMatrix(*e.shape)
    elif len(factors) == 1:
        body = factors[0]
    else:
        body = HadamardProduct(*factors)
    return scaled(coefficient, body)


def _common_factor(e: MatAdd) -> sp.Basic:
    """``g (a A + b B)`` for ``g a A + g b B``, when each ``a``, ``b`` is a plain number."""
    pairs = [coefficient_and_matrix(t) for t in e.args]
    splits = [c.as_coeff_Mul() for c, _ in pairs]  # (number, the rest)
    rest = splits[0][1]
    if any(r != rest for _, r in splits):
        return e
    numbers = [n for n, _ in splits]
    scale = _rational_gcd(numbers)
    common = scale * rest
    if common == 1:
        return e
    terms = [scaled(n / scale, m) for n, (_, m) in zip(numbers, pairs, strict=True)]
    return scaled(common, MatAdd(*terms).doit(deep=False))


def _rational_gcd(numbers: list[sp.Basic]) -> sp.Basic:
    """The positive rational dividing each number to a whole one, or 1 (floats, a lone 1)."""
    if not all(isinstance(n, sp.Rational) and n != 0 for n in numbers):
        return sp.S.One
    numerator = math.gcd(*(int(n.p) for n in numbers))
    denominator = math.lcm(*(int(n.q) for n in numbers))
    return sp.Rational(numerator, denominator)
