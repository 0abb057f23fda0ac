"""Safe text → SymPy: a whitelisted parser for expressions, assignments and points.

Text is parsed with Python's :mod:`ast` module and the tree is walked
iteratively against a whitelist. Nothing is ever handed to ``eval``, ``exec``,
``sympify`` or ``sympy.parsing``: a name is only ever a real symbol, a known
constant (``pi``, ``E``) or a whitelisted function (see :data:`FUNCTIONS`).

Accepted syntax
    int and float literals (floats become exact rationals: ``0.5`` is ``1/2``),
    names, ``+ - * / **``, unary ``+ -``, parentheses, calls of the functions in
    :data:`FUNCTIONS` by plain name, ``Piecewise((expr, cond), ..., (expr, True))``
    and ``where(cond, a, b)``. ``^`` is refused (use ``**``).
Conditions (only inside ``Piecewise`` and ``where``)
    comparisons ``< <= > >=``, ``==`` and ``!=`` (as SymPy ``Eq`` and ``Ne``,
    also written ``Eq(a, b)``, ``Ne(a, b)``), chained comparisons, ``True``,
    ``False``, and combinations with ``and``/``&``, ``or``/``|``, ``not``/``~``.
Matrices (only with declared matrix names: ``matrices={"W": (2, 3), "X": ("n", "d")}``)
    declared names are ``MatrixSymbol`` s (size names are positive integer
    symbols, also usable as numbers: ``trace(R.T @ R)/n``); ``A @ B`` and
    ``A * B`` are matrix products, ``A.T`` the transpose (the only attribute
    allowed), ``+ -`` and scalar ``*``/``/`` work on matrices; the functions of
    :data:`MATRIX_FUNCTIONS` (``trace det inv sum norm logsumexp softmax
    hadamard``); every function of :data:`FUNCTIONS` applied to one matrix acts
    entrywise (``tanh(W @ x)``). Shapes are checked as the text is built.
Limits
    at most 100,000 characters, 50,000 nodes, nesting depth 200 (a chain of
    ``+``/``-`` or of ``*``/``/`` counts as one level), integer literals of at most
    1,000 digits, and powers of numbers of at most 10,000 bits.

Every refusal raises :class:`~symgraph.errors.ParseError` with a one-line
message saying what was refused and where.

Examples
--------
>>> from symgraph.parse import parse_expr
>>> parse_expr("tanh(w*x + b) + 0.5")
tanh(b + w*x) + 1/2
>>> parse_expr("x.__class__")
Traceback (most recent call last):
    ...
symgraph.errors.ParseError: attribute access is not allowed: 'x.__class__' at column 1
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import sympy as sp

from .errors import ParseError
from .matfuncs import FrobeniusNorm, LogSumExp, Softmax, SumEntries

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MATRIX_FUNCTIONS",
    "parse_assignments",
    "parse_expr",
    "parse_matrices",
    "parse_matrix_point",
    "parse_point",
    "parse_symbols",
]

MAX_CHARS = 100_000
MAX_DEPTH = 200
MAX_NODES = 50_000
MAX_INT_DIGITS = 1000
MAX_FLOAT_EXPONENT = 1000
MAX_POWER_BITS = 10_000
MAX_TOTAL_POWER_BITS = 100_000
MAX_ROOT_BITS = 256
MAX_GAMMA_ARG = 10_000
MAX_MATRICES = 1000
MAX_MATRIX_SIZE = 100_000

_INT_LIMIT = 10**MAX_INT_DIGITS

#: Constants by name; every other name is a real symbol (``e`` included).
CONSTANTS = MappingProxyType({"pi": sp.pi, "E": sp.E})


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def _softplus(x: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(x))


def _relu(x: sp.Expr) -> sp.Expr:
    return sp.Max(0, x)


_ONE = (1, 1)
_F = Callable[..., sp.Basic]

#: Whitelisted functions: name -> ((fewest, most) arguments, builder); most None = no limit.
FUNCTIONS: MappingProxyType[str, tuple[tuple[int, int | None], _F]] = MappingProxyType(
    {
        "exp": (_ONE, sp.exp),
        "log": ((1, 2), sp.log),
        "ln": (_ONE, sp.log),
        "sqrt": (_ONE, sp.sqrt),
        "cbrt": (_ONE, sp.cbrt),
        "sin": (_ONE, sp.sin),
        "cos": (_ONE, sp.cos),
        "tan": (_ONE, sp.tan),
        "cot": (_ONE, sp.cot),
        "sec": (_ONE, sp.sec),
        "csc": (_ONE, sp.csc),
        "asin": (_ONE, sp.asin),
        "acos": (_ONE, sp.acos),
        "atan": (_ONE, sp.atan),
        "atan2": ((2, 2), sp.atan2),
        "acot": (_ONE, sp.acot),
        "sinh": (_ONE, sp.sinh),
        "cosh": (_ONE, sp.cosh),
        "tanh": (_ONE, sp.tanh),
        "coth": (_ONE, sp.coth),
        "asinh": (_ONE, sp.asinh),
        "acosh": (_ONE, sp.acosh),
        "atanh": (_ONE, sp.atanh),
        "sigmoid": (_ONE, _sigmoid),
        "softplus": (_ONE, _softplus),
        "relu": (_ONE, _relu),
        "erf": (_ONE, sp.erf),
        "erfc": (_ONE, sp.erfc),
        "gamma": (_ONE, sp.gamma),
        "loggamma": (_ONE, sp.loggamma),
        "abs": (_ONE, sp.Abs),
        "Abs": (_ONE, sp.Abs),
        "sign": (_ONE, sp.sign),
        "Heaviside": ((1, 2), sp.Heaviside),
        "Max": ((1, None), sp.Max),
        "max": ((1, None), sp.Max),
        "Min": ((1, None), sp.Min),
        "min": ((1, None), sp.Min),
        "floor": (_ONE, sp.floor),
        "ceiling": (_ONE, sp.ceiling),
    }
)


def _is_matrix(e: object) -> bool:
    return bool(getattr(e, "is_Matrix", False))


def _shape(e: sp.Basic) -> str:
    """``2x3`` for a matrix (as declared), ``a scalar`` otherwise."""
    if not _is_matrix(e):
        return "a scalar"
    rows, cols = e.shape
    return f"{rows}x{cols}"


def _matrix_arg(name: str, a: sp.Basic) -> sp.Basic:
    if not _is_matrix(a):
        raise _error(f"{name}() takes a matrix, not the scalar {a}")
    return a


def _square(name: str, a: sp.Basic) -> sp.Basic:
    rows, cols = _matrix_arg(name, a).shape
    if rows != cols:
        raise _error(f"{name}() takes a square matrix, not a {_shape(a)} one")
    return a


def _vector(name: str, a: sp.Basic) -> sp.Basic:
    rows, cols = _matrix_arg(name, a).shape
    if rows != 1 and cols != 1:
        raise _error(f"{name}() takes a vector (nx1 or 1xn), not a {_shape(a)} matrix")
    return a


def _hadamard(*args: sp.Basic) -> sp.Basic:
    for a in args:
        _matrix_arg("hadamard", a)
    for a in args[1:]:
        if a.shape != args[0].shape:
            raise _error(f"hadamard() of different shapes: {_shape(args[0])} and {_shape(a)}")
    return sp.HadamardProduct(*args)


#: Functions of whole matrices, only with declared matrices: name -> (argument counts, builder).
MATRIX_FUNCTIONS: MappingProxyType[str, tuple[tuple[int, int | None], _F]] = MappingProxyType(
    {
        "trace": (_ONE, lambda a: sp.Trace(_square("trace", a))),
        "det": (_ONE, lambda a: sp.Determinant(_square("det", a))),
        "inv": (_ONE, lambda a: sp.Inverse(_square("inv", a))),
        "sum": (_ONE, lambda a: SumEntries(_matrix_arg("sum", a))),
        "norm": (_ONE, lambda a: FrobeniusNorm(_matrix_arg("norm", a))),
        "logsumexp": (_ONE, lambda a: LogSumExp(_vector("logsumexp", a))),
        "softmax": (_ONE, lambda a: Softmax(_vector("softmax", a))),
        "hadamard": ((2, None), _hadamard),
    }
)


# One placeholder and one Lambda per function: the same text gives the same (shared) node.
_PLACEHOLDER = sp.Dummy("d")
_LAMBDAS: dict[str, sp.Lambda] = {}


def _entrywise(name: str, function: _F, a: sp.Basic) -> sp.Basic:
    """``a.applyfunc(f)``, ``f`` the function on a placeholder (the same Lambda every time)."""
    lam = _LAMBDAS.get(name)
    if lam is None:
        lam = _LAMBDAS[name] = sp.Lambda(_PLACEHOLDER, function(_PLACEHOLDER))
    return a.applyfunc(lam)


def _no_matrices(what: str, args: Iterable) -> None:
    for a in args:
        if _is_matrix(a):
            raise _error(f"{what} takes scalars, not the {_shape(a)} matrix {a}")


# Functions with their own syntax, and those allowed only as conditions.
_SPECIAL = ("Piecewise", "where")
_CONDITION_FUNCTIONS: dict[str, _F] = {"Eq": sp.Eq, "Ne": sp.Ne}
# Roots go through the same size guard as ``**``.
_ROOTS = {"sqrt": sp.Rational(1, 2), "cbrt": sp.Rational(1, 3)}
_ALL_NAMES = sorted([*FUNCTIONS, *_SPECIAL, *_CONDITION_FUNCTIONS])
_ALL_MATRIX_NAMES = sorted([*_ALL_NAMES, *MATRIX_FUNCTIONS])

_EXPR, _COND, _PAIR = "expression", "condition", "pair"

_BINOP_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_COMPARE: dict[type, _F] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}
_LABELS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "a subscript",
    ast.Slice: "a slice",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.NamedExpr: "the walrus operator ':='",
    ast.IfExp: "'a if c else b' (use where(c, a, b))",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Starred: "a starred expression",
    ast.List: "a list",
    ast.Tuple: "a tuple outside Piecewise",
    ast.Set: "a set",
    ast.Dict: "a dict",
}
_SKIP = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
_NEWLINE = re.compile(r"\r\n|\r|\n")
_FLOAT = re.compile(r"([0-9_]*)(?:\.([0-9_]*))?(?:[eE]([+-]?[0-9_]+))?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SYMPY_ERRORS = (TypeError, ValueError, ArithmeticError, AttributeError, NotImplementedError)


_LONG_WORD = re.compile(r"\S{61,}")


def _cut(match: re.Match) -> str:
    return f"{match[0][:40]}...({len(match[0])} characters)"


def _error(message: str) -> ParseError:
    """A ParseError whose message is one line and echoes no long input back.

    Any run of more than 60 characters without a space (a 5,000-digit
    number, a huge name) is cut to its first 40 characters and its length.
    """
    return ParseError(_LONG_WORD.sub(_cut, " ".join(message.splitlines())))


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise _error(f"{what} must be a str, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise _error(f"{what} is too long: {len(text)} characters (at most {MAX_CHARS})")
    if not text.strip():
        raise _error(f"empty {what}")
    return text


def _check_name(name: str, what: str = "name") -> None:
    if name.startswith("_"):
        raise _error(f"{what} {name!r} starts with '_' (dunder and private names are not allowed)")
    if keyword.iskeyword(name):
        raise _error(f"{what} {name!r} is a Python keyword")


class _Source:
    """The text being parsed, to report locations in the user's own lines and columns."""

    def __init__(self, text: str, line_shift: int = 0, col_shift: int = 0, lines: bool = False):
        self.text = text
        self.line_shift = line_shift
        self.col_shift = col_shift
        self.show_line = lines or _NEWLINE.search(text) is not None
        self._lines: list[bytes] | None = None

    def line(self, lineno: int) -> bytes:
        if self._lines is None:
            self._lines = [line.encode("utf-8") for line in _NEWLINE.split(self.text)]
        return self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else b""

    def location(self, lineno: int, column: int) -> str:
        """``column`` is 1-based, in characters, within line ``lineno`` of the parsed text."""
        if lineno == 1:
            column += self.col_shift
        if self.show_line:
            return f"line {lineno + self.line_shift}, column {column}"
        return f"column {column}"

    def where(self, node: ast.AST) -> str:
        lineno = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        column = len(self.line(lineno)[:offset].decode("utf-8", "replace")) + 1
        return self.location(lineno, column)

    def segment(self, node: ast.AST) -> str:
        """The node's text (first line only), as written."""
        lineno, end = getattr(node, "lineno", 1), getattr(node, "end_lineno", None)
        line = self.line(lineno)
        stop = node.end_col_offset if end == lineno else len(line)
        return line[node.col_offset : stop].decode("utf-8", "replace")

    def snippet(self, node: ast.AST) -> str:
        text = self.segment(node)
        if len(text) > 40 or getattr(node, "end_lineno", 1) != getattr(node, "lineno", 1):
            text = text[:37] + "..."
        return repr(text)

    def refuse(self, what: str, node: ast.AST) -> ParseError:
        return _error(f"{what}: {self.snippet(node)} at {self.where(node)}")


