"""The entry point of a compiled gradient: the call with no wrapper in between.

A call of ``f(**values)`` through a general ``__call__(self, *args, **values)``
packs the keywords into a dict, and the ``math`` version unpacks them again:
about 0.4 µs, a third of a small gradient's whole call.  So the instance's
call is a function whose parameters are the inputs themselves (the user's
names where they are plain, see
:func:`~symgraph.numeric.source_check.keyword_parameters`), and Python binds
the arguments directly, by position or by name, and hands them to the
``math`` version.  Anything else (a missing, unknown or extra argument, a
value that is not a float, ``math`` raising where NumPy gives ``inf``/``nan``)
goes to the general path, which checks and converts as before.

The function's code is :func:`~symgraph.numeric.codegen.entry_code`, a
template of our own text; the user's names become its parameters' names as
data (``co_varnames``), never as text.  Its private names start with ``_``,
which no plain name does.  Where the names are not plain, the parameters stay
``p0, p1``... and positional only, so no keyword reaches them.

>>> def fast(x, w):  # a math version: None unless every argument is a float
...     return (x * w, (x,)) if type(x) is float and type(w) is float else None
>>> entry = direct_entry(fast, ["x", "w"], True, lambda *call: call)
>>> entry(2.0, w=3.0)
(6.0, (2.0,))
>>> entry(2.0, w=3)     # not a float: the general path, with the call as it was made
((2.0, 3), (), {})
"""

from __future__ import annotations

import builtins
import types
from collections.abc import Callable, Sequence

from .codegen import entry_code

__all__ = ["MISSING", "direct_entry", "rebuilt_call"]


class _Missing:
    """The default of a parameter the caller did not give (never a float: the general path)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


def direct_entry(
    fast: Callable, names: Sequence[str], keywords: bool, general: Callable
) -> Callable:
    """A function calling ``fast`` (the ``math`` version) on its parameters, else ``general``.

    ``names``: the inputs in order; ``keywords``: whether they are the
    parameters' own names (plain names only, given to the code as its
    parameter names, never as text).  ``general(params, more, extra)`` gets
    the parameters (:data:`MISSING` where not given), the extra positional
    arguments and the unknown keywords.
    """
    code = entry_code(len(names), positional_only=not keywords)
    if keywords:
        code = code.replace(co_varnames=(*names, *code.co_varnames[len(names) :]))
    scope = {"__builtins__": builtins, "_M": MISSING, "_fast": fast, "_general": general}
    return types.FunctionType(code, scope, "value_and_grad", (MISSING,) * len(names))


def rebuilt_call(names: Sequence[str], keywords: bool, params: tuple, more: tuple, extra: dict):
    """The call as it was made, as ``(args, values)``: by name, or the positions given.

    With the user's names as parameters, Python has already bound keywords and
    positions alike, so every given parameter is passed by name (positions
    only when there were too many of them, for the general path's message).

    >>> rebuilt_call(["x", "w"], True, (2.0, MISSING), (), {"b": 1.0})
    ((), {'x': 2.0, 'b': 1.0})
    >>> rebuilt_call(["x", "w"], False, (2.0, MISSING), (), {"w": 1.0})
    ((2.0,), {'w': 1.0})
    """
    if more or not keywords:
        given = tuple(p for p in params if p is not MISSING)  # positional only: a prefix
        return given + more, extra
    values = {n: p for n, p in zip(names, params, strict=True) if p is not MISSING}
    return (), {**values, **extra}
