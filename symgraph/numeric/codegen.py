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

import functools
import linecache
import re
import types
from collections.abc import Sequence
from itertools import count

import numpy
import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from ..core.sizes import shown
from ..errors import NoRuleError
from .chunks import delete_lines, guard_lines, return_lines, signature_lines
from .printers import NAMESPACE, MathLines, NumPyLines
from .schedule import is_name, last_uses, live_lines, schedule, without_aliases
from .source_check import UnsafeSourceError, check_source

_file_numbers = count()
_NUMPY_CALL = re.compile(r"\b(?:numpy\.(?!float64\()|scipy\.)")  # not the scalar's results


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
    namespace: dict | None = None,
    parameters: Sequence[str] | None = None,
    lines: type[NumPyLines] | None = None,
) -> GeneratedFunction:
    """Compile ``t_k = expr_k`` lines, then ``return outputs``, into one function.

    A symbolic size (``n`` in ``MatrixSymbol("X", n, d)``) is read from the
    first input that has it (``a0.shape[0]``).

    Warnings from NumPy (overflow, a branch of ``select`` outside its domain)
    are silenced inside the function: results carry ``nan``/``inf`` instead,
    which the callers check.  ``namespace``: other modules for the names
    ``numpy`` and ``scipy`` (the JAX and torch backends'), run without NumPy's errstate.

    ``scalar``: the ``math`` version (:class:`~symgraph.numeric.printers.MathLines`),
    for plain floats: it returns ``None`` unless every argument is a ``float``
    (the caller converts, or takes the NumPy path), and otherwise
    ``(value, (rest...))`` of ``numpy.float64``, the first output and the others.
    ``parameters``: the inputs' names as the function's own, for keyword calls
    (checked by :func:`~symgraph.numeric.source_check.keyword_parameters`).
    ``lines``: the printer class, a backend's own (``TorchLines``: fused kernels).
    """
    free: dict[sp.Basic, set[sp.Basic]] = {}  # each line's free symbols, walked once

    def symbols(expr: sp.Basic) -> set[sp.Basic]:
        if expr not in free:
            free[expr] = expr.free_symbols
        return free[expr]

    assignments, alias = without_aliases(live_lines(assignments, outputs, symbols), inputs)

    known: dict[sp.Basic, set[sp.Basic]] = {}

    def uses(expr: sp.Basic) -> set[sp.Basic]:
        if expr not in known:
            found = (alias.get(v, v) for v in symbols(expr))
            known[expr] = {v for v in found if is_name(v)}  # an alias of a number: none
        return known[expr]

    assignments = schedule(assignments, outputs, uses)
    names: dict[sp.Basic, str] = {s: f"a{k}" for k, s in enumerate(inputs)}
    keywords = frozenset(parameters or ())
    if parameters is not None:
        names.update(zip(inputs, parameters, strict=True))
    names.update((target, f"t{k}") for k, (target, _) in enumerate(assignments, start=1))
    for size, (array, axis) in matrix_sizes(inputs).items():
        names[size] = f"{names[array]}.shape[{axis}]"
    printer = (lines or (MathLines if scalar else NumPyLines))(
        names, first_temporary=len(assignments) + 1
    )
    for target, source in alias.items():
        names[target] = names[source] if source in names else printer.text(source)
    body, made_by = [], []  # each line, and the node (or output) it computes

    def add(lines: list[str], what) -> None:
        body.extend(lines)
        made_by.extend([what] * len(lines))

    parameters = [names[s] for s in inputs]
    definition, *unpacked = signature_lines(name, parameters, pack=f"a{len(inputs)}")
    add(unpacked, ("the function", name))
    if scalar:
        add(guard_lines(parameters), ("the function", name))
    freed = last_uses(assignments, outputs, uses)
    for (target, expr), dead in zip(assignments, freed, strict=True):
        try:  # no context manager per line: its entry and exit cost as much as a short line
            add(printer.statement(names[target], expr), (target, expr))
        except _REFUSALS as err:
            raise _no_numeric_form(err, expr, target) from err
        if not scalar:  # free big arrays as soon as nothing needs them
            add(delete_lines([names[s] for s in dead]), (target, expr))
    returned = []
    for out in outputs:
        try:
            needed, text = printer.printed(out)
        except _REFUSALS as err:
            raise _no_numeric_form(err, out, out) from err
        add(needed, (out, out))
        returned.append(text)
    if scalar:
        head, *returned = (f"numpy.float64({text})" for text in returned)
        add(return_lines(returned, printer.fresh(), head=head), ("the outputs", tuple(outputs)))
    else:
        add(return_lines(returned, printer.fresh()), ("the outputs", tuple(outputs)))
    source = "\n".join([definition] + ["    " + line for line in body])
    try:  # SymPy prints some labels as they are: only generated code may run
        checked = check_source(source, name, keywords)
    except UnsafeSourceError as err:
        where, expr = made_by[max(err.line - 2, 0)] if err.line >= 2 else ("the function", name)
        where = where if isinstance(where, str) else shown(where)
        message = f"cannot compile {where} = {shown(expr)}: no safe numeric form ({err.problem})"
        raise UnsafeSourceError(err.line, err.problem, message) from None
    filename = f"<symgraph-generated-{next(_file_numbers)}>"
    namespace = {**NAMESPACE, **(namespace or {})}
    exec(compile(checked, filename, "exec"), namespace)  # what was checked: generated code only
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    raw = namespace[name]
    if (scalar and not _NUMPY_CALL.search(source)) or namespace["numpy"] is not numpy:
        return GeneratedFunction(raw, source, inputs)  # no NumPy call, or another library's

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


