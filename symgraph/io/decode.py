"""Loading graph files: JSON text -> Graph, nothing in the text executed.

The format is described in :mod:`symgraph.io`; every refusal is a
:class:`~symgraph.errors.GraphError` of one line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

import networkx as nx
import sympy as sp
from sympy.core.function import FunctionClass
from sympy.logic.boolalg import Boolean
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.adjoint import AdjointNode, AdjointSymbol, MatrixAdjoint
from ..core.collector import paused_collector
from ..core.graph import ROLES, Graph
from ..core.sizes import shown
from ..core.substitute import EVALUATED_DEPTH, as_sized
from ..errors import GraphError
from .format import (
    _BUILDERS,
    _EDGE,
    _NO_EVALUATE_FLAG,
    ASSUMPTIONS,
    CLASSES,
    CONSTANTS,
    FORMAT,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_DUMMY_INDEX,
    MAX_NAME,
    VERSION,
    _decode_float,
    _decode_rational,
    _dimension,
    _need,
    _plain,
)
from .limits import MAX_SIZE, MAX_TERMS, Costs, check_size
from .verify import verify

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
    _need(isinstance(flags, dict), f"symbol {shown(name)}: assumptions must be an object")
    for flag, value in flags.items():
        _need(flag in ASSUMPTIONS, f"unknown assumption {shown(flag)} on {shown(name)}")
        _need(isinstance(value, bool), f"assumption {flag} of {shown(name)} is not a boolean")
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
        _need(isinstance(entry, dict), f"symbol {shown(key)} must be an object")
        name = entry.get("name")
        _need(isinstance(name, str) and 0 < len(name) <= MAX_NAME, f"bad name {shown(name)}")
        kind = entry.get("class", "Symbol")
        _need(
            isinstance(kind, str) and kind in SYMBOL_CLASSES, f"unknown symbol class {shown(kind)}"
        )
        _need(set(entry) <= SYMBOL_CLASSES[kind], f"symbol {shown(key)}: extra keys")
        prefix = _PREFIX.get(kind, "")
        _need(name.startswith(prefix) and len(name) > len(prefix), f"bad {kind} name {shown(name)}")
        if kind in _MATRIX_SYMBOLS:
            shape = entry.get("shape")
            _need(
                isinstance(shape, list) and len(shape) == 2,
                f"matrix {shown(name)}: shape must be a list of two expression positions",
            )
            matrices[key] = (_MATRIX_SYMBOLS[kind], name, shape)
            continue
        if kind == "AdjointSymbol":
            symbols[key] = AdjointSymbol(sp.Symbol(name[len(prefix) :]))
            continue
        if kind == "AdjointNode":
            symbols[key] = AdjointNode(name)
            continue
        flags = _decode_flags(entry, name)
        try:
            if kind == "Dummy":
                index = entry.get("dummy_index")
                _need(
                    type(index) is int and 0 <= index < MAX_DUMMY_INDEX,
                    f"Dummy {shown(name)}: bad dummy_index {shown(index)}",
                )
                symbols[key] = sp.Dummy(name, index, **flags)
            else:
                symbols[key] = sp.Symbol(name, **flags)
        except GraphError:
            raise
        except Exception as err:  # InconsistentAssumptions
            raise GraphError(f"symbol {shown(name)}: {err}") from err
    return symbols, matrices


def _matrix_symbol(key: str, spec: tuple, built: list, limit: int) -> sp.MatrixSymbol:
    """The matrix symbol ``key``, its shape read from the first ``limit`` table entries."""
    cls, name, refs = spec
    dims = []
    for ref in refs:
        _need(
            type(ref) is int and 0 <= ref < limit,
            f"the shape of {shown(name)} names {shown(ref)}, no earlier expression",
        )
        dims.append(_dimension(built[ref], f"the shape of {shown(name)}"))
    try:
        return cls(name, *dims)
    except Exception as err:  # a size SymPy refuses
        raise GraphError(f"matrix {shown(name)}: {err}") from err


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


_BOOLEAN_ARGUMENTS = frozenset({"And", "Or", "Not", "Xor", "Implies", "Eq", "Ne"})


def _is_truth_value(value: Any) -> bool:
    """``true``, a comparison, ``And(...)``: not a number (a Symbol is both)."""
    return isinstance(value, Boolean) and not isinstance(value, sp.Expr)


def _takes_boolean(name: str, k: int) -> bool:
    """Whether argument ``k`` of class ``name`` may be a truth value (a condition)."""
    return name in _BOOLEAN_ARGUMENTS or (name == "ExprCondPair" and k == 1)


def _decode_exprs(
    table: Any, symbols: dict[str, sp.Basic], matrices: dict[str, tuple], costs: Costs
) -> list[Any]:
    """Each entry built from earlier ones: iterative, and cycles cannot be written.

    Builds the matrix symbols of ``matrices`` into ``symbols``, each when first named.
    Each entry's cost is checked (and recorded) by ``costs`` before it is built.
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
                    f"expression {i}: unknown class {shown(name)}; a file may only name "
                    "the SymPy classes in symgraph.io.CLASSES"
                )
            _need(isinstance(args, list), f"expression {i}: 'a' must be a list")
            cls = CLASSES[name]
            for k, a in enumerate(args):
                _need(
                    type(a) is int and 0 <= a < i,
                    f"expression {i}: argument {shown(a)} is not an earlier expression",
                )
                if not isinstance(built[a], sp.Basic) and (k, cls) != (0, ElementwiseApplyFunction):
                    raise GraphError(f"expression {i}: a function is an argument of {name}")
                if _is_truth_value(built[a]) and not _takes_boolean(name, k):
                    raise GraphError(
                        f"expression {i}: {shown(built[a])} (a truth value) where {name} needs "
                        "a number; booleans are only conditions (Piecewise, And, Or, Not)"
                    )
            d = 1 + max((depth[a] for a in args), default=0)
            if d > MAX_DEPTH:
                raise GraphError(f"expression {i} is nested deeper than {MAX_DEPTH} levels")
            costs.apply(name, args, built)  # before building: nothing is computed yet
            value = _construct(cls, [built[a] for a in args])
            built.append(as_sized(value) if d > EVALUATED_DEPTH else value)  # shapes stored
            depth.append(d)
            continue
        _need(len(entry) == 1 or set(entry) == {"fl", "prec"}, f"expression {i}: extra keys")
        value = entry[kind]
        if kind == "s":
            _need(
                isinstance(value, str) and (value in symbols or value in matrices),
                f"unknown symbol {shown(value)}",
            )
            if value not in symbols:
                symbols[value] = _matrix_symbol(value, matrices[value], built, i)
            built.append(symbols[value])
        elif kind == "fn":
            _need(
                isinstance(value, str) and isinstance(CLASSES.get(value), FunctionClass),
                f"expression {i}: unknown function {shown(value)}",
            )
            built.append(CLASSES[value])
        elif kind == "n":
            built.append(_decode_rational(value))
        elif kind == "fl":
            built.append(_decode_float(entry))
        else:
            _need(isinstance(value, str) and value in CONSTANTS, f"unknown constant {shown(value)}")
            built.append(CONSTANTS[value])
        costs.leaf(built[-1])
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
            _need(set(d) == {"int"} and type(d["int"]) is int, f"{where}: bad size {shown(d)}")
            _dimension(sp.Integer(d["int"]), where)
            dims.append(d["int"])
        else:
            dims.append(_dimension(_reference(d, exprs, where, False), where))
    shape = tuple(dims)
    expected = tuple(node.shape) if isinstance(node, sp.MatrixSymbol) else ()
    if shape != expected:
        _need(False, f"{where} {shown(shape)} is not its symbol's {shown(expected)}")
    return shape


