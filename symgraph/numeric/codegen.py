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
    return (t1, (2*t1))
>>> [float(v) for v in fn(0.0)]
[0.0, 0.0]
"""

from __future__ import annotations

import builtins
import functools
import linecache
import math
from collections.abc import Sequence
from contextlib import contextmanager
from itertools import count

import numpy
import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ..core.sizes import shown
from ..errors import NoRuleError
from .chunks import LONG_TERM, WIDTH, chunked, delete_lines, return_lines, signature_lines
from .schedule import is_name, last_uses, live_lines, schedule, without_aliases
from .source_check import UnsafeSourceError, check_source
from .stable_forms import LogAddExp

try:  # SciPy prints erf, gamma, Bessel functions...; without it NumPy's set remains
    import scipy.special
    from sympy.printing.numpy import SciPyPrinter as _BasePrinter

    _NAMESPACE = {"numpy": numpy, "scipy": scipy}
except ImportError:  # pragma: no cover - scipy is optional
    from sympy.printing.numpy import NumPyPrinter as _BasePrinter

    _NAMESPACE = {"numpy": numpy}

_NAMESPACE.update(functools=functools, builtins=builtins, math=math)  # Max of many; Sum
_file_numbers = count()


class _Printer(_BasePrinter):
    """SciPy/NumPy printer with our identifiers and our conventions at kinks.

    A wide sum (product, ``Max``...) anywhere in an expression is accumulated
    over several lines (see :meth:`statement`), each of bounded length.
    """

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
        the way are freed after it.
        """
        self._pending, self._temporaries = [], []
        if self._is_wide(expr):
            self._folded(expr, into=name)
        else:
            self._pending.append(f"{name} = {self.text(expr)}")
        return [*self._pending, *delete_lines(self._temporaries)]

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

    def _print(self, expr, **settings):  # SymPy's own path (inside a Piecewise...) too
        if self._is_wide(expr):
            return self._folded(expr)
        return super()._print(expr, **settings)

    def _print_Symbol(self, expr):
        try:
            return self._names[expr]
        except KeyError:
            raise NoRuleError(f"the symbol {expr} has no value in the generated code") from None

    def _print_MatrixSymbol(self, expr):
        return self._print_Symbol(expr)

    def _print_Dummy(self, expr):  # the variable of an entrywise function: u
        return self._print_Symbol(expr)

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
        return "(" + "*".join(self.text(a) for a in expr.args) + ")"

    def _print_HadamardPower(self, expr):
        return f"{self.text(expr.base)}**{self.text(expr.exp)}"

    def _print_MatPow(self, expr):
        return f"numpy.linalg.matrix_power({self.text(expr.base)}, {self.text(expr.exp)})"

    def _print_Transpose(self, expr):
        return f"{self.text(expr.arg)}.T"

    def _print_ElementwiseApplyFunction(self, expr):
        u = sp.Dummy("u")
        self._names[u] = "u"
        self._local.add(u)
        return f"(lambda u: {self.text(expr.function(u))})({self.text(expr.expr)})"

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
        if isinstance(expr, sp.Add):
            return "(" + " + ".join(self.text(a) for a in expr.args) + ")"
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


_WIDE = (sp.Add, sp.Mul, sp.MatAdd, sp.HadamardProduct, sp.Max, sp.Min, LogAddExp)


def _fold_width(expr: sp.Basic) -> int:
    """Terms of ``expr`` on one line; LogAddExp's printed form grows a lambda per term."""
    return 8 if isinstance(expr, LogAddExp) else WIDTH


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


class _MathPrinter(_Printer):
    """Floats and ``math``, which raises where NumPy is inf/nan: the caller then runs NumPy."""

    def __init__(self, names: dict[sp.Basic, str], first_temporary: int = 1):
        super().__init__(names, first_temporary)
        self.printmethod = "_mathcode"  # not _numpycode: the stable forms have their own

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
        self._temporaries.append(self.fresh())
        self._pending.append(f"{self._temporaries[-1]} = {text}")
        return self._temporaries[-1]

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


