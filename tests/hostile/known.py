"""The hostile cases that fail today, with the part of issue 9 that fixes them.

Each key is a case id; the test marks those cases ``xfail(strict=True)``, so a fix
that lands makes them XPASS and fail: then delete the line (or regenerate the table:
``cd tests && python -m hostile.report /tmp/failures.txt --known hostile/known.py``).
Listed cases that overran are given :data:`HUNG_LIMIT` seconds instead of 20, to keep
the suite's time bounded; once fixed they must finish well inside it."""

from __future__ import annotations

HUNG_LIMIT = 4.0

XFAIL: dict[str, str] = {
    # --- API/simplify: text helpers ---
    "helper:nn.mlp(widths):0": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):1": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):2": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):3": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    # --- CLI ---
    "bomb:grad:[-]x100000x": "issue 9: CLI (LONG refusal (4000 chars))",
    "bomb:python-product-500": "issue 9: CLI (UNBOUNDED output)",
    "bomb:explain-product-500": "issue 9: CLI (UNBOUNDED output)",
    "bomb:draw-svg-2000": "issue 9: CLI (HUNG)",
}

#: Listed cases known to overrun: run with HUNG_LIMIT.
HUNG: set[str] = {
    # slow as well as unbounded (10-19 s): with 4 s they fail the same way every run
    "bomb:python-product-500",
    "bomb:explain-product-500",
    "bomb:draw-svg-2000",
}
