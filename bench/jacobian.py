"""Benchmark: compiled Jacobians and Hessians, expression to callable.

Run from the repository root::

    python bench/jacobian.py            # every problem, 120 s limit per derivation
    python bench/jacobian.py --quick    # 30 s limit (slow columns read "timeout")

Each cell is the time from the expressions to a callable that returns the
matrix at a point (derivation and compilation together), each in its own
forked process with a time limit (``run_isolated`` of ``bench/run.py``):

- ``sg``: ``sg.lambdify_jacobian`` / ``sg.lambdify_hessian`` (the graph's
  shared lines: one reverse pass per output, compiled once);
- ``sg closed``: ``sg.jacobian`` / ``sg.hessian`` closed forms, then
  ``sympy.lambdify(..., cse=True)``;
- ``fwd``: SymPy's ``_forward_jacobian`` (``sympy.simplify._cse_diff``), then
  ``lambdify(cse=True)``; for a Hessian, of the gradient ``[diff(L, w)]``;
- ``sympy``: ``Matrix.jacobian`` / ``sympy.hessian``, then ``lambdify(cse=True)``;
- ``symengine``: ``symengine.Matrix.jacobian`` then ``symengine.Lambdify(cse=True)``.

``agree`` is the largest difference to ``fwd`` at one random point, relative
to the largest entry.  Ratios are *other / sg* (above 1: sg faster).  ``call``
is one call at one point, in microseconds (best of 200; what an ODE solver pays
per step).

Problems:

1. SymPy's n-link pendulum on a cart (``sympy.physics.mechanics.models``,
   no cart force), the right-hand side ``M⁻¹ F`` of the equations of motion
   (``mass_matrix_full.LUsolve(forcing_full)``), by all ``2(n+1)`` states;
   the states ``q_i(t)``, ``u_i(t)`` become plain real symbols first;
2. a two-layer tanh network, 6 inputs, 12 then 12 hidden units, 4 outputs,
   Jacobian by the inputs (every output shares both hidden layers);
3. the Hessian of a 4×6 tanh network's squared error (37 weights).
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import numpy as np
import sympy as sp
from sympy.simplify._cse_diff import _forward_jacobian

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Cell, Network, cell, fmt_ratio, print_table, run_isolated, se, sg  # noqa: E402

# --- the problems ---------------------------------------------------------------------


def pendulum(n: int):
    """(rhs as a column Matrix, the states as plain symbols) of the n-link pendulum."""
    from sympy.physics.mechanics import models

    kane = models.n_link_pendulum_on_cart(n, cart_force=False)
    states = list(kane.q.col_join(kane.u))
    plain = [sp.Symbol(f.func.__name__, real=True) for f in states]
    rhs = kane.mass_matrix_full.LUsolve(kane.forcing_full)
    return rhs.xreplace(dict(zip(states, plain, strict=True))), plain


def two_layer_network(d: int = 6, h: int = 12, m: int = 4):
    """(m outputs of tanh(W2 tanh(W1 x + b1) + b2) written in scalars, the inputs x)."""
    xs = list(sp.symbols(f"x1:{d + 1}", real=True))
    layer = xs
    for k, width in enumerate((h, h, m)):
        weights = sp.symbols(f"W{k}_0:{width}_0:{len(layer)}", real=True)
        rows = [weights[j * len(layer) : (j + 1) * len(layer)] for j in range(width)]
        pre = [sp.Add(*(wi * a for wi, a in zip(row, layer, strict=True))) for row in rows]
        layer = [sp.tanh(z) for z in pre] if k < 2 else pre
    return sp.Matrix(layer), xs


def network_loss():
    """(squared error of a 4-input, 6-hidden tanh network, its 37 weights)."""
    return Network(4, 6).build()


# --- one derivation, in a child process ------------------------------------------------


def _point(args, seed: int = 0) -> list[float]:
    """One value per argument, chosen by name (the same point whatever the order)."""
    names = sorted(s.name for s in args)
    value = dict(zip(names, np.random.default_rng(seed).uniform(0.5, 1.5, len(names)), strict=True))
    return [float(value[s.name]) for s in args]


def _finish(report, fn, args, start) -> None:
    """Report the time so far, the matrix at a point and one call's time."""
    report("seconds", time.perf_counter() - start)
    values = _point(args)
    report("matrix", np.array(fn(*values), dtype=float))
    call = min(timeit.repeat(lambda: fn(*values), number=1, repeat=200))
    report("call", call * 1e6)


def _sympy_args(problem) -> list:
    exprs, wrt, _ = problem
    leaves = set().union(*(e.free_symbols for e in exprs)) - set(wrt)
    return sorted(leaves, key=lambda s: s.name) + list(wrt)


