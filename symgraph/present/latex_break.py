r"""Line breaking for LaTeX equations: long right sides broken at top-level operators.

A formula wider than a paper's column runs into the margin (``Overfull
\hbox``).  This module breaks each right side of an ``align`` row the way
papers do, with no package beyond amsmath::

    \frac{\partial L}{\partial w} &= a + b \nonumber \\
    &\quad + c

Where it breaks, by preference: a sum at the top level (before ``+`` or
``-``), then between the top-level factors of a product (before ``\odot``,
``\cdot``, ``\times``, or at the space between two factors), then the same
inside the outermost bracket, then one bracket deeper, and so on: the rows
are chosen together, with the fewest deep breaks first.  Inside a
brace group (``\frac{…}{…}``, a script, a function's ``{\left(…\right)}``) it
never breaks: TeX cannot end an alignment row there.  A bracket broken across
rows is closed with ``\right.`` and reopened with ``\left.``.

Widths are estimated from the LaTeX source in points at 10 pt (glyphs and the
spaces TeX puts around operators; ``\left``, ``\mathrm`` and braces are
invisible; ``\frac`` is as wide as the wider of its numerator and denominator;
scripts at 75 %), in one scan with an explicit stack, never by recursion.  The
tests compile the results with pdflatex.

Examples
--------
>>> rows = break_rows([("y", " + ".join(f"a_{{{k}}} b_{{{k}}}" for k in range(30)))])
>>> len(rows.lines) > 1, rows.too_wide
(True, [])
>>> print(rows.lines[1][:30])
&\quad + a_{6} b_{6} + a_{7} b
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

COLUMN_WIDTH = 229.5  # pt: \columnwidth of \documentclass[twocolumn]{article} (10 pt, letter)
TAG_WIDTH = 25.0  # pt: an equation number "(12)" and its least distance from the formula
MAX_DEPTH = 8  # brackets deeper than this are not broken into (and keep the scan linear)
SAFETY = 0.97  # the estimates run up to 4 % short of TeX's widths (tests/test_latex_breaking.py)
WINDOW = 200  # break points one line may span (keeps the choice linear in the length)

TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|[^\\\s]", re.DOTALL)

FUNCTIONS = {
    *("sin", "cos", "tan", "cot", "sec", "csc", "sinh", "cosh", "tanh", "coth", "log", "ln"),
    *("exp", "max", "min", "det", "arg", "sup", "inf", "lim", "arcsin", "arccos", "arctan"),
}
BINARY = {"+", "-", r"\odot", r"\cdot", r"\times", r"\pm", r"\mp", r"\circ", r"\otimes"}
SUMS = {"+", "-", r"\pm", r"\mp"}
RELATIONS = {"=", "<", ">", r"\leq", r"\geq", r"\neq", r"\in", r"\approx", r"\equiv"}
INVISIBLE = {r"\left", r"\right", r"\displaystyle", r"\textstyle", r"\limits", r"\nonumber"}
# commands whose next brace group is a name: an operator's (shown) or an environment's
HEADS = {r"\operatorname": "head", r"\begin": "begin", r"\end": "end"}
SPACES = {r"\quad": 10.0, r"\qquad": 20.0, r"\,": 1.7, r"\:": 2.2, r"\;": 2.8, r"\ ": 3.3}
NOT_AN_OPERAND = {"^", "_", "}", "&", ")", "]", "!", "'", ",", r"\right", "\\\\"}

GLYPH, CAPITAL, DELIMITER, NULL_DELIMITER = 5.8, 8.2, 5.0, 1.2
BINARY_WIDTH, RELATION_WIDTH = 12.2, 13.4  # the glyph and the spaces TeX puts around it
SCRIPT = 0.75
ZERO = {
    *(r"\mathbf", r"\mathrm", r"\mathit", r"\mathbb", r"\mathcal", r"\boldsymbol", r"\text"),
    *(r"\frac", r"\operatorname", r"\begin", r"\end", "\\\\"),
}


def glyph_width(token: str) -> float:
    """The estimated width in points (10 pt, display style) of one token outside a script.

    >>> glyph_width("x"), glyph_width("W"), glyph_width(r"\\tanh"), glyph_width(r"\\left")
    (5.8, 8.2, 20.0, 0.0)
    """
    if token.isspace() or token in INVISIBLE or token in ZERO or token in "{}&^_":
        return 0.0
    if token in SPACES:
        return SPACES[token]
    if token.startswith("\\") and token[1:] in FUNCTIONS:
        return 5.0 * (len(token) - 1)
    if token in RELATIONS:
        return RELATION_WIDTH
    if token.startswith("\\"):
        return CAPITAL if token[1:2].isupper() else 6.0
    if token.isupper():
        return CAPITAL
    if token in "()[]":
        return DELIMITER
    return 2.8 if token in ",.;:!'|" else GLYPH


@dataclass
class _Frame:
    """One open brace group: its role, its scale (scripts are smaller) and its width so far."""

    role: str = "top"
    scale: float = 1.0
    width: float = 0.0
    expect: list = field(default_factory=list)  # roles of the brace groups that follow
    numerator: float = 0.0


@dataclass
class Scan:
    """A right side, scanned: its tokens, where it may break, and how wide each part is.

    ``offsets[i]`` is the top-level width before token ``i``.  ``breaks`` maps
    each token index it may break before to ``(rank, depth)``: ``depth`` the
    number of ``\\left`` brackets open there, rank ``2 depth`` before a sum's
    ``+``/``-`` and ``2 depth + 1`` between a product's factors.  ``inside``:
    the width of the innermost bracket around each break point (0 outside any).
    """

    tokens: list[str]
    offsets: list[float]
    breaks: dict[int, tuple[int, int]]
    inside: dict[int, float]

    @property
    def width(self) -> float:
        return self.offsets[-1]


def scan(tex: str) -> Scan:
    r"""Tokens, top-level widths and break points of ``tex``, in one pass.

    >>> s = scan(r"a + \frac{b + c}{d} \left(e - f\right)")
    >>> [(s.tokens[i], rank) for i, (rank, _) in s.breaks.items()]
    [('+', 0), (' ', 1), ('-', 2)]
    """
    tokens = TOKEN.findall(tex)
    offsets, breaks, inside = [0.0] * (len(tokens) + 1), {}, {}
    brackets: list[tuple[float, list[int]]] = []  # open at the top: (width before, breaks in it)
    stack = [_Frame()]
    depth = env = 0  # \left brackets open at the top level; \begin…\end open
    operand = False  # the last top-level token ends an operand (+ is binary, a space a product)
    delimiter = ""  # "\left" or "\right" just read: the next token is its delimiter
    for i, token in enumerate(tokens):
        frame = stack[-1]
        top = len(stack) == 1 and env == 0
        offsets[i] = stack[0].width
        if delimiter:
            frame.width += (NULL_DELIMITER if token == "." else DELIMITER) * frame.scale
            if top and delimiter == r"\left":
                depth += 1
                brackets.append((offsets[i - 1], []))
            elif top and brackets:
                depth -= 1
                before, points = brackets.pop()
                inside.update(dict.fromkeys(points, frame.width - before))
            operand = delimiter == r"\right" if top else operand
            delimiter = ""
        elif token == "{":
            role = frame.expect.pop(0) if frame.expect else "plain"
            scale = frame.scale * SCRIPT if role == "script" and frame.scale > 0.5 else frame.scale
            stack.append(_Frame(role=role, scale=scale))
        elif token == "}" and len(stack) > 1:
            done = stack.pop()
            parent = stack[-1]
            if done.role == "numerator":
                parent.numerator = done.width
            elif done.role == "denominator":
                parent.width += max(parent.numerator, done.width) + 2 * NULL_DELIMITER
            elif done.role not in ("begin", "end"):
                parent.width += done.width
            if len(stack) == 1:
                env += {"begin": 1, "end": -1}.get(done.role, 0)
                operand = done.role not in ("numerator", "head", "begin", "end")
        elif frame.expect and frame.expect[0] == "script" and not token.isspace():
            frame.expect.pop(0)  # a one-token script: x^2
            frame.width += glyph_width(token) * frame.scale * SCRIPT
        elif token in (r"\left", r"\right"):
            delimiter = token
        elif token in ("^", "_"):
            frame.expect.insert(0, "script")
        elif token == r"\frac":
            frame.expect[:0] = ["numerator", "denominator"]
        elif token in HEADS:
            frame.expect.insert(0, HEADS[token])
        elif token in BINARY:
            spaced = (operand or not top) and frame.scale == 1.0
            frame.width += (BINARY_WIDTH if spaced else 7.8) * frame.scale
            if top and operand and depth <= MAX_DEPTH:
                breaks[i] = (2 * depth + (token not in SUMS), depth)
                brackets[-1][1].append(i) if brackets else None
            if top:
                operand = not operand and token == r"\cdot"  # (\cdot) as a placeholder
        elif not top:
            frame.width += glyph_width(token) * frame.scale
        elif token.isspace():
            following = tokens[i + 1] if i + 1 < len(tokens) else "}"
            product = following not in BINARY and following not in RELATIONS
            if operand and product and following not in NOT_AN_OPERAND and depth <= MAX_DEPTH:
                breaks[i] = (2 * depth + 1, depth)
                brackets[-1][1].append(i) if brackets else None
        else:
            frame.width += glyph_width(token)
            named = token.startswith("\\") and token[1:] in FUNCTIONS
            operand = not (named or token in RELATIONS or token in ("(", "[", ",", "&"))
    offsets[-1] = stack[0].width
    return Scan(tokens, offsets, breaks, inside)


def estimate_width(tex: str) -> float:
    r"""The estimated width of ``tex`` in points, set in display style at 10 pt.

    >>> round(estimate_width(r"\frac{a + b}{c}"), 1)
    26.2
    """
    return scan(tex).width


@dataclass
class Rows:
    """Rows of an alignment, ready to join with ``\\\\``, and the ones still too wide.

    ``lines``: the rows' text, a broken right side over several rows;
    ``too_wide``: ``(row index, estimated width in points)`` of each row that
    does not fit even broken (a part that cannot break is wider than the column).
    """

    lines: list[str]
    too_wide: list[tuple[int, float]]
    starts: list[int]  # the index in ``lines`` where each row begins


def break_rows(
    rows: list[tuple[str, str]], width: float | None = COLUMN_WIDTH, numbered: bool = False
) -> Rows:
    r"""Break ``(left side, right side)`` rows of an ``align`` to fit ``width`` points.

    The left sides are one column, so each right side has ``width`` less the
    widest left side (and the equation number's room when ``numbered``); a
    broken row's continuation lines are numbered only on its last line.
    ``width=None`` keeps every row on one line.

    >>> rows = break_rows([("L", "x + y")])
    >>> rows.lines, rows.too_wide
    (['L &= x + y'], [])
    """
    if width is None:
        return Rows([f"{lhs} &= {rhs}" for lhs, rhs in rows], [], list(range(len(rows))))
    widest_left = max((estimate_width(lhs) for lhs, _ in rows), default=0.0)
    budget = SAFETY * (width - widest_left - (TAG_WIDTH if numbered else 0.0))
    lines, too_wide, starts = [], [], []
    for k, (lhs, rhs) in enumerate(rows):
        starts.append(len(lines))
        parts, widest = break_right_side(rhs, budget)
        if widest > budget:
            too_wide.append((k, widest + widest_left))
        tail = r" \nonumber" if numbered else ""
        lines.append(f"{lhs} &= {parts[0]}" + (tail if len(parts) > 1 else ""))
        lines += [f"&{part}{tail}" for part in parts[1:-1]]
        lines += [f"&{part}" for part in parts[1:][-1:]]
    return Rows(lines, too_wide, starts)


def break_right_side(tex: str, budget: float) -> tuple[list[str], float]:
    r"""``tex`` cut into lines of at most ``budget`` points where it can be, and the widest.

    Each line after the first starts with its indentation (``\quad`` before a
    top-level ``+``/``-``, ``\qquad`` otherwise) and reopens the brackets it is
    inside with ``\left.``; each line inside a bracket closes it with ``\right.``.

    >>> lines, widest = break_right_side(r"\left(a + b\right) c", budget=50)
    >>> lines
    ['\\left(a + b\\right)', '\\qquad c']
    """
    s = scan(tex)
    bounds = [0, *_choose(s, budget), len(s.tokens)]
    lines, widest = [], 0.0
    for a, b in zip(bounds, bounds[1:], strict=False):
        text = "".join(s.tokens[a:b]).strip()
        if a:
            rank, opened = s.breaks[a]
            text = (r"\quad " if rank == 0 else r"\qquad ") + r"\left. " * opened + text
        if b in s.breaks:
            text += r" \right." * s.breaks[b][1]
        widest = max(widest, _line_width(s, a, b))
        lines.append(text)
    return lines, widest


def _line_width(s: Scan, a: int, b: int) -> float:
    """A line's width: its tokens, the ``=`` or the indentation, and the null delimiters."""
    lead = RELATION_WIDTH if a == 0 else SPACES[r"\quad" if s.breaks[a][0] == 0 else r"\qquad"]
    nulls = (s.breaks.get(a, (0, 0))[1] + s.breaks.get(b, (0, 0))[1]) * NULL_DELIMITER
    return s.offsets[b] - s.offsets[a] + lead + nulls


def _choose(s: Scan, budget: float) -> list[int]:
    """The token indices to break before, chosen over the whole right side at once.

    The best set of breaks, compared in this order: the least width past the
    budget; then the fewest breaks of the deepest rank, then of the next, and so
    on down to top-level sums (a bracket is broken into only when the breaks
    outside it cannot make the lines fit); then breaks inside wider brackets
    (not ``[1 | - x]``); then the most even lines (the sum of the squared room
    left on every line but the last).  Found by dynamic
    programming over the break points; each line spans at most ``WINDOW`` of
    them, so the cost is linear in the formula's length.
    """
    points = [0, *sorted(s.breaks), len(s.tokens)]
    ranks = sorted({rank for rank, _ in s.breaks.values()}, reverse=True)
    slot = {rank: 1 + k for k, rank in enumerate(ranks)}
    zero = (0.0,) * (len(ranks) + 3)
    best: list[tuple | None] = [zero] + [None] * (len(points) - 1)
    back = [0] * len(points)
    for i, a in enumerate(points[:-1]):
        if best[i] is None:
            continue
        for j in range(i + 1, min(len(points), i + 1 + WINDOW)):
            b = points[j]
            width = _line_width(s, a, b)
            cost = list(best[i])
            cost[0] += max(0.0, width - budget)
            if j < len(points) - 1:
                cost[slot[s.breaks[b][0]]] += 1
                cost[-2] -= s.inside.get(b, 0.0)
                cost[-1] += max(0.0, budget - width) ** 2
            candidate = tuple(cost)
            if best[j] is None or candidate < best[j]:
                best[j], back[j] = candidate, i
            if width > budget:
                break
    cuts, j = [], len(points) - 1
    while j:
        j = back[j]
        cuts.append(points[j])
    return sorted(cuts[:-1])
