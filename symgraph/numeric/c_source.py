"""A C99 translation unit of the value and gradient: ``symgraph_value_and_grad``.

``int symgraph_value_and_grad(const double *args, double *out)`` reads the
arguments in ``f.args`` order (``grad.lambdify().args``; a matrix row-major,
its size fixed by its declared shape) and writes the value, then every partial
in ``wrt`` order (a matrix weight's partial row-major).  It returns 0 when
every output is finite and 1 otherwise (``out`` is written either way).  The
header comment lists each argument's and each output's offset.

The body is the straight-line program every backend runs
(:func:`~symgraph.numeric.lines.compiled_lines` and
:func:`~symgraph.numeric.stable.stable_lines`), one C statement a line; a
matrix line becomes loops over its entries, a product one loop more, on
arrays of fixed size declared on the stack.  Only ``<math.h>`` is used.  Every
identifier of the body is checked to be one the generator writes (a name of
ours, a keyword, a function of ``<math.h>``), and no string, character or
preprocessor text may appear in it.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> source = sg.gradient(w**2 * x, wrt=[w]).source("c")
>>> print(source[source.rindex("int symgraph"):])
int symgraph_value_and_grad(const double *args, double *out)
{
    const double a0 = args[0];
    const double a1 = args[1];
    double t1 = pow(a1, 2);
    double t2 = a0*t1;
    double t3 = a0;
    double t4 = 2*a1*t3;
    out[0] = t2;
    out[1] = t4;
    for (int k = 0; k < 2; ++k) {
        if (!isfinite(out[k])) {
            return 1;
        }
    }
    return 0;
}
<BLANKLINE>
"""

from __future__ import annotations

import re
from itertools import count

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError

from .. import __version__
from ..core.gradient import Gradient
from ..core.sizes import shown
from ..errors import GraphError, NoRuleError
from .c_matrix import Entries
from .c_printer import C_FUNCTIONS, CPrinter
from .lines import argument_order, compiled_lines
from .schedule import live_lines, without_aliases
from .stable import stable_lines

__all__ = ["c_source", "display_name", "fixed_shape"]

FUNCTION = "symgraph_value_and_grad"
_KEYWORDS = frozenset({"const", "double", "int", "for", "if", "return"})
_OURS = re.compile(r"(?:[ato]\d+|[ijk])\Z")
_TOKEN = re.compile(
    r"\s+|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
    r"|(?P<op>&&|\|\||[-+*/%<>=!?:;,()\[\]{}&|.])"
)
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def display_name(name: str) -> str:
    """``name`` for a comment or a docstring: as it is when plain, else escaped.

    A plain name is letters, digits and ``_`` and starts with a letter; in
    any other every character but a letter or digit is written ``\\xNN``, so
    no name can end a comment, open a string or spell code.

    >>> display_name("w1"), display_name("__import__")
    ('w1', '\\\\x5f\\\\x5fimport\\\\x5f\\\\x5f')
    """
    if _PLAIN.match(name):
        return name
    out = []
    for c in name:
        if c.isascii() and c.isalnum():
            out.append(c)
        else:
            code = ord(c)
            out.append(
                f"\\x{code:02x}"
                if code < 256
                else f"\\u{code:04x}"
                if code < 65536
                else f"\\U{code:08x}"
            )
    return "".join(out)


def fixed_shape(symbol: sp.Basic) -> tuple[int, int]:
    """``symbol``'s (rows, columns) as numbers; a scalar is (1, 1).

    Raises
    ------
    GraphError
        For a symbolic size (``n`` in ``MatrixSymbol("X", n, d)``).
    """
    shape = getattr(symbol, "shape", (1, 1))
    if not all(isinstance(d, (int, sp.Integer)) for d in shape):
        rows, cols = shape
        raise GraphError(
            f"C source needs fixed sizes: {display_name(symbol.name)} is {rows}×{cols}; "
            "declare it with numbers (MatrixSymbol(name, 100, 3))"
        )
    return int(shape[0]), int(shape[1])


def c_source(grad: Gradient) -> str:
    """The C99 source of ``grad``'s value and gradient (see the module docstring).

    Raises
    ------
    GraphError
        A symbolic matrix size, or a node with no C form (named).
    """
    args = argument_order(grad)
    arg_shapes = [fixed_shape(s) for s in args]
    targets = [grad.output, *grad.wrt]
    out_shapes = [(1, 1), *(fixed_shape(w) for w in grad.wrt)]
    assignments, outputs = compiled_lines(grad)
    lines, alias = without_aliases(live_lines(stable_lines(assignments), outputs), args)
    names: dict[sp.Basic, str] = {}
    body = Body(names, count(len(lines) + 1))
    offset = 0
    for k, (symbol, (rows, cols)) in enumerate(zip(args, arg_shapes, strict=True)):
        names[symbol] = f"a{k}"
        if symbol.is_Matrix:
            body.arrays[f"a{k}"] = (rows, cols)
            body.add([f"const double *a{k} = args + {offset};"], ("the function", FUNCTION))
        else:
            body.add([f"const double a{k} = args[{offset}];"], ("the function", FUNCTION))
        offset += rows * cols
    names.update((target, f"t{k}") for k, (target, _) in enumerate(lines, start=1))
    for target, source in alias.items():
        names[target] = names.get(source) or body.printer._print(source)
        if target.is_Matrix and source.is_Matrix:
            body.arrays[names[target]] = body.arrays.get(names[source], fixed_shape(target))
    numbers = {t: v for t, v in alias.items() if v.is_Number}  # δ_L = 1: 2*t7, not 2*t7*1
    for target, expr in lines:
        if numbers and not expr.free_symbols.isdisjoint(numbers):
            expr = expr.xreplace(numbers)
        body.line(names[target], expr, target)
    total = 0
    for k, (out, (rows, cols)) in enumerate(zip(outputs, out_shapes, strict=True)):
        if rows * cols == 1 and not getattr(out, "is_Matrix", False):
            body.scalar(f"out[{total}]", out, (targets[k], out), declare=False)
        else:
            body.add([f"double *o{k} = out + {total};"], (targets[k], out))
            body.arrays[f"o{k}"] = (rows, cols)
            body.fill(f"o{k}", out, (targets[k], out), shape=(rows, cols))
        total += rows * cols
    body.add(
        [
            f"for (int k = 0; k < {total}; ++k) {{",
            "    if (!isfinite(out[k])) {",
            "        return 1;",
            "    }",
            "}",
            "return 0;",
        ],
        ("the outputs", tuple(outputs)),
    )
    body.check()
    header = _header(grad, args, arg_shapes, out_shapes, offset, total, body.stack)
    code = [f"int {FUNCTION}(const double *args, double *out)", "{"]
    code += ["    " + line for line in body.lines] + ["}", ""]
    return header + "\n#include <math.h>\n\n" + "\n".join(code)


