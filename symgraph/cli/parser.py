"""The command line's arguments: every option with its help, its default and examples.

Help is plain text (no reST), every option says what it does and its default,
and each command ends with examples that run as written (tests/test_cli_help.py
runs every one).
"""

from __future__ import annotations

import argparse
import math
import shutil
import textwrap

from .. import __version__
from ..build.inputs import GRANULARITIES
from ..core.sizes import PRINT_MAX_NODES
from ..numeric.simplify import DEFAULT_BUDGET
from ..parse import FUNCTIONS, MATRIX_FUNCTIONS
from ..present.cli_output import shorten

EXIT_OK, EXIT_CHECK_FAILED, EXIT_REFUSED = 0, 1, 2
LOSS = '"(tanh(w*x + b) - y)**2"'
POINT = "w=1,x=0.5,b=0.1,y=0.2"
#: What a matrix declaration looks like, in help and in the hint for '@' without one.
MATRIX_EXAMPLE = "--matrix W=2x3 x=3x1"

DESCRIPTION = """\
symgraph: closed-form partial derivatives by backpropagation through a computational graph.
Expressions are read by a safe parser (never eval). Run "symgraph COMMAND --help"
for a command's options and examples."""

TOP_EXAMPLES = f"""\
examples:
  symgraph grad {LOSS} --wrt w b --check
  symgraph draw {LOSS} --wrt w -o graph.svg --at {POINT}
  symgraph explain {LOSS} --wrt w --at {POINT}
  symgraph view {LOSS} --wrt w b -o page.html

exit status: 0 success, 1 a --check found a disagreement, 2 refused input (one line on stderr)"""

MODEL_FILE = """\
      # model.txt holds one assignment per line:
      #   z1 = w1*x + b1
      #   a1 = tanh(z1)
      #   L = (a1 - y)**2"""


def _wrapped(title: str, names) -> str:
    body = textwrap.fill(" ".join(names), width=76, initial_indent="  ", subsequent_indent="  ")
    return f"{title}\n{body}"


GRAD_EXAMPLES = f"""\
examples:
  symgraph grad {LOSS} --wrt w b
  symgraph grad {LOSS} --wrt w b --simplify --check --latex
  symgraph grad "sin(w*x)" --wrt w --structured --python
  symgraph grad "sum(softmax(W @ x))" --wrt W {MATRIX_EXAMPLE}
  symgraph grad --file model.txt --wrt w1 b1 --structured
{MODEL_FILE}

{_wrapped("functions:", sorted(FUNCTIONS, key=str.lower))}
  Piecewise((expr, cond), ..., (expr, True)) and where(cond, a, b)
{_wrapped("with --matrix also:", MATRIX_FUNCTIONS)}
  A @ B, A.T, and any function above applied entrywise to one matrix"""

DRAW_EXAMPLES = f"""\
examples:
  symgraph draw {LOSS} --wrt w b -o graph.dot --highlight w
  symgraph draw {LOSS} --wrt w b -o graph.svg --at {POINT}
  symgraph draw "trace(X.T @ X)/n" --matrix X=nx2 -o matrix.svg --at "X=[[1, 2], [3, 4]]\""""

EXPLAIN_EXAMPLES = f"""\
examples:
  symgraph explain {LOSS} --wrt w
  symgraph explain {LOSS} --wrt w --at {POINT}
  symgraph explain {LOSS} --wrt b --at {POINT} --format markdown"""

VIEW_EXAMPLES = f"""\
examples:
  symgraph view {LOSS} --wrt w b -o page.html
  symgraph view {LOSS} --wrt w b --at {POINT} -o page.html

Open the page in a browser; it works offline."""


