"""A 2,000-step chain a_k = tanh(w_k*a_{k-1} + b_k): backprop stays linear.

The chain is given as named assignments (``Graph.from_assignments``), not as
one nested SymPy expression: SymPy's own constructors and ``sympy.diff``
recurse once per level and overflow Python's stack on expressions thousands of
levels deep.  Run with ``python examples/deep_chain.py``.
"""

import time

import numpy as np
import sympy as sp

import symgraph as sg


def chain(n):
    """The assignments a1 = tanh(w1*x + b1), ..., an = tanh(wn*a(n-1) + bn)."""
    x = sp.Symbol("x", real=True)
    ws = sp.symbols(f"w1:{n + 1}", real=True)
    bs = sp.symbols(f"b1:{n + 1}", real=True)
    steps, previous = [], x
    for k in range(n):
        a = sp.Symbol(f"a{k + 1}", real=True)
        steps.append((a, sp.tanh(ws[k] * previous + bs[k])))
        previous = a
    return steps, [*ws, *bs]


def run(n):
    t0 = time.perf_counter()
    steps, wrt = chain(n)
    g = sg.Graph.from_assignments(steps, wrt=wrt)
    t1 = time.perf_counter()
    grad = g.backward()
    t2 = time.perf_counter()
    f = grad.lambdify()
    t3 = time.perf_counter()
    point = {"x": 0.3, **{s.name: (0.9 if s.name[0] == "w" else 0.01) for s in wrt}}
    value, partials = f(**point)
    t4 = time.perf_counter()
    nodes = g.size["nodes"]
    print(
        f"{n:5d} steps, {nodes:6d} nodes, {len(grad.equations):6d} δ-equations: "
        f"build {t1 - t0:5.2f} s, backward {t2 - t1:5.2f} s, compile {t3 - t2:5.2f} s, "
        f"call {1000 * (t4 - t3):5.1f} ms"
    )
    per_node = 1e6 * (t3 - t0) / nodes
    print(f"{'':5}  build + backward + compile: {per_node:.0f} µs per node")
    return f, point, value, partials


run(500)
f, point, value, partials = run(2000)  # 4x the nodes: about 4x the time, not 16x

print(f"\nL = a2000 = {float(value):.6f}; {len(partials)} partials in one call")
wrt = f.wrt
for name in ("w1999", "b1999", "w2000", "b2000"):
    k = [s.name for s in wrt].index(name)
    # central difference through the same compiled callable, for comparison
    h = 1e-6
    up, down = dict(point), dict(point)
    up[name] += h
    down[name] -= h
    numeric = (float(f(**up)[0]) - float(f(**down)[0])) / (2 * h)
    print(f"  ∂L/∂{name:5} = {float(partials[k]): .6e}   (central difference {numeric: .6e})")

# Vanishing gradients, visibly: the partials shrink geometrically toward the input.
dw = np.array([float(partials[k]) for k in range(0, 2000, 400)])
print("\n∂L/∂w_k for k = 1, 401, 801, 1201, 1601:", np.array2string(dw, precision=2))
