"""The report of a cross-check: a row per weight, as text, in a notebook and in a REPL.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> report = sg.check(sg.gradient(w**2 * x, wrt=[w]))
>>> repr(report).startswith("<CheckReport ok: 1 weight, max rel error")
True
>>> print(report.headline)
cross-check at 3 points: ok
>>> "<table>" in report._repr_html_()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np
import sympy as sp

from ..errors import CheckError

__all__ = ["CheckReport", "CheckRow"]


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

    @property
    def headline(self) -> str:
        """``cross-check at 3 points: ok`` (or ``FAILED``)."""
        n = len(next(iter(self.points.values()), []))
        return f"cross-check at {n} point{'s' * (n != 1)}: {'ok' if self.ok else 'FAILED'}"

    def __str__(self) -> str:
        lines = [self.headline]
        lines.append(f"  {'weight':<12} {'abs error':>10} {'rel error':>10}  status  methods")
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

    def __repr__(self) -> str:
        state = "ok" if self.ok else "FAILED"
        worst = f"max rel error {self.max_rel_error:.2e}"
        n = len(self.rows)
        return f"<CheckReport {state}: {n} weight{'s' * (n != 1)}, {worst}>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text display
        printer.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        """The table, for a notebook: a row per weight, failures in bold."""
        head = "".join(f"<th>{h}</th>" for h in ("weight", "abs error", "rel error", "status"))
        body = []
        for r in self.rows:
            status = "ok" if r.ok else "<b>FAIL</b>"
            cells = [escape(str(r.weight)), f"{r.abs_error:.2e}", f"{r.rel_error:.2e}", status]
            extra = " ".join(escape(t) for t in (r.worst if not r.ok else "", r.note) if t)
            cells.append(
                escape(", ".join(r.methods)) + (f"<br><small>{extra}</small>" if extra else "")
            )
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        notes = "".join(f"<p><small>note: {escape(n)}</small></p>" for n in self.notes)
        return (
            f"<div><p><b>{escape(self.headline)}</b></p><table><thead><tr>{head}<th>methods</th>"
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}</div>"
        )
