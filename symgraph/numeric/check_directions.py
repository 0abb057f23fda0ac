"""Cross-checking every weight at once: derivatives along random directions.

Differencing ``f`` entry by entry costs two evaluations per weight entry:
weights × graph. Along a direction ``v`` that moves every weight entry at
once, the compiled partials give ``∇f·v`` in one dot product, and the check's
methods give the derivative of ``t ↦ f(x + t v)`` in a few evaluations,
however many weights there are: central differences (steps ``h`` and ``2h``,
their difference the method's own error bound) and, where it applies, the
complex step ``Im f(x + i h v) / h``. Each entry of ``v`` has a random sign and
a size between 1 and 2 (times ``max(1, |x|)``, as the per-entry step), so no
weight is hidden by a tiny entry and no two cancel exactly.

Only where a direction disagrees does :class:`Screen` localize: it splits the
entries in two (along weight boundaries first, then inside a weight) and tests
each half along ``v`` restricted to it. A half that agrees vouches for its
entries; one that disagrees is split again, down to single entries, which go
to the per-entry check (and its 50-digit referee). A wrong partial costs
O(log W) tests, and a weight found wrong leaves the later directions.

Examples
--------
>>> layout = Layout([(), (2, 2)])  # a scalar weight and a 2×2 one
>>> layout.total, layout.owner(3), layout.split(0, 5)
(5, (1, 2), 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Per method: (relative tolerance, absolute tolerance relative to the scale of f).
TOLERANCES = {
    "central-difference": (1e-5, 1e-6),
    "complex-step": (1e-9, 1e-12),
    "sympy.diff": (1e-9, 1e-12),
}
RELATIVE_FLOOR = 1e-6  # partials smaller than this (times 1 + |f|) count as absolute
LARGE_ERROR = 1e-5  # a relative error beyond this is disputed even within an own error bound
STEP = float(np.cbrt(np.finfo(float).eps))  # central differences: relative step
COMPLEX_STEP = 1e-30
DIRECTIONS = 3  # random directions per point
MAX_LOCALIZED = 8  # single entries of one weight sent to the per-entry check
LENIENT_SPLITS = 8  # per direction: splits of parts off only within the methods' own bounds
EXACT = ("complex-step", "sympy.diff")  # no truncation error: they settle a lenient dispute


def judge(method: str, analytic, numeric, own_error, scale):
    """``(diff, rel, agrees, lenient)`` of the compiled ``analytic`` against a method's estimate.

    ``lenient``: within the tolerance widened by the method's own error bound
    (the verdict without a referee); ``agrees``: that, and a relative error of
    at most ``LARGE_ERROR`` (beyond it a value is disputed). Entrywise on arrays.

    >>> [bool(v) for v in judge("complex-step", 2.0, 2.0 + 1e-12, 0.0, 1.0)[2:]]
    [True, True]
    """
    diff = np.abs(analytic - numeric)
    size = np.maximum(np.abs(analytic), np.abs(numeric))
    rel = diff / np.maximum(size, RELATIVE_FLOOR * scale)  # no 100% of nearly nothing
    rtol, atol = TOLERANCES[method]
    allowed = atol * scale + rtol * size + own_error
    lenient = (diff <= allowed) & np.isfinite(numeric)
    return diff, rel, lenient & (rel <= LARGE_ERROR), lenient


def value_along(fn, point: Sequence, moves: dict, step):
    """``f`` at ``point`` with argument ``k`` moved by ``step * moves[k]`` (a 1×1: a number)."""
    moved = list(point)
    for k, direction in moves.items():
        moved[k] = np.asarray(point[k], dtype=float) + step * direction
    return np.asarray(fn(*moved)[0]).reshape(())[()]


def central_difference(fn, point, moves, h: float) -> tuple[float, float]:
    """The derivative along ``moves`` by central differences, and its own error bound.

    Its error grows with the third derivative; the difference between steps h
    and 2h measures it (Richardson), so a steep function widens the tolerance
    by what the method itself cannot resolve.
    """
    fine, coarse = (
        (value_along(fn, point, moves, step) - value_along(fn, point, moves, -step)) / (2 * step)
        for step in (h, 2 * h)
    )
    return fine, abs(coarse - fine)


def complex_step(fn, point, moves) -> tuple[float, float]:
    """The derivative along ``moves`` by the complex step: exact to rounding."""
    return np.imag(value_along(fn, point, moves, 1j * COMPLEX_STEP)) / COMPLEX_STEP, 0.0


class Layout:
    """The weights' entries in one flat vector, weight after weight (row-major inside)."""

    def __init__(self, shapes: Sequence[tuple]):
        self.shapes = [tuple(s) for s in shapes]
        sizes = [int(np.prod(s, dtype=int)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.total = int(self.offsets[-1])

    def owner(self, flat: int) -> tuple[int, int]:
        """(weight, entry) of a flat index."""
        n = int(np.searchsorted(self.offsets, flat, side="right")) - 1
        return n, int(flat - self.offsets[n])

    def weights_in(self, lo: int, hi: int) -> range:
        return range(self.owner(lo)[0], self.owner(hi - 1)[0] + 1)

    def split(self, lo: int, hi: int) -> int:
        """Where ``[lo, hi)`` is cut in two: at the weight boundary nearest its middle, if any."""
        middle = (lo + hi) // 2
        inner = self.offsets[(self.offsets > lo) & (self.offsets < hi)]
        return int(inner[np.argmin(np.abs(inner - middle))]) if inner.size else middle

    def flat(self, values: Sequence) -> np.ndarray:
        """Per weight values (numbers or arrays) as one flat vector."""
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])

    def moves(self, vector: np.ndarray, positions: Sequence[int]) -> dict:
        """The flat ``vector`` as ``{argument position: array of the weight's shape}``."""
        return {
            k: vector[self.offsets[n] : self.offsets[n + 1]].reshape(shape)
            for n, (k, shape) in enumerate(zip(positions, self.shapes, strict=True))
        }


