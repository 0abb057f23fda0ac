"""The hostile cases that fail today, with the part of issue 9 that fixes them.

Each key is a case id; the test marks those cases ``xfail(strict=True)``, so a fix
that lands makes them XPASS and fail: then delete the line (or regenerate the table:
``cd tests && python -m hostile.report /tmp/failures.txt --known hostile/known.py``).
Listed cases that overran are given :data:`HUNG_LIMIT` seconds instead of 20, to keep
the suite's time bounded; once fixed they must finish well inside it."""

from __future__ import annotations

HUNG_LIMIT = 4.0

XFAIL: dict[str, str] = {
    # --- API/simplify: budget ---
    "bomb:simplify-product-500": "issue 9: API/simplify: budget (HUNG)",
    # --- API/simplify: text helpers ---
    "helper:nn.mlp(widths):0": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):1": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):2": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    "helper:nn.mlp(widths):3": "issue 9: API/simplify: text helpers (RAW builtins.TypeError)",
    # --- CLI ---
    "bomb:grad:[-]x100000x": "issue 9: CLI (LONG refusal (4000 chars))",
    "bomb:grad:[(x+{i})]*x500": "issue 9: CLI (HUNG)",
    "bomb:grad:[(w*x{i}+1)]*x500": "issue 9: CLI (HUNG)",
    "bomb:latex-product-500": "issue 9: CLI (HUNG)",
    "bomb:python-product-500": "issue 9: CLI (HUNG)",
    "bomb:structured-product-500": "issue 9: CLI (HUNG)",
    "bomb:explain-product-500": "issue 9: CLI (HUNG)",
    "bomb:draw-svg-2000": "issue 9: CLI (HUNG)",
    # --- compiler source check ---
    "name:idx:lambdify:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:idx:values_at:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:implemented:lambdify:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:implemented:values_at:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:function:lambdify:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:function:values_at:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:functioncall:lambdify:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:functioncall:values_at:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:subs:lambdify:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    "name:subs:values_at:5": "issue 9: compiler source check (MULTI-LINE refusal)",
    # --- graph-file loader ---
    "file-malformed:chain-100k": "issue 9: graph-file loader (HUNG)",
}

#: Listed cases known to overrun: run with HUNG_LIMIT.
HUNG: set[str] = {
    "bomb:simplify-product-500",
    "bomb:grad:[(x+{i})]*x500",
    "bomb:grad:[(w*x{i}+1)]*x500",
    "bomb:latex-product-500",
    "bomb:python-product-500",
    "bomb:structured-product-500",
    "bomb:explain-product-500",
    "bomb:draw-svg-2000",
    "file-malformed:chain-100k",
}
