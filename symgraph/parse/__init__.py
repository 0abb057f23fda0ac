"""Safe text → SymPy: a whitelisted parser for expressions, assignments and points.

Text is parsed with Python's :mod:`ast` module and the tree is walked
iteratively against a whitelist. Nothing is ever handed to ``eval``, ``exec``,
``sympify`` or ``sympy.parsing``: a name is only ever a real symbol, a known
constant (``pi``, ``E``) or a whitelisted function (see :data:`FUNCTIONS`).

Accepted syntax
    int and float literals (floats become exact rationals: ``0.5`` is ``1/2``),
    names, ``+ - * / **``, unary ``+ -``, parentheses, calls of the functions in
    :data:`FUNCTIONS` by plain name, ``Piecewise((expr, cond), ..., (expr, True))``
    and ``where(cond, a, b)``. ``^`` is refused (use ``**``).
Conditions (only inside ``Piecewise`` and ``where``)
    comparisons ``< <= > >=``, ``==`` and ``!=`` (as SymPy ``Eq`` and ``Ne``,
    also written ``Eq(a, b)``, ``Ne(a, b)``), chained comparisons, ``True``,
    ``False``, and combinations with ``and``/``&``, ``or``/``|``, ``not``/``~``.
Matrices (only with declared matrix names: ``matrices={"W": (2, 3), "X": ("n", "d")}``)
    declared names are ``MatrixSymbol`` s (size names are positive integer
    symbols, also usable as numbers: ``trace(R.T @ R)/n``); ``A @ B`` and
    ``A * B`` are matrix products, ``A.T`` the transpose (the only attribute
    allowed), ``+ -`` and scalar ``*``/``/`` work on matrices; the functions of
    :data:`MATRIX_FUNCTIONS` (``trace det inv sum norm logsumexp softmax
    hadamard``); every function of :data:`FUNCTIONS` applied to one matrix acts
    entrywise (``tanh(W @ x)``). Shapes are checked as the text is built.
Limits
    at most 100,000 characters, 50,000 nodes, nesting depth 200 (a chain of
    ``+``/``-`` or of ``*``/``/`` counts as one level), integer literals of at most
    1,000 digits, and powers of numbers of at most 10,000 bits.

Every refusal raises :class:`~symgraph.errors.ParseError` with a one-line
message saying what was refused and where.

The modules, in the order they import each other: ``limits`` (sizes and
one-line errors), ``source`` (``ast.parse`` and locations), ``literals``
(numbers), ``vocabulary`` (constants and functions), ``matrices`` (declared
shapes), ``builder`` (the AST builder), ``expressions`` and ``points`` (the
entry points).

Examples
--------
>>> from symgraph.parse import parse_expr
>>> parse_expr("tanh(w*x + b) + 0.5")
tanh(b + w*x) + 1/2
>>> parse_expr("x.__class__")
Traceback (most recent call last):
    ...
symgraph.errors.ParseError: attribute access is not allowed: 'x.__class__' at column 1
"""

from .expressions import parse_assignments, parse_expr, parse_symbols

# The limits are imported by other stages (the graph-file reader applies the same ones).
from .limits import MAX_CHARS as MAX_CHARS
from .limits import MAX_DEPTH as MAX_DEPTH
from .limits import MAX_FLOAT_EXPONENT as MAX_FLOAT_EXPONENT
from .limits import MAX_GAMMA_ARG as MAX_GAMMA_ARG
from .limits import MAX_INT_DIGITS as MAX_INT_DIGITS
from .limits import MAX_MATRICES as MAX_MATRICES
from .limits import MAX_MATRIX_SIZE as MAX_MATRIX_SIZE
from .limits import MAX_NODES as MAX_NODES
from .limits import MAX_POINT_ENTRIES as MAX_POINT_ENTRIES
from .limits import MAX_POWER_BITS as MAX_POWER_BITS
from .limits import MAX_ROOT_BITS as MAX_ROOT_BITS
from .limits import MAX_TOTAL_POWER_BITS as MAX_TOTAL_POWER_BITS
from .matrices import parse_matrices
from .points import parse_matrix_point, parse_point
from .vocabulary import CONSTANTS, FUNCTIONS, MATRIX_FUNCTIONS

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MATRIX_FUNCTIONS",
    "parse_assignments",
    "parse_expr",
    "parse_matrices",
    "parse_matrix_point",
    "parse_point",
    "parse_symbols",
]
