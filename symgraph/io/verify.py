"""What a graph file says that the loader can derive, checked against its operations.

A graph file carries each node's operation (``op``) and, redundantly, what
follows from it: the node's full expression (``expr``), each in-edge's local
partial or vector-Jacobian product, the node's role.  Backpropagation trusts
the edges, so a file whose partials contradict its operations would make
symgraph differentiate wrongly.  :func:`verify` derives each again, the way
the builders do (the rules registry, :func:`~symgraph.build.edges.edges_of`),
and refuses a file that says otherwise:

- a node's in-edges come from exactly the nodes its ``op`` names; a leaf has
  no ``op`` and is its own ``expr``;
- roles: the output is ``"output"``, a leaf is ``"weight"`` when it is in
  ``wrt`` and ``"input"`` otherwise, any other node ``"intermediate"``;
- each edge's ``partial`` (and ``vjp``) is the one derived from ``op``;
- each node's ``expr`` is its ``op`` with the operands' expressions put in.

An expression may be written differently from the derived one and still be
equal (a graph coarsened by hand, an expression SymPy orders differently):
then both are evaluated at two seeded random points, iteratively with SymPy's
numbers, and must agree to 10⁻⁸.  The cost is linear in the graph.

>>> import sympy as sp, symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
>>> verify(g)
>>> g.nx.edges[sp.Symbol("v1", real=True), g.output]["partial"] = sp.Integer(21)
>>> verify(g)
Traceback (most recent call last):
...
symgraph.errors.GraphError: not a symgraph graph file: the partial on edge v1 -> L is 21, but \
its operation sin(v1) gives cos(v1); the file was edited or corrupted: build the graph again
"""

from __future__ import annotations

import random
from typing import Any

import sympy as sp

from ..build.edges import edges_of
from ..core.graph import Graph
from ..core.sizes import is_matrix, shared_tree_size, shown, worth_evaluating
from ..core.substitute import EVALUATED_DEPTH, plain_class, substitute
from ..errors import GraphError

_POINTS = 2  # random points at which differently written expressions must agree
_TOLERANCE = 1e-8


def _fail(message: str) -> None:
    raise GraphError(f"not a symgraph graph file: {message}")


def _names_in(op: sp.Basic, nodes: Any) -> set:
    """The graph nodes ``op`` names, each shared part visited once (no recursion)."""
    found, seen, stack = set(), set(), [op]
    while stack:
        e = stack.pop()
        if id(e) in seen or not isinstance(e, sp.Basic):
            continue
        seen.add(id(e))
        if isinstance(e, (sp.Symbol, sp.MatrixSymbol)) and e in nodes:
            found.add(e)
        if not isinstance(e, sp.MatrixSymbol):  # its args are its name and sizes
            stack.extend(e.args)
    return found


def _check_roles(graph: Graph) -> None:
    g, wrt = graph.nx, set(graph.wrt)
    for node, data in g.nodes(data=True):
        op = data["op"]
        if op is None:
            if g.in_degree(node):
                _fail(f"leaf {node} has in-edges")
            if not _same(data["expr"], node):
                _fail(f"leaf {node} has the expression {shown(data['expr'])}, not itself")
            expected = "weight" if node in wrt else "input"
        else:
            expected = "intermediate"
            if set(g.predecessors(node)) != _names_in(op, g):
                _fail(f"the in-edges of {node} are not the nodes its operation {shown(op)} names")
        if node == graph.output:
            expected = "output"
        if data["role"] != expected:
            _fail(f"node {node} has role {data['role']!r}; it is a {expected} node")


class _Values:
    """Numeric values of expressions at one point, each shared part computed once."""

    def __init__(self, leaves: dict):
        self.memo: dict[int, Any] = {}
        self.keep: list = []  # keeps ids valid
        self.leaves = leaves

    def of(self, root: sp.Basic, nodes: dict | None = None) -> Any:
        memo = self.memo if nodes is None else {}
        known = self.leaves if nodes is None else {**self.leaves, **nodes}
        stack = [(root, False)]
        while stack:
            e, ready = stack.pop()
            if id(e) in memo:
                continue
            if isinstance(e, sp.Symbol) and e in known:
                memo[id(e)] = known[e]
            elif not e.args or e.is_Number:
                memo[id(e)] = e
            elif not ready:
                stack.append((e, True))
                stack.extend((a, False) for a in e.args if id(a) not in memo)
                continue
            else:
                value = e.func(*(memo[id(a)] for a in e.args))
                memo[id(e)] = value if value.is_Number or value.is_Boolean else value.evalf()
            self.keep.append(e)
        return memo[id(root)]


def _point(graph: Graph, rng: random.Random) -> dict:
    """Random values of the leaves, fitting their assumptions (positive, integer...)."""
    values = {}
    for node, data in graph.nx.nodes(data=True):
        if data["op"] is not None:
            continue
        if node.is_integer:
            value = sp.Integer(rng.randint(1, 4))
        else:
            value = sp.Float(rng.uniform(0.3, 1.7))
        values[node] = -value if node.is_negative or node.is_nonpositive else value
    return values