@paused_collector
def from_json(text: str | bytes, *, max_size: int = MAX_SIZE, max_terms: int = MAX_TERMS) -> Graph:
    """The graph written by :func:`to_json`; nothing in the text is executed.

    What the loader can derive it checks (:func:`~symgraph.io.verify.verify`):
    each edge's partial or vector-Jacobian product against its node's
    operation (by the rules registry), each node's expression against its
    operation, the roles; and it applies the text parser's cost limits before
    anything is computed (:mod:`symgraph.io.limits`).

    Parameters
    ----------
    text : str or bytes
        UTF-8 JSON text.
    max_size : int, optional
        At most this many nodes + edges (60,000 by default).
    max_terms : int, optional
        At most this many distinct parts in one expression, a shared part
        counted once (300,000 by default: the largest table a file of
        ``max_size`` may have, so it binds only when set lower).

    Raises
    ------
    GraphError
        For anything but a well-formed symgraph graph: bad JSON, another format
        or version, an unknown class or constant, a malformed number, a dangling
        node or expression reference, a cycle, over 50 MB, nesting over 10,000,
        over a cost limit, a partial or expression its operation contradicts.

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
    if not isinstance(text, (str, bytes, bytearray)):
        raise GraphError(f"a graph file is str or bytes, not {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise GraphError(f"refused a graph file over {MAX_BYTES // 2**20} MB")
    if isinstance(text, (bytes, bytearray)):
        text = _utf8(bytes(text))
    try:
        document = json.loads(text)
    except RecursionError as err:
        raise GraphError("not a symgraph graph file: JSON nested too deeply") from err
    except ValueError as err:  # JSONDecodeError, huge int literal
        raise GraphError(f"not a symgraph graph file: {shown(str(err), 120)}") from err
    try:
        return _graph(document, max_size, max_terms)
    except GraphError:
        raise
    except (Exception, RecursionError) as err:  # noqa: BLE001 - never a raw exception
        reason = shown(f"{type(err).__name__}: {err}", 120)
        raise GraphError(f"not a symgraph graph file: cannot load it ({reason})") from err


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise GraphError(
            f"not a symgraph graph file: not UTF-8 (byte {err.start}); save it with save_json"
        ) from err


def _graph(document: Any, max_size: int, max_terms: int) -> Graph:
    _need(isinstance(document, dict), "the top level must be an object")
    fmt, version = document.get("format"), document.get("version")
    _need(fmt == FORMAT, f"format is {shown(fmt)}, expected {FORMAT!r}")
    if version != VERSION or type(version) is not int:
        raise GraphError(f"graph file version {shown(version)}; this symgraph reads {VERSION}")
    nodes, edges = document.get("nodes"), document.get("edges")
    _need(isinstance(nodes, list), "'nodes' must be a list")
    _need(isinstance(edges, list), "'edges' must be a list")
    table = document.get("exprs")
    check_size(len(nodes), len(edges), max_size, len(table) if isinstance(table, list) else 0)
    for item in nodes:  # before the (slower) tables: a node without an expression is refused
        _need(isinstance(item, dict), "a node must be an object")
        expr = item.get("expr")
        _need(type(expr) is int, f"node {shown(item.get('id'))}'s expr is not an expression")
    symbols, matrices = _decode_symbols(document.get("symbols"))
    costs = Costs(max_terms)
    exprs = _decode_exprs(document.get("exprs"), symbols, matrices, costs)

    g = nx.DiGraph()
    for item in nodes:
        _need(isinstance(item, dict), "a node must be an object")
        key = item.get("id")
        _need(isinstance(key, str) and key in symbols, f"node id {shown(key)} is not a symbol")
        node = symbols[key]
        _need(node not in g, f"node {shown(key)} is listed twice")
        _need(item.get("role") in ROLES, f"node {shown(key)} has role {shown(item.get('role'))}")
        _need("expr" in item, f"node {shown(key)} has no expr")
        attrs: dict[str, Any] = {}
        for k, v in item.items():  # in the file's order, which is the saved graph's
            where = f"node {key}'s {k}"
            if k in ("op", "expr"):
                attrs[k] = _reference(v, exprs, where, optional=k == "op")
                if k == "op" and v is not None:
                    costs.check_tree(v, where)  # an expression may share, an operation not
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
            _need(isinstance(end, str) and end in symbols, f"edge end {shown(end)} is no node")
            _need(symbols[end] in g, f"edge end {shown(end)} is no node")
        source, target = (symbols[end] for end in ends)
        _need(not g.has_edge(source, target), f"edge {ends} is listed twice")
        attrs = {}
        for k, v in item.items():
            if k in _EDGE:
                attrs[k] = _reference(v, exprs, f"edge {ends}'s {k}")
                if v is not None:
                    costs.check_tree(v, f"edge {ends}'s {k}")
            elif k not in ("source", "target"):
                attrs[k] = _plain(v, k)
        attrs.setdefault("partial", None)
        if attrs["partial"] is not None:
            attrs.pop("vjp", None)  # a scalar edge's share is δ·partial, derived from it
        g.add_edge(source, target, **attrs)
    _need(nx.is_directed_acyclic_graph(g), "the graph has a cycle")

    output, wrt = document.get("output"), document.get("wrt")
    _need(isinstance(output, str) and symbols.get(output) in g, f"output {shown(output)}")
    _need(isinstance(wrt, list), "'wrt' must be a list")
    for w in wrt:
        _need(isinstance(w, str) and symbols.get(w) in g, f"weight {shown(w)} is no node")
    _need(len(set(wrt)) == len(wrt), "a weight is listed twice")
    graph = Graph(g, symbols[output], [symbols[w] for w in wrt])
    verify(graph)
    return graph


def load_json(
    path_or_file: str | os.PathLike | IO, *, max_size: int = MAX_SIZE, max_terms: int = MAX_TERMS
) -> Graph:
    """Read a graph written by :func:`save_json` from a path or an open file.

    ``max_size`` and ``max_terms`` raise the limits, as for :func:`from_json`.

    Raises
    ------
    GraphError
        As :func:`from_json`; also for a file over 50 MB, before reading it,
        and for a file that cannot be read.

    Examples
    --------
    >>> import io
    >>> load_json(io.BytesIO(b"[1, 2]"))
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: not a symgraph graph file: the top level must be an object
    """
    try:
        if hasattr(path_or_file, "read"):
            text = path_or_file.read(MAX_BYTES + 1)
        else:
            path = Path(path_or_file)
            if path.stat().st_size > MAX_BYTES:
                raise GraphError(f"refused {path}: a graph file over {MAX_BYTES // 2**20} MB")
            text = path.read_bytes()
    except UnicodeDecodeError as err:  # a file opened in text mode
        raise GraphError(
            f"not a symgraph graph file: not UTF-8 (byte {err.start}); open it in binary mode"
        ) from err
    except (OSError, TypeError, ValueError) as err:
        reason = shown(f"{type(err).__name__}: {err}", 120)
        raise GraphError(f"cannot read the graph file: {reason}") from err
    return from_json(text, max_size=max_size, max_terms=max_terms)