def task_sg(report, problem) -> None:
    exprs, wrt, hessian = problem
    start = time.perf_counter()
    fn = sg.lambdify_hessian(exprs[0], wrt) if hessian else sg.lambdify_jacobian(exprs, wrt)
    _finish(report, fn, fn.args, start)


def task_sg_closed(report, problem) -> None:
    exprs, wrt, hessian = problem
    start = time.perf_counter()
    matrix = sg.hessian(exprs[0], wrt) if hessian else sg.jacobian(exprs, wrt)
    args = _sympy_args(problem)
    _finish(report, sp.lambdify(args, matrix, cse=True), args, start)


def task_forward(report, problem) -> None:
    exprs, wrt, hessian = problem
    start = time.perf_counter()
    outputs = sp.Matrix([sp.diff(exprs[0], w) for w in wrt]) if hessian else sp.Matrix(exprs)
    args = _sympy_args(problem)
    _finish(report, sp.lambdify(args, _forward_jacobian(outputs, wrt), cse=True), args, start)


def task_sympy(report, problem) -> None:
    exprs, wrt, hessian = problem
    start = time.perf_counter()
    matrix = sp.hessian(exprs[0], wrt) if hessian else sp.Matrix(exprs).jacobian(wrt)
    args = _sympy_args(problem)
    _finish(report, sp.lambdify(args, matrix, cse=True), args, start)


def task_symengine(report, problem) -> None:
    exprs, wrt, hessian = problem
    args = _sympy_args(problem)
    start = time.perf_counter()
    ws = se.Matrix([se.sympify(w) for w in wrt])
    outputs = se.Matrix([se.sympify(e) for e in exprs])
    if hessian:
        outputs = outputs.jacobian(ws).T
    fn = se.Lambdify([se.sympify(a) for a in args], outputs.jacobian(ws), cse=True)
    _finish(report, fn, args, start)


TASKS = {
    "sg": task_sg,
    "sg closed": task_sg_closed,
    "fwd": task_forward,
    "sympy": task_sympy,
    "symengine": task_symengine,
}


# --- the table --------------------------------------------------------------------------


def agreement(mine, reference) -> str:
    if mine is None or reference is None:
        return "-"
    mine, reference = np.asarray(mine), np.asarray(reference).reshape(np.shape(mine))
    scale = max(float(np.abs(reference).max()), 1e-300)
    return f"{float(np.abs(mine - reference).max()) / scale:.1e}"


def measure(label: str, problem, timeout: float) -> list:
    cells: dict[str, Cell] = {}
    results: dict[str, dict] = {}
    for name, task in TASKS.items():
        if name == "symengine" and se is None:
            cells[name] = Cell(status="n/a")
            continue
        print(f"{label}: {name}", file=sys.stderr, flush=True)
        results[name], status = run_isolated(task, problem, timeout)
        cells[name] = cell(results[name], status, "seconds")
    mine = results["sg"].get("matrix")
    base = cells["sg"]
    shape = "x".join(map(str, np.shape(mine))) if mine is not None else "-"
    call = results["sg"].get("call")
    fwd_call = results["fwd"].get("call")
    return [
        label,
        shape,
        *(cells[name] for name in TASKS),
        *(cells[name].ratio_to(base, timeout) for name in TASKS if name != "sg"),
        agreement(mine, results["fwd"].get("matrix")),
        f"{call:.0f}" if call else "-",
        fmt_ratio(fwd_call / call) if call and fwd_call else "-",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s per derivation")
    parser.add_argument("--timeout", type=float, help="seconds allowed per derivation")
    args = parser.parse_args(argv)
    timeout = args.timeout or (30.0 if args.quick else 120.0)
    problems = []
    for n in (2, 3):
        rhs, states = pendulum(n)
        problems.append((f"pendulum n={n}", (list(rhs), states, False)))
    outputs, inputs = two_layer_network()
    problems.append(("2-layer net, d/dx", (list(outputs), inputs, False)))
    loss, weights = network_loss()
    problems.append(("4x6 net loss, Hessian", ([loss], weights, True)))
    print(
        f"symgraph {sg.__version__}, SymPy {sp.__version__}, NumPy {np.__version__}, "
        f"SymEngine {se.__version__ if se is not None else 'not installed'}, "
        f"Python {sys.version.split()[0]}; limit {timeout:.0f} s per derivation"
    )
    others = [name for name in TASKS if name != "sg"]
    headers = [
        "problem",
        "shape",
        *TASKS,
        *(f"{name}/sg" for name in others),
        "agree",
        "call µs",
        "fwd call/sg",
    ]
    rows = [measure(label, problem, timeout) for label, problem in problems]
    print_table(
        "Expressions to a compiled matrix callable, seconds (derivation + compilation).",
        headers,
        rows,
    )


if __name__ == "__main__":
    main()
