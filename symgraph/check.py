"""Numeric cross-checks of a Gradient against independent oracles.

The compiled partials are compared, at random points inside the function's
domain, with

- central finite differences of the original expression,
- the complex step ``Im f(x + ih) / h`` (exact to rounding; used only where
  every operation is analytic: not across ``Abs``, ``Max``, ``Piecewise``...),
- ``sympy.diff`` of the whole expression, where that is affordable (small
  graphs: SymPy's recursion would overflow on deep ones).

A matrix gradient is checked entry by entry on small shapes (symbolic sizes
such as ``n`` get small random values): central differences of every entry,
and the scalar core on the expression expanded into its entries.

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

from .api import gradient
from .codegen import matrix_sizes
from .compile import check_shapes, compile_gradient, declared_shapes
from .errors import CheckError, EvaluationError, NoRuleError
from .forward import expressions_function, forward_function, values_in_order
from .gradient import Gradient
from .matfuncs import evaluate_explicit
from .substitute import EVALUATED_DEPTH

# Per method: (relative tolerance, absolute tolerance relative to the scale of f).
TOLERANCES = {
    "central-difference": (1e-5, 1e-6),
    "complex-step": (1e-9, 1e-12),
    "sympy.diff": (1e-9, 1e-12),
    "scalar core (expanded)": (1e-9, 1e-12),
}
RELATIVE_FLOOR = 1e-6  # partials smaller than this (times 1 + |f|) count as absolute
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

    scale = 1.0 + np.abs(value)
    rows = [
        _row(w, np.asarray(partials[k], dtype=float), oracles, k, scale)
        for k, w in enumerate(grad.wrt)
    ]
    at_points = {s.name: np.asarray(a) for s, a in zip(f.args, args, strict=True)}
    report = CheckReport(rows, at_points, notes)
    if raise_on_failure:
        report.raise_if_failed()
    return report


def _row(weight, analytic, oracles, k, scale) -> CheckRow:
    per_method: dict[str, tuple[float, float, bool]] = {}
    worst_rel, worst_text = -1.0, ""
    for method, estimates in oracles.items():
        own_error = getattr(estimates[k], "error", 0.0)
        numeric = np.asarray(estimates[k], dtype=float)
        diff = np.abs(analytic - numeric)
        size = np.maximum(np.abs(analytic), np.abs(numeric))
        rel = diff / np.maximum(size, RELATIVE_FLOOR * scale)  # no 100% of nearly nothing
        rtol, atol = TOLERANCES[method]
        allowed = atol * scale + rtol * size + own_error
        ok = bool(np.all(diff <= allowed)) and bool(np.all(np.isfinite(numeric)))
        per_method[method] = (float(np.max(diff)), float(np.max(rel)), ok)
        i = int(np.argmax(rel))
        if not ok or rel[i] > worst_rel:
            worst_rel = float(rel[i])
            worst_text = f"{method}: analytic {analytic[i]!r} vs numeric {numeric[i]!r}"
    return CheckRow(
        weight=weight,
        abs_error=max(a for a, _, _ in per_method.values()),
        rel_error=max(r for _, r, _ in per_method.values()),
        ok=all(ok for _, _, ok in per_method.values()),
        methods=tuple(per_method),
        per_method=per_method,
        worst=worst_text,
    )


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

EXPANDED_MAX_ENTRIES = 150  # the scalar core on expanded shapes, up to this many leaf entries
MATRIX_SIZES = (2, 3)  # the values a symbolic size (n, d, h) takes when sampling


def _check_matrices(grad: Gradient, at, points: int, rng: np.random.Generator) -> CheckReport:
    f = compile_gradient(grad)
    if at is not None:
        given = values_in_order(f.args, at, {})
        samples = [check_shapes(f.args, given, declared_shapes(f.args))]  # lists, flat vectors
    else:
        sizes = {d: int(rng.choice(MATRIX_SIZES)) for d in matrix_sizes(f.args)}
        samples = [_sample_matrices(f.args, sizes, rng) for _ in range(points)]
    results = [f(*sample) for sample in samples]
    for value, partials in results:
        if not np.isfinite(value) or not all(np.all(np.isfinite(p)) for p in partials):
            raise EvaluationError("the value or a partial is not finite at the sampled point")
    forward = _value_function(grad, f.args)  # the forward pass alone, no gradient lines

    def value_of(*point):
        return float(np.asarray(forward(*point), dtype=float).reshape(()))  # 1×1: a number

    positions = _positions(f.args, grad.wrt)
    per_point = [_entry_differences(value_of, sample, positions) for sample in samples]
    oracles = {"central-difference": _concatenate(per_point)}
    notes: list[str] = []
    shapes = [[np.shape(a) for a in sample] for sample in samples]
    size = grad.graph.size
    if size["nodes"] > SYMPY_DIFF_MAX_NODES or size["depth"] > EVALUATED_DEPTH:
        notes.append("scalar core skipped: the expression is too large or deep to expand")
    elif all(sum(int(np.prod(s)) for s in shape) <= EXPANDED_MAX_ENTRIES for shape in shapes):
        evaluate = _expanded_core(grad, f.args, samples[0])  # one build for every sample
        oracles["scalar core (expanded)"] = _concatenate([evaluate(s) for s in samples])
    else:
        notes.append("scalar core skipped: too many entries to expand")
    rows = []
    for k, w in enumerate(grad.wrt):
        analytic = np.concatenate([np.ravel(partials[k]) for _, partials in results])
        scale = np.concatenate(
            [np.full(np.size(partials[k]), 1.0 + abs(value)) for value, partials in results]
        )
        rows.append(_row(w, analytic, oracles, k, scale))
    stacked = {s.name: np.array([sample[i] for sample in samples]) for i, s in enumerate(f.args)}
    return CheckReport(rows, stacked, notes)


def _sample_matrices(args, sizes, rng) -> list:
    sample = []
    for a in args:
        shape = tuple(int(sizes.get(d, d)) for d in getattr(a, "shape", ()))
        sample.append(rng.uniform(-1.0, 1.0, size=shape) if shape else float(rng.uniform(-1, 1)))
    return sample


def _entry_differences(value_of, sample, positions) -> list:
    """Central differences of every entry of every weight (with Richardson error)."""
    estimates = []
    for k in positions:
        base = np.asarray(sample[k], dtype=float)
        fine, error = np.zeros(base.size), np.zeros(base.size)
        for i in range(base.size):
            h = np.cbrt(np.finfo(float).eps) * max(1.0, abs(base.flat[i]))
            one, two = (_entry_central(value_of, sample, k, i, step) for step in (h, 2 * h))
            fine[i], error[i] = one, abs(two - one)
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


def _expanded_core(grad: Gradient, args, sample):
    """The scalar core's gradient of the expression written out entry by entry.

    Built once for the sample's shapes (every sample of a check has the same
    ones); returns ``evaluate(sample)`` -> per weight, its partials, flat.
    """
    sizes: dict[sp.Symbol, int] = {}
    for a, value in zip(args, sample, strict=True):
        for d, n in zip(getattr(a, "shape", ()), np.shape(value), strict=False):
            if isinstance(d, sp.Symbol):
                sizes[d] = n
    entries, explicit = {}, {}
    for a, value in zip(args, sample, strict=True):
        if not isinstance(a, sp.MatrixSymbol):
            entries[a] = [a]
            continue
        rows, cols = np.shape(value)
        names = (f"{a.name}[{i},{j}]" for i in range(rows) for j in range(cols))
        entries[a] = [sp.Symbol(name, real=True) for name in names]
        explicit[a.xreplace(sizes)] = sp.ImmutableMatrix(rows, cols, entries[a])
    scalar = evaluate_explicit(grad.expr.xreplace(sizes).xreplace(explicit))
    if getattr(scalar, "is_Matrix", False):
        scalar = scalar[0, 0]
    f = gradient(scalar, wrt=[s for w in grad.wrt for s in entries[w]]).lambdify()

    def evaluate(point) -> list:
        values = {}
        for a, value in zip(args, point, strict=True):
            pairs = zip(entries[a], np.ravel(value), strict=True)  # a scalar: one entry
            values.update((s.name, float(v)) for s, v in pairs)
        _, partials = f(**values)
        flat, start = [], 0
        for w in grad.wrt:
            count = len(entries[w])
            flat.append(np.array([float(p) for p in partials[start : start + count]]))
            start += count
        return flat

    return evaluate