class Body(Entries):
    """The statements of the function, each with the node (or output) it computes."""

    def __init__(self, names: dict, numbers):
        super().__init__(CPrinter(names, numbers))
        self.lines: list[str] = []
        self.made_by: list = []
        self._where = ("the function", FUNCTION)

    def add(self, lines: list[str], what=None) -> None:
        self.lines.extend(lines)
        self.made_by.extend([what or self._where] * len(lines))

    def line(self, name: str, expr: sp.Basic, target: sp.Basic) -> None:
        """``target = expr``: a ``double`` or a ``double[rows*cols]`` filled entry by entry."""
        if getattr(target, "is_Matrix", False):
            rows, cols = fixed_shape(target)
            self.arrays[name] = (rows, cols)
            self.stack += rows * cols
            self.add([f"double {name}[{rows * cols}];"], (target, expr))
            self.fill(name, expr, (target, expr), shape=(rows, cols))
        else:
            self.scalar(name, expr, (target, expr), declare=True)

    def scalar(self, name: str, expr: sp.Basic, where, declare: bool) -> None:
        with self._printing(where):
            value = self.lowered(expr)
            self.add(self.printer.statement(name, value, declare), where)

    def fill(self, name: str, expr: sp.Basic, where, shape) -> None:
        with self._printing(where):
            self.fill_entries(name, expr, shape)

    def _printing(self, where):
        return _CForm(self, where)

    def check(self) -> None:
        """Refuse any body text the generator itself does not write (naming the node)."""
        for k, line in enumerate(self.lines):
            problem = _problem(line)
            if problem:
                where, expr = self.made_by[k]
                where = where if isinstance(where, str) else shown(where)
                raise GraphError(f"cannot compile {where} = {shown(expr)} to C: {problem}")


class _CForm:
    """Printing one node: a printer's refusal becomes a GraphError naming the node."""

    def __init__(self, body: Body, where):
        self.body, self.where = body, where

    def __enter__(self):
        self.body._where = self.where

    def __exit__(self, kind, err, tb):
        if err is None:
            return False
        where, expr = self.where
        text = where if isinstance(where, str) else shown(where)
        if isinstance(err, PrintMethodNotImplementedError):
            what = err.args[0].splitlines()[0].split(": ")[-1] if err.args else "it"
            reason = f"no C form for {shown(what)}"
        elif isinstance(err, GraphError):
            reason = str(err)
        elif isinstance(err, (NoRuleError, KeyError, TypeError, ValueError, ArithmeticError)):
            reason = "no C form"
        else:
            return False
        raise GraphError(f"cannot compile node {text} = {shown(expr)} to C: {reason}") from None


def _problem(line: str) -> str | None:
    position = 0
    while position < len(line):
        token = _TOKEN.match(line, position)
        if token is None:
            return f"the text {shown(line[position : position + 20])} is not generated code"
        name = token.group("name")
        if name and not (
            name in _KEYWORDS or name in C_FUNCTIONS or _OURS.match(name) or name in ("args", "out")
        ):
            return f"the name {shown(name)} is not generated code"
        position = token.end()
    return None


def _header(grad, args, arg_shapes, out_shapes, n_args, n_out, stack) -> str:
    def rows(symbols, shapes, start=0):
        text, offset = [], start
        for label, (r, c) in zip(symbols, shapes, strict=True):
            span = f"[{offset}]" if r * c == 1 else f"[{offset}..{offset + r * c - 1}]"
            size = "" if r * c == 1 else f", {r}x{c} row-major"
            text.append(f" *   {span:<14} {label}{size}")
            offset += r * c
        return text

    output = display_name(grad.output.name)
    labels = [f"{output}, the value"]
    labels += [f"d{output}/d{display_name(w.name)}" for w in grad.wrt]
    lines = [
        f"/* Value and gradient of {output}, generated by symgraph {__version__}.",
        " *",
        f" * int {FUNCTION}(const double *args, double *out)",
        " * returns 0 when every output is finite, 1 when one is not (inf or nan;",
        " * out is written either way).",
        " *",
        f" * args: {n_args} doubles, inputs sorted by name, then the weights",
        *rows([display_name(s.name) for s in args], arg_shapes),
        f" * out: {n_out} doubles, the value then each partial in the order of the weights",
        *rows(labels, out_shapes),
        " *",
        " * At kinks: Heaviside(0) = 1/2 unless given, sign(0) = 0, DiracDelta = 0.",
    ]
    if stack:
        lines.append(f" * Intermediate matrices: {stack} doubles on the stack.")
    lines += [" * Build: cc -O2 -shared -fPIC file.c -o file.so -lm", " */"]
    return "\n".join(lines)
