"""Graphs as files: symgraph's own JSON (save and load), GraphML and DOT (export).

The JSON file is networkx's node-link format (``nx.node_link_data(...,
edges="edges")``) with a few top-level keys of our own:

- ``format`` (``"symgraph-graph"``) and ``version`` (``1``);
- ``output`` and ``wrt``: node ids (a node's id is its symbol's name);
- ``symbols``: id -> ``{"name": ..., "assumptions": {"real": true, ...}}``
  for a ``Symbol``; other classes say so (:data:`SYMBOL_CLASSES`)::

      {"name": "delta_x", "class": "AdjointSymbol"}       an adjoint δ (also "AdjointNode", g_x)
      {"name": "W", "class": "MatrixSymbol", "shape": [4, 7]}
      {"name": "delta_W", "class": "MatrixAdjoint", "shape": [4, 7]}
      {"name": "u", "class": "Dummy", "dummy_index": 4441917, "assumptions": {}}

  A matrix's ``shape`` is two positions in ``exprs`` (an integer, or a size
  like ``n``), earlier than any entry naming the matrix; a ``Dummy`` (the
  variable of a ``Lambda``) keeps its ``dummy_index``, so it comes back equal;
- ``exprs``: every SymPy expression of the graph as one table of tree nodes,
  each naming its children by their position earlier in the table::

      {"s": "x"}                     a symbol (an id of ``symbols``)
      {"n": "3/2"}                   an integer or a rational
      {"fl": "0.5", "prec": 53}      a float, with its precision in bits
      {"c": "pi"}                    a named constant (pi, E, oo, zoo, nan, I, true...)
      {"f": "Add", "a": [0, 2]}      a whitelisted SymPy class applied to entries 0 and 2
      {"fn": "tanh"}                 a function class itself (of ``ElementwiseApplyFunction``)

  A node's ``op`` and ``expr`` and an edge's ``partial`` and ``vjp`` (matrix
  graphs) are positions in this table (``null`` for none); a node's ``shape``
  is ``[]`` or two positions (``{"int": 3}`` for a plain Python integer).  A
  table rather than nested JSON, because a node's ``expr`` contains its
  operands' (a chain of n nodes would take n² space) and because JSON decoders
  recurse on nesting (about 1,000 levels deep at most).

Loading never evaluates text: no ``eval``, ``sympify``, ``parse_expr`` or
``pickle``.  Each expression is built bottom-up, iteratively, from SymPy classes
looked up by name in a whitelist, unevaluated (``cls(*args, evaluate=False)``;
``MatMul`` and ``ElementwiseApplyFunction`` are assembled from their checked
arguments, since their constructors would multiply scalars out or apply the
function), so what comes back is exactly what was saved.  Anything else (an
unknown class, a malformed entry, a matrix dimension that is negative, not an
integer or over 2³¹ − 1, a file over 50 MB, nesting deeper than 10,000, an
integer over 10,000 digits) raises :class:`~symgraph.errors.GraphError` naming it.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
>>> h = from_json(to_json(g))
>>> h.nx.nodes[h.output]["op"], h.wrt
(sin(v1), (w,))
>>> h.backward()[w]
x*cos(w*x)

Matrix graphs too, with each node's shape and each edge's ``vjp``:

>>> W, v = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("v", 3, 1)
>>> m = from_json(to_json(sg.Graph.from_expr(sp.Trace(W.T * W), wrt=[W])))
>>> v1 = sp.MatrixSymbol("v1", 3, 3)
>>> m.nx.nodes[W]["shape"], m.nx.nodes[v1]["op"], m.nx.edges[W, v1]["vjp"]
((2, 3), W.T*W, W*delta_v1 + W*delta_v1.T)
"""

from __future__ import annotations

import json
import numbers
import os
import re
from pathlib import Path
from typing import IO, Any

import networkx as nx
import sympy as sp
from sympy.core.function import FunctionClass
from sympy.functions.elementary.piecewise import ExprCondPair
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.matrices.expressions.matmul import validate as _validate_matmul

from .adjoint import MatrixAdjoint
from .backward import AdjointSymbol
from .errors import GraphError
from .graph import ROLES, Graph
from .matfuncs import FrobeniusNorm, LogSumExp, RowLogSumExp, RowSoftmax, Softmax, SumEntries

FORMAT = "symgraph-graph"
VERSION = 1
MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 10_000
MAX_DIGITS = 10_000
MAX_PRECISION = 100_000  # bits of a Float
MAX_NAME = 10_000  # characters of a symbol's name
MAX_DIMENSION = 2**31 - 1  # rows or columns of a matrix of concrete shape
MAX_SIZE_PARTS = 100  # symbols, numbers and operations of a symbolic size like n + 1
MAX_DUMMY_INDEX = 2**63  # a Dummy's dummy_index is below this

#: The assumption flags a saved symbol may carry (SymPy's boolean facts).
ASSUMPTIONS = frozenset(
    """algebraic antihermitian commutative complex composite even extended_negative
    extended_nonnegative extended_nonpositive extended_nonzero extended_positive
    extended_real finite hermitian imaginary infinite integer irrational negative
    noninteger nonnegative nonpositive nonzero odd polar positive prime rational real
    transcendental zero""".split()
)

