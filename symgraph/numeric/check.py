"""Numeric cross-checks of a Gradient against independent oracles.

The compiled partials are compared, at random points inside the function's
domain, with

- central finite differences of the original expression,
- the complex step ``Im f(x + ih) / h`` (exact to rounding; used only where
  every operation is analytic: not across ``Abs``, ``Max``, ``Piecewise``...),
- ``sympy.diff`` of the whole expression, where that is affordable (small
  graphs: SymPy's recursion would overflow on deep ones).

A matrix gradient is checked entry by entry on small shapes (symbolic sizes
such as ``n`` get small random values): central differences of every entry
of the compiled forward pass; nothing is expanded into scalar entries.

These all run in floating point, and all cancel where the function does
(``log(1 − σ(t))`` at ``t ≈ 28``). Where one disagrees with the compiled
partials, the referee (:mod:`symgraph.numeric.check_precise`: the same graph at 50
digits) decides before a failure is reported; its row then names it in
``decided_by``, with a ``note`` saying where and which method cancelled.
A row marked ok shows no relative error above ``LARGE_ERROR`` unless the
referee could not run there (its ``note`` says why).

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..core.gradient import Gradient
from ..core.substitute import EVALUATED_DEPTH
from ..errors import CheckError, EvaluationError, NoRuleError
from .check_precise import NAME as PRECISE
from .check_precise import Referee
from .codegen import matrix_sizes
from .compile import check_shapes, compile_gradient, declared_shapes
from .forward import expressions_function, forward_function, values_in_order

# Per method: (relative tolerance, absolute tolerance relative to the scale of f).
TOLERANCES = {
    "central-difference": (1e-5, 1e-6),
    "complex-step": (1e-9, 1e-12),
    "sympy.diff": (1e-9, 1e-12),
}
RELATIVE_FLOOR = 1e-6  # partials smaller than this (times 1 + |f|) count as absolute
LARGE_ERROR = 1e-5  # a relative error beyond this is disputed even within an own error bound
SYMPY_DIFF_MAX_NODES = 300  # beyond this, sympy.diff is slow and recurses deeply
# The complex step needs analytic operations whose NumPy versions take complex
# input accurately; SciPy's special functions (gamma, erf, Bessel...) do not all.
COMPLEX_STEP_FUNCTIONS = (
    sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc,
    sp.asin, sp.acos, sp.atan, sp.acot, sp.sinh, sp.cosh, sp.tanh, sp.coth,
    sp.sech, sp.csch, sp.asinh, sp.acosh, sp.atanh, sp.acoth, sp.erf, sp.erfc,
)  # fmt: skip
SAMPLING_RANGES = ((-2.0, 2.0), (0.05, 3.0), (1.05, 5.0))
MAX_TRIES = 200


@dataclass
class CheckRow:
    """One weight: the worst errors over points and methods, and per method."""

    weight: sp.Symbol
    abs_error: float
    rel_error: float
    ok: bool
    methods: tuple[str, ...]
    per_method: dict[str, tuple[float, float, bool]] = field(default_factory=dict)
    worst: str = ""  # "analytic vs numeric" at the worst point, for failures
    decided_by: str = ""  # the referee's name where it decided disputed entries
    note: str = ""  # where and why the referee decided


@dataclass
class CheckReport:
    """The result of :func:`check`: ``.ok``, ``.max_rel_error`` and a row per weight."""

    rows: list[CheckRow]
    points: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def max_rel_error(self) -> float:
        return max((row.rel_error for row in self.rows), default=0.0)

    @property
    def max_abs_error(self) -> float:
        return max((row.abs_error for row in self.rows), default=0.0)

    def raise_if_failed(self) -> CheckReport:
        """Raise :class:`CheckError` with this report's text if a row failed."""
        if not self.ok:
            raise CheckError(str(self))
        return self

    def __str__(self) -> str:
        n = len(next(iter(self.points.values()), []))
        head = f"cross-check at {n} point{'s' * (n != 1)}: {'ok' if self.ok else 'FAILED'}"
        lines = [head, f"  {'weight':<12} {'abs error':>10} {'rel error':>10}  status  methods"]
        for r in self.rows:
            status = "ok" if r.ok else "FAIL"
            lines.append(
                f"  {str(r.weight):<12} {r.abs_error:>10.2e} {r.rel_error:>10.2e}  "
                f"{status:<6}  {', '.join(r.methods)}"
            )
            if not r.ok:
                lines.append(f"      {r.worst}")
            if r.note:
                lines.append(f"      {r.note}")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


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
        One point (symbol or name -> number); random points when omitted.
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
    if grad.graph.has_matrices:
        report = _check_matrices(grad, at, points, np.random.default_rng(seed))
        return report.raise_if_failed() if raise_on_failure else report
    f = compile_gradient(grad)
    value_of = _value_function(grad, f.args)
    if at is not None:
        args = [np.atleast_1d(np.asarray(v, dtype=float)) for v in values_in_order(f.args, at, {})]
    else:
        args = _sample_points(f, points, np.random.default_rng(seed))
    value, partials = f(*args)
    if not np.all(np.isfinite(value)) or not all(np.all(np.isfinite(p)) for p in partials):
        raise EvaluationError(f"the value or a partial is not finite at the point {at}")

    notes: list[str] = []
    oracles = {"central-difference": _central_differences(value_of, f.args, args, grad.wrt)}
    if _complex_step_applies(grad):
        oracles["complex-step"] = _complex_step(value_of, f.args, args, grad.wrt)
    else:
        notes.append(
            "complex step skipped: an operation is not analytic or has no accurate complex form"
        )
    size = grad.graph.size
    if size["nodes"] > SYMPY_DIFF_MAX_NODES or size["depth"] > EVALUATED_DEPTH:
        notes.append("sympy.diff skipped: the expression is too large or deep for SymPy")
    else:
        try:
            oracles["sympy.diff"] = _sympy_diff(grad, f.args, args)
        except NoRuleError:
            notes.append("sympy.diff skipped: SymPy leaves the derivative unevaluated")

    scale = np.broadcast_to(1.0 + np.abs(value), np.shape(value))
    columns = np.broadcast_arrays(*args)
    referee = Referee(grad, f.args, [[c[p] for c in columns] for p in range(len(columns[0]))])
    rows = [
        _row(w, np.asarray(partials[k], dtype=float), oracles, k, scale, referee, _at_point)
        for k, w in enumerate(grad.wrt)
    ]
    at_points = {s.name: np.asarray(a) for s, a in zip(f.args, args, strict=True)}
    report = CheckReport(rows, at_points, notes)
    if raise_on_failure:
        report.raise_if_failed()
    return report


