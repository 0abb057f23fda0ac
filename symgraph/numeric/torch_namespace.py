"""NumPy's and SciPy's names, as the generated code calls them, implemented with PyTorch.

The code generator prints ``numpy.exp(t1)``, ``numpy.select([...], [...],
default=numpy.nan)``, ``scipy.special.erf(a0)``...; the torch backend runs that
same source with ``numpy`` and ``scipy`` bound to the two namespaces made here.
Every function takes what the generated code gives it (tensors, Python
numbers, booleans, shapes) and returns tensors; a Python number becomes a
``float64`` tensor.  A name missing here is refused when the gradient is
compiled (:mod:`symgraph.numeric.backends`), never at call time.

This module imports torch at the top: only the torch backend imports it.

Examples
--------
>>> np_, _, _ = namespaces()
>>> np_.exp(0.0)
tensor(1., dtype=torch.float64)
>>> np_.select([False, True], [1.0, 2.0], default=np_.nan)
tensor(2., dtype=torch.float64)
"""

from __future__ import annotations

import functools
import math
import types

import torch

__all__ = ["namespaces", "tensor"]

F64 = torch.float64


def tensor(x) -> torch.Tensor:
    """``x`` as a tensor: a tensor as it is, a boolean a ``bool`` one, a number ``float64``."""
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, bool):
        return torch.as_tensor(x)
    return torch.as_tensor(x, dtype=F64)


def _elementwise(fn):
    """``fn`` of tensors, taking numbers too."""

    @functools.wraps(fn)
    def call(*args, **kw):
        return fn(*map(tensor, args), **kw)

    return call


class _Reducing:
    """A binary function with NumPy's ``.reduce`` over a tuple (``numpy.logical_and.reduce``)."""

    def __init__(self, fn):
        self._fn = _elementwise(fn)

    def __call__(self, a, b):
        return self._fn(a, b)

    def reduce(self, items, axis=0):
        if isinstance(items, (tuple, list)):
            return functools.reduce(self._fn, items)
        return functools.reduce(self._fn, torch.unbind(tensor(items), dim=axis))


def _select(conditions, choices, default=0.0):
    out = tensor(default)
    for condition, choice in reversed(list(zip(conditions, choices, strict=True))):
        out = torch.where(tensor(condition), tensor(choice), out)
    return out


def _where(condition, a, b):
    return torch.where(tensor(condition), tensor(a), tensor(b))


def _heaviside(x, at_zero):
    x = tensor(x)
    return torch.heaviside(x, tensor(at_zero).to(x.dtype))


def _gamma(x):
    """Γ(x) as ``exp(log|Γ(x)|)`` with its sign (torch has no gamma of its own)."""
    x = tensor(x)
    odd = torch.remainder(torch.floor(x), 2) == 1
    sign = torch.where((x < 0) & odd, -1.0, 1.0).to(x.dtype)
    return sign * torch.exp(torch.special.gammaln(x))


def _array(x):
    if isinstance(x, (list, tuple)):
        return torch.stack([_array(e) for e in x])
    return tensor(x)


def _shaped(fn):
    """``numpy.zeros(shape)``-like: a shape (a tuple, or one size) in, ``float64`` out."""
    return lambda shape: fn(tuple(shape) if isinstance(shape, (tuple, list)) else shape, dtype=F64)


