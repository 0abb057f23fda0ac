"""How walkthroughs and drawings print a number or an array (nothing here computes).

Kept apart so that a drawing does not import the walkthrough, nor the walkthrough's
compiler.

Examples
--------
>>> format_number(0.1234567), format_number(float("nan")), format_value(0.1234567)
('0.123457', 'NaN', '0.1235')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp


def format_number(value: complex | float) -> str:
    """Six significant digits, ``NaN`` for not-a-number: a number to multiply by hand.

    >>> format_number(float("inf")), format_number(3e-05)
    ('inf', '3e-05')
    """
    return "NaN" if value != value else f"{value:.6g}"


def format_value(value: Any) -> str:
    """A number to 4 digits; a small array in full, a larger one by its shape and norm.

    >>> format_value(0.123456), format_value(np.ones((3, 4)))
    ('0.1235', '3×4, ‖·‖ 3.464')
    """
    array = np.asarray(value) if not isinstance(value, sp.Basic) else None
    if array is not None and array.size > 1:
        if array.size <= 4:
            return np.array2string(array, precision=3, separator=", ").replace("\n", "")
        rows, cols = (array.shape + (1,))[:2] if array.ndim < 2 else array.shape[-2:]
        return f"{rows}×{cols}, ‖·‖ {np.linalg.norm(array):.4g}"
    if array is not None and array.size == 1:
        value = array.reshape(())  # a 1×1 matrix reads as its number
    try:
        return f"{float(value):.4g}"
    except (TypeError, ValueError):
        return str(value)
