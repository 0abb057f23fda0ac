"""The vocabulary of graph files: limits, classes, constants, numbers and matrix sizes.

Shared by saving (:mod:`symgraph.io`) and loading (:mod:`symgraph.io.decode`);
the file format itself is described in :mod:`symgraph.io`.

>>> CLASSES["tanh"] is sp.tanh, _decode_rational("-3/2")
(True, -3/2)
"""

from __future__ import annotations

import re
from typing import Any

import sympy as sp
from sympy.core.function import FunctionClass
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.matrices.expressions.matmul import validate as _validate_matmul

from ..core.sizes import is_matrix, shown
from ..errors import GraphError
from ..parse import MAX_FLOAT_EXPONENT, MAX_MATRIX_SIZE
from ..rules.matfuncs import FrobeniusNorm, LogSumExp, RowLogSumExp, RowSoftmax, Softmax, SumEntries

FORMAT = "symgraph-graph"
VERSION = 1
MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 60_000  # as deep as a graph of MAX_SIZE items can be: what to_json writes loads
MAX_DIGITS = 4_000  # digits of an integer: Python prints at most 4,300 by default
MAX_PRECISION = 100_000  # bits of a Float
MAX_NAME = 10_000  # characters of a symbol's name
MAX_DIMENSION = MAX_MATRIX_SIZE  # rows or columns of a matrix, as the text parser
MAX_SIZE_PARTS = 100  # symbols, numbers and operations of a symbolic size like n + 1
MAX_DUMMY_INDEX = 2**63  # a Dummy's dummy_index is below this

#: The assumption flags a saved symbol may carry (SymPy's boolean facts).
ASSUMPTIONS = frozenset(
    """algebraic antihermitian commutative complex composite even extended_negative
    extended_nonnegative extended_nonpositive extended_nonzero extended_positive
    extended_real finite hermitian imaginary infinite integer irrational negative
    noninteger nonnegative nonpositive nonzero odd polar positive prime rational real
    transcendental zero""".split()
)

#: Named constants, by the name written in the file.
CONSTANTS: dict[str, sp.Basic] = {
    "pi": sp.pi,
    "E": sp.E,
    "I": sp.I,
    "oo": sp.oo,
    "-oo": -sp.oo,
    "zoo": sp.zoo,
    "nan": sp.nan,
    "EulerGamma": sp.EulerGamma,
    "Catalan": sp.Catalan,
    "GoldenRatio": sp.GoldenRatio,
    "TribonacciConstant": sp.TribonacciConstant,
    "true": sp.true,
    "false": sp.false,
    "IdentityFunction": sp.S.IdentityFunction,  # Lambda(x, x): SymPy's one instance
}
_CONSTANT_NAME = {value: name for name, value in CONSTANTS.items()}

_CLASS_LIST = [
    sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.LambertW,
    sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinc,
    sp.asin, sp.acos, sp.atan, sp.acot, sp.asec, sp.acsc, sp.atan2,
    sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.sech, sp.csch,
    sp.asinh, sp.acosh, sp.atanh, sp.acoth, sp.asech, sp.acsch,
    sp.Abs, sp.sign, sp.re, sp.im, sp.arg, sp.conjugate, sp.Max, sp.Min,
    sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.Heaviside, sp.DiracDelta, sp.KroneckerDelta,
    sp.Piecewise, ExprCondPair,
    sp.erf, sp.erfc, sp.erfi, sp.erfinv, sp.erfcinv, sp.gamma, sp.loggamma,
    sp.polygamma, sp.digamma, sp.trigamma, sp.beta, sp.factorial, sp.binomial,
    sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge,
    sp.And, sp.Or, sp.Not, sp.Xor, sp.Implies,
]  # fmt: skip
_MATRIX_CLASS_LIST = [
    sp.MatMul, sp.MatAdd, sp.Transpose, sp.HadamardProduct, sp.HadamardPower, sp.MatPow,
    ElementwiseApplyFunction, sp.Trace, sp.Determinant, sp.Inverse,
    sp.Identity, sp.OneMatrix, sp.ZeroMatrix, MatrixElement, sp.ImmutableDenseMatrix,
    SumEntries, FrobeniusNorm, LogSumExp, Softmax, RowLogSumExp, RowSoftmax,
    sp.Lambda, sp.Tuple,
]  # fmt: skip
#: The SymPy classes a file may name, by class name (``StrictGreaterThan`` for ``>``).
CLASSES: dict[str, type] = {cls.__name__: cls for cls in _CLASS_LIST + _MATRIX_CLASS_LIST}
_NO_EVALUATE_FLAG = (  # constructors without ``evaluate=``
    ExprCondPair, sp.Transpose, sp.HadamardPower, sp.Trace, sp.Determinant, sp.Inverse,
    MatrixElement, SumEntries, FrobeniusNorm, LogSumExp, Softmax, RowLogSumExp, RowSoftmax,
    sp.Lambda, sp.Tuple,
)  # fmt: skip

