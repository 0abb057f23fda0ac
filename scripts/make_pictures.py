"""Draw the pictures of the docs pages into docs/img (needs Graphviz's dot).

Run from the repository root: python scripts/make_pictures.py
"""

from pathlib import Path

import sympy as sp

import symgraph as sg
from symgraph import layers
from symgraph.compile import values_at
from symgraph.draw import render, to_dot
from symgraph.nn import as_assignments, input_symbols

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
w, x, b, y = sp.symbols("w x b y", real=True)

# granularity.md: tanh(w*x + b) fused into one node "a"
op = sg.Graph.from_expr((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
layer_exprs = (w * x, w * x + b, sp.tanh(w * x + b))
layer = op.coarsen([n for n, e in op.nx.nodes(data="expr") if e in layer_exprs], name="a")
render(to_dot(layer), OUT / "layer.svg")

# explain.md: two paths from w, values and adjoints at a point, w's paths in red
grad = sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2, wrt=[w, x])
forward, delta = values_at(grad, w=0.7, x=1.3)
render(to_dot(grad.graph, forward, delta, highlight=w), OUT / "two_paths.svg")

# nn.md: a 2-2-1 tanh MLP, one node per neuron
steps, params = as_assignments(input_symbols(2), [2, 1], "tanh")
render(to_dot(sg.Graph.from_assignments(steps, params, "named")), OUT / "mlp.svg")

# granularity.md (tracing): w*x + w*x as written
tw, tx = sg.Value(1.5, name="w"), sg.Value(2.0, name="x")
render(to_dot((tw * tx + tw * tx).graph), OUT / "traced.svg")
# matrices.md: a 2-layer network over a batch, one node per named matrix step
n, d, h = sp.symbols("n d h", integer=True, positive=True)
net = layers.mlp(layers.input_matrix(n, d), [h, 1], ["tanh", "identity"])
batch = sg.Graph.from_assignments(net.with_loss("squared_error"), net.params, "named")
render(to_dot(batch, highlight=net.params[0]), OUT / "matrix_mlp.svg")
print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.svg"))))
