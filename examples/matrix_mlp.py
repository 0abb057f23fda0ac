"""A 2-layer tanh MLP over a batch, one matrix node per layer: derive, compile, check.

Run with ``python examples/matrix_mlp.py``.  The batch ``X`` is ``n × d`` (one
sample per row), the weights are ``out × in`` as in papers, and the sizes
``n``, ``d``, ``h`` stay symbols until the compiled function reads them from
its arrays:

    Z1 = X W1ᵀ + 1 b1ᵀ,   A1 = tanh(Z1),   Z2 = A1 W2ᵀ + 1 b2ᵀ,   A2 = Z2,
    L  = 1/(2n) Σ (A2 − Y)²
"""

import numpy as np
import sympy as sp

import symgraph as sg
from symgraph import layers

n, d, h = sp.symbols("n d h", integer=True, positive=True)
X = layers.input_matrix(n, d)
steps, params = layers.as_assignments(X, [h, 1], ["tanh", "identity"], reduction="mean")


def shape_text(node):
    if not hasattr(node, "shape"):
        return "scalar"
    rows, cols = node.shape
    return f"{rows}×{cols}"


print("forward pass:")
for name, rhs in steps:
    print(f"  {name} = {rhs}    [{shape_text(name)}]")

# One node per named layer: the δ-equations a paper writes.
named = sg.Graph.from_assignments(steps, wrt=params, granularity="named").backward()
print("\nbackward pass (δ-equations, one node per layer):")
for lhs, rhs in named.equations:
    print(f"  {lhs} = {rhs}")

print("\ngradients (closed forms):")
for weight in params:
    print(f"  ∂L/∂{weight} [{shape_text(weight)}] = {named[weight]}")

print("\nLaTeX of the derivation:")
print(named.latex(form="structured"))

# Compile the graph of matrix operations: NumPy @ over the whole batch.
grad = sg.Graph.from_assignments(steps, wrt=params).backward()
f = grad.lambdify()
print("\ncompiled:", f)


def random_point(rng, n, d, h):
    return {
        "X": rng.normal(size=(n, d)),
        "Y": rng.normal(size=(n, 1)),
        "W1": rng.normal(scale=0.5, size=(h, d)),
        "b1": rng.normal(scale=0.1, size=(h, 1)),
        "W2": rng.normal(scale=0.5, size=(1, h)),
        "b2": rng.normal(scale=0.1, size=(1, 1)),
    }


def finite_differences(point, name, eps=1e-6):
    fd = np.zeros_like(point[name])
    for index in np.ndindex(fd.shape):
        step = np.zeros_like(fd)
        step[index] = eps
        plus = f(**{**point, name: point[name] + step})[0]
        minus = f(**{**point, name: point[name] - step})[0]
        fd[index] = (plus - minus) / (2 * eps)
    return fd


rng = np.random.default_rng(0)
for sizes in [(8, 3, 5), (64, 2, 4)]:  # one callable, any batch and width
    point = random_point(rng, *sizes)
    value, partials = f(**point)
    print(f"\nn, d, h = {sizes}: loss {value:.6f}")
    worst = 0.0
    for weight, partial in zip(params, partials, strict=True):
        fd = finite_differences(point, weight.name)
        error = float(np.max(np.abs(partial - fd)))
        worst = max(worst, error)
        print(f"  ∂L/∂{weight}: shape {partial.shape}, max |analytic − numeric| = {error:.1e}")
    assert worst < 1e-6, "the gradient disagrees with finite differences"

# One step of gradient descent lowers the loss.
point = random_point(rng, 32, 3, 6)
before, partials = f(**point)
for weight, partial in zip(params, partials, strict=True):
    point[weight.name] = point[weight.name] - 0.1 * partial
after, _ = f(**point)
print(f"\nloss before one step: {before:.6f}, after: {after:.6f}")
assert after < before

report = sg.check(grad)
print()
print(report)
print("ok:", report.ok)
