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
from sympy.codegen.cfunctions import expm1, log1p
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = ["DEPTH", "LogAddExp", "Logistic", "Softplus", "stable_form", "stable_lines"]

#: How many lines back a line is looked at, and how large that view may grow.
DEPTH = 6
MAX_VIEW_OPS = 80


def _arg_text(printer, arg) -> str:
    text = getattr(printer, "text", None)  # symgraph's printer: its fast path and its names
    return text(arg) if text is not None else printer._print(arg)


class Logistic(sp.Function):
    """``σ(u) = 1/(1 + exp(-u))``, printed without overflow (numeric code only)."""

    nargs = 1

    def fdiff(self, argindex=1):
        u = self.args[0]
        return Logistic(u) * Logistic(-u)

    def _numpycode(self, printer):
        e = "numpy.exp(numpy.where(u.real >= 0, -u, u))"  # exp(-|u|), analytic branches
        body = f"(lambda e: numpy.where(u.real >= 0, 1/(1 + e), e/(1 + e)))({e})"
        return f"(lambda u: {body})({_arg_text(printer, self.args[0])})"


class Softplus(sp.Function):
    """``log(1 + exp(u))`` as ``max(u, 0) + log1p(exp(-|u|))`` (numeric code only)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return Logistic(self.args[0])

    def _numpycode(self, printer):
        body = (
            "numpy.where(u.real >= 0, u, 0*u)"
            " + numpy.log1p(numpy.exp(numpy.where(u.real >= 0, -u, u)))"
        )
        return f"(lambda u: {body})({_arg_text(printer, self.args[0])})"


class LogAddExp(sp.Function):
    """``log(exp(a) + exp(b) + …)``, shifted by the largest real part (numeric code only)."""

    def fdiff(self, argindex=1):
        return sp.exp(self.args[argindex - 1] - self)

    def _numpycode(self, printer):
        out = _arg_text(printer, self.args[0])
        for arg in self.args[1:]:
            shifted = "m + numpy.log(numpy.exp(u - m) + numpy.exp(v - m))"
            pair = f"(lambda m: {shifted})(numpy.maximum(u.real, v.real))"
            out = f"(lambda u, v: {pair})({out}, {_arg_text(printer, arg)})"
        return out


# --- the patterns -------------------------------------------------------------


def _one_plus_exp(base: sp.Basic) -> sp.Basic | None:
    """``u`` when ``base`` is ``1 + exp(u)``."""
    if isinstance(base, sp.Add) and len(base.args) == 2 and sp.S.One in base.args:
        other = base.args[0] if base.args[1] == 1 else base.args[1]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _exps(base: sp.Basic) -> list[sp.Basic] | None:
    """``[a, b, …]`` when ``base`` is ``exp(a) + exp(b) + …`` (two terms or more)."""
    if isinstance(base, sp.Add) and all(isinstance(t, sp.exp) for t in base.args):
        return [t.args[0] for t in base.args]
    return None


def _pow(expr: sp.Pow) -> sp.Basic:
    base, k = expr.args
    u = _one_plus_exp(base)
    if u is not None and k.is_negative:
        return Logistic(-u) ** (-k)
    return expr


def _add(expr: sp.Add) -> sp.Basic:
    terms = list(expr.args)
    if sp.S.One in terms:  # 1 - σ(u) = σ(-u)
        for t in terms:
            if isinstance(t, sp.Mul) and len(t.args) == 2 and t.args[0] == -1:
                if isinstance(t.args[1], Logistic):
                    terms.remove(sp.S.One)
                    terms.remove(t)
                    return sp.Add(Logistic(-t.args[1].args[0]), *terms)
    for i, first in enumerate(terms):  # c·σ(u) - c·σ(u)² = c·σ(u)·σ(-u)
        for j, second in enumerate(terms):
            ratio = second / first if i != j else None
            if isinstance(ratio, sp.Mul) and len(ratio.args) == 2 and ratio.args[0] == -1:
                if isinstance(ratio.args[1], Logistic):
                    rest = [t for n, t in enumerate(terms) if n not in (i, j)]
                    return sp.Add(first * Logistic(-ratio.args[1].args[0]), *rest)
    constant = sum((t for t in terms if t.is_Integer), sp.S.Zero)
    exps = [t for t in terms if isinstance(t, sp.exp)]
    if constant.is_negative and exps:  # exp(x) + exp(y) - 2 = expm1(x) + expm1(y)
        paired = exps[: int(-constant)]
        rest = [t for t in terms if not t.is_Integer and t not in paired]
        return sp.Add(*(expm1(t.args[0]) for t in paired), constant + len(paired), *rest)
    return expr


def _log(expr: sp.log) -> sp.Basic:
    arg = expr.args[0]
    base, k = arg.as_base_exp() if isinstance(arg, sp.Pow) else (arg, sp.S.One)
    if isinstance(base, Logistic):
        return -k * Softplus(-base.args[0])
    u = _one_plus_exp(arg)
    if u is not None:
        return Softplus(u)
    exps = _exps(arg)
    if exps is not None:
        return LogAddExp(*exps)
    if isinstance(arg, sp.Add) and sp.S.One in arg.args:
        return log1p(sp.Add(*(t for t in arg.args if t != 1)))
    return expr


def _distributed(expr: sp.Mul) -> sp.Basic | None:
    """``c·(a + b)`` as ``c·a + c·b`` when a pattern then matches in a term.

    ``σ(u)·(y/σ(u) + …)`` must become ``y + …``: where σ(u) underflows the
    product is 0·∞.
    """
    for add in expr.args:
        if not isinstance(add, sp.Add):
            continue
        rest = sp.Mul(*(f for f in expr.args if f is not add))
        products = [rest * t for t in add.args]
        stable = [stable_form(p) for p in products]
        if stable != products:
            return sp.Add(*stable)
    return None


def _mul(expr: sp.Mul) -> sp.Basic:
    distributed = _distributed(expr)
    if distributed is not None:
        return distributed
    factors = list(expr.args)
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(factors):
            if not isinstance(f, sp.exp):
                continue
            e = f.args[0]
            for j, g in enumerate(factors):
                base, k = g.as_base_exp()
                new = None
                if isinstance(base, Logistic) and k.is_Integer and k > 0:
                    ratio = e / -base.args[0]  # exp(n·u)·σ(-u)^k: n = ratio
                    if ratio.is_Integer and ratio > 0:
                        m = min(int(ratio), int(k))
                        u = -base.args[0]
                        new = sp.exp((ratio - m) * u) * Logistic(u) ** m * base ** (k - m)
                exps = _exps(base)
                if exps is not None and k.is_negative and e in exps:  # softmax-like
                    new = sp.exp(e + k * LogAddExp(*exps))
                if new is not None:
                    factors = [h for n, h in enumerate(factors) if n not in (i, j)] + [new]
                    changed = True
                    break
            if changed:
                break
    return sp.Mul(*factors) if factors != list(expr.args) else expr


def _log1p(expr: log1p) -> sp.Basic:
    arg = expr.args[0]
    if isinstance(arg, sp.Mul) and len(arg.args) == 2 and arg.args[0] == -1:
        if isinstance(arg.args[1], Logistic):  # log(1 - σ(u)) = -softplus(u)
            return -Softplus(arg.args[1].args[0])
    if isinstance(arg, sp.exp):
        return Softplus(arg.args[0])
    return expr


_PATTERNS = {sp.Pow: _pow, sp.Add: _add, sp.log: _log, sp.Mul: _mul, log1p: _log1p}


def stable_form(expr: sp.Basic) -> sp.Basic:
    """``expr`` with every pattern of the table above replaced, bottom up (iterative)."""
    done: dict[sp.Basic, sp.Basic] = {}
    stack = [expr]
    while stack:
        e = stack[-1]
        if e in done:
            stack.pop()
            continue
        pending = [a for a in e.args if a not in done and isinstance(a, sp.Basic)]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        composed = _compose(e) if isinstance(e, ElementwiseApplyFunction) else e
        if composed is not e:  # f.(g.(X)) composed before f and g are rewritten apart
            done[e] = composed
            continue
        new_args = [done.get(a, a) for a in e.args]
        new = e.func(*new_args) if new_args != list(e.args) else e
        rule = _PATTERNS.get(type(new))
        done[e] = rule(new) if rule is not None else new
    return done[expr]


def _compose(expr: ElementwiseApplyFunction) -> sp.Basic:
    """``f.(g.(X))`` as ``(f∘g).(X)`` when the composition has a stable form."""
    inner = expr.expr
    if not isinstance(inner, ElementwiseApplyFunction):
        return expr
    u = sp.Dummy("u", real=True)
    composed = expr.function(inner.function(u))
    stable = stable_form(composed)
    if stable == composed:
        return expr
    return ElementwiseApplyFunction(sp.Lambda(u, stable), inner.expr)


# --- the pass over the lines --------------------------------------------------

_LOOKED_THROUGH = (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log, ElementwiseApplyFunction)
_TRIGGERS = (sp.exp, sp.log)


def _touches(expr: sp.Basic) -> bool:
    return any(isinstance(a, _TRIGGERS) for a in sp.preorder_traversal(expr))


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
    """
    definition: dict[sp.Basic, sp.Basic] = {}
    near: dict[sp.Basic, int] = {}  # steps back to a line with exp or log
    folded: dict[sp.Basic, sp.Basic] = {}  # an earlier line's (stable) value -> its name
    opaque = set(keep)
    out = []
    for target, expr in lines:
        symbols = [s for s in expr.free_symbols if s in definition and s not in opaque]
        distance = 0 if _touches(expr) else 1 + min((near[s] for s in symbols), default=DEPTH)
        near[target] = distance
        new = expr
        if distance < DEPTH:
            view, rewritten = _view(expr, definition, opaque)
            if rewritten != view:
                new = rewritten.xreplace(folded)
                folded.setdefault(rewritten, target)
            else:
                folded.setdefault(view, target)
        if isinstance(expr, _LOOKED_THROUGH) or expr.is_Symbol or expr.is_Number:
            definition[target] = expr if new is expr else new
        out.append((target, new))
    return out


def _view(expr: sp.Basic, definition: dict, opaque: set) -> tuple[sp.Basic, sp.Basic]:
    """``expr`` with the lines it reads substituted in, up to DEPTH steps back; its rewrite."""
    view = expr
    for _ in range(DEPTH):
        known = {s: definition[s] for s in view.free_symbols if s in definition and s not in opaque}
        if not known:
            break
        wider = view.xreplace(known)
        if _size(wider) > MAX_VIEW_OPS:
            break
        view = wider
    return view, stable_form(view)


def _size(expr: sp.Basic) -> int:
    count = 0
    for _ in sp.preorder_traversal(expr):
        count += 1
        if count > MAX_VIEW_OPS:
            break
    return count
