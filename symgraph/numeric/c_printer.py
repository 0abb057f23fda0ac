"""C99 text for one line of the compiled program: SymPy's C printer, our names, our kinks.

Every value has a generated name (``a0`` an argument, ``t5`` a line, ``o1``
an output block); the user's symbol names never reach the C text.  The
conventions at kinks are those of the NumPy code (see
:mod:`symgraph.numeric.codegen`): ``Heaviside(0) = 1/2`` unless given,
``sign(0) = 0``, ``DiracDelta`` is 0, a ``Piecewise`` is a chain of ternaries
(``NAN`` where no condition holds).  A wide sum (product, ``Max``...) is
accumulated over several statements of bounded length; a value read several
times by a stable form (``σ``, softplus, log-sum-exp) gets a ``const double``
of its own (:meth:`CPrinter.hoist`).

Examples
--------
>>> import sympy as sp
>>> from itertools import count
>>> x = sp.Symbol("x")
>>> printer = CPrinter({x: "a0"}, count(1))
>>> printer.statement("t1", sp.Piecewise((x**2, x > 0), (0, True)), declare=True)
['double t1 = ((a0 > 0) ? (pow(a0, 2)) : (0));']
>>> printer.statement("t2", sp.Heaviside(x), declare=True)
['double t2 = ((a0 > 0) ? 1.0 : ((a0 < 0) ? 0.0 : (1.0/2.0)));']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import sympy as sp
from sympy.printing.c import C99CodePrinter, known_functions_C99
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from .chunks import LONG_TERM, WIDTH, chunked
from .printers import GeneratedNames
from .stable_forms import LogAddExp

__all__ = ["C_FUNCTIONS", "CPrinter", "is_operand"]

#: The identifiers of <math.h> the printer may write (functions and macros).
C_FUNCTIONS = frozenset(
    {v for v in known_functions_C99.values() if isinstance(v, str)}
    | {"fabs", "pow", "fmod", "isfinite", "NAN", "INFINITY", "HUGE_VAL"}
)
_WIDE = (sp.Add, sp.Mul, sp.Max, sp.Min, LogAddExp)
_OPERAND = re.compile(r"[A-Za-z_]\w*(\[[^\[\]]*\])?|\d+(\.\d*)?(e[+-]?\d+)?\Z")
_SMALL_INT = 2**31


def is_operand(text: str) -> bool:
    """Is ``text`` a name, an array entry or an unsigned number (no parentheses needed)?"""
    return _OPERAND.fullmatch(text) is not None


class CPrinter(GeneratedNames, C99CodePrinter):
    """SymPy's C99 printer with our identifiers, our conventions and bounded lines."""

    def __init__(self, names: dict[sp.Basic, str], numbers: Iterator[int]):
        super().__init__({"strict": True, "order": "none"})
        self._names = names
        self._numbers = numbers
        self._pending: list[str] = []

    def fresh(self) -> str:
        """A generated name nothing else has (``t17``)."""
        return f"t{next(self._numbers)}"

    def hoist(self, text: str) -> str:
        """``text`` as an operand read more than once: a ``const double`` unless already one."""
        if is_operand(text):
            return text
        name = self.fresh()
        self._pending.append(f"const double {name} = {text};")
        return name

    def statement(self, target: str, expr: sp.Basic, declare: bool) -> list[str]:
        """The statements computing ``expr`` into ``target`` (``double target = ...;``).

        A wide sum is accumulated into ``target`` itself, a chunk of terms a
        statement and left to right: the same additions in the same order.
        """
        self._pending = []
        kind = "double " if declare else ""
        if self._is_wide(expr):
            self._folded(expr, target, kind)
        else:
            self._pending.append(f"{kind}{target} = {self._print(expr)};")
        return self._pending

    def _is_wide(self, expr) -> bool:
        width = 8 if isinstance(expr, LogAddExp) else WIDTH
        return isinstance(expr, _WIDE) and len(expr.args) > width

    def _folded(self, expr: sp.Basic, into: str | None = None, kind: str = "double ") -> str:
        if into is None:
            into = self.fresh()
        width = 8 if isinstance(expr, LogAddExp) else WIDTH
        terms = [self._stand_in(self._print(a)) for a in expr.args]
        total = self._stand_in(into)
        start = 0
        for chunk in chunked([self._names[t] for t in terms], width - 1):
            part = terms[start : start + len(chunk)]
            text = self._print(expr.func(*([total, *part] if start else part), evaluate=False))
            self._pending.append(f"{kind if not start else ''}{into} = {text};")
            start += len(chunk)
        return into

    def _stand_in(self, text: str) -> sp.Dummy:
        """A symbol printed as ``text``: a name of its own when long, in parentheses if needed."""
        if len(text) > LONG_TERM:
            text = self.hoist(text)
        symbol = sp.Dummy()
        self._names[symbol] = text if is_operand(text) else f"({text})"
        return symbol

    def _print_Integer(self, expr):
        if abs(expr) < _SMALL_INT:
            return str(int(expr))
        return self._print(sp.Float(expr, 17))  # a C int would overflow

    def _print_NumberSymbol(self, expr):  # π, e...: a double literal, not M_PI (POSIX only)
        return self._print(sp.Float(expr.evalf(17), 17))

    _print_Pi = _print_Exp1 = _print_EulerGamma = _print_GoldenRatio = _print_NumberSymbol

    def _print_BooleanTrue(self, expr):
        return "1"

    def _print_BooleanFalse(self, expr):
        return "0"

    def _print_Piecewise(self, expr):
        out = "NAN"
        for value, test in reversed(expr.args):
            value = self._print(value)
            out = value if test == sp.true else f"(({self._print(test)}) ? ({value}) : ({out}))"
        return out

    def _print_Heaviside(self, expr):
        x = self.hoist(self._print(expr.args[0]))
        at_zero = self._print(expr.args[1] if len(expr.args) > 1 else sp.S.Half)
        return f"(({x} > 0) ? 1.0 : (({x} < 0) ? 0.0 : ({at_zero})))"

    def _print_DiracDelta(self, expr):
        return "0.0"

    def _print_Mod(self, expr):  # SymPy's (and NumPy's) sign: the divisor's, not fmod's
        a, b = (self.hoist(self._print(arg)) for arg in expr.args)
        r = self.hoist(f"fmod({a}, {b})")
        return f"(({r} != 0 && (({r} < 0) != ({b} < 0))) ? {r} + {b} : {r})"

    def _print_ZeroSafeProduct(self, expr):
        delta = self.hoist(self._print(expr.args[0]))
        return f"(({delta} == 0) ? 0.0 : {delta}*({self._print(expr.args[1])}))"

    def _print_FunctionCall(self, expr):  # code, not mathematics: its name is any text
        raise PrintMethodNotImplementedError(f"Unsupported by {type(self)}: FunctionCall")

    def _print_MatrixBase(self, expr):
        raise PrintMethodNotImplementedError(f"Unsupported by {type(self)}: an explicit matrix")
