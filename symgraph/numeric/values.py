"""Numeric input values: checked and converted once, at the entry of every numeric call.

Every value a compiled gradient, ``Graph.forward`` or ``values_at`` receives
becomes a NumPy value here: a Python number a ``numpy.float64``, a list or
tuple a float array, an integer or boolean array a float array.  The
generated code then runs NumPy's arithmetic only, so ``1/x`` at ``x = 0.0``
is ``inf`` for a float exactly as for an array (Python's own ``1/0.0`` would
raise).  What is not a real number is refused with one line naming the
argument: text, ``None``, complex numbers, ragged lists, masked arrays,
integers too large for a float.  Arrays of other libraries (Dask, JAX...) are
passed on as they are.

Examples
--------
>>> import sympy as sp
>>> real_value("x", 0.5)
np.float64(0.5)
>>> real_value("x", [1, 2]).dtype
dtype('float64')
>>> real_value("x", "1.5")
Traceback (most recent call last):
...
symgraph.errors.EvaluationError: x: expected a real number or an array of them; got text '1.5'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from ..core.sizes import shown
from ..errors import EvaluationError

__all__ = ["broadcast_shape", "check_shapes", "declared_shapes", "real_value"]


def _refuse(name: str, what: str):
    raise EvaluationError(f"{name}: expected a real number or an array of them; got {what}")


def real_value(name: str, value: Any) -> Any:
    """``value`` as a NumPy real value, or :class:`~symgraph.errors.EvaluationError`.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : number, list, tuple or array

    Returns
    -------
    numpy.float64 or numpy.ndarray
        Floating-point arrays keep their dtype; others become ``float64``.
    """
    kind = type(value)
    if kind is float or kind is int:  # the common case first: no array machinery
        try:
            return np.float64(value)
        except OverflowError:
            digits = int(value.bit_length() * 0.30103) + 1  # str() refuses 4,300+ digits
            _refuse(name, f"an integer of about {digits} digits (too large for a float)")
    if isinstance(value, np.ndarray):
        return _real_array(name, value)
    if isinstance(value, (list, tuple)):
        return _real_array(name, _from_sequence(name, value))
    if isinstance(value, np.generic):
        return _real_array(name, np.asarray(value))[()]
    if value is None:
        _refuse(name, "None")
    if isinstance(value, (str, bytes)):
        _refuse(name, f"text {shown(value, 40)}")
    if isinstance(value, (bool, int, float)):  # subclasses: True, IntEnum...
        return real_value(name, float(value) if isinstance(value, float) else int(value))
    if isinstance(value, complex):
        _refuse(name, f"the complex number {shown(value, 40)}")
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # Dask, JAX...: theirs to compute
        if getattr(value.dtype, "kind", "f") == "c":
            _refuse(name, f"a complex array ({value.dtype})")
        return value
    if isinstance(value, sp.Basic) and not value.is_number:
        _refuse(name, f"the symbolic expression {shown(value, 40)}")
    try:
        converted = complex(value)
    except (TypeError, ValueError, OverflowError):
        _refuse(name, f"a value of type {type(value).__name__}")
    if converted.imag != 0:
        _refuse(name, f"the complex number {shown(value, 40)}")
    try:
        return np.float64(float(value))
    except (TypeError, ValueError, OverflowError):
        _refuse(name, f"a value of type {type(value).__name__} that is not a float")


def _from_sequence(name: str, value: Sequence) -> np.ndarray:
    try:
        array = np.asarray(value)
    except ValueError:  # ragged: NumPy refuses to guess
        _refuse(name, "a ragged list (rows of different lengths)")
    return array


def _real_array(name: str, array: np.ndarray) -> np.ndarray:
    if np.ma.isMaskedArray(array):
        if np.ma.getmaskarray(array).any():
            _refuse(name, "a masked array; fill or drop the masked entries first (.filled(...))")
        array = np.asarray(array)
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in "biu":
        return array.astype(np.float64)
    if kind == "c":
        _refuse(name, "a complex array")
    if kind in "US":
        _refuse(name, "an array of text")
    if kind == "O":
        if any(v is None for v in array.flat):
            _refuse(name, "an array holding None")
        try:
            return np.asarray(array, dtype=np.float64)
        except OverflowError:
            _refuse(name, "an integer too large for a float")
        except (TypeError, ValueError):
            _refuse(name, f"an array of {_kinds(array)}")
    _refuse(name, f"an array of dtype {array.dtype}")


def _kinds(array: np.ndarray) -> str:
    names = sorted({type(v).__name__ for v in array.flat})
    return ", ".join(names[:3]) + (", …" if len(names) > 3 else "")


def broadcast_shape(symbols: Sequence[sp.Basic], values: Sequence[Any]) -> tuple:
    """The common shape the values broadcast to, or an error naming two that do not.

    >>> import sympy as sp
    >>> import numpy as np
    >>> x, w = sp.symbols("x w")
    >>> broadcast_shape([x, w], [np.zeros(3), 1.0])
    (3,)
    """
    shapes = [np.shape(v) for v in values]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        first = next(k for k, s in enumerate(shapes) if s != ())
        for k, shape in enumerate(shapes):
            try:
                np.broadcast_shapes(shapes[first], shape)
            except ValueError:
                raise EvaluationError(
                    f"{symbols[first]} has shape {shapes[first]} but {symbols[k]} has shape "
                    f"{shape}: give arrays of one shape (or shapes that broadcast)"
                ) from None
        raise EvaluationError(f"the arguments' shapes {shapes} do not broadcast") from None


def declared_shapes(symbols) -> dict:
    """symbol -> its declared shape: ``()`` for a scalar, ``(rows, cols)`` for a matrix."""
    return {s: tuple(_sympify(d) for d in getattr(s, "shape", ())) for s in symbols}


def check_shapes(args, values, shapes) -> list:
    """Arrays of the declared shapes; one value per size symbol (``n``) across arguments.

    Raises
    ------
    EvaluationError
        Naming the argument, its declared shape and the shape given.
    """
    sizes: dict[sp.Symbol, tuple[int, str]] = {}
    checked = []
    for symbol, value in zip(args, values, strict=True):
        declared = shapes[symbol]
        array = np.asarray(real_value(symbol.name, value), dtype=float)
        if declared == ():
            if array.shape != ():
                raise EvaluationError(f"{symbol} is a scalar; got an array of shape {array.shape}")
            checked.append(np.float64(array))
            continue
        if array.ndim == 1 and 1 in declared:  # a flat vector for a column or a row
            array = array.reshape([-1 if d != 1 else 1 for d in declared])
        if array.ndim != 2:
            raise EvaluationError(f"{symbol} is a matrix; got an array of shape {array.shape}")
        for axis, (want, got) in enumerate(zip(declared, array.shape, strict=True)):
            if want.is_Integer and int(want) != got:
                raise EvaluationError(
                    f"{symbol} has shape {declared}; got an array of shape {array.shape}"
                )
            if want.is_Symbol:
                first = sizes.setdefault(want, (got, symbol.name))
                if first[0] != got:
                    raise EvaluationError(
                        f"{want} is {first[0]} in {first[1]} but {got} in {symbol} "
                        f"(axis {axis} of shape {array.shape})"
                    )
        checked.append(array)
    return checked
