r"""Matrix functions SymPy lacks: entry sum, Frobenius norm, log-sum-exp, softmax.

Each is a SymPy expression class whose operand is a matrix expression (a
``MatrixSymbol``, a product, ...) of concrete or symbolic shape.  They stay
unevaluated on symbolic operands, so gradients keep a paper's form
(``softmax(W x) xᵀ``); on explicit matrices ``doit()`` evaluates them, and
:func:`expand_explicit` turns a whole expression over concrete-shape
``MatrixSymbol`` s into plain scalar SymPy expressions in the entries.  Each
class prints itself to LaTeX (``_latex``) and to NumPy (``_numpycode``, for
2-D arrays of the matrix's shape; log-sum-exp and softmax are shifted by the
maximum so they stay finite at large inputs).

Their vector-Jacobian rules live in :mod:`symgraph.rules.matrix`.  Entries
are taken to be real (the Frobenius norm is ``sqrt(Σ a²)``).

Examples
--------
>>> import sympy as sp
>>> v = sp.MatrixSymbol("v", 2, 1)
>>> expand_explicit(LogSumExp(v))
log(exp(v[0, 0]) + exp(v[1, 0]))
>>> sp.latex(Softmax(v))
'\\operatorname{softmax}\\left(v\\right)'
"""

from __future__ import annotations

import sympy as sp
from sympy.core.sympify import _sympify

from ..core.sizes import shape_text
from ..errors import GraphError

__all__ = [
    "FrobeniusNorm",
    "LogSumExp",
    "RowLogSumExp",
    "RowSoftmax",
    "Softmax",
    "SumEntries",
    "evaluate_explicit",
    "expand_explicit",
]


def _matrix_operand(arg, name: str) -> sp.Basic:
    """The operand sympified (a mutable ``Matrix`` becomes immutable); refuse scalars."""
    arg = _sympify(arg)
    if not getattr(arg, "is_Matrix", False):
        raise GraphError(f"{name} takes a matrix, not the scalar {arg}")
    return arg


def _vector_operand(arg, name: str) -> sp.Basic:
    """The operand, which must be a vector: n×1 or 1×n (n may be symbolic)."""
    arg = _matrix_operand(arg, name)
    rows, cols = arg.shape
    if rows != 1 and cols != 1:
        raise GraphError(
            f"{name} takes a vector (n×1 or 1×n), not a {shape_text(arg.shape)} matrix"
        )
    return arg


def _evaluated_operand(op: sp.Basic, hints: dict) -> sp.Basic:
    """The operand after ``doit`` (unless ``deep=False``)."""
    arg = op.args[0]
    return arg.doit(**hints) if hints.get("deep", True) else arg


def _is_explicit(arg: sp.Basic) -> bool:
    return isinstance(arg, sp.MatrixBase)


def _components(v: sp.Basic) -> list[sp.Basic]:
    """The entries of a vector of concrete length, in order."""
    if v.shape[1] == 1:
        return [v[k, 0] for k in range(v.shape[0])]
    return [v[0, k] for k in range(v.shape[1])]


def _is_concrete(shape) -> bool:
    return all(isinstance(d, (int, sp.Integer)) for d in shape)


def _exp_sum(v: sp.Basic) -> sp.Basic:
    """``Σ_k exp(v_k)``: an explicit sum for a concrete length, else a ``Sum``."""
    if _is_concrete(v.shape):
        return sp.Add(*(sp.exp(c) for c in _components(v)))
    k = sp.Dummy("k", integer=True, nonnegative=True)
    column = v.shape[1] == 1
    length = v.shape[0] if column else v.shape[1]
    entry = v[k, 0] if column else v[0, k]
    return sp.Sum(sp.exp(entry), (k, 0, length - 1))


def _numpy(printer, name: str) -> str:
    """``numpy.name`` as the printer spells it (fully qualified, or imported)."""
    return printer._module_format(f"numpy.{name}")


