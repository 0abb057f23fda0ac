"""Declared matrices: ``{name: (rows, cols)}`` checked into MatrixSymbols.

Also the ``NAME=ROWSxCOLS`` declarations of the command line, and the checks
on the shape of a result (a loss is a scalar; an assigned name takes the shape
of its value).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from ..core.sizes import is_matrix
from .limits import MAX_MATRICES, MAX_MATRIX_SIZE, _error
from .vocabulary import _ALL_MATRIX_NAMES, _identifier, _shape


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
    if is_matrix(expr):
        raise _error(
            f"{where} is a {_shape(expr)} matrix; a loss must be a scalar: "
            "reduce it with trace(...) or sum(...)"
        )
    return expr


def _assigned_symbol(table: _Matrices, name: str, expr: sp.Basic, lineno: int) -> sp.Basic:
    """The target of ``name = expr``: a MatrixSymbol of expr's shape when expr is a matrix."""
    if name in table.sizes:
        raise _error(f"{name!r} is a matrix size and cannot be assigned (line {lineno})")
    if name in _ALL_MATRIX_NAMES:
        raise _error(f"{name!r} is a function name and cannot be assigned (line {lineno})")
    declared = table.names.get(name)
    if not is_matrix(expr):
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
