"""Part 4 of the benchmark: a 2-layer network at layer granularity (matrix nodes).

The network (tanh hidden layer, linear output, mean squared error over a batch
X of n rows) is written once with symbolic sizes n, d, h:

    Z1 = X W1ᵀ + 1 b1ᵀ,  A1 = tanh(Z1),  R = A1 w2 + b2 1 - Y,  L = (1/n) 1ᵀ (R ⊙ R)

Measured in one run:

- derivation time (graph, backpropagation, compiled callable) with symbolic sizes
  and with concrete ones, small and large: it must not depend on the sizes;
- value and gradient over a batch: symgraph's compiled function against
  hand-written NumPy backpropagation (the same formulas a person would type),
  best of ``repeats`` calls, and the peak memory of one call (tracemalloc);
- what plain SymPy does with the same loss (``sp.diff(L, W1)``).

Run alone: ``python bench/matrix_network.py [--quick]``; ``bench/run.py`` runs it
as its part 4.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
import tracemalloc
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg
from symgraph.rules.matfuncs import SumEntries

SIZES = ((32, 64, 10_000), (4, 8, 100), (128, 256, 10_000))  # (d, h, n); the first is the target


def network(d, h, n):
    """Named steps and weights of the network; sizes symbols or integers."""
    X, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("Y", n, 1)
    W1, b1 = sp.MatrixSymbol("W1", h, d), sp.MatrixSymbol("b1", h, 1)
    w2, b2 = sp.MatrixSymbol("w2", h, 1), sp.Symbol("b2", real=True)
    Z1, A1, R = sp.MatrixSymbol("Z1", n, h), sp.MatrixSymbol("A1", n, h), sp.MatrixSymbol("R", n, 1)
    ones = sp.OneMatrix(n, 1)
    steps = [
        (Z1, X * W1.T + ones * b1.T),
        (A1, Z1.applyfunc(sp.tanh)),
        (R, A1 * w2 + b2 * ones - Y),
        (sp.Symbol("L", real=True), SumEntries(sp.HadamardProduct(R, R)) / n),
    ]
    return steps, [W1, b1, w2, b2]


def derive(d, h, n):
    steps, weights = network(d, h, n)
    start = time.perf_counter()
    grad = sg.Graph.from_assignments(steps, wrt=weights, granularity="named").backward()
    f = grad.lambdify()
    return f, time.perf_counter() - start


def numpy_value_and_grad(X, Y, W1, b1, w2, b2):
    """Hand-written backpropagation: mean squared error, gradients summed over the batch."""
    n = X.shape[0]
    A1 = np.tanh(X @ W1.T + b1.T)
    R = A1 @ w2 + b2 - Y
    dR = (2.0 / n) * R
    dZ1 = (dR @ w2.T) * (1.0 - A1 * A1)
    return (R * R).sum() / n, (dZ1.T @ X, dZ1.sum(axis=0)[:, None], A1.T @ dR, dR.sum())


def peak_memory(fn) -> int:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def sympy_attempt() -> str:
    """What SymPy 1.14 does with ∂L/∂W1 of the loss written as a SymPy user would."""
    n, d, h = 6, 3, 4
    steps, (W1, *_) = network(d, h, n)
    R = steps[2][1].xreplace({steps[1][0]: steps[1][1]}).xreplace({steps[0][0]: steps[0][1]})
    loss = sp.Trace(R.T * R) / n
    start = time.perf_counter()
    try:
        result = sp.diff(loss, W1)
    except Exception as err:  # noqa: BLE001 - reporting what SymPy does
        return f"raises {type(err).__name__} after {time.perf_counter() - start:.2f} s"
    return f"returns {str(result)[:60]}... ({time.perf_counter() - start:.2f} s)"


def run(repeats: int, quick: bool = False) -> None:
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    log("part 4: matrix nodes, 2-layer network over a batch")
    n, d, h = sp.symbols("n d h", integer=True, positive=True)
    f_symbolic, t_symbolic = derive(d, h, n)
    rows = [("symbolic n, d, h", t_symbolic)]
    for d_, h_, n_ in SIZES[: 2 if quick else 3]:
        rows.append((f"concrete d={d_} h={h_} n={n_:,}", derive(d_, h_, n_)[1]))
    print()
    print("4a. Derivation time (graph + backprop + compiled callable), 2-layer network")
    for label, t in rows:
        print(f"   {label:<34} {t:8.3f} s")

    rng = np.random.default_rng(0)
    print()
    print(
        f"4b. Value and gradient over a batch (mean squared error), best of {repeats};\n"
        "    numpy = hand-written backpropagation.  ratio = symgraph / numpy (<= 1.5 targeted)"
    )
    header = (
        f"   {'d':>4} {'h':>5} {'n':>7}  {'agree':>6} {'symgraph':>10} {'numpy':>10} {'ratio':>6}"
    )
    print(header + f" {'sg peak MB':>10} {'np peak MB':>10}")
    for d_, h_, n_ in SIZES[: 2 if quick else 3]:
        X, Y = rng.standard_normal((n_, d_)), rng.standard_normal((n_, 1))
        W1, b1 = rng.standard_normal((h_, d_)) / np.sqrt(d_), rng.standard_normal((h_, 1))
        w2, b2 = rng.standard_normal((h_, 1)) / np.sqrt(h_), float(rng.standard_normal())
        values = dict(X=X, Y=Y, W1=W1, b1=b1, w2=w2, b2=b2)
        args = [values[s.name] for s in f_symbolic.args]

        def ours(args=args):
            return f_symbolic(*args)

        def theirs(values=values):
            return numpy_value_and_grad(**values)

        (v1, g1), (v2, g2) = ours(), theirs()
        agree = np.isclose(v1, v2) and all(np.allclose(a, b) for a, b in zip(g1, g2, strict=True))
        t_sg = min(timeit.repeat(ours, number=1, repeat=repeats))
        t_np = min(timeit.repeat(theirs, number=1, repeat=repeats))
        m_sg, m_np = peak_memory(ours) / 2**20, peak_memory(theirs) / 2**20
        print(
            f"   {d_:>4} {h_:>5} {n_:>7,}  {'ok' if agree else 'NO':>6} {t_sg * 1e3:>8.2f}ms"
            f" {t_np * 1e3:>8.2f}ms {t_sg / t_np:>6.2f} {m_sg:>10.1f} {m_np:>10.1f}"
        )
    print()
    print("4c. plain SymPy, L = tr(RᵀR)/n with n=6, d=3, h=4:")
    print(f"    sp.diff(L, W1) {sympy_attempt()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    run(repeats=3 if options.quick else 7, quick=options.quick)