class _MatrixScalar(sp.Expr):
    """A scalar function of one matrix operand; subclasses define ``_explicit``."""

    is_commutative = True
    _operand = staticmethod(_matrix_operand)

    def __new__(cls, arg):
        return super().__new__(cls, cls._operand(arg, cls.__name__))

    @property
    def arg(self) -> sp.Basic:
        """The matrix operand."""
        return self.args[0]

    def doit(self, **hints):
        arg = _evaluated_operand(self, hints)
        return self._explicit(arg) if _is_explicit(arg) else self.func(arg)

    def _explicit(self, arg: sp.MatrixBase) -> sp.Basic:  # pragma: no cover - abstract
        raise NotImplementedError


class SumEntries(_MatrixScalar):
    r"""The sum of all entries of a matrix, ``Σ_ij A_ij``.

    LaTeX: ``\mathbf{1}^{\top} A \mathbf{1}``, the form papers use because it
    is itself linear algebra (an all-ones vector on each side), needs no index
    names, and reads right for any shape; a column vector prints as
    ``\mathbf{1}^{\top} v`` and a row vector as ``v \mathbf{1}``.

    Examples
    --------
    >>> import sympy as sp
    >>> A = sp.MatrixSymbol("A", 2, 2)
    >>> SumEntries(A).xreplace({A: sp.ImmutableMatrix([[1, 2], [3, 4]])}).doit()
    10
    >>> sp.latex(SumEntries(A))
    '\\mathbf{1}^{\\top} A \\mathbf{1}'
    """

    def _explicit(self, arg):
        return sp.Add(*arg)

    def _latex(self, printer):
        body = printer._print(self.arg)
        if not isinstance(self.arg, (sp.MatrixSymbol, sp.MatMul, sp.Transpose)):
            body = rf"\left({body}\right)"  # 1ᵀ (R ⊙ R), 1ᵀ (a + b)
        rows, cols = self.arg.shape
        if cols == 1:  # a column vector: 1ᵀ v
            return rf"\mathbf{{1}}^{{\top}} {body}"
        if rows == 1:  # a row vector: v 1
            return rf"{body} \mathbf{{1}}"
        return rf"\mathbf{{1}}^{{\top}} {body} \mathbf{{1}}"

    def _numpycode(self, printer):
        return f"{_numpy(printer, 'sum')}({printer._print(self.arg)})"


class FrobeniusNorm(_MatrixScalar):
    r"""The Frobenius norm ``‖A‖_F = sqrt(Σ_ij A_ij²)`` (real entries).

    Examples
    --------
    >>> import sympy as sp
    >>> A = sp.MatrixSymbol("A", 1, 2)
    >>> FrobeniusNorm(A).xreplace({A: sp.ImmutableMatrix([[3, 4]])}).doit()
    5
    >>> sp.latex(FrobeniusNorm(A))
    '\\lVert A \\rVert_{F}'
    """

    def _explicit(self, arg):
        return sp.sqrt(sp.Add(*(a**2 for a in arg)))

    def _latex(self, printer):
        return rf"\lVert {printer._print(self.arg)} \rVert_{{F}}"

    def _numpycode(self, printer):
        return f"{_numpy(printer, 'linalg.norm')}({printer._print(self.arg)}, 'fro')"


class LogSumExp(_MatrixScalar):
    r"""``log Σ_i exp(v_i)`` over a vector ``v`` (n×1 or 1×n).

    NumPy code subtracts the maximum first, ``m + log Σ exp(v_i − m)``, so it
    stays finite where ``exp(v_i)`` overflows.

    Examples
    --------
    >>> import sympy as sp
    >>> v = sp.MatrixSymbol("v", 1, 2)
    >>> LogSumExp(v).xreplace({v: sp.ImmutableMatrix([[0, 0]])}).doit()
    log(2)
    >>> sp.latex(LogSumExp(v))
    '\\operatorname{logsumexp}\\left(v\\right)'
    >>> LogSumExp(sp.MatrixSymbol("X", 2, 2))
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: LogSumExp takes a vector (n×1 or 1×n), not a 2×2 matrix
    """

    _operand = staticmethod(_vector_operand)

    def _explicit(self, arg):
        return sp.log(_exp_sum(arg))

    def _latex(self, printer):
        return rf"\operatorname{{logsumexp}}\left({printer._print(self.arg)}\right)"

    def _numpycode(self, printer):
        log, exp = _numpy(printer, "log"), _numpy(printer, "exp")
        body = f"v.max() + {log}({exp}(v - v.max()).sum())"
        return f"(lambda v: {body})({printer._print(self.arg)})"


