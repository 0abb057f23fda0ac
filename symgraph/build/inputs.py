"""What the builders accept: names, weights, values, and the leaves of expressions.

Every check a builder makes before it adds a node lives here, for expressions
of every shape: one error message per mistake, whichever builder meets it.

Examples
--------
>>> import sympy as sp
>>> n = sp.Symbol("n", integer=True)
>>> leaves_and_sizes([sp.Trace(sp.MatrixSymbol("X", n, n)) * sp.Symbol("c")])
([X, c], {n})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import sympy as sp
from sympy.core.sympify import _sympify
from sympy.logic.boolalg import Boolean

from ..core.sizes import is_matrix, shown
from ..errors import GraphError

GRANULARITIES = ("op", "fine", "named")  # "named": a node per named intermediate only


class Namer:
    """Deterministic fresh node names (v1, v2, ...) that avoid the user's names."""

    def __init__(self, taken: Iterable[str], prefix: str = "v", reserved: Iterable[str] = ()):
        self.taken = set(taken)
        self.reserved = set(reserved)  # names the user assigns later: never generated
        self.prefix = prefix
        self.count = 0

    def fresh(self) -> sp.Symbol:
        while True:
            self.count += 1
            name = f"{self.prefix}{self.count}"
            if name not in self.taken and name not in self.reserved:
                self.taken.add(name)
                return sp.Symbol(name, real=True)

    def named(self, name: str | sp.Basic) -> sp.Basic:
        symbol = name if isinstance(name, sp.Basic) else sp.Symbol(name, real=True)
        if symbol.name in self.taken:
            raise GraphError(f"the name {symbol.name!r} is already used by another node")
        self.taken.add(symbol.name)
        return symbol


def as_value(expr: object, what: str) -> sp.Basic:
    """``expr`` as a SymPy value (a Python number becomes one); text and conditions refused."""
    if isinstance(expr, Boolean) and not isinstance(expr, sp.Expr):
        raise GraphError(
            f"{what} is a condition ({shown(expr)}), not a number; differentiate a "
            "number-valued expression (a Piecewise for a branch)"
        )
    if isinstance(expr, sp.Basic):
        return expr
    if isinstance(expr, (int, float)) and not isinstance(expr, bool):
        return _sympify(expr)
    if isinstance(expr, str):
        raise GraphError(
            f"{what} is text; parse it first with symgraph.parse (text is never evaluated)"
        )
    raise GraphError(f"{what} must be a SymPy expression, not {type(expr).__name__}")


def check_names(leaves: Iterable[sp.Basic]) -> None:
    """Two different symbols with one name (``x`` and real ``x``) would get one value."""
    seen: dict[str, sp.Basic] = {}
    for s in leaves:
        if s.name in seen and seen[s.name] != s:
            raise GraphError(
                f"two different symbols are named {s.name!r} (assumptions "
                f"{seen[s.name].assumptions0} and {s.assumptions0}); give them different names"
            )
        seen[s.name] = s


def check_wrt(wrt: Iterable[sp.Basic]) -> tuple[sp.Basic, ...]:
    """The weights as a tuple: each a symbol or a matrix symbol, none listed twice."""
    wrt = tuple(wrt)
    for w in wrt:
        if not isinstance(w, (sp.Symbol, sp.MatrixSymbol)):
            raise GraphError(f"can only differentiate by symbols, not by {w!r}")
    twice = sorted(str(w) for w, count in Counter(wrt).items() if count > 1)
    if twice:
        raise GraphError(f"the weight {', '.join(twice)} is listed twice in wrt={list(wrt)}")
    return wrt


def check_output_name(output: object) -> None:
    if isinstance(output, sp.Symbol) or (isinstance(output, str) and output.isidentifier()):
        return
    raise GraphError(
        f"the output's name must be a Symbol or an identifier such as 'L', not {shown(output)}"
    )


def check_scalar_output(root_value: sp.Basic) -> None:
    """A gradient needs a scalar output (a 1×1 matrix is one)."""
    if is_matrix(root_value) and tuple(root_value.shape) != (1, 1):
        rows, cols = root_value.shape
        raise GraphError(
            f"the output is a {rows}×{cols} matrix; a gradient needs a scalar output "
            "(use sg.jacobian for vector outputs, or reduce it: Trace, SumEntries)"
        )


def leaves_and_sizes(roots: Iterable[sp.Basic]) -> tuple[list[sp.Basic], set[sp.Symbol]]:
    """Leaf symbols (scalar and matrix), sorted by name, and the symbols used as sizes.

    Iterative (SymPy's ``free_symbols`` recurses); a ``Lambda``'s variable is
    bound, and ``n`` in ``OneMatrix(n, 1)`` is a size, not a value.
    """
    leaves: dict[sp.Basic, None] = {}
    dims: set[sp.Symbol] = set()
    seen: set[sp.Basic] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        if isinstance(e, sp.MatrixSymbol):
            leaves[e] = None
            for d in e.shape:
                dims |= d.free_symbols  # MatrixSymbol sympified its sizes itself
        elif isinstance(e, sp.Symbol):
            leaves[e] = None
        elif is_matrix(e) and not e.args:
            continue
        elif isinstance(e, sp.Lambda):  # an entrywise function: its variable is bound
            stack.extend(e.free_symbols)
        elif is_matrix(e) and not isinstance(e, sp.MatrixExpr):  # an explicit Matrix
            stack.extend(e.free_symbols)
        else:
            stack.extend(e.args)
    for e in list(leaves):
        if isinstance(e, sp.Symbol) and e in dims:
            del leaves[e]
    return sorted(leaves, key=lambda s: s.name), dims
