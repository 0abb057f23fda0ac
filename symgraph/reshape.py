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

from .build import GraphBuilder, Namer
from .errors import GraphError, NoRuleError
from .graph import Graph
from .rules import whole_partial
from .substitute import substitute


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
    for n in graph.topological_order():
        if n in members:
            fused[n] = substitute(graph.nx.nodes[n]["op"], fused)
    op = fused[top]
    operands = [p for p in graph.topological_order() if p in op.free_symbols and p in graph.nx]

    g = graph.nx.copy()
    g.remove_nodes_from(members - {top})
    g.remove_edges_from(list(g.in_edges(top)))
    g.nodes[top]["op"] = op
    for operand in operands:
        try:  # in the node's own value where it appears: tanh' = 1 - a**2
            partial = whole_partial(op, operand).xreplace({op: top})
        except NoRuleError:  # backward names the node, if a weight's path needs it
            partial = None
        g.add_edge(operand, top, partial=partial)
    if not nx.is_directed_acyclic_graph(g):
        raise GraphError("fusing these nodes would make a cycle: a path leaves the set and returns")
    result = Graph(g, graph.output, graph.wrt)
    if name is not None and str(name) != top.name:
        result = _renamed(result, top, sp.Symbol(str(name), real=True))
    return result


def refine(graph: Graph, node: sp.Symbol) -> Graph:
    """A new graph in which ``node``'s operation is split into one node per operation.

    The node keeps its name (it still computes the same value); its inner
    operations get fresh names.
    """
    if node not in graph.nx or graph.nx.nodes[node]["op"] is None:
        raise GraphError(f"{node} is not an operation node of this graph")
    op = graph.nx.nodes[node]["op"]
    builder = GraphBuilder("op", Namer(n.name for n in graph.nx), graph.wrt, exprs_are_full=False)
    builder.g = graph.nx.copy()
    builder.g.remove_edges_from(list(builder.g.in_edges(node)))
    for n in graph.topological_order():  # the real depths: deep nodes stay unevaluated
        builder.full[n] = builder.g.nodes[n]["expr"]
        builder.depth[n] = 1 + max((builder.depth[p] for p in graph.nx.predecessors(n)), default=-1)
    keep_role = builder.g.nodes[node]["role"]
    builder.full.pop(node)
    builder.add(op, node)
    builder.g.nodes[node]["role"] = keep_role
    return Graph(builder.g, graph.output, graph.wrt)


def _renamed(graph: Graph, old: sp.Symbol, new: sp.Symbol) -> Graph:
    if new in graph.nx or any(n.name == new.name for n in graph.nx):
        raise GraphError(f"the name {new} is already used by another node")
    g = nx.relabel_nodes(graph.nx, {old: new}, copy=True)
    for child in [new, *g.successors(new)]:  # every expression that names the node
        g.nodes[child]["op"] = g.nodes[child]["op"].xreplace({old: new})
        for _, _, data in g.in_edges(child, data=True):
            if data["partial"] is not None:
                data["partial"] = data["partial"].xreplace({old: new})
    output = new if graph.output == old else graph.output
    return Graph(g, output, graph.wrt)