class Softmax(sp.MatrixExpr):
    r"""``exp(v_i) / Σ_j exp(v_j)``: a vector of ``v`` 's shape (n×1 or 1×n).

    NumPy code subtracts the maximum before exponentiating, so large inputs
    give a finite probability vector.

    Examples
    --------
    >>> import sympy as sp
    >>> v = sp.MatrixSymbol("v", 2, 1)
    >>> Softmax(v).shape
    (2, 1)
    >>> Softmax(v).as_explicit()
    Matrix([
    [exp(v[0, 0])/(exp(v[0, 0]) + exp(v[1, 0]))],
    [exp(v[1, 0])/(exp(v[0, 0]) + exp(v[1, 0]))]])
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> Softmax(sp.MatrixSymbol("X", n, 3))
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: Softmax takes a vector (n×1 or 1×n), not a n×3 matrix
    """

    def __new__(cls, v):
        return super().__new__(cls, _vector_operand(v, cls.__name__))

    @property
    def arg(self) -> sp.Basic:
        """The vector operand."""
        return self.args[0]

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return sp.exp(self.arg[i, j]) / _exp_sum(self.arg)

    def doit(self, **hints):
        arg = _evaluated_operand(self, hints)
        return self.func(arg).as_explicit() if _is_explicit(arg) else self.func(arg)

    def _latex(self, printer):
        return rf"\operatorname{{softmax}}\left({printer._print(self.arg)}\right)"

    def _numpycode(self, printer):
        exp = _numpy(printer, "exp")
        normalise = "(lambda e: e / e.sum())"
        return f"(lambda v: {normalise}({exp}(v - v.max())))({printer._print(self.arg)})"


class _RowWise(sp.MatrixExpr):
    """A function of each row of a matrix ``Z`` (n×k): one sample's logits per row."""

    def __new__(cls, Z):
        return super().__new__(cls, _matrix_operand(Z, cls.__name__))

    @property
    def arg(self) -> sp.Basic:
        """The matrix operand."""
        return self.args[0]

    def _row_exp_sum(self, i):
        k = self.arg.shape[1]
        if _is_concrete((k,)):
            return sp.Add(*(sp.exp(self.arg[i, j]) for j in range(k)))
        j = sp.Dummy("j", integer=True, nonnegative=True)
        return sp.Sum(sp.exp(self.arg[i, j]), (j, 0, k - 1))

    def doit(self, **hints):
        arg = _evaluated_operand(self, hints)
        return self.func(arg).as_explicit() if _is_explicit(arg) else self.func(arg)


class RowLogSumExp(_RowWise):
    r"""``log Σ_j exp(Z_ij)`` for each row ``i``: an n×1 column.

    The batch form of :class:`LogSumExp` (a softmax cross-entropy over a batch
    of logits, one sample per row); NumPy code subtracts each row's maximum.

    Examples
    --------
    >>> import sympy as sp
    >>> Z = sp.MatrixSymbol("Z", 2, 2)
    >>> RowLogSumExp(Z).shape
    (2, 1)
    >>> RowLogSumExp(Z).as_explicit()[0, 0]
    log(exp(Z[0, 0]) + exp(Z[0, 1]))
    """

    @property
    def shape(self):
        return (self.arg.shape[0], sp.S.One)

    def _entry(self, i, j, **kwargs):
        return sp.log(self._row_exp_sum(i))

    def _latex(self, printer):
        return (
            rf"\operatorname{{logsumexp}}_{{\mathrm{{row}}}}\left({printer._print(self.arg)}\right)"
        )

    def _numpycode(self, printer):
        log, exp = _numpy(printer, "log"), _numpy(printer, "exp")
        m = f"{_numpy(printer, 'amax')}(v, axis=1, keepdims=True)"  # torch's v.max(axis) differs
        body = f"(lambda m: m + {log}({exp}(v - m).sum(axis=1, keepdims=True)))({m})"
        return f"(lambda v: {body})({printer._print(self.arg)})"


