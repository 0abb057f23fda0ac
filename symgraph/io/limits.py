"""Cost limits of graph files, checked on each table entry before it is built.

A graph file is small on disk and can still be ruinous to use: an unevaluated
``2**(10**4000)``, ``binomial(10**9, 5*10**8)`` or ``Identity(46340)`` is
computed only when the graph is used.  So the loader applies the text
parser's limits (:mod:`symgraph.parse`: number and power sizes, arguments of
integer-valued functions, expression size) to what each entry *would* cost,
by dynamic programming over the table (linear in its length), before
anything is computed:

- ``terms``: the number of distinct table entries the entry reaches (what its
  SymPy object holds in memory), at most ``max_terms`` (:data:`MAX_TERMS` by
  default).  Counted exactly this is not linear, so a bound is used: the
  smaller of its size as a tree (shared parts counted at each use) and the
  table's length from the earliest entry it names to itself.  A residual
  network's ``h + tanh(w*h)``, 25 layers, is 2²⁵ terms as a tree and a few
  hundred as a table; ``a1 = a0*a0, a2 = a1*a1, ...`` (2⁴⁰ terms in 40
  entries) loads as well: the stages that walk expressions as trees
  (printing, closed forms) measure them first (:mod:`symgraph.core.sizes`);
- ``bits``: a bound on log₂ of the exact numbers the entry computes when
  evaluated (a product adds its factors' bits, a power multiplies), shared
  parts counted at each use, as evaluation computes them; at most
  :data:`MAX_BITS` (the parser's total, and no more than Python prints); one
  power of a number at most :data:`~symgraph.parse.MAX_POWER_BITS`;
- ``factorial``, ``binomial``, ``gamma``, ``beta`` and ``polygamma``'s order of a
  number above :data:`~symgraph.parse.MAX_GAMMA_ARG` are refused;
- an explicit matrix has at most :data:`MAX_EXPLICIT_ENTRIES` entries, an
  ``Identity``, ``ZeroMatrix`` or ``OneMatrix`` of concrete size at most
  :data:`MAX_MATERIALIZED` entries, a ``MatPow`` an exponent of at most
  :data:`~symgraph.parse.MAX_POWER_BITS`.

>>> x = sp.Symbol("x")
>>> costs = Costs(max_terms=10)
>>> costs.leaf(x), costs.apply("Mul", [0, 0], [x]), costs.apply("Mul", [1, 1], [x, x * x])
(None, None, None)
>>> costs.tree, costs.terms  # x, x*x, (x*x)*(x*x): 7 as a tree, 3 entries
([1, 3, 7], [1, 2, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import sympy as sp

from ..core.sizes import TREE_CAP
from ..errors import GraphError
from ..parse import (
    MAX_GAMMA_ARG,
    MAX_POWER_BITS,
    MAX_ROOT_BITS,
    MAX_TOTAL_POWER_BITS,
)
from .format import CLASSES

MAX_BITS = min(MAX_TOTAL_POWER_BITS, 14_000)  # Python refuses to print an int over 4,300 digits
MAX_SIZE = 60_000  # nodes + edges of one graph file (a 10,000-step chain has 30,000)
ENTRIES_PER_ITEM = 5  # table entries per node or edge (a saved graph has 1.5 to 5)
# Distinct parts of one expression: as many as the largest file's table holds, so a
# chain through all of it (a deep graph's last node) loads.
MAX_TERMS = ENTRIES_PER_ITEM * MAX_SIZE
MAX_EXPLICIT_ENTRIES = 10_000  # entries of an explicit matrix (each one is compiled)
MAX_MATERIALIZED = 4_000_000  # entries of an Identity, ZeroMatrix, OneMatrix (32 MB)

# Built unevaluated, these classes store their arguments without walking them, so a
# part shared by many uses is built, and costs, once; every other constructor
# (Max's ordering, Piecewise's conditions, matrix shape checks) walks its arguments
# as trees, and its entries are counted so.
SHAREABLE = frozenset(
    {"Add", "Mul", "Pow", "Tuple"}
    | {
        name
        for name, cls in CLASSES.items()
        if isinstance(cls, type) and issubclass(cls, sp.Function) and cls is not sp.Piecewise
    }
)
# These walk their arguments at every level (Piecewise rewrites its conditions, Max
# orders its arguments): about 0.3 ms a term, so a nest of them is quadratic; their
# trees may have max_terms // WALK_COST terms.
WALKED = frozenset({"Piecewise", "ExprCondPair", "Max", "Min", "And", "Or", "Xor"})
WALK_COST = 60
_INTEGER_VALUED = {"factorial": (0,), "binomial": (0, 1), "gamma": (0,), "beta": (0, 1)}
_INTEGER_VALUED["polygamma"] = (0,)  # the order; polygamma(n, x) costs O(n) terms
_SIZED = frozenset({"Identity", "ZeroMatrix", "OneMatrix"})
_LOG2_GAMMA_ARG = math.log2(MAX_GAMMA_ARG)


def check_size(nodes: int, edges: int, max_size: int, entries: int = 0) -> None:
    """Refuse a graph of more than ``max_size`` nodes and edges, naming the keyword.

    The expression table may have :data:`ENTRIES_PER_ITEM` entries per node or edge.

    >>> check_size(3, 70_000, MAX_SIZE)
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: refused a graph of 3 nodes and 70000 edges: over max_size=60000 \
nodes + edges (backpropagation and compiling grow with the graph); pass a larger max_size= to \
from_json or load_json to load it
    """
    if nodes + edges > max_size:
        raise GraphError(
            f"refused a graph of {nodes} nodes and {edges} edges: over max_size={max_size} "
            "nodes + edges (backpropagation and compiling grow with the graph); pass a larger "
            "max_size= to from_json or load_json to load it"
        )
    if entries > ENTRIES_PER_ITEM * max_size:
        raise GraphError(
            f"refused a graph file of {entries} expression entries: over "
            f"{ENTRIES_PER_ITEM} per node or edge of max_size={max_size}; pass a larger "
            "max_size= to from_json or load_json to load it"
        )


def _bits_of(number: sp.Basic) -> float:
    """log₂ of the largest of a rational's numerator and denominator (0 for others)."""
    if isinstance(number, sp.Rational):
        return float(max(abs(number.p), number.q, 1).bit_length() - 1)
    return 0.0


