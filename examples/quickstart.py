"""Quickstart: the gradient of a one-neuron loss, from formula to checked numbers.

Run with ``python examples/quickstart.py``.
"""

import numpy as np
import sympy as sp

import symgraph as sg

w, x, b, y = sp.symbols("w x b y", real=True)
loss = (sp.tanh(w * x + b) - y) ** 2

# Build the graph, backpropagate, get closed forms.
grad = sg.gradient(loss, wrt=[w, b])
print("loss:", loss)
print("weights:", grad.wrt)
print(grad)

# Simplify (a new Gradient; the values never change).
grad = grad.simplify()
print("\nsimplified:")
print(grad)

# Compile: one vectorized callable returning the value and every partial.
f = grad.lambdify()
print("\ncallable:", f)
print("positional order:", f.args)
rng = np.random.default_rng(0)
xs, ys = rng.normal(size=4), rng.normal(size=4)
value, (dw, db) = f(x=xs, y=ys, w=0.5, b=-0.1)
print("loss over a batch of 4:", np.round(value, 4))
print("∂L/∂w:", np.round(dw, 4))
print("∂L/∂b:", np.round(db, 4))

# Cross-check against finite differences, the complex step and sympy.diff.
report = sg.check(grad)
print()
print(report)
print("ok:", report.ok)

# LaTeX for a paper.
print()
print(grad.latex())