class RowSoftmax(_RowWise):
    r"""``exp(Z_ij) / Σ_l exp(Z_il)``: each row of ``Z`` (n×k) made a probability vector.

    Examples
    --------
    >>> import sympy as sp
    >>> Z = sp.MatrixSymbol("Z", 1, 2)
    >>> RowSoftmax(Z).as_explicit()[0, 1]
    exp(Z[0, 1])/(exp(Z[0, 0]) + exp(Z[0, 1]))
    """

    @property
    def shape(self):
        return self.arg.shape

    def _entry(self, i, j, **kwargs):
        return sp.exp(self.arg[i, j]) / self._row_exp_sum(i)

    def _latex(self, printer):
        return (
            rf"\operatorname{{softmax}}_{{\mathrm{{row}}}}\left({printer._print(self.arg)}\right)"
        )

    def _numpycode(self, printer):
        exp = _numpy(printer, "exp")
        normalise = "(lambda e: e / e.sum(axis=1, keepdims=True))"
        shifted = f"{exp}(v - {_numpy(printer, 'amax')}(v, axis=1, keepdims=True))"
        return f"(lambda v: {normalise}({shifted}))({printer._print(self.arg)})"


def expand_explicit(expr: sp.Basic) -> sp.Basic:
    """The expression in scalar entries: every concrete-shape ``MatrixSymbol``
    becomes its matrix of entries ``X[i, j]``, then everything is evaluated.

    A matrix-valued expression comes back as an explicit ``ImmutableMatrix``, a
    scalar one as a plain SymPy scalar; ``MatrixSymbol`` s of symbolic shape
    stay as they are.

    Parameters
    ----------
    expr : sympy.Basic
        A matrix or scalar expression over ``MatrixSymbol`` s, with these
        classes, products, sums, traces, elementwise functions...

    Examples
    --------
    >>> import sympy as sp
    >>> A = sp.MatrixSymbol("A", 1, 2)
    >>> expand_explicit(SumEntries(2 * A))
    2*A[0, 0] + 2*A[0, 1]
    >>> expand_explicit(Softmax(A.T)).shape
    (2, 1)
    """
    expr = _sympify(expr)
    entries = {s: s.as_explicit() for s in expr.atoms(sp.MatrixSymbol) if _is_concrete(s.shape)}
    return evaluate_explicit(expr.xreplace(entries))


def evaluate_explicit(expr: sp.Basic) -> sp.Basic:
    """Evaluate an expression whose matrices are all explicit (or concrete constants).

    ``doit`` alone leaves ``OneMatrix(2, 1)``, ``c*Matrix(...)`` and entrywise
    powers unevaluated: every matrix part is made explicit first, bottom up.

    >>> import sympy as sp
    >>> evaluate_explicit(SumEntries(sp.HadamardPower(sp.ImmutableMatrix([[1, 2]]), 2)))
    5
    """

    def explicit_ready(e: sp.Basic) -> bool:
        return isinstance(e, sp.MatrixExpr) and _is_concrete(e.shape) and not e.has(sp.MatrixSymbol)

    value = expr.replace(explicit_ready, lambda e: e.as_explicit())
    value = value.doit()
    if getattr(value, "is_Matrix", False) and not _is_explicit(value):
        value = value.as_explicit()
    return value
