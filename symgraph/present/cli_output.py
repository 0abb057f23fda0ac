"""What the command line reads and prints, bounded: files, messages, large formulas.

A formula's printed size is its size as a tree, which for an expression
sharing subexpressions can be exponential in its size as a DAG.  It is
measured without printing, up to the print limits (:mod:`symgraph.core.sizes`), so
the command line can decide what to print before it spends time printing it.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> printable([sp.sin(x) + sp.sin(x)**2])
(True, 7)
>>> shorten("x" * 500, 20)
'xxxxxxxx...(500 characters)'
"""

from __future__ import annotations

from ..core.sizes import PRINT_MAX_DEPTH, PRINT_MAX_NODES, tree_shape
from ..errors import SymgraphError

MAX_FILE_BYTES = 1_000_000
MAX_MESSAGE_CHARS = 200


def shorten(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line, cut to about ``limit`` characters, saying how long it was.

    Examples
    --------
    >>> shorten("a\\nb")
    'a b'
    """
    text = " ".join(str(text).splitlines())
    if len(text) <= limit:
        return text
    return f"{text[: max(limit - 12, 8)]}...({len(text)} characters)"


def printable(exprs, budget: int = PRINT_MAX_NODES) -> tuple[bool, int]:
    """Whether ``exprs`` fit the print limits together, and their total tree size.

    The size is counted up to the budget only (a DAG that shares a
    subexpression 40 times is not walked 2⁴⁰ times).

    Examples
    --------
    >>> import sympy as sp
    >>> printable([sp.Symbol("x")])
    (True, 1)
    """
    total = 0
    for expr in exprs:
        nodes, depth = tree_shape(expr, budget - total)
        total += nodes
        if depth > PRINT_MAX_DEPTH or total > budget:
            return False, total
    return True, total


def read_text(path: str, what: str = "--file") -> str:
    """The UTF-8 text of ``path`` (at most :data:`MAX_FILE_BYTES`), or one clear refusal.

    Raises
    ------
    SymgraphError
        When the file cannot be read, is too large, or is not UTF-8 text.

    Examples
    --------
    >>> read_text("/nonexistent/model.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    symgraph.errors.SymgraphError: --file: cannot read /nonexistent/model.txt: No such file...
    """
    name = shorten(path, 80)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise SymgraphError(f"{what}: cannot read {name}: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise SymgraphError(f"{what}: {name} is larger than {MAX_FILE_BYTES} bytes")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SymgraphError(f"{what}: {name} is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SymgraphError(
            f"{what}: {name} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise SymgraphError(f"{what}: {name} is not a text file (it contains NUL bytes)")
    return text


def write_text(path: str, text: str, what: str = "--output") -> None:
    """Write ``text`` to ``path`` as UTF-8, or raise one clear refusal.

    Examples
    --------
    >>> write_text("/nonexistent/g.dot", "digraph {}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    symgraph.errors.SymgraphError: --output: cannot write /nonexistent/g.dot: No such file...
    """
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        raise SymgraphError(
            f"{what}: cannot write {shorten(path, 80)}: {err.strerror or err}"
        ) from None
