"""A layered drawing of a graph in Python, edges routed around the boxes (no Graphviz).

The classic layered method, each stage a pass over the nodes and edges:

1. rows: a node sits one row above its first result (as late as possible, so a
   leaf is drawn beside the operation that uses it, not at the top); rows are
   doubled so that between two rows of nodes runs a row of edge labels;
2. every edge gets a slot in each row it crosses: its label's slot in the row
   just above its result, a thin slot in the others.  Routed through its
   slots, an edge meets no box: it runs between rows, or down through its own
   slot, or down from its operand's box / into its result's box;
3. order in each row by the mean position of its neighbours (down, up, down);
4. x positions: each slot as near the mean of its neighbours as the row's
   order and gaps allow (the mean of a left-to-right and a right-to-left pass,
   both of which keep the gaps).

Lengths are in centimetres, y grows downward; boxes are given as sizes.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> g = sg.Graph.from_expr(sp.sin(w * x), wrt=[w])
>>> plan = layered(g, {n: (1.0, 0.5) for n in g.nx}, {e: (1.5, 0.3) for e in g.nx.edges})
>>> [round(plan.centre[n][1], 2) for n in g.topological_order()]
[0.25, 0.25, 1.55, 2.85]
>>> [(round(x, 2), round(y, 2)) for x, y in plan.routes[w, g.topological_order()[2]]]
[(0.75, 0.5), (0.75, 1.05), (1.68, 1.3)]
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.graph import Graph

GAP = 0.35  # between two slots of a row
ROW_GAP = 0.25  # between a row and the next
THIN = 0.15  # the slot of an edge passing through a row


@dataclass
class Plan:
    """Where everything goes: centres and sizes of boxes and labels, the edges' polylines."""

    centre: dict  # node -> (x, y), the box's centre
    size: dict  # node -> (width, height)
    label: dict  # edge -> (x, y), its label's centre
    label_size: dict  # edge -> (width, height)
    routes: dict  # edge -> [(x, y), ...] from the operand's box to the result's
    width: float
    height: float


def _rows(graph: Graph) -> dict:
    """Each node's row of nodes: one above its first result, the output lowest."""
    row: dict = {}
    for node in reversed(graph.topological_order()):
        results = [row[r] for r in graph.nx.successors(node)]
        row[node] = min(results) - 1 if results else 0
    low = min(row.values(), default=0)
    return {n: 2 * (r - low) for n, r in row.items()}  # odd rows hold the labels


