"""Issue 12's comparisons in one run: every fast callable against its yardstick.

1. per call on plain floats: symgraph against ``sympy.lambdify(cse=True)`` and
   SymEngine's ``Lambdify`` (``per_call.py``);
2. the reduced gradient (``reduce="sum"``) of the 577-weight scalar network over
   10,000 points against hand-written NumPy that sums (``reduce.py``);
3. the JAX and torch backends on the matrix network (d=32, h=64, n=10,000)
   against ``jax.jit(jax.value_and_grad(...))`` and torch autograd (``backends.py``);
4. the C function against SymEngine's LLVM ``Lambdify`` (``c_source.py``);
5. ``workers=1`` against ``workers=2`` on 10⁶ rows, and a Dask ``LocalCluster``
   (``workers.py``).

Each part is its own script, run here one after the other in fresh processes
(so one part's threads and imports, JAX's above all, cannot slow another);
each prints its own table with ratios.  The machine's load average is printed
before each part: the figures mean little on a busy machine.

Run: ``python bench/callables.py`` (``--quick`` passes ``--quick`` where a part has it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = ("per_call", "reduce", "backends", "c_source", "workers")
QUICK_FLAG = {"backends", "workers"}  # the parts that take --quick


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats where possible")
    parser.add_argument("--only", nargs="+", choices=PARTS, help="run only these parts")
    args = parser.parse_args(argv)
    failed = []
    for part in args.only or PARTS:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"\n=== {part}.py (load average {load}) ===", flush=True)
        command = [sys.executable, str(HERE / f"{part}.py")]
        if args.quick and part in QUICK_FLAG:
            command.append("--quick")
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(part)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