#: Named constants, by the name written in the file.
CONSTANTS: dict[str, sp.Basic] = {
    "pi": sp.pi,
    "E": sp.E,
    "I": sp.I,
    "oo": sp.oo,
    "-oo": -sp.oo,
    "zoo": sp.zoo,
    "nan": sp.nan,
    "EulerGamma": sp.EulerGamma,
    "Catalan": sp.Catalan,
    "GoldenRatio": sp.GoldenRatio,
    "TribonacciConstant": sp.TribonacciConstant,
    "true": sp.true,
    "false": sp.false,
    "IdentityFunction": sp.S.IdentityFunction,  # Lambda(x, x): SymPy's one instance
}
_CONSTANT_NAME = {value: name for name, value in CONSTANTS.items()}

_CLASS_LIST = [
    sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, sp.LambertW,
    sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc, sp.sinc,
    sp.asin, sp.acos, sp.atan, sp.acot, sp.asec, sp.acsc, sp.atan2,
    sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.sech, sp.csch,
    sp.asinh, sp.acosh, sp.atanh, sp.acoth, sp.asech, sp.acsch,
    sp.Abs, sp.sign, sp.re, sp.im, sp.arg, sp.conjugate, sp.Max, sp.Min,
    sp.floor, sp.ceiling, sp.frac, sp.Mod, sp.Heaviside, sp.DiracDelta, sp.KroneckerDelta,
    sp.Piecewise, ExprCondPair,
    sp.erf, sp.erfc, sp.erfi, sp.erfinv, sp.erfcinv, sp.gamma, sp.loggamma,
    sp.polygamma, sp.digamma, sp.trigamma, sp.beta, sp.factorial, sp.binomial,
    sp.Eq, sp.Ne, sp.Lt, sp.Le, sp.Gt, sp.Ge,
    sp.And, sp.Or, sp.Not, sp.Xor, sp.Implies,
]  # fmt: skip
_MATRIX_CLASS_LIST = [
    sp.MatMul, sp.MatAdd, sp.Transpose, sp.HadamardProduct, sp.HadamardPower, sp.MatPow,
    ElementwiseApplyFunction, sp.Trace, sp.Determinant, sp.Inverse,
    sp.Identity, sp.OneMatrix, sp.ZeroMatrix, MatrixElement, sp.ImmutableDenseMatrix,
    SumEntries, FrobeniusNorm, LogSumExp, Softmax, RowLogSumExp, RowSoftmax,
    sp.Lambda, sp.Tuple,
]  # fmt: skip
#: The SymPy classes a file may name, by class name (``StrictGreaterThan`` for ``>``).
CLASSES: dict[str, type] = {cls.__name__: cls for cls in _CLASS_LIST + _MATRIX_CLASS_LIST}
_NO_EVALUATE_FLAG = (  # constructors without ``evaluate=``
    ExprCondPair, sp.Transpose, sp.HadamardPower, sp.Trace, sp.Determinant, sp.Inverse,
    MatrixElement, SumEntries, FrobeniusNorm, LogSumExp, Softmax, RowLogSumExp, RowSoftmax,
    sp.Lambda, sp.Tuple,
)  # fmt: skip

_INTEGER = re.compile(r"-?[0-9]+(/[0-9]+)?", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]{1,9})?", re.ASCII)
_CHUNK = 4000  # digits per int() call: Python refuses longer strings by default


# --- numbers ----------------------------------------------------------------


