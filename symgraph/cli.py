"""The command line: ``symgraph grad EXPR --wrt W... [--simplify] [--check] [--latex]``.

Text goes through :mod:`symgraph.parse` only (a whitelist; never ``eval``).
Exit status: 0 success, 1 a cross-check failed, 2 refused input (one line on
stderr, never a traceback).

Examples
--------
>>> main(["grad", "w*x", "--wrt", "w"])   # doctest: +NORMALIZE_WHITESPACE
expression: w*x
graph: 3 nodes, 2 edges, 2 leaves, 1 operations, depth 2
dL/dw = x
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .api import gradient
from .build import GRANULARITIES
from .check import check
from .compile import compile_gradient
from .errors import CheckError, SymgraphError
from .latex import gradient_latex
from .parse import parse_expr, parse_symbols

EXIT_OK, EXIT_CHECK_FAILED, EXIT_REFUSED = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with our exit status for bad usage (2) and a one-line message."""

    def error(self, message: str):  # noqa: D102 - argparse's own contract
        self.exit(EXIT_REFUSED, f"symgraph: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="symgraph", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"symgraph {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    grad = commands.add_parser("grad", help="closed-form partial derivatives by backpropagation")
    grad.add_argument("expr", help='the expression, e.g. "(tanh(w*x + b) - y)**2"')
    grad.add_argument("--wrt", nargs="+", metavar="W", help="weights (default: every symbol)")
    grad.add_argument("--granularity", choices=GRANULARITIES, default="op")
    grad.add_argument(
        "--simplify",
        nargs="?",
        const="fast",
        choices=("fast", "thorough"),
        help="simplify the closed forms (default strategy: fast)",
    )
    grad.add_argument(
        "--budget", type=float, default=5.0, help="seconds per expression for --simplify thorough"
    )
    grad.add_argument(
        "--structured", action="store_true", help="also print the δ-equations (structured form)"
    )
    grad.add_argument(
        "--check",
        action="store_true",
        help="cross-check against finite differences, complex step, sympy.diff",
    )
    grad.add_argument("--latex", action="store_true", help="print the LaTeX (align)")
    grad.add_argument("--python", action="store_true", help="print the generated NumPy code")
    return parser


def _grad(args: argparse.Namespace) -> int:
    expr = parse_expr(args.expr)
    if args.wrt is None:
        wrt = None
    else:
        wrt = parse_symbols(args.wrt)
        names = {s.name for s in expr.free_symbols}
        absent = [w.name for w in wrt if w.name not in names]
        if absent:
            raise SymgraphError(f"--wrt: {', '.join(absent)} does not appear in the expression")
    grad = gradient(expr, wrt=wrt, granularity=args.granularity)
    size = grad.graph.size
    print(f"expression: {expr}")
    print(
        f"graph: {size['nodes']} nodes, {size['edges']} edges, {size['leaves']} leaves, "
        f"{size['operations']} operations, depth {size['depth']}"
    )
    if args.simplify:
        grad = grad.simplify(
            strategy=args.simplify, budget=args.budget, progress=args.simplify == "thorough"
        )
    if args.structured:
        for lhs, rhs in grad.equations:
            print(f"{lhs} = {rhs}")
    print(grad)
    status = EXIT_OK
    if args.check:
        report = check(grad)
        print(report)
        status = EXIT_OK if report.ok else EXIT_CHECK_FAILED
    if args.latex:
        print(gradient_latex(grad))
    if args.python:
        print(compile_gradient(grad).source)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _grad(args)
    except CheckError as err:
        print(f"symgraph: check failed: {err}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except SymgraphError as err:
        print(f"symgraph: error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except RecursionError:
        print("symgraph: error: the expression is too deeply nested", file=sys.stderr)
        return EXIT_REFUSED