def _row(weight, analytic, oracles, k, scale, referee=None, locate=None) -> CheckRow:
    """One weight's row: every method's errors; disputed entries go to the referee.

    An entry is disputed where a method disagrees beyond its tolerance, or
    agrees only by its own (wide) error bound. The referee (the graph at 50
    digits) decides those: where it finds the gradient right, the methods that
    disagreed are overruled there (they cancelled), and the row shows its error.
    Entries it cannot decide (too large, no 50-digit value) keep the methods'
    own verdicts, their error bounds included; the note says so.
    """
    judged = {}
    for method, estimates in oracles.items():
        own_error = getattr(estimates[k], "error", 0.0)
        numeric = np.asarray(estimates[k], dtype=float)
        diff = np.abs(analytic - numeric)
        size = np.maximum(np.abs(analytic), np.abs(numeric))
        rel = diff / np.maximum(size, RELATIVE_FLOOR * scale)  # no 100% of nearly nothing
        rtol, atol = TOLERANCES[method]
        allowed = atol * scale + rtol * size + own_error
        lenient = (diff <= allowed) & np.isfinite(numeric)  # the verdict without a referee
        judged[method] = (numeric, diff, rel, lenient & (rel <= LARGE_ERROR), lenient)
    disputed = np.flatnonzero(~np.all([j[3] for j in judged.values()], axis=0))
    overruled = decided = np.zeros(np.shape(analytic), dtype=bool)
    precise, note = None, ""
    if disputed.size and referee is not None:
        precise, overruled, decided, note = referee.judge(k, disputed, analytic, scale, locate)
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
    return CheckRow(
        weight=weight,
        abs_error=max(a for a, _, _ in per_method.values()),
        rel_error=max(r for _, r, _ in per_method.values()),
        ok=all(ok for _, _, ok in per_method.values()),
        methods=tuple(per_method),
        per_method=per_method,
        worst=worst_text,
        decided_by=PRECISE if precise is not None else "",
        note=note,
    )