_ELEMENTWISE = {
    "exp": torch.exp, "exp2": torch.exp2, "expm1": torch.expm1, "log": torch.log,
    "log1p": torch.log1p, "log2": torch.log2, "log10": torch.log10, "sqrt": torch.sqrt,
    "square": torch.square, "sin": torch.sin, "cos": torch.cos, "tan": torch.tan,
    "sinh": torch.sinh, "cosh": torch.cosh, "tanh": torch.tanh, "arcsin": torch.asin,
    "arccos": torch.acos, "arctan": torch.atan, "arcsinh": torch.asinh,
    "arccosh": torch.acosh, "arctanh": torch.atanh, "sign": torch.sign, "abs": torch.abs,
    "absolute": torch.abs, "floor": torch.floor, "ceil": torch.ceil, "trunc": torch.trunc,
    "rint": torch.round, "sinc": torch.sinc, "reciprocal": torch.reciprocal,
    "negative": torch.neg, "isnan": torch.isnan, "isinf": torch.isinf,
    "isfinite": torch.isfinite, "real": torch.real, "conjugate": torch.conj,
    "logical_not": torch.logical_not, "maximum": torch.maximum, "minimum": torch.minimum,
    "fmax": torch.fmax, "fmin": torch.fmin, "arctan2": torch.atan2, "hypot": torch.hypot,
    "logaddexp": torch.logaddexp, "logaddexp2": torch.logaddexp2, "mod": torch.remainder,
    "remainder": torch.remainder, "fmod": torch.fmod, "power": torch.pow,
    "float_power": torch.float_power, "copysign": torch.copysign, "greater": torch.gt,
    "greater_equal": torch.ge, "less": torch.lt, "less_equal": torch.le, "equal": torch.eq,
    "not_equal": torch.ne, "sum": torch.sum, "prod": torch.prod, "amax": torch.amax,
    "amin": torch.amin, "trace": torch.trace, "diag": torch.diag, "dot": torch.dot,
    "matmul": torch.matmul, "outer": torch.outer, "clip": torch.clip,
    "zeros_like": torch.zeros_like, "ones_like": torch.ones_like,
}  # fmt: skip

_REDUCING = {
    "logical_and": torch.logical_and, "logical_or": torch.logical_or,
    "logical_xor": torch.logical_xor, "add": torch.add, "multiply": torch.mul,
}  # fmt: skip

_SPECIAL = {
    "erf": torch.special.erf, "erfc": torch.special.erfc, "erfinv": torch.special.erfinv,
    "erfcx": torch.special.erfcx, "gammaln": torch.special.gammaln,
    "psi": torch.special.digamma, "digamma": torch.special.digamma,
    "expit": torch.special.expit, "logit": torch.special.logit, "i0": torch.special.i0,
    "i0e": torch.special.i0e, "i1": torch.special.i1, "i1e": torch.special.i1e,
    "ndtr": torch.special.ndtr, "ndtri": torch.special.ndtri,
    "log_ndtr": torch.special.log_ndtr, "xlogy": torch.special.xlogy,
    "xlog1py": torch.special.xlog1py, "sinc": torch.special.sinc,
}  # fmt: skip


def _linalg() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        det=_elementwise(torch.linalg.det),
        inv=_elementwise(torch.linalg.inv),
        matrix_power=lambda a, k: torch.linalg.matrix_power(tensor(a), int(k)),
        norm=lambda a, ord=None: torch.linalg.norm(tensor(a), ord),
        slogdet=_elementwise(torch.linalg.slogdet),
    )


def _constants():
    try:  # what SciPy's printer writes for pi, golden_ratio...: plain floats
        import scipy.constants

        return scipy.constants
    except ImportError:  # pragma: no cover - then NumPy's printer writes numpy.pi
        return types.SimpleNamespace(pi=math.pi)


@functools.cache
def namespaces() -> tuple[types.SimpleNamespace, types.SimpleNamespace, types.SimpleNamespace]:
    """The ``numpy``, ``scipy`` and ``kernels`` the generated code sees under the torch backend."""
    numpy = types.SimpleNamespace(
        **{name: _elementwise(fn) for name, fn in _ELEMENTWISE.items()},
        **{name: _Reducing(fn) for name, fn in _REDUCING.items()},
        where=_where,
        select=_select,
        heaviside=_heaviside,
        broadcast_to=lambda x, shape: torch.broadcast_to(tensor(x), tuple(shape)),
        shape=lambda x: tuple(tensor(x).shape),
        zeros=_shaped(torch.zeros),
        ones=_shaped(torch.ones),
        full=lambda shape, value: torch.full(tuple(shape), value, dtype=F64),
        eye=lambda n: torch.eye(int(n), dtype=F64),
        asarray=tensor,
        array=_array,
        linalg=_linalg(),
        pi=math.pi,
        e=math.e,
        inf=math.inf,
        nan=math.nan,
        euler_gamma=0.5772156649015329,
    )
    special = types.SimpleNamespace(
        **{name: _elementwise(fn) for name, fn in _SPECIAL.items()},
        gamma=_gamma,
        polygamma=lambda k, x: torch.special.polygamma(int(k), tensor(x)),
    )
    kernels = types.SimpleNamespace(  # symgraph/numeric/kernels.py, each as one torch operation
        tanh_backward=_elementwise(torch.ops.aten.tanh_backward),
    )
    return numpy, types.SimpleNamespace(special=special, constants=_constants()), kernels
