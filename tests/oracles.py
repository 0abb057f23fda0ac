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


def compile_latex(document: str, directory) -> None:
    """A real LaTeX engine is the oracle for LaTeX output: pdflatex must make a PDF.

    Skipped where pdflatex is missing, except in CI (CI=true), where that fails.
    """
    import os
    import shutil
    import subprocess

    import pytest

    engine = shutil.which("pdflatex")
    if engine is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is not on PATH; CI must compile the LaTeX output")
        pytest.skip("pdflatex is not on PATH")
    (directory / "doc.tex").write_text(document, encoding="utf-8")
    result = subprocess.run(
        [engine, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=directory,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (directory / "doc.pdf").stat().st_size > 0


def matrix_value(expr, values):
    """A matrix (or scalar) expression at explicit values, by SymPy's own arithmetic."""
    value = expr.xreplace(values).doit()
    if getattr(value, "is_Matrix", False):
        return np.array(sp.Matrix(value).evalf(), dtype=float)
    return float(value)


def inner(a, b):
    """⟨a, b⟩ = Σ a_ij b_ij: how a VJP meets a direction."""
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def assert_same_mathematics(a, b, points=8, seed=0):
    """``a`` and ``b`` are the same function (not the same tree), by SymPy at 30 digits.

    Symbols are matched by name (a parser may attach other assumptions).  At each
    seeded point both values agree to 1e-20 relative, or are both undefined there.
    """
    names = sorted({s.name for s in a.free_symbols | b.free_symbols})
    rng = np.random.default_rng(seed)
    for _ in range(points):
        draws = rng.uniform(-3, 3, len(names))
        point = {n: sp.Float(float(v), 30) for n, v in zip(names, draws, strict=True)}
        if _overflows(a, point) or _overflows(b, point):
            continue  # exp(exp(12)) inside: 30 digits of tan of it take mpmath minutes
        va, vb = (_by_name(e, point) for e in (a, b))
        if not (np.isfinite(va) and np.isfinite(vb)):
            assert np.isfinite(va) == np.isfinite(vb), f"{a} = {va} but {b} = {vb} at {point}"
            continue
        assert abs(va - vb) <= 1e-20 + 1e-20 * max(abs(va), abs(vb)), (
            f"{a} = {va} but {b} = {vb} at {point}"
        )


def _overflows(expr, point) -> bool:
    """Whether ``expr`` passes through a number beyond a double at ``point`` (Python floats)."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        fn = sp.lambdify(symbols, expr, modules="math")
    except Exception:  # noqa: BLE001 - no float form: the 30-digit evaluation decides alone
        return False
    try:
        fn(*(float(point[s.name]) for s in symbols))
    except OverflowError:
        return True
    except Exception:  # noqa: BLE001 - a domain error or a missing float function
        return False
    return False


def _by_name(expr, point):
    try:
        return complex(expr.xreplace({s: point[s.name] for s in expr.free_symbols}).evalf(30))
    except (TypeError, ValueError, ArithmeticError):  # nan, zoo; Max of a complex number
        return complex(np.nan)
