"""Define-by-run: micrograd's README expression, traced, with PyTorch's numbers.

Each Python operation on a Value becomes one graph node; backward() gives the
closed-form Gradient and sets each leaf's numeric .grad.
"""

import symgraph as sg

a = sg.Value(-4.0, name="a")
b = sg.Value(2.0, name="b")
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f"g = {g.data:.4f}")  # micrograd and PyTorch: 24.7041

grad = g.backward()
print(f"dg/da = {a.grad:.4f}")  # 138.8338
print(f"dg/db = {b.grad:.4f}")  # 645.5773
print("graph:", grad.graph.size)
assert abs(a.grad - 138.8338) < 1e-4 and abs(b.grad - 645.5773) < 1e-4

# The structure is kept as written: w*x + w*x stays two products and a sum.
w, x = sg.Value(1.5, name="w"), sg.Value(2.0, name="x")
out = w * x + w * x
for node in out.graph.topological_order():
    print(f"  {node} <- {out.graph.op(node)}")
out.backward()
print(f"d(w*x + w*x)/dw = {w.grad}")