def _parse_tree(text: str, source: _Source, mode: str) -> ast.AST:
    """``ast.parse`` with every way it can fail turned into a ParseError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, mode=mode)
    except SyntaxError as err:
        message = (err.msg or "invalid syntax").strip()
        if "too many nested parentheses" in message:
            message = f"nesting deeper than {MAX_DEPTH} levels (too many nested parentheses)"
        elif "integer string conversion" in message:
            message = f"integer literal longer than {MAX_INT_DIGITS} digits"
        else:
            message = f"syntax error ({message})"
        lineno, offset = err.lineno or 1, err.offset or 1
        raise _error(f"{message} at {source.location(lineno, offset)}") from None
    except (RecursionError, MemoryError):
        raise _error(
            "expression too deeply nested or too long to parse "
            f"(at most {MAX_DEPTH} levels); split it into named parts"
        ) from None
    except ValueError as err:
        raise _error(f"cannot parse: {err}") from None


def _group(node: ast.AST) -> int:
    """0 for + and -, 1 for * and /, -1 otherwise: a left chain of one group is flat."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return 0
        if isinstance(node.op, (ast.Mult, ast.Div)):
            return 1
    return -1


def _measure(root: ast.AST, source: _Source, budget: int) -> int:
    """Check depth and size iteratively; return the number of nodes."""
    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > budget:
            raise _error(f"expression too large: more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise _error(f"nesting deeper than {MAX_DEPTH} levels at {source.where(node)}")
        group = _group(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SKIP):
                continue
            flat = group >= 0 and child is node.left and _group(child) == group
            stack.append((child, depth if flat else depth + 1))
    return count


def _literal_number(node: ast.Constant, source: _Source) -> sp.Rational:
    value = node.value
    if isinstance(value, int):
        if abs(value) >= _INT_LIMIT:
            raise source.refuse(f"integer literal longer than {MAX_INT_DIGITS} digits", node)
        return sp.Integer(value)
    # A float: convert the literal as written, exactly.
    text = source.segment(node)
    match = _FLOAT.fullmatch(text)
    if match is None:
        raise source.refuse("unsupported number literal", node)
    whole, frac, exponent = match[1], match[2] or "", match[3] or "0"
    digits = (whole + frac).replace("_", "")
    exponent = exponent.replace("_", "")
    if len(digits.lstrip("0")) > MAX_INT_DIGITS:
        raise source.refuse(f"number literal longer than {MAX_INT_DIGITS} digits", node)
    if len(exponent) > 6 or abs(int(exponent)) > MAX_FLOAT_EXPONENT:
        raise source.refuse(f"number exponent beyond ±{MAX_FLOAT_EXPONENT}", node)
    scale = int(exponent) - len(frac.replace("_", ""))
    mantissa = int(digits or "0")
    if scale >= 0:
        return sp.Integer(mantissa * 10**scale)
    return sp.Rational(mantissa, 10**-scale)


def _number_bits(expr: sp.Basic) -> float:
    """log2 of the largest number a power of ``expr`` would raise (0 if none)."""
    bits = 0.0
    stack = [expr]
    while stack:
        item = stack.pop()
        if item.is_Rational:
            for part in (abs(item.p), item.q):
                if part > 1:
                    bits = max(bits, math.log2(part))
        elif item.is_Pow:
            stack.append(item.base)
        elif item.is_Add or item.is_Mul:
            stack.extend(item.args)
    return bits


@dataclass
class _Matrices:
    """Declared matrices by name, and the size symbols their shapes use."""

    names: dict[str, sp.MatrixSymbol] = field(default_factory=dict)
    sizes: dict[str, sp.Symbol] = field(default_factory=dict)


_DIGITS = re.compile(r"[0-9]{1,50}")


def _dimension(value: object, what: str, table: _Matrices) -> sp.Basic:
    """A matrix dimension: a positive int, or a size name (a positive integer symbol)."""
    if isinstance(value, sp.Integer):
        value = int(value)
    if isinstance(value, sp.Symbol):
        value = value.name
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _error(f"{what} must be a positive int or a size name, got {value!r}")
    if isinstance(value, int):
        if not 1 <= value <= MAX_MATRIX_SIZE:
            raise _error(f"{what} must be between 1 and {MAX_MATRIX_SIZE}, got {value}")
        return sp.Integer(value)
    if _DIGITS.fullmatch(value):
        return _dimension(int(value), what, table)
    name = _identifier(value, f"{what}: size name")
    if name in _ALL_MATRIX_NAMES:
        raise _error(f"{what}: size name {name!r} is a function name")
    if name in table.names:
        raise _error(f"{what}: {name!r} is both a matrix and a size name")
    return table.sizes.setdefault(name, sp.Symbol(name, integer=True, positive=True))


def _matrix_table(matrices: object) -> _Matrices:
    """Check ``{name: (rows, cols)}`` (or ``{name: MatrixSymbol}``): declared matrices."""
    if not isinstance(matrices, Mapping):
        raise _error(f"matrices must be a dict name -> (rows, cols), got {type(matrices).__name__}")
    if len(matrices) > MAX_MATRICES:
        raise _error(f"too many matrices: {len(matrices)} (at most {MAX_MATRICES})")
    table = _Matrices()
    for name, shape in matrices.items():
        clean = _identifier(name, "matrix name")
        if clean in _ALL_MATRIX_NAMES:
            raise _error(f"matrix name {clean!r} is a function name; choose another name")
        if clean in table.names or clean in table.sizes:
            raise _error(f"matrix name {clean!r} declared twice or also used as a size name")
        if isinstance(shape, sp.MatrixSymbol):
            if shape.name != clean:
                raise _error(f"matrix {clean!r} is declared as MatrixSymbol {shape.name!r}")
            shape = shape.shape
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise _error(f"matrix {clean!r}: the shape must be (rows, cols), got {shape!r}")
        table.names[clean] = None  # reserved while its sizes are read
        rows = _dimension(shape[0], f"matrix {clean!r}: rows", table)
        cols = _dimension(shape[1], f"matrix {clean!r}: columns", table)
        table.names[clean] = sp.MatrixSymbol(clean, rows, cols)
    return table


def parse_matrices(declarations: Iterable[str]) -> dict[str, tuple[int | str, int | str]]:
    """Parse declarations such as ``["W=2x3", "X=nxd"]`` into ``{name: (rows, cols)}``.

    Parameters
    ----------
    declarations : iterable of str
        Each ``NAME=ROWSxCOLS``; a size is a positive integer or a size name
        (a plain identifier without ``x``, e.g. ``n``, ``d``). ``×`` may be
        written for ``x``.

    Returns
    -------
    dict of str to (int or str, int or str)
        Ready for ``parse_expr(text, matrices=...)``.

    Raises
    ------
    ParseError
        For a malformed declaration, a bad size, or a name given twice.

    Examples
    --------
    >>> parse_matrices(["W=2x3", "X=nxd"])
    {'W': (2, 3), 'X': ('n', 'd')}
    >>> parse_matrices(["W=2"])
    Traceback (most recent call last):
        ...
    symgraph.errors.ParseError: matrix declaration 'W=2' is not NAME=ROWSxCOLS (e.g. W=2x3 or X=nxd)
    """
    if isinstance(declarations, (str, bytes)):
        raise _error("declarations must be a list of 'NAME=ROWSxCOLS', not a single str")
    found: dict[str, tuple[int | str, int | str]] = {}
    for item in declarations:
        if not isinstance(item, str):
            raise _error(f"a matrix declaration must be a str, got {type(item).__name__}")
        if len(item) > 200:
            raise _error(f"matrix declaration too long ({len(item)} characters)")
        name, sep, shape = item.partition("=")
        parts = [part.strip() for part in shape.replace("×", "x").split("x")]
        if not sep or len(parts) != 2 or not all(parts):
            raise _error(f"matrix declaration {item!r} is not NAME=ROWSxCOLS (e.g. W=2x3 or X=nxd)")
        clean = name.strip()
        if clean in found:
            raise _error(f"matrix {clean!r} declared twice")
        dims = tuple(int(p) if _DIGITS.fullmatch(p) else p for p in parts)
        found[clean] = dims
        _matrix_table({clean: dims})  # check names and sizes now, for a precise message
    if len(found) > MAX_MATRICES:
        raise _error(f"too many matrices: {len(found)} (at most {MAX_MATRICES})")
    _matrix_table(found)
    return found


def _scalar_result(expr: sp.Basic, where: str = "the expression") -> sp.Basic:
    if _is_matrix(expr):
        raise _error(
            f"{where} is a {_shape(expr)} matrix; a loss must be a scalar: "
            "reduce it with trace(...) or sum(...)"
        )
    return expr


class _Builder:
    """Turn a whitelisted ``ast`` tree into SymPy, iteratively and in post-order."""

    def __init__(self, source: _Source, matrices: _Matrices | None = None):
        self.source = source
        self.power_bits = 0.0
        self.matrices = matrices  # None: scalar syntax only

    def build(self, root: ast.AST) -> sp.Expr:
        results: list = []
        stack: list = [(root, _EXPR, None)]
        while stack:
            node, ctx, plan = stack.pop()
            if plan is None:
                plan, children = self.expand(node, ctx)
                stack.append((node, ctx, (plan, len(children))))
                stack.extend((child, cctx, None) for child, cctx in reversed(children))
                continue
            combine, count = plan
            args = results[len(results) - count :]
            del results[len(results) - count :]
            try:
                results.append(combine(*args))
                _check_float_range(results[-1])
            except ParseError as err:
                message = str(err)
                if " at column " in message or " at line " in message:
                    raise
                raise _error(f"{message} at {self.source.where(node)}") from None
            except (*_SYMPY_ERRORS, RecursionError) as err:
                reason = " ".join(str(err).split())[:80] or type(err).__name__
                raise self.source.refuse(f"cannot build this ({reason})", node) from None
        (result,) = results
        if not isinstance(result, sp.Expr):
            raise _error(f"not an expression: {result}")
        return result

    def expand(self, node: ast.AST, ctx: str) -> tuple[Callable, list]:
        """Validate ``node`` in its context: return how to combine it and its children."""
        src = self.source
        if isinstance(node, ast.Constant):
            return self.constant(node, ctx), []
        if isinstance(node, ast.Name):
            if ctx != _EXPR:
                raise src.refuse("expected a condition (a comparison or True)", node)
            value = self.name(node)
            return (lambda: value), []
        if isinstance(node, ast.BinOp):
            return self.binop(node, ctx)
        if isinstance(node, ast.UnaryOp):
            return self.unaryop(node, ctx)
        if isinstance(node, ast.Compare):
            return self.compare(node, ctx)
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            if ctx != _COND:
                raise src.refuse(f"'{word}' is only allowed in Piecewise/where conditions", node)
            function = sp.And if word == "and" else sp.Or
            return function, [(value, _COND) for value in node.values]
        if isinstance(node, ast.Call):
            return self.call(node, ctx)
        if isinstance(node, ast.Attribute) and node.attr == "T" and self.matrices is not None:
            if ctx != _EXPR:
                raise src.refuse("expected a condition (a comparison or True)", node)
            return self.transpose, [(node.value, _EXPR)]
        if isinstance(node, ast.Tuple) and ctx == _PAIR:
            if len(node.elts) != 2:
                raise src.refuse("a Piecewise piece must be a pair (expression, condition)", node)
            return (lambda expr, cond: (expr, cond)), [(node.elts[0], _EXPR), (node.elts[1], _COND)]
        label = _LABELS.get(type(node), f"'{type(node).__name__}' syntax")
        raise src.refuse(f"{label} is not allowed", node)

    def constant(self, node: ast.Constant, ctx: str) -> Callable:
        src, value = self.source, node.value
        if isinstance(value, bool):
            if ctx != _COND:
                raise src.refuse(f"{value} is only allowed as a Piecewise/where condition", node)
            result = sp.true if value else sp.false
            return lambda: result
        if ctx != _EXPR:
            raise src.refuse("expected a condition (a comparison or True)", node)
        if value is None:
            raise src.refuse("None is not allowed", node)
        if isinstance(value, str):
            raise src.refuse("strings are not allowed", node)
        if isinstance(value, bytes):
            raise src.refuse("bytes are not allowed", node)
        if isinstance(value, complex):
            raise src.refuse("complex literals are not allowed", node)
        if isinstance(value, (int, float)):
            number = _literal_number(node, src)
            return lambda: number
        raise src.refuse(f"{type(value).__name__} literals are not allowed", node)

    def name(self, node: ast.Name) -> sp.Basic:
        name = node.id
        if name.startswith("_"):
            raise self.source.refuse("names starting with '_' are not allowed", node)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if self.matrices is not None:
            known = self.matrices.names.get(name, self.matrices.sizes.get(name))
            if known is not None:
                return known
        return sp.Symbol(name, real=True)

    def transpose(self, a: sp.Basic) -> sp.Basic:
        if not _is_matrix(a):
            raise _error(f"'.T' needs a matrix, not the scalar {a}")
        return a.T

    def matmul(self, a: sp.Basic, b: sp.Basic) -> sp.Basic:
        if not (_is_matrix(a) and _is_matrix(b)):
            raise _error(f"'@' needs matrices on both sides, not {_shape(a)} @ {_shape(b)}")
        return self.product(a, b)

    @staticmethod
    def product(a: sp.Basic, b: sp.Basic) -> sp.Basic:
        if _is_matrix(a) and _is_matrix(b) and a.shape[1] != b.shape[0]:
            raise _error(
                f"shapes do not match in the product {a} * {b}: {_shape(a)} times {_shape(b)}"
            )
        return a * b

    def matrix_sum(self, terms: Sequence[sp.Basic], inverse: Sequence[bool]) -> sp.Basic:
        first = next(t for t in terms if _is_matrix(t))
        for t in terms:
            if not _is_matrix(t):
                raise _error(f"cannot add the scalar {t} to the {_shape(first)} matrix {first}")
            if t.shape != first.shape:
                raise _error(
                    f"shapes do not match in a sum: {first} is {_shape(first)}, {t} is {_shape(t)}"
                )
        result = -terms[0] if inverse[0] else terms[0]
        for t, neg in zip(terms[1:], inverse[1:], strict=True):
            result = result - t if neg else result + t
        return result

    def matrix_product(self, factors: Sequence[sp.Basic], inverse: Sequence[bool]) -> sp.Basic:
        result = factors[0]
        for f, inv in zip(factors[1:], inverse[1:], strict=True):
            if inv and _is_matrix(f):
                raise _error(f"cannot divide by the matrix {f} (use inv({f}))")
            result = result / f if inv else self.product(result, f)
        return result

    def binop(self, node: ast.BinOp, ctx: str) -> tuple[Callable, list]:
        src, op = self.source, type(node.op)
        if ctx == _COND:
            if op is ast.BitAnd:
                return sp.And, [(node.left, _COND), (node.right, _COND)]
            if op is ast.BitOr:
                return sp.Or, [(node.left, _COND), (node.right, _COND)]
            raise src.refuse("expected a condition (a comparison or True)", node)
        if op is ast.BitXor:
            raise src.refuse("'^' is not a power here (use ** for powers)", node)
        if op is ast.Pow:
            return self.power, [(node.left, _EXPR), (node.right, _EXPR)]
        if op is ast.MatMult and self.matrices is not None:
            return self.matmul, [(node.left, _EXPR), (node.right, _EXPR)]
        group = _group(node)
        if group < 0:
            symbol = _BINOP_SYMBOLS.get(op, op.__name__)
            raise src.refuse(f"operator '{symbol}' is not allowed", node)
        # Flatten the left chain (a - b + c - d) into one n-ary Add or Mul.
        operands, inverse = [], []
        while _group(node) == group:
            operands.append(node.right)
            inverse.append(isinstance(node.op, (ast.Sub, ast.Div)))
            node = node.left
        operands.append(node)
        inverse.append(False)
        operands.reverse()
        inverse.reverse()
        if group == 0:

            def combine(*terms):
                if any(map(_is_matrix, terms)):
                    return self.matrix_sum(terms, inverse)
                return sp.Add(*[-t if neg else t for t, neg in zip(terms, inverse, strict=True)])
        else:

            def combine(*factors):
                if any(map(_is_matrix, factors)):
                    return self.matrix_product(factors, inverse)
                pairs = zip(factors, inverse, strict=True)
                return sp.Mul(*[1 / f if inv else f for f, inv in pairs])

        return combine, [(operand, _EXPR) for operand in operands]

    def power(self, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if _is_matrix(base) or _is_matrix(exponent):
            raise _error(
                "'**' of a matrix is not supported (use hadamard(A, A) for entrywise "
                "squares, A @ A for products)"
            )
        if exponent.is_Rational:
            bits = _number_bits(base)
            if bits:
                size = abs(exponent) * bits
                if size > MAX_POWER_BITS:
                    raise _error(
                        f"power too large: {base} ** {_short(exponent)} would have about "
                        f"{_short(sp.Integer(int(size)))} bits (at most {MAX_POWER_BITS})"
                    )
                if not exponent.is_Integer and bits > MAX_ROOT_BITS:
                    raise _error(
                        f"exact root of a number above 2**{MAX_ROOT_BITS} is not supported"
                    )
                self.power_bits += float(size)
                if self.power_bits > MAX_TOTAL_POWER_BITS:
                    raise _error(f"powers of numbers total more than {MAX_TOTAL_POWER_BITS} bits")
        return base**exponent

    def unaryop(self, node: ast.UnaryOp, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if isinstance(node.op, (ast.Not, ast.Invert)):
            if ctx != _COND:
                word = "not" if isinstance(node.op, ast.Not) else "~"
                raise src.refuse(f"'{word}' is only allowed in Piecewise/where conditions", node)
            return sp.Not, [(node.operand, _COND)]
        if ctx != _EXPR:
            raise src.refuse("expected a condition (a comparison or True)", node)
        if isinstance(node.op, ast.USub):
            return (lambda x: -x), [(node.operand, _EXPR)]
        return (lambda x: x), [(node.operand, _EXPR)]

    def compare(self, node: ast.Compare, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if ctx != _COND:
            raise src.refuse(
                "comparison outside a condition (use where(cond, a, b) or Piecewise)", node
            )
        relations = []
        for op in node.ops:
            relation = _COMPARE.get(type(op))
            if relation is None:
                raise src.refuse(f"comparison '{type(op).__name__}' is not allowed", node)
            relations.append(relation)

        def combine(*operands):
            _no_matrices("a comparison", operands)
            pairs = zip(relations, operands, operands[1:], strict=False)
            return sp.And(*[relation(a, b) for relation, a, b in pairs])

        return combine, [(operand, _EXPR) for operand in [node.left, *node.comparators]]

    def call(self, node: ast.Call, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if not isinstance(node.func, ast.Name):
            raise src.refuse("only plain function names can be called", node)
        name = node.func.id
        if name.startswith("_"):
            raise src.refuse("names starting with '_' are not allowed", node)
        if node.keywords:
            raise src.refuse(f"keyword arguments are not allowed in {name}()", node)
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise src.refuse(f"starred arguments are not allowed in {name}()", node)
        args, count = node.args, len(node.args)
        if ctx == _COND:
            function = _CONDITION_FUNCTIONS.get(name)
            if function is None:
                raise src.refuse("expected a condition (a comparison or True)", node)
            self.check_count(node, name, count, (2, 2))

            def condition(a, b, function=function):
                _no_matrices(f"{name}()", (a, b))
                return function(a, b)

            return condition, [(arg, _EXPR) for arg in args]
        if name in _CONDITION_FUNCTIONS:
            raise src.refuse(f"{name}() is only allowed in Piecewise/where conditions", node)
        if name == "Piecewise":
            self.check_count(node, name, count, (1, None))
            for arg in args:
                if not isinstance(arg, ast.Tuple):
                    raise src.refuse("Piecewise takes pairs (expression, condition)", arg)

            def piecewise(*pieces):
                _no_matrices("Piecewise", [expr for expr, _ in pieces])
                return sp.Piecewise(*pieces)

            return piecewise, [(arg, _PAIR) for arg in args]
        if name == "where":
            self.check_count(node, name, count, (3, 3))
            children = [(args[0], _COND), (args[1], _EXPR), (args[2], _EXPR)]

            def where(cond, a, b):
                _no_matrices("where()", (a, b))
                return sp.Piecewise((a, cond), (b, True))

            return where, children
        if self.matrices is not None and name in MATRIX_FUNCTIONS:
            counts, function = MATRIX_FUNCTIONS[name]
            self.check_count(node, name, count, counts)
            return function, [(arg, _EXPR) for arg in args]
        entry = FUNCTIONS.get(name)
        if entry is None:
            names = _ALL_NAMES if self.matrices is None else _ALL_MATRIX_NAMES
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "allowed: " + " ".join(names)
            raise _error(f"unknown function {name!r} at {src.where(node)}; {hint}")
        counts, function = entry
        self.check_count(node, name, count, counts)
        if self.matrices is not None:
            return self.entrywise(name, function), [(arg, _EXPR) for arg in args]
        if name in ("gamma", "loggamma"):
            function = self.guard_gamma(function, name)
        elif name in _ROOTS:
            root = _ROOTS[name]

            def function(x: sp.Expr) -> sp.Expr:
                return self.power(x, root)

        return function, [(arg, _EXPR) for arg in args]

    def entrywise(self, name: str, function: _F) -> _F:
        """``function`` on scalars; on one matrix, applied to each entry."""
        scalar = function
        if name in _ROOTS:
            root = _ROOTS[name]
            scalar = lambda x: self.power(x, root)  # noqa: E731
        elif name in ("gamma", "loggamma"):
            scalar = self.guard_gamma(function, name)

        def apply(*args: sp.Basic) -> sp.Basic:
            if not any(map(_is_matrix, args)):
                return scalar(*args)
            if len(args) != 1:
                raise _error(
                    f"{name}() applies entrywise to one matrix, not to {len(args)} arguments"
                )
            return _entrywise(name, function, args[0])

        return apply

    def check_count(self, node: ast.Call, name: str, count: int, counts) -> None:
        low, high = counts
        if count < low or (high is not None and count > high):
            if high is None:
                wanted = f"at least {low}"
            elif low == high:
                wanted = str(low)
            else:
                wanted = f"{low} to {high}"
            plural = "" if wanted == "1" else "s"
            raise self.source.refuse(f"{name}() takes {wanted} argument{plural}, got {count}", node)

    def guard_gamma(self, function: _F, name: str) -> _F:
        def guarded(arg: sp.Expr) -> sp.Expr:
            if arg.is_Rational and abs(arg) > MAX_GAMMA_ARG:
                raise _error(f"{name}() of a number above {MAX_GAMMA_ARG} is too large")
            return function(arg)

        return guarded


_FLOAT_MAX = sp.Integer(int(sys.float_info.max))


def _check_float_range(expr: sp.Basic) -> None:
    """Refuse a number beyond the largest float: it would overflow every numeric step.

    Only the new node and its direct operands are looked at: every number
    deeper down was checked when its own node was built.
    """
    for item in (expr, *getattr(expr, "args", ())):
        if getattr(item, "is_Rational", False) and abs(item) > _FLOAT_MAX:
            digits = math.log10(abs(item.p)) - math.log10(item.q)
            raise _error(
                f"number too large for a float: about 10**{int(digits)} (floats end near "
                "1.8e308); rescale the model or write the number as a symbol"
            )


def _short(number: sp.Rational) -> str:
    text = str(number)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"


def _strip(text: str) -> tuple[str, int, int]:
    """Text without leading whitespace, and the lines and columns that were dropped."""
    stripped = text.lstrip()
    prefix = text[: len(text) - len(stripped)]
    pieces = _NEWLINE.split(prefix)
    return stripped.rstrip(), len(pieces) - 1, len(pieces[-1])


_STATEMENTS = {
    ast.Assign: "an assignment",
    ast.AugAssign: "an augmented assignment",
    ast.AnnAssign: "an annotated assignment",
    ast.Import: "an import",
    ast.ImportFrom: "an import",
}


def _describe_statement(text: str) -> str | None:
    """If ``text`` is Python statements rather than an expression, say which."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(tree.body) != 1:
        return f"{len(tree.body)} statements"
    kind = type(tree.body[0])
    if kind is ast.Expr:
        return None
    return _STATEMENTS.get(kind, f"a {kind.__name__.lower()} statement")


def _expression(
    text: str, source: _Source, budget: int, matrices: _Matrices | None = None
) -> tuple[sp.Expr, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError:
        statement = _describe_statement(text)
        if statement is not None:
            raise _error(f"expected one expression, got {statement}") from None
        tree = _parse_tree(text, source, "eval")  # raises the syntax error, located
    except (ValueError, RecursionError, MemoryError):
        tree = _parse_tree(text, source, "eval")
    count = _measure(tree.body, source, budget)
    return _Builder(source, matrices).build(tree.body), count


def parse_expr(
    text: str, matrices: Mapping[str, tuple[int | str, int | str]] | None = None
) -> sp.Expr:
    """Parse one mathematical expression, safely.

    Parameters
    ----------
    text : str
        An expression in Python syntax restricted to a whitelist: numbers,
        names, ``+ - * / **``, parentheses, the functions in :data:`FUNCTIONS`,
        ``Piecewise`` and ``where``. Every name that is not a function or
        ``pi``/``E`` becomes ``Symbol(name, real=True)``.
    matrices : dict of str to (rows, cols), optional
        Declared matrix names (see :func:`parse_matrices`): each becomes a
        ``MatrixSymbol``; a size is a positive int or a size name (a positive
        integer symbol). With it, the matrix syntax is accepted (``@``, ``.T``,
        :data:`MATRIX_FUNCTIONS`, entrywise functions) and the result must be
        a scalar.

    Returns
    -------
    sympy.Expr
        The expression. Float literals become exact rationals.

    Raises
    ------
    ParseError
        For anything outside the whitelist, empty or oversized input, with a
        one-line message naming what was refused and its column.

    Examples
    --------
    >>> parse_expr("sigmoid(w*x + b)**2")
    (exp(-b - w*x) + 1)**(-2)
    >>> parse_expr("where(x > 0, x, 0.1*x)")
    Piecewise((x, x > 0), (x/10, True))
    >>> parse_expr("2^3")
    Traceback (most recent call last):
        ...
    symgraph.errors.ParseError: '^' is not a power here (use ** for powers): '2^3' at column 1
    >>> parse_expr("trace(W.T @ W) + norm(W @ x)", matrices={"W": (2, 3), "x": (3, 1)})
    FrobeniusNorm(W*x) + Trace(W.T*W)
    """
    table = None if matrices is None else _matrix_table(matrices)
    _check_text(text, "expression")
    stripped, line_shift, col_shift = _strip(text)
    source = _Source(stripped, line_shift, col_shift, lines=bool(line_shift))
    expr, _ = _expression(stripped, source, MAX_NODES, table)
    if table is not None:
        _scalar_result(expr)
    return expr


def parse_symbols(names: Iterable[str]) -> list[sp.Symbol]:
    """Make real symbols from plain identifiers.

    Parameters
    ----------
    names : iterable of str
        Each a plain Python identifier, not a keyword, not starting with ``_``,
        and not a constant name (``pi``, ``E``). Identifiers are NFKC-normalized
        as Python does. A single ``str`` is refused (it would be split into
        letters); names must be distinct.

    Returns
    -------
    list of sympy.Symbol
        ``Symbol(name, real=True)`` for each name, in order.

    Raises
    ------
    ParseError
        If ``names`` is a str, or a name is not a plain identifier.

    Examples
    --------
    >>> parse_symbols(["w1", "b1", "x"])
    [w1, b1, x]
    >>> parse_symbols(["x"])[0].is_real
    True
    """
    if isinstance(names, (str, bytes)):
        raise _error("names must be an iterable of str, not a single str (use a list)")
    try:
        items = list(names)
    except TypeError:
        raise _error(f"names must be an iterable of str, got {type(names).__name__}") from None
    symbols, seen = [], set()
    for name in items:
        clean = _identifier(name, "symbol name")
        if clean in seen:
            raise _error(f"symbol name {clean!r} given twice")
        seen.add(clean)
        symbols.append(sp.Symbol(clean, real=True))
    return symbols


def _identifier(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise _error(f"{what} must be a str, got {type(name).__name__}")
    if len(name) > MAX_CHARS:
        raise _error(f"{what} is too long ({len(name)} characters)")
    clean = unicodedata.normalize("NFKC", name)
    if not clean.isidentifier():
        raise _error(f"{what} {name!r} is not a plain identifier")
    _check_name(clean, what)
    if clean in CONSTANTS:
        raise _error(f"{what} {clean!r} is a constant in expressions; choose another name")
    return clean


def parse_assignments(
    text: str, matrices: Mapping[str, tuple[int | str, int | str]] | None = None
) -> list[tuple[sp.Symbol, sp.Expr]]:
    """Parse lines ``name = expression``: named intermediates, in order.

    Parameters
    ----------
    text : str
        One assignment per line; blank lines and ``#`` comments are allowed.
        A later line may use earlier names, which stay symbols. A name cannot
        be assigned twice, be used before it is assigned, or use itself.
    matrices : dict of str to (rows, cols), optional
        Declared matrix names, as for :func:`parse_expr`. A name assigned a
        matrix value becomes a ``MatrixSymbol`` of that shape; the last
        assignment (the loss) must be a scalar.

    Returns
    -------
    list of (sympy.Symbol or sympy.MatrixSymbol, sympy.Expr)
        The assigned symbol (real) and its expression, in the order given.

    Raises
    ------
    ParseError
        For a line that is not ``name = expression``, a refused expression
        (see :func:`parse_expr`), or no assignment at all; the message gives
        the line and column.

    Examples
    --------
    >>> parse_assignments('''
    ... z1 = w*x + b   # pre-activation
    ... a1 = tanh(z1)
    ... ''')
    [(z1, b + w*x), (a1, tanh(z1))]
    """
    table = None if matrices is None else _matrix_table(matrices)
    _check_text(text, "assignments")
    pairs: list[tuple[sp.Symbol, sp.Expr]] = []
    assigned: dict[str, int] = {}
    used: dict[str, int] = {}
    budget = MAX_NODES
    for index, line in enumerate(_NEWLINE.split(text)):
        lineno = index + 1
        stripped, _, col_shift = _strip(line)
        if not stripped or stripped.startswith("#"):
            continue
        source = _Source(stripped, index, col_shift, lines=True)
        tree = _parse_tree(stripped, source, "exec")
        if not tree.body:
            continue
        if len(tree.body) > 1:
            raise _error(f"one assignment per line, got {len(tree.body)} on line {lineno}")
        statement = tree.body[0]
        if not isinstance(statement, ast.Assign):
            kind = _STATEMENTS.get(type(statement), f"a {type(statement).__name__} statement")
            if isinstance(statement, ast.Expr):
                kind = "an expression without a name"
            raise _error(f"expected 'name = expression' on line {lineno}, got {kind}")
        if len(statement.targets) != 1 or not isinstance(statement.targets[0], ast.Name):
            raise _error(f"expected one plain name before '=' on line {lineno}")
        target = statement.targets[0]
        name = target.id
        try:
            _check_name(name, "assigned name")
        except ParseError as err:
            raise _error(f"{err} (line {lineno})") from None
        if name in CONSTANTS:
            raise _error(f"cannot assign to the constant {name!r} on line {lineno}")
        if name in assigned:
            first = assigned[name]
            raise _error(f"{name!r} assigned again on line {lineno} (first on line {first})")
        if name in used:
            before = used[name]
            raise _error(f"{name!r} is assigned on line {lineno} but used before, on line {before}")
        budget -= _measure(statement.value, source, budget)
        expr = _Builder(source, table).build(statement.value)
        symbol = sp.Symbol(name, real=True)
        if table is not None:
            symbol = _assigned_symbol(table, name, expr, lineno)
        if symbol in expr.free_symbols:
            raise _error(f"{name!r} is defined in terms of itself on line {lineno}")
        for free in expr.free_symbols:
            used.setdefault(free.name, lineno)
        assigned[name] = lineno
        pairs.append((symbol, expr))
    if not pairs:
        raise _error("no assignments found (expected lines 'name = expression')")
    if table is not None:
        symbol, expr = pairs[-1]
        _scalar_result(expr, f"the last assignment, {symbol},")
    return pairs


def _assigned_symbol(table: _Matrices, name: str, expr: sp.Basic, lineno: int) -> sp.Basic:
    """The target of ``name = expr``: a MatrixSymbol of expr's shape when expr is a matrix."""
    if name in table.sizes:
        raise _error(f"{name!r} is a matrix size and cannot be assigned (line {lineno})")
    if name in _ALL_MATRIX_NAMES:
        raise _error(f"{name!r} is a function name and cannot be assigned (line {lineno})")
    declared = table.names.get(name)
    if not _is_matrix(expr):
        if declared is not None:
            raise _error(
                f"{name!r} is declared {_shape(declared)} but line {lineno} gives it a scalar"
            )
        return sp.Symbol(name, real=True)
    if declared is not None and declared.shape != expr.shape:
        raise _error(
            f"{name!r} is declared {_shape(declared)} but line {lineno} gives it a "
            f"{_shape(expr)} matrix"
        )
    symbol = sp.MatrixSymbol(name, *expr.shape)
    table.names[name] = symbol  # later lines use it as a matrix
    return symbol


def parse_point(text: str) -> dict[str, float]:
    """Parse a point such as ``"x=1, w=-0.5"`` into ``{name: value}``.

    Parameters
    ----------
    text : str
        Comma-separated ``name=number`` items. Numbers are decimal literals
        with an optional sign and exponent (``-0.5``, ``1e-3``); expressions
        are refused. Names follow the rules of :func:`parse_symbols`.

    Returns
    -------
    dict of str to float
        The values, in the order given.

    Raises
    ------
    ParseError
        For a malformed item, a repeated name, or a value that is not a
        finite number.

    Examples
    --------
    >>> parse_point("x=1, w=-0.5")
    {'x': 1.0, 'w': -0.5}
    """
    _check_text(text, "point")
    point: dict[str, float] = {}
    for position, item in enumerate(text.split(","), start=1):
        name, sep, value = item.partition("=")
        if not sep or "=" in value:
            raise _error(f"point item {position} {item.strip()!r} is not 'name=number'")
        clean = _identifier(name.strip(), f"point item {position}: name")
        value = value.strip()
        if _NUMBER.fullmatch(value) is None:
            raise _error(f"point item {position}: {value!r} is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise _error(f"point item {position}: {value!r} is not a finite float")
        if clean in point:
            raise _error(f"point item {position}: {clean!r} given twice")
        point[clean] = number
    return point


MAX_POINT_ENTRIES = 100_000


def _split_items(text: str) -> list[str]:
    """``text`` split at the commas outside brackets."""
    items, depth, start = [], 0, 0
    for k, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise _error(f"unbalanced ']' at column {k + 1}")
        elif char == "," and depth == 0:
            items.append(text[start:k])
            start = k + 1
    if depth:
        raise _error("unbalanced '[': a list is not closed")
    items.append(text[start:])
    return items


def _number_node(node: ast.AST, what: str) -> float:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        not isinstance(node, ast.Constant)
        or isinstance(node.value, bool)
        or not isinstance(node.value, (int, float))
    ):
        raise _error(f"{what}: only numbers are allowed in a matrix value")
    try:
        value = sign * float(node.value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise _error(f"{what}: {value} is not a finite float")
    return value


def _matrix_value(text: str, what: str) -> list[list[float]]:
    """``[[1, 2], [3, 4]]``: a list of rows of number literals, nothing else."""
    source = _Source(text)
    tree = _parse_tree(text, source, "eval").body
    if not isinstance(tree, ast.List) or not tree.elts:
        raise _error(f"{what}: a matrix is a list of rows, e.g. [[1, 2], [3, 4]]")
    rows = []
    for row in tree.elts:
        if not isinstance(row, ast.List) or not row.elts:
            raise _error(f"{what}: each row is a list of numbers, e.g. [[1, 2], [3, 4]]")
        rows.append([_number_node(item, what) for item in row.elts])
    if len({len(row) for row in rows}) != 1:
        raise _error(f"{what}: the rows have different lengths")
    return rows


def parse_matrix_point(text: str) -> dict[str, float | list[list[float]]]:
    """Parse a point with matrix values: ``"W=[[1, 2, 3], [4, 5, 6]], c=0.5"``.

    Parameters
    ----------
    text : str
        Comma-separated ``name=value`` items; a value is a number (as in
        :func:`parse_point`) or a list of rows of number literals. Nothing is
        evaluated: lists are read with :mod:`ast` and only number literals
        (with an optional sign) are accepted.

    Returns
    -------
    dict of str to float or list of list of float

    Raises
    ------
    ParseError
        For a malformed item, a repeated name, ragged rows, or anything but numbers.

    Examples
    --------
    >>> parse_matrix_point("W=[[1, 2], [3, -4.5]], c=0.5")
    {'W': [[1.0, 2.0], [3.0, -4.5]], 'c': 0.5}
    """
    _check_text(text, "point")
    if text.count("[") + text.count(",") > 2 * MAX_POINT_ENTRIES:
        raise _error(f"point too large: more than {MAX_POINT_ENTRIES} entries")
    point: dict[str, float | list[list[float]]] = {}
    for position, item in enumerate(_split_items(text), start=1):
        name, sep, value = item.partition("=")
        if not sep or "=" in value:
            raise _error(f"point item {position} {item.strip()[:40]!r} is not 'name=value'")
        clean = _identifier(name.strip(), f"point item {position}: name")
        what = f"point item {position} ({clean})"
        value = value.strip()
        if value.startswith("["):
            parsed: float | list[list[float]] = _matrix_value(value, what)
        else:
            parsed = parse_point(f"{clean}={value}")[clean]
        if clean in point:
            raise _error(f"point item {position}: {clean!r} given twice")
        point[clean] = parsed
    return point
