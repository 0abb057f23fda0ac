"""How big an expression is, measured without recursion, whether it prints, and its shape.

SymPy's printers and rewriters recurse once per level of the expression tree
and write out every shared part again each time it is used.  A closed form of a
deep chain (``tanh(w*tanh(w*...))``, two hundred levels) overflows Python's
stack when printed; one of a product of hundreds of factors prints megabytes.
``tree_shape`` measures both, at a cost bounded by its ``limit``, so that a
caller can decide before it prints.

Examples
--------
>>> import sympy as sp
>>> x, w = sp.symbols("x w")
>>> tree_shape(sp.tanh(w * x + 1))
(6, 4)
>>> too_big_to_print(sp.tanh(w * x + 1)) is None
True
"""

from __future__ import annotations

import sympy as sp

# SymPy's str printer overflows the default stack a little past 200 tree levels
PRINT_MAX_DEPTH = 100
# about 100 kB of text: more is not read by anyone, and takes seconds to print
PRINT_MAX_NODES = 10_000
# the structured form (one short equation per node) may be longer, but not without end
STRUCTURED_MAX_NODES = 10 * PRINT_MAX_NODES
# ... for this many equations; a longer graph's budget grows with it (linear: about 100
# nodes an equation), so that only equations too big each, not many of them, are refused
STRUCTURED_EQUATIONS = 1_000


# SymPy's evaluation walks an expression as a tree (assumptions, expand, flattening):
# expressions larger than this as a tree, and SHARING times larger than their distinct
# parts (shared layers, not a wide sum), are built unevaluated (same values)
EVALUATED_TERMS = PRINT_MAX_NODES
SHARING = 8
TREE_CAP = 2**62  # tree sizes past any limit are kept at this (no huge integers summed)

SHOWN = 60  # characters of a user's value that an error message repeats
SHOWN_TERMS = 200  # printing walks the whole tree: larger expressions are only named


def shown(value: object, limit: int = SHOWN) -> str:
    """``value`` for an error message: one line, at most ``limit`` characters.

    ``repr`` (``str`` for a SymPy object); an expression of more than
    :data:`SHOWN_TERMS` terms, a long list, or a value that cannot print (too
    deep, an integer over 4,300 digits) is only named, never printed.

    >>> shown("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
    """
    if isinstance(value, sp.Basic) and tree_shape(value, SHOWN_TERMS)[0] > SHOWN_TERMS:
        return f"<a {type(value).__name__} of more than {SHOWN_TERMS} terms>"
    if isinstance(value, (list, tuple, dict)) and len(value) > limit:
        return f"<a {type(value).__name__} of {len(value)} items>"
    try:
        text = str(value) if isinstance(value, sp.Basic) else repr(value)
    except (RecursionError, ValueError):  # a deep expression, an integer over 4,300 digits
        text = f"<a {type(value).__name__} too large to show>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tree_shape(expr: sp.Basic, limit: int | None = None) -> tuple[int, int]:
    """(number of nodes, depth) of ``expr`` as a tree, without recursion.

    Counting stops past ``limit`` nodes (the size returned is then ``limit + 1``).

    >>> import sympy as sp
    >>> tree_shape(sp.Symbol("x") + 1)
    (3, 2)
    """
    count, depth, stack = 0, 0, [(expr, 1)]
    while stack:
        e, level = stack.pop()
        count += 1
        depth = max(depth, level)
        if limit is not None and count > limit:
            break
        stack.extend((a, level + 1) for a in e.args)
    return count, depth


def worth_evaluating(tree: int, parts: int) -> bool:
    """Whether SymPy's evaluation of an expression of ``tree`` terms as a tree and ``parts``
    distinct parts costs about its size: small, or shared little (a wide sum, not a
    residual network's ``h + tanh(w*h)``, whose tree doubles with each layer).

    >>> worth_evaluating(12_000, 12_000), worth_evaluating(2**25, 100)
    (True, False)
    """
    return tree <= EVALUATED_TERMS or tree <= SHARING * parts


