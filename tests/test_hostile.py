"""The hostile corpus (issue 9): several hundred cases over every entry point.

Each case runs in a forked child with a time limit (20 s) and an address-space
limit (tests/hostile/harness.py).  A case holds when the sentinel file its
payload tries to create does not exist, the child neither hung nor crashed,
and it either succeeded (with correct numbers, where the case knows them) or
refused with a :class:`~symgraph.errors.SymgraphError` / exit status 2 and one
line on stderr, never a traceback.

The cases are run in parallel, two children at a time, the first time any of
them is asked for; each test then judges its own.  Cases that fail today are
marked in the one table tests/hostile/known.py.
"""

from __future__ import annotations

import fnmatch

import pytest
from hostile import harness
from hostile.corpus import all_cases
from hostile.known import HUNG, HUNG_LIMIT, XFAIL

CASES = {case.id: case for case in all_cases()}
_outcomes: dict[str, harness.Outcome] = {}


def _known(case_id: str) -> str | None:
    if case_id in XFAIL:
        return XFAIL[case_id]
    for pattern, reason in XFAIL.items():
        if fnmatch.fnmatchcase(case_id, pattern):
            return reason
    return None


for _id in HUNG:
    if _id in CASES:
        CASES[_id].time_limit = HUNG_LIMIT


def _params():
    for case_id in CASES:
        reason = _known(case_id)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(case_id, id=case_id, marks=marks)


def _selected(session) -> list[str]:
    return [
        item.callspec.params["case_id"]
        for item in session.items
        if getattr(item, "originalname", None) == "test_hostile_case"
    ]


@pytest.fixture
def outcome_of(request):
    """Runs every selected case once (in parallel), then hands out outcomes."""
    if request.node.callspec.params["case_id"] not in _outcomes:
        todo = [CASES[i] for i in _selected(request.session) if i not in _outcomes]
        _outcomes.update(harness.run_cases(todo, workers=2))
    return _outcomes.__getitem__


@pytest.mark.parametrize("case_id", list(_params()))
def test_hostile_case(case_id, outcome_of):
    case = CASES[case_id]
    outcome = outcome_of(case_id)
    problems = harness.judge(outcome, case)
    assert not problems, f"{case_id} [{case.entry}]: {outcome.summary()}\n  " + "\n  ".join(
        problems
    )


def test_corpus_is_several_hundred_cases_over_every_entry_point():
    entries = {case.entry for case in CASES.values()}
    assert {"cli", "cli-inject", "graph-file", "names", "helpers", "numeric"} <= entries
    assert len(CASES) >= 500


class TestHarness:
    """The judge itself: each kind of failure is seen."""

    def test_sentinel(self, tmp_path):
        def run(tmp):
            (tmp / harness.SENTINEL).write_text("x")

        assert "EXECUTED" in harness.judge(harness.run_case(harness.Case("s", "t", run)))[0]

    def test_hang(self):
        import time

        case = harness.Case("h", "t", lambda tmp: time.sleep(60), time_limit=0.5)
        assert harness.judge(harness.run_case(case))[0].startswith("HUNG")

    def test_raw_exception(self):
        def run(tmp):
            raise ZeroDivisionError("float division by zero")

        assert harness.judge(harness.run_case(harness.Case("r", "t", run)))[0].startswith(
            "RAW builtins.ZeroDivisionError"
        )

    def test_memory_limit(self):
        def run(tmp):
            bytearray(8 * 2**30)

        assert "MemoryError" in harness.judge(harness.run_case(harness.Case("m", "t", run)))[0]

    def test_multi_line_refusal(self):
        def run(tmp):
            from symgraph.errors import GraphError

            raise GraphError("one\ntwo")

        assert "MULTI-LINE" in harness.judge(harness.run_case(harness.Case("l", "t", run)))[0]

    def test_cli_traceback(self):
        def run(tmp):
            import sys

            print("Traceback (most recent call last):\nboom", file=sys.stderr)
            return 2

        problems = harness.judge(harness.run_case(harness.Case("c", "t", run, cli=True)))
        assert any("TRACEBACK" in p for p in problems)

    def test_a_refusal_holds(self):
        def run(tmp):
            from symgraph.errors import ParseError

            raise ParseError("unknown name __import__: not a math function")

        assert harness.judge(harness.run_case(harness.Case("ok", "t", run))) == []
