"""Run the whole corpus outside pytest and write the failures grouped by cause.

``cd tests && python -m hostile.report /tmp/hostile_failures.txt [--limit S] [--only PREFIX]``
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict

from . import harness
from .corpus import all_cases


def cause(problem: str) -> str:
    """A problem's cause, without the case's particulars (digits, quoted text)."""
    head = problem.split(":", 1)[0]
    if head.startswith("RAW"):
        detail = problem.split(":", 2)[1:] + [""]
        return f"{head}: {re.sub(r'[0-9]+', 'N', detail[0].strip())[:80]}"
    return head


def part(case, problems: list[str]) -> str:
    """Which part of issue 9 a failing case waits for (the engineers' split)."""
    first = problems[0]
    if case.entry == "names":
        return "compiler source check"
    if case.entry == "graph-file":
        return "graph-file loader"
    if case.entry == "helpers":
        return "API/simplify: text helpers"
    if case.id.startswith("check:"):
        return "cross-check"
    if case.id.startswith(("value:", "at-point:", "stable:", "tie:")):
        return "numerics"
    if case.entry == "numeric":
        return "API/simplify"
    if "simplify" in case.id and first.startswith("HUNG"):
        return "API/simplify: budget"
    return "CLI"


def write_known(path: str, failing: list) -> None:
    """The xfail table (tests/hostile/known.py) for the cases that fail now."""
    by_part: dict[str, list] = defaultdict(list)
    for case, problems in failing:
        by_part[part(case, problems)].append((case, problems))
    lines = [
        '"""The hostile cases that fail today, with the part of issue 9 that fixes them.',
        "",
        "Each key is a case id; the test marks those cases ``xfail(strict=True)``, so a fix",
        "that lands makes them XPASS and fail: then delete the line (or regenerate the table:",
        "``cd tests && python -m hostile.report /tmp/failures.txt --known hostile/known.py``).",
        "Listed cases that overran are given :data:`HUNG_LIMIT` seconds instead of 20, to keep",
        'the suite\'s time bounded; once fixed they must finish well inside it."""',
        "",
        "from __future__ import annotations",
        "",
        "HUNG_LIMIT = 4.0",
        "",
        "XFAIL: dict[str, str] = {",
    ]
    hung = []
    for name in sorted(by_part):
        lines.append(f"    # --- {name} ---")
        for case, problems in by_part[name]:
            why = problems[0].split(":", 1)[0]
            lines.append(f"    {case.id!r}: {f'issue 9: {name} ({why})'!r},")
            if problems[0].startswith("HUNG"):
                hung.append(case.id)
    lines += ["}", "", "#: Listed cases known to overrun: run with HUNG_LIMIT."]
    lines += ["HUNG: set[str] = {"]
    lines += [f"    {case_id!r}," for case_id in hung]
    lines += ["}", ""]
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--limit", type=float, default=harness.TIME_LIMIT)
    parser.add_argument("--only", default="")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--known", help="also write the xfail table here")
    args = parser.parse_args(argv)
    cases = [c for c in all_cases() if c.id.startswith(args.only)]
    for case in cases:
        case.time_limit = min(case.time_limit, args.limit)
    start = time.monotonic()

    def progress(case, outcome):
        problems = harness.judge(outcome, case)
        mark = "FAIL" if problems else "ok"
        print(f"{outcome.seconds:6.2f} {mark:4} {case.id} {problems[:1]}"[:240], flush=True)

    outcomes = harness.run_cases(cases, workers=args.workers, progress=progress)
    groups = defaultdict(list)
    for case in cases:
        problems = harness.judge(outcomes[case.id], case)
        if problems:
            groups[(case.entry, cause(problems[0]))].append((case, outcomes[case.id], problems))
    failing = sum(len(v) for v in groups.values())
    kinds: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in cases:
        outcome = outcomes[case.id]
        label = f"exit {outcome.status}" if outcome.kind == "exit" else outcome.kind
        kinds[case.entry][label] += 1
    with open(args.output, "w", encoding="utf-8") as out:
        out.write(f"{failing} of {len(cases)} hostile cases fail "
                  f"({time.monotonic() - start:.0f} s)\n\n")  # fmt: skip
        out.write("outcomes by entry point:\n")
        for entry, counts in sorted(kinds.items()):
            out.write(f"  {entry}: {dict(sorted(counts.items()))}\n")
        out.write("\n")
        for (entry, why), items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            out.write(f"== {entry}: {why} ({len(items)} cases; {part(*items[0][::2])})\n")
            for case, _outcome, problems in items:
                out.write(f"  {case.id}\n      {'; '.join(problems)[:400]}\n")
            out.write("\n")
    print(f"{failing} of {len(cases)} fail; written to {args.output}")
    if args.known:
        write_known(args.known, [(c, p) for items in groups.values() for c, _, p in items])
    return 0


if __name__ == "__main__":
    sys.exit(main())
