"""Benchmark: the loss summed over a batch, ``lambdify(reduce="sum")`` against NumPy.

Run from the repository root::

    python bench/reduce.py            # 16x32 network (577 weights), 10,000 points
    python bench/reduce.py --points 100000 --repeats 5

The scalar one-hidden-layer tanh network of ``bench/run.py`` (``Network(16, 32)``,
every weight its own symbol), squared error summed over the points.  Three ways to
the summed value and gradient, checked to agree before timing:

- ``reduce="sum"``: symgraph's fused reductions (no per-point partial is formed), the
  layer re-rolled into matrix products (``symgraph.numeric.reroll``: ``C @ S`` forward,
  ``Δ @ S.T`` for the weights' dots);
- hand-written NumPy that sums as it goes (matrix form: ``dW1 = dz.T @ x``);
- the per-point ``lambdify()`` (every partial per point), followed by summing.

Times are the best of ``--repeats`` calls (interleaved), in ms; ratios are "x / hand-written NumPy"
(target for ``reduce="sum"``: at most 1.5).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Network, sg  # noqa: E402  (bench/run.py: the same network, the same import)


def numpy_summed(x, y, w1, b1, w2, b2):
    """The summed loss and its gradient by hand: W1 (h, d), b1 (h,), W2 (h,), b2."""
    a = np.tanh(x @ w1.T + b1)
    r = a @ w2 + b2 - y
    dout = 2.0 * r
    dz = np.outer(dout, w2) * (1.0 - a * a)
    return r @ r, np.concatenate([(dz.T @ x).ravel(), dz.sum(axis=0), a.T @ dout, [dout.sum()]])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--inputs", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args(argv)

    problem = Network(args.inputs, args.hidden)
    xs, ysym, *_ = problem.symbols()
    loss, weights = problem.build()
    start = time.perf_counter()
    grad = sg.gradient(loss, wrt=weights)
    reduced = grad.lambdify(reduce="sum")
    compile_time = time.perf_counter() - start
    per_point = grad.lambdify()

    rng = np.random.default_rng(0)
    d, h, n = args.inputs, args.hidden, args.points
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    w1, b1 = rng.standard_normal((h, d)) / np.sqrt(d), rng.standard_normal(h)
    w2, b2 = rng.standard_normal(h) / np.sqrt(h), float(rng.standard_normal())
    values = {s.name: float(v) for s, v in zip(weights, [*w1.ravel(), *b1, *w2, b2], strict=True)}
    columns = x.T.copy()  # each input x_i its own contiguous array, as a user passes them
    values.update({s.name: columns[i] for i, s in enumerate(xs)})
    values[ysym.name] = y
    ordered = [values[s.name] for s in reduced.args]

    def run_reduced():
        return reduced(*ordered)

    def run_numpy():
        return numpy_summed(x, y, w1, b1, w2, b2)

    def run_per_point():
        value, partials = per_point(*ordered)
        return value.sum(), [p.sum() for p in partials]

    expected_value, expected = run_numpy()
    agree = []
    for run in (run_reduced, run_per_point):
        value, partials = run()
        agree.append(np.allclose(value, expected_value) and np.allclose(partials, expected))

    runs = {"numpy": run_numpy, "reduce": run_reduced, "per-point": run_per_point}
    times = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):  # interleaved: a load that comes and goes hits all three
        for name, run in runs.items():
            times[name] = min(times[name], timeit.timeit(run, number=1) * 1e3)

    print(
        f"Summed value and gradient of the {problem.label} scalar tanh network "
        f"({problem.n_weights} weights) over n={n:,} points; best of {args.repeats}, ms."
    )
    print(f"grad + lambdify(reduce='sum'): {compile_time:.2f} s")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print("--------------------------  -------  ------  --------")
    print("method                           ms   agree  x/numpy")
    print("--------------------------  -------  ------  --------")
    rows = [
        ("hand-written numpy (sums)", times["numpy"], True),
        ("lambdify(reduce='sum')", times["reduce"], agree[0]),
        ("lambdify() then .sum()", times["per-point"], agree[1]),
    ]
    for label, ms, ok in rows:
        print(f"{label:26}  {ms:7.2f}  {'ok' if ok else 'NO':>6}  {ms / times['numpy']:7.2f}x")
    print("--------------------------  -------  ------  --------")
    return 0 if all(agree) else 1


if __name__ == "__main__":
    raise SystemExit(main())
