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
integer or over 100,000, a file over 50 MB, nesting deeper than 10,000, an
integer over 4,000 digits, a boolean where a number belongs) raises
:class:`~symgraph.errors.GraphError` naming it, in one line.

Before anything is computed, the loader applies the text parser's cost limits
(:mod:`symgraph.io.limits`: sizes of numbers and powers, arguments of
``factorial``/``binomial``/``gamma``, matrix sizes, the distinct parts of each
expression, the number of nodes and edges); then it checks what it can derive
(:mod:`symgraph.io.verify`): partials and vector-Jacobian products against
the operations, by the rules registry, expressions against operations, roles.
So a file from an untrusted source can be loaded: it cannot run code, hang the
steps after loading, or make symgraph differentiate wrongly.

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

from ..core.adjoint import AdjointNode, AdjointSymbol, MatrixAdjoint
from ..core.collector import paused_collector
from ..core.graph import Graph
from ..core.sizes import shown
from ..core.substitute import plain_class
from ..errors import GraphError
from ..present.draw import to_dot
from .decode import SYMBOL_CLASSES, from_json, load_json
from .format import (  # noqa: F401 - the vocabulary, also readable as symgraph.io.*
    _CLASS_LIST,
    _CONSTANT_NAME,
    _EDGE,
    _MATRIX_CLASS_LIST,
    _NODE,
    ASSUMPTIONS,
    CLASSES,
    CONSTANTS,
    FORMAT,
    MAX_BYTES,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_DIMENSION,
    MAX_DUMMY_INDEX,
    VERSION,
    _dimension,
    _encode_float,
    _encode_rational,
    _plain,
)

__all__ = [
    "SYMBOL_CLASSES",
    "from_json",
    "load_json",
    "save_dot",
    "save_graphml",
    "save_json",
    "to_graphml",
    "to_json",
]


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
        self.suffix: dict[str, int] = {}  # name -> the next suffix to try
        self.exprs: list[dict] = []
        self.index_of: dict[int, int] = {}  # id(expr) -> position in the table
        # a leaf's entry -> its position: equal symbols and numbers are written once, however
        # many objects hold them (SymPy's caches may drop one and build an equal one again)
        self.leaf_at: dict[tuple, int] = {}
        self.alive: list[Any] = []  # keeps ids valid while encoding

    def symbol(self, s: sp.Basic) -> str:
        if s in self.key_of:
            return self.key_of[s]
        entry = self._symbol_entry(s)  # a matrix's sizes go in the table first
        # the next free suffix of each name: every layer's tanh has its own Dummy _d
        key, k = s.name, self.suffix.get(s.name, 1)
        while key in self.symbols:
            key, k = f"{s.name}#{k}", k + 1
        self.suffix[s.name] = k
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
                raise GraphError(f"cannot save the Dummy {s} of dummy_index {shown(index)}")
            flags = _flags(s, lambda f: sp.Dummy(name, index, **f))
            return {"name": name, "class": "Dummy", "dummy_index": index, "assumptions": flags}
        if cls in (sp.MatrixSymbol, MatrixAdjoint):
            where = f"the shape of {name}"
            shape = [self.expr(_dimension(d, where)) for d in s.shape]
            return {"name": name, "class": cls.__name__, "shape": shape}
        if cls in (AdjointSymbol, AdjointNode):
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
                else:
                    leaf = tuple(sorted(entry.items()))
                    if leaf in self.leaf_at:
                        self.index_of[id(e)] = self.leaf_at[leaf]
                        self.alive.append(e)
                        continue
                    self.leaf_at[leaf] = len(self.exprs)
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
        if CLASSES.get(type(e).__name__) is plain_class(type(e)):  # a sized twin is its class
            return None
        raise GraphError(
            f"cannot save {e}: {type(e).__name__} is not among the SymPy classes symgraph "
            "saves (see symgraph.io.CLASSES)"
        )

    def shape(self, shape: Any, where: str) -> list:
        """A node's ``shape``: table positions, ``{"int": k}`` for a Python integer."""
        if not isinstance(shape, (tuple, list)) or len(shape) not in (0, 2):
            raise GraphError(f"{where} = {shown(shape)} is not () or (rows, cols)")
        items: list = []
        for d in shape:
            if isinstance(d, sp.Basic):
                items.append(self.expr(_dimension(d, where)))
            elif isinstance(d, numbers.Integral) and not isinstance(d, bool):
                _dimension(sp.Integer(int(d)), where)
                items.append({"int": int(d)})
            else:
                raise GraphError(f"{where} = {shown(shape)}: {shown(d)} is not a size")
        return items


