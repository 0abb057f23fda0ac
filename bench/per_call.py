"""Microseconds per call of a compiled gradient on scalar inputs (issue 12, item 3).

symgraph by name and by position against ``sympy.lambdify(cse=True)`` of the
same value and partials, called the same way (by name against by name), and
SymEngine's ``Lambdify`` when it is installed.
The best of several interleaved repeats, so a busy machine inflates no figure.

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


def per_call(fns: dict, number: int = 20000, repeat: int = 9) -> dict:
    """The best time of one call of each, in µs; repeats interleaved, so load hits all alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for label, fn in fns.items():
            best[label] = min(best[label], timeit.timeit(fn, number=number) / number * 1e6)
    return best


def callables(loss: sp.Expr) -> dict:
    f = sg.gradient(loss, wrt=[w, b]).lambdify()
    order = [POINT[s.name] for s in f.args]
    exprs = [loss, loss.diff(w), loss.diff(b)]
    sympy_fn = sp.lambdify(f.args, exprs, cse=True)
    out = {
        "symgraph named": lambda: f(**POINT),
        "symgraph positional": lambda: f(*order),
        "sympy.lambdify(cse=True)": lambda: sympy_fn(*order),
        "sympy.lambdify, named": lambda: sympy_fn(**POINT),
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
        times = per_call(callables(loss))
        base = times["sympy.lambdify(cse=True)"]
        named = times["sympy.lambdify, named"]
        print(name)
        for label, t in times.items():
            like = named if "named" in label else base  # by name against by name
            print(f"  {label:26s} {t:7.2f} µs   {t / like:5.2f}× sympy")


if __name__ == "__main__":
    main()
