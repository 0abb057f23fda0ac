"""What each command does: build the graph from the text, then print, draw, explain or view.

Every refusal is a :class:`~symgraph.errors.SymgraphError` with a one-line
message; :func:`symgraph.cli.main` prints it and exits with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

import sympy as sp

from ..ad.backward import backward
from ..core.graph import Graph
from ..core.sizes import PRINT_MAX_DEPTH, PRINT_MAX_NODES, STRUCTURED_MAX_NODES
from ..errors import EvaluationError, ParseError, SymgraphError
from ..numeric.check import check
from ..numeric.compile import check_shapes, declared_shapes, values_at
from ..parse import (
    FUNCTIONS,
    MATRIX_FUNCTIONS,
    parse_assignments,
    parse_expr,
    parse_matrices,
    parse_matrix_point,
    parse_point,
    parse_symbols,
)
from ..present.cli_output import printable, read_text, shorten, write_text
from ..present.draw import MAX_RENDERED_NODES, render, to_dot
from ..present.explain import explain
from ..present.latex import paper_text
from ..present.view import view
from .parser import EXIT_CHECK_FAILED, EXIT_OK, MATRIX_EXAMPLE

MAX_CHECK_ENTRIES = 2_500  # matrix entries --check differentiates one by one (50×50)
MAX_LISTED_STEPS = 2_000  # explain lists at most about this many path steps


def _matrices(args: argparse.Namespace) -> dict | None:
    """The ``--matrix`` declarations, checked (None without the option)."""
    declarations = getattr(args, "matrix", None)
    if declarations is None:
        return None
    try:
        return parse_matrices(declarations)
    except SymgraphError as err:
        if args.expr is None and args.file is None and "=" not in declarations[-1]:
            raise SymgraphError(f"--matrix: {err} (put the expression before --matrix)") from None
        raise SymgraphError(f"--matrix: {err}") from None


_NAME = re.compile(r"[A-Za-z_]\w*")
_WHERE = re.compile(r" at ((?:line \d+, )?column \d+)")
_UNKNOWN = re.compile(r"^unknown function '(\w+)'")


def _parsed(parse, text: str, matrices: dict | None, command: str):
    """``parse(text)``; matrix syntax without ``--matrix`` is refused with the fix, briefly."""
    try:
        return parse(text, matrices=matrices)
    except ParseError as err:
        if matrices is None:
            message = _matrix_refusal(text, str(err), command)
            if message is not None:
                raise SymgraphError(message) from None
        raise


def _matrix_refusal(text: str, message: str, command: str) -> str | None:
    """One short line for matrix syntax in a scalar model (``@``, ``.T``, ``sum(W)``), else None.

    An unknown function with no close name points to the list in ``--help``;
    in text with capitalized names (``W``, ``X``: matrices, as papers write
    them) it suggests ``--matrix`` too.
    """
    where = _WHERE.search(message)
    at = f" ({where[1]})" if where else ""
    fix = f"add e.g. {MATRIX_EXAMPLE}"
    unknown = _UNKNOWN.match(message)
    if unknown and unknown[1] in MATRIX_FUNCTIONS:
        return f"{unknown[1]}() needs declared matrices{at}: {fix}"
    for syntax in ("'@'", "'.T'"):
        if f"{syntax} needs declared matrices" in message:
            return f"{syntax} needs declared matrices{at}: {fix}"
    if unknown and "did you mean" not in message:
        listed = f"the functions are listed in symgraph {command} --help"
        names = set(_NAME.findall(text)) - set(FUNCTIONS) - {"Piecewise", "E"}
        if any(name[0].isupper() for name in names):
            listed = f"for matrices {fix}; {listed}"
        return f"unknown function '{unknown[1]}'{at}; {listed}"
    return None


def _weights(names: Sequence[str], known: dict[str, sp.Basic], sizes: set[str]) -> list:
    """The ``--wrt`` names as the model's own symbols (a matrix name gives its MatrixSymbol)."""
    wrt = []
    for symbol in parse_symbols(names):
        if symbol.name in sizes:
            raise SymgraphError(f"--wrt: {symbol.name} is a matrix size, not a weight")
        wrt.append(known.get(symbol.name, symbol))
    return wrt


