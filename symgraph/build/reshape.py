"""Change a graph's granularity: fuse nodes into one (coarsen), split one again (refine).

Neither changes the function nor its gradient; only how many chain-rule steps
are shown.  A fused node's local partials come from differentiating the fused
expression as a whole; refining rebuilds its inner operations as nodes.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b = sp.symbols("w x b", real=True)
>>> g = sg.Graph.from_expr(sp.tanh(w * x + b), wrt=[w, b])
>>> layer = coarsen(g, [g.node_named("v1"), g.node_named("v2"), g.output])
>>> layer.nx.nodes[layer.output]["op"]
tanh(b + w*x)
>>> layer.partial(w, layer.output)
x*(1 - L**2)
>>> refine(layer, layer.output).size == g.size
True
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx
import sympy as sp

from ..core.adjoint import adjoint_of
from ..core.collector import paused_collector
from ..core.graph import Graph
from ..core.substitute import EVALUATED_DEPTH, substitute
from ..errors import GraphError
from .builder import GraphBuilder
from .edges import edges_of
from .inputs import Namer, leaves_and_sizes


@paused_collector
def coarsen(graph: Graph, nodes: Iterable[sp.Symbol], name: str | sp.Symbol | None = None) -> Graph:
    """A new graph in which ``nodes`` (connected operations) are one node.

    The set must have exactly one node whose value leaves the set (used
    outside it, or the output); the fused node keeps that node's name unless
    ``name`` is given.

    Raises
    ------
    GraphError
        For leaves or unknown nodes in the set, several exits, or a set whose
        fusion would create a cycle (a path that leaves the set and comes back).
    """
    members = set(nodes)
    for n in members:
        if n not in graph.nx:
            raise GraphError(f"{n} is not a node of this graph")
        if graph.nx.nodes[n]["op"] is None:
            raise GraphError(f"{n} is a leaf (an input or a weight); only operations fuse")
    exits = [
        n
        for n in members
        if n == graph.output or any(c not in members for c in graph.nx.successors(n))
    ]
    if len(exits) != 1:
        names = ", ".join(sorted(map(str, exits))) or "none"
        raise GraphError(f"the nodes to fuse must have one exit, not {len(exits)} ({names})")
    top = exits[0]
    fused: dict[sp.Symbol, sp.Basic] = {}
    depth: dict[sp.Symbol, int] = {}  # nesting inside the fused node: deep ones stay unevaluated
    for n in graph.topological_order():
        if n in members:
            inner = [depth[p] for p in graph.nx.predecessors(n) if p in members]
            depth[n] = 1 + max(inner, default=0)
            fused[n] = substitute(graph.nx.nodes[n]["op"], fused, depth[n] <= EVALUATED_DEPTH)
    op = fused[top]
    entering = {p for n in members for p in graph.nx.predecessors(n) if p not in members}
    operands = [p for p in graph.topological_order() if p in entering]  # no free_symbols walk

    g = graph.nx.copy()
    g.remove_nodes_from(members - {top})
    g.remove_edges_from(list(g.in_edges(top)))
    g.nodes[top]["op"] = op
    for operand, data in edges_of(top, op, operands):  # the fused expression's partials
        g.add_edge(operand, top, **data)
    if not nx.is_directed_acyclic_graph(g):
        raise GraphError("fusing these nodes would make a cycle: a path leaves the set and returns")
    result = Graph(g, graph.output, graph.wrt)
    if name is not None and str(name) != top.name:
        result = _renamed(result, top, str(name))
    return result


@paused_collector
def refine(graph: Graph, node: sp.Symbol) -> Graph:
    """A new graph in which ``node``'s operation is split into one node per operation.

    The node keeps its name (it still computes the same value); its inner
    operations get fresh names.
    """
    if node not in graph.nx or graph.nx.nodes[node]["op"] is None:
        raise GraphError(f"{node} is not an operation node of this graph")
    op = graph.nx.nodes[node]["op"]
    namer = Namer(n.name for n in graph.nx)
    sizes = leaves_and_sizes(graph.leaves)[1]
    builder = GraphBuilder("op", namer, graph.wrt, sizes, exprs_are_full=False)
    builder.g = graph.nx.copy()
    builder.g.remove_edges_from(list(builder.g.in_edges(node)))
    for n in graph.topological_order():  # the real depths: deep nodes stay unevaluated
        builder.full[n] = builder.g.nodes[n]["expr"]
        parents = graph.nx.predecessors(n)
        builder.depth[n] = 1 + max((builder.depth[p] for p in parents), default=-1)
    keep_role = builder.g.nodes[node]["role"]
    builder.full.pop(node)
    builder.add(op, node)
    builder.g.nodes[node]["role"] = keep_role
    return Graph(builder.g, graph.output, graph.wrt)


def _renamed(graph: Graph, old: sp.Basic, name: str) -> Graph:
    if any(n.name == name for n in graph.nx):
        raise GraphError(f"the name {name} is already used by another node")
    if isinstance(old, sp.MatrixSymbol):
        new = sp.MatrixSymbol(name, *old.shape)
    else:
        new = sp.Symbol(name, real=True)
    names = {old: new, adjoint_of(old): adjoint_of(new)}  # a VJP into it is written in δ_old
    g = nx.relabel_nodes(graph.nx, {old: new}, copy=True)
    for child in [new, *g.successors(new)]:  # every expression that names the node
        g.nodes[child]["op"] = g.nodes[child]["op"].xreplace(names)
        for _, _, data in g.in_edges(child, data=True):
            for key in ("partial", "vjp"):
                if data.get(key) is not None:
                    data[key] = data[key].xreplace(names)
    output = new if graph.output == old else graph.output
    return Graph(g, output, graph.wrt)
