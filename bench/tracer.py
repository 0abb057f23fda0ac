"""The define-by-run tracer: milliseconds per recorded operation, and against a baseline.

Run from the repository root::

    python bench/tracer.py                       # 1,000 / 4,000 / 8,000 operations
    python bench/tracer.py --quick               # 1,000 / 2,000
    python bench/tracer.py --baseline none       # this checkout only

Two programs, each run until it has recorded ``n`` operations:

- ``chain``: ``h = tanh(w*h + b)``, three operations a step, as deep as it is long;
- ``mixed``: micrograd's kinds of step in turn (``+ - * / **2``, ``relu``,
  ``tanh``, ``exp``, a reused value, constants on either side) over a few leaves.

Each cell is CPU time (``time.process_time``, so a busy machine disturbs it
less) per recorded operation: ``record`` (running the program), ``graph``
(``out.graph`` alone), ``backward`` (``out.backward()`` on a fresh record: the
graph, the symbolic Gradient and every leaf's ``.grad``) and ``total``
(record + backward).  Every measurement runs in its own child process, so no
SymPy cache is shared.  ``baseline`` is the same total for the tracer at
``--baseline REV`` (its ``symgraph/trace.py`` over this checkout's other
modules, in a temporary directory), ``ratio`` is baseline / total: above 1
the tracer here is faster.  The baseline's leaf ``.grad`` values are checked to
agree with this tracer's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "60eec9b"  # the tracer before issue 11 (sympy per operation, compiled .grad)

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.setrecursionlimit(3000)
import symgraph as sg

def chain(n):
    w, b, h = sg.Value(0.5, name="w"), sg.Value(0.1, name="b"), sg.Value(1.0, name="x")
    for _ in range(n // 3):
        h = (w * h + b).tanh()
    return h, [w, b], 3 * (n // 3)

def mixed(n):
    x, y, z = sg.Value(0.7, name="x"), sg.Value(-0.3, name="y"), sg.Value(1.2, name="z")
    h, k = x, 0
    while k < n:
        h = h * y + z            # 2
        h = (h - x).relu() + 0.5 # 3
        h = h / 2.0 + x * z      # 3
        h = (h**2).tanh()        # 2
        h = 1 - (-h).exp() * 0.5 # 4
        k += 14
    return h, [x, y, z], k

program = {"chain": chain, "mixed": mixed}[sys.argv[2]]
n = int(sys.argv[3])
clock = time.process_time
t0 = clock(); out, leaves, ops = program(n); t1 = clock()
graph = out.graph; t2 = clock()
out, leaves, ops = program(n); t3 = clock()
out.backward(); t4 = clock()
grads = [float(v.grad) for v in leaves]
print(json.dumps({"record": t1 - t0, "graph": t2 - t1, "backward": t4 - t3, "ops": ops,
                  "grads": grads}))
"""


def measure(package_root: Path, program: str, n: int, timeout: float) -> dict | str:
    """One child process's figures, or why there are none (``timeout``, the error's name)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(package_root), program, str(n)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    except subprocess.CalledProcessError as err:
        return err.stderr.strip().splitlines()[-1].split(":")[0]
    return json.loads(done.stdout)


def baseline_tree(rev: str, into: Path) -> Path:
    """This checkout's package with ``symgraph/trace.py`` as it was at ``rev``."""
    shutil.copytree(
        ROOT / "symgraph", into / "symgraph", ignore=shutil.ignore_patterns("__pycache__")
    )
    old = subprocess.run(
        ["git", "show", f"{rev}:symgraph/trace.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (into / "symgraph" / "trace.py").write_text(old)
    return into


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 2,000 operations")
    parser.add_argument("--baseline", default=BASELINE, help="a git revision, or 'none'")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per child")
    args = parser.parse_args(argv)
    sizes = (1000, 2000) if args.quick else (1000, 4000, 8000)
    with tempfile.TemporaryDirectory() as tmp:
        old_root = None if args.baseline == "none" else baseline_tree(args.baseline, Path(tmp))
        header = f"{'program':8} {'n':>6} {'record':>8} {'graph':>8} {'backward':>9} {'total':>8}"
        print(header + f" {'baseline':>9} {'ratio':>6}   (ms per recorded operation, CPU)")
        for program in ("chain", "mixed"):
            for n in sizes:
                new = measure(ROOT, program, n, args.timeout)
                if isinstance(new, str):
                    print(f"{program:8} {n:>6}  {new}")
                    continue
                ms = {k: new[k] / new["ops"] * 1e3 for k in ("record", "graph", "backward")}
                total = ms["record"] + ms["backward"]
                line = (
                    f"{program:8} {new['ops']:>6} {ms['record']:8.3f} {ms['graph']:8.3f}"
                    f" {ms['backward']:9.3f} {total:8.3f}"
                )
                if old_root is not None:
                    old = measure(old_root, program, n, args.timeout)
                    if isinstance(old, str):
                        line += f"  {old}"
                    else:
                        before = (old["record"] + old["backward"]) / old["ops"] * 1e3
                        agree = all(
                            abs(a - b) <= 1e-9 * max(1.0, abs(b))
                            for a, b in zip(new["grads"], old["grads"], strict=True)
                        )
                        line += f" {before:9.3f} {before / total:6.1f}"
                        line += "" if agree else "   .grad DIFFERS"
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
