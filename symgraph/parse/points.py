"""A second, smaller language: points such as ``x=1, w=-0.5`` and matrix values.

Values are number literals or lists of rows of them, read with :mod:`ast`;
nothing is evaluated.
"""

from __future__ import annotations

import ast
import math
import re

from .limits import MAX_POINT_ENTRIES, _check_text, _error
from .source import _parse_tree, _Source
from .vocabulary import _identifier

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


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
