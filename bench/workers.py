"""Benchmark: one compiled gradient on 1, 2 threads, and on a local Dask cluster.

Run from the repository root::

    python bench/workers.py            # 10**6 points, best of 3
    python bench/workers.py --quick    # 2*10**5 points, best of 2, no cluster

Two problems over one batch of points, per-point results (``reduce=None``) and
the batch's sum (``reduce="sum"``):

- ``tanh``: the scalar loss ``(tanh(w*x + b) - y)**2``, 2 weights;
- ``network``: bench/run.py's one-hidden-layer network, 8 inputs, 18 hidden
  units (181 weights): per point, 182 results of 8 bytes each.

Times are the best of the repeats, in seconds, the two calls measured in turn
(a call shorter than 1/3 s gets as many rounds as fit in a second); the ratio
is workers=1 / workers=2 (above 1: the threads are faster).  The load average
of the machine is printed with the table: threads share the cores with
whatever else runs.  The cluster
part runs the per-point ``tanh`` call on a ``LocalCluster`` of 2 worker
processes (one thread each) over 4 chunks, against the NumPy call in this process
(the data are made and kept on the workers; the cluster's start is not timed).
"""

from __future__ import annotations

import argparse
import os
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Network  # noqa: E402 - the network of bench/run.py


def problems():
    w, b, x, y = sp.symbols("w b x y", real=True)
    yield "tanh", sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w, b])
    loss, weights = Network(8, 18).build()
    yield "network", sg.gradient(loss, wrt=weights)


def batch(f, points: int, rng) -> dict:
    weights = set(f.wrt)
    return {
        s.name: float(rng.normal(scale=0.3)) if s in weights else rng.normal(size=points)
        for s in f.args
    }


def best(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_pair(first, second, repeats: int, budget: float = 1.0) -> tuple[float, float]:
    """The best times of two calls measured in turn, round after round.

    A slow spell of the machine falls on both alike; a short call gets more
    rounds (as many as fit in ``budget`` seconds, at least ``repeats``): the
    best of 3 runs of a 10 ms call was mostly the machine's noise.
    """
    once = best(first, 1) + best(second, 1)
    rounds = max(repeats, min(200, int(budget / max(once, 1e-6))))
    times: tuple[list, list] = ([], [])
    for _ in range(rounds):
        for call, kept in zip((first, second), times, strict=True):
            kept.append(best(call, 1))
    return min(times[0]), min(times[1])


def threads_table(points: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    print(f"threads, {points:,} points, best of {repeats} or more; load {_load()}")
    print(f"{'problem':<10}{'reduce':<8}{'workers=1':>11}{'workers=2':>11}{'ratio':>8}")
    for name, grad in problems():
        for reduce in (None, "sum"):
            one, two = grad.lambdify(reduce=reduce), grad.lambdify(reduce=reduce, workers=2)
            values = batch(one, points, rng)
            a, c = one(**values), two(**values)
            assert np.allclose(a[0], c[0]) and all(
                np.allclose(p, q) for p, q in zip(a[1], c[1], strict=True)
            )
            del a, c
            t1, t2 = best_of_pair(
                lambda f=one, v=values: f(**v), lambda f=two, v=values: f(**v), repeats
            )
            print(f"{name:<10}{str(reduce):<8}{t1:>11.3f}{t2:>11.3f}{t1 / t2:>8.2f}")
    hand_threads_table(points, repeats)
    print(f"load after: {_load()}")


def tanh_by_hand(x, y, w: float, b: float, out=None):
    """The tanh loss's value and 2 partials, written by hand in NumPy (into ``out``)."""
    t = np.tanh(w * x + b)
    r = t - y
    d = 2 * r * (1 - t * t)
    results = (r * r, d * x, d)
    if out is None:
        return results
    for o, v in zip(out, results, strict=True):
        o[...] = v
    return out


def hand_threads_table(points: int, repeats: int) -> None:
    """The ceiling of NumPy threads on this machine: the tanh loss by hand, 1 and 2 threads.

    The 2-thread version is the one any NumPy program would write: each thread
    runs its half in blocks of ``BLOCK`` points (cache-sized), writing into the
    rows of fresh output arrays, as ``workers=2`` does.
    """
    from concurrent.futures import ThreadPoolExecutor

    from symgraph.numeric.parallel import BLOCK

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=points), rng.normal(size=points)
    pool = ThreadPoolExecutor(1)

    def half(out, lo: int, hi: int) -> None:
        for a in range(lo, hi, BLOCK):
            b = min(a + BLOCK, hi)
            tanh_by_hand(x[a:b], y[a:b], 0.3, 0.1, [o[a:b] for o in out])

    def two_threads():
        out = [np.empty(points) for _ in range(3)]
        job = pool.submit(half, out, 0, points // 2)
        half(out, points // 2, points)
        job.result()
        return out

    assert all(
        np.allclose(p, q) for p, q in zip(two_threads(), tanh_by_hand(x, y, 0.3, 0.1), strict=True)
    )
    t1, t2 = best_of_pair(lambda: tanh_by_hand(x, y, 0.3, 0.1), two_threads, repeats)
    pool.shutdown()
    print(f"{'tanh, by hand':<18}{t1:>11.3f}{t2:>11.3f}{t1 / t2:>8.2f}")


def cluster_table(points: int, repeats: int) -> None:
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    name, grad = next(problems())
    f = grad.lambdify()
    rng = da.random.default_rng(1)
    with (
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        lazy = {  # made on the workers and kept there: only the call is timed
            s.name: 0.3
            if s in f.wrt
            else client.persist(rng.normal(size=points, chunks=points // 4))
            for s in f.args
        }
        values = {k: np.asarray(v) if np.ndim(v) else v for k, v in lazy.items()}

        def on_cluster():
            value, partials = f(**lazy)
            return client.compute([value, *partials], sync=True)

        assert np.allclose(on_cluster()[1], f(**values)[1][0])
        t_numpy = best(lambda: f(**values), repeats)
        t_cluster = best(on_cluster, repeats)
    print(f"\ncluster ({name}, 4 chunks, 2 processes), {points:,} points; load {_load()}")
    print(f"{'numpy':>10}{'cluster':>10}{'ratio':>8}")
    print(f"{t_numpy:>10.3f}{t_cluster:>10.3f}{t_numpy / t_cluster:>8.2f}")


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    points, repeats = (200_000, 2) if args.quick else (1_000_000, 3)
    threads_table(points, repeats)
    if not args.quick:
        cluster_table(points, repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
