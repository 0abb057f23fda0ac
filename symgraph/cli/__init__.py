"""The command line: ``symgraph grad|draw|explain|view EXPR --wrt W...`` (or ``--file model.txt``).

``grad``, ``draw``, ``explain`` and ``view`` take ``--matrix W=2x3 x=3x1 X=nxd``: those names are
matrices (see :func:`symgraph.parse.parse_matrices`) and the gradient is
printed in matrix form (``∂L/∂W = ...``).

Text goes through :mod:`symgraph.parse` only (a whitelist; never ``eval``).
Exit status: 0 success, 1 a cross-check failed, 2 refused input (one line on
stderr, never a traceback). A bare ``symgraph`` prints the help on standard
output, one line on standard error, and exits with 2.

The modules: ``parser`` (the options, their help and examples) and
``commands`` (what each command does).

Examples
--------
>>> main(["grad", "w*x", "--wrt", "w"])   # doctest: +NORMALIZE_WHITESPACE
expression: w*x
graph: 3 nodes, 2 edges, 2 leaves, 1 operations, depth 2
∂L/∂w = x
0
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ..errors import CheckError, SymgraphError
from ..present.cli_output import shorten
from .commands import COMMANDS, MAX_CHECK_ENTRIES, MAX_LISTED_STEPS
from .parser import EXIT_CHECK_FAILED, EXIT_OK, EXIT_REFUSED, build_parser

__all__ = [
    "COMMANDS",
    "EXIT_CHECK_FAILED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "MAX_CHECK_ENTRIES",
    "MAX_LISTED_STEPS",
    "build_parser",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `symgraph`: what it can do, then the usual refusal
        parser.print_help(sys.stdout)
        print(f"symgraph: error: choose a command: {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_REFUSED
    try:
        return COMMANDS[args.command](args)
    except CheckError as err:
        print(f"symgraph: check failed: {err}", file=sys.stderr)
        return EXIT_CHECK_FAILED
    except SymgraphError as err:
        print(f"symgraph: error: {shorten(err, 500)}", file=sys.stderr)
        return EXIT_REFUSED
    except RecursionError:
        print("symgraph: error: the expression is too deeply nested", file=sys.stderr)
        return EXIT_REFUSED
    except MemoryError:
        print("symgraph: error: out of memory: try a smaller model or size", file=sys.stderr)
        return EXIT_REFUSED
    except BrokenPipeError:  # the reader (| head) left: nothing more to say
        sys.stdout = None
        return EXIT_OK
    except Exception as err:  # noqa: BLE001 - the last resort: never a traceback
        print(
            f"symgraph: internal error: {type(err).__name__}: {shorten(err)} "
            "(please report this, with the command line)",
            file=sys.stderr,
        )
        return EXIT_REFUSED
