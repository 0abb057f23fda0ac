"""Simplification of closed forms: shorter, never different, within one time budget.

Strategies
----------
``"fast"`` (default)
    Per closed form, try cheap rewrites (pulling out shared factors with
    ``factor_terms``, ``powsimp``), then ``cancel`` and ``factor`` for small
    rational parts (no sum raised to a power above ``RATIONAL_MAX_POWER``: ``cancel``
    would expand it), and keep the shortest by operation count.
``"thorough"``
    The fast candidates, then ``sympy.simplify`` of each closed form.

The budget
----------
One wall-clock budget, in seconds, holds for the whole call, whatever the
strategy (``DEFAULT_BUDGET`` unless given).  The work runs in a child process
in stages (the cheap rewrites of every closed form, then the rational ones,
then ``sympy.simplify``), sending back each improvement as soon as it is found;
when the budget is spent the child is stopped and every closed form keeps the
best form found so far, its original one at worst.  SymPy's rewriters cannot be
interrupted otherwise.  (Without ``os.fork``, on Windows, the stages run in this
process and the deadline is checked between them.)

Workers
-------
With ``workers=N`` the closed forms are simplified side by side on a pool of N
processes (``concurrent.futures.ProcessPoolExecutor``, started by ``forkserver``
or ``spawn``, never by ``fork`` from a process that may run threads).  Each
closed form is simplified on its own, so the work splits by weight: one task per
weight and stage, the cheap stage of every weight queued first.  Each
improvement counts as soon as its task returns; at the deadline, queued tasks
are dropped and the running ones killed with their processes, so the budget
holds as in the serial call.  The result is the serial one, form for form,
whenever the budget suffices.  The pool is started at the first call (a second
or more, counted in the budget) and kept for later calls while none is killed;
a script calling this must guard its top level with
``if __name__ == "__main__":``, as every process pool needs.  Building the
closed forms stays serial: they are folded once across all weights, sharing
their parts.  Closed forms whose functions cannot be pickled are simplified
serially.

Left alone: closed forms larger than ``FAST_MAX_NODES`` tree nodes (when all are
far larger, they are not even built: see ``Gradient.estimated_shapes``) or deeper
than SymPy's rewriters can recurse (the graph's sharing serves them better when
compiled), and closed forms holding matrices (SymPy's simplifiers are scalar;
backpropagation's matrix form is kept).

Every candidate is accepted only when it is shorter *and* numerically equal to
the original at random points: a simplification never changes a value.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w = sp.Symbol("w", real=True)
>>> grad = sg.gradient(w / (1 + w), wrt=[w])
>>> grad[w]
-w/(w + 1)**2 + 1/(w + 1)
>>> grad.simplify()[w]
(w + 1)**(-2)
>>> grad.simplify(budget=0)[w]  # no time at all: unchanged
-w/(w + 1)**2 + 1/(w + 1)
"""

from __future__ import annotations

import math
import multiprocessing as mp
import numbers
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection

import numpy as np
import sympy as sp

from ..core.collector import paused_collector
from ..core.gradient import SIMPLIFY_BUDGET, Gradient
from ..core.sizes import tree_shape
from ..core.substitute import EVALUATED_DEPTH, contains, unevaluated
from ..errors import GraphError
from .forward import expressions_function

STRATEGIES = ("fast", "thorough")
DEFAULT_BUDGET = SIMPLIFY_BUDGET  # seconds for one whole call: the default of Gradient.simplify
FAST_MAX_NODES = 3000
EQUALITY_POINTS = 8
# cancel/factor go through a rational normal form, exponential in nesting: small, shallow forms only
RATIONAL_MAX_NODES, RATIONAL_MAX_DEPTH, RATIONAL_MAX_POWER = 150, 15, 12

__all__ = [
    "DEFAULT_BUDGET",
    "STRATEGIES",
    "check_budget",
    "operation_count",
    "same_values",
    "simplify_gradient",
    "tree_shape",
]


def operation_count(expr: sp.Basic) -> int:
    """SymPy's ``count_ops`` (what "shorter" means here)."""
    return int(sp.count_ops(expr))