def _int_to_text(value: int) -> str:
    """``str(value)`` without Python's 4,300-digit limit on int/str conversion."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    base = 10**_CHUNK
    chunks = []
    while value >= base:
        value, low = divmod(value, base)
        chunks.append(f"{low:0{_CHUNK}d}")
    return sign + str(value) + "".join(reversed(chunks))


def _text_to_int(digits: str) -> int:
    value = 0
    for start in range(0, len(digits), _CHUNK):
        chunk = digits[start : start + _CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return value


def _encode_rational(number: sp.Rational) -> str:
    texts = []
    for part in (number.p, number.q):
        # 10**k has about 3.32 k bits: refuse the obviously huge before converting
        text = "" if part.bit_length() > 3.33 * MAX_DIGITS + 8 else _int_to_text(abs(part))
        if not text or len(text) > MAX_DIGITS:
            raise GraphError(f"cannot save an integer of more than {MAX_DIGITS} digits")
        texts.append(text)
    sign = "-" if number.p < 0 else ""
    return sign + texts[0] if number.q == 1 else f"{sign}{texts[0]}/{texts[1]}"


def _decode_rational(text: Any) -> sp.Rational:
    if not isinstance(text, str) or not _INTEGER.fullmatch(text):
        raise GraphError(f"bad number {_show(text)}: expected digits like '-3' or '3/2'")
    numerator, _, denominator = text.lstrip("-").partition("/")
    if max(len(numerator), len(denominator)) > MAX_DIGITS:
        raise GraphError(f"refused an integer of more than {MAX_DIGITS} digits")
    p = _text_to_int(numerator) * (-1 if text.startswith("-") else 1)
    if not denominator:
        return sp.Integer(p)
    q = _text_to_int(denominator)
    if q == 0:
        raise GraphError(f"bad number {_show(text)}: zero denominator (write 'zoo')")
    return sp.Rational(p, q)


def _encode_float(number: sp.Float) -> dict:
    from mpmath.libmp.libmpf import repr_dps, to_str

    text = to_str(number._mpf_, repr_dps(number._prec))
    return {"fl": text, "prec": number._prec}


def _decode_float(entry: dict) -> sp.Float:
    text, prec = entry["fl"], entry.get("prec", 53)
    if (
        not isinstance(text, str)
        or len(text) > MAX_DIGITS
        or not _FLOAT.fullmatch(text.lower())
        or type(prec) is not int
        or not 1 <= prec <= MAX_PRECISION
    ):
        raise GraphError(f"bad float {_show(text)} with precision {_show(prec)}")
    return sp.Float(text, precision=prec)


# --- matrices: sizes and the constructors that need care ----------------------


def _is_matrix(e: Any) -> bool:
    return bool(getattr(e, "is_Matrix", False))


_SIZE_PARTS = (sp.Symbol, sp.Integer, sp.Add, sp.Mul, sp.Pow)


def _dimension(d: Any, where: str) -> sp.Expr:
    """``d`` when it can be a matrix's rows or columns, else a GraphError.

    An integer from 0 to :data:`MAX_DIMENSION`, or a size made of symbols and
    integers (``n``, ``n + 1``, ``2*h``, ``n**2``) that may be a nonnegative integer.
    """
    if isinstance(d, sp.Integer):
        if not 0 <= d <= MAX_DIMENSION:
            raise GraphError(f"{where}: dimension {_show(d)} is not from 0 to {MAX_DIMENSION}")
        return d
    stack, parts = [d], 0
    while stack:  # iterative: a size is built from the table, nested up to MAX_DEPTH
        e = stack.pop()
        parts += 1
        if (
            parts > MAX_SIZE_PARTS
            or not isinstance(e, _SIZE_PARTS)
            or (isinstance(e, sp.Integer) and abs(e) > MAX_DIMENSION)
            or (isinstance(e, sp.Pow) and not (isinstance(e.exp, sp.Integer) and 0 <= e.exp <= 64))
        ):
            raise GraphError(
                f"{where}: dimension {_show(d)} is neither an integer nor a size like n, n + 1"
            )
        stack.extend(e.args)
    if d.is_integer is False or d.is_nonnegative is False:
        raise GraphError(f"{where}: dimension {_show(d)} is not a nonnegative integer")
    return d


def _build_matmul(args: list) -> sp.Basic:
    """``MatMul`` as saved: SymPy's constructor multiplies the scalar factors out."""
    matrices = [a for a in args if _is_matrix(a)]
    if not matrices:
        raise GraphError("a MatMul without a matrix factor")
    _validate_matmul(*matrices)  # ShapeError for factors that cannot be multiplied
    return sp.Basic.__new__(sp.MatMul, *args)


def _build_hadamard_power(args: list) -> sp.Basic:
    if len(args) == 2 and not any(map(_is_matrix, args)):
        raise GraphError("a HadamardPower of two scalars")  # SymPy would compute base**exp
    return sp.HadamardPower(*args)


def _build_elementwise(args: list) -> sp.Basic:
    """``ElementwiseApplyFunction`` as saved: SymPy's constructor may apply the function."""
    function, operand = args
    if isinstance(function, sp.Lambda):
        unary = len(function.variables) == 1
    else:
        unary = isinstance(function, FunctionClass) and 1 in function.nargs
    if not unary or not _is_matrix(operand):
        raise GraphError(
            f"an entrywise function needs a unary function and a matrix: {_show(args)}"
        )
    return sp.Basic.__new__(ElementwiseApplyFunction, function, operand)


def _build_dense(args: list) -> sp.Basic:
    """An explicit matrix, ``ImmutableMatrix(rows, cols, entries)``."""
    rows, cols, entries = args
    if not all(isinstance(k, sp.Integer) and k >= 0 for k in (rows, cols)):
        raise GraphError(f"an explicit matrix of {_show(rows)} × {_show(cols)} entries")
    if not isinstance(entries, sp.Tuple):
        raise GraphError("an explicit matrix needs a Tuple of entries")
    if rows * cols != len(entries) or any(map(_is_matrix, entries)):
        raise GraphError(f"an explicit {rows} × {cols} matrix needs {rows * cols} scalar entries")
    return sp.ImmutableDenseMatrix(int(rows), int(cols), list(entries))


def _sized(cls: type):
    def build(args: list) -> sp.Basic:
        return cls(*(_dimension(a, cls.__name__) for a in args))

    return build


_BUILDERS = {
    sp.MatMul: _build_matmul,
    sp.HadamardPower: _build_hadamard_power,
    ElementwiseApplyFunction: _build_elementwise,
    sp.ImmutableDenseMatrix: _build_dense,
    sp.Identity: _sized(sp.Identity),
    sp.OneMatrix: _sized(sp.OneMatrix),
    sp.ZeroMatrix: _sized(sp.ZeroMatrix),
}


def _adjoint_node() -> type:
    from .derivatives import AdjointNode  # derivatives comes after io in the data flow

    return AdjointNode


