"""Numeric cross-checks of a Gradient against independent oracles.

The compiled partials are compared, at random points inside the function's
domain, with

- central finite differences of the original expression,
- the complex step ``Im f(x + ih) / h`` (exact to rounding; used only where
  every operation is analytic: not across ``Abs``, ``Max``, ``Piecewise``...),
- ``sympy.diff`` of the whole expression, where that is affordable (small
  graphs: SymPy's recursion would overflow on deep ones).

Every shape goes through the same code: a point is a list of argument values
(numbers, or arrays for matrix symbols), a weight's partial is compared entry
by entry, and a scalar weight is the 1×1 case, one entry per point. Matrix
gradients are checked on small shapes (symbolic sizes such as ``n`` get small
random values) by central differences of the compiled forward pass; nothing
is expanded into scalar entries. The complex step and ``sympy.diff``
differentiate scalar expressions, so they join only for scalar graphs.

Up to ``PER_ENTRY_MAX`` weight entries in all, each is differenced on its
own: two evaluations per entry. Beyond, every weight is checked at once along
a few random directions ``v`` (:mod:`symgraph.numeric.check_directions`):
``∇f·v`` from the compiled partials against each method's derivative along
``v``, a few evaluations per direction however many weights there are; only
where a direction disagrees is the wrong weight found, by bisection, and its
entries checked one by one as above. The report's notes say so.

These all run in floating point, and all cancel where the function does
(``log(1 − σ(t))`` at ``t ≈ 28``). Where one disagrees with the compiled
partials, the referee (:mod:`symgraph.numeric.check_precise`: the same graph at 50
digits) decides before a failure is reported; its row then names it in
``decided_by``, with a ``note`` saying where and which method cancelled.
A row marked ok shows no relative error above ``LARGE_ERROR`` unless the
referee could not run there (its ``note`` says why) or, along directions, the
methods' own error bounds decided (the report's notes say how often).

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> report = check(sg.gradient(sp.log(w**2 + x), wrt=[w]), seed=1)
>>> report.ok
True
>>> [row.methods for row in report.rows]
[('central-difference', 'complex-step', 'sympy.diff')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..core.sizes import tree_shape
from ..core.substitute import EVALUATED_DEPTH
from ..errors import EvaluationError, NoRuleError
from .check_directions import (
    DIRECTIONS,
    STEP,
    TOLERANCES,
    Layout,
    Screen,
    central_difference,
    complex_step,
    judge,
    random_direction,
    screened_note,
)
from .check_precise import NAME as PRECISE
from .check_precise import Referee
from .check_report import CheckReport, CheckRow
from .codegen import matrix_sizes
from .compile import check_shapes, compile_gradient, declared_shapes
from .forward import expressions_function, forward_function, values_in_order
from .values import broadcast_shape

SYMPY_DIFF_MAX_NODES = 300  # beyond this, sympy.diff is slow and recurses deeply
# ...and beyond this many nodes of the expression as a tree (shared parts counted at each
# use, as SymPy walks them): a few named steps can hold a tree of 2**40 nodes
SYMPY_DIFF_MAX_TREE = 5_000
# The complex step needs analytic operations whose NumPy versions take complex
# input accurately; SciPy's special functions (gamma, erf, Bessel...) do not all.
COMPLEX_STEP_FUNCTIONS = (
    sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc,
    sp.asin, sp.acos, sp.atan, sp.acot, sp.sinh, sp.cosh, sp.tanh, sp.coth,
    sp.sech, sp.csch, sp.asinh, sp.acosh, sp.atanh, sp.acoth, sp.erf, sp.erfc,
)  # fmt: skip
# Where sampled values are drawn, alternated when a draw is outside the domain;
# matrix entries stay smaller, as a product of n of them grows with n.
SAMPLING_RANGES = ((-2.0, 2.0), (0.05, 3.0), (1.05, 5.0))
MATRIX_RANGES = ((-1.0, 1.0), (0.05, 1.0))
MATRIX_SIZES = (2, 3)  # the values a symbolic size (n, d, h) takes when sampling
MAX_TRIES = 200
MAX_DIFFERENCED = 64  # entries of one weight differenced per point (a seeded sample beyond)
PER_ENTRY_MAX = 32  # weight entries in all up to which each is differenced; beyond, directions


@paused_collector
def check(
    grad: Gradient,
    at: Mapping[Any, Any] | None = None,
    points: int = 3,
    seed: int | None = 0,
    raise_on_failure: bool = False,
) -> CheckReport:
    """Compare the compiled partials of ``grad`` with numeric and symbolic oracles.

    Parameters
    ----------
    grad : Gradient
    at : mapping, optional
        One point (symbol or name -> number, or array for a matrix symbol);
        random points when omitted. In a graph of scalars, vectors of numbers
        give one point per entry.
    points : int
        How many random points (inside the domain: points where the value or a
        partial is not finite are drawn again).
    seed : int or None
        Seed of the random points (the same seed, the same points).
    raise_on_failure : bool
        Raise :class:`CheckError` instead of returning a failed report.

    Returns
    -------
    CheckReport
        A row per weight: the worst errors per method; where floating-point
        methods disagreed, the 50-digit referee's verdict (``decided_by``).

    Raises
    ------
    EvaluationError
        When no point inside the function's domain could be found.
    """
    f = compile_gradient(grad)
    rng = np.random.default_rng(seed)
    if at is None:
        ranges = MATRIX_RANGES if grad.graph.has_matrices else SAMPLING_RANGES
        samples, results = _sample_points(f, points, rng, ranges)
    else:
        samples, results = _given_points(f, at)
    position = {s: k for k, s in enumerate(f.args)}
    positions = [position[w] for w in grad.wrt]
    oracles, along, notes = _oracles(grad, f.args, positions)
    referee = Referee(grad, f.args, samples)

    def entry_row(n, where):
        """Weight ``n``'s row from its partial's entries at ``where``, (point, entry) pairs."""
        analytic = np.array([np.ravel(results[p][1][n])[i] for p, i in where], dtype=float)
        scale = np.array([1.0 + abs(float(results[p][0])) for p, _ in where])
        estimates = {
            method: np.array([oracle(samples[p], n, i) for p, i in where], dtype=float).T
            for method, oracle in oracles.items()
        }
        return _row(grad.wrt[n], n, analytic, estimates, scale, referee, where.__getitem__)

    layout = Layout([np.shape(samples[0][k]) for k in positions])
    if layout.total <= PER_ENTRY_MAX:
        rows = _rows_per_entry(samples, positions, rng, entry_row, notes)
    else:
        directional = (layout, positions, along, entry_row)
        rows = _rows_along_directions(grad.wrt, samples, results, rng, directional)
        notes += rows.pop()
    stacked = {s.name: np.array([point[k] for point in samples]) for k, s in enumerate(f.args)}
    report = CheckReport(rows, stacked, notes)
    return report.raise_if_failed() if raise_on_failure else report


def _rows_per_entry(samples, positions, rng, entry_row, notes) -> list[CheckRow]:
    """A row per weight from every entry (or a seeded sample of a large weight's) at every point."""
    chosen = [[_chosen_entries(np.size(point[k]), rng) for k in positions] for point in samples]
    rows = [
        entry_row(n, [(p, int(i)) for p, entries in enumerate(chosen) for i in entries[n]])
        for n in range(len(positions))
    ]
    if any(len(e) < np.size(samples[0][k]) for e, k in zip(chosen[0], positions, strict=True)):
        notes.append(f"at most {MAX_DIFFERENCED} entries of each weight differenced per point")
    return rows


def _rows_along_directions(wrt, samples, results, rng, directional) -> list:
    """A row per weight from ``DIRECTIONS`` random directions per point, then the notes.

    See :mod:`symgraph.numeric.check_directions`: a weight's row holds the
    errors of the directional derivatives that include it, merged with the
    per-entry rows of its entries where a direction disagreed.
    """
    layout, positions, along, entry_row = directional
    entry_rows: dict[int, list[CheckRow]] = {}

    def verify(n, p, i):
        entry_rows.setdefault(n, []).append(entry_row(n, [(p, i)]))
        return entry_rows[n][-1].ok

    def estimate(p, vector):
        return along(samples[p], layout.moves(vector, positions), vector)

    partials = [layout.flat(partials) for _, partials in results]
    scales = [1.0 + abs(float(value)) for value, _ in results]
    screen = Screen(layout, estimate, partials, scales, verify)
    for p, point in enumerate(samples):
        weights = layout.flat([point[k] for k in positions])
        for _ in range(DIRECTIONS):
            screen.run(p, random_direction(weights, rng))
    rows: list = []
    for n, shape in enumerate(layout.shapes):
        parts = list(entry_rows.get(n, []))
        if screen.vouched[n]:
            per_method = {m: (a, r, True) for m, (a, r) in screen.vouched[n].items()}
            parts.append(_summary(wrt[n], per_method))
        if (
            n in screen.undecided
        ):  # disagreeing beyond what was localized: its own error bound decides
            comparison = screen.undecided[n]
            per_method = {m: (j[1], j[2], j[4]) for m, j in comparison.judged.items()}
            count = int(np.prod(shape, dtype=int))
            parts.append(_summary(wrt[n], per_method, comparison.worst(count)))
        rows.append(_merged(parts))
    return [*rows, screened_note(layout, screen, DIRECTIONS, len(samples))]


def _summary(weight, per_method: dict, worst: str = "") -> CheckRow:
    """A row from its methods' ``(abs, rel, ok)``: the worst of each, ok if all are."""
    return CheckRow(
        weight=weight,
        abs_error=max(a for a, _, _ in per_method.values()),
        rel_error=max(r for _, r, _ in per_method.values()),
        ok=all(ok for _, _, ok in per_method.values()),
        methods=tuple(per_method),
        per_method=per_method,
        worst=worst,
    )


def _merged(parts: list[CheckRow]) -> CheckRow:
    """One weight's rows (per-entry ones, directional ones) as one: the worst of each."""
    per_method: dict[str, tuple[float, float, bool]] = {}
    for part in parts:
        for method, (a, r, ok) in part.per_method.items():
            a0, r0, ok0 = per_method.get(method, (0.0, 0.0, True))
            per_method[method] = (max(a0, a), max(r0, r), ok0 and ok)
    order = [*TOLERANCES, PRECISE]  # the methods in the per-entry check's order
    per_method = {m: per_method[m] for m in sorted(per_method, key=order.index)}
    failed = [part for part in parts if not part.ok]
    merged = _summary(parts[0].weight, per_method, (failed or parts)[0].worst)
    merged.decided_by = next((part.decided_by for part in parts if part.decided_by), "")
    merged.note = "; ".join(part.note for part in parts if part.note)
    return merged


def _row(weight, n, analytic, estimates, scale, referee, locate) -> CheckRow:
    """One weight's row: every method's errors; disputed entries go to the referee.

    ``estimates`` holds per method the estimates of the entries and their own
    error bounds. An entry is disputed where a method disagrees beyond its
    tolerance, or agrees only by its own (wide) error bound. The referee (the
    graph at 50 digits) decides those: where it finds the gradient right, the
    methods that disagreed are overruled there (they cancelled), and the row
    shows its error. Entries it cannot decide (too large, no 50-digit value)
    keep the methods' own verdicts, their error bounds included; the note says so.
    """
    judged = {}
    for method, (numeric, own_error) in estimates.items():
        diff, rel, agrees, lenient = judge(method, analytic, numeric, own_error, scale)
        judged[method] = (numeric, diff, rel, agrees, lenient)
    disputed = np.flatnonzero(~np.all([j[3] for j in judged.values()], axis=0))
    overruled = decided = np.zeros(np.shape(analytic), dtype=bool)
    precise, note = None, ""
    if disputed.size:
        precise, overruled, decided, note = referee.judge(n, disputed, analytic, scale, locate)
        cancelled = [m for m, j in judged.items() if np.any(overruled & ~j[3])]
        verb = "cancels" if len(cancelled) == 1 else "cancel"
        note = note.replace("CANCELLED", f"{', '.join(cancelled)} {verb}")
    per_method: dict[str, tuple[float, float, bool]] = {}
    worst_rel, worst_text = -1.0, ""
    for method, (numeric, diff, rel, agrees, lenient) in judged.items():
        keep = ~(overruled & ~agrees)  # where it was overruled, its estimate cancelled
        agrees = np.where(decided, agrees, lenient)  # undecided: its own error bound excuses
        if not keep.any():
            continue  # overruled at every entry: named in the note
        per_method[method] = (
            float(np.max(diff[keep])),
            float(np.max(rel[keep])),
            bool(np.all(agrees[keep])),
        )
        i = int(np.argmax(np.where(keep, rel, -1.0)))
        if not per_method[method][2] or rel[i] > worst_rel:
            worst_rel = float(rel[i])
            worst_text = f"{method}: analytic {analytic[i]!r} vs numeric {numeric[i]!r}"
    if precise is not None:
        per_method[PRECISE] = precise[:3]
        if not precise[2]:
            worst_text = precise[3]
    row = _summary(weight, per_method, worst_text)
    row.decided_by, row.note = (PRECISE if precise is not None else ""), note
    return row


def _sample_points(f, count: int, rng: np.random.Generator, ranges):
    """``count`` points where the value and every partial are finite, and the results there.

    Symbolic sizes are drawn once: every point has the same shapes.
    """
    sizes = {d: int(rng.choice(MATRIX_SIZES)) for d in matrix_sizes(f.args)}
    shapes = [tuple(int(sizes.get(d, d)) for d in getattr(a, "shape", ())) for a in f.args]
    samples, results = [], []
    for attempt in range(MAX_TRIES):
        low, high = ranges[attempt % len(ranges)]
        point = [rng.uniform(low, high, size=shape or None) for shape in shapes]  # None: a float
        result = f(*point)
        if _inside(*result):
            samples.append(point)
            results.append(result)
            if len(samples) == count:
                return samples, results
    raise EvaluationError(
        f"found only {len(samples)} of {count} points inside the function's domain "
        f"after {MAX_TRIES} tries; give a point with at=..."
    )


def _given_points(f, at):
    """The points of ``at`` and the results there: one, or one per entry of scalar vectors.

    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x")
    >>> f = compile_gradient(sg.gradient(w * x, wrt=[w]))
    >>> [[float(v) for v in point] for point in _given_points(f, {"w": [1, 2], "x": 3})[0]]
    [[3.0, 1.0], [3.0, 2.0]]
    """
    given = values_in_order(f.args, at, {})
    shapes = declared_shapes(f.args)
    if any(shapes.values()):  # a matrix argument: ``at`` is one point, flat vectors as columns
        samples = [check_shapes(f.args, given, shapes)]
    else:
        shape = broadcast_shape(f.args, given)  # raises naming the arguments that disagree
        columns = [np.broadcast_to(np.asarray(v, dtype=float), shape).ravel() for v in given]
        samples = [list(point) for point in zip(*columns, strict=True)]
    results = [f(*point) for point in samples]
    if not all(_inside(*result) for result in results):
        raise EvaluationError(f"the value or a partial is not finite at the point {at}")
    return samples, results


def _inside(value, partials) -> bool:
    """Inside the function's domain: a real, finite value and finite partials."""
    finite = np.all(np.isfinite(value)) and all(np.all(np.isfinite(p)) for p in partials)
    return bool(finite and np.all(np.isreal(value)))


def _chosen_entries(size: int, rng: np.random.Generator) -> np.ndarray:
    """Every entry, or a seeded sample of MAX_DIFFERENCED of them: two passes per entry."""
    if size <= MAX_DIFFERENCED:
        return np.arange(size)
    return np.sort(rng.choice(size, MAX_DIFFERENCED, replace=False))


def _oracles(grad: Gradient, args, positions) -> tuple[dict, Any, list[str]]:
    """The methods that estimate partials, the same along a direction, and notes.

    Each method is ``estimate(point, n, i) -> (value, own error bound)`` for
    entry ``i`` of the partial by weight ``grad.wrt[n]``; ``positions[n]`` is
    that weight's place among ``args``. ``along(point, moves, vector)`` gives
    every method's derivative along a direction; notes say which do not apply.
    """
    fn = forward_function(grad.graph, inputs=args, outputs=[grad.graph.output])

    def unit(point, k, i):
        """Entry ``i`` of argument ``k`` alone moved (a 1×1: the number)."""
        move = np.zeros(np.shape(point[k]))
        move.flat[i] = 1.0
        return {k: move}

    def central(point, n, i):
        k = positions[n]
        h = STEP * max(1.0, abs(np.ravel(point[k])[i]))
        return central_difference(fn, point, unit(point, k, i), h)

    def complex_entry(point, n, i):
        return complex_step(fn, point, unit(point, positions[n], i))

    def along(point, moves, vector):
        """Per method the derivative along ``moves`` (``vector``: the same, flat)."""
        estimates = {"central-difference": central_difference(fn, point, moves, STEP)}
        if "complex-step" in oracles:
            estimates["complex-step"] = complex_step(fn, point, moves)
        if "sympy.diff" in oracles:  # every partial at once, dotted with the direction
            estimates["sympy.diff"] = (float(np.dot(sympy_diff(*point), vector)), 0.0)
        return estimates

    oracles = {"central-difference": central}
    if grad.graph.has_matrices:  # the other two differentiate scalar expressions only
        return oracles, along, []
    notes = []
    if _complex_step_applies(grad):
        oracles["complex-step"] = complex_entry
    else:
        notes.append(
            "complex step skipped: an operation is not analytic or has no accurate complex form"
        )
    size = grad.graph.size
    tree, levels = tree_shape(grad.expr, limit=SYMPY_DIFF_MAX_TREE)
    too_big = size["nodes"] > SYMPY_DIFF_MAX_NODES or tree > SYMPY_DIFF_MAX_TREE
    if too_big or max(size["depth"], levels) > EVALUATED_DEPTH:  # a deep node: deep expression
        notes.append("sympy.diff skipped: the expression is too large or deep for SymPy")
    else:
        try:
            derivatives = [sp.diff(grad.expr, w) for w in grad.wrt]
            sympy_diff = expressions_function(derivatives, args, name="sympy_diff")
            oracles["sympy.diff"] = lambda point, n, i: (sympy_diff(*point)[n], 0.0)
        except NoRuleError:
            notes.append("sympy.diff skipped: SymPy leaves the derivative unevaluated")

    return oracles, along, notes


def _complex_step_applies(grad: Gradient) -> bool:
    """Every operation analytic, with an accurate complex NumPy version."""
    for _, data in grad.graph.nx.nodes(data=True):
        op = data["op"]
        if op is None:
            continue
        if op.has(sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction):
            return False
        calls = op.atoms(sp.core.function.Application)
        if any(not isinstance(call, COMPLEX_STEP_FUNCTIONS) for call in calls):
            return False
    return True


__all__ = ["CheckReport", "CheckRow", "check"]
