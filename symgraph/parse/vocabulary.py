"""What a name may mean: constants, whitelisted functions, matrix functions.

The activations (``sigmoid``, ``softplus``, ``relu``) are written out in SymPy
here; a user's own name must be a plain identifier that is none of these.
"""

from __future__ import annotations

import keyword
import unicodedata
from collections.abc import Callable, Iterable
from types import MappingProxyType

import sympy as sp

from ..core.activations import relu, sigmoid, softplus
from ..core.sizes import is_matrix
from ..rules.matfuncs import FrobeniusNorm, LogSumExp, Softmax, SumEntries
from .limits import MAX_CHARS, _error

#: Constants by name; every other name is a real symbol (``e`` included).
CONSTANTS = MappingProxyType({"pi": sp.pi, "E": sp.E})


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
        "sigmoid": (_ONE, sigmoid),
        "softplus": (_ONE, softplus),
        "relu": (_ONE, relu),
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


def _shape(e: sp.Basic) -> str:
    """``2x3`` for a matrix (as declared), ``a scalar`` otherwise."""
    if not is_matrix(e):
        return "a scalar"
    rows, cols = e.shape
    return f"{rows}x{cols}"


def _matrix_arg(name: str, a: sp.Basic) -> sp.Basic:
    if not is_matrix(a):
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
        if is_matrix(a):
            raise _error(f"{what} takes scalars, not the {_shape(a)} matrix {a}")


# Functions with their own syntax, and those allowed only as conditions.
_SPECIAL = ("Piecewise", "where")
_CONDITION_FUNCTIONS: dict[str, _F] = {"Eq": sp.Eq, "Ne": sp.Ne}
# Roots go through the same size guard as ``**``.
_ROOTS = {"sqrt": sp.Rational(1, 2), "cbrt": sp.Rational(1, 3)}
_ALL_NAMES = sorted([*FUNCTIONS, *_SPECIAL, *_CONDITION_FUNCTIONS])
_ALL_MATRIX_NAMES = sorted([*_ALL_NAMES, *MATRIX_FUNCTIONS])


def _check_name(name: str, what: str = "name") -> None:
    if name.startswith("_"):
        raise _error(f"{what} {name!r} starts with '_' (dunder and private names are not allowed)")
    if keyword.iskeyword(name):
        raise _error(f"{what} {name!r} is a Python keyword")


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