def saved_items(data: dict, matrices: bool) -> list[tuple[str, Any]]:
    """A node's or an edge's data as files hold it: nothing a reader derives again.

    A scalar edge's ``vjp`` is ``δ · partial``, and the nodes of a graph
    without ``matrices`` all have shape ``()``: files written before either
    existed read the same.
    """
    derived = {"vjp"} if data.get("partial") is not None else set()
    if not matrices:
        derived.add("shape")
    return [(k, v) for k, v in data.items() if k not in derived]


@paused_collector
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
        an integer up to 100,000 or a size like ``n``, or an integer over 4,000 digits.

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
    matrices = graph.has_matrices  # once: it reads every node
    for node, data in graph.nx.nodes(data=True):
        missing = [k for k in _NODE if k not in data]
        if missing:
            raise GraphError(f"node {node} has no {', '.join(missing)}")
        attrs = {}
        for k, v in saved_items(data, matrices):  # in their order, so a loaded node reads the same
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
        for k, v in saved_items(data, matrices):
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
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in a name: only \uXXXX can write it
        text = json.dumps(document, indent=indent, ensure_ascii=True)
    return text


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


# --- export for other tools -------------------------------------------------


# XML 1.0 has no way to write these (and a reader turns \r into \n)
_NOT_XML = re.compile("[\x00-\x08\x0b-\x0d\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    r"""``str(value)``, each character XML cannot hold written as ``\xNN`` or ``\uNNNN``.

    >>> _xml_text("a\x01b\r")
    'a\\x01b\\x0d'
    """
    text = "" if value is None else str(value)
    return _NOT_XML.sub(
        lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 256 else f"\\u{ord(m[0]):04x}", text
    )


def _stringified(graph: Graph) -> nx.DiGraph:
    """A copy with string node ids and string attributes (``str()`` of each expression).

    Node ids are the names, made unique as in the JSON file (``x#1`` for a
    second node printed ``x``), with the characters XML cannot hold escaped.
    """
    ids: dict[Any, str] = {}
    taken: set[str] = set()
    for node in graph.nx:
        base = key = _xml_text(node)
        k = 1
        while key in taken:
            key, k = f"{base}#{k}", k + 1
        ids[node] = key
        taken.add(key)
    h = nx.DiGraph()
    matrices = graph.has_matrices
    for node, data in graph.nx.nodes(data=True):
        h.add_node(ids[node], **{k: _xml_text(v) for k, v in saved_items(data, matrices)})
    for source, target, data in graph.nx.edges(data=True):
        attrs = {k: _xml_text(v) for k, v in saved_items(data, matrices)}
        h.add_edge(ids[source], ids[target], **attrs)
    h.graph.update(output=ids[graph.output], wrt=" ".join(ids[w] for w in graph.wrt))
    return h


@paused_collector
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
    """Write Graphviz DOT source of ``graph`` (:func:`symgraph.present.draw.to_dot`) to ``path``.

    Keyword arguments (``values``, ``adjoints``, ``highlight``) go to ``to_dot``.

    Examples
    --------
    >>> import sympy as sp, tempfile, symgraph as sg
    >>> path = Path(tempfile.mkdtemp()) / "g.dot"
    >>> save_dot(sg.Graph.from_expr(sp.Symbol("x") + 1), path)
    >>> path.read_text().splitlines()[0]
    'digraph symgraph {'
    """
    Path(path).write_text(to_dot(graph, **kw) + "\n", encoding="utf-8")