def shared_tree_size(expr: sp.Basic, known: dict | None = None, memo: dict | None = None) -> int:
    """``expr``'s size as a tree, each shared part measured once (linear in its DAG).

    ``known`` gives the size of some subexpressions (node symbols standing for
    their expressions); ``memo`` (by ``id``) may be shared by several calls on
    expressions that share parts, so that together they stay linear: its length
    is then the number of distinct parts seen.  No recursion; parts are told
    apart by identity, as comparing equal deep parts would recurse.

    >>> import sympy as sp
    >>> e = sp.Symbol("x")
    >>> for _ in range(40): e = sp.Mul(e, e, evaluate=False)
    >>> shared_tree_size(e) == 2**41 - 1
    True
    """
    known = {} if known is None else known
    return _bottom_up(
        expr,
        {} if memo is None else memo,
        lambda e: known.get(e, 1) if not e.args or e in known else None,
        lambda sizes: min(1 + sum(sizes), TREE_CAP),
    )


def expression_depth(expr: sp.Basic) -> int:
    """Levels of ``expr`` (a symbol is 1), each shared part measured once; no recursion.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> expression_depth(sp.sin(x) + 1), expression_depth(x)
    (3, 1)
    """
    return _bottom_up(expr, {}, lambda e: None if e.args else 1, lambda depths: 1 + max(depths))


def _bottom_up(expr: sp.Basic, memo: dict, leaf, combine) -> int:
    """A measure of ``expr`` from its parts', each distinct part (by ``id``) once; no recursion.

    ``leaf(e)`` is a part's own measure, or None to combine its arguments' with ``combine``.
    """
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in memo:
            continue
        own = leaf(e)
        if own is not None:
            memo[id(e)] = own
        elif not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) not in memo)
        else:
            memo[id(e)] = combine(memo[id(a)] for a in e.args)
    return memo[id(expr)]


def substituted_shapes(steps, cap: int) -> dict:
    """(size, depth) of each step's right side with earlier steps' values put in, unbuilt.

    ``steps`` are ``(symbol, right side)`` pairs, each right side in the symbols
    of earlier steps; the shapes are what :func:`tree_shape` would measure on
    the substituted expressions (before SymPy merges any terms), found in one
    walk of each right side.  Sizes are capped at ``cap + 1``.

    >>> import sympy as sp
    >>> a, b, x = sp.symbols("a b x")
    >>> substituted_shapes([(a, x + 1), (b, a**2)], cap=100)[b]  # (x + 1)**2
    (5, 3)
    """
    shapes: dict = {}
    for lhs, rhs in steps:
        size, depth, stack = 0, 0, [(rhs, 1)]
        while stack and size <= cap:
            e, level = stack.pop()
            known = shapes.get(e)
            if known is not None:
                size += known[0]
                depth = max(depth, level - 1 + known[1])
                continue
            size += 1
            depth = max(depth, level)
            stack.extend((a, level + 1) for a in e.args)
        shapes[lhs] = (min(size, cap + 1), depth)
    return shapes


def too_big_to_print(
    expr: sp.Basic, max_nodes: int = PRINT_MAX_NODES, max_depth: int = PRINT_MAX_DEPTH
) -> str | None:
    """Why ``expr`` is too big to print (a short phrase), or None when it is not.

    >>> import sympy as sp
    >>> e = sp.Symbol("x")
    >>> for _ in range(60): e = sp.tanh(e + 1, evaluate=False)
    >>> too_big_to_print(e)
    'depth 121 > 100'
    """
    size, depth = tree_shape(expr, max_nodes)
    if size > max_nodes:
        return f"more than {max_nodes} nodes written out"
    if depth > max_depth:
        return f"depth {depth} > {max_depth}"
    return None


def is_matrix(e: object) -> bool:
    """True for a matrix-valued expression.

    >>> import sympy as sp
    >>> is_matrix(sp.MatrixSymbol("W", 2, 3)), is_matrix(sp.Symbol("w"))
    (True, False)
    """
    return bool(getattr(e, "is_Matrix", False))


def shape_of(e: sp.Basic) -> tuple:
    """``(rows, cols)`` of a matrix expression, ``()`` of a scalar."""
    return tuple(e.shape) if is_matrix(e) else ()


def zero_like(e: sp.Basic) -> sp.Basic:
    """The zero of ``e``'s shape: ``ZeroMatrix(rows, cols)`` or ``0``."""
    return sp.ZeroMatrix(*e.shape) if is_matrix(e) else sp.S.Zero


def shape_text(shape: tuple) -> str:
    """``2×3`` for a matrix shape, ``()`` for a scalar.

    >>> shape_text((2, 3)), shape_text(())
    ('2×3', '()')
    """
    return "×".join(map(str, shape)) if shape else "()"
