"""A large batch split across threads: ``grad.lambdify(workers=N)``.

NumPy releases the GIL inside its ufuncs, so N threads running the same
compiled function on N parts of a batch use N cores.  The batch is cut along
the first axis of the broadcast shape of the inputs into blocks of equal size,
at most ``BLOCK`` points (per point and reduced alike), as many
for each thread, and each thread runs the function on its run of blocks, one
after the other: a block's
temporaries stay in cache and are reused from the allocator's free lists, where
whole halves of a large batch would fault fresh pages, which the threads then
wait for in turn.  An input of size 1 along that
axis (or with fewer axes, or a plain number) goes whole to every block.
The results are joined in the order of the blocks: a per-point result is
written into its rows of one output array (a constant partial broadcast first);
a reduced one (``reduce="sum"``) is summed over the blocks, and a mean
(``reduce="mean"``) is weighted by each block's number of points.  A batch of
fewer than ``MIN_POINTS`` points, or with a single row, runs in one call.

A matrix graph is refused: its loss is one number over whole matrices, and the
loss over some rows of a data matrix is not a part of it in general.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> grad = sg.gradient(sp.tanh(w * x) ** 2, wrt=[w])
>>> f = grad.lambdify(workers=2)
>>> f.args
(x, w)
>>> xs = np.linspace(-1, 1, 100_000)
>>> value, (dw,) = f(x=xs, w=0.5)
>>> bool(np.array_equal(dw, grad.lambdify()(x=xs, w=0.5)[1][0]))
True
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..errors import GraphError
from .compile import is_dask
from .values import broadcast_shape

__all__ = ["BLOCK", "MIN_POINTS", "ThreadedGradient", "threaded"]

MIN_POINTS = 20_000  # below this many points, one call is faster than threads
# Points per call within a thread: each call's temporaries stay in cache and come from
# the allocator's free lists, not from fresh pages (whose faults the threads would share).
# Fewer, longer NumPy calls also mean fewer handoffs of the GIL between the threads, each
# some 30 µs on a 2-core VM: 2**16 ran the tanh loss 1.6x on 2 threads, 2**15 1.4x;
# reduced, the network 2.0x at 2**16, 1.3x at 2**17 (its matrix products on one BLAS thread).
BLOCK = 2**16


def threaded(compiled, workers: int) -> ThreadedGradient:
    """``compiled`` running a large batch on ``workers`` threads; see :class:`ThreadedGradient`.

    Raises
    ------
    GraphError
        For a matrix graph (its loss does not split by rows).
    """
    if any(getattr(s, "is_Matrix", False) for s in compiled.args):
        raise GraphError(
            "workers > 1 splits a batch of points, but this is a matrix graph: its loss over "
            "some rows of a matrix is not a part of the whole loss; use workers=1"
        )
    return ThreadedGradient(compiled, workers)


class ThreadedGradient:
    """A compiled gradient whose large batches run on threads, part by part.

    Called as the function it wraps (by position or by name), with the same
    results; every other attribute (``args``, ``wrt``, ``source``,
    ``objective``, ``reduce``...) is the wrapped function's.

    Attributes
    ----------
    compiled : CompiledGradient
        The wrapped function, which runs each part.
    workers : int
    """

    def __init__(self, compiled, workers: int):
        self.compiled = compiled
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "compiled":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.compiled, name)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # the caller runs one part itself
            self._pool = ThreadPoolExecutor(self.workers - 1, thread_name_prefix="symgraph")
            weakref.finalize(self, self._pool.shutdown, wait=False)
        return self._pool

    def __call__(self, *args: Any, **values: Any):
        if all(type(v) is float for v in (*args, *values.values())):  # one point
            return self.compiled(*args, **values)
        ordered = self.compiled.validated(args, values)  # checked once, for every part
        shape = broadcast_shape(self.compiled.args, ordered)
        if any(map(is_dask, ordered)) or not shape or shape[0] < 2 or math.prod(shape) < MIN_POINTS:
            return self.compiled(*ordered)
        rows = shape[0]
        reduce = getattr(self.compiled, "reduce", None)
        step = max(1, BLOCK // max(1, math.prod(shape[1:])))  # rows per block at most
        threads = min(self.workers, rows)
        count = threads * -(-rows // (step * threads))  # each thread as many blocks
        edges = [rows * k // count for k in range(count + 1)]  # sizes differ by a row at most
        blocks = list(zip(edges, edges[1:], strict=False))
        runs = np.array_split(np.arange(len(blocks)), threads)
        if reduce is not None:

            def run(k: int) -> list:  # a thread's blocks, one after the other
                return [self.compiled.evaluate(*_part(ordered, shape, *blocks[j])) for j in runs[k]]

            results = [
                r
                for part in self._run([functools.partial(run, k) for k in range(len(runs))])
                for r in part
            ]
            sizes = np.diff(edges)
            weights = sizes / rows if reduce == "mean" else np.ones(len(blocks))
            return _weighted(results, weights)
        outputs: list[np.ndarray] = []
        lock = threading.Lock()

        def part(k: int) -> None:  # each thread writes its rows: the copies run side by side
            for j in runs[k]:
                a, b = blocks[j]
                results = self.compiled.results(_part(ordered, shape, a, b)[0])
                with lock:
                    if not outputs:
                        outputs.extend(np.empty(shape, _real_type(r)) for r in results)
                for out, result in zip(outputs, results, strict=True):
                    out[a:b] = result  # a constant broadcasts

        self._run([functools.partial(part, k) for k in range(len(runs))])
        return outputs[0], tuple(outputs[1:])

    def _run(self, tasks: list) -> list:
        """Every task's result, in order: the last one runs in this thread.

        BLAS runs one thread meanwhile (with the ``parallel`` extra): the
        matrix products of a reduced call each take every core otherwise, and
        N threads of them oversubscribe the machine (on 2 cores the reduced
        network ran 1.46x faster on 2 workers than on 1; 2.2x on one BLAS thread).
        """
        with _one_blas_thread():
            futures = [self._executor().submit(task) for task in tasks[:-1]]
            last = tasks[-1]()
            return [f.result() for f in futures] + [last]

    def objective(self, **data: Any):
        """The wrapped function's objective, every call of it on threads."""
        return type(self.compiled).objective(self, **data)

    def __repr__(self) -> str:
        return f"<{self.compiled!r} on {self.workers} threads>"


