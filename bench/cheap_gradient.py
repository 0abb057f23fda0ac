"""The cheap-gradient bound: operations of value plus gradient over the loss's own.

Run from the repository root::

    python bench/cheap_gradient.py            # every problem, two sizes each
    python bench/cheap_gradient.py --quick    # the smaller size only

Reverse mode costs a small constant times the function (Baur–Strassen;
Griewank–Walther): the target is at most 4.  For each bench problem the table
gives the loss's operation count after common-subexpression elimination
(``sp.count_ops`` of ``sp.cse([L])``), symgraph's count (the forward operations
of every graph node plus the right sides of the δ-equations, at the default
granularity and with ``granularity="fine"``), and SymPy's (``sp.cse`` of the
loss and every ``sp.diff(L, w)``, where it ends within the time limit), each as
a ratio to the loss's.

Problems: the deep tanh chain and the scalar tanh network of ``bench/run.py``;
the wide sum, the tied recurrence, the products of symbols and of sines of
``bench/scaling.py``; the logistic map ``x_{k+1} = r x_k (1 - x_k)`` typed as
one expression, which SymPy flattens into products of up to ``steps + 1``
factors, each holding the factors of the one before.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Chain, Network  # noqa: E402 - the problems of bench/run.py
from scaling import product, product_of_sin, tied, wide_sum  # noqa: E402

TARGET = 4.0
SYMPY_LIMIT = 20  # seconds for sp.diff + sp.cse of one problem


def count_ops(exprs: Iterable[sp.Basic]) -> int:
    return sum(sp.count_ops(e) for e in exprs)


def cse_ops(exprs: list[sp.Basic]) -> int:
    replacements, reduced = sp.cse(exprs)
    return count_ops(rhs for _, rhs in replacements) + count_ops(reduced)


def symgraph_ops(loss: sp.Basic, wrt: list, granularity: str) -> int:
    grad = sg.gradient(loss, wrt=wrt, granularity=granularity)
    nodes = grad.graph.nx.nodes
    forward = count_ops(nodes[n]["op"] for n in nodes if nodes[n]["op"] is not None)
    return forward + count_ops(rhs for _, rhs in grad.equations)


def sympy_ops(loss: sp.Basic, wrt: list) -> int | str:
    def give_up(*_):
        raise TimeoutError

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(SYMPY_LIMIT)
    try:
        return cse_ops([loss, *(sp.diff(loss, w) for w in wrt)])
    except TimeoutError:
        return "timeout"
    except RecursionError:
        return "recursion"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def logistic(steps: int) -> tuple[sp.Basic, list]:
    r, x0 = sp.symbols("r x0", real=True)
    x = x0
    for _ in range(steps):
        x = r * x * (1 - x)
    return x, [r, x0]


def _scaling(make: Callable) -> Callable[[int], tuple[sp.Basic, list]]:
    def build(n: int):
        problem = make(n)
        return problem.expr, problem.wrt

    return build


PROBLEMS: list[tuple[str, Callable[[int], tuple[sp.Basic, list]], tuple[int, int]]] = [
    ("chain (depth)", lambda n: Chain(n).build(), (20, 40)),
    ("network (inputs, 8 hidden)", lambda n: Network(n, 8).build(), (4, 16)),
    ("wide sum (terms)", _scaling(wide_sum), (100, 1000)),
    ("tied recurrence (steps)", _scaling(tied), (20, 40)),  # sp.cse recurses past ~60
    ("product (factors)", _scaling(product), (100, 400)),
    ("product of sin (factors)", _scaling(product_of_sin), (100, 400)),
    ("logistic map (steps)", logistic, (10, 20)),
]


def ratio(ops: int | str, loss: int) -> str:
    return f"{ops / loss:.2f}" if isinstance(ops, int) else ops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smaller size only")
    args = parser.parse_args(argv)
    headers = ["problem", "size", "loss ops", "sg", "sg fine", "sympy", "sg/loss"]
    headers += ["fine/loss", "sympy/loss"]
    rows, worst = [], 0.0
    for name, build, sizes in PROBLEMS:
        for n in sizes[:1] if args.quick else sizes:
            print(f"{name} {n}", file=sys.stderr, flush=True)
            loss, wrt = build(n)
            base = cse_ops([loss])
            ours = symgraph_ops(loss, wrt, "op")
            fine = symgraph_ops(loss, wrt, "fine")
            theirs = sympy_ops(loss, wrt)
            worst = max(worst, ours / base, fine / base)
            rows.append([name, n, base, ours, fine, theirs, ratio(ours, base)])
            rows[-1] += [ratio(fine, base), ratio(theirs, base)]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for r in [headers, *rows]:
        print("  ".join(str(v).rjust(w) for v, w in zip(r, widths, strict=True)))
    print(f"worst symgraph ratio: {worst:.2f} (target <= {TARGET:g})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