def _agree(a: Any, b: Any) -> bool | None:
    """Whether two values agree; None when neither point decides (nan, complex infinity)."""
    try:
        u, v = complex(a), complex(b)
    except (TypeError, ValueError):
        return None
    if not all(map(_finite, (u, v))):
        return None
    return abs(u - v) <= _TOLERANCE * max(1.0, abs(u), abs(v))


def _finite(z: complex) -> bool:
    return abs(z.real) < float("inf") and abs(z.imag) < float("inf") and z == z


def _contradiction(where: str, saved: Any, op: Any, derived: Any) -> str:
    return (
        f"{where} is {shown(saved)}, but its operation {shown(op)} gives {shown(derived)}; "
        "the file was edited or corrupted: build the graph again"
    )


class _Numeric:
    """The deferred comparisons of differently written expressions."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.items: list[tuple[str, Any, Any, Any, bool]] = []  # where, op, saved, derived, local

    def add(self, where: str, op: Any, saved: Any, derived: Any, local: bool) -> None:
        """Compare later; ``local``: in node symbols (a partial), else in the leaves."""
        self.items.append((where, op, saved, derived, local))

    def check(self) -> None:
        if not self.items:
            return
        rng = random.Random(0)
        decided: dict[int, bool] = {}
        for _ in range(_POINTS):
            values = _Values(_point(self.graph, rng))
            nodes = {}  # each node's value, from the operations
            for node in self.graph.topological_order():
                op = self.graph.nx.nodes[node]["op"]
                if op is not None:
                    nodes[node] = values.of(op, nodes)
            for k, (_, _, saved, derived, local) in enumerate(self.items):
                at = nodes if local else None
                same = _agree(values.of(saved, at), values.of(derived, at))
                if same is not None and decided.get(k, True):
                    decided[k] = same
        for k, (where, op, saved, derived, _) in enumerate(self.items):
            if k not in decided:
                _fail(
                    f"{where} {shown(saved)} could not be checked against its operation "
                    f"{shown(op)} (no point where both are finite); build the graph again"
                )
            if not decided[k]:
                _fail(_contradiction(where, saved, op, derived))


def _same(a: Any, b: Any) -> bool:
    """Structural equality, iteratively: ``==`` recurses, and expressions may be deep."""
    seen: set[tuple[int, int]] = set()
    bound: dict[sp.Dummy, sp.Dummy] = {}  # a Lambda's variable is new at each derivation
    stack = [(a, b)]
    while stack:
        u, v = stack.pop()
        if u is v or (id(u), id(v)) in seen:
            continue
        seen.add((id(u), id(v)))
        if plain_class(type(u)) is not plain_class(type(v)) or not isinstance(u, sp.Basic):
            return False
        if isinstance(u, sp.Dummy):
            if bound.setdefault(u, v) is not v or u.assumptions0 != v.assumptions0:
                return False
            continue
        if not u.args or not v.args or isinstance(u, sp.MatrixSymbol):
            if u != v:
                return False
        elif len(u.args) != len(v.args):
            return False
        else:
            stack.extend(zip(u.args, v.args, strict=True))
    return True


def verify(graph: Graph) -> None:
    """Refuse a graph whose edges, expressions or roles contradict its operations.

    Raises
    ------
    GraphError
        Naming the node or edge and what its operation gives instead.
    """
    _check_roles(graph)
    g = graph.nx
    numeric = _Numeric(graph)
    depth: dict = {}
    size: dict = {}  # each node's expression's size as a tree
    parts = 0
    for node in graph.topological_order():
        op = g.nodes[node]["op"]
        operands = list(g.predecessors(node))
        depth[node] = 1 + max((depth[p] for p in operands), default=-1)
        if op is None:
            size[node] = 1
            continue
        size[node] = shared_tree_size(op, {p: size[p] for p in operands})
        parts += shared_tree_size(op)  # a bound on the distinct parts of every expression
        for operand, expected in edges_of(node, op, operands):
            data = g.edges[operand, node]
            for key in ("partial",) if expected["partial"] is not None else ("partial", "vjp"):
                saved, derived = data.get(key), expected.get(key)
                if _same(saved, derived):
                    continue
                word = "vector-Jacobian product" if key == "vjp" else "partial"
                where = f"the {word} on edge {operand} -> {node}"
                exact = isinstance(saved, sp.Number) and isinstance(derived, sp.Number)
                if exact or saved is None or derived is None or is_matrix(derived):
                    _fail(_contradiction(where, saved, op, derived))
                numeric.add(where, op, saved, derived, local=True)
        mapping = {p: g.nodes[p]["expr"] for p in operands}
        evaluate = depth[node] <= EVALUATED_DEPTH and worth_evaluating(size[node], parts)
        derived = substitute(op, mapping, evaluate=evaluate)
        saved = g.nodes[node]["expr"]
        if not _same(saved, derived):
            where = f"the expression of node {node}"
            if is_matrix(saved) or is_matrix(derived):
                _fail(_contradiction(where, saved, op, derived))
            numeric.add(where, op, saved, derived, local=False)
    numeric.check()
