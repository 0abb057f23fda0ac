"""Second derivatives of a logistic-regression loss: Hessian, HVP, Newton's method.

The Hessian is built by backpropagating through the gradient's own graph, and
the Hessian-vector product by one more reverse pass (reverse over reverse);
both are checked against SymPy and central differences, and Newton's method
then uses them.  Run with ``python examples/hessian.py``.
"""

import numpy as np
import sympy as sp

import symgraph as sg

hessian, hvp = sg.hessian, sg.hvp

# Four labelled points (x1, x2, label ±1) and an L2 penalty.
data = [(0.5, 1.0, 1), (-1.0, 0.3, -1), (1.5, -0.5, 1), (-0.2, -1.2, -1)]
w1, w2, b = wrt = sp.symbols("w1 w2 b", real=True)
loss = sum(
    sp.log(1 + sp.exp(-label * (w1 * sp.Float(x1) + w2 * sp.Float(x2) + b)))
    for x1, x2, label in data
) + sp.Rational(1, 10) * (w1**2 + w2**2)

# --- the Hessian -------------------------------------------------------------
H = hessian(loss, wrt)
print(f"Hessian: {H.shape[0]}x{H.shape[1]} closed forms, {sp.count_ops(H)} operations")
point = {"w1": 0.3, "w2": -0.2, "b": 0.1}
H_at = np.array(H.subs({s: point[s.name] for s in wrt}).evalf(), dtype=float)
print("at", point)
print(np.array2string(H_at, precision=5))

# Checks: symmetric, equal to SymPy's, equal to central differences of the
# compiled gradient, and positive definite (the loss is convex).
sympy_at = np.array(sp.hessian(loss, wrt).subs({s: point[s.name] for s in wrt}), dtype=float)
gradient = sg.gradient(loss, wrt).lambdify()  # f(**values) -> (loss, partials)
h = 1e-6
columns = []
for name in point:  # column j: the change of the gradient along w_j
    up, down = {**point, name: point[name] + h}, {**point, name: point[name] - h}
    columns.append((np.array(gradient(**up)[1]) - np.array(gradient(**down)[1])) / (2 * h))
numeric = np.array(columns).T
print("symmetric:", np.allclose(H_at, H_at.T, rtol=1e-12, atol=0))
print("max |ours - sympy.hessian|:", f"{np.abs(H_at - sympy_at).max():.1e}")
print("max |ours - central differences|:", f"{np.abs(H_at - numeric).max():.1e}")
print("eigenvalues:", np.array2string(np.linalg.eigvalsh(H_at), precision=5))
assert np.allclose(H_at, sympy_at, rtol=1e-12) and np.allclose(H_at, numeric, rtol=1e-6)

# --- the Hessian-vector product ----------------------------------------------
v1, v2, v3 = directions = sp.symbols("v1 v2 v3", real=True)
hv = hvp(loss, wrt, directions)  # a Gradient: hv[w] = (H v)_w
f = hv.lambdify()
print("\nH·v compiled, arguments:", f.args)
v = np.array([1.0, -2.0, 0.5])
_, Hv = f(**point, v1=v[0], v2=v[1], v3=v[2])
print("H·v      =", np.array2string(np.array(Hv, dtype=float), precision=6))
print("H_at @ v =", np.array2string(H_at @ v, precision=6))
report = sg.check(hv)
print(report)
assert report.ok and np.allclose(Hv, H_at @ v, rtol=1e-10)

# --- Newton's method ---------------------------------------------------------
# Each step solves H d = -g; the gradient's norm falls quadratically.
hessian_at = sp.lambdify(wrt, H, modules="numpy")
theta = np.zeros(3)
for step in range(5):
    value, g = gradient(w1=theta[0], w2=theta[1], b=theta[2])
    g = np.array(g, dtype=float)
    print(f"step {step}: loss {float(value):.10f}, |gradient| {np.linalg.norm(g):.2e}")
    theta = theta - np.linalg.solve(np.array(hessian_at(*theta), dtype=float), g)
print("minimum at", {s.name: round(float(t), 6) for s, t in zip(wrt, theta, strict=True)})
