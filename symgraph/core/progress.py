"""Progress on long work: a tqdm bar on standard error when asked for, nothing otherwise.

tqdm is optional (the ``progress`` extra); without it, a line every few
seconds says how far the work is.

>>> list(steps(range(3), what="backward"))   # not asked for: the iterable itself
[0, 1, 2]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
EVERY = 2.0  # seconds between two lines when tqdm is not installed


def steps(
    iterable: Iterable[T], total: int | None = None, what: str = "", enabled: bool = False
) -> Iterable[T]:
    """``iterable``, reporting its progress on standard error when ``enabled``."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return _lines(iterable, total, what)
    return tqdm(iterable, total=total, desc=what, file=sys.stderr, leave=False, mininterval=0.5)


def _lines(iterable: Iterable[T], total: int | None, what: str) -> Iterator[T]:
    last = time.monotonic()
    for k, item in enumerate(iterable, start=1):
        if time.monotonic() - last > EVERY:
            last = time.monotonic()
            print(f"{what}: {k}/{total if total is not None else '?'}", file=sys.stderr)
        yield item