class ZeroSafeProduct(sp.Function):
    """``δ·p`` that is 0 where ``δ`` is 0, even where ``p`` is NaN or infinite.

    Backpropagation through a ``Piecewise`` sends a zero adjoint into the
    branch not taken; that branch's partials may be undefined there
    (``1/(2*sqrt(w))`` at ``w < 0``), and 0·NaN would leak NaN into the
    gradient.  The symbolic value is the plain product.
    """

    nargs = 2

    def _eval_derivative(self, s):  # pragma: no cover - never differentiated
        return (self.args[0] * self.args[1]).diff(s)


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
    scalar: bool = False,
) -> GeneratedFunction:
    """Compile ``t_k = expr_k`` lines, then ``return outputs``, into one function.

    A symbolic size (``n`` in ``MatrixSymbol("X", n, d)``) is read from the
    first input that has it (``a0.shape[0]``).

    Warnings from NumPy (overflow, a branch of ``select`` outside its domain)
    are silenced inside the function: results carry ``nan``/``inf`` instead,
    which the callers check.  ``scalar``: the ``math`` version (:class:`_MathPrinter`).
    """
    assignments, alias = without_aliases(live_lines(assignments, outputs), inputs)

    known: dict[sp.Basic, set[sp.Basic]] = {}

    def uses(expr: sp.Basic) -> set[sp.Basic]:
        if expr not in known:
            found = (alias.get(v, v) for v in expr.free_symbols)
            known[expr] = {v for v in found if is_name(v)}  # an alias of a number: none
        return known[expr]

    assignments = schedule(assignments, outputs, uses)
    names: dict[sp.Basic, str] = {s: f"a{k}" for k, s in enumerate(inputs)}
    names.update((target, f"t{k}") for k, (target, _) in enumerate(assignments, start=1))
    for size, (array, axis) in matrix_sizes(inputs).items():
        names[size] = f"{names[array]}.shape[{axis}]"
    printer = (_MathPrinter if scalar else _Printer)(names, first_temporary=len(assignments) + 1)
    for target, source in alias.items():
        names[target] = names[source] if source in names else printer.text(source)
    body, made_by = [], []  # each line, and the node (or output) it computes

    def add(lines: list[str], what) -> None:
        body.extend(lines)
        made_by.extend([what] * len(lines))

    parameters = [names[s] for s in inputs]
    definition, *unpacked = signature_lines(name, parameters, pack=f"a{len(inputs)}")
    add(unpacked, ("the function", name))
    freed = last_uses(assignments, outputs, uses)
    for (target, expr), dead in zip(assignments, freed, strict=True):
        with _numeric_form(expr, target):
            add(printer.statement(names[target], expr), (target, expr))
        # free big arrays as soon as nothing needs them
        add(delete_lines([names[s] for s in dead]), (target, expr))
    returned = []
    for out in outputs:
        with _numeric_form(out, out):
            needed, text = printer.printed(out)
        add(needed, (out, out))
        returned.append(text)
    add(return_lines(returned, printer.fresh()), ("the outputs", tuple(outputs)))
    source = "\n".join([definition] + ["    " + line for line in body])
    try:  # SymPy prints some labels as they are: only generated code may run
        check_source(source, name)
    except UnsafeSourceError as err:
        where, expr = made_by[max(err.line - 2, 0)] if err.line >= 2 else ("the function", name)
        where = where if isinstance(where, str) else shown(where)
        message = f"cannot compile {where} = {shown(expr)}: no safe numeric form ({err.problem})"
        raise UnsafeSourceError(err.line, err.problem, message) from None
    filename = f"<symgraph-generated-{next(_file_numbers)}>"
    namespace = dict(_NAMESPACE)
    exec(compile(source, filename, "exec"), namespace)  # checked: generated code only
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    raw = namespace[name]
    if scalar and "numpy." not in source and "scipy." not in source:
        return GeneratedFunction(raw, source, inputs)

    def run(*args):
        with numpy.errstate(all="ignore"):
            return raw(*args)

    return GeneratedFunction(run, source, inputs)


def matrix_sizes(inputs: Sequence[sp.Basic]) -> dict[sp.Symbol, tuple[sp.Basic, int]]:
    """size symbol (``n``) -> (the first input with that size, axis)."""
    sizes: dict[sp.Symbol, tuple[sp.Basic, int]] = {}
    for symbol in inputs:
        for axis, d in enumerate(getattr(symbol, "shape", ())):
            if isinstance(d, sp.Symbol):
                sizes.setdefault(d, (symbol, axis))
    return sizes


@contextmanager
def _numeric_form(expr: sp.Basic, where: sp.Basic):
    """Printing ``where = expr``: a printer's refusal becomes a :class:`NoRuleError`."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as err:  # SymPy's printer on zoo, nan...
        where_text = f"{shown(where)} = {shown(expr)}"
        raise NoRuleError(f"cannot compile node {where_text}: no numeric form") from err
    except PrintMethodNotImplementedError as err:
        what = err.args[0].splitlines()[0].split(": ")[-1] if err.args else "it"
        raise NoRuleError(
            f"cannot compile node {shown(where)} = {shown(expr)}: no numeric form for {shown(what)}"
        ) from err