# --- saving -----------------------------------------------------------------


def _flags(s: sp.Symbol, rebuild) -> dict[str, bool]:
    """The assumptions a symbol was made with (all of them when those do not rebuild it)."""
    given = getattr(s, "_assumptions_orig", None)
    flags = given if given is not None else s.assumptions0
    if rebuild(flags) != s:
        flags = s.assumptions0
    return {f: bool(v) for f, v in sorted(flags.items()) if v is not None}


class _Encoder:
    """Fills the symbol and expression tables; each object is written once."""

    def __init__(self) -> None:
        self.symbols: dict[str, dict] = {}
        self.key_of: dict[sp.Basic, str] = {}
        self.exprs: list[dict] = []
        self.index_of: dict[int, int] = {}  # id(expr) -> position in the table
        self.alive: list[Any] = []  # keeps ids valid while encoding

    def symbol(self, s: sp.Basic) -> str:
        if s in self.key_of:
            return self.key_of[s]
        entry = self._symbol_entry(s)  # a matrix's sizes go in the table first
        key, k = s.name, 1
        while key in self.symbols:
            key, k = f"{s.name}#{k}", k + 1
        self.symbols[key] = entry
        self.key_of[s] = key
        return key

    def _symbol_entry(self, s: sp.Basic) -> dict[str, Any]:
        cls, name = type(s), s.name
        if cls is sp.Symbol:
            return {"name": name, "assumptions": _flags(s, lambda f: sp.Symbol(name, **f))}
        if cls is sp.Dummy:
            index = s.dummy_index
            if type(index) is not int or not 0 <= index < MAX_DUMMY_INDEX:
                raise GraphError(f"cannot save the Dummy {s} of dummy_index {_show(index)}")
            flags = _flags(s, lambda f: sp.Dummy(name, index, **f))
            return {"name": name, "class": "Dummy", "dummy_index": index, "assumptions": flags}
        if cls in (sp.MatrixSymbol, MatrixAdjoint):
            where = f"the shape of {name}"
            shape = [self.expr(_dimension(d, where)) for d in s.shape]
            return {"name": name, "class": cls.__name__, "shape": shape}
        if cls is AdjointSymbol or (cls.__name__ == "AdjointNode" and cls is _adjoint_node()):
            return {"name": name, "class": cls.__name__}
        raise GraphError(
            f"cannot save the symbol {s} of class {cls.__name__}; only Symbol, Dummy, "
            "MatrixSymbol and symgraph's adjoint symbols are saved"
        )

    def expr(self, root: Any) -> int | None:
        """The table position of ``root``, written bottom-up with an explicit stack."""
        if root is None:
            return None
        # (object, its args once they are written): args are read once, since an
        # explicit matrix makes a new tuple of its entries at each reading
        stack: list[tuple[Any, tuple | None]] = [(root, None)]
        while stack:
            e, args = stack.pop()
            if id(e) in self.index_of:
                continue
            if isinstance(e, FunctionClass):
                entry = {"fn": self._function(e)}
            elif not isinstance(e, sp.Basic):
                raise GraphError(f"cannot save {e!r}: not a SymPy expression")
            else:
                entry = self._atom(e)
                if entry is None and args is None:
                    args = tuple(e.args)
                    stack.append((e, args))
                    stack.extend((a, None) for a in reversed(args))
                    continue
                if entry is None:
                    entry = {"f": type(e).__name__, "a": [self.index_of[id(a)] for a in args]}
                    self.alive.append(args)
            self.index_of[id(e)] = len(self.exprs)
            self.exprs.append(entry)
            self.alive.append(e)
        return self.index_of[id(root)]

    def _function(self, f: FunctionClass) -> str:
        """The name of a function class applied entrywise (``tanh`` of ``tanh(X)``)."""
        name = getattr(f, "__name__", "")
        if CLASSES.get(name) is not f:
            raise GraphError(
                f"cannot save the function {name}: not among the SymPy classes symgraph "
                "saves (see symgraph.io.CLASSES)"
            )
        return name

    def _atom(self, e: sp.Basic) -> dict | None:
        """The entry of a leaf of the tree, or None for a class applied to arguments."""
        if isinstance(e, (sp.Symbol, sp.MatrixSymbol)):
            return {"s": self.symbol(e)}
        if isinstance(e, sp.Rational):
            return {"n": _encode_rational(e)}
        if isinstance(e, sp.Float):
            return _encode_float(e)
        if e.is_Atom and e in _CONSTANT_NAME:
            return {"c": _CONSTANT_NAME[e]}
        if e is sp.S.IdentityFunction:
            return {"c": "IdentityFunction"}
        if CLASSES.get(type(e).__name__) is type(e):
            return None
        raise GraphError(
            f"cannot save {e}: {type(e).__name__} is not among the SymPy classes symgraph "
            "saves (see symgraph.io.CLASSES)"
        )

    def shape(self, shape: Any, where: str) -> list:
        """A node's ``shape``: table positions, ``{"int": k}`` for a Python integer."""
        if not isinstance(shape, (tuple, list)) or len(shape) not in (0, 2):
            raise GraphError(f"{where} = {_show(shape)} is not () or (rows, cols)")
        items: list = []
        for d in shape:
            if isinstance(d, sp.Basic):
                items.append(self.expr(_dimension(d, where)))
            elif isinstance(d, numbers.Integral) and not isinstance(d, bool):
                _dimension(sp.Integer(int(d)), where)
                items.append({"int": int(d)})
            else:
                raise GraphError(f"{where} = {_show(shape)}: {_show(d)} is not a size")
        return items


