"""The referee of the cross-check: the same graph evaluated in arbitrary precision.

Central differences, the complex step and ``sympy.diff`` all run in floating
point, and all cancel where the function does: ``log(1 − σ(t))`` at ``t ≈ 28``
rounds ``σ(t)`` to a double that keeps four digits of ``1 − σ(t)``, and the
differences come out as exactly 0.  When they disagree with the compiled
partials, :class:`Referee` decides, at 50 digits, with SymPy's ``evalf``
(mpmath underneath; no generated source):

- the reference: central differences of the graph's forward assignments,
  every node evaluated at 60 working digits (step ``10⁻¹⁶``: the truncation
  and rounding errors are both below ``10⁻³⁰``);
- the formula: the gradient's own lines (δ-equations, or the simplified
  closed forms) evaluated the same way: a wrong rule shows here;
- the rounding the compiled function can explain: the formula evaluated again
  with every node's value perturbed by one unit of double rounding (each
  generated line stores a double), the spread of the results.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> import symgraph as sg
>>> from symgraph.numeric.lines import argument_order
>>> w, x = sp.symbols("w x", real=True)
>>> grad = sg.gradient(sp.log(1 - 1 / (1 + sp.exp(-w * x))), wrt=[w])
>>> args = argument_order(grad)  # x, then w
>>> referee = Referee(grad, args, [[28.0, 1.0]])
>>> verdict = referee.decide(0, [(0, 0)])[0]
>>> round(verdict.reference, 9), verdict.formula_agrees
(-28.0, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from ..core.gradient import Gradient
from ..core.graph import forward_assignments
from ..errors import EvaluationError
from ..rules.matfuncs import evaluate_explicit
from .codegen import ZeroSafeProduct
from .lines import compiled_lines

DIGITS = 50  # the digits the reference is trusted to
WORKING_DIGITS = DIGITS + 10
STEP = sp.Float(10) ** -16  # relative step of the precise central difference
UNIT_ROUNDOFF = 2.0**-53  # a double's relative rounding: how far each line can be off
PERTURBED_RUNS = 3
# The compiled partial may be off by what rounding explains, times this margin (a
# node's line rounds more than once; three random runs underestimate the worst case).
ROUNDING_MARGIN = 30.0
FORMULA_TOLERANCE = (1e-12, 1e-15)  # (relative, absolute per unit of 1 + |f|), at 50 digits
FLOAT_TOLERANCE = (1e-9, 1e-12)  # the compiled double against the 50-digit reference
MAX_DECIDED = 40  # disputed entries the referee decides per weight
MAX_ENTRIES = 1000  # leaf entries at a point beyond which the referee is not run
NAME = f"mpmath ({DIGITS} digits)"
_RELATIVE_FLOOR = 1e-6  # as in the check: partials below this (times 1 + |f|) are absolute


class PreciseUnavailable(EvaluationError):
    """A line of the graph has no arbitrary-precision value (an unevaluated function...)."""


@dataclass
class Verdict:
    """The referee's findings at one entry of one weight's partial."""

    reference: float  # ∂f/∂w by central differences at 50 digits
    formula: float  # the gradient's formula at 50 digits
    spread: float  # how far double rounding moves the formula
    formula_agrees: bool  # the formula matches the reference: the rules are right
    float_agrees: bool  # the compiled value is within rounding of the reference


class Referee:
    """Decides disputed partials: ``decide(weight_index, [(point, entry), ...])``.

    Parameters
    ----------
    grad : Gradient
    args : sequence of Symbol
        The compiled function's arguments, in order.
    points : sequence
        Per point, the value of every argument (a float, or a 2-D array for a
        matrix symbol), in the order of ``args``.
    seed : int
        Seed of the rounding perturbations.
    """

    def __init__(self, grad: Gradient, args: Sequence[sp.Basic], points, seed: int = 0):
        self.grad, self.args, self.points = grad, list(args), list(points)
        self.rng = np.random.default_rng(seed)
        self._cache: dict[int, tuple] = {}
        self._lines: tuple[_Lines, _Lines] | None = None  # built on the first dispute

    @property
    def forward(self) -> _Lines:
        return self._built()[0]

    @property
    def formula(self) -> _Lines:
        return self._built()[1]

    def _built(self) -> tuple[_Lines, _Lines]:
        if self._lines is None:
            graph = self.grad.graph
            forward = _Lines(forward_assignments(graph, needed_only=True), [graph.output])
            self._lines = (forward, _Lines(*_partial_lines(self.grad)))
        return self._lines

    def decide(self, k: int, entries, compiled=None, scale=None) -> list[Verdict | str]:
        """A :class:`Verdict` per ``(point, entry)`` of weight ``grad.wrt[k]``, or why not.

        ``compiled`` (the compiled partials there) and ``scale`` (``1 + |f|``)
        set ``float_agrees``; without them it is True.
        """
        verdicts: list[Verdict | str] = []
        for j, (p, i) in enumerate(entries):
            try:
                verdicts.append(self._verdict(k, p, i, _at(compiled, j), _at(scale, j)))
            except (PreciseUnavailable, TypeError, ValueError, ZeroDivisionError) as err:
                verdicts.append(_short(str(err), 160))
        return verdicts

    def judge(self, k, disputed, analytic, scale, locate):
        """The verdict on the flat entries ``disputed`` of weight ``k``, for a check's row.

        ``locate(j)`` gives the ``(point, entry)`` of flat entry ``j``. Returns
        ``(abs, rel, ok, worst)`` for this method (None if it could evaluate
        nothing), the mask of the entries where it overrules the float methods
        (the gradient is right there), the mask of those it decided at all, and
        a note for the row.
        """
        overruled = np.zeros(np.shape(analytic), dtype=bool)
        decided = overruled.copy()
        errors, worst, lost, unavailable, notes = [], "", 0.0, "", []
        entries = max(sum(int(np.size(v)) for v in point) for point in self.points)
        if entries > MAX_ENTRIES:  # SymPy numbers: a 60×60 product is seconds
            why = f"{NAME} not run: {entries} entries at a point (at most {MAX_ENTRIES})"
            return None, overruled, decided, why
        for count, j in enumerate(disputed):
            if count == MAX_DECIDED:  # bounded: each entry costs two 50-digit forward passes
                notes.append(f"{NAME} decided {count} of {len(disputed)} disputed entries")
                break
            (verdict,) = self.decide(k, [locate(int(j))], [analytic[j]], [scale[j]])
            if isinstance(verdict, str):
                unavailable = verdict
                continue
            decided[j] = True
            floor = _RELATIVE_FLOOR * scale[j]
            reference, compiled = verdict.reference, float(analytic[j])
            diff = abs(verdict.formula - reference)
            ok = verdict.formula_agrees and verdict.float_agrees
            if ok:
                overruled[j] = True
                lost = max(lost, abs(compiled - reference) / max(abs(reference), floor))
            else:
                diff = max(diff, abs(compiled - reference))
                worst = (
                    f"{NAME}: analytic {compiled!r} vs numeric {reference!r} "
                    f"(the formula at {DIGITS} digits: {verdict.formula!r})"
                )
            errors.append((diff, diff / max(abs(reference), floor), ok))
            if not ok:
                break  # one confirmed error fails the row: no need to decide the rest
        if overruled.any():
            points = len({locate(int(j))[0] for j in np.flatnonzero(overruled)})
            notes.append(
                f"decided by {NAME} at {points} point{'s' * (points != 1)}, where CANCELLED"
            )
        if lost > FLOAT_TOLERANCE[0]:
            notes.append(
                f"the compiled partial there is off by {lost:.1e} (relative): "
                "double rounding in a correct formula"
            )
        if unavailable:
            notes.append(f"{NAME} could not decide: {unavailable}")
        if not errors:
            return None, overruled, decided, "; ".join(notes)
        summary = (
            max(e[0] for e in errors),
            max(e[1] for e in errors),
            all(e[2] for e in errors),
            worst,
        )
        return summary, overruled, decided, "; ".join(notes)

    def _verdict(self, k, p, i, compiled, scale) -> Verdict:
        leaves, sizes = self._leaves(p)
        formula, spread = self._formula(p, leaves, sizes)
        weight = self.grad.wrt[k]
        reference = self._difference(leaves, sizes, weight, i)
        a, s = formula[k][i], spread[k][i]
        scale = 1.0 + abs(float(self.forward.run(leaves, sizes)[0])) if scale is None else scale
        rtol, atol = FORMULA_TOLERANCE
        agrees = abs(a - reference) <= rtol * max(abs(a), abs(reference)) + atol * scale
        float_agrees = True
        if compiled is not None:
            rtol, atol = FLOAT_TOLERANCE
            allowed = rtol * abs(reference) + atol * scale + ROUNDING_MARGIN * s
            float_agrees = bool(abs(float(compiled) - float(reference)) <= allowed)
        return Verdict(float(reference), float(a), float(s), bool(agrees), float_agrees)

    def _leaves(self, p):
        """The point's values as SymPy numbers (exactly the doubles), and the sizes."""
        leaves, sizes = {}, {}
        for a, value in zip(self.args, self.points[p], strict=True):
            if isinstance(a, sp.MatrixSymbol):
                array = np.atleast_2d(np.asarray(value, dtype=float))
                for d, n in zip(a.shape, array.shape, strict=True):
                    if isinstance(d, sp.Symbol):
                        sizes[d] = sp.Integer(n)
                leaves[a] = sp.ImmutableMatrix(array.shape[0], array.shape[1], _floats(array))
            else:
                leaves[a] = sp.Float(
                    float(np.asarray(value, dtype=float).reshape(())), WORKING_DIGITS
                )
        return leaves, sizes

    def _formula(self, p, leaves, sizes):
        """Each weight's partial at 50 digits, and its spread under double rounding."""
        if p not in self._cache:
            exact = [_array(v) for v in self.formula.run(leaves, sizes)]
            spread = [np.zeros(np.shape(v)) for v in exact]
            for _ in range(PERTURBED_RUNS):
                moved = self.formula.run(leaves, sizes, self._perturb)
                for s, e, m in zip(spread, exact, moved, strict=True):
                    np.maximum(s, np.abs(_array(m) - e).astype(float), out=s)
            self._cache[p] = (exact, spread)
        return self._cache[p]

    def _perturb(self, value):
        if isinstance(value, sp.MatrixBase):
            return value.applyfunc(self._perturb)
        if isinstance(value, sp.Float):
            return value * (1 + sp.Float(self.rng.uniform(-1, 1) * UNIT_ROUNDOFF, WORKING_DIGITS))
        return value

    def _difference(self, leaves, sizes, weight, i) -> sp.Float:
        value = leaves[weight]
        x = _entry(value, i)
        h = STEP * max(1, abs(x))

        def shifted(step):
            moved = dict(leaves)
            if isinstance(value, sp.MatrixBase):
                entries = list(value)
                entries[i] = x + step
                moved[weight] = sp.ImmutableMatrix(value.rows, value.cols, entries)
            else:
                moved[weight] = x + step
            return _number(self.forward.run(moved, sizes)[0])

        return (shifted(h) - shifted(-h)) / (2 * h)


