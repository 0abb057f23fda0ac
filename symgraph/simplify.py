"""Simplification of closed forms: shorter, never different.

Strategies
----------
``"fast"`` (default)
    Per closed form, try cheap rewrites (pulling out shared factors with
    ``factor_terms``, ``cancel`` for rational parts, ``powsimp``) and keep the
    shortest by operation count.  Expressions larger than ``FAST_MAX_NODES``
    tree nodes are left alone: their size is better handled by the graph's own
    sharing when compiled.
``"thorough"``
    The fast candidates plus ``sympy.simplify``, run in a child process with a
    time budget per expression; past the budget the fast result stands.

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
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable

import numpy as np
import sympy as sp

from .errors import GraphError
from .forward import expressions_function
from .gradient import Gradient
from .substitute import EVALUATED_DEPTH

STRATEGIES = ("fast", "thorough")
FAST_MAX_NODES = 3000
EQUALITY_POINTS = 8


def tree_shape(expr: sp.Basic, limit: int | None = None) -> tuple[int, int]:
    """(number of nodes, depth) of ``expr`` as a tree, without recursion.

    Counting stops past ``limit`` nodes (the size returned is then ``limit + 1``).
    """
    count, depth, stack = 0, 0, [(expr, 1)]
    while stack:
        e, level = stack.pop()
        count += 1
        depth = max(depth, level)
        if limit is not None and count > limit:
            break
        stack.extend((a, level + 1) for a in e.args)
    return count, depth


def operation_count(expr: sp.Basic) -> int:
    """SymPy's ``count_ops`` (what "shorter" means here)."""
    return int(sp.count_ops(expr))


# cancel/factor go through a rational normal form, exponential in nesting: small, shallow forms only
RATIONAL_MAX_NODES, RATIONAL_MAX_DEPTH = 150, 15


def _fast_candidates(expr: sp.Basic, size: int, depth: int) -> list[sp.Basic]:
    shared = sp.factor_terms(expr)
    candidates = [shared, sp.powsimp(shared)]
    if size <= RATIONAL_MAX_NODES and depth <= RATIONAL_MAX_DEPTH:
        rational = sp.cancel(expr)
        candidates += [sp.factor_terms(rational), sp.factor(rational)]
    return candidates


def simplify_gradient(
    grad: Gradient, strategy: str = "fast", budget: float = 5.0, progress: bool = False
) -> Gradient:
    """A new Gradient whose closed forms are simplified; see the module docstring."""
    if strategy not in STRATEGIES:
        raise GraphError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    closed = grad.closed_forms()
    symbols = sorted(grad.graph.leaves, key=lambda s: s.name)
    simplified = {}
    for k, (w, expr) in enumerate(closed.items(), start=1):
        if progress:
            print(f"simplifying {k}/{len(closed)}: d{grad.output}/d{w}", file=sys.stderr)
        simplified[w] = _simplify_one(expr, symbols, strategy, budget)
    return Gradient(grad.graph, grad.equations, grad.adjoints, simplified, simplified=strategy)


def _simplify_one(expr, symbols, strategy: str, budget: float) -> sp.Basic:
    if getattr(expr, "is_Matrix", False):
        return expr  # SymPy's simplifiers are scalar; backprop's matrix form is kept
    size, depth = tree_shape(expr, FAST_MAX_NODES)
    if size > FAST_MAX_NODES or depth > EVALUATED_DEPTH:
        return expr  # SymPy's rewriters recurse through every level
    try:
        candidates = _fast_candidates(expr, size, depth)
    except RecursionError:  # pragma: no cover - the depth bound keeps clear of it
        return expr
    if strategy == "thorough":
        slow = _with_time_limit(sp.simplify, expr, budget)
        if slow is not None:
            candidates.append(slow)
    best, best_count = expr, operation_count(expr)
    for candidate in candidates:
        count = operation_count(candidate)
        if count < best_count and same_values(expr, candidate, symbols):
            best, best_count = candidate, count
    return best


def same_values(a: sp.Basic, b: sp.Basic, symbols, seed: int = 0) -> bool:
    """Whether ``a`` and ``b`` agree at random points where ``a`` is finite."""
    fn = expressions_function([a, b], symbols)
    rng = np.random.default_rng(seed)
    columns = [
        np.concatenate([rng.uniform(-2, 2, EQUALITY_POINTS), rng.uniform(0.05, 3, EQUALITY_POINTS)])
        for _ in symbols
    ]
    va, vb = (np.broadcast_to(v, (2 * EQUALITY_POINTS,)) for v in fn(*columns))
    usable = np.isfinite(va) & np.isreal(va)
    if not usable.any():
        return False  # nothing to compare: keep the original
    va, vb = va[usable], vb[usable]
    return bool(np.allclose(va, vb, rtol=1e-9, atol=1e-12 * (1 + np.max(np.abs(va)))))


def _run_in_child(fn: Callable, expr, conn) -> None:  # pragma: no cover - in the child
    try:
        conn.send(fn(expr))
    except Exception:  # noqa: BLE001 - the parent keeps the fast result
        conn.send(None)
    finally:
        conn.close()


def _with_time_limit(fn: Callable, expr: sp.Basic, seconds: float):
    """``fn(expr)`` in a child process; None when it takes longer than ``seconds``."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run_in_child, args=(fn, expr, send), daemon=True)
    child.start()
    send.close()
    result = receive.recv() if receive.poll(seconds) else None
    child.terminate()
    child.join()
    return result
