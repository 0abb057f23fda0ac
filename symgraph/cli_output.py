"""What the command line reads and prints, bounded: files, messages, large formulas.

A formula's printed size is its size as a tree, which for an expression
sharing subexpressions can be exponential in its size as a DAG.  It is
measured here without printing, by one pass over the DAG, so the command line
can decide what to print before it spends time and memory printing it.

Examples
--------
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> tree_size(sp.sin(x) + sp.sin(x)**2)
(7, 4)
>>> shorten("x" * 500, 20)
'xxxxxxxx...(500 characters)'
"""

from __future__ import annotations

import sympy as sp

from .errors import SymgraphError

MAX_FILE_BYTES = 1_000_000
MAX_PRINTED_TERMS = 20_000  # tree nodes printed, over all formulas of one command
MAX_PRINTED_DEPTH = 100  # nesting printed (SymPy's printers recurse once per level)
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


def tree_size(expr: sp.Basic) -> tuple[int, int]:
    """(nodes, depth) of ``expr`` as a printed tree, in one pass over its DAG.

    Iterative (no recursion in the depth) and linear in the number of distinct
    subexpressions, however many times they are shared.

    Examples
    --------
    >>> import sympy as sp
    >>> tree_size(sp.Symbol("x"))
    (1, 1)
    """
    size: dict[sp.Basic, tuple[int, int]] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if node in size:
            continue
        args = node.args if isinstance(node, sp.Basic) else ()
        if expanded or not args:
            parts = [size[a] for a in args]
            size[node] = (1 + sum(n for n, _ in parts), 1 + max((d for _, d in parts), default=0))
        else:
            stack.append((node, True))
            stack.extend((a, False) for a in args if a not in size)
    return size[expr]


def printable(exprs, budget: int = MAX_PRINTED_TERMS) -> tuple[bool, int]:
    """Whether ``exprs`` fit the print limits together, and their total tree size.

    Examples
    --------
    >>> import sympy as sp
    >>> printable([sp.Symbol("x")])
    (True, 1)
    """
    total = 0
    for expr in exprs:
        nodes, depth = tree_size(expr)
        total += nodes
        if depth > MAX_PRINTED_DEPTH or total > budget:
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
