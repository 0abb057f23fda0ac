"""The chain rule step by step for one weight: what a teacher puts on a slide.

A shared subexpression gives two paths from w to the loss; the walkthrough
lists both, multiplies the local partials along each, sums them, and checks
the sum against the compiled gradient at the point.
"""

import sympy as sp

import symgraph as sg

w, x = sp.symbols("w x", real=True)
grad = sg.gradient(sp.sin(w * x) + sp.sin(w * x) ** 2, wrt=[w, x])
walk = sg.explain(grad, "w", at={"w": 0.7, "x": 1.3})
print(walk.text())
assert walk.agrees
print()
print(walk.markdown().splitlines()[0])
print(walk.latex().splitlines()[0])