class _Parser(argparse.ArgumentParser):
    """argparse with our exit status for bad usage (2) and a one-line message."""

    def error(self, message: str):  # noqa: D102 - argparse's own contract
        self.exit(EXIT_REFUSED, f"symgraph: error: {shorten(message)}\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples printed as written; option help wrapped as usual."""

    def __init__(self, prog: str):
        columns = shutil.get_terminal_size().columns - 2
        super().__init__(prog, max_help_position=28, width=max(60, min(columns, 100)))


def _command(commands, name: str, summary: str, examples: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=summary,
        description=f"symgraph {name}: {summary}.",
        epilog=examples,
        formatter_class=_Formatter,
    )


def _add_source(command: argparse.ArgumentParser) -> None:
    """The model: an expression, or a file of named assignments (one per line)."""
    command.add_argument("expr", nargs="?", help=f"the expression, e.g. {LOSS}")
    command.add_argument(
        "--file",
        metavar="PATH",
        help="read named assignments (z1 = w1*x + b1, one per line) instead of EXPR",
    )
    command.add_argument(
        "--wrt",
        nargs="+",
        metavar="W",
        help="the weights to differentiate by (default: every symbol, sorted by name)",
    )
    command.add_argument(
        "--granularity",
        choices=GRANULARITIES,
        help="a node per operation (op), per elementary operation (fine), or per assigned "
        "name (named) (default: op for an expression, named with --file)",
    )


def _add_matrices(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--matrix",
        nargs="+",
        metavar="NAME=RxC",
        help="declare matrices, e.g. W=2x3 x=3x1 or X=nxd (n, d: size names); put the "
        "expression before this option (default: every name is a scalar)",
    )


def _add_point(command: argparse.ArgumentParser, what: str, default: str) -> None:
    command.add_argument(
        "--at",
        metavar="POINT",
        help=f"{POINT} (with --matrix: W=[[1,2],[3,4]]): {what} (default: {default})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``symgraph`` parser: four commands, each with its options and examples."""
    parser = _Parser(
        prog="symgraph", description=DESCRIPTION, epilog=TOP_EXAMPLES, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"symgraph {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", parser_class=_Parser
    )
    grad = _command(
        commands, "grad", "closed-form partial derivatives by backpropagation", GRAD_EXAMPLES
    )
    _add_source(grad)
    _add_matrices(grad)
    grad.add_argument(
        "--simplify",
        nargs="?",
        const="fast",
        choices=("fast", "thorough"),
        help="simplify the closed forms; thorough adds sympy.simplify (--simplify alone: "
        "fast; default: not simplified)",
    )
    grad.add_argument(
        "--budget",
        type=_seconds,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"wall-clock time for the whole --simplify (default: {DEFAULT_BUDGET:g} s)",
    )
    grad.add_argument(
        "--structured",
        action="store_true",
        help="also print the δ-equations, the structured form (default: closed forms only)",
    )
    grad.add_argument(
        "--check",
        action="store_true",
        help="cross-check against finite differences, complex step and sympy.diff "
        "(default: no check)",
    )
    grad.add_argument(
        "--max-terms",
        type=_count,
        metavar="N",
        help="print closed forms up to N terms in all; larger gradients print their "
        f"δ-equations instead (default: {PRINT_MAX_NODES})",
    )
    grad.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars on standard error (default: shown when it is a terminal)",
    )
    grad.add_argument(
        "--latex", action="store_true", help="also print the LaTeX, an align environment"
    )
    grad.add_argument(
        "--python",
        action="store_true",
        help="also print a self-contained Python module: value_and_grad(<arguments>) on NumPy",
    )
    grad.add_argument(
        "--c",
        action="store_true",
        help="also print a C99 file: int symgraph_value_and_grad(const double *args, "
        "double *out) (matrix sizes must be numbers)",
    )
    draw = _command(commands, "draw", "draw the graph (DOT, SVG, PNG or PDF)", DRAW_EXAMPLES)
    _add_source(draw)
    _add_matrices(draw)
    draw.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="where to write: graph.dot, graph.svg, graph.png or graph.pdf (required; "
        "all but .dot need Graphviz)",
    )
    _add_point(draw, "show values and adjoints there", "no numbers")
    draw.add_argument(
        "--highlight",
        metavar="W",
        help="draw this weight's paths to the output in color (default: none)",
    )
    explain = _command(
        commands, "explain", "the chain rule step by step for one weight", EXPLAIN_EXAMPLES
    )
    _add_source(explain)
    _add_matrices(explain)
    _add_point(explain, "the numbers at that point", "symbols only")
    explain.add_argument(
        "--format",
        choices=("text", "markdown", "latex"),
        default="text",
        help="plain text, Markdown or LaTeX (default: text)",
    )
    view = _command(
        commands,
        "view",
        "one self-contained interactive HTML page: the graph, the δs, the backward pass",
        VIEW_EXAMPLES,
    )
    _add_source(view)
    _add_matrices(view)
    view.add_argument(
        "-o", "--output", required=True, metavar="PAGE", help="where to write: page.html (required)"
    )
    _add_point(view, "the starting point, editable in the page", "every leaf 0.5")
    return parser


def _count(text: str) -> int:
    """A ``--max-terms``: a positive whole number."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _seconds(text: str) -> float:
    """A ``--budget``: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shorten(text, 40)!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"{shorten(text, 40)} is not a positive, finite number of seconds "
            f"(e.g. --budget {DEFAULT_BUDGET:g})"
        )
    return value