def _plain(value: Any, where: str) -> Any:
    """An extra attribute, kept when it is a plain JSON value."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise GraphError(f"{where} = {_show(value)} is neither an expression nor a plain value")


def to_json(graph: Graph, indent: int | None = None) -> str:
    """The graph as symgraph's JSON text (networkx node-link, plus our keys).

    Parameters
    ----------
    graph : Graph
    indent : int, optional
        Passed to :func:`json.dumps`; compact when omitted.

    Returns
    -------
    str

    Raises
    ------
    GraphError
        When an expression uses a class outside :data:`CLASSES` (an undefined
        function, a symbol of another class...), a matrix dimension other than
        an integer up to 2³¹ − 1 or a size like ``n``, or an integer over 10,000 digits.

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> x = sp.Symbol("x", positive=True)
    >>> data = json.loads(to_json(sg.Graph.from_expr(sp.log(x))))
    >>> data["format"], data["output"], data["wrt"], data["symbols"]["x"]
    ('symgraph-graph', 'L', ['x'], {'name': 'x', 'assumptions': {'positive': True}})
    >>> [data["exprs"][i] for i in (data["nodes"][1]["op"], data["edges"][0]["partial"])]
    [{'f': 'log', 'a': [0]}, {'f': 'Pow', 'a': [0, 2]}]
    """
    enc = _Encoder()
    h = nx.DiGraph()
    for node, data in graph.nx.nodes(data=True):
        missing = [k for k in _NODE if k not in data]
        if missing:
            raise GraphError(f"node {node} has no {', '.join(missing)}")
        attrs = {}
        for k, v in data.items():  # in their order, so a loaded node reads the same
            where = f"node {node}'s {k}"
            if k in ("op", "expr"):
                attrs[k] = enc.expr(v)
            elif k == "shape":
                attrs[k] = enc.shape(v, where)
            else:
                attrs[k] = _plain(v, where)
        h.add_node(enc.symbol(node), **attrs)
    for source, target, data in graph.nx.edges(data=True):
        attrs = {}
        for k, v in data.items():
            where = f"edge {source}->{target}'s {k}"
            attrs[k] = enc.expr(v) if k in _EDGE else _plain(v, where)
        attrs.setdefault("partial", None)
        h.add_edge(enc.key_of[source], enc.key_of[target], **attrs)
    link = nx.node_link_data(h, edges="edges")
    document = {"format": FORMAT, "version": VERSION, **link}
    document.update(
        output=enc.key_of[graph.output],
        wrt=[enc.key_of[w] for w in graph.wrt],
        symbols=enc.symbols,
        exprs=enc.exprs,
    )
    return json.dumps(document, indent=indent, ensure_ascii=False)


_NODE = ("op", "expr", "role")
_EDGE = ("partial", "vjp")  # the expressions of an edge


def save_json(graph: Graph, path_or_file: str | os.PathLike | IO[str]) -> None:
    """Write :func:`to_json` of ``graph`` to a path or an open text file.

    Examples
    --------
    >>> import io, sympy as sp, symgraph as sg
    >>> buffer = io.StringIO()
    >>> save_json(sg.Graph.from_expr(sp.Symbol("x") ** 2), buffer)
    >>> load_json(io.StringIO(buffer.getvalue())).expr
    x**2
    """
    text = to_json(graph)
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
    else:
        Path(path_or_file).write_text(text, encoding="utf-8")


# --- loading ----------------------------------------------------------------


def _show(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except (RecursionError, ValueError):  # a deep expression, an integer over 4,300 digits
        text = f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit] + "..."


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise GraphError(f"not a symgraph graph file: {message}")


#: The classes of the ``symbols`` table, each with the keys its entries may have.
SYMBOL_CLASSES: dict[str, set[str]] = {
    "Symbol": {"name", "assumptions"},
    "AdjointSymbol": {"name", "class"},
    "AdjointNode": {"name", "class"},
    "Dummy": {"name", "class", "dummy_index", "assumptions"},
    "MatrixSymbol": {"name", "class", "shape"},
    "MatrixAdjoint": {"name", "class", "shape"},
}
_PREFIX = {"AdjointSymbol": "delta_", "MatrixAdjoint": "delta_", "AdjointNode": "g_"}
_MATRIX_SYMBOLS = {"MatrixSymbol": sp.MatrixSymbol, "MatrixAdjoint": MatrixAdjoint}


def _decode_flags(entry: dict, name: str) -> dict[str, bool]:
    flags = entry.get("assumptions", {})
    _need(isinstance(flags, dict), f"symbol {_show(name)}: assumptions must be an object")
    for flag, value in flags.items():
        _need(flag in ASSUMPTIONS, f"unknown assumption {_show(flag)} on {_show(name)}")
        _need(isinstance(value, bool), f"assumption {flag} of {_show(name)} is not a boolean")
    return flags


def _decode_symbols(table: Any) -> tuple[dict[str, sp.Basic], dict[str, tuple]]:
    """The scalar symbols, and each matrix symbol's (class, name, shape) to build later.

    A matrix symbol's shape names entries of the expression table, so it is
    built when the table first names it (its shape entries come earlier).
    """
    _need(isinstance(table, dict), "'symbols' must be an object")
    symbols: dict[str, sp.Basic] = {}
    matrices: dict[str, tuple] = {}
    for key, entry in table.items():
        _need(isinstance(entry, dict), f"symbol {_show(key)} must be an object")
        name = entry.get("name")
        _need(isinstance(name, str) and 0 < len(name) <= MAX_NAME, f"bad name {_show(name)}")
        kind = entry.get("class", "Symbol")
        _need(
            isinstance(kind, str) and kind in SYMBOL_CLASSES, f"unknown symbol class {_show(kind)}"
        )
        _need(set(entry) <= SYMBOL_CLASSES[kind], f"symbol {_show(key)}: extra keys")
        prefix = _PREFIX.get(kind, "")
        _need(name.startswith(prefix) and len(name) > len(prefix), f"bad {kind} name {_show(name)}")
        if kind in _MATRIX_SYMBOLS:
            shape = entry.get("shape")
            _need(
                isinstance(shape, list) and len(shape) == 2,
                f"matrix {_show(name)}: shape must be a list of two expression positions",
            )
            matrices[key] = (_MATRIX_SYMBOLS[kind], name, shape)
            continue
        if kind == "AdjointSymbol":
            symbols[key] = AdjointSymbol(sp.Symbol(name[len(prefix) :]))
            continue
        if kind == "AdjointNode":
            symbols[key] = _adjoint_node()(name)
            continue
        flags = _decode_flags(entry, name)
        try:
            if kind == "Dummy":
                index = entry.get("dummy_index")
                _need(
                    type(index) is int and 0 <= index < MAX_DUMMY_INDEX,
                    f"Dummy {_show(name)}: bad dummy_index {_show(index)}",
                )
                symbols[key] = sp.Dummy(name, index, **flags)
            else:
                symbols[key] = sp.Symbol(name, **flags)
        except GraphError:
            raise
        except Exception as err:  # InconsistentAssumptions
            raise GraphError(f"symbol {_show(name)}: {err}") from err
    return symbols, matrices


def _matrix_symbol(key: str, spec: tuple, built: list, limit: int) -> sp.MatrixSymbol:
    """The matrix symbol ``key``, its shape read from the first ``limit`` table entries."""
    cls, name, refs = spec
    dims = []
    for ref in refs:
        _need(
            type(ref) is int and 0 <= ref < limit,
            f"the shape of {_show(name)} names {_show(ref)}, no earlier expression",
        )
        dims.append(_dimension(built[ref], f"the shape of {_show(name)}"))
    try:
        return cls(name, *dims)
    except Exception as err:  # a size SymPy refuses
        raise GraphError(f"matrix {_show(name)}: {err}") from err


def _construct(cls: type, args: list) -> sp.Basic:
    try:
        if cls in _BUILDERS:
            return _BUILDERS[cls](args)
        if issubclass(cls, _NO_EVALUATE_FLAG):
            return cls(*args)
        return cls(*args, evaluate=False)
    except GraphError as err:
        raise GraphError(f"cannot build {cls.__name__}: {err}") from err
    except Exception as err:  # wrong arity, a Boolean where a number belongs...
        raise GraphError(f"cannot build {cls.__name__} of {len(args)} arguments: {err}") from err


_KINDS = frozenset({"f", "fn", "s", "n", "fl", "c"})


def _decode_exprs(
    table: Any, symbols: dict[str, sp.Basic], matrices: dict[str, tuple]
) -> list[Any]:
    """Each entry built from earlier ones: iterative, and cycles cannot be written.

    Builds the matrix symbols of ``matrices`` into ``symbols``, each when first named.
    """
    _need(isinstance(table, list), "'exprs' must be a list")
    built: list[Any] = []
    depth: list[int] = []
    for i, entry in enumerate(table):
        _need(isinstance(entry, dict) and entry, f"expression {i} must be a non-empty object")
        kinds = set(entry) & _KINDS
        _need(len(kinds) == 1, f"expression {i}: expected one of the keys f, fn, s, n, fl, c")
        (kind,) = kinds
        if kind == "f":
            _need(set(entry) == {"f", "a"}, f"expression {i}: expected keys 'f' and 'a'")
            name, args = entry["f"], entry["a"]
            if not isinstance(name, str) or name not in CLASSES:
                raise GraphError(
                    f"expression {i}: unknown class {_show(name)}; a file may only name "
                    "the SymPy classes in symgraph.io.CLASSES"
                )
            _need(isinstance(args, list), f"expression {i}: 'a' must be a list")
            cls = CLASSES[name]
            for k, a in enumerate(args):
                _need(
                    type(a) is int and 0 <= a < i,
                    f"expression {i}: argument {_show(a)} is not an earlier expression",
                )
                if not isinstance(built[a], sp.Basic) and (k, cls) != (0, ElementwiseApplyFunction):
                    raise GraphError(f"expression {i}: a function is an argument of {name}")
            d = 1 + max((depth[a] for a in args), default=0)
            if d > MAX_DEPTH:
                raise GraphError(f"expression {i} is nested deeper than {MAX_DEPTH} levels")
            built.append(_construct(cls, [built[a] for a in args]))
            depth.append(d)
            continue
        _need(len(entry) == 1 or set(entry) == {"fl", "prec"}, f"expression {i}: extra keys")
        value = entry[kind]
        if kind == "s":
            _need(
                isinstance(value, str) and (value in symbols or value in matrices),
                f"unknown symbol {_show(value)}",
            )
            if value not in symbols:
                symbols[value] = _matrix_symbol(value, matrices[value], built, i)
            built.append(symbols[value])
        elif kind == "fn":
            _need(
                isinstance(value, str) and isinstance(CLASSES.get(value), FunctionClass),
                f"expression {i}: unknown function {_show(value)}",
            )
            built.append(CLASSES[value])
        elif kind == "n":
            built.append(_decode_rational(value))
        elif kind == "fl":
            built.append(_decode_float(entry))
        else:
            _need(isinstance(value, str) and value in CONSTANTS, f"unknown constant {_show(value)}")
            built.append(CONSTANTS[value])
        depth.append(1)
    for key, spec in matrices.items():  # matrix nodes no expression names
        if key not in symbols:
            symbols[key] = _matrix_symbol(key, spec, built, len(built))
    return built


def _reference(value: Any, exprs: list, where: str, optional: bool = True):
    if value is None and optional:
        return None
    _need(type(value) is int and 0 <= value < len(exprs), f"{where} is not an expression")
    _need(isinstance(exprs[value], sp.Basic), f"{where} is a function, not an expression")
    return exprs[value]


def _decode_shape(value: Any, exprs: list, node: sp.Basic, where: str) -> tuple:
    """A node's ``shape``, which must be its symbol's: ``()`` for a scalar."""
    _need(isinstance(value, list) and len(value) in (0, 2), f"{where} is not () or (rows, cols)")
    dims: list = []
    for d in value:
        if isinstance(d, dict):
            _need(set(d) == {"int"} and type(d["int"]) is int, f"{where}: bad size {_show(d)}")
            _dimension(sp.Integer(d["int"]), where)
            dims.append(d["int"])
        else:
            dims.append(_dimension(_reference(d, exprs, where, False), where))
    shape = tuple(dims)
    expected = tuple(node.shape) if isinstance(node, sp.MatrixSymbol) else ()
    if shape != expected:
        _need(False, f"{where} {_show(shape)} is not its symbol's {_show(expected)}")
    return shape


def from_json(text: str | bytes) -> Graph:
    """The graph written by :func:`to_json`; nothing in the text is executed.

    Raises
    ------
    GraphError
        For anything but a well-formed symgraph graph: bad JSON, another format
        or version, an unknown class or constant, a malformed number, a dangling
        node or expression reference, a cycle, over 50 MB, nesting over 10,000.

    Examples
    --------
    >>> from_json('{"format": "symgraph-graph", "version": 1, "nodes": []}')
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: not a symgraph graph file: 'edges' must be a list
    >>> from_json('{"format": "pickle"}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: not a symgraph graph file: format is 'pickle', expected ...
    """
    if len(text) > MAX_BYTES:
        raise GraphError(f"refused a graph file over {MAX_BYTES // 2**20} MB")
    try:
        document = json.loads(text)
    except RecursionError as err:
        raise GraphError("not a symgraph graph file: JSON nested too deeply") from err
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, huge int literal
        raise GraphError(f"not a symgraph graph file: {err}") from err
    _need(isinstance(document, dict), "the top level must be an object")
    fmt, version = document.get("format"), document.get("version")
    _need(fmt == FORMAT, f"format is {_show(fmt)}, expected {FORMAT!r}")
    if version != VERSION or type(version) is not int:
        raise GraphError(f"graph file version {_show(version)}; this symgraph reads {VERSION}")
    nodes, edges = document.get("nodes"), document.get("edges")
    _need(isinstance(nodes, list), "'nodes' must be a list")
    _need(isinstance(edges, list), "'edges' must be a list")
    _need(document.get("directed", True) is True, "the graph must be directed")
    _need(document.get("multigraph", False) is False, "the graph must not be a multigraph")
    symbols, matrices = _decode_symbols(document.get("symbols"))
    exprs = _decode_exprs(document.get("exprs"), symbols, matrices)

    g = nx.DiGraph()
    for item in nodes:
        _need(isinstance(item, dict), "a node must be an object")
        key = item.get("id")
        _need(isinstance(key, str) and key in symbols, f"node id {_show(key)} is not a symbol")
        node = symbols[key]
        _need(node not in g, f"node {_show(key)} is listed twice")
        _need(item.get("role") in ROLES, f"node {_show(key)} has role {_show(item.get('role'))}")
        _need("expr" in item, f"node {_show(key)} has no expr")
        attrs: dict[str, Any] = {}
        for k, v in item.items():  # in the file's order, which is the saved graph's
            where = f"node {key}'s {k}"
            if k in ("op", "expr"):
                attrs[k] = _reference(v, exprs, where, optional=k == "op")
            elif k == "shape":
                attrs[k] = _decode_shape(v, exprs, node, where)
            elif k != "id":
                attrs[k] = _plain(v, k)
        attrs.setdefault("op", None)
        g.add_node(node, **attrs)
    for item in edges:
        _need(isinstance(item, dict), "an edge must be an object")
        ends = item.get("source"), item.get("target")
        for end in ends:
            _need(isinstance(end, str) and end in symbols, f"edge end {_show(end)} is no node")
            _need(symbols[end] in g, f"edge end {_show(end)} is no node")
        source, target = (symbols[end] for end in ends)
        _need(not g.has_edge(source, target), f"edge {ends} is listed twice")
        attrs = {}
        for k, v in item.items():
            if k in _EDGE:
                attrs[k] = _reference(v, exprs, f"edge {ends}'s {k}")
            elif k not in ("source", "target"):
                attrs[k] = _plain(v, k)
        attrs.setdefault("partial", None)
        g.add_edge(source, target, **attrs)
    _need(nx.is_directed_acyclic_graph(g), "the graph has a cycle")

    output, wrt = document.get("output"), document.get("wrt")
    _need(isinstance(output, str) and symbols.get(output) in g, f"output {_show(output)}")
    _need(isinstance(wrt, list), "'wrt' must be a list")
    for w in wrt:
        _need(isinstance(w, str) and symbols.get(w) in g, f"weight {_show(w)} is no node")
    _need(len(set(wrt)) == len(wrt), "a weight is listed twice")
    return Graph(g, symbols[output], [symbols[w] for w in wrt])


def load_json(path_or_file: str | os.PathLike | IO) -> Graph:
    """Read a graph written by :func:`save_json` from a path or an open file.

    Raises
    ------
    GraphError
        As :func:`from_json`; also for a file over 50 MB, before reading it.

    Examples
    --------
    >>> import io
    >>> load_json(io.BytesIO(b"[1, 2]"))
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: not a symgraph graph file: the top level must be an object
    """
    if hasattr(path_or_file, "read"):
        text = path_or_file.read(MAX_BYTES + 1)
    else:
        path = Path(path_or_file)
        if path.stat().st_size > MAX_BYTES:
            raise GraphError(f"refused {path}: a graph file over {MAX_BYTES // 2**20} MB")
        text = path.read_bytes()
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise GraphError(f"refused a graph file over {MAX_BYTES // 2**20} MB")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise GraphError(f"not a symgraph graph file: not UTF-8 ({err})") from err
    return from_json(text)


# --- export for other tools -------------------------------------------------


def _stringified(graph: Graph) -> nx.DiGraph:
    """A copy with string node ids and string attributes (``str()`` of each expression)."""

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    h = nx.DiGraph()
    for node, data in graph.nx.nodes(data=True):
        h.add_node(str(node), **{k: text(v) for k, v in data.items()})
    for source, target, data in graph.nx.edges(data=True):
        h.add_edge(str(source), str(target), **{k: text(v) for k, v in data.items()})
    h.graph.update(output=str(graph.output), wrt=" ".join(str(w) for w in graph.wrt))
    return h


def to_graphml(graph: Graph) -> str:
    """GraphML text of the graph, every attribute a string (read it with ``nx.read_graphml``).

    Node ids are the symbols' names; ``op``, ``expr``, ``role`` and each edge's
    ``partial`` are ``str()`` of the SymPy expression (empty for none).  The
    graph's ``output`` and ``wrt`` (space-separated) are graph attributes.
    GraphML is for other tools: load a graph back with :func:`load_json`.

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> g = nx.parse_graphml(to_graphml(sg.Graph.from_expr(sp.sin(w * x), wrt=[w])))
    >>> g.nodes["L"]
    {'op': 'sin(v1)', 'expr': 'sin(w*x)', 'role': 'output'}
    >>> g.edges["v1", "L"]["partial"], g.graph["wrt"]
    ('cos(v1)', 'w')
    """
    return "\n".join(nx.generate_graphml(_stringified(graph)))


def save_graphml(graph: Graph, path: str | os.PathLike) -> None:
    """Write :func:`to_graphml` of ``graph`` to ``path``."""
    nx.write_graphml(_stringified(graph), path)


def save_dot(graph: Graph, path: str | os.PathLike, **kw: Any) -> None:
    """Write Graphviz DOT source of ``graph`` (:func:`symgraph.draw.to_dot`) to ``path``.

    Keyword arguments (``values``, ``adjoints``, ``highlight``) go to ``to_dot``.

    Examples
    --------
    >>> import sympy as sp, tempfile, symgraph as sg
    >>> path = Path(tempfile.mkdtemp()) / "g.dot"
    >>> save_dot(sg.Graph.from_expr(sp.Symbol("x") + 1), path)
    >>> path.read_text().splitlines()[0]
    'digraph symgraph {'
    """
    from .draw import to_dot  # draw comes after io in the data flow

    Path(path).write_text(to_dot(graph, **kw) + "\n", encoding="utf-8")
