"""Independent oracles for the tests: SymPy's own diff and lambdify, never symgraph's code."""

from __future__ import annotations

import numpy as np
import sympy as sp


def sympy_values(expr, symbols, columns):
    """``expr`` at points, by SymPy's own ``lambdify`` (not symgraph's code generator)."""
    expr = expr.replace(sp.DiracDelta, lambda *a: sp.S.Zero)  # zero wherever it exists
    fn = sp.lambdify(symbols, expr, modules=["scipy", "numpy"])
    shape = np.shape(columns[0])
    with np.errstate(all="ignore"):
        try:
            return np.broadcast_to(np.asarray(fn(*columns), dtype=complex), shape)
        except (TypeError, ValueError):  # SymPy's printer can emit invalid numpy.select code
            points = zip(*(np.broadcast_to(c, shape) for c in columns), strict=True)
            return np.array([_evalf(expr, symbols, p) for p in points])


def _evalf(expr, symbols, point):
    """One value by SymPy's own arithmetic (slow, but no generated code involved)."""
    value = expr.xreplace({s: sp.Float(float(v), 30) for s, v in zip(symbols, point, strict=True)})
    try:
        return complex(value.evalf(30))
    except TypeError:  # nan, zoo
        return complex(np.nan)


def assert_matches_sympy_diff(grad, points=20, seed=0, low=-2.0, high=2.0, rtol=1e-8):
    """Every compiled partial of ``grad`` equals ``sympy.diff`` of its expression.

    Compared where SymPy's derivative is finite and real; at least half the
    points must be usable, so a test cannot pass by comparing nothing.
    """
    f = grad.lambdify()
    rng = np.random.default_rng(seed)
    columns = [rng.uniform(low, high, points) for _ in f.args]
    _, partials = f(*columns)
    usable_total = 0
    for w, ours in zip(grad.wrt, partials, strict=True):
        theirs = sympy_values(sp.diff(grad.expr, w), f.args, columns)
        usable = np.isfinite(theirs) & (np.abs(theirs.imag) < 1e-12)
        usable_total += usable.sum()
        ours = np.broadcast_to(ours, (points,))
        np.testing.assert_allclose(
            ours[usable], theirs.real[usable], rtol=rtol, atol=1e-10, err_msg=f"d/d{w}"
        )
    assert usable_total >= len(grad.wrt) * points / 2, "too few points inside the domain"