def layered(graph: Graph, sizes: dict, label_sizes: dict) -> Plan:
    """Lay ``graph`` out: ``sizes`` node -> (w, h) and ``label_sizes`` edge -> (w, h), in cm.

    Returns a :class:`Plan`.  Linear in the nodes and in the edges times the
    rows they cross, sorting each row aside; iterative throughout.
    """
    row = _rows(graph)
    count = max(row.values(), default=0) + 1
    slots: list[list] = [[] for _ in range(count)]  # row -> its slots
    width: dict = {}
    up: dict = {}  # slot -> the slots it connects to in the row above
    down: dict = {}
    for node in graph.topological_order():
        slots[row[node]].append(node)
        width[node] = sizes[node][0]
        up[node], down[node] = [], []
    chain: dict = {}  # edge -> its slots, top to bottom, operand and result included
    for edge in graph.nx.edges:
        operand, result = edge
        path = [operand]
        for r in range(row[operand] + 1, row[result]):
            slot = (edge, r)
            slots[r].append(slot)
            width[slot] = label_sizes[edge][0] if r == row[result] - 1 else THIN
            up[slot], down[slot] = [], []
            path.append(slot)
        path.append(result)
        for a, b in zip(path, path[1:], strict=False):
            down[a].append(b)
            up[b].append(a)
        chain[edge] = path

    position: dict = {}
    for r in range(count):  # first order: as the nodes came, barycentres from above
        _sort(slots[r], up, position)
    for r in reversed(range(count - 1)):
        _sort(slots[r], down, position)
    for r in range(1, count):
        _sort(slots[r], up, position)

    x: dict = {}
    for r in range(count):
        _pack(slots[r], width, x, None)
    for neighbours, order in ((up, range(1, count)), (down, reversed(range(count - 1)))):
        for r in order:
            _pack(slots[r], width, x, neighbours)
    for r in range(1, count):
        _pack(slots[r], width, x, up)

    height = [0.0] * count
    for node in graph.nx:
        height[row[node]] = max(height[row[node]], sizes[node][1])
    for edge in graph.nx.edges:
        r = row[edge[1]] - 1
        height[r] = max(height[r], label_sizes[edge][1])
    top, y = [], 0.0
    for r in range(count):
        top.append(y)
        y += height[r] + ROW_GAP
    middle = [top[r] + height[r] / 2 for r in range(count)]
    left = min((x[s] - width[s] / 2 for row_slots in slots for s in row_slots), default=0.0)
    shift = -left

    centre = {n: (x[n] + shift, middle[row[n]]) for n in graph.nx}
    label, routes = {}, {}
    for edge, path in chain.items():
        operand, result = edge
        ux, uy = centre[operand]
        points = [(ux, uy + sizes[operand][1] / 2), (ux, top[row[operand]] + height[row[operand]])]
        for slot in path[1:-1]:
            sx, r = x[slot] + shift, slot[1]
            points += [(sx, top[r]), (sx, top[r] + height[r])]
            if r == row[result] - 1:
                label[edge] = (sx, middle[r])
        vx, vy = centre[result]
        points += [(vx, top[row[result]]), (vx, vy - sizes[result][1] / 2)]
        routes[edge] = _simplified(points)
    right = max((x[s] + width[s] / 2 for row_slots in slots for s in row_slots), default=0.0)
    return Plan(centre, dict(sizes), label, dict(label_sizes), routes, right + shift, y - ROW_GAP)


def _sort(slots: list, neighbours: dict, position: dict) -> None:
    """Order a row by the mean position of each slot's neighbours (its own place if none)."""
    keys = {}
    for k, slot in enumerate(slots):
        near = [position[n] for n in neighbours[slot] if n in position]
        keys[slot] = (sum(near) / len(near) if near else position.get(slot, k), k)
    slots.sort(key=keys.__getitem__)
    for k, slot in enumerate(slots):
        position[slot] = k


def _pack(slots: list, width: dict, x: dict, neighbours: dict | None) -> None:
    """Place a row's slots in order, each as near its neighbours' mean x as the gaps allow."""
    if not slots:
        return
    wanted = []
    for k, slot in enumerate(slots):
        near = [x[n] for n in neighbours[slot]] if neighbours is not None else []
        wanted.append(sum(near) / len(near) if near else x.get(slot, float(k)))
    if neighbours is None:  # the first pass: packed tight, centred on 0
        wanted = [0.0] * len(slots)
    need = [(width[a] + width[b]) / 2 + GAP for a, b in zip(slots, slots[1:], strict=False)]
    forward = [wanted[0]]
    for k in range(1, len(slots)):
        forward.append(max(wanted[k], forward[-1] + need[k - 1]))
    backward = [wanted[-1]]
    for k in range(len(slots) - 2, -1, -1):
        backward.append(min(wanted[k], backward[-1] - need[k]))
    backward.reverse()
    placed = [(a + b) / 2 for a, b in zip(forward, backward, strict=True)]
    if neighbours is None:
        middle = (placed[0] + placed[-1]) / 2
        placed = [p - middle for p in placed]
    for slot, value in zip(slots, placed, strict=True):
        x[slot] = value


def _simplified(points: list) -> list:
    """The polyline without repeated points or points on a straight vertical run."""
    out: list = []
    for p in points:
        if out and abs(p[0] - out[-1][0]) < 1e-9 and abs(p[1] - out[-1][1]) < 1e-9:
            continue
        if len(out) >= 2 and abs(out[-2][0] - out[-1][0]) < 1e-9 and abs(out[-1][0] - p[0]) < 1e-9:
            out[-1] = p  # three points on one vertical line: keep the ends
            continue
        out.append(p)
    return out


__all__ = ["Plan", "layered"]
