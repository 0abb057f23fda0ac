"""The printers of generated code: NumPy (arrays) and ``math`` (plain floats).

One node's small expression at a time (:meth:`_Printer.text`); a wide sum,
product or ``Max`` anywhere is accumulated over several lines of bounded
length (:meth:`_Printer.statement`).  Generated identifiers are our own
(``a0``, ``t1``...), never the user's names.  Conventions at kinks are
documented in docs/numerics.md.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> printer = NumPyLines({x: "a0"})
>>> printer.statement("t1", sp.sin(x) + 2*x)
['t1 = ((2*a0) + numpy.sin(a0))']
>>> MathLines({x: "a0"}).statement("t1", sp.sin(x))
['t1 = math.sin(a0)']
"""

from __future__ import annotations

import builtins
import functools
import math
from itertools import count

import numpy
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ..errors import NoRuleError
from . import kernels
from .chunks import LONG_TERM, WIDTH, chunked, delete_lines
from .schedule import is_name
from .stable_forms import LogAddExp

__all__ = ["NAMESPACE", "GeneratedNames", "MathLines", "NumPyLines", "TorchLines"]

try:  # SciPy prints erf, gamma, Bessel functions...; without it NumPy's set remains
    import scipy.special
    from sympy.printing.numpy import SciPyPrinter as _BasePrinter

    NAMESPACE = {"numpy": numpy, "scipy": scipy}
except ImportError:  # pragma: no cover - scipy is optional
    from sympy.printing.numpy import NumPyPrinter as _BasePrinter

    NAMESPACE = {"numpy": numpy}

NAMESPACE.update(functools=functools, builtins=builtins, math=math)  # Max of many; Sum
NAMESPACE["kernels"] = kernels  # fused kernels: what the torch printer calls (NumPy's)


class GeneratedNames:
    """What every printer of generated code shares: our names only, wide sums folded.

    A printer mixing this in has ``_names`` (expression -> generated identifier),
    ``_is_wide`` and ``_folded``; a symbol without a name is refused, never printed.
    """

    def _print(self, expr, **settings):  # SymPy's own path (inside a Piecewise...) too
        if self._is_wide(expr):
            return self._folded(expr)
        return super()._print(expr, **settings)

    def _print_Symbol(self, expr):
        try:
            return self._names[expr]
        except KeyError:
            raise NoRuleError(f"the symbol {expr} has no value in the generated code") from None

    _print_Dummy = _print_MatrixSymbol = _print_Symbol  # u of an entrywise function too


