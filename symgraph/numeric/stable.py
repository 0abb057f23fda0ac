r"""Numerically stable forms, substituted line by line before code is printed.

The forms a paper writes overflow or cancel in floating point: ``1/(1 +
exp(-z))`` differentiates to ``exp(-z)/(1 + exp(-z))²``, which is ``inf/inf``
(NaN) at ``z = -1000``; ``log(1 - σ(z))`` keeps three digits at ``z = 30``.
Here each line ``t = expr`` of a generated function is looked at together with
the lines it reads, a few steps back (:data:`DEPTH`; a bounded amount of work
per line, so the pass is linear in the graph), and rewritten where a pattern
below matches; the result is expressed in the earlier lines' names again, so
no value is computed twice.  The patterns are exact identities for real
arguments:

=====================================  =====================================
naive                                  stable
=====================================  =====================================
``(1 + exp(u))**-k``                   ``σ(-u)**k``
``exp(u)·σ(-u)``                       ``σ(u)``
``1 - σ(u)``                           ``σ(-u)``
``c·σ(u) - c·σ(u)²``                   ``c·σ(u)·σ(-u)``
``log(σ(u))``                          ``-softplus(-u)``
``log(1 + exp(u))``                    ``softplus(u)``
``log(exp(a) + exp(b) + …)``           ``logaddexp(a, b, …)``
``exp(a)·(exp(a) + exp(b) + …)**-k``   ``exp(a - k·logaddexp(a, b, …))``
``log(1 + x)``                         ``log1p(x)``
``exp(x) - 1``                         ``expm1(x)``
=====================================  =====================================

``σ`` (:class:`Logistic`), :class:`Softplus` and :class:`LogAddExp` print as
NumPy code that never overflows: ``σ(u)`` is ``1/(1 + e)`` or ``e/(1 + e)``
with ``e = exp(-|u|)``.  Each branch is analytic, so a complex step through
them is still exact.  An entrywise function of an entrywise function
(``log(1 - P)`` with ``P = σ(Z)``) is composed first, so matrix graphs get the
same forms.

Examples
--------
>>> import sympy as sp
>>> z, s = sp.symbols("z s", real=True)
>>> stable_form(1 / (1 + sp.exp(-z)))
Logistic(z)
>>> stable_form(sp.log(1 - 1 / (1 + sp.exp(-z))))
-Softplus(z)
>>> stable_lines([(s, 1 / (1 + sp.exp(-z)))])
[(s, Logistic(z))]
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Sequence

import sympy as sp
from sympy.codegen.cfunctions import log1p
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .stable_forms import LogAddExp, Logistic, Softplus, _stable, stable_form

__all__ = ["DEPTH", "LogAddExp", "Logistic", "Softplus", "stable_form", "stable_lines"]

#: How many lines back a line is looked at, and how large that view may grow.
DEPTH = 6
MAX_VIEW_OPS = 80

_LOOKED_THROUGH = (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, ElementwiseApplyFunction)
_KINDS = (sp.exp, Logistic, sp.log, log1p, ElementwiseApplyFunction)
_RECIPROCAL = "1/…"  # a power whose exponent is not a positive number


def stable_lines(
    lines: Sequence[tuple[sp.Basic, sp.Basic]], keep: Sequence[sp.Basic] = ()
) -> list[tuple[sp.Basic, sp.Basic]]:
    """``lines`` (``target = expr``, in order) with stable forms where a pattern matches.

    A line is viewed with the lines it reads substituted in (up to
    :data:`DEPTH` steps, through sums, products, powers, ``exp`` and ``log``
    only), the view is rewritten by :func:`stable_form`, and whatever of the
    result equals an earlier line's value is written as that line's name
    again.  A line whose view matches nothing is kept as it is.  ``keep``:
    names that must not be looked through (none by default).

    Examples
    --------
    >>> import sympy as sp
    >>> z, s = sp.symbols("z s", real=True)
    >>> stable_lines([(s, 1 / (1 + sp.exp(-z)))])
    [(s, Logistic(z))]
    """
    return _Pass(set(keep)).run(lines)


class _Pass:
    """The state of one pass: what each earlier line is, and what its view shows.

    The work per line is bounded: a line is scanned alone (its own nodes, its
    names' summaries); only a line where a pattern could match builds a view,
    from the views of the lines it reads, each built once per depth and shared.
    """

    def __init__(self, opaque: set):
        self.opaque = opaque
        self.definition: dict = {}  # name -> its line (stable form), for names looked through
        self.lines: dict = {}  # name -> the _Scan of its line (size, names read)
        self.kinds: dict = {}  # name -> {kind of node its view shows: lines back}
        self.sum_like: dict = {}  # name -> (its view is a sum, that sum has an integer term)
        self.height: dict = {}  # name -> how many lines back its view can reach (<= DEPTH)
        self.views: dict = {}  # (name, depth) -> view
        self.sizes: dict = {}  # (name, depth) -> size of that view (capped)
        self.built: list = []  # views built since the last fold, to be named
        self.folded: dict = {}  # an earlier line's value (a view, its stable form) -> its name
        self.done: dict = {}  # stable_form's memo over the whole pass

    def run(self, lines):
        out = []
        for target, expr in lines:
            scan = self._scan(expr)
            new = self._rewrite(target, expr, scan) if scan.candidate else expr
            if isinstance(expr, _LOOKED_THROUGH) or expr.is_Symbol or expr.is_Number:
                self._define(target, new, scan if new is expr else self._scan(new))
            out.append((target, new))
        return out

    # --- a line alone ---------------------------------------------------------

    def _name(self, node) -> bool:
        return node in self.definition and node not in self.opaque

    def _scan(self, expr) -> _Scan:
        """One walk over the line's own nodes: sizes, names read, kinds, candidate.

        A name inside a function's argument (``exp(v)``, ``σ(v)``) is not
        looked through (see :func:`_opaque_args`), so it adds no kinds.
        """
        scan = _Scan()
        seen: dict = {}  # (node, inside a function) -> kinds its view shows
        stack = [(expr, False, False)]
        while stack:
            node, inside, ready = stack.pop()
            key = (node, inside)
            if not ready:
                scan.size += 1
                if self._name(node):
                    if inside:
                        seen[key] = {}
                    else:
                        scan.reads[node] = scan.reads.get(node, 0) + 1
                        seen[key] = self.kinds[node]
                elif not node.args:  # a number or a symbol no line defines: shows nothing
                    seen[key] = _NOTHING
                elif key not in seen:
                    stack.append((node, inside, True))
                    deeper = inside or _opaque_args(node)
                    stack.extend((a, deeper, False) for a in node.args if isinstance(a, sp.Basic))
                continue
            if key in seen:
                continue
            deeper = inside or _opaque_args(node)
            kinds: dict = {}
            for a in node.args:
                for kind, back in seen.get((a, deeper), {}).items():
                    if back < kinds.get(kind, DEPTH + 1):
                        kinds[kind] = back
            if scan.candidate is False and not inside:
                scan.candidate = self._may_match(node, kinds, seen)
            for kind in _kinds_of(type(node)):
                kinds[kind] = 0
            if isinstance(node, sp.Pow) and not (node.exp.is_Number and node.exp > 0):
                kinds[_RECIPROCAL] = 0
            seen[key] = kinds
        scan.root = seen.get((expr, False), {})
        return scan

    def _may_match(self, node, kinds: dict, seen: dict) -> bool:
        """Could a pattern match at ``node`` of a view (``kinds``: what its arguments show)?

        A cheap necessary condition, by classes alone: a rewrite needs an exp
        (or a σ, log, log1p) within reach of the right head.
        """
        if isinstance(node, (sp.log, log1p)):
            return True
        if isinstance(node, ElementwiseApplyFunction):
            # a pattern in its function, or in its composition with one it reads (log(1 - σ)):
            # either holds a kind besides entrywise functions (tanh∘tanh holds none)
            return any(kind is not ElementwiseApplyFunction for kind in kinds)
        if isinstance(node, sp.Pow):
            positive = node.exp.is_Number and node.exp > 0
            return not positive and sp.exp in seen.get((node.base, False), {})
        if isinstance(node, sp.Add):
            if Logistic in kinds:
                return True
            constant = any(
                a.is_Integer and a.is_negative or not a.is_Integer and self._sum(a)[1]
                for a in node.args
            )
            return sp.exp in kinds and constant
        if isinstance(node, sp.Mul):
            if sp.exp in kinds and (Logistic in kinds or _RECIPROCAL in kinds):
                return True
            # distributed over a sum, a product matches only with a σ in it:
            # exp(n·u)·σ(-u)^k and σ·(1/σ); an exp alone meets no pattern
            return Logistic in kinds and any(self._sum(a)[0] for a in node.args)
        return False

    def _sum(self, expr) -> tuple[bool, bool]:
        """Is ``expr``'s view a sum, and has that sum an integer term?  (Top level only.)"""
        if self._name(expr):
            return self.sum_like.get(expr, (False, False))
        if isinstance(expr, sp.Add):
            return True, any(self._sum(a)[1] for a in expr.args)
        if isinstance(expr, sp.Mul) and len(expr.args) == 2 and expr.args[0].is_Number:
            return self._sum(expr.args[1])  # c·(a + b) is c·a + c·b
        return False, expr.is_Integer and expr != 0

    def _define(self, target, expr, scan: _Scan) -> None:
        self.definition[target] = expr
        self.lines[target] = scan
        self.kinds[target] = {k: b + 1 for k, b in scan.root.items() if b + 1 <= DEPTH}
        self.sum_like[target] = self._sum(expr)
        self.height[target] = min(DEPTH, 1 + max((self.height[n] for n in scan.reads), default=0))

    # --- the view of a line, and its rewrite ------------------------------------

    def _rewrite(self, target, expr, scan: _Scan):
        reach = min(DEPTH, max((self.height[n] for n in scan.reads), default=0))
        depth = 0  # the deepest view within MAX_VIEW_OPS, as many lines back as it reaches
        while depth < reach and _widened(scan, depth + 1, self._size) <= MAX_VIEW_OPS:
            depth += 1
        view = self._expand(expr, scan.reads, depth)
        rewritten = _stable(view, self.done)
        self._name_built()
        if rewritten == view:
            self._remember(view, target)
            return expr
        new = self._factored(rewritten, scan.reads, depth).xreplace(self.folded)
        self._remember(rewritten, target)
        return new

    def _factored(self, rewritten, reads: dict, depth: int):
        """Each product of ``rewritten`` with a view's whole product in it uses that view's name.

        The views of ``δ`` lines are long products (``δ_a2 = -δ_v14·w`` read
        through); the line keeps ``δ_a2·…`` instead of the whole product again.
        Nearest lines first.
        """
        terms = sp.Add.make_args(rewritten)
        out = [self._factored_term(t, reads, depth) for t in terms]
        if all(x is y for x, y in zip(out, terms, strict=True)):
            return rewritten
        return sp.Add(*out)

    def _factored_term(self, term, reads: dict, depth: int):
        if not isinstance(term, sp.Mul):
            return term
        powers = _powers(term)
        queue = deque((name, depth) for name in reads)
        seen = set()
        while queue:
            name, d = queue.popleft()
            d = min(d, self.height[name])
            if d == 0 or (name, d) in seen:
                continue
            seen.add((name, d))
            view = self.views.get((name, d))
            if view is None:
                continue
            if isinstance(view, sp.Mul):
                part = _powers(view)
                if len(part) >= 2 and _within(part, powers):
                    term = name * (term / view)
                    powers = _powers(term)
                    continue
            queue.extend((n, d - 1) for n in self.lines[name].reads)
        return term

    def _size(self, name, depth: int) -> int:
        """Nodes of ``name``'s view ``depth`` lines deep, capped just above MAX_VIEW_OPS."""
        if depth == 0:
            return 1
        depth = min(depth, self.height[name])
        key = (name, depth)
        if key not in self.sizes:
            self.sizes[key] = _widened(self.lines[name], depth - 1, self._size)
        return self.sizes[key]

    def _view(self, name, depth: int):
        if depth == 0:
            return name
        depth = min(depth, self.height[name])
        key = (name, depth)
        view = self.views.get(key)
        if view is None:
            view = self._expand(self.definition[name], self.lines[name].reads, depth - 1)
            self.views[key] = view
            self.built.append((view, name))
        return view

    def _expand(self, expr, reads: dict, depth: int):
        """``expr`` with each name it reads replaced by that name's view ``depth`` deep.

        Inside a function's argument a name is only put in its canonical form
        (:meth:`_canon`), so ``exp(v)`` and ``σ(-v)`` of two views compare equal
        however deep each view went.  Iterative over the line's own nodes.
        """
        if not expr.args:
            return self._view(expr, depth) if self._name(expr) else expr
        built: dict = {}
        stack = [(expr, False, False)]
        while stack:
            node, inside, ready = stack.pop()
            key = (node, inside)
            if key in built:
                continue
            if self._name(node):
                built[key] = self._canon(node) if inside else self._view(node, depth)
                continue
            deeper = inside or _opaque_args(node)
            if not ready:
                stack.append((node, inside, True))
                stack.extend((a, deeper, False) for a in node.args if isinstance(a, sp.Basic))
                continue
            args = [built.get((a, deeper), a) for a in node.args]
            changed = any(x is not y for x, y in zip(args, node.args, strict=True))
            built[key] = node.func(*args) if changed else node
        return built[(expr, False)]

    def _canon(self, name):
        """A name read inside a function: copies and scalings ``c·v`` followed (bounded)."""
        coeff = sp.S.One
        for _ in range(DEPTH):
            line = self.definition[name]
            if self._name(line):
                name = line
                continue
            if isinstance(line, sp.Mul) and len(line.args) == 2 and line.args[0].is_Number:
                rest = line.args[1]
                if rest.is_Symbol and not self._name(rest):
                    return coeff * line
                if self._name(rest):
                    coeff, name = coeff * line.args[0], rest
                    continue
            break
        return coeff * name

    def _name_built(self) -> None:
        """Each view just built is its line's value: a rewrite that meets it writes the name."""
        for view, name in self.built:
            if not view.is_Atom:
                self._remember(view, name)
                stable = self.done.get(view)
                if stable is not None and not stable.is_Atom:
                    self._remember(stable, name)
        self.built.clear()

    def _remember(self, value, name) -> None:
        if not value.is_Atom:
            self.folded.setdefault(value, name)


class _Scan:
    """What one walk over a line's own nodes found."""

    __slots__ = ("candidate", "kinds", "reads", "root", "size")

    def __init__(self):
        self.size = 0
        self.reads: dict = {}
        self.kinds: dict = {}
        self.root: dict = {}
        self.candidate = False


def _powers(product) -> dict:
    """``{base: exponent}`` of a product's factors, its number left out."""
    return dict(f.as_base_exp() for f in sp.Mul.make_args(product) if not f.is_Number)


def _within(part: dict, whole: dict) -> bool:
    """Does ``whole`` hold each factor of ``part`` at least as often (integer powers)?"""
    for base, k in part.items():
        m = whole.get(base)
        if m is None or not (k.is_Integer and m.is_Integer) or k * m < 0 or abs(k) > abs(m):
            return False
    return True


_NOTHING: dict = {}  # the kinds an atom shows (shared: never written to)


@functools.cache
def _kinds_of(cls: type) -> tuple:
    """The kinds of :data:`_KINDS` a node of class ``cls`` is."""
    return tuple(kind for kind in _KINDS if issubclass(cls, kind))


def _opaque_args(node) -> bool:
    """Are ``node``'s arguments compared whole, never looked into (``exp``, ``σ``, ``tanh``...)?

    A sympy function or one of ours; ``log`` and ``log1p`` are looked into
    (``log(1 + exp(u))``, ``log(σ(u))``).
    """
    if not isinstance(node, sp.Function) or isinstance(node, (sp.log, log1p)):
        return False
    module = getattr(type(node), "__module__", None) or ""  # an undefined f(x): None
    return isinstance(node, (Logistic, Softplus, LogAddExp)) or module.startswith("sympy.")


def _widened(scan: _Scan, depth: int, size_of) -> int:
    """Size of a scanned line once each name it reads is expanded ``depth`` deep (capped)."""
    total = scan.size
    for name, count in scan.reads.items():
        total += count * (size_of(name, depth) - 1)
        if total > MAX_VIEW_OPS:
            return MAX_VIEW_OPS + 1
    return total