@functools.cache
def _blas_threads():
    """threadpoolctl's view of the loaded BLAS libraries (made once), or None without it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


_blas = {"calls": 0, "limit": None}  # threaded calls running now, and the limit they hold
_blas_lock = threading.Lock()


@contextlib.contextmanager
def _one_blas_thread():
    """BLAS on one thread while threaded calls run (process-wide, as BLAS's own setting is).

    The first call to start sets it and the last to end restores it: calls
    from several of the user's threads at once never restore it in between.
    """
    controller = _blas_threads()
    if controller is None:
        yield
        return
    with _blas_lock:
        if _blas["calls"] == 0:
            _blas["limit"] = controller.limit(limits=1, user_api="blas")
        _blas["calls"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas["calls"] -= 1
            if _blas["calls"] == 0:
                _blas["limit"].restore_original_limits()
                _blas["limit"] = None


def _part(ordered: list, shape: tuple, a: int, b: int) -> tuple[list, tuple]:
    """Rows ``a:b`` of every input that spans the first axis (the others whole), and their shape."""
    rows = shape[0]
    part = [v[a:b] if np.ndim(v) == len(shape) and np.shape(v)[0] == rows else v for v in ordered]
    return part, (b - a, *shape[1:])


def _real_type(result) -> np.dtype:
    """The dtype of a per-point result's array: its own, or float64 for an integer constant."""
    dtype = np.result_type(result)
    return dtype if dtype.kind == "f" else np.dtype(float)


def _weighted(results: list, weights: np.ndarray):
    """The reduced results of the parts joined: a sum, or a mean weighted by their sizes."""
    value = math.fsum(w * float(r[0]) for w, r in zip(weights, results, strict=True))
    partials = tuple(
        math.fsum(w * float(r[1][j]) for w, r in zip(weights, results, strict=True))
        for j in range(len(results[0][1]))
    )
    return value, partials