def check_budget(budget: object) -> float:
    """``budget`` as seconds: a finite number >= 0, or a GraphError saying what to give.

    >>> check_budget(2)
    2.0
    >>> check_budget(-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: the simplification budget must be ... >= 0, not -1.0; give ...
    """
    fix = f"give seconds such as budget={DEFAULT_BUDGET}"
    if isinstance(budget, sp.Basic) and budget.is_Number:
        try:
            budget = float(budget)
        except TypeError:  # zoo
            budget = math.nan
    if isinstance(budget, bool) or not isinstance(budget, numbers.Real):
        shown = repr(budget) if len(repr(budget)) <= 40 else repr(budget)[:40] + "..."
        raise GraphError(
            f"the simplification budget must be a number of seconds, not "
            f"{type(budget).__name__} {shown}; {fix}"
        )
    try:
        seconds = float(budget)
    except OverflowError:
        raise GraphError(f"the simplification budget is too large to be seconds; {fix}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise GraphError(
            f"the simplification budget must be a finite number of seconds >= 0, not {seconds}; "
            f"{fix}"
        )
    return seconds


@paused_collector
def simplify_gradient(
    grad: Gradient,
    strategy: str = "fast",
    budget: float = DEFAULT_BUDGET,
    progress: bool = False,
    workers: int = 1,
) -> Gradient:
    """A new Gradient whose closed forms are simplified; see the module docstring.

    Parameters
    ----------
    grad : Gradient
    strategy : {"fast", "thorough"}
    budget : float
        Seconds of wall-clock time for the whole call (0: change nothing).
    progress : bool
        Print a line to stderr as each closed form is done.
    workers : int
        Processes simplifying closed forms side by side (see "Workers" above).

    Raises
    ------
    GraphError
        For an unknown strategy, a budget that is not a finite number >= 0, or
        a worker count that is not a whole number >= 1.
    """
    if strategy not in STRATEGIES:
        raise GraphError(
            f"unknown strategy {str(strategy)[:40]!r}; choose one of {', '.join(STRATEGIES)}"
        )
    seconds = check_budget(budget)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GraphError(f"workers must be a whole number >= 1, got {str(workers)[:40]}")
    deadline = time.monotonic() + seconds
    cap = 10 * FAST_MAX_NODES  # the estimate ignores SymPy's merging of terms: a margin
    if all(size > cap for size, _ in grad.estimated_shapes(cap).values()):
        # far too big, every one: not even built (a product of 500 factors has 250000 terms)
        if progress:
            print("simplify: every closed form is too big to simplify; kept", file=sys.stderr)
        return grad  # unchanged: compiled from its graph, never from closed forms built in full
    closed = grad.closed_forms()
    symbols = sorted(
        (s for s in grad.graph.leaves if not isinstance(s, sp.MatrixSymbol)), key=lambda s: s.name
    )
    jobs = {k: e for k, e in enumerate(closed.values()) if _simplifiable(e)}
    best = list(closed.values())
    names = [f"∂{grad.output}/∂{w}" for w in closed]
    finished = set(range(len(best))) - set(jobs)
    if jobs and seconds > 0:
        if workers > 1 and len(jobs) > 1 and _pickles(jobs, symbols):
            found = _in_processes(jobs, symbols, strategy, deadline, workers)
        else:
            found = _received(_within(_stages(jobs, symbols, strategy), deadline))
        for k, form, last in found:
            if form is not None:
                best[k] = form
            if last:
                finished.add(k)
                if progress:
                    print(f"simplified {len(finished)}/{len(best)}: {names[k]}", file=sys.stderr)
    if progress and len(finished) < len(best):
        left = ", ".join(names[k] for k in range(len(best)) if k not in finished)
        message = f"simplify: the budget of {seconds:g} s is spent; kept as found: {left}"
        print(message, file=sys.stderr)
    simplified = dict(zip(closed, best, strict=True))
    return Gradient(grad.graph, grad.equations, grad.adjoints, simplified, simplified=strategy)


def _simplifiable(expr: sp.Basic) -> bool:
    if getattr(expr, "is_Matrix", False) or contains(expr, sp.MatrixExpr):
        return False
    size, depth = tree_shape(expr, FAST_MAX_NODES)
    return size <= FAST_MAX_NODES and depth <= EVALUATED_DEPTH  # SymPy recurses every level


def _rewrites(strategy: str) -> list[Callable]:
    """The stages, cheapest first."""
    return [_cheap, _rational, _thorough] if strategy == "thorough" else [_cheap, _rational]


def _stages(jobs: dict[int, sp.Basic], symbols, strategy: str) -> Iterator[tuple]:
    """(index, a better form or None, whether this closed form is done), cheapest work first."""
    current = {k: (e, operation_count(e)) for k, e in jobs.items()}
    rewrites = _rewrites(strategy)
    for stage, rewrite in enumerate(rewrites, start=1):
        last = stage == len(rewrites)
        for k, original in jobs.items():
            found = _improved(rewrite, original, current[k], symbols)
            if found:
                current[k] = found
            yield k, found[0] if found else None, last


