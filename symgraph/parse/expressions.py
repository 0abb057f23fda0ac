"""The entry points for expressions: one expression, symbols, named assignments."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Iterable, Mapping

import sympy as sp

from ..errors import ParseError
from .builder import _Builder
from .limits import MAX_NODES, _check_text, _error
from .matrices import _assigned_symbol, _Matrices, _matrix_table, _scalar_result
from .source import _NEWLINE, _measure, _parse_tree, _Source, _strip
from .vocabulary import CONSTANTS, _check_name, _identifier

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