class NumPyLines(GeneratedNames, _BasePrinter):
    """SciPy/NumPy printer with our identifiers and our conventions at kinks.

    A wide sum (product, ``Max``...) anywhere in an expression is accumulated
    over several lines (see :meth:`statement`), each of bounded length.
    """

    frees = True  # del the temporaries of a statement after it
    fuses = False  # calls the fused kernels (numeric/kernels.py) where a product is one

    def __init__(self, names: dict[sp.Basic, str], first_temporary: int = 1):
        super().__init__({"fully_qualified_modules": True, "inline": True, "strict": True})
        self._names = names
        self._local: set[sp.Basic] = set()  # bound inside a lambda or a Sum: not hoisted
        self._numbers = count(first_temporary)
        self._pending: list[str] = []  # lines the expression being printed needs first
        self._temporaries: list[str] = []

    def fresh(self) -> str:
        """A generated name no input and no node has (``t17``)."""
        return f"t{next(self._numbers)}"

    def statement(self, name: str, expr: sp.Basic) -> list[str]:
        """The lines computing ``expr`` into ``name``: ``t5 = ...``, after what it needs.

        A wide sum is accumulated into ``name`` itself, a chunk of terms a line
        and left to right (``t5 = (a + b + ...)``, ``t5 = (t5 + c + ...)``: the
        same additions in the same order as one long line); temporaries made on
        the way are freed after it (arrays; the floats of :class:`MathLines` are not).
        """
        self._pending, self._temporaries = [], []
        if self._is_wide(expr):
            self._folded(expr, into=name)
        else:
            self._pending.append(f"{name} = {self.text(expr)}")
        return [*self._pending, *(delete_lines(self._temporaries) if self.frees else ())]

    def printed(self, expr: sp.Basic) -> tuple[list[str], str]:
        """``expr``'s text, and the lines it needs first (a wide sum inside it)."""
        self._pending = []
        text = self.text(expr)
        return self._pending, text

    def _is_wide(self, expr) -> bool:
        if not isinstance(expr, _WIDE) or len(expr.args) <= _fold_width(expr):
            return False
        return not (self._local and expr.free_symbols & self._local)

    def _folded(self, expr: sp.Basic, into: str | None = None) -> str:
        """``expr``'s terms accumulated into ``into`` (a fresh name by default), returned."""
        if into is None:
            into = self.fresh()
            self._temporaries.append(into)
        texts = [self.text(a) for a in expr.args]
        terms = [
            a if is_name(a) or a.is_Number else self._stand_in(t, a)
            for a, t in zip(expr.args, texts, strict=True)
        ]
        total = self._stand_in(into, expr)
        start = 0
        for chunk in chunked(texts, _fold_width(expr) - 1):
            part = terms[start : start + len(chunk)]
            part = [total, *part] if start else part
            self._pending.append(f"{into} = {self.text(expr.func(*part, evaluate=False))}")
            start += len(chunk)
        return into

    def _stand_in(self, text: str, like: sp.Basic) -> sp.Basic:
        """A symbol printed as ``text`` (a name of its own when long), shaped as ``like``."""
        if len(text) > LONG_TERM:
            name = self.fresh()
            self._temporaries.append(name)
            self._pending.append(f"{name} = {text}")
            text = name
        symbol = (
            sp.MatrixSymbol(f"chunk{len(self._names)}", *like.shape)
            if like.is_Matrix
            else sp.Dummy()
        )
        self._names[symbol] = text
        return symbol

    # Matrix operations print as NumPy array operations, one call for the whole batch.
    def _print_MatMul(self, expr):
        scalars = [self.text(a) for a in expr.args if not a.is_Matrix]
        factors = [a for a in expr.args if a.is_Matrix]
        product = self._ones_product(factors)
        if product is None:
            matrices = [self.text(a) for a in factors]
            product = matrices[0] if len(matrices) == 1 else "(" + " @ ".join(matrices) + ")"
        return "(" + "*".join([*scalars, product]) + ")" if scalars else product

    def _ones_product(self, factors) -> str | None:
        """``1 bᵀ`` broadcasts, ``1ᵀ M`` and ``M 1`` sum: no product with a matrix of ones."""
        if len(factors) != 2 or not any(isinstance(f, sp.OneMatrix) for f in factors):
            return None
        left, right = factors
        if isinstance(left, sp.OneMatrix) and left.cols == 1:  # 1 bᵀ: b's row, repeated
            shape = f"({self.text(left.rows)}, {self.text(right.cols)})"
            return f"numpy.broadcast_to({self.text(right)}, {shape})"
        if isinstance(left, sp.OneMatrix) and left.rows == 1:  # 1ᵀ M: column sums
            return f"{self.text(right)}.sum(axis=0, keepdims=True)"
        if isinstance(right, sp.OneMatrix) and right.cols == 1:  # M 1: row sums
            return f"{self.text(left)}.sum(axis=1, keepdims=True)"
        return None

    def _print_MatAdd(self, expr):
        return "(" + " + ".join(self.text(a) for a in expr.args) + ")"

    def _print_HadamardProduct(self, expr):
        fused = self._fused(expr.args) if self.fuses else None
        if fused is not None:
            return fused
        return "(" + "*".join(self.text(a) for a in expr.args) + ")"

    def _fused(self, factors) -> str | None:
        """``kernels.tanh_backward(g, a)`` for ``tanh'(a)`` (``1 - a²`` entrywise) times ``g``."""
        derivative = next((f for f in factors if _is_tanh_derivative(f)), None)
        if derivative is None or len(factors) < 2:
            return None
        rest = [self.text(f) for f in factors if f is not derivative]
        g = rest[0] if len(rest) == 1 else "(" + "*".join(rest) + ")"
        return f"kernels.tanh_backward({g}, {self.text(derivative.expr)})"

    def _print_HadamardPower(self, expr):
        return f"{self.text(expr.base)}**{self.text(expr.exp)}"

    def _print_MatPow(self, expr):
        return f"numpy.linalg.matrix_power({self.text(expr.base)}, {self.text(expr.exp)})"

    def _print_Transpose(self, expr):
        return f"{self.text(expr.arg)}.T"

    def _print_ElementwiseApplyFunction(self, expr):
        u = sp.Dummy("u")
        argument = self.bound(expr.expr)
        if argument is not None:  # the function's body on the argument's name
            self._names[u] = argument
            return f"({self.text(expr.function(u))})"
        self._names[u] = "u"
        self._local.add(u)
        return f"(lambda u: {self.text(expr.function(u))})({self.text(expr.expr)})"

    def bindable(self, expr: sp.Basic) -> bool:
        """Can ``expr`` be named on a line of its own (no variable only a generator binds)?"""
        return not (self._local and expr.free_symbols & self._local)

    def bound(self, expr: sp.Basic, text: str | None = None) -> str | None:
        """A name holding ``expr`` (printed as ``text``) for this statement, or None in a lambda.

        What a form reads several times is named once, on a line before the
        statement (freed after it), never bound by a ``lambda``: Python compiles
        a function in time proportional to its lambdas times its local names,
        quadratic in a graph of entrywise functions.  Inside a ``Sum`` (whose
        index only its generator binds) there is no such line: None.
        """
        if not self.bindable(expr):
            return None
        text = self.text(expr) if text is None else text
        if text.isidentifier():
            return text
        name = self.fresh()
        self._temporaries.append(name)
        self._pending.append(f"{name} = {text}")
        return name

    def _print_Trace(self, expr):
        return f"numpy.trace({self.text(expr.arg)})"

    def _print_Determinant(self, expr):
        return f"numpy.linalg.det({self.text(expr.arg)})"

    def _print_Inverse(self, expr):
        return f"numpy.linalg.inv({self.text(expr.arg)})"

    def _print_Identity(self, expr):
        return f"numpy.eye({self.text(expr.rows)})"

    def _print_OneMatrix(self, expr):
        return f"numpy.ones(({self.text(expr.rows)}, {self.text(expr.cols)}))"

    def _print_ZeroMatrix(self, expr):
        return f"numpy.zeros(({self.text(expr.rows)}, {self.text(expr.cols)}))"

    def _print_ZeroSafeProduct(self, expr):
        delta, partial = (self.text(a) for a in expr.args)
        return f"numpy.where({delta} == 0, 0.0, {delta}*{partial})"

    def _print_FunctionCall(self, expr):  # code, not mathematics: its name is any text
        raise PrintMethodNotImplementedError(f"Unsupported by {type(self)}: FunctionCall")

    def _print_DiracDelta(self, expr):
        return f"numpy.zeros(numpy.shape({self._print(expr.args[0])}))"

    def _print_Heaviside(self, expr):
        at_zero = expr.args[1] if len(expr.args) > 1 else sp.S.Half
        return f"numpy.heaviside({self._print(expr.args[0])}, {self._print(at_zero)})"

    def _minmax(self, expr, fn):
        args = [self._print(a) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = f"numpy.{fn}({out}, {a})"
        return out

    def _print_Float(self, expr):
        """The nearest double, as Python writes it: SymPy's 15 digits may name another one
        (``Float(0.1 + 0.2)`` prints ``0.300000000000000``, which reads back as 0.3)."""
        value = float(expr)
        if not math.isfinite(value):
            return super()._print_Float(expr)
        return repr(value)

    def _print_Max(self, expr):
        return self._minmax(expr, "maximum")

    def _print_Min(self, expr):
        return self._minmax(expr, "minimum")

    # SymPy's printer orders terms and checks precedence: about 0.25 ms a line.
    # The common operations of a node print directly; the rest goes to SymPy.
    def text(self, expr: sp.Basic) -> str:
        """Python source for one node's (small) expression."""
        if is_name(expr):
            return self._print_Symbol(expr)
        if self._is_wide(expr):
            return self._folded(expr)
        if expr.is_Matrix and type(expr).__name__ in _MATRIX_PRINTED:
            return getattr(self, f"_print_{type(expr).__name__}")(expr)
        if expr.is_Integer and abs(expr) >= 2**63:  # NumPy makes such an int an object array
            return f"({float(expr)!r})"
        if expr.is_Integer:
            return str(int(expr)) if expr >= 0 else f"({int(expr)})"
        if expr.is_Rational:
            return f"({expr.p}/{expr.q})"
        if expr.is_Float:
            return self._print_Float(expr)
        if type(expr) in _PRINTED_DIRECTLY:  # SymPy's doprint around them costs ~40 µs
            return getattr(self, f"_print_{type(expr).__name__}")(expr)
        if isinstance(expr, sp.Add):  # a - b, not a + (-b): one array op fewer, the same bits
            terms = [self.text(expr.args[0])]
            for term in expr.args[1:]:
                negated = _negated(term)
                terms.append(
                    f"- {self.text(negated)}" if negated is not None else f"+ {self.text(term)}"
                )
            return "(" + " ".join(terms) + ")"
        if isinstance(expr, sp.Mul):
            negative = expr.args[0] == -1
            factors = [self.text(a) for a in expr.args[negative:]]
            factors = [f for f in factors if f != "1"] or ["1"]  # δ_L = 1 is printed as 1
            return "(" + "-" * negative + "*".join(factors) + ")"
        if isinstance(expr, sp.Pow) and expr.exp.is_Integer:
            # a float exponent when negative: NumPy refuses int**negative int
            n = int(expr.exp)
            return f"{self.text(expr.base)}**{n if n > 0 else f'({float(n)})'}"
        if isinstance(expr, sp.Pow) and expr.exp == sp.S.Half:
            return f"numpy.sqrt({self.text(expr.base)})"
        if type(expr) in _NUMPY_FUNCTIONS:
            return f"numpy.{_NUMPY_FUNCTIONS[type(expr)]}({self.text(expr.args[0])})"
        bound = {s for s in expr.atoms(sp.Symbol) if s not in self._names} - expr.free_symbols
        for s in sorted(bound, key=lambda s: s.name):  # a Sum's index: named by us too
            self._names[s] = f"i{len(self._names)}"
            self._local.add(s)
        return self.doprint(expr)


def _negated(term: sp.Basic) -> sp.Basic | None:
    """``-term`` when ``term`` is a negative number or has one as its coefficient, else None."""
    if term.is_Number and term.is_negative:
        return -term
    if isinstance(term, sp.Mul) and term.args[0].is_Number and term.args[0].is_negative:
        rest = term.args[1:]
        return sp.Mul(-term.args[0], *rest, evaluate=False) if term.args[0] != -1 else sp.Mul(*rest)
    return None


def _is_tanh_derivative(e: sp.Basic) -> bool:
    """``(1 - u²)`` entrywise: the δ-lines' ``tanh'``, written in the node ``a = tanh(z)``."""
    if not isinstance(e, ElementwiseApplyFunction) or not isinstance(e.function, sp.Lambda):
        return False
    variables = e.function.variables
    return len(variables) == 1 and e.function.expr == 1 - variables[0] ** 2


class TorchLines(NumPyLines):
    """The torch backend's printer: fused kernels where torch has them (``tanh_backward``)."""

    fuses = True


_WIDE = (sp.Add, sp.Mul, sp.MatAdd, sp.HadamardProduct, sp.Max, sp.Min, LogAddExp)


def _fold_width(expr: sp.Basic) -> int:
    """Terms of ``expr`` on one line; LogAddExp's printed form grows a lambda per term."""
    return 8 if isinstance(expr, LogAddExp) else WIDTH


_PRINTED_DIRECTLY = {sp.Max, sp.Min, sp.Heaviside}  # by our own _print_ methods, not doprint

_MATRIX_PRINTED = {
    "MatMul", "MatAdd", "HadamardProduct", "Transpose", "ElementwiseApplyFunction",
    "Inverse", "Identity", "OneMatrix", "ZeroMatrix", "HadamardPower", "MatPow",
}  # fmt: skip


_NUMPY_FUNCTIONS = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
    sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh", sp.asin: "arcsin",
    sp.acos: "arccos", sp.atan: "arctan", sp.asinh: "arcsinh", sp.acosh: "arccosh",
    sp.atanh: "arctanh",
}  # fmt: skip