def _improved(rewrite: Callable, original: sp.Basic, current: tuple, symbols) -> tuple | None:
    """(form, count) of the best candidate shorter than ``current`` and equal in value, or None."""
    found = None
    for candidate in _attempt(rewrite, current[0]):
        count = operation_count(candidate)
        if count < current[1] and _agrees(original, candidate, symbols):
            current = found = candidate, count
    return found


def _thorough(expr: sp.Basic) -> list[sp.Basic]:
    return [sp.simplify(expr)]


def _cheap(expr: sp.Basic) -> list[sp.Basic]:
    shared = sp.factor_terms(expr)
    return [shared, sp.powsimp(shared)]


def _rational(expr: sp.Basic) -> list[sp.Basic]:
    size, depth = tree_shape(expr, RATIONAL_MAX_NODES)
    if size > RATIONAL_MAX_NODES or depth > RATIONAL_MAX_DEPTH or _high_power(expr):
        return []
    rational = sp.cancel(expr)
    return [sp.factor_terms(rational), sp.factor(rational)]


def _high_power(expr: sp.Basic) -> bool:
    """A sum raised to a power above ``RATIONAL_MAX_POWER``: cancel would expand it."""
    return any(
        p.base.is_Add and p.exp.is_Integer and abs(p.exp) > RATIONAL_MAX_POWER
        for p in expr.atoms(sp.Pow)
    )


def _attempt(rewrite: Callable, expr: sp.Basic) -> list[sp.Basic]:
    try:
        return rewrite(expr)
    except Exception:  # noqa: BLE001 - SymPy may refuse (or recurse too deep): the form found stands
        return []


def _agrees(original: sp.Basic, candidate: sp.Basic, symbols) -> bool:
    try:
        return same_values(original, candidate, symbols)
    except Exception:  # noqa: BLE001 - a candidate that cannot be evaluated is not taken
        return False


def same_values(a: sp.Basic, b: sp.Basic, symbols, seed: int = 0) -> bool:
    """Whether ``a`` and ``b`` agree at random points where ``a`` is finite."""
    fn = expressions_function([a, b], symbols)
    rng = np.random.default_rng(seed)
    columns = [
        np.concatenate([rng.uniform(-2, 2, EQUALITY_POINTS), rng.uniform(0.05, 3, EQUALITY_POINTS)])
        for _ in symbols
    ]
    with np.errstate(all="ignore"):
        va, vb = (np.broadcast_to(v, (2 * EQUALITY_POINTS,)) for v in fn(*columns))
    usable = np.isfinite(va) & np.isreal(va)
    if not usable.any():
        return False  # nothing to compare: keep the original
    va, vb = va[usable], vb[usable]
    return bool(np.allclose(va, vb, rtol=1e-9, atol=1e-12 * (1 + np.max(np.abs(va)))))


# --- the budget: a child process stopped at the deadline ------------------------------

_DONE = "done"