def random_direction(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A direction for the flat weight values: random signs, sizes 1..2 times ``max(1, |x|)``."""
    signs = rng.choice([-1.0, 1.0], size=weights.size)
    return signs * rng.uniform(1.0, 2.0, size=weights.size) * np.maximum(1.0, np.abs(weights))


@dataclass
class Comparison:
    """One direction (or part of one) at one point: ``∇f·v`` against each method."""

    analytic: float
    judged: dict  # method -> (numeric, diff, rel, agrees, lenient)

    @property
    def agrees(self) -> bool:
        """Every method agrees; or all are within their own error bounds and an exact one agrees.

        A central difference off by more than ``LARGE_ERROR`` but within its
        own error bound (rounding, the third derivative) is not a dispute
        where the complex step or ``sympy.diff`` agrees with the compiled ∇f·v.
        """
        if all(j[3] for j in self.judged.values()):
            return True
        return self.lenient and any(self.judged[m][3] for m in EXACT if m in self.judged)

    @property
    def lenient(self) -> bool:
        return all(j[4] for j in self.judged.values())

    def worst(self, count: int) -> str:
        """The worst method's numbers, for a row that failed on this comparison."""
        method, (numeric, *_) = max(self.judged.items(), key=lambda item: item[1][2])
        return (
            f"{method} along a direction over {count} of its entries: "
            f"analytic ∇f·v {self.analytic!r} vs numeric {float(numeric)!r}"
        )


class Screen:
    """Checks the weights along directions, localizing where one disagrees.

    Parameters
    ----------
    layout : Layout
    estimate : callable
        ``estimate(p, vector) -> {method: (derivative along vector, own error bound)}``
        at point ``p``, ``vector`` over the flat weight entries.
    partials : sequence of ndarray
        Per point, the compiled partials as one flat vector.
    scales : sequence of float
        Per point, ``1 + |f|``.
    verify : callable
        ``verify(n, p, i) -> bool``: the per-entry check of entry ``i`` of
        weight ``n`` at point ``p`` (its row kept by the caller).

    After :meth:`run`: ``vouched[n]`` per method the worst ``(abs, rel)`` of
    the agreeing comparisons that included weight ``n``; ``failed`` the weights
    the per-entry check found wrong; ``undecided[n]`` a comparison inside
    weight ``n`` left disagreeing once ``MAX_LOCALIZED`` entries were checked.
    """

    def __init__(
        self,
        layout: Layout,
        estimate: Callable,
        partials: Sequence[np.ndarray],
        scales: Sequence[float],
        verify: Callable[[int, int, int], bool],
    ):
        self.layout, self.estimate, self.verify = layout, estimate, verify
        self.partials, self.scales = list(partials), list(scales)
        self.vouched: list[dict] = [{} for _ in layout.shapes]
        self.failed: set[int] = set()
        self.undecided: dict[int, Comparison] = {}
        self.localized = [0] * len(layout.shapes)
        self.comparisons = 0
        self.accepted = 0  # parts left within their methods' own error bounds, undecided
        self.settled = 0  # comparisons where an exact method overruled a central difference
        self.unexplained: list[
            tuple[int, float]
        ] = []  # (point, rel) where only the whole disagreed

    def run(self, p: int, direction: np.ndarray) -> None:
        """Check every weight not yet found wrong along ``direction`` at point ``p``."""
        pending: list[tuple[int, int, Comparison | None]] = [(0, self.layout.total, None)]
        lenient_splits = 0
        while pending:
            lo, hi, comparison = pending.pop()
            inside = self._single_weight(lo, hi)
            if inside is not None and inside in self.failed | set(self.undecided):
                continue
            vector = self._restricted(direction, lo, hi)
            if not vector.any():
                continue
            comparison = comparison or self._compare(p, vector)
            if comparison.agrees:
                self._vouch(lo, hi, comparison)
            elif hi - lo == 1:
                n, i = self.layout.owner(lo)
                self.localized[n] += 1
                if not self.verify(n, p, i):
                    self.failed.add(n)
            elif inside is not None and self.localized[inside] >= MAX_LOCALIZED:
                self.undecided[inside] = comparison
            elif comparison.lenient and lenient_splits >= LENIENT_SPLITS:
                self.accepted += 1  # as the per-entry check beyond its referee: own bounds decide
                self._vouch(lo, hi, comparison, accepted=True)
            else:
                lenient_splits += comparison.lenient
                pending.extend(self._halves(p, direction, lo, hi, comparison))

    def _halves(self, p, direction, lo, hi, whole):
        """Both halves of ``[lo, hi)``, each compared; both vouched if both agree."""
        cut = self.layout.split(lo, hi)
        halves = [
            (a, b, self._compare_if_any(p, direction, a, b)) for a, b in ((lo, cut), (cut, hi))
        ]
        compared = [c for _, _, c in halves if c is not None]
        if compared and all(c.agrees for c in compared):
            rel = max(j[2] for j in whole.judged.values())
            self.unexplained.append((p, float(rel)))
            for a, b, c in halves:
                if c is not None:
                    self._vouch(a, b, c)
            return []
        return [(a, b, c) for a, b, c in reversed(halves) if c is not None]

    def _compare_if_any(self, p, direction, lo, hi) -> Comparison | None:
        vector = self._restricted(direction, lo, hi)
        return self._compare(p, vector) if vector.any() else None

    def _compare(self, p: int, vector: np.ndarray) -> Comparison:
        self.comparisons += 1
        analytic = float(self.partials[p] @ vector)
        judged = {}
        for method, (numeric, own_error) in self.estimate(p, vector).items():
            diff, rel, agrees, lenient = judge(method, analytic, numeric, own_error, self.scales[p])
            judged[method] = (numeric, float(diff), float(rel), bool(agrees), bool(lenient))
        return Comparison(analytic, judged)

    def _restricted(self, direction, lo, hi) -> np.ndarray:
        vector = np.zeros_like(direction)
        vector[lo:hi] = direction[lo:hi]
        for n in self.failed | set(self.undecided):
            vector[self.layout.offsets[n] : self.layout.offsets[n + 1]] = 0.0
        return vector

    def _single_weight(self, lo, hi) -> int | None:
        weights = self.layout.weights_in(lo, hi)
        return weights[0] if len(weights) == 1 else None

    def _vouch(self, lo, hi, comparison: Comparison, accepted: bool = False) -> None:
        """The comparison's errors count for every weight in ``[lo, hi)``.

        Where an exact method settled it, the methods off only by their own
        error bounds are overruled there and left out, as the referee's are;
        ``accepted`` (left undecided) keeps them all.
        """
        judged = comparison.judged.items()
        settled = not accepted and not all(j[3] for _, j in judged)
        self.settled += settled
        for n in self.layout.weights_in(lo, hi):
            if n in self.failed or n in self.undecided:
                continue
            for method, (_, diff, rel, agrees, _) in judged:
                if settled and not agrees:
                    continue
                worst = self.vouched[n].get(method, (0.0, 0.0))
                self.vouched[n][method] = (max(worst[0], diff), max(worst[1], rel))


def screened_note(layout: Layout, screen: Screen, directions: int, points: int) -> list[str]:
    """The report's notes on a directional check: how, and where it localized."""
    notes = [
        f"{layout.total} weight entries checked all at once along {directions} random "
        f"direction{'s' * (directions != 1)} per point ({screen.comparisons} comparisons of "
        f"∇f·v at {points} point{'s' * (points != 1)}); a row shows the errors of the "
        "directional derivatives that include its weight, and per-entry errors where a "
        "direction disagreed"
    ]
    if screen.unexplained:
        rel = max(r for _, r in screen.unexplained)
        notes.append(
            f"{len(screen.unexplained)} direction{'s' * (len(screen.unexplained) != 1)} "
            f"disagreed (relative {rel:.1e}) where both halves agreed: the methods' own "
            "error along v, no weight to blame"
        )
    if screen.settled:
        notes.append(
            f"in {screen.settled} comparison{'s' * (screen.settled != 1)} the central difference "
            f"was off by more than {LARGE_ERROR:g} (relative), within its own error bound, where "
            "the complex step or sympy.diff agreed: overruled there"
        )
    if screen.accepted:
        notes.append(
            f"{screen.accepted} part{'s' * (screen.accepted != 1)} of directions off by more than "
            f"{LARGE_ERROR:g} (relative) but within the methods' own error bounds, accepted"
        )
    localized = sum(screen.localized)
    if localized:
        entries = "entry" if localized == 1 else "entries"
        notes.append(f"{localized} weight {entries} localized and checked one by one")
    return notes
