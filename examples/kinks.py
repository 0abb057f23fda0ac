"""Derivatives at kinks: Abs, Max (relu), Min, Piecewise, Heaviside, sign.

symgraph differentiates real functions of real variables. Away from a kink
every derivative is the ordinary one; *at* the kink the compiled callables
follow fixed conventions: Heaviside(0) = 1/2 (SymPy's), sign(0) = 0, and
DiracDelta (the derivative of a step) is 0. Nothing compiles to NaN and no
NumPy warning is raised. Run with ``python examples/kinks.py``.
"""

import warnings

import numpy as np
import sympy as sp

import symgraph as sg

warnings.simplefilter("error")  # any warning would stop this script

w = sp.Symbol("w", real=True)
points = np.array([-1.0, 0.0, 1.0])  # the kink is at w = 0

cases = {
    "Abs": sp.Abs(w),
    "relu": sp.Max(0, w),
    "Min": sp.Min(w, 0),
    "Piecewise": sp.Piecewise((w**2, w < 0), (w, True)),
    "step": w * sp.Heaviside(w),
    "Heaviside(w, 1)": sp.Heaviside(w, 1),
    "sign": sp.sign(w),
}

print(f"at w = {points}:")
for name, expr in cases.items():
    grad = sg.gradient(expr, wrt=[w])
    value, (dw,) = grad.lambdify()(w=points)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(dw))
    print(f"\n{name}: L = {expr}")
    print(f"  ∂L/∂w = {grad[w]}")
    print(f"  L     = {value}")
    print(f"  ∂L/∂w = {dw}")

# The cross-check skips the complex step here (not analytic) and says so.
x = sp.Symbol("x", real=True)
print()
print(sg.check(sg.gradient(sp.Max(0, w * x) ** 2, wrt=[w])))