def _within(results: Iterator[tuple], deadline: float) -> Iterator[tuple]:
    """The items of ``results`` (computed in a forked child) that arrive before ``deadline``.

    ``os.fork`` itself rather than ``multiprocessing``, which refuses to start a
    child from a daemonic process (a worker of a ``multiprocessing.Pool``).  JAX,
    once used, warns at every fork that its threads may hold locks: the child
    runs SymPy only, never JAX, so that warning is silenced here.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: checked between items only
        for item in results:
            yield item
            if time.monotonic() > deadline:
                return
        return
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            _send_all(results, Connection(write_end, readable=False))
        finally:
            os._exit(0)  # never return into the caller's code (or a test runner's)
    os.close(write_end)
    receive = Connection(read_end, writable=False)
    try:
        while receive.poll(max(0.0, deadline - time.monotonic())):
            try:
                item = receive.recv()
            except EOFError:  # the child died (out of memory, killed): what came stands
                return
            if item == _DONE:
                return
            yield item
    finally:
        receive.close()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - already gone
            pass
        os.waitpid(pid, 0)


def _received(items: Iterator[tuple]) -> Iterator[tuple]:
    """(index, form or None, last) from what the child sent, each form rebuilt and verified."""
    for k, sent, last in items:
        form = None if sent is None else _rebuilt(sent[0])
        yield k, form if form is not None and hash(form) == sent[1] else None, last


def _send_all(results: Iterator[tuple], conn: Connection) -> None:  # pragma: no cover - child
    try:
        for k, form, last in results:
            try:
                sent = None if form is None else (_flattened(form), hash(form))
                conn.send((k, sent, last))
            except Exception:  # noqa: BLE001 - a form that does not pickle: not sent
                conn.send((k, None, last))
        conn.send(_DONE)
    except BaseException:  # noqa: BLE001, B036 - the parent keeps what it has
        pass
    finally:
        conn.close()


def _flattened(expr: sp.Basic) -> list[tuple]:
    """``expr`` as a list, children first: atoms, and (class, argument indices).

    A pickled SymPy expression is rebuilt *evaluated* (``1 + exp(-(b + w*x))``
    comes back as ``1 + exp(-b - w*x)``), which would undo the rewrite; this
    list is rebuilt exactly as it was (:func:`_rebuilt`).
    """
    index: dict[sp.Basic, int] = {}
    items: list[tuple] = []
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in index:
            continue
        if not e.args:
            index[e] = len(items)
            items.append((None, e))
        elif ready:
            index[e] = len(items)
            items.append((e.func, [index[a] for a in e.args]))
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in index)
    return items


def _rebuilt(items: list[tuple]) -> sp.Basic:
    built: list[sp.Basic] = []
    for func, body in items:
        built.append(body if func is None else unevaluated(func, [built[i] for i in body]))
    return built[-1]


# --- workers: a pool of processes, one task per weight and stage -----------------------

_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> ProcessPoolExecutor:
    """The pool of ``workers`` processes, started once and kept (one pool at a time)."""
    if workers not in _POOLS:
        for old in _POOLS.values():
            old.shutdown(wait=False, cancel_futures=True)
        _POOLS.clear()
        method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        _POOLS[workers] = ProcessPoolExecutor(workers, mp_context=mp.get_context(method))
    return _POOLS[workers]


def _stop(workers: int) -> None:
    """Kill the pool's processes in the middle of their work (the budget is spent)."""
    pool = _POOLS.pop(workers)
    kill = getattr(pool, "kill_workers", None)  # Python 3.14
    if kill is not None:  # pragma: no cover - newer Pythons
        kill()
    else:  # earlier: the executor's own table of its processes
        for process in list((pool._processes or {}).values()):
            process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


def _pickles(jobs: dict[int, sp.Basic], symbols) -> bool:
    """Whether every closed form can be sent to another process (else: serial)."""
    try:
        pickle.dumps(([_flattened(e) for e in jobs.values()], symbols))
    except Exception:  # noqa: BLE001 - a function class defined where no process can import it
        return False
    return True


def _in_processes(jobs, symbols, strategy: str, deadline: float, workers: int) -> Iterator[tuple]:
    """What :func:`_stages` yields, computed by weight on a process pool before ``deadline``.

    A weight's next stage is queued when its previous one returns, after every
    weight's first stage: the serial order of the work, spread over the workers.
    At the deadline, tasks still queued are dropped and running ones killed.
    """
    pool = _pool(workers)
    stages = len(_rewrites(strategy))
    original = {k: _flattened(e) for k, e in jobs.items()}
    current = dict(original)

    def submit(k: int, stage: int):
        return pool.submit(_stage_task, k, stage, strategy, original[k], current[k], symbols)

    pending = {submit(k, 0) for k in jobs}
    try:
        while pending:
            left = max(0.0, deadline - time.monotonic())
            done, pending = wait(pending, timeout=left, return_when=FIRST_COMPLETED)
            if not done:
                break  # out of time: each weight keeps what it has
            for future in done:
                k, stage, items = future.result()
                if items is not None:
                    current[k] = items
                last = stage == stages - 1
                yield k, None if items is None else _rebuilt(items), last
                if not last:
                    pending.add(submit(k, stage + 1))
    except BrokenProcessPool:  # a worker died (out of memory, killed): what came stands
        _POOLS.pop(workers, None)
    finally:
        for future in pending:
            future.cancel()
        if any(future.running() for future in pending):
            _stop(workers)


def _stage_task(k: int, stage: int, strategy: str, original_items, current_items, symbols):
    """In a worker: one stage of one weight -> ``(k, stage, the better form flattened or None)``.

    The worker's SymPy cache stays warm from task to task, as in the serial child.
    """
    original, current = _rebuilt(original_items), _rebuilt(current_items)
    rewrite = _rewrites(strategy)[stage]
    found = _improved(rewrite, original, (current, operation_count(current)), symbols)
    if found is None:
        return k, stage, None
    items = _flattened(found[0])
    return k, stage, items if _rebuilt(items) == found[0] else None
