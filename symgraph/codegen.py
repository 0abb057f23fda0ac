"""Straight-line NumPy code from a list of assignments, one line per node.

SymPy's ``lambdify`` prints one nested expression, which overflows Python's
recursion limit on deep ones (sympy#24673).  Here every graph node is one
assignment, so the generated code grows with the graph and each printed piece
stays small.  Generated identifiers are our own (``a0``, ``t1``...), never the
user's symbol names, so no name can inject code.

Conventions at kinks (documented in docs/numerics.md): ``Heaviside(0) = 1/2``
unless the expression says otherwise, ``sign(0) = 0``, and ``DiracDelta`` is 0
(the derivative of a step wherever it exists).

Examples
--------
>>> import sympy as sp
>>> x, t = sp.symbols("x t")
>>> fn = make_function([(t, sp.sin(x))], inputs=[x], outputs=[t, 2*t])
>>> print(fn.source)
def generated(a0):
    t1 = numpy.sin(a0)
    return (t1, 2*t1)
>>> [float(v) for v in fn(0.0)]
[0.0, 0.0]
"""

from __future__ import annotations

import linecache
from collections.abc import Sequence
from itertools import count

import numpy
import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from .errors import NoRuleError

try:  # SciPy prints erf, gamma, Bessel functions...; without it NumPy's set remains
    import scipy.special
    from sympy.printing.numpy import SciPyPrinter as _BasePrinter

    _NAMESPACE = {"numpy": numpy, "scipy": scipy}
except ImportError:  # pragma: no cover - scipy is optional
    from sympy.printing.numpy import NumPyPrinter as _BasePrinter

    _NAMESPACE = {"numpy": numpy}

import functools

_NAMESPACE["functools"] = functools
_file_numbers = count()

NON_ANALYTIC = (
    sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.Piecewise, sp.Max, sp.Min,
    sp.floor, sp.ceiling, sp.frac, sp.re, sp.im, sp.arg, sp.conjugate,
    sp.core.relational.Relational,
)  # fmt: skip


class _Printer(_BasePrinter):
    """SciPy/NumPy printer with our identifiers and our conventions at kinks."""

    def __init__(self, names: dict[sp.Basic, str]):
        super().__init__({"fully_qualified_modules": True, "inline": True, "strict": True})
        self._names = names

    def _print_Symbol(self, expr):
        try:
            return self._names[expr]
        except KeyError:
            raise NoRuleError(f"the symbol {expr} has no value in the generated code") from None

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

    def _print_Max(self, expr):
        return self._minmax(expr, "maximum")

    def _print_Min(self, expr):
        return self._minmax(expr, "minimum")


class GeneratedFunction:
    """A compiled straight-line function; ``.source`` holds its Python code."""

    def __init__(self, fn, source: str, inputs: Sequence[sp.Symbol]):
        self.fn = fn
        self.source = source
        self.inputs = tuple(inputs)

    def __call__(self, *args):
        return self.fn(*args)


def make_function(
    assignments: Sequence[tuple[sp.Symbol, sp.Basic]],
    inputs: Sequence[sp.Symbol],
    outputs: Sequence[sp.Basic],
    name: str = "generated",
) -> GeneratedFunction:
    """Compile ``t_k = expr_k`` lines, then ``return outputs``, into one function.

    Warnings from NumPy (overflow, a branch of ``select`` outside its domain)
    are silenced inside the function: results carry ``nan``/``inf`` instead,
    which the callers check.
    """
    assignments = _live(assignments, outputs)
    names: dict[sp.Basic, str] = {s: f"a{k}" for k, s in enumerate(inputs)}
    printer = _Printer(names)
    lines = [f"def {name}({', '.join(names[s] for s in inputs)}):"]
    body = []
    folded: dict[sp.Basic, sp.Basic] = {}  # aliases (δ_v = δ_c) and constants: no line
    for k, (target, expr) in enumerate(assignments, start=1):
        expr = expr.xreplace(folded) if folded else expr
        if expr.is_Number or (expr.is_Symbol and expr in names):
            folded[target] = expr
            continue
        names[target] = f"t{k}"
        body.append(f"t{k} = {_print(printer, expr, target)}")
    outputs = [out.xreplace(folded) if folded else out for out in outputs]
    returned = ", ".join(_print(printer, out, out) for out in outputs)
    body.append(f"return ({returned}{',' if len(outputs) == 1 else ''})")
    source = "\n".join(lines + ["    " + line for line in body])
    filename = f"<symgraph-generated-{next(_file_numbers)}>"
    namespace = dict(_NAMESPACE)
    exec(compile(source, filename, "exec"), namespace)  # our own generated code only
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    raw = namespace[name]

    def run(*args):
        with numpy.errstate(all="ignore"):
            return raw(*args)

    return GeneratedFunction(run, source, inputs)


def _live(assignments, outputs):
    """The assignments some output depends on, in their order (dead code removed)."""
    needed: set[sp.Basic] = set()
    for out in outputs:
        needed |= out.free_symbols
    live = []
    for target, expr in reversed(assignments):
        if target in needed:
            live.append((target, expr))
            needed |= expr.free_symbols
    return live[::-1]


def _print(printer: _Printer, expr: sp.Basic, where: sp.Basic) -> str:
    try:
        return printer.doprint(expr)
    except PrintMethodNotImplementedError as err:
        raise NoRuleError(
            f"cannot compile node {where} = {expr}: no numeric form for "
            f"{err.args[0].split(': ')[-1] if err.args else 'it'}"
        ) from err
