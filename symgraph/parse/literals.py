"""Numbers as written: literals converted exactly, and the guards on their size.

A float literal becomes the exact rational it spells (``0.5`` is ``1/2``);
powers of numbers and numbers beyond the largest float are refused before
they are computed.
"""

from __future__ import annotations

import ast
import math
import re
import sys

import sympy as sp

from .limits import _INT_LIMIT, MAX_FLOAT_EXPONENT, MAX_INT_DIGITS, _error
from .source import _Source

_FLOAT = re.compile(r"([0-9_]*)(?:\.([0-9_]*))?(?:[eE]([+-]?[0-9_]+))?")


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
