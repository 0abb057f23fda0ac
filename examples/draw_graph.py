"""Draw the graph of a loss, with forward values and adjoints at a point.

Writes tanh_loss.dot (always) and tanh_loss.svg (when Graphviz's dot is
installed) into the folder given as the first argument (default: current).
The weight w's paths to the loss are drawn in red.
"""

import shutil
import sys
from pathlib import Path

import sympy as sp

import symgraph as sg
from symgraph.compile import values_at
from symgraph.draw import render, to_dot

w, x, b, y = sp.symbols("w x b y", real=True)
grad = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
forward, delta = values_at(grad, x=0.5, y=0.3, w=2.0, b=-0.5)

for node in grad.graph.topological_order():
    shown = f"δ = {float(delta[node]):+.4f}" if node in delta else ""
    print(f"{str(node):>3}  value = {float(forward[node]):+.4f}  {shown}")

out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
dot = to_dot(grad.graph, forward, delta, highlight=w)
(out / "tanh_loss.dot").write_text(dot)
print(f"wrote {out / 'tanh_loss.dot'} ({len(dot.splitlines())} lines)")
if shutil.which("dot"):
    print(f"wrote {render(dot, out / 'tanh_loss.svg')}")
