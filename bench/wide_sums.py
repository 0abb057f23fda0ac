"""Wide graphs: a weight used in n places, compiled with lines of bounded size.

Run from the repository root::

    python bench/wide_sums.py            # sums of 1,000 .. 100,000 terms, recurrences to 10,000
    python bench/wide_sums.py --quick    # up to 10,000 and 3,000

Two graphs whose δ-sum (and forward loss) has n terms, which Python's own
compiler could not parse as one line (``RecursionError`` from 3,000 terms on):

- sum of sines: ``L = Σ_i sin(w·x_i)`` by ``w`` (``sg.gradient``);
- tied tanh recurrence: ``h_t = tanh(w·h_{t-1} + b + x_t)``, ``L = Σ_t h_t``, by
  ``w, b`` (backpropagation through time with one weight and one bias).

Each row: the time to build and differentiate the graph, to compile it
(``grad.lambdify()``), one call over a batch of 64 points, the same values
computed by hand-written NumPy, the largest relative difference between the
two, the number of generated lines and the longest.  ``scaling`` is the
exponent of the compile time against the previous row's size (1 is linear).

On 2026-12-02 (2-core VM shared with other jobs): the sum of sines at
1,000 / 3,000 / 10,000 / 30,000 / 100,000 terms compiled in 0.5 / 4.3 / 15 / 58
/ 193 s (scaling 1.9, 1.05, 1.2, 1.0), agreeing with NumPy to 2e-12, longest
line 482 .. 610 characters; the recurrence at 1,000 / 3,000 / 10,000 steps in
2.2 / 4.9 / 16 s, agreeing to 1e-14.  Before, both raised ``RecursionError``
from 3,000 on.  Most of the compile time is the source check's AST walk and
Python's own ``compile`` of the long function.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

w, b = sp.symbols("w b", real=True)
BATCH = 64


def sines(n: int):
    """The gradient of ``Σ sin(w·x_i)``, its arguments' values, and NumPy's (value, ∂w)."""
    xs = sp.symbols(f"x0:{n}", real=True)
    grad = sg.gradient(sp.Add(*[sp.sin(w * x) for x in xs]), wrt=[w])
    x = np.random.default_rng(0).normal(size=(n, BATCH))

    def by_hand():
        return [np.sin(0.7 * x).sum(axis=0), (x * np.cos(0.7 * x)).sum(axis=0)]

    return grad, [*x, 0.7], by_hand


def recurrence(n: int):
    """The tied tanh recurrence over ``n`` steps, its values, and NumPy's BPTT."""
    xs = sp.symbols(f"x0:{n + 1}", real=True)
    h, steps = xs[0], []
    for k in range(1, n + 1):
        steps.append((sp.Symbol(f"h{k}", real=True), sp.tanh(w * h + b + xs[k])))
        h = steps[-1][0]
    steps.append((sp.Symbol("L", real=True), sp.Add(*(s for s, _ in steps))))
    grad = sg.Graph.from_assignments(steps, wrt=[w, b]).backward()
    x = np.random.default_rng(0).normal(scale=0.5, size=(n + 1, BATCH))
    by_name = dict(zip((s.name for s in xs), x, strict=True))
    values = [by_name[s.name] for s in sorted(xs, key=lambda s: s.name)]  # lambdify's order

    def by_hand(w_=0.9, b_=-0.1):
        hs = [x[0]]
        for x_t in x[1:]:
            hs.append(np.tanh(w_ * hs[-1] + b_ + x_t))
        back, dw, db = np.zeros(BATCH), np.zeros(BATCH), np.zeros(BATCH)
        for t in range(n, 0, -1):  # δ_h_t = 1 (from L) + w·δ_z_{t+1}
            dz = (1.0 + back) * (1.0 - hs[t] ** 2)
            dw, db, back = dw + dz * hs[t - 1], db + dz, w_ * dz
        return [sum(hs[1:]), dw, db]

    return grad, [*values, 0.9, -0.1], by_hand


def row(name: str, build, n: int) -> tuple[float, str]:
    sp.core.cache.clear_cache()
    start = time.perf_counter()
    grad, values, by_hand = build(n)
    built = time.perf_counter() - start
    start = time.perf_counter()
    f = grad.lambdify()
    compiled = time.perf_counter() - start
    start = time.perf_counter()
    value, partials = f(*values)
    called = time.perf_counter() - start
    start = time.perf_counter()
    expected = by_hand()
    numpy_time = time.perf_counter() - start
    error = max(
        float(np.max(np.abs(a - e) / np.maximum(np.abs(e), 1e-300)))
        for a, e in zip([value, *partials], expected, strict=True)
    )
    lines = f.source.splitlines()
    longest = max(map(len, lines))
    text = (
        f"{name:<16}{n:>8}{built:>9.2f}{compiled:>10.2f}{called:>9.3f}{numpy_time:>9.3f}"
        f"{error:>10.1e}{len(lines):>9}{longest:>8}"
    )
    return compiled, text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 10,000 terms only")
    args = parser.parse_args(argv)
    sizes = {
        "sum of sines": (1000, 3000, 10000) if args.quick else (1000, 3000, 10000, 30000, 100000),
        "tanh recurrence": (1000, 3000) if args.quick else (1000, 3000, 10000),
    }
    builds = {"sum of sines": sines, "tanh recurrence": recurrence}
    print(
        f"{'graph':<16}{'n':>8}{'build s':>9}{'compile s':>10}{'call s':>9}{'numpy s':>9}"
        f"{'rel err':>10}{'lines':>9}{'longest':>8}{'scaling':>9}"
    )
    for name, build in builds.items():
        previous = None
        for n in sizes[name]:
            compiled, text = row(name, build, n)
            scaling = np.log(compiled / previous[1]) / np.log(n / previous[0]) if previous else None
            print(text + (f"{scaling:>9.2f}" if scaling is not None else f"{'-':>9}"), flush=True)
            previous = (n, compiled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