# What SymPy's printers raise on something with no numeric form (zoo, nan, an unknown class).
_REFUSALS = (KeyError, TypeError, ValueError, PrintMethodNotImplementedError)


def _no_numeric_form(err: Exception, expr: sp.Basic, where: sp.Basic) -> NoRuleError:
    """A printer's refusal of ``where = expr`` as the :class:`NoRuleError` to raise."""
    if isinstance(err, PrintMethodNotImplementedError):
        what = err.args[0].splitlines()[0].split(": ")[-1] if err.args else "it"
        return NoRuleError(
            f"cannot compile node {shown(where)} = {shown(expr)}: no numeric form for {shown(what)}"
        )
    return NoRuleError(f"cannot compile node {shown(where)} = {shown(expr)}: no numeric form")


@functools.cache
def entry_code(count: int, positional_only: bool) -> types.CodeType:
    """The code of the direct entry (:mod:`~symgraph.numeric.entry`) on ``count`` parameters.

    Its text is ours alone: parameters ``p0, p1...`` (renamed by the caller,
    as data: a name never becomes text to parse) and private names, so it
    runs without :func:`check_source` (whose checks it could not pass: it has
    a ``try`` and ``_`` names).  ``_M``, ``_fast`` and ``_general`` are the
    function's globals.

    >>> entry_code(2, False).co_varnames[:4]
    ('p0', 'p1', '_more', '_extra')
    """
    params = [f"p{k}" for k in range(count)]
    given = "(" + "".join(f"{p}, " for p in params) + ")"
    slash = ", /" if positional_only else ""
    source = "\n".join(
        [
            f"def value_and_grad({', '.join(f'{p}=_M' for p in params)}{slash}, *_more, **_extra):",
            "    if _more or _extra:",
            f"        return _general({given}, _more, _extra)",
            "    try:",
            f"        _result = _fast({', '.join(params)})",
            "    except (ArithmeticError, ValueError):",
            "        _result = None",
            f"    return _general({given}, _more, _extra) if _result is None else _result",
        ]
    )
    namespace: dict = {"_M": None}  # the defaults: the caller's function has its own
    exec(compile(source, "<symgraph-entry>", "exec"), namespace)  # our text only
    return namespace["value_and_grad"].__code__
