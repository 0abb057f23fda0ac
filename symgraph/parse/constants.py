"""Constants and sizes a user hands to a helper, as SymPy objects, never by evaluating text.

``sympy.sympify`` runs a string as Python; here text goes through symgraph's own
safe parser instead, numbers become exact SymPy numbers, and anything else is
refused with one line.

Examples
--------
>>> as_constant(0.5, "lam"), as_constant(3, "n"), as_constant("1/10", "lam")
(0.500000000000000, 3, 1/10)
>>> as_constant("__import__('os')", "lam")
Traceback (most recent call last):
...
symgraph.errors.GraphError: lam: names starting with '_' are not allowed: ...
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from ..core.sizes import shown
from ..errors import GraphError, ParseError
from .expressions import parse_expr


def as_constant(value: Any, what: str) -> sp.Expr:
    """A SymPy expression for ``value``: an expression, a real number or safe text.

    Raises
    ------
    GraphError
        For booleans, text the safe parser refuses, and every other type.
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, np.generic) and not isinstance(value, np.bool_):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Real)):
        raise GraphError(f"{what} must be a number or a SymPy expression, not {shown(value)}")
    if isinstance(value, str):
        try:
            return parse_expr(value)
        except ParseError as err:
            raise GraphError(f"{what}: {err}") from None
    return _sympify(value)


#: The most units a layer written out symbol by symbol may have (symgraph.layers has matrices).
MAX_UNITS = 10_000


def count(value: Any, what: str, limit: int = MAX_UNITS) -> int:
    """A positive whole number of units, at most ``limit``; text through the safe parser.

    Examples
    --------
    >>> count(3, "width"), count("4", "width")
    (3, 4)
    """
    number = as_constant(value, what)
    if not (number.is_Integer and 1 <= int(number) <= limit):
        raise GraphError(
            f"{what} must be a whole number from 1 to {limit}, not {shown(value)} "
            "(for symbolic or larger sizes, use the matrix layers in symgraph.layers)"
        )
    return int(number)