def _graph(args: argparse.Namespace) -> Graph:
    """The graph of the command's model (expression or assignments file), weights checked."""
    matrices = _matrices(args)
    if (args.expr is None) == (args.file is None):
        raise SymgraphError("give either an expression or --file, not both or neither")
    if args.granularity is None:  # the user's own steps are the nodes of a file
        args.granularity = "named" if args.file is not None else "op"
    if args.file is not None:
        assignments = _parsed(parse_assignments, read_text(args.file), matrices, args.command)
        free = {s for _, rhs in assignments for s in rhs.free_symbols}
        free -= {name for name, _ in assignments}
        build = lambda wrt: Graph.from_assignments(assignments, wrt, args.granularity)  # noqa: E731
    else:
        expr = _parsed(parse_expr, args.expr, matrices, args.command)
        odd = [str(c) for c in (sp.zoo, sp.nan, sp.I, sp.oo) if expr.has(c)]
        if odd:  # 1/0 gives zoo, sqrt(-1) gives I: no real function to differentiate
            raise SymgraphError(
                f"{shorten(expr)} is not a finite real function: it contains {odd[0]}"
            )
        free = set(expr.free_symbols)
        build = lambda wrt: Graph.from_expr(expr, wrt, args.granularity)  # noqa: E731
    sizes = {
        d.name
        for s in free
        if isinstance(s, sp.MatrixSymbol)
        for dim in s.shape
        for d in sp.Tuple(dim).free_symbols
    }
    known = {s.name: s for s in free if isinstance(s, (sp.Symbol, sp.MatrixSymbol))}
    if matrices is not None and args.granularity == "fine":
        raise SymgraphError("--granularity fine is for scalar models; matrix graphs use op")
    wrt = None
    if args.wrt is not None:
        wrt = _weights(args.wrt, known, sizes if matrices is not None else set())
        absent = [w.name for w in wrt if w.name not in known]
        if absent:
            raise SymgraphError(
                f"--wrt: {shorten(', '.join(absent))} does not appear in the expression"
            )
    return build(wrt)


def _print_size(graph: Graph, matrices: bool = False) -> None:
    size = graph.size
    fits, total = printable([graph.expr])
    shown = (paper_text(graph.expr) if matrices else graph.expr) if fits else _too_large(total)
    print(f"expression: {shown}")
    print(
        f"graph: {size['nodes']} nodes, {size['edges']} edges, {size['leaves']} leaves, "
        f"{size['operations']} operations, depth {size['depth']}"
    )


def _too_large(total: int) -> str:
    return (
        f"(not printed: over {PRINT_MAX_NODES} terms or {PRINT_MAX_DEPTH} levels deep, "
        f"{total} terms counted)"
    )


def _grad(args: argparse.Namespace) -> int:
    graph = _graph(args)
    matrices = args.matrix is not None
    if matrices and args.check:
        _check_size(graph)
    _print_size(graph, matrices)
    progress = args.progress and sys.stderr.isatty()
    grad = backward(graph, progress=progress)
    if args.simplify and not matrices:  # --simplify keeps the matrix forms: nothing to do
        grad = grad.simplify(
            strategy=args.simplify,
            budget=args.budget,
            progress=progress or args.simplify == "thorough",
        )
    show = paper_text if matrices else str
    closed_printed = _print_gradient(grad, args.structured, show, progress, args.max_terms)
    return _report(args, grad, closed_printed)


def _check_size(graph: Graph) -> None:
    """Refuse ``--check`` of matrices too large to differentiate entry by entry."""
    entries = 0
    for leaf in graph.leaves:
        rows, cols = (int(d) if d.is_Integer else 3 for d in getattr(leaf, "shape", (1, 1)))
        entries += rows * cols
        if entries > MAX_CHECK_ENTRIES:
            raise SymgraphError(
                f"--check: the matrices have more than {MAX_CHECK_ENTRIES} entries "
                f"({leaf} is {rows}×{cols}); check the same model at a smaller size "
                "(e.g. W=4x4, or a size name: W=nxn), the gradient's form is the same"
            )


def _print_gradient(
    grad, structured: bool, show, progress: bool = False, max_terms: int | None = None
) -> bool:
    """The closed forms, or the δ-equations when those are too large to print.

    Returns whether the closed forms were printed.
    """
    reason = grad.unprintable_reason(max_terms)  # measured before any closed form is built
    fits = reason is None
    if structured or not fits:
        if not fits:
            print(f"note: {reason}")
        _print_structured(grad, show, with_nodes=not fits)
    if fits:
        for w, e in grad.closed_forms(progress=progress).items():
            print(f"∂{grad.output}/∂{w} = {show(e)}")
    return fits


