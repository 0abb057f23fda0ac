"""Substitution that stays fast and safe on deep expressions.

SymPy's constructors ask assumption questions (``is_zero``, ``is_real``...)
that walk the whole argument, recursively: building ``tanh(E)`` costs time in
the depth of ``E``, and a few hundred levels down it overflows Python's
recursion limit, although the expression itself exists.  So expressions
deeper than ``EVALUATED_DEPTH`` are built unevaluated: exactly the operations
asked for, with no question asked.  Their values are the same.

Examples
--------
>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> substitute(sp.sin(x) + x, {x: y})
y + sin(y)
>>> substitute(x * y, {y: x}, evaluate=False)
x*x
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import sympy as sp
from sympy.core.basic import Basic
from sympy.matrices import MatrixBase
from sympy.matrices.expressions.matexpr import MatrixExpr

from .matrix_identities import is_factored, keeps_transpose, rewritten
from .sizes import TREE_CAP, tree_shape

EVALUATED_DEPTH = 60  # about where sympy.diff itself starts to overflow
FOLDED_TRANSPOSE = 16  # nodes: a transpose this small is folded into its operand


def substitute(
    expr: sp.Basic, mapping: Mapping, evaluate: bool = True, built: set[int] | None = None
) -> sp.Basic:
    """``expr.xreplace(mapping)``; unevaluated when asked or when SymPy recurses too deep.

    The unevaluated rebuild walks only ``expr`` itself (iteratively), not the
    substituted values, and never touches SymPy's global ``evaluate`` switch
    (flipping it clears SymPy's caches).  Given ``built``, the rebuild is
    unevaluated and the ids of the nodes it makes are added to it, for
    :func:`evaluated` to evaluate later, each once.
    """
    if evaluate and built is None:
        try:
            return expr.xreplace(mapping)
        except RecursionError:
            pass
    done: dict[sp.Basic, sp.Basic] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in done:
            continue
        if e in mapping or not e.args:
            done[e] = mapping.get(e, e)
            continue
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in done)
            continue
        args = [done[a] for a in e.args]
        changed = any(new is not old for new, old in zip(args, e.args, strict=True))
        done[e] = unevaluated(e.func, args) if changed else e
        if changed and built is not None:
            built.add(id(done[e]))
    return done[expr]


GATHERED = 64  # operands: a larger nest of products (sums) is multiplied (added) in one call


def evaluated(expr: sp.Basic, built: set[int], done: dict | None = None) -> sp.Basic:
    """``expr``, made by :func:`substitute` with ``built``, as SymPy evaluates it.

    Each node in ``built`` is evaluated once, as ``xreplace`` would have built
    it; the others are kept as they are.  Except: a product (a sum) nested in a
    product (a sum) with more than :data:`GATHERED` operands in all is not
    flattened level by level, which copies the operands gathered so far at
    every level (a δ that takes one more factor at each of k levels costs k²
    operands; k log k down a balanced product); its operands are gathered
    through the whole nest, with their multiplicities, and multiplied once.
    The value is the same.  ``done`` shares the work between calls.

    >>> x, y = sp.symbols("x y")
    >>> built = set()
    >>> e = substitute(sp.Symbol("d") * x, {sp.Symbol("d"): x * y}, built=built)
    >>> e.args, evaluated(e, built)
    ((x*y, x), x**2*y)
    """
    done = {} if done is None else done
    sizes = _nest_sizes(expr, built, done)
    nests: dict[int, dict] = {}  # a gathered node's operands -> uses
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in done:
            continue
        if id(e) not in built:
            done[e] = e
            continue
        if sizes.get(id(e), 0) > GATHERED and id(e) not in nests:
            nests[id(e)] = _nest_operands(e, built, sizes)
        operands = nests.get(id(e))
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in (operands or e.args) if a not in done)
        else:
            try:
                done[e] = _evaluated_node(e, operands, done)
            except RecursionError:  # SymPy's evaluation recursed into a deep part: as built
                done[e] = e
            nests.pop(id(e), None)
    return done[expr]


def _evaluated_node(e: sp.Basic, operands: dict | None, done: dict) -> sp.Basic:
    """``e`` rebuilt with SymPy's evaluation: from its arguments, or its nest's operands."""
    if operands is None:
        return plain_class(type(e))(*(done[a] for a in e.args))
    many = (lambda a, m: a**m) if type(e) is sp.Mul else (lambda a, m: m * a)
    return type(e)(*(done[a] if m == 1 else many(done[a], m) for a, m in operands.items()))


def _nest_sizes(expr: sp.Basic, built: set[int], done: dict) -> dict[int, int]:
    """Operands of each built product (sum) counted through its nest of the same operation."""
    sizes: dict[int, int] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if id(e) in sizes or e in done or id(e) not in built:
            continue
        if not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if id(a) in built and id(a) not in sizes)
            continue
        if type(e) not in (sp.Mul, sp.Add):
            sizes[id(e)] = 0
            continue
        count = 0
        for a in e.args:
            if type(a) is not type(e):
                count += 1
            elif id(a) in sizes:
                count += sizes[id(a)]
            else:  # evaluated (now or by an earlier call)
                value = done.get(a, a)
                count += len(value.args) if type(value) is type(e) else 1
        sizes[id(e)] = min(count, TREE_CAP)
    return sizes


def _nest_operands(e: sp.Basic, built: set[int], sizes: dict[int, int]) -> dict:
    """Operands of the nest of ``e``'s operation under it -> how many times each is used.

    The nest goes down through the built levels of more than :data:`GATHERED`
    operands (the smaller ones are evaluated, then taken whole); the uses are
    counted down the levels in topological order, each level visited once.
    """
    kind = type(e)

    def inner(a: sp.Basic) -> bool:
        return type(a) is kind and id(a) in built and sizes.get(id(a), 0) > GATHERED

    order: list[sp.Basic] = []
    visited: set[int] = set()
    stack = [(e, False)]
    while stack:  # depth first: a level after every level under it (postorder)
        x, ready = stack.pop()
        if ready:
            order.append(x)
        elif id(x) not in visited:
            visited.add(id(x))
            stack.append((x, True))
            stack.extend((a, False) for a in x.args if inner(a) and id(a) not in visited)
    uses: dict[int, int] = {id(e): 1}
    operands: dict = {}
    for x in reversed(order):  # parents before children: a level's uses are all counted
        for a in x.args:
            if inner(a):
                uses[id(a)] = uses.get(id(a), 0) + uses[id(x)]
            else:
                operands[a] = operands.get(a, 0) + uses[id(x)]
    return operands


def unevaluated(func, args):
    """``func(*args)`` built exactly as given, without SymPy's evaluation.

    An operation on matrices is built as its :func:`sized` twin: SymPy's own
    constructors validate the operands' shapes, and SymPy computes a nested
    matrix expression's shape by recursion through every level.

    >>> import sympy as sp
    >>> W, X = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("X", 2, 5)
    >>> unevaluated(sp.MatMul, [W, X]).shape
    (2, 5)
    """
    if _has_twin(func) and any(getattr(a, "is_Matrix", False) for a in args):
        return sized(func)(*args)
    try:
        return func(*args, evaluate=False)
    except TypeError:  # a constructor without the flag (ExprCondPair, Tuple...)
        return func(*args)


def applied(func: type, args) -> sp.Basic:
    """``func(*args, evaluate=False)`` for a SymPy function of symbols and numbers, built directly.

    SymPy's constructor makes a fresh ``nargs`` set on every call (about 12
    µs); here it is made once per class and argument count, by SymPy itself,
    and shared.  Only constructors that store their arguments as given (the
    generic one of ``sympy.core.function``, and ``Heaviside`` given its value
    at 0) are built so; others go to :func:`unevaluated`.  Atoms only: this
    cache is not SymPy's, so two equal deep arguments built apart would be
    compared level by level, recursively.

    >>> x = sp.Symbol("x", real=True)
    >>> applied(sp.tanh, (x,)) == sp.tanh(x), applied(sp.tanh, (x,)).nargs
    (True, {1})
    """
    key = (func, len(args))
    nargs = _NARGS.get(key, _UNKNOWN)
    if nargs is _UNKNOWN:
        nargs = _NARGS[key] = _shared_nargs(func, tuple(args))
    if nargs is None or not all(a.is_Atom for a in args):
        return unevaluated(func, args)
    return _built(func, tuple(args), nargs)


# Cached as SymPy's constructors are: the same call gives the same object, so what is
# built on it (by SymPy's cached constructors) is shared too and compares by identity.
@functools.lru_cache(maxsize=1 << 14)
def _built(func: type, args: tuple, nargs) -> sp.Basic:
    out = Basic.__new__(func, *args)
    out.nargs = nargs
    return out


_NARGS: dict[tuple, object] = {}
_UNKNOWN = object()


def _shared_nargs(func: type, args: tuple):
    """The ``nargs`` set of ``func`` on this many arguments, if it builds them as given."""
    generic = getattr(func.__new__, "__module__", None) == "sympy.core.function"
    if not (generic or func is sp.Heaviside and len(args) == 2):
        return None
    try:
        sample = func(*args, evaluate=False)
    except (TypeError, ValueError):
        return None
    return sample.nargs if type(sample) is func and sample.args == args else None


class _Sized:
    """The twin of a SymPy matrix operation whose instances store their shape.

    ``MatMul.shape`` asks its last operand's shape, which asks its own operand's:
    recursion as deep as the expression (and so do ``hash`` on first use and
    SymPy's shape validation).  A twin is built with ``Basic.__new__``, exactly
    the operation asked for, and its shape and hash are computed once, one level
    deep, from operands that store theirs.  It has its class's name, hash and
    equality (a twin equals the plain expression of the same operands), so
    printers, rules and files read it as that class.
    """

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        obj = Basic.__new__(cls, *map(sp.sympify, args))
        obj._stored_shape = plain_class(cls).shape.fget(obj)  # one level: operands store theirs
        hash(obj)  # cached on the object; asked first at the top, it recurses as deep as it is
        return obj

    @property
    def shape(self):
        return self._stored_shape

    def __eq__(self, other):
        if self is other:
            return True
        if isinstance(other, Basic) and plain_class(type(other)) is plain_class(type(self)):
            pairs = zip(self.args, other.args, strict=False)  # as Basic: 2*M is not 2.0*M
            return self.args == other.args and all(
                type(a) is type(b) or not a.is_Number for a, b in pairs
            )
        return Basic.__eq__(self, other)

    __hash__ = Basic.__hash__  # defining __eq__ would drop it

    def __reduce_ex__(self, protocol):
        return _rebuilt, (plain_class(type(self)), self.args)


_TWINS: dict[type, type] = {}


def sized(cls: type) -> type:
    """The twin of matrix operation ``cls`` that stores its shape (see :class:`_Sized`).

    >>> import sympy as sp
    >>> sized(sp.MatMul).__name__, issubclass(sized(sp.MatMul), sp.MatMul)
    ('MatMul', True)
    """
    if issubclass(cls, _Sized):
        return cls
    twin = _TWINS.get(cls)
    if twin is None:
        twin = type(cls.__name__, (_Sized, cls), {"__module__": cls.__module__, "__slots__": ()})
        twin.__qualname__ = cls.__qualname__
        _TWINS[cls] = twin
    return twin


def plain_class(cls: type) -> type:
    """The SymPy class a :func:`sized` twin stands for; any other class itself.

    >>> import sympy as sp
    >>> plain_class(sized(sp.MatMul)) is sp.MatMul
    True
    """
    return cls.__mro__[2] if issubclass(cls, _Sized) else cls


def as_sized(e: sp.Basic) -> sp.Basic:
    """``e`` as its :func:`sized` twin, when it is an operation on matrices.

    >>> import sympy as sp
    >>> W, X = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("X", 2, 5)
    >>> type(as_sized(W * X)) is sized(sp.MatMul), as_sized(W * X) == W * X
    (True, True)
    """
    if isinstance(e, _Sized) or not _has_twin(type(e)):
        return e
    return unevaluated(type(e), e.args)


def _has_twin(func) -> bool:
    """An operation on matrices (not a matrix symbol, a constant or explicit matrix)."""
    return (
        isinstance(func, type)
        and issubclass(func, MatrixExpr)
        and not issubclass(func, (MatrixBase, sp.MatrixSymbol))
    )


def _rebuilt(cls: type, args: tuple) -> sp.Basic:
    """Unpickle a twin (a class made at run time cannot be found by name)."""
    return sized(cls)(*args)


def warm_assumptions(exprs, seen: set[int] | None = None) -> None:
    """Ask each subexpression of ``exprs`` whether it commutes, children first.

    Building ``Mul(a, f(E), evaluate=False)`` still asks ``f(E).is_commutative``,
    which SymPy answers by asking every level of ``E`` in turn: recursion as deep
    as ``E``.  Asked bottom-up, each answer is cached and every question is one
    level deep.  ``seen`` (ids) shares the walk between calls.

    >>> import sympy as sp
    >>> e = sp.Symbol("w")
    >>> for _ in range(3000): e = sp.sin(e, evaluate=False)
    >>> warm_assumptions([e])
    >>> (2 * sp.cos(e, evaluate=False)).is_commutative
    True
    """
    seen = set() if seen is None else seen
    stack: list[tuple[sp.Basic, bool]] = [(e, False) for e in exprs]
    while stack:
        e, ready = stack.pop()
        if id(e) in seen:
            continue
        if ready or not e.args:
            seen.add(id(e))
            e.is_commutative  # noqa: B018 - cached on the object for the levels above
            continue
        stack.append((e, True))
        stack.extend((a, False) for a in e.args if id(a) not in seen)


def contains(expr: sp.Basic, *classes: type) -> bool:
    """Whether ``expr`` holds an instance of ``classes``, each shared part visited once.

    ``expr.has`` walks the expression as a tree: exponential on closed forms
    whose parts are shared many times over.

    >>> import sympy as sp
    >>> contains(sp.sin(sp.MatrixSymbol("W", 2, 2)[0, 0]), sp.MatrixSymbol)
    True
    """
    seen: set[int] = set()
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, classes):
            return True
        if id(e) not in seen:
            seen.add(id(e))
            stack.extend(e.args)
    return False


def folded(e: sp.Basic, done: dict | None = None) -> sp.Basic:
    """A matrix expression with identities folded (``x.T.T``, ``1*I``, ``I*δ``, ``1 ⊙ M``).

    SymPy's ``doit`` folds most; :mod:`symgraph.core.matrix_identities` the
    rest (broadcast scalars, common factors, the forward's orientation).

    Scalars come back as they are; so does a matrix SymPy refuses to evaluate
    (the unfolded form has the same value).  Each shared part is folded once
    (``doit`` would walk it once per use); pass one ``done`` dict to several
    calls to share that work between them.

    >>> import sympy as sp
    >>> x = sp.MatrixSymbol("x", 2, 1)
    >>> folded(sp.Identity(2) * x.T.T)
    x
    """
    if not getattr(e, "is_Matrix", False):
        return e
    done = {} if done is None else done  # each shared part folded once, bottom-up
    stack: list[tuple[sp.Basic, bool]] = [(e, False)]
    while stack:
        x, ready = stack.pop()
        if x in done:
            continue
        if not x.args or isinstance(x, (sp.Symbol, sp.MatrixSymbol, sp.Lambda)):
            done[x] = x
            continue
        if not ready:
            stack.append((x, True))
            stack.extend((a, False) for a in x.args if a not in done)
            continue
        args = tuple(done[a] for a in x.args)
        y = x if all(a is b for a, b in zip(args, x.args, strict=True)) else x.func(*args)
        done[x] = _folded_node(y)
    return done[e]


def _folded_node(y: sp.Basic) -> sp.Basic:
    """One node of :func:`folded`, its operands folded: ``doit``, then the matrix identities.

    A transpose's doit pushes it into its whole operand and folds all of that
    again: only a small one is pushed in (``(I/n)ᵀ = I/n``), and never one whose
    operand is in the forward's orientation (``tanh(W X)ᵀ`` stays, see
    :func:`~symgraph.core.matrix_identities.keeps_transpose`).
    """
    if not isinstance(y, sp.MatrixExpr):
        return y
    if isinstance(y, sp.Transpose):
        limit = FOLDED_TRANSPOSE
        push = not keeps_transpose(y) and tree_shape(y, limit)[0] <= limit
    else:  # a number stays outside a sum: (1/64)(S − Y), as the identities left it
        push = not is_factored(y)
    if push:
        try:
            y = y.doit(deep=False)
        except Exception:  # noqa: BLE001 - SymPy may refuse; the value is the same
            pass
    return rewritten(y)
