"""A 2-3-1 tanh MLP: build, backpropagate, compile, one gradient-descent step, check.

Run with ``python examples/mlp.py``.  The network is written as a paper would:
``z^{(l)}_j = Σ_k W^{(l)}_{j,k} a^{(l-1)}_k + b^{(l)}_j`` and ``a^{(l)}_j = tanh(z^{(l)}_j)``,
with the loss ``L = ½ (a^{(2)}_1 − y_1)²``.
"""

import numpy as np
import sympy as sp

import symgraph as sg
from symgraph import nn

# Build: named intermediates z1_1, a1_1, ..., then L.
inputs = nn.input_symbols(2)
steps, params = nn.as_assignments(inputs, widths=[3, 1], activations="tanh")
print("forward pass:")
for name, rhs in steps:
    print(f"  {name} = {rhs}")

# Backpropagate: the δ-equations speak in the z/a names.
grad = sg.Graph.from_assignments(steps, wrt=params).backward()
print("\nbackward pass (structured δ-equations):")
for lhs, rhs in grad.equations:  # v1, v2, ... are the products inside each z
    print(f"  {lhs} = {rhs}")

# Compile: one vectorized callable, the loss and all 13 partials at once.
f = grad.lambdify()
print("\ncompiled:", f)

# Four data points (XOR-like) and seeded initial weights.
data_x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
data_y = np.array([-0.5, 0.5, 0.5, -0.5])
rng = np.random.default_rng(0)
theta = {p.name: rng.normal(scale=0.5) for p in params}
batch = {"x_1": data_x[:, 0], "x_2": data_x[:, 1], "y_1": data_y}


def mean_loss_and_gradient(theta):
    losses, partials = f(**batch, **theta)
    mean_partials = {p.name: float(np.mean(g)) for p, g in zip(params, partials, strict=True)}
    return float(np.mean(losses)), mean_partials


before, gradient = mean_loss_and_gradient(theta)
learning_rate = 0.5
theta = {name: value - learning_rate * gradient[name] for name, value in theta.items()}
after, _ = mean_loss_and_gradient(theta)
print(f"\nmean loss before one step: {before:.6f}")
print(f"mean loss after one step:  {after:.6f}")
assert after < before, "one gradient-descent step should decrease the loss"

# Cross-check the gradient against finite differences, the complex step and sympy.diff.
report = sg.check(grad)
print()
print(report)
print("ok:", report.ok)

# The names are plain identifiers; LaTeX prints them in a paper's notation.
print()
print("LaTeX of the parameters:", ", ".join(sp.latex(p) for p in params))