def _log2_sum(bits: Sequence[float]) -> float:
    """log₂ of a sum of numbers of these sizes, without overflow."""
    top = max(bits, default=0.0)
    if math.isinf(top):
        return top
    return top + math.log2(sum(2.0 ** (b - top) for b in bits))


class Costs:
    """The cost of each table entry so far: ``terms``, ``bits`` and whether it has symbols.

    ``terms`` bounds the distinct entries each one reaches; ``tree`` is its size as a
    tree (capped at :data:`TREE_CAP`), ``first`` the earliest entry it reaches.
    """

    def __init__(self, max_terms: int = MAX_TERMS):
        self.max_terms = max_terms
        self.terms: list[int] = []
        self.tree: list[int] = []
        self.first: list[int] = []
        self.bits: list[float] = []
        self.free: list[bool] = []

    def leaf(self, value: object) -> None:
        """Record a symbol, number, constant or function class."""
        self.terms.append(1)
        self.tree.append(1)
        self.first.append(len(self.first))
        self.bits.append(_bits_of(value) if isinstance(value, sp.Basic) else 0.0)
        self.free.append(isinstance(value, (sp.Symbol, sp.MatrixSymbol)))

    def apply(self, name: str, args: Sequence[int], built: Sequence[object]) -> None:
        """Check the entry ``name(*args)`` (table positions; ``built`` their values)."""
        i = len(self.terms)
        tree = min(1 + sum(self.tree[a] for a in args), TREE_CAP)
        first = min((self.first[a] for a in args), default=i)
        terms = min(tree, i - first + 1) if name in SHAREABLE else tree
        limit = self.max_terms // WALK_COST if name in WALKED else self.max_terms
        if terms > limit:
            counted = "distinct parts" if name in SHAREABLE else self._as_a_tree(name)
            raise GraphError(
                f"expression {i} ({name}) has more than {limit} {counted}; "
                "pass a larger max_terms= to from_json or load_json to load it"
            )
        free = any(self.free[a] for a in args)
        bits = [self.bits[a] for a in args]
        if name == "Add":
            size = _log2_sum(bits)
        elif name == "Mul":
            size = sum(bits)
        elif name == "Pow":
            size = self._power(i, args, built)
        elif name in _INTEGER_VALUED:
            size = self._integer_valued(i, name, args, built)
        else:
            size = 0.0  # a float-valued function, a relation, a matrix operation
            self._matrix(i, name, args, built)
        if size > MAX_BITS:
            raise GraphError(
                f"expression {i} ({name}) computes a number of more than {MAX_BITS} bits"
            )
        self.terms.append(terms)
        self.tree.append(tree)
        self.first.append(first)
        self.bits.append(size)
        self.free.append(free)

    def check_tree(self, position: int, where: str) -> None:
        """Refuse ``where`` (an operation or partial, table ``position``) too big as a tree.

        Differentiation and SymPy's ``free_symbols`` walk these as trees.
        """
        if self.tree[position] > self.max_terms:
            raise GraphError(
                f"{where} (expression {position}) has more than {self.max_terms} terms with "
                "shared parts counted at each use (it is differentiated as a tree); pass a "
                "larger max_terms= to from_json or load_json to load it"
            )

    @staticmethod
    def _as_a_tree(name: str) -> str:
        return f"terms with shared parts counted at each use (building {name} walks them)"

    def _power(self, i: int, args: Sequence[int], built: Sequence[object]) -> float:
        if len(args) != 2:
            return 0.0  # the constructor refuses it
        base, exponent = args
        if self.bits[base] == 0:
            return 0.0
        value = built[exponent]
        if isinstance(value, sp.Rational):
            log2_exponent = self.bits[exponent] if value != 0 else -math.inf
            if not isinstance(value, sp.Integer) and self.bits[base] > MAX_ROOT_BITS:
                raise GraphError(
                    f"expression {i}: an exact root of a number above 2**{MAX_ROOT_BITS}"
                )
        elif self.free[exponent]:
            return self.bits[base]  # a float power at call time
        else:
            log2_exponent = self.bits[exponent]  # a constant, as large as 2**bits
        log2_size = math.log2(self.bits[base]) + log2_exponent
        if log2_size > math.log2(MAX_POWER_BITS):
            raise GraphError(
                f"expression {i}: a power of a number with about 2**{log2_size:.0f} bits "
                f"(at most {MAX_POWER_BITS})"
            )
        return 2.0**log2_size

    def _integer_valued(
        self, i: int, name: str, args: Sequence[int], built: Sequence[object]
    ) -> float:
        for k in _INTEGER_VALUED[name]:
            if k >= len(args) or self.free[args[k]]:
                continue  # a float at call time
            value = built[args[k]]
            exact = isinstance(value, sp.Rational)
            if (exact and abs(value) > MAX_GAMMA_ARG) or (
                not exact and self.bits[args[k]] > _LOG2_GAMMA_ARG
            ):
                raise GraphError(
                    f"expression {i}: {name}() of a number above {MAX_GAMMA_ARG} is too large"
                )
        if name in ("factorial", "gamma") and args and isinstance(built[args[0]], sp.Rational):
            n = float(abs(built[args[0]]))
            return math.lgamma(n + 1) / math.log(2)  # log2(n!), about n log2 n
        return 0.0

    def _matrix(self, i: int, name: str, args: Sequence[int], built: Sequence[object]) -> None:
        values = [built[a] for a in args]
        if name in _SIZED and all(isinstance(v, sp.Integer) for v in values):
            entries = math.prod(int(v) for v in values) if len(values) > 1 else int(values[0]) ** 2
            if entries > MAX_MATERIALIZED:
                raise GraphError(
                    f"expression {i}: {name} of {entries} entries (at most {MAX_MATERIALIZED})"
                )
        elif name == "ImmutableDenseMatrix" and len(values) == 3:
            rows, cols = values[:2]
            if isinstance(rows, sp.Integer) and isinstance(cols, sp.Integer):
                if rows * cols > MAX_EXPLICIT_ENTRIES:
                    raise GraphError(
                        f"expression {i}: an explicit {rows} × {cols} matrix (at most "
                        f"{MAX_EXPLICIT_ENTRIES} entries); use a MatrixSymbol for large matrices"
                    )
        elif name == "MatPow" and len(values) == 2 and isinstance(values[1], sp.Rational):
            if abs(values[1]) > MAX_POWER_BITS:
                raise GraphError(
                    f"expression {i}: a matrix power of {_short(values[1])} "
                    f"(at most {MAX_POWER_BITS})"
                )


def _short(number: sp.Rational) -> str:
    bits = _bits_of(number)
    return f"about 2**{bits:.0f}" if bits > 60 else str(number)
