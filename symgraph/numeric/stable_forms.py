r"""The stable functions (σ, softplus, log-sum-exp) and the rewrite of one expression.

:func:`stable_form` rewrites an expression bottom up by the exact identities
listed in :mod:`symgraph.numeric.stable`; the line pass there calls it on each line's
view with one memo for the whole pass (``done``), so a subexpression shared by
the views of several lines is rewritten once.

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> stable_form(1 / (1 + sp.exp(-z)))
Logistic(z)
>>> stable_form(sp.log(1 - 1 / (1 + sp.exp(-z))))
-Softplus(z)
"""

from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

__all__ = ["LogAddExp", "Logistic", "Softplus", "stable_form"]


def _arg_text(printer, arg) -> str:
    text = getattr(printer, "text", None)  # symgraph's printer: its fast path and its names
    return text(arg) if text is not None else printer._print(arg)


def _named(printer, arg, e_form: str | None = None) -> tuple[str, str] | None:
    """``u`` = ``arg`` and, with ``e_form``, ``e`` as names of the printer's (None: lambdas).

    symgraph's NumPy printer names what a stable form reads several times on
    lines of their own (:meth:`~symgraph.numeric.printers.NumPyLines.bound`).
    """
    bound = getattr(printer, "bound", None)
    u = bound(arg) if bound is not None else None
    if u is None:
        return None
    return u, (bound(arg, e_form.format(u=u)) if e_form is not None else u)


def _c_value(printer, text: str) -> str:
    """``text`` as a C operand read several times: a name of its own when the printer hoists."""
    hoist = getattr(printer, "hoist", None)  # symgraph's C printer: one const double per value
    return hoist(text) if hoist is not None else f"({text})"


def _c_branches(printer, arg, form: str) -> str:
    """``form`` of ``u`` = ``arg`` and ``e = exp(-|u|)`` in C: a stable form's two sides."""
    u = _c_value(printer, printer._print(arg))
    e = _c_value(printer, f"exp(-fabs({u}))")
    return "(" + form.format(u=u, e=e) + ")"


class Logistic(sp.Function):
    """``σ(u) = 1/(1 + exp(-u))``, printed without overflow (numeric code only)."""

    nargs = 1

    def fdiff(self, argindex=1):
        u = self.args[0]
        return Logistic(u) * Logistic(-u)

    def _numpycode(self, printer):
        named = _named(printer, self.args[0], "numpy.exp(numpy.where({u}.real >= 0, -{u}, {u}))")
        if named is not None:  # exp(-|u|), analytic branches
            u, e = named
            return f"numpy.where({u}.real >= 0, 1/(1 + {e}), {e}/(1 + {e}))"
        e = "numpy.exp(numpy.where(u.real >= 0, -u, u))"
        body = f"(lambda e: numpy.where(u.real >= 0, 1/(1 + e), e/(1 + e)))({e})"
        return f"(lambda u: {body})({_arg_text(printer, self.args[0])})"

    def _mathcode(self, printer):  # the same two sides on floats (codegen's math printer)
        return printer.branches(self.args[0], "1/(1+{e}) if {u} >= 0 else {e}/(1+{e})")

    def _ccode(self, printer):  # the same two sides in C (numeric/c_source.py)
        return _c_branches(printer, self.args[0], "{u} >= 0 ? 1.0/(1.0 + {e}) : {e}/(1.0 + {e})")


