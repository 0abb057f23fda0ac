"""Graph: a networkx DAG whose nodes hold SymPy subexpressions.

Edges run the way data flows, operand → result.  Each node is a SymPy
``Symbol``; its data are

- ``op``: the local operation in the symbols of its operand nodes (``None``
  for a leaf),
- ``expr``: the full subexpression in terms of the leaves,
- ``role``: ``"input"``, ``"weight"``, ``"intermediate"`` or ``"output"``;
- ``shape``: ``(rows, cols)`` for a matrix node, ``()`` for a scalar one.

Each edge carries ``vjp``, what the operand receives of the result's δ
(``δ_z xᵀ``, ``δ_v cos(v)``), which backpropagation sums; an edge out of a
scalar operation also carries ``partial``, the local derivative
∂result/∂operand in node symbols: the chain-rule factor a drawing writes on
the edge (``None`` on matrix edges).  A graph built by hand may give only
``partial``: its ``vjp`` is derived from it.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b = sp.symbols("w x b", real=True)
>>> g = sg.Graph.from_expr(sp.tanh(w*x + b), wrt=[w, b])
>>> [str(n) for n in g.topological_order()]
['b', 'w', 'x', 'v1', 'v2', 'L']
>>> g.nx.nodes[sp.Symbol("L", real=True)]["op"]
tanh(v2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import networkx as nx
import sympy as sp

from ..errors import GraphError, NotFoundError
from .adjoint import adjoint_of, share_of
from .sizes import shape_of, shown

ROLES = ("input", "weight", "intermediate", "output")


class Graph:
    """A computational graph over a ``networkx.DiGraph``, exposed as ``.nx``.

    Build one with :meth:`from_expr` or :meth:`from_assignments`; the
    constructor takes an already built DiGraph whose nodes carry ``op``,
    ``expr`` and ``role`` and whose edges carry ``partial`` (or ``vjp``).
    """

    def __init__(self, nx_graph: nx.DiGraph, output: sp.Symbol, wrt: Sequence[sp.Symbol]):
        self.nx = nx_graph
        self.output = output
        self.wrt = tuple(wrt)
        for _, child, data in nx_graph.edges(data=True):  # a DiGraph built by hand, or loaded
            if "vjp" not in data:
                data["vjp"] = share_of(adjoint_of(child), data.get("partial"))
        for node, data in nx_graph.nodes(data=True):
            data.setdefault("shape", shape_of(node))

    # --- building (the builders live in build.py; these are the public doors) ---

    @classmethod
    def from_expr(
        cls,
        expr: sp.Basic,
        wrt: Iterable[sp.Symbol] | None = None,
        granularity: str = "op",
        output: str | sp.Symbol = "L",
    ) -> Graph:
        """Build the graph of one expression.

        Parameters
        ----------
        expr : sympy.Basic
            The expression (a loss, a layer, ...).
        wrt : iterable of Symbol, optional
            The weights to differentiate by; all free symbols, sorted by name,
            when omitted.
        granularity : {"op", "fine", "named"}
            ``"op"``: one node per SymPy operation (n-ary sums kept);
            ``"fine"``: n-ary sums and products split into binary steps;
            ``"named"``: one node per named intermediate (here: the whole expression).
        output : str or Symbol
            Name of the output node (``L`` by default).

        Examples
        --------
        >>> import sympy as sp
        >>> x, y, z = sp.symbols("x y z", real=True)
        >>> Graph.from_expr(x*y*z, granularity="fine").nx.number_of_nodes()
        5
        """
        from ..build.assignments import graph_of_expr  # the builders depend on this module

        return graph_of_expr(expr, wrt=wrt, granularity=granularity, output=output)

    @classmethod
    def from_assignments(
        cls,
        assignments: Sequence[tuple[sp.Symbol, sp.Basic]],
        wrt: Iterable[sp.Symbol] | None = None,
        granularity: str = "named",
    ) -> Graph:
        """Build the graph of named assignments, in a paper's order.

        The last assignment is the output; each assigned name becomes a node of
        that name, so the structured gradient speaks in the paper's names.
        ``granularity="named"`` (the default) keeps exactly those nodes;
        ``"op"`` also splits each step into one node per SymPy operation.

        Examples
        --------
        >>> import sympy as sp
        >>> w, x, b, y, z, a, L = sp.symbols("w x b y z a L", real=True)
        >>> g = Graph.from_assignments([(z, w*x + b), (a, sp.tanh(z)), (L, (a - y)**2)])
        >>> g.nx.nodes[a]["op"]
        tanh(z)
        """
        from ..build.assignments import graph_of_assignments

        return graph_of_assignments(assignments, wrt=wrt, granularity=granularity)

    # --- reading ---

    @property
    def expr(self) -> sp.Basic:
        """The whole expression (the output node's ``expr``)."""
        return self.nx.nodes[self.output]["expr"]

    def topological_order(self) -> list[sp.Symbol]:
        """Nodes in an order where every operand comes before its results.

        Computed once: the stages after building never change a graph.
        """
        if getattr(self, "_order", None) is None or len(self._order) != len(self.nx):
            self._order = list(nx.topological_sort(self.nx))
        return list(self._order)

    def nodes_between(self, sources) -> set[sp.Symbol]:
        """Nodes on some path from one of ``sources`` (weights, say) to the output.

        Two sweeps over the graph (ancestors of the output, descendants of all
        the sources at once): linear, however many sources there are.

        Examples
        --------
        >>> import sympy as sp
        >>> import symgraph as sg
        >>> w, x, b = sp.symbols("w x b")
        >>> g = sg.Graph.from_expr(sp.tanh(w * x) + b, wrt=[w, b])
        >>> sorted(map(str, g.nodes_between([b])))
        ['L', 'b']
        """
        reach_output = nx.ancestors(self.nx, self.output) | {self.output}
        seen = {s for s in sources if s in reach_output}
        stack = list(seen)
        while stack:
            for child in self.nx.successors(stack.pop()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return reach_output & seen

    def generations(self) -> list[list[sp.Symbol]]:
        """Groups of nodes that can be computed at the same time, in order."""
        return [list(gen) for gen in nx.topological_generations(self.nx)]

    def nodes_with_role(self, role: str) -> list[sp.Symbol]:
        """The nodes of one role, in topological order."""
        if role not in ROLES:
            raise GraphError(f"unknown role {shown(role)}; choose one of {', '.join(ROLES)}")
        return [n for n in self.topological_order() if self.nx.nodes[n]["role"] == role]

    @property
    def leaves(self) -> list[sp.Symbol]:
        """Nodes with no operation: the inputs and the weights."""
        return [n for n in self.topological_order() if self.nx.nodes[n]["op"] is None]

    @property
    def size(self) -> dict[str, int]:
        """Counts people ask for first: nodes, edges, leaves, operations, depth."""
        leaves = sum(1 for _, d in self.nx.nodes(data=True) if d["op"] is None)
        return {
            "nodes": self.nx.number_of_nodes(),
            "edges": self.nx.number_of_edges(),
            "leaves": leaves,
            "operations": self.nx.number_of_nodes() - leaves,
            "depth": sum(1 for _ in nx.topological_generations(self.nx)),
        }

    @property
    def has_matrices(self) -> bool:
        """True when some node is a matrix (its ``shape`` is ``(rows, cols)``)."""
        return any(isinstance(n, sp.MatrixSymbol) for n in self.nx)

    def op(self, node: sp.Symbol | str) -> sp.Basic | None:
        """The local operation of a node (given as its symbol or its name)."""
        return self.nx.nodes[self._node(node)]["op"]

    def partial(self, operand: sp.Symbol | str, result: sp.Symbol | str) -> sp.Basic:
        """The local partial ∂result/∂operand written on an edge."""
        edge = self._node(operand), self._node(result)
        if not self.nx.has_edge(*edge):
            raise NotFoundError(
                f"no edge {edge[0]} -> {edge[1]}: {edge[1]} is not computed from {edge[0]}"
            )
        return self.nx.edges[edge]["partial"]

    def node_named(self, name: str) -> sp.Symbol:
        """The node whose symbol is printed as ``name``."""
        for node in self.nx.nodes:
            if node.name == name:
                return node
        raise NotFoundError(f"no node named {shown(name)}; the nodes are {shown(list(self.nx))}")

    def _node(self, node: Any) -> sp.Symbol:
        if isinstance(node, str):
            return self.node_named(node)
        try:
            if node in self.nx:
                return node
        except TypeError:  # unhashable
            pass
        raise NotFoundError(f"{shown(node)} is not a node of this graph")

    # --- granularity (reshape.py) ---

    def coarsen(self, nodes, name=None) -> Graph:
        """A new graph with ``nodes`` fused into one; see :func:`symgraph.build.reshape.coarsen`."""
        from ..build.reshape import coarsen

        if isinstance(nodes, (str, sp.Basic)) or not isinstance(nodes, Iterable):
            raise GraphError(f"coarsen needs a list of nodes to fuse, not {shown(nodes)}")
        return coarsen(self, nodes, name)

    def refine(self, node) -> Graph:
        """A new graph with ``node`` split into its operations (:mod:`symgraph.build.reshape`)."""
        from ..build.reshape import refine

        return refine(self, node)

    # --- the next stages (forward.py and backward.py; kept here as doors) ---

    def forward(self, values: Mapping[Any, Any] | None = None, **kw: Any) -> dict:
        """The value of every node at a point (or over NumPy arrays).

        Without values: each node's symbolic expression.

        Examples
        --------
        >>> import sympy as sp
        >>> x, w = sp.symbols("x w", real=True)
        >>> vals = Graph.from_expr(w * x + 1).forward({x: 2.0, w: 3.0})
        >>> float(vals[sp.Symbol("L", real=True)])
        7.0
        """
        from ..numeric.forward import forward_symbolic, forward_values

        if values is None and not kw:
            return forward_symbolic(self)
        return forward_values(self, values, **kw)

    def backward(self, progress: bool = False):
        """Symbolic backpropagation: the :class:`~symgraph.core.gradient.Gradient`.

        With ``progress``, a bar on standard error counts the nodes done.
        """
        from ..ad.backward import backward

        return backward(self, progress=progress)

    def _repr_svg_(self) -> str | None:
        """A notebook shows the graph as a drawing (when Graphviz is installed)."""
        import shutil
        import subprocess

        from ..present.draw import to_dot

        dot = shutil.which("dot")
        if dot is None:
            return None
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(self), text=True, capture_output=True)
        return done.stdout if done.returncode == 0 else None

    def __repr__(self) -> str:
        s = self.size
        return f"<Graph {s['nodes']} nodes, {s['edges']} edges, output {self.output}>"


def forward_assignments(graph: Graph, needed_only: bool = False) -> list[tuple]:
    """``(node, op)`` for every operation node in topological order.

    With ``needed_only``, only the nodes the output depends on.
    """
    needed = nx.ancestors(graph.nx, graph.output) | {graph.output} if needed_only else None
    return [
        (n, graph.nx.nodes[n]["op"])
        for n in graph.topological_order()
        if graph.nx.nodes[n]["op"] is not None and (needed is None or n in needed)
    ]
