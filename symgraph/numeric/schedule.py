"""Which lines the generated code runs, in which order, and when each value is freed.

:func:`~symgraph.numeric.codegen.make_function` keeps only the lines an
output needs, drops those that only rename, schedules each line just before
its first use and frees every value after its last.

Examples
--------
>>> import sympy as sp
>>> x, t, u = sp.symbols("x t u")
>>> live_lines([(t, sp.sin(x)), (u, sp.cos(x))], outputs=[2 * t])
[(t, sin(x))]
>>> without_aliases([(t, x), (u, sp.sin(t))], inputs=[x])
([(u, sin(t))], {t: x})
"""

from __future__ import annotations

import sympy as sp

__all__ = ["is_name", "last_uses", "live_lines", "schedule", "without_aliases"]


def is_name(e: sp.Basic) -> bool:
    """A symbol the generated code names: a scalar ``Symbol`` or a ``MatrixSymbol``."""
    return isinstance(e, (sp.Symbol, sp.MatrixSymbol))


def live_lines(assignments, outputs, symbols=None):
    """The assignments some output depends on, in their order (dead code removed).

    ``symbols(expr)``: its free symbols (``expr.free_symbols``, which SymPy
    walks again on every call, unless the caller remembers them).
    """
    symbols = symbols or _free_symbols
    needed: set[sp.Basic] = set()
    for out in outputs:
        needed |= symbols(out)
    live = []
    for target, expr in reversed(assignments):
        if target in needed:
            live.append((target, expr))
            needed |= symbols(expr)
    return live[::-1]


def _free_symbols(expr: sp.Basic) -> set:
    return expr.free_symbols


def without_aliases(assignments, inputs):
    """Drop the lines that only rename (``δ_v = δ_c``) or hold a constant (``δ_L = 1``).

    Returns the remaining lines and ``alias``: target -> the input, kept target
    or number it stands for.  Printing then uses the source's name directly,
    with no symbolic substitution (which would re-evaluate every expression).
    """
    alias: dict[sp.Basic, sp.Basic] = {}
    known = set(inputs)
    kept = []
    for target, expr in assignments:
        source = alias.get(expr, expr)
        if source.is_Number or (is_name(source) and source in known):
            alias[target] = source
            continue
        known.add(target)
        kept.append((target, expr))
    return kept, alias


def schedule(assignments, outputs, uses):
    """Reorder so each line comes just before its first use (depth-first from the outputs).

    Computing a value right before it is consumed keeps few large arrays alive
    at once, which is what makes the generated code fast over big batches.
    """
    position = {target: k for k, (target, _) in enumerate(assignments)}
    needs = [
        sorted((s for s in uses(expr) if s in position), key=position.__getitem__)
        for _, expr in assignments
    ]
    order: list[int] = []
    done: set[int] = set()
    roots = [
        s
        for out in outputs
        for s in sorted((s for s in uses(out) if s in position), key=position.__getitem__)
    ]
    for root in roots:
        stack = [(position[root], iter(needs[position[root]]))]
        while stack:
            k, pending = stack[-1]
            child = next((position[c] for c in pending if position[c] not in done), None)
            if child is None:
                stack.pop()
                if k not in done:
                    done.add(k)
                    order.append(k)
            else:  # a DAG: the child cannot be on the stack already
                stack.append((child, iter(needs[child])))
    return [assignments[k] for k in order]


def last_uses(assignments, outputs, uses) -> list[list[sp.Basic]]:
    """For each line, the targets whose last use it is (never an output)."""
    keep = set().union(*(uses(out) for out in outputs)) if outputs else set()
    targets = {target for target, _ in assignments}
    last: dict[sp.Basic, int] = {}
    for k, (_, expr) in enumerate(assignments):
        for s in uses(expr):
            if s in targets:
                last[s] = k
    dead: list[list[sp.Basic]] = [[] for _ in assignments]
    for s, k in last.items():
        if s not in keep:
            dead[k].append(s)
    return [sorted(d, key=lambda s: s.name) for d in dead]
