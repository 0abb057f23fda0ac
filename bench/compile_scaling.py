"""Compile time of the stable-forms pass as graphs grow: ``grad.lambdify()`` alone.

Run from the repository root::

    python bench/compile_scaling.py            # chains of 125 .. 1000 layers
    python bench/compile_scaling.py --quick    # chains of 50 .. 200 layers

Each row is one graph, differentiated once (``backward()``, not timed), then
compiled (``lambdify()``: stable forms, code generation and the source check),
best of ``--repeats`` in a fresh graph each time.  ``ratio`` is the time over
the previous row's: with sizes doubling, about 2 means linear.

- sigmoid chain: ``a_k = 1/(1 + exp(-(w·a_{k-1} + b)))``, ``L = a_n²``, by ``w, b``;
- tanh chain: the same with ``tanh``;
- scalar network (``symgraph.nn``): ``n`` inputs, a sigmoid hidden layer of ``n``
  units, 3 linear outputs, softmax cross-entropy, by every weight;
- matrix network (``symgraph.layers``): the same network over a batch, one node
  per layer (its size does not grow with the batch: one row).
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

from symgraph import layers, nn

w, b, x = sp.symbols("w b x", real=True)


def chain(n: int, kind: str):
    steps, prev = [], x
    for i in range(n):
        a = sp.Symbol(f"a{i}", real=True)
        z = w * prev + b
        steps.append((a, 1 / (1 + sp.exp(-z)) if kind == "sigmoid" else sp.tanh(z)))
        prev = a
    steps.append((sp.Symbol("L"), prev**2))
    return sg.Graph.from_assignments(steps, wrt=[w, b]).backward()


def scalar_network(n: int):
    steps, params = nn.as_assignments(
        nn.input_symbols(n), [n, 3], ["sigmoid", "identity"], loss="softmax_cross_entropy"
    )
    return sg.Graph.from_assignments(steps, wrt=params).backward()


def matrix_network(_: int):
    net = layers.mlp(layers.input_matrix(64, 16), [32, 3], ["sigmoid", "identity"])
    steps = net.with_loss("softmax_cross_entropy")
    return sg.Graph.from_assignments(steps, wrt=net.params).backward()


CASES = {
    "sigmoid chain": lambda n: chain(n, "sigmoid"),
    "tanh chain": lambda n: chain(n, "tanh"),
    "scalar network": scalar_network,
}


def best_compile(build, n: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        sp.core.cache.clear_cache()  # a cached deep chain is compared by recursion when met again
        grad = build(n)
        start = time.perf_counter()
        grad.lambdify()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 200 only")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    chain_sizes = (50, 100, 200) if args.quick else (125, 250, 500, 1000)
    sizes = {"sigmoid chain": chain_sizes, "tanh chain": chain_sizes, "scalar network": (4, 8, 16)}
    print(f"{'graph':<16}{'n':>6}{'compile s':>11}{'ratio':>8}")
    for name, build in CASES.items():
        previous = None
        for n in sizes[name]:
            t = best_compile(build, n, args.repeats)
            ratio = f"{t / previous[1]:.2f}" if previous else "-"
            print(f"{name:<16}{n:>6}{t:>11.3f}{ratio:>8}", flush=True)
            previous = (n, t)
    t = best_compile(matrix_network, 0, args.repeats)
    print(f"{'matrix network':<16}{'-':>6}{t:>11.3f}{'-':>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