class MathLines(NumPyLines):
    """Floats and ``math``, which raises where NumPy is inf/nan: the caller then runs NumPy."""

    frees = False  # floats: nothing to free, and a hoisted name serves every later line

    def __init__(self, names: dict[sp.Basic, str], first_temporary: int = 1):
        super().__init__(names, first_temporary)
        self.printmethod = "_mathcode"  # not _numpycode: the stable forms have their own
        self._hoisted_names: dict[str, str] = {}  # text -> the name holding it (lines are SSA)

    def text(self, expr: sp.Basic) -> str:
        if type(expr) in _MATH_FUNCTIONS:
            return f"math.{_MATH_FUNCTIONS[type(expr)]}({self.text(expr.args[0])})"
        if isinstance(expr, sp.Pow) and not expr.exp.is_Integer:  # math.pow raises, ** is complex
            if expr.exp == sp.S.Half:
                return f"math.sqrt({self.text(expr.base)})"
            return f"math.pow({self.text(expr.base)}, {self.text(expr.exp)})"
        return super().text(expr)

    def _print(self, expr, **settings):  # inside a Piecewise too
        if type(expr) in _MATH_FUNCTIONS or isinstance(expr, sp.Pow):
            return self.text(expr)
        if isinstance(expr, LogAddExp):  # its NumPy form, on floats
            return expr._numpycode(self)
        if isinstance(expr, sp.core.relational.Relational):  # And, Or: NumPy's
            return f"({self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)})"
        return _MATH_CONSTANTS.get(expr) or super()._print(expr, **settings)

    def _print_Piecewise(self, expr):
        out = "math.nan"  # numpy.select's default
        for value, test in reversed(expr.args):
            value = self._print(value)
            out = value if test == sp.true else f"({value} if {self._print(test)} else {out})"
        return out

    def _hoisted(self, expr: sp.Basic, text: str | None = None) -> str:  # a name holding expr
        if self._local and expr.free_symbols & self._local:  # a Sum's index: NumPy's path
            raise NoRuleError("a stable form inside a Sum has no scalar form")
        text = self.text(expr) if text is None else text
        if text.isidentifier():
            return text
        if text not in self._hoisted_names:  # exp(-|u|) of a softplus and a sigmoid of u: once
            self._hoisted_names[text] = self.fresh()
            self._pending.append(f"{self._hoisted_names[text]} = {text}")
        return self._hoisted_names[text]

    def _print_ZeroSafeProduct(self, expr):
        delta, partial = self._hoisted(expr.args[0]), self.text(expr.args[1])
        return f"(0.0 if {delta} == 0 else {delta}*{partial})"

    def branches(self, arg: sp.Basic, form: str) -> str:
        """``form`` of ``u`` = ``arg`` and ``e = exp(-|u|)``, each a name: a stable form's sides."""
        u = self._hoisted(arg)
        e = self._hoisted(sp.Dummy(), f"math.exp(-{u} if {u} >= 0 else {u})")
        return "(" + form.format(u=u, e=e) + ")"


_MATH_FUNCTIONS = {k: v.replace("arc", "a") for k, v in _NUMPY_FUNCTIONS.items()}
_MATH_FUNCTIONS.update({log1p: "log1p", expm1: "expm1", sp.Abs: "fabs"})
_MATH_CONSTANTS = {sp.pi: "math.pi", sp.E: "math.e", sp.oo: "math.inf", sp.nan: "math.nan"}
