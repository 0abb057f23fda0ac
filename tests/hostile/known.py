"""The hostile cases that fail today, with the part of issue 9 that fixes them.

Each key is a case id; the test marks those cases ``xfail(strict=True)``, so a fix
that lands makes them XPASS and fail: then delete the line (or regenerate the table:
``cd tests && python -m hostile.report /tmp/failures.txt --known hostile/known.py``).
Listed cases that overran are given :data:`HUNG_LIMIT` seconds instead of 20, to keep
the suite's time bounded; once fixed they must finish well inside it."""

from __future__ import annotations

HUNG_LIMIT = 4.0

XFAIL: dict[str, str] = {}

#: Listed cases known to overrun: run with HUNG_LIMIT.
HUNG: set[str] = set()
