"""Microseconds per call of a compiled gradient on scalar inputs (issue 12, item 3).

symgraph by name and by position against ``sympy.lambdify(cse=True)`` of the
same value and partials, and SymEngine's ``Lambdify`` when it is installed.
The best of several repeats, so a busy machine inflates no figure.

Run: ``python bench/per_call.py``
"""

from __future__ import annotations

import timeit

import sympy as sp

import symgraph as sg

w, x, b, y = sp.symbols("w x b y", real=True)
z = w * x + b
sigmoid = 1 / (1 + sp.exp(-z))
GRADIENTS = {
    "tanh network": (sp.tanh(z) - y) ** 2 + sp.log(1 + sp.exp(w * b)),
    "cross-entropy": -(y * sp.log(sigmoid) + (1 - y) * sp.log(1 - sigmoid)),
    "two-layer tanh": (sp.tanh(w * sp.tanh(w * x + b) + b) - y) ** 2,
}
POINT = {"x": 0.7, "y": 0.1, "w": 0.3, "b": -0.2}


def per_call(fn, number: int = 20000, repeat: int = 7) -> float:
    """The best time of one call, in µs."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def callables(loss: sp.Expr) -> dict:
    f = sg.gradient(loss, wrt=[w, b]).lambdify()
    order = [POINT[s.name] for s in f.args]
    exprs = [loss, loss.diff(w), loss.diff(b)]
    sympy_fn = sp.lambdify(f.args, exprs, cse=True)
    out = {
        "symgraph named": lambda: f(**POINT),
        "symgraph positional": lambda: f(*order),
        "sympy.lambdify(cse=True)": lambda: sympy_fn(*order),
    }
    try:
        import symengine as se
    except ImportError:
        return out
    engine = se.Lambdify(list(f.args), exprs, cse=True)
    out["symengine Lambdify"] = lambda: engine(order)
    return out


def main() -> None:
    for name, loss in GRADIENTS.items():
        times = {label: per_call(fn) for label, fn in callables(loss).items()}
        base = times["sympy.lambdify(cse=True)"]
        print(name)
        for label, t in times.items():
            print(f"  {label:26s} {t:7.2f} µs   {t / base:5.2f}× sympy")


if __name__ == "__main__":
    main()
