"""An optimizer's objective: ``fun(theta) -> (value, gradient)`` over one flat vector.

``f.objective(**data)`` fixes every argument of a compiled gradient that is not
a weight and lays the weights out in one vector ``theta``, in ``wrt`` order (a
matrix weight row by row), as ``scipy.optimize.minimize(fun, x0, jac=True)``
wants it.  The value must be one number: a scalar graph over a batch of
points is compiled with ``reduce="sum"`` or ``"mean"`` first; a matrix graph's
loss is one number already.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> import symgraph as sg
>>> w, b, x, y = sp.symbols("w b x y", real=True)
>>> f = sg.gradient((w * x + b - y) ** 2, wrt=[w, b]).lambdify(reduce="mean")
>>> fun = f.objective(x=np.array([0.0, 1.0, 2.0]), y=np.array([1.0, 3.0, 5.0]))
>>> fun.layout
(Slot(name='w', offset=0, shape=()), Slot(name='b', offset=1, shape=()))
>>> value, gradient = fun(fun.pack({"w": 2.0, "b": 1.0}))
>>> value, gradient.tolist()
(0.0, [0.0, 0.0])
>>> fun.unpack(np.array([2.0, 1.0]))
{'w': 2.0, 'b': 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import sympy as sp

from ..errors import EvaluationError
from .values import broadcast_shape, check_shapes, declared_shapes, real_value

__all__ = ["Objective", "Slot", "objective"]


class Slot(NamedTuple):
    """Where one weight lives in ``theta``: ``theta[offset : offset + size]``, reshaped."""

    name: str
    offset: int
    shape: tuple


class Objective:
    """``fun(theta) -> (value, gradient)``: the compiled gradient at fixed data.

    Attributes
    ----------
    layout : tuple of Slot
        Each weight's name, offset in ``theta`` and shape (``()`` for a number).
    size : int
        The length of ``theta``.
    """

    def __init__(self, f, data: Mapping[str, Any]):
        self._f = f
        weights = {s.name for s in f.wrt}
        self._data = _data_values(f, data, weights)
        shapes = declared_shapes(f.args)
        if any(shapes.values()):
            data_args = [s for s in f.args if s.name not in weights]
            checked = check_shapes(data_args, [self._data[s.name] for s in data_args], shapes)
            self._data = {s.name: v for s, v in zip(data_args, checked, strict=True)}
            sizes = _sizes(data_args, checked, shapes)
            weight_shapes = [_weight_shape(w, shapes[w], sizes) for w in f.wrt]
        else:
            weight_shapes = [()] * len(f.wrt)
            _one_number(f, self._data)
        slots, offset = [], 0
        for w, shape in zip(f.wrt, weight_shapes, strict=True):
            slots.append(Slot(w.name, offset, shape))
            offset += math.prod(shape)
        self.layout = tuple(slots)
        self.size = offset
        self._weights = {s.name: s for s in self.layout}

    def __call__(self, theta) -> tuple[float, np.ndarray]:
        """The value (a float) and the gradient (a flat float array) at ``theta``."""
        weights = self.unpack(theta)
        value, partials = self._f(**self._data, **weights)
        if np.ndim(value) != 0:
            raise EvaluationError(_ARRAY_VALUE.format(shape=np.shape(value)))
        if not partials:
            return float(value), np.zeros(0)
        return float(value), np.concatenate([np.ravel(p) for p in partials]).astype(float)

    def unpack(self, theta) -> dict[str, Any]:
        """``theta`` as weight name -> value: a float, or an array of the weight's shape."""
        theta = np.asarray(real_value("theta", theta), dtype=float)
        if theta.shape != (self.size,):
            raise EvaluationError(
                f"theta must be a flat vector of {self.size} numbers, got shape {theta.shape}"
            )
        out = {}
        for name, offset, shape in self.layout:
            if shape == ():
                out[name] = float(theta[offset])
            else:
                out[name] = theta[offset : offset + math.prod(shape)].reshape(shape).copy()
        return out

    def pack(self, values: Mapping[Any, Any]) -> np.ndarray:
        """The weights' values (by name or symbol) as one flat ``theta``, in layout order."""
        by_name = {k.name if isinstance(k, sp.Basic) else str(k): v for k, v in values.items()}
        missing = [s.name for s in self.layout if s.name not in by_name]
        unknown = sorted(set(by_name) - set(self._weights))
        if missing or unknown:
            raise EvaluationError(
                f"pack needs a value for every weight ({', '.join(self._weights)}); "
                + "; ".join(_listed("missing", missing) + _listed("not a weight", unknown))
            )
        theta = np.empty(self.size)
        for name, offset, shape in self.layout:
            value = np.asarray(real_value(name, by_name[name]), dtype=float)
            if value.size != math.prod(shape) or (value.ndim == 2 and value.shape != shape):
                raise EvaluationError(f"{name} has shape {shape}; got shape {value.shape}")
            theta[offset : offset + math.prod(shape)] = value.ravel()
        return theta

    def __repr__(self) -> str:
        slots = ", ".join(s.name + (f" {s.shape}" if s.shape else "") for s in self.layout)
        data = ", ".join(self._data)
        return (
            f"<Objective fun(theta[{self.size}]) -> value, gradient; weights {slots}; data {data}>"
        )


