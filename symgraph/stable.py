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
        """One walk over the line's own nodes: sizes, names read, kinds, candidate."""
        scan = _Scan()
        stack = [(expr, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                scan.size += 1
                if self._name(node):
                    scan.reads[node] = scan.reads.get(node, 0) + 1
                    scan.kinds[node] = self.kinds[node]
                elif node not in scan.kinds:
                    stack.append((node, True))
                    stack.extend((a, False) for a in node.args if isinstance(a, sp.Basic))
                continue
            if node in scan.kinds:
                continue
            kinds: dict = {}
            for a in node.args:
                for kind, back in scan.kinds.get(a, {}).items():
                    if back < kinds.get(kind, DEPTH + 1):
                        kinds[kind] = back
            if scan.candidate is False:
                scan.candidate = self._may_match(node, kinds, scan.kinds)
            for kind in _KINDS:
                if isinstance(node, kind):
                    kinds[kind] = 0
            if isinstance(node, sp.Pow) and not (node.exp.is_Number and node.exp > 0):
                kinds[_RECIPROCAL] = 0
            scan.kinds[node] = kinds
        scan.root = scan.kinds.get(expr, {})
        return scan

    def _may_match(self, node, kinds: dict, seen: dict) -> bool:
        """Could a pattern match at ``node`` of a view (``kinds``: what its arguments show)?

        A cheap necessary condition, by classes alone: a rewrite needs an exp
        (or a σ, log, log1p) within reach of the right head.
        """
        if isinstance(node, (sp.log, log1p, ElementwiseApplyFunction)):
            return True
        if isinstance(node, sp.Pow):
            positive = node.exp.is_Number and node.exp > 0
            return not positive and sp.exp in seen.get(node.base, {})
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
            return any(self._sum(a)[0] for a in node.args) and any(
                k in kinds for k in (sp.exp, Logistic)
            )
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
        new = rewritten.xreplace(self.folded)
        self._remember(rewritten, target)
        return new

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
        """``expr`` with every name it reads replaced by that name's view ``depth`` deep."""
        if depth == 0 or not reads:
            return expr
        return expr.xreplace({name: self._view(name, depth) for name in reads})

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


def _widened(scan: _Scan, depth: int, size_of) -> int:
    """Size of a scanned line once each name it reads is expanded ``depth`` deep (capped)."""
    total = scan.size
    for name, count in scan.reads.items():
        total += count * (size_of(name, depth) - 1)
        if total > MAX_VIEW_OPS:
            return MAX_VIEW_OPS + 1
    return total