_INTEGER = re.compile(r"-?[0-9]+(/[0-9]+)?", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]{1,9})?", re.ASCII)
_CHUNK = 4000  # digits per int() call: Python refuses longer strings by default


# --- numbers ----------------------------------------------------------------


def _int_to_text(value: int) -> str:
    """``str(value)`` without Python's 4,300-digit limit on int/str conversion."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    base = 10**_CHUNK
    chunks = []
    while value >= base:
        value, low = divmod(value, base)
        chunks.append(f"{low:0{_CHUNK}d}")
    return sign + str(value) + "".join(reversed(chunks))


def _text_to_int(digits: str) -> int:
    value = 0
    for start in range(0, len(digits), _CHUNK):
        chunk = digits[start : start + _CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _encode_rational(number: sp.Rational) -> str:
    texts = []
    for part in (number.p, number.q):
        # 10**k has about 3.32 k bits: refuse the obviously huge before converting
        text = "" if part.bit_length() > 3.33 * MAX_DIGITS + 8 else _int_to_text(abs(part))
        if not text or len(text) > MAX_DIGITS:
            raise GraphError(f"cannot save an integer of more than {MAX_DIGITS} digits")
        texts.append(text)
    sign = "-" if number.p < 0 else ""
    return sign + texts[0] if number.q == 1 else f"{sign}{texts[0]}/{texts[1]}"


def _decode_rational(text: Any) -> sp.Rational:
    if not isinstance(text, str) or not _INTEGER.fullmatch(text):
        raise GraphError(f"bad number {shown(text)}: expected digits like '-3' or '3/2'")
    numerator, _, denominator = text.lstrip("-").partition("/")
    if max(len(numerator), len(denominator)) > MAX_DIGITS:
        raise GraphError(f"refused an integer of more than {MAX_DIGITS} digits")
    p = _text_to_int(numerator) * (-1 if text.startswith("-") else 1)
    if not denominator:
        return sp.Integer(p)
    q = _text_to_int(denominator)
    if q == 0:
        raise GraphError(f"bad number {shown(text)}: zero denominator (write 'zoo')")
    return sp.Rational(p, q)


def _encode_float(number: sp.Float) -> dict:
    from mpmath.libmp.libmpf import repr_dps, to_str

    text = to_str(number._mpf_, repr_dps(number._prec))
    return {"fl": text, "prec": number._prec}


def _decode_float(entry: dict) -> sp.Float:
    text, prec = entry["fl"], entry.get("prec", 53)
    if (
        not isinstance(text, str)
        or len(text) > MAX_DIGITS
        or not _FLOAT.fullmatch(text.lower())
        or type(prec) is not int
        or not 1 <= prec <= MAX_PRECISION
        or abs(int(text.lower().partition("e")[2] or 0)) > MAX_FLOAT_EXPONENT
    ):
        raise GraphError(f"bad float {shown(text)} with precision {shown(prec)}")
    return sp.Float(text, precision=prec)


# --- matrices: sizes and the constructors that need care ----------------------


_SIZE_PARTS = (sp.Symbol, sp.Integer, sp.Add, sp.Mul, sp.Pow)


def _dimension(d: Any, where: str) -> sp.Expr:
    """``d`` when it can be a matrix's rows or columns, else a GraphError.

    An integer from 0 to :data:`MAX_DIMENSION`, or a size made of symbols and
    integers (``n``, ``n + 1``, ``2*h``, ``n**2``) that may be a nonnegative integer.
    """
    if isinstance(d, sp.Integer):
        if not 0 <= d <= MAX_DIMENSION:
            raise GraphError(f"{where}: dimension {shown(d)} is not from 0 to {MAX_DIMENSION}")
        return d
    stack, parts = [d], 0
    while stack:  # iterative: a size is built from the table, nested up to MAX_DEPTH
        e = stack.pop()
        parts += 1
        if (
            parts > MAX_SIZE_PARTS
            or not isinstance(e, _SIZE_PARTS)
            or (isinstance(e, sp.Integer) and abs(e) > MAX_DIMENSION)
            or (isinstance(e, sp.Pow) and not (isinstance(e.exp, sp.Integer) and 0 <= e.exp <= 64))
        ):
            raise GraphError(
                f"{where}: dimension {shown(d)} is neither an integer nor a size like n, n + 1"
            )
        stack.extend(e.args)
    if d.is_integer is False or d.is_nonnegative is False:
        raise GraphError(f"{where}: dimension {shown(d)} is not a nonnegative integer")
    return d


def _build_matmul(args: list) -> sp.Basic:
    """``MatMul`` as saved: SymPy's constructor multiplies the scalar factors out."""
    matrices = [a for a in args if is_matrix(a)]
    if not matrices:
        raise GraphError("a MatMul without a matrix factor")
    _validate_matmul(*matrices)  # ShapeError for factors that cannot be multiplied
    return sp.Basic.__new__(sp.MatMul, *args)