def objective(f, data: Mapping[str, Any]) -> Objective:
    """``f``'s objective over ``theta`` at fixed ``data``; see :class:`Objective`.

    Raises
    ------
    EvaluationError
        A non-weight argument without a value, an unknown name, a weight given
        as data, or data over which ``f``'s value is an array (compile it with
        ``reduce="sum"`` or ``"mean"``).
    """
    return Objective(f, data)


_ARRAY_VALUE = (
    "the value over this data is an array of shape {shape}, not one number: compile with "
    "grad.lambdify(reduce='sum') or reduce='mean' for an objective over a batch"
)


def _listed(what: str, names: list[str]) -> list[str]:
    return [f"{what}: {', '.join(names)}"] if names else []


def _data_values(f, data: Mapping[str, Any], weights: set[str]) -> dict[str, Any]:
    needed = [s.name for s in f.args if s.name not in weights]
    missing = [n for n in needed if n not in data]
    given_weights = sorted(n for n in data if n in weights)
    unknown = sorted(n for n in data if n not in weights and n not in needed)
    if missing or given_weights or unknown:
        problems = (
            _listed("missing", missing)
            + _listed("weights (theta holds them)", given_weights)
            + _listed("unknown", unknown)
        )
        raise EvaluationError(
            f"objective needs data for {', '.join(needed) or 'nothing'} only; "
            + "; ".join(problems)
        )
    return {n: real_value(n, data[n]) for n in needed}


def _one_number(f, data: dict[str, Any]) -> None:
    """A scalar graph without ``reduce``: the data must be plain numbers."""
    if getattr(f, "reduce", None) is not None:
        return
    names = list(data)
    shape = broadcast_shape([sp.Symbol(n) for n in names], list(data.values()))
    if shape != ():
        raise EvaluationError(_ARRAY_VALUE.format(shape=shape))


def _sizes(args, values, shapes) -> dict:
    """Each size symbol (``n``) of the data's declared shapes -> its length in the data."""
    sizes = {}
    for symbol, value in zip(args, values, strict=True):
        for axis, d in enumerate(shapes[symbol]):
            if d.is_Symbol:
                sizes[d] = value.shape[axis]
    return sizes


def _weight_shape(weight, declared, sizes) -> tuple[int, ...]:
    shape = []
    for d in declared:
        if d.is_Integer:
            shape.append(int(d))
        elif d in sizes:
            shape.append(sizes[d])
        else:
            raise EvaluationError(
                f"the size {d} of the weight {weight} ({declared}) is fixed by no data "
                "argument: give the weight a concrete shape"
            )
    return tuple(shape)
