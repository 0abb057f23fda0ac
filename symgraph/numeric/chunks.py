"""Bounded lines: a list of any length laid out over several short lines.

Python's own compiler recurses on a long ``a + b + c + ...`` (a left-nested
``BinOp``), and a line as long as the graph is slow to parse and impossible to
read.  The code generator therefore never writes a list whose length grows
with the graph on one line: the terms of a wide sum, the names a ``del``
frees, the outputs ``return`` hands back and the function's parameters are
cut into chunks of at most :data:`WIDTH` items and :data:`CHARACTERS`
characters (an item longer than that still fits alone on its line).

Examples
--------
>>> chunked(["a0", "a1", "a2", "a3", "a4"], width=2)
[['a0', 'a1'], ['a2', 'a3'], ['a4']]
>>> delete_lines(["t1", "t2", "t3"], width=2)
['del t1, t2', 'del t3']
>>> return_lines(["t1", "t2", "t3"], "t9", width=2)
['t9 = (t1, t2,)', 't9 = t9 + (t3,)', 'return t9']
>>> return_lines(["t1"], "t9")
['return (t1,)']
>>> return_lines(["t1", "t2", "t3"], "t9", width=2, head="t0")
['t9 = (t1, t2,)', 't9 = t9 + (t3,)', 'return (t0, t9)']
>>> guard_lines(["a0", "a1", "a2"], width=2)[0]
'if type(a0) is not float or type(a1) is not float: return None'
>>> signature_lines("f", ["a0", "a1", "a2"], "a3", width=2)
['def f(*a3):', 'a0, a1, = a3[0:2]', 'a2, = a3[2:]']
"""

from __future__ import annotations

from collections.abc import Sequence

WIDTH = 32  # items of a list on one line
CHARACTERS = 1000  # characters of a list on one line, about
LONG_TERM = 200  # a term printed longer than this gets a line (and a name) of its own

__all__ = [
    "CHARACTERS", "LONG_TERM", "WIDTH", "chunked", "delete_lines", "guard_lines",
    "return_lines", "signature_lines",
]  # fmt: skip


def chunked(items: Sequence, width: int = WIDTH, characters: int = CHARACTERS) -> list[list]:
    """``items`` in order, cut into runs of at most ``width`` items and about ``characters``.

    The items are strings, or anything whose length is its printed size when
    ``characters`` is large.  A chunk is never empty.
    """
    chunks: list[list] = []
    size = 0
    for item in items:
        if not chunks or len(chunks[-1]) >= width or size + len(item) > characters:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item) + 2
    return chunks


def delete_lines(names: Sequence[str], width: int = WIDTH) -> list[str]:
    """``del`` statements freeing ``names``, a bounded number on each."""
    return ["del " + ", ".join(chunk) for chunk in chunked(names, width)]


def return_lines(
    texts: Sequence[str], accumulator: str, width: int = WIDTH, head: str | None = None
) -> list[str]:
    """``return (...)`` of ``texts``; a long tuple is built in ``accumulator`` chunk by chunk.

    One short tuple is written as before (``return (t1, t2)``, ``return (t1,)``).
    With ``head``, the function returns ``(head, (texts...))``: a value, then the rest.
    """
    chunks = chunked(texts, width)
    if len(chunks) <= 1:
        returned = ", ".join(texts)
        returned = f"({returned}{',' if len(texts) == 1 else ''})"
        return [f"return ({head}, {returned})" if head else f"return {returned}"]
    lines = [f"{accumulator} = ({', '.join(chunks[0])},)"]
    lines += [f"{accumulator} = {accumulator} + ({', '.join(c)},)" for c in chunks[1:]]
    return [*lines, f"return ({head}, {accumulator})" if head else f"return {accumulator}"]


def guard_lines(parameters: Sequence[str], width: int = WIDTH) -> list[str]:
    """``return None`` unless every parameter is a plain ``float``: the caller converts."""
    tests = (" or ".join(f"type({p}) is not float" for p in c) for c in chunked(parameters, width))
    return [f"if {test}: return None" for test in tests]


def signature_lines(name: str, parameters: Sequence[str], pack: str, width: int = WIDTH):
    """``def name(...)``; many parameters arrive as ``*pack`` and are unpacked in slices.

    The calling convention is the same either way: ``name(*values)``, one
    value per parameter in order (a wrong count is a ``ValueError`` instead of
    a ``TypeError``).  The ``def`` line comes first, then the unpacking lines
    of the body.
    """
    chunks = chunked(parameters, width)
    if len(chunks) <= 1:
        return [f"def {name}({', '.join(parameters)}):"]
    lines, start = [f"def {name}(*{pack}):"], 0
    for k, chunk in enumerate(chunks):
        stop = "" if k == len(chunks) - 1 else start + len(chunk)
        lines.append(f"{', '.join(chunk)}, = {pack}[{start}:{stop}]")
        start += len(chunk)
    return lines
