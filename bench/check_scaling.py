"""Cost of ``sg.check`` against the cost of deriving and compiling the gradient.

Run from the repository root::

    python bench/check_scaling.py            # tanh chains of 150 .. 1200 layers
    python bench/check_scaling.py --quick    # 75 .. 300 layers

The chain is bench/run.py's: ``a_k = tanh(w_k a_{k-1} + b_k)``, loss
``(a_D - y)²``, differentiated by every ``w_k`` and ``b_k`` (``2D`` weights).
Per depth: ``derive`` is ``sg.gradient`` + ``.lambdify()``, ``check`` is
``sg.check(grad)`` at its default 3 points, best of ``--repeats``; ``ratio``
is check / derive (the target: at most 3 at depth 600), ``growth`` the check
time over the previous row's (with depths doubling, about 2 means linear).
Above 32 weight entries the check runs along random directions, so its cost
does not multiply the weights by the graph.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Chain  # noqa: E402 - bench/run.py's chain, next to this file


def timed(depth: int, repeats: int) -> tuple[float, float, bool]:
    """Best derive and check times at ``depth``, and whether the check passed."""
    derive = check = float("inf")
    ok = True
    for _ in range(repeats):
        sp.core.cache.clear_cache()  # a cached deep chain is compared by recursion when met again
        loss, weights = Chain(depth).build()
        start = time.perf_counter()
        grad = sg.gradient(loss, wrt=weights)
        grad.lambdify()
        derived = time.perf_counter()
        report = sg.check(grad)
        checked = time.perf_counter()
        derive, check = min(derive, derived - start), min(check, checked - derived)
        ok = ok and report.ok
    return derive, check, ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller depths")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    depths = (75, 150, 300) if args.quick else (150, 300, 600, 1200)
    header = ("depth", "weights", "derive s", "check s", "ratio", "growth")
    print(" ".join(f"{h:>9}" for h in header), " ok")
    previous = None
    for depth in depths:
        derive, check, ok = timed(depth, args.repeats)
        growth = f"{check / previous:9.2f}" if previous else f"{'':>9}"
        cells = f"{depth:>9} {2 * depth:>9} {derive:>9.2f} {check:>9.2f} {check / derive:>9.2f}"
        print(cells, growth, "", ok)
        previous = check
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