def _print_structured(grad, show, with_nodes: bool) -> None:
    """Node definitions (when the closed forms are not shown), δ-equations, one per line."""
    lines = []
    if with_nodes:
        graph = grad.graph
        lines = [(n, graph.op(n)) for n in graph.topological_order() if graph.op(n) is not None]
    lines += list(grad.equations)
    budget = STRUCTURED_MAX_NODES
    for k, (lhs, rhs) in enumerate(lines):
        fits, used = printable([rhs], budget)
        if not fits:
            print(
                f"note: {len(lines) - k} more lines not printed (over {STRUCTURED_MAX_NODES} "
                "terms): choose fewer weights with --wrt, or --python for the code"
            )
            break
        budget -= used
        print(f"{show(lhs)} = {show(rhs)}")
    if with_nodes:
        for w, d in grad.adjoints.items():
            print(f"∂{grad.output}/∂{w} = {show(d)}")


def _report(args: argparse.Namespace, grad, closed_printed: bool = True) -> int:
    """What ``grad`` prints after the gradients: the check, the LaTeX, the code."""
    status = EXIT_OK
    if args.check:
        report = check(grad)
        print(report)
        status = EXIT_OK if report.ok else EXIT_CHECK_FAILED
    if args.latex:
        if closed_printed:
            print(grad.latex())
        if args.structured or not closed_printed:
            fits, _ = printable([rhs for _, rhs in grad.equations])
            if fits:
                print(grad.latex(form="structured"))
            else:
                print("note: the LaTeX is too large to print; --python gives the code")
    if args.python:
        print(grad.source("python"))
    if args.c:
        print(grad.source("c"))
    return status


def _point(grad, text: str | None, parse=parse_point):
    if text is None:
        return None
    point = parse(text)
    missing = sorted(s.name for s in grad.graph.leaves if s.name not in point)
    if missing:
        raise SymgraphError(f"--at: no value for {', '.join(missing)}")
    return point


def _at(grad, args: argparse.Namespace):
    """The ``--at`` point: numbers, or with ``--matrix`` arrays checked against the shapes."""
    if args.matrix is not None:
        return _matrix_point(grad, args.at)
    return _point(grad, args.at)


def _matrix_point(grad, text: str | None):
    """``--at`` with matrices: ``W=[[1,2,3],[4,5,6]],c=0.5``, shapes checked against the model."""
    point = _point(grad, text, parse_matrix_point)
    if point is None:
        return None
    leaves = grad.graph.leaves
    try:  # the compiled function's own check: declared shapes, one value per size
        arrays = check_shapes(leaves, [point[s.name] for s in leaves], declared_shapes(leaves))
    except EvaluationError as err:
        raise SymgraphError(f"--at: {err}") from None
    return {s.name: a for s, a in zip(leaves, arrays, strict=True)}


def _draw(args: argparse.Namespace) -> int:
    graph = _graph(args)
    grad = backward(graph)
    point = _at(grad, args)
    forward, delta = values_at(grad, point) if point is not None else (None, None)
    highlight = None
    if args.highlight is not None:
        (highlight,) = parse_symbols([args.highlight])
        by_name = {str(node): node for node in graph.nx}
        highlight = by_name.get(highlight.name, highlight)
        if highlight not in graph.nx:
            raise SymgraphError(f"--highlight: {shorten(highlight)} is not a node of the graph")
    nodes = graph.size["nodes"]
    if nodes > MAX_RENDERED_NODES and not args.output.endswith(".dot"):
        raise SymgraphError(
            f"the graph has {nodes} nodes; Graphviz lays out at most about "
            f"{MAX_RENDERED_NODES} in reasonable time: write -o graph.dot, "
            "or draw a coarser graph (--granularity named with --file)"
        )
    dot = to_dot(graph, forward, delta, highlight=highlight)
    if args.output.endswith(".dot"):
        write_text(args.output, dot + "\n")
    else:
        render(dot, args.output)
    _print_size(graph, matrices=args.matrix is not None)
    print(f"wrote {args.output}")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    graph = _graph(args)
    if len(graph.wrt) != 1:
        raise SymgraphError("explain needs exactly one weight: --wrt W")
    grad = backward(graph)
    point = _at(grad, args)
    # fewer paths listed when they are long (the δ-form below is always complete)
    max_paths = max(1, min(50, MAX_LISTED_STEPS // graph.size["depth"]))
    walk = explain(grad, graph.wrt[0], at=point, max_paths=max_paths)
    print({"text": walk.text, "markdown": walk.markdown, "latex": walk.latex}[args.format]())
    return EXIT_OK


def _view(args: argparse.Namespace) -> int:
    graph = _graph(args)
    grad = backward(graph)
    page = view(grad, at=_at(grad, args))
    write_text(args.output, page.html)
    _print_size(graph, matrices=args.matrix is not None)
    print(f"wrote {args.output}")
    return EXIT_OK


COMMANDS = {"grad": _grad, "draw": _draw, "explain": _explain, "view": _view}