class Softplus(sp.Function):
    """``log(1 + exp(u))`` as ``max(u, 0) + log1p(exp(-|u|))`` (numeric code only)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return Logistic(self.args[0])

    def _numpycode(self, printer):
        body = (
            "numpy.where({u}.real >= 0, {u}, 0*{u})"
            " + numpy.log1p(numpy.exp(numpy.where({u}.real >= 0, -{u}, {u})))"
        )
        named = _named(printer, self.args[0])
        if named is not None:
            return "(" + body.format(u=named[0]) + ")"
        return f"(lambda u: {body.format(u='u')})({_arg_text(printer, self.args[0])})"

    def _mathcode(self, printer):  # the same two sides on floats (codegen's math printer)
        return printer.branches(self.args[0], "({u} if {u} >= 0 else 0*{u})+math.log1p({e})")

    def _ccode(self, printer):
        return _c_branches(printer, self.args[0], "({u} >= 0 ? {u} : 0.0) + log1p({e})")


class LogAddExp(sp.Function):
    """``log(exp(a) + exp(b) + …)``, shifted by the largest real part (numeric code only)."""

    def fdiff(self, argindex=1):
        return sp.exp(self.args[argindex - 1] - self)

    def _numpycode(self, printer):
        bindable = getattr(printer, "bindable", None)
        if bindable is not None and all(map(bindable, self.args)):
            bound = printer.bound
            out = bound(self.args[0])
            for arg in self.args[1:]:  # each pair shifted by its larger real part, every part named
                v = bound(arg)
                m = bound(arg, f"numpy.maximum({out}.real, {v}.real)")
                pair = f"{m} + numpy.log(numpy.exp({out} - {m}) + numpy.exp({v} - {m}))"
                out = bound(arg, pair)
            return out
        out = _arg_text(printer, self.args[0])
        for arg in self.args[1:]:
            shifted = "m + numpy.log(numpy.exp(u - m) + numpy.exp(v - m))"
            pair = f"(lambda m: {shifted})(numpy.maximum(u.real, v.real))"
            out = f"(lambda u, v: {pair})({out}, {_arg_text(printer, arg)})"
        return out

    def _ccode(self, printer):  # shifted by the largest argument, each read once
        args = [_c_value(printer, printer._print(a)) for a in self.args]
        m = args[0]
        for a in args[1:]:
            m = f"fmax({m}, {a})"
        m = _c_value(printer, m)
        return f"({m} + log({' + '.join(f'exp({a} - {m})' for a in args)}))"


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
    pair = _sigmoid_pair(terms)
    if pair is not None:  # c·σ(u) - c·σ(u)² = c·σ(u)·σ(-u)
        i, j, u = pair
        rest = [t for n, t in enumerate(terms) if n not in (i, j)]
        return sp.Add(terms[i] * Logistic(-u), *rest)
    constant = sum((t for t in terms if t.is_Integer), sp.S.Zero)
    exps = [t for t in terms if isinstance(t, sp.exp)]
    if constant.is_negative and exps:  # exp(x) + exp(y) - 2 = expm1(x) + expm1(y)
        paired = exps[: int(-constant)]
        rest = [t for t in terms if not t.is_Integer and t not in paired]
        return sp.Add(*(expm1(t.args[0]) for t in paired), constant + len(paired), *rest)
    return expr


def _sigmoid_pair(terms: list) -> tuple[int, int, sp.Basic] | None:
    """The first ``(i, j, u)`` with ``terms[j] / terms[i] == -σ(u)``, or None.

    Only a term with a σ factor can be either side of such a pair, so the
    pairs are found from those factors (no division of every pair).
    """
    index = {t: n for n, t in reversed(list(enumerate(terms)))}
    found = []
    for n, t in enumerate(terms):
        for factor in sp.Mul.make_args(t):
            base = factor.as_base_exp()[0]
            if not isinstance(base, Logistic):
                continue
            first = index.get(-t / base)  # t is the second term of the pair
            if first is not None and first != n:
                found.append((first, n, base.args[0]))
            second = index.get(-t * base)  # t is the first
            if second is not None and second != n:
                found.append((n, second, base.args[0]))
    return min(found, key=lambda f: f[:2]) if found else None


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


def _distributed(expr: sp.Mul, done: dict) -> sp.Basic | None:
    """``c·(a + b)`` as ``c·a + c·b`` when a pattern then matches in a term.

    ``σ(u)·(y/σ(u) + …)`` must become ``y + …``: where σ(u) underflows the
    product is 0·∞.  Only tried when a factor or a term holds an exp or a σ
    (no other product can newly match).
    """
    for add in expr.args:
        if not isinstance(add, sp.Add):
            continue
        rest = sp.Mul(*(f for f in expr.args if f is not add))
        if not (_exp_or_sigmoid(rest) or any(_exp_or_sigmoid(t) for t in add.args)):
            continue
        products = [rest * t for t in add.args]
        stable = [_stable(p, done) for p in products]
        if stable != products or _reciprocal_sigmoids(products) < _reciprocal_sigmoids([expr]):
            return sp.Add(*stable)  # a pattern matched, or σ·(1/σ) cancelled in a term
    return None


def _reciprocal_sigmoids(exprs) -> int:
    """How many ``1/σ(u)`` (a power of a σ below 0) the expressions hold, counted iteratively."""
    count, stack = 0, list(exprs)
    while stack:
        e = stack.pop()
        if isinstance(e, sp.Pow) and isinstance(e.base, Logistic) and e.exp.is_negative:
            count += 1
        stack.extend(e.args)
    return count


def _exp_or_sigmoid(term: sp.Basic) -> bool:
    return any(isinstance(f.as_base_exp()[0], (sp.exp, Logistic)) for f in sp.Mul.make_args(term))


def _mul(expr: sp.Mul, done: dict) -> sp.Basic:
    distributed = _distributed(expr, done)
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


_PATTERNS = {sp.Pow: _pow, sp.Add: _add, sp.log: _log, log1p: _log1p}


def stable_form(expr: sp.Basic) -> sp.Basic:
    """``expr`` with every pattern of :mod:`symgraph.numeric.stable`'s table replaced, bottom up.

    Examples
    --------
    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> stable_form(sp.log(1 + sp.exp(z)))
    Softplus(z)
    """
    return _stable(expr, {})


def _stable(expr: sp.Basic, done: dict) -> sp.Basic:
    """:func:`stable_form` with a memo ``done`` (expression -> its stable form) to share.

    Iterative; a node already in ``done`` is not entered again.
    """
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
        composed = _compose(e, done) if isinstance(e, ElementwiseApplyFunction) else e
        if composed is not e:  # f.(g.(X)) composed before f and g are rewritten apart
            done[e] = composed
            continue
        new_args = [done.get(a, a) for a in e.args]
        new = e.func(*new_args) if new_args != list(e.args) else e
        if isinstance(new, sp.Mul):
            done[e] = _mul(new, done)
        else:
            rule = _PATTERNS.get(type(new))
            done[e] = rule(new) if rule is not None else new
    return done[expr]


def _compose(expr: ElementwiseApplyFunction, done: dict) -> sp.Basic:
    """``f.(g.(X))`` as ``(f∘g).(X)`` when the composition has a stable form."""
    inner = expr.expr
    if not isinstance(inner, ElementwiseApplyFunction):
        return expr
    u = sp.Dummy("u", real=True)
    composed = expr.function(inner.function(u))
    stable = _stable(composed, done)
    if stable == composed:
        return expr
    return ElementwiseApplyFunction(sp.Lambda(u, stable), inner.expr)