def _at_point(j: int) -> tuple[int, int]:
    return j, 0  # a scalar weight: entry j is point j


def _value_function(grad: Gradient, args):
    """The original expression alone, generated from the graph's forward pass."""
    fn = forward_function(grad.graph, inputs=args, outputs=[grad.graph.output])
    return lambda *a: fn(*a)[0]


def _sample_points(f, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` points where the value and every partial are finite."""
    found: list[list[float]] = []
    for attempt in range(MAX_TRIES):
        low, high = SAMPLING_RANGES[attempt % len(SAMPLING_RANGES)]
        candidate = rng.uniform(low, high, size=len(f.args))
        value, partials = f(*candidate)
        if np.isfinite(value) and np.isreal(value) and all(np.isfinite(p) for p in partials):
            found.append(list(candidate))
            if len(found) == count:
                return [np.array(column) for column in zip(*found, strict=True)]
    raise EvaluationError(
        f"found only {len(found)} of {count} points inside the function's domain "
        f"after {MAX_TRIES} tries; give a point with at=..."
    )


def _central_differences(value_of, symbols, args, wrt):
    """Central differences, each with an estimate of its own error.

    The error of a central difference grows with the third derivative; the
    difference between steps h and 2h measures it (Richardson), so a steep
    function widens the tolerance by what the method itself cannot resolve.
    """
    estimates = []
    for k in _positions(symbols, wrt):
        h = np.cbrt(np.finfo(float).eps) * np.maximum(1.0, np.abs(args[k]))
        fine, coarse = (_central(value_of, args, k, step) for step in (h, 2 * h))
        estimates.append(_Estimate(fine, np.abs(coarse - fine)))
    return estimates


def _positions(symbols, wrt) -> list[int]:
    """Where each weight stands among the arguments (one dict, not a search per weight)."""
    position = {s: k for k, s in enumerate(symbols)}
    return [position[w] for w in wrt]


def _central(value_of, args, k, h):
    up = [a + h if j == k else a for j, a in enumerate(args)]
    down = [a - h if j == k else a for j, a in enumerate(args)]
    return (value_of(*up) - value_of(*down)) / (2 * h)


class _Estimate(np.ndarray):
    """A numeric estimate that carries its own error bound (``.error``)."""

    def __new__(cls, value, error):
        obj = np.asarray(value, dtype=float).view(cls)
        obj.error = np.asarray(error, dtype=float)
        return obj


def _complex_step(value_of, symbols, args, wrt):
    h = 1e-30
    estimates = []
    for k in _positions(symbols, wrt):
        shifted = [a + 1j * h if j == k else a.astype(complex) for j, a in enumerate(args)]
        estimates.append(np.imag(value_of(*shifted)) / h)
    return estimates


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


def _sympy_diff(grad: Gradient, symbols, args):
    """SymPy's own derivative of the whole expression, evaluated numerically."""
    derivatives = [sp.diff(grad.expr, w) for w in grad.wrt]
    fn = expressions_function(derivatives, symbols, name="sympy_diff")
    return [np.broadcast_to(v, np.shape(args[0])) for v in fn(*args)]


# --- matrix gradients ---

MATRIX_SIZES = (2, 3)  # the values a symbolic size (n, d, h) takes when sampling
MATRIX_RANGES = ((-1.0, 1.0), (0.05, 1.0))  # alternated when a draw is outside the domain
MAX_DIFFERENCED = 64  # entries of one weight differenced per point (a seeded sample beyond)


def _check_matrices(grad: Gradient, at, points: int, rng: np.random.Generator) -> CheckReport:
    """Entrywise central differences of the compiled forward pass, refereed at 50 digits.

    Nothing is expanded into scalar entries symbolically: the cost is two
    forward passes per entry, and the referee's only where a difference is disputed.
    """
    f = compile_gradient(grad)
    if at is not None:
        given = values_in_order(f.args, at, {})
        samples = [check_shapes(f.args, given, declared_shapes(f.args))]  # lists, flat vectors
        results = [f(*samples[0])]
        if not _finite(*results[0]):
            raise EvaluationError("the value or a partial is not finite at the given point")
    else:
        samples, results = _sample_matrices(f, points, rng)
    forward = _value_function(grad, f.args)  # the forward pass alone, no gradient lines

    def value_of(*point):
        return float(np.asarray(forward(*point), dtype=float).reshape(()))  # 1×1: a number

    positions = _positions(f.args, grad.wrt)
    # per point and weight, the entries differenced: all, or a seeded sample of a large weight
    chosen = [[_chosen_entries(np.size(sample[k]), rng) for k in positions] for sample in samples]
    per_point = [
        _entry_differences(value_of, sample, positions, entries)
        for sample, entries in zip(samples, chosen, strict=True)
    ]
    oracles = {"central-difference": _concatenate(per_point)}
    referee = Referee(grad, f.args, samples)
    rows = []
    for k, w in enumerate(grad.wrt):
        where = [(p, int(i)) for p, entries in enumerate(chosen) for i in entries[k]]
        analytic = np.array([np.ravel(results[p][1][k])[i] for p, i in where], dtype=float)
        scale = np.array([1.0 + abs(float(results[p][0])) for p, _ in where])
        rows.append(_row(w, analytic, oracles, k, scale, referee, where.__getitem__))
    stacked = {s.name: np.array([sample[i] for sample in samples]) for i, s in enumerate(f.args)}
    sampled = any(
        len(e) < np.size(samples[0][k]) for e, k in zip(chosen[0], positions, strict=True)
    )
    notes = [f"at most {MAX_DIFFERENCED} entries of each weight differenced per point"] * sampled
    return CheckReport(rows, stacked, notes)


def _chosen_entries(size: int, rng: np.random.Generator) -> np.ndarray:
    """Every entry, or a seeded sample of MAX_DIFFERENCED of them: two passes per entry."""
    if size <= MAX_DIFFERENCED:
        return np.arange(size)
    return np.sort(rng.choice(size, MAX_DIFFERENCED, replace=False))


def _finite(value, partials) -> bool:
    return bool(np.all(np.isfinite(value))) and all(np.all(np.isfinite(p)) for p in partials)


def _sample_matrices(f, count: int, rng: np.random.Generator):
    """``count`` samples (one draw of the sizes) where the value and every partial are finite."""
    sizes = {d: int(rng.choice(MATRIX_SIZES)) for d in matrix_sizes(f.args)}
    samples, results = [], []
    for attempt in range(MAX_TRIES):
        low, high = MATRIX_RANGES[attempt % len(MATRIX_RANGES)]
        sample = []
        for a in f.args:
            shape = tuple(int(sizes.get(d, d)) for d in getattr(a, "shape", ()))
            sample.append(
                rng.uniform(low, high, size=shape) if shape else float(rng.uniform(low, high))
            )
        result = f(*sample)
        if _finite(*result):
            samples.append(sample)
            results.append(result)
            if len(samples) == count:
                return samples, results
    raise EvaluationError(
        f"found only {len(samples)} of {count} points inside the function's domain "
        f"after {MAX_TRIES} tries; give a point with at=..."
    )


def _entry_differences(value_of, sample, positions, entries) -> list:
    """Central differences of the chosen entries of every weight (with Richardson error)."""
    estimates = []
    for k, chosen in zip(positions, entries, strict=True):
        base = np.asarray(sample[k], dtype=float)
        fine, error = np.zeros(len(chosen)), np.zeros(len(chosen))
        for n, i in enumerate(chosen):
            h = np.cbrt(np.finfo(float).eps) * max(1.0, abs(base.flat[i]))
            one, two = (_entry_central(value_of, sample, k, i, step) for step in (h, 2 * h))
            fine[n], error[n] = one, abs(two - one)
        estimates.append(_Estimate(fine, error))
    return estimates


def _entry_central(value_of, sample, k, i, h):
    def shifted(step):
        moved = np.array(sample[k], dtype=float)
        moved.flat[i] += step
        return value_of(*[moved if j == k else a for j, a in enumerate(sample)])

    return (shifted(h) - shifted(-h)) / (2 * h)


def _concatenate(per_point: list[list]) -> list:
    """Per weight, the estimates of all points in one flat array (errors kept)."""
    joined = []
    for k in range(len(per_point[0])):
        parts = [point[k] for point in per_point]
        errors = [np.broadcast_to(getattr(p, "error", 0.0), np.shape(p)) for p in parts]
        joined.append(_Estimate(np.concatenate(parts), np.concatenate(errors)))
    return joined


__all__ = ["CheckReport", "CheckRow", "check"]
