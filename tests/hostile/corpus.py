"""Every hostile case, by entry point (see the modules named ``corpus_*``)."""

from __future__ import annotations

from . import corpus_api, corpus_cli, corpus_files, corpus_numeric
from .harness import Case


def all_cases() -> list[Case]:
    names = [corpus_api.NAMES[i] for i in sorted(corpus_api.SHORT)]
    cases = corpus_cli.cases() + corpus_api.cases() + corpus_files.cases(names)
    cases += corpus_numeric.cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases
