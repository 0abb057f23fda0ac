"""The text being parsed: ``ast.parse`` with every failure a ParseError.

Locations are reported in the user's own lines and columns, and depth and size
are measured, iteratively, before anything is built.
"""

from __future__ import annotations

import ast
import re
import warnings

from ..errors import ParseError
from .limits import MAX_DEPTH, MAX_INT_DIGITS, MAX_NODES, _error

_SKIP = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
_NEWLINE = re.compile(r"\r\n|\r|\n")


class _Source:
    """The text being parsed, to report locations in the user's own lines and columns."""

    def __init__(self, text: str, line_shift: int = 0, col_shift: int = 0, lines: bool = False):
        self.text = text
        self.line_shift = line_shift
        self.col_shift = col_shift
        self.show_line = lines or _NEWLINE.search(text) is not None
        self._lines: list[bytes] | None = None

    def line(self, lineno: int) -> bytes:
        if self._lines is None:
            self._lines = [line.encode("utf-8") for line in _NEWLINE.split(self.text)]
        return self._lines[lineno - 1] if 0 < lineno <= len(self._lines) else b""

    def location(self, lineno: int, column: int) -> str:
        """``column`` is 1-based, in characters, within line ``lineno`` of the parsed text."""
        if lineno == 1:
            column += self.col_shift
        if self.show_line:
            return f"line {lineno + self.line_shift}, column {column}"
        return f"column {column}"

    def where(self, node: ast.AST) -> str:
        lineno = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        column = len(self.line(lineno)[:offset].decode("utf-8", "replace")) + 1
        return self.location(lineno, column)

    def segment(self, node: ast.AST) -> str:
        """The node's text (first line only), as written."""
        lineno, end = getattr(node, "lineno", 1), getattr(node, "end_lineno", None)
        line = self.line(lineno)
        stop = node.end_col_offset if end == lineno else len(line)
        return line[node.col_offset : stop].decode("utf-8", "replace")

    def snippet(self, node: ast.AST) -> str:
        text = self.segment(node)
        if len(text) > 40 or getattr(node, "end_lineno", 1) != getattr(node, "lineno", 1):
            text = text[:37] + "..."
        return repr(text)

    def refuse(self, what: str, node: ast.AST) -> ParseError:
        return _error(f"{what}: {self.snippet(node)} at {self.where(node)}")


def _parse_tree(text: str, source: _Source, mode: str) -> ast.AST:
    """``ast.parse`` with every way it can fail turned into a ParseError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, mode=mode)
    except SyntaxError as err:
        message = (err.msg or "invalid syntax").strip()
        if "too many nested parentheses" in message:
            message = f"nesting deeper than {MAX_DEPTH} levels (too many nested parentheses)"
        elif "integer string conversion" in message:
            message = f"integer literal longer than {MAX_INT_DIGITS} digits"
        else:
            message = f"syntax error ({message})"
        lineno, offset = err.lineno or 1, err.offset or 1
        raise _error(f"{message} at {source.location(lineno, offset)}") from None
    except (RecursionError, MemoryError):
        raise _error(
            "expression too deeply nested or too long to parse "
            f"(at most {MAX_DEPTH} levels); split it into named parts"
        ) from None
    except ValueError as err:
        raise _error(f"cannot parse: {err}") from None


def _group(node: ast.AST) -> int:
    """0 for + and -, 1 for * and /, -1 otherwise: a left chain of one group is flat."""
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return 0
        if isinstance(node.op, (ast.Mult, ast.Div)):
            return 1
    return -1


def _measure(root: ast.AST, source: _Source, budget: int) -> int:
    """Check depth and size iteratively; return the number of nodes."""
    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > budget:
            raise _error(f"expression too large: more than {MAX_NODES} nodes")
        if depth > MAX_DEPTH:
            raise _error(f"nesting deeper than {MAX_DEPTH} levels at {source.where(node)}")
        group = _group(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, _SKIP):
                continue
            flat = group >= 0 and child is node.left and _group(child) == group
            stack.append((child, depth if flat else depth + 1))
    return count


def _strip(text: str) -> tuple[str, int, int]:
    """Text without leading whitespace, and the lines and columns that were dropped."""
    stripped = text.lstrip()
    prefix = text[: len(text) - len(stripped)]
    pieces = _NEWLINE.split(prefix)
    return stripped.rstrip(), len(pieces) - 1, len(pieces[-1])