def _build_hadamard_power(args: list) -> sp.Basic:
    if len(args) == 2 and not any(map(is_matrix, args)):
        raise GraphError("a HadamardPower of two scalars")  # SymPy would compute base**exp
    return sp.HadamardPower(*args)


def _build_elementwise(args: list) -> sp.Basic:
    """``ElementwiseApplyFunction`` as saved: SymPy's constructor may apply the function."""
    function, operand = args
    if isinstance(function, sp.Lambda):
        unary = len(function.variables) == 1
    else:
        unary = isinstance(function, FunctionClass) and 1 in function.nargs
    if not unary or not is_matrix(operand):
        raise GraphError(
            f"an entrywise function needs a unary function and a matrix: {shown(args)}"
        )
    return sp.Basic.__new__(ElementwiseApplyFunction, function, operand)


def _build_dense(args: list) -> sp.Basic:
    """An explicit matrix, ``ImmutableMatrix(rows, cols, entries)``."""
    rows, cols, entries = args
    if not all(isinstance(k, sp.Integer) and k >= 0 for k in (rows, cols)):
        raise GraphError(f"an explicit matrix of {shown(rows)} × {shown(cols)} entries")
    if not isinstance(entries, sp.Tuple):
        raise GraphError("an explicit matrix needs a Tuple of entries")
    if rows * cols != len(entries) or any(map(is_matrix, entries)):
        raise GraphError(f"an explicit {rows} × {cols} matrix needs {rows * cols} scalar entries")
    return sp.ImmutableDenseMatrix(int(rows), int(cols), list(entries))


def _sized(cls: type):
    def build(args: list) -> sp.Basic:
        return cls(*(_dimension(a, cls.__name__) for a in args))

    return build


_BUILDERS = {
    sp.MatMul: _build_matmul,
    sp.HadamardPower: _build_hadamard_power,
    ElementwiseApplyFunction: _build_elementwise,
    sp.ImmutableDenseMatrix: _build_dense,
    sp.Identity: _sized(sp.Identity),
    sp.OneMatrix: _sized(sp.OneMatrix),
    sp.ZeroMatrix: _sized(sp.ZeroMatrix),
}


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise GraphError(f"not a symgraph graph file: {message}")


def _plain(value: Any, where: str) -> Any:
    """An extra attribute, kept when it is a plain JSON value."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise GraphError(f"{where} = {shown(value)} is neither an expression nor a plain value")


_NODE = ("op", "expr", "role")
_EDGE = ("partial", "vjp")  # the expressions of an edge
