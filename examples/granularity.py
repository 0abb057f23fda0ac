"""The same gradient at three granularities: fine steps, one node per operation, a layer."""

import sympy as sp

import symgraph as sg

w, x, b, y = sp.symbols("w x b y", real=True)
loss = (sp.tanh(w * x + b) - y) ** 2

fine = sg.Graph.from_expr(loss, wrt=[w, b], granularity="fine")
op = sg.Graph.from_expr(loss, wrt=[w, b])
# the "layer": tanh(w*x + b) as one node, named a (its product and sum fused in)
layer_nodes = [
    n for n, e in op.nx.nodes(data="expr") if e in (w * x, w * x + b, sp.tanh(w * x + b))
]
layer = op.coarsen(layer_nodes, name="a")

for name, graph in (("fine", fine), ("op", op), ("layer", layer)):
    grad = graph.backward()
    print(f"{name:>5}: {graph.size['nodes']:2d} nodes, {len(grad.equations)} chain-rule steps")
    for lhs, rhs in grad.equations:
        print(f"         {lhs} = {rhs}")
    assert sp.simplify(grad[w] - sp.diff(loss, w)) == 0

again = layer.refine(layer.node_named("a"))
print("refined again:", again.size["nodes"], "nodes")
