"""The parser's limits on the size of its input, and its one-line errors.

Every limit is a module constant so that other stages (the graph-file reader)
apply the same ones; :func:`_error` makes every refusal one line that echoes
no long input back.
"""

from __future__ import annotations

import re

from ..errors import ParseError

MAX_CHARS = 100_000
MAX_DEPTH = 200
MAX_NODES = 50_000
MAX_INT_DIGITS = 1000
MAX_FLOAT_EXPONENT = 1000
MAX_POWER_BITS = 10_000
MAX_TOTAL_POWER_BITS = 100_000
MAX_ROOT_BITS = 256
MAX_GAMMA_ARG = 10_000
MAX_MATRICES = 1000
MAX_MATRIX_SIZE = 100_000

_INT_LIMIT = 10**MAX_INT_DIGITS


MAX_POINT_ENTRIES = 100_000


_LONG_WORD = re.compile(r"\S{61,}")


def _cut(match: re.Match) -> str:
    return f"{match[0][:40]}...({len(match[0])} characters)"


def _error(message: str) -> ParseError:
    """A ParseError whose message is one line and echoes no long input back.

    Any run of more than 60 characters without a space (a 5,000-digit
    number, a huge name) is cut to its first 40 characters and its length.
    """
    return ParseError(_LONG_WORD.sub(_cut, " ".join(message.splitlines())))


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise _error(f"{what} must be a str, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise _error(f"{what} is too long: {len(text)} characters (at most {MAX_CHARS})")
    if not text.strip():
        raise _error(f"empty {what}")
    return text