def _partial_lines(grad: Gradient) -> tuple[list, list]:
    """The lines the compiled partials come from, as compile_gradient runs them."""
    lines, outputs = compiled_lines(grad)
    return lines, outputs[1:]  # the value comes first


class _Lines:
    """Straight-line assignments evaluated with SymPy numbers at working precision."""

    def __init__(self, assignments, outputs):
        self.lines = [(lhs, rhs, tuple(rhs.free_symbols)) for lhs, rhs in assignments]
        self.outputs = list(outputs)

    def run(self, leaves, sizes, perturb=None) -> list:
        values = dict(leaves)
        for lhs, rhs, free in self.lines:
            known = {s: values[s] for s in free if s in values}
            value = _evaluate(rhs.xreplace({**sizes, **known}))
            values[lhs] = perturb(value) if perturb is not None else value
        return [_value(values, out, sizes) for out in self.outputs]


def _value(values, out, sizes):
    if out in values:
        return values[out]
    return _evaluate(_sympify(out).xreplace(sizes))  # an output that is a constant (0)


def _evaluate(expr: sp.Basic):
    if expr.has(ZeroSafeProduct):  # 0 where the adjoint is 0, as compiled
        expr = expr.replace(
            lambda e: isinstance(e, ZeroSafeProduct),
            lambda e: sp.S.Zero if e.args[0] == 0 else e.args[0] * e.args[1],
        )
    if expr.has(sp.MatrixExpr):
        expr = expr.doit()  # explicit operands: products, inverses... evaluated directly
        if expr.has(sp.MatrixExpr) and not _explicit(expr):
            expr = evaluate_explicit(expr)  # what doit leaves: OneMatrix, c*Matrix, ...
    value = expr.evalf(WORKING_DIGITS)
    if isinstance(value, sp.MatrixBase):
        if value.shape == (1, 1) and not getattr(expr, "is_Matrix", False):
            value = value[0, 0]
        else:
            return value.applyfunc(_real)
    return _real(value)


def _explicit(expr) -> bool:
    return isinstance(expr, sp.MatrixBase)


def _real(value):
    if getattr(value, "is_real", None) and value.is_number:
        return value
    if value.is_number:
        re, im = value.as_real_imag()
        if abs(im) <= 10 ** (-DIGITS) * (1 + abs(re)):
            return re
    raise PreciseUnavailable(f"no real value in {DIGITS} digits for {_short(str(value), 80)}")


def _number(value) -> sp.Float:
    if isinstance(value, sp.MatrixBase):
        value = value[0, 0]  # a 1×1 output
    return value


def _entry(value, i):
    return value[i] if isinstance(value, sp.MatrixBase) else value


def _array(value) -> np.ndarray:
    """An object array of SymPy numbers, flat (row-major), for entrywise arithmetic."""
    entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
    out = np.empty(len(entries), dtype=object)
    out[:] = entries
    return out


def _floats(array: np.ndarray) -> list[sp.Float]:
    return [sp.Float(float(v), WORKING_DIGITS) for v in np.ravel(array)]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _at(values, j):
    return None if values is None else values[j]
