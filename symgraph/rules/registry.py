"""The one registry of derivative rules, keyed by SymPy class: two kinds of rule.

- Local partials (scalar operations), :func:`register_rule`.
- Vector-Jacobian products (matrix operations), :func:`register_vjp`:
  ``vjp(op, index, adjoint)`` sends the δ of a matrix result back to one
  operand as a matrix of the operand's shape (``δ xᵀ``), never a 4-index
  tensor.  The matrix operations' own rules are written in
  :mod:`symgraph.rules.matrix`.

A local-partial rule answers: how does a node's local operation ``op`` change
with one of its operand slots?  ``rule(op, index)`` returns ``∂op/∂slots(op)[index]`` as a
SymPy expression in the same symbols as ``op``.  Lookup walks the class's
``__mro__`` (a subclass inherits its parent's rule); any SymPy ``Function``
without an explicit rule falls back on its own ``fdiff``; anything else raises
:class:`~symgraph.errors.NoRuleError`.

Convention: symgraph differentiates real functions of real variables, so
``|x|' = sign(x)`` (``sign(0) = 0``), ``Max(x, 0)' = Heaviside(x)``
(``Heaviside(0) = 1/2``, SymPy's convention; a tie among k arguments of a
``Max`` or ``Min`` gives each 1/k, so the shares sum to 1) and the derivative of a
``Piecewise`` is taken branch by branch (the conditions are held fixed, which
is exact everywhere except on the boundaries themselves).

Examples
--------
>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> local_partial(sp.sin(x) , 0)
cos(x)
>>> local_partial(x * y, 1)
x
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import sympy as sp
from sympy.logic.boolalg import Boolean
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.sizes import shown
from ..errors import GraphError, NoRuleError

Rule = Callable[[sp.Basic, int], sp.Basic]

_RULES: dict[type, Rule] = {}


def register_rule(cls: type, rule: Rule | None = None):
    """Register ``rule(op, index) -> ∂op/∂slots(op)[index]`` for a SymPy class.

    Usable as a plain call or as a decorator.  The rule receives the node's
    local operation (its operands already replaced by node symbols) and the
    position of one operand; it returns the local partial derivative.

    Examples
    --------
    >>> import sympy as sp
    >>> class softsign(sp.Function):
    ...     pass
    >>> _ = register_rule(softsign, lambda op, i: 1 / (1 + sp.Abs(op.args[0]))**2)
    >>> x = sp.Symbol("x", real=True)
    >>> local_partial(softsign(x), 0)
    (Abs(x) + 1)**(-2)
    """
    if rule is None:
        return lambda fn: register_rule(cls, fn)
    _RULES[_rule_key(cls, rule, "register_rule")] = rule
    return rule


# --- vector-Jacobian products (matrix operations) ----------------------------

VJP = Callable[[sp.Basic, int, sp.Basic], sp.Basic]
_VJP: dict[type, VJP] = {}


def register_vjp(cls: type, rule: VJP | None = None):
    """Register ``rule(op, index, adjoint) -> operand adjoint`` for a matrix operation.

    The rule returns the share of ``adjoint`` (the δ of the result) that goes
    to ``op.args[index]``, as a matrix expression of that operand's shape
    (``δ xᵀ`` for ``W`` in ``W x``).  The matrix operations' own rules are in
    :mod:`symgraph.rules.matrix`; usable as a decorator, like :func:`register_rule`.
    """
    if rule is None:
        return lambda fn: register_vjp(cls, fn)
    _VJP[_rule_key(cls, rule, "register_vjp")] = rule
    return rule


def _rule_key(cls: Any, rule: Any, who: str) -> type:
    """``cls`` when it is a SymPy class and ``rule`` a function; else one clear error."""
    if not (isinstance(cls, type) and issubclass(cls, sp.Basic)):
        raise GraphError(f"{who}: rules are keyed by a SymPy class, not {shown(cls)}")
    if not callable(rule):
        raise GraphError(f"{who}: a rule for {cls.__name__} is a function, not {shown(rule)}")
    return cls


def _find_vjp(op: sp.Basic) -> VJP | None:
    """The rule registered for ``op``'s class or its nearest base class."""
    for klass in type(op).__mro__:
        if klass in _VJP:
            return _VJP[klass]
    return None


def has_vjp(op: sp.Basic) -> bool:
    """Whether a VJP rule is registered along the MRO of ``op``'s class.

    Scalar-valued matrix functions (``Trace``, ``SumEntries``...) have one too,
    so this, not the result's shape, says whether to use :func:`matrix_vjp`.

    >>> import sympy as sp
    >>> import symgraph.rules.matrix  # registers the matrix operations' rules
    >>> X = sp.MatrixSymbol("X", 2, 2)
    >>> has_vjp(sp.Trace(X)), has_vjp(sp.sin(sp.Symbol("x")))
    (True, False)
    """
    return _find_vjp(op) is not None


def matrix_vjp(op: sp.Basic, index: int, adjoint: sp.Basic) -> sp.Basic:
    """The adjoint of ``op.args[index]`` given the adjoint of ``op``.

    Raises
    ------
    NoRuleError
        When no rule is registered for ``op``'s class.
    """
    rule = _find_vjp(op)
    if rule is None:
        raise NoRuleError(f"no vector-Jacobian rule for {type(op).__name__} (in {op})")
    return rule(op, index, adjoint)


# --- pattern rules: one node for an activation SymPy writes as several operations --


class Pattern(NamedTuple):
    """An activation written in several SymPy classes, treated as one operation of one slot.

    ``match(expr)`` is the argument when ``expr`` is the pattern (else None),
    ``build(arg)`` the pattern of a new argument (``build(match(e)) == e``), and
    ``partial(op, arg)`` the derivative ∂op/∂arg, written in ``op`` itself
    where a paper does (``σ′ = σ(1 − σ)``).  ``parts``: the classes it is
    built from; a rule registered for one of them (``register_rule(sp.exp,
    ...)``) switches the pattern off, so that rule is used throughout.
    """

    name: str
    match: Callable[[sp.Basic], sp.Basic | None]
    build: Callable[[sp.Basic], sp.Basic]
    partial: Callable[[sp.Basic, sp.Basic], sp.Basic]
    parts: tuple[type, ...] = ()


_PATTERNS: list[Pattern] = []


def register_pattern(pattern: Pattern) -> Pattern:
    """Make ``pattern`` one operation: one node, one slot, its own local partial.

    Checked before the class rules by :func:`slots`, :func:`rebuild` and
    :func:`local_partial`, so the graph builder makes one node of it.
    """
    if not all(callable(f) for f in (pattern.match, pattern.build, pattern.partial)):
        raise GraphError(f"register_pattern: {pattern.name}: match, build, partial are functions")
    _PATTERNS.append(pattern)
    return pattern


def pattern_of(expr: sp.Basic) -> tuple[Pattern, sp.Basic] | None:
    """``(pattern, argument)`` when ``expr`` is a registered pattern, else None.

    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> pattern_of(1 / (1 + sp.exp(-z)))[0].name, pattern_of(sp.log(1 + sp.exp(z)))[1]
    ('sigmoid', z)
    >>> pattern_of(1 / (2 + sp.exp(-z))) is None
    True
    """
    if not isinstance(expr, (sp.Pow, sp.log)):  # every pattern below is one of these
        return None
    for pattern in _PATTERNS:
        if any(_RULES.get(cls) is not _BUILT_IN.get(cls) for cls in pattern.parts):
            continue  # the user's own rule for a part wins
        arg = pattern.match(expr)
        if arg is not None:
            return pattern, arg
    return None


def _one_plus_exp(e: sp.Basic) -> sp.Basic | None:
    """``u`` when ``e`` is ``1 + exp(u)`` (SymPy puts the number first), else None."""
    if isinstance(e, sp.Add) and len(e.args) == 2 and e.args[0] == 1:
        if isinstance(e.args[1], sp.exp):
            return e.args[1].args[0]
    return None


def _logistic_argument(e: sp.Basic) -> sp.Basic | None:
    if isinstance(e, sp.Pow) and e.exp == -1:
        u = _one_plus_exp(e.base)
        return None if u is None else -u
    return None


def _softplus_argument(e: sp.Basic) -> sp.Basic | None:
    return _one_plus_exp(e.args[0]) if isinstance(e, sp.log) and len(e.args) == 1 else None


def _log_logistic_argument(e: sp.Basic) -> sp.Basic | None:
    """``z`` when ``e`` is ``log(σ(z))``."""
    return _logistic_argument(e.args[0]) if isinstance(e, sp.log) and len(e.args) == 1 else None


def _log_one_minus_logistic_argument(e: sp.Basic) -> sp.Basic | None:
    """``z`` when ``e`` is ``log(1 - σ(z))`` (SymPy: ``log(1 + (-1)*σ(z))``)."""
    if not (isinstance(e, sp.log) and len(e.args) == 1 and isinstance(e.args[0], sp.Add)):
        return None
    terms = e.args[0].args
    if len(terms) == 2 and terms[0] == 1 and isinstance(terms[1], sp.Mul):
        factors = terms[1].args
        if len(factors) == 2 and factors[0] == -1:
            return _logistic_argument(factors[1])
    return None


SIGMOID = register_pattern(
    Pattern(
        "sigmoid",
        _logistic_argument,
        lambda z: 1 / (1 + sp.exp(-z)),
        lambda op, z: op * (1 - op),  # σ′ = σ(1 − σ): in the node's own value, like tanh's
        (sp.Pow, sp.Add, sp.exp),
    )
)
# The two halves of the cross-entropy of a sigmoid: one node each, so no 1/σ(z) (infinite
# where σ(z) underflows) ever meets σ(z)·(1 - σ(z)) in the backward pass.
LOG_SIGMOID = register_pattern(
    Pattern(
        "log-sigmoid",
        _log_logistic_argument,
        lambda z: sp.log(1 / (1 + sp.exp(-z))),
        lambda op, z: 1 - 1 / (1 + sp.exp(-z)),  # (log σ)′ = 1 − σ
        (sp.log, sp.Pow, sp.Add, sp.exp),
    )
)
LOG_ONE_MINUS_SIGMOID = register_pattern(
    Pattern(
        "log-one-minus-sigmoid",
        _log_one_minus_logistic_argument,
        lambda z: sp.log(1 - 1 / (1 + sp.exp(-z))),
        lambda op, z: -1 / (1 + sp.exp(-z)),  # (log(1 − σ))′ = −σ
        (sp.log, sp.Add, sp.Mul, sp.Pow, sp.exp),
    )
)
SOFTPLUS = register_pattern(
    Pattern(
        "softplus",
        _softplus_argument,
        lambda z: sp.log(1 + sp.exp(z)),
        lambda op, z: 1 / (1 + sp.exp(-z)),  # softplus′ = σ: the sigmoid of its argument
        (sp.log, sp.Add, sp.exp),
    )
)


def find_rule(cls: type) -> Rule | None:
    """The rule for ``cls``: its own, an ancestor's, ``fdiff`` for functions, or None."""
    for klass in cls.__mro__:
        if klass in _RULES:
            return _RULES[klass]
    if issubclass(cls, sp.Expr) and hasattr(cls, "fdiff"):  # Function, Max, Min
        return _fdiff_rule
    return None


def slots(expr: sp.Basic) -> tuple[sp.Basic, ...]:
    """The operand positions of an expression, as the rules count them.

    For most classes these are ``expr.args``; a ``Piecewise`` lists its
    branches and conditions alternately (``e1, c1, e2, c2, ...``); an entrywise
    function has one, its matrix (the function itself is not an operand); a
    registered pattern (the sigmoid ``1/(1 + exp(-z))``) has one, its argument.

    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> slots(1 / (1 + sp.exp(-z))), slots(sp.exp(-z))
    ((z,), (-z,))
    """
    if isinstance(expr, ElementwiseApplyFunction):
        return (expr.expr,)
    if isinstance(expr, sp.Piecewise):
        return tuple(part for pair in expr.args for part in pair.args)
    found = pattern_of(expr)
    if found is not None:  # 1/(1 + exp(-z)): one operation of z
        return (found[1],)
    return expr.args


def rebuild(expr: sp.Basic, new_slots: Sequence[sp.Basic]) -> sp.Basic:
    """``expr``'s operation applied to ``new_slots`` (inverse of :func:`slots`).

    Sums and products of distinct node symbols need no evaluation (nothing
    combines), so they are built directly: the bulk of a large graph.
    """
    if isinstance(expr, ElementwiseApplyFunction):
        return ElementwiseApplyFunction(expr.function, new_slots[0])
    if isinstance(expr, sp.Piecewise):
        pairs = [tuple(new_slots[k : k + 2]) for k in range(0, len(new_slots), 2)]
        return sp.Piecewise(*pairs)
    found = pattern_of(expr)
    if found is not None:
        return found[0].build(new_slots[0])
    if isinstance(expr, (sp.Add, sp.Mul)) and len(set(new_slots)) == len(new_slots):
        return expr.func(*new_slots, evaluate=False)
    return expr.func(*new_slots)


def local_partial(op: sp.Basic, index: int) -> sp.Basic:
    """``∂op/∂slots(op)[index]`` by the registered rule, or raise NoRuleError.

    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> local_partial(1 / (1 + sp.exp(-z)), 0)
    (1 - 1/(1 + exp(-z)))/(1 + exp(-z))
    """
    found = pattern_of(op)
    if found is not None:
        pattern, arg = found
        return pattern.partial(op, arg)
    rule = find_rule(type(op))
    if rule is None:
        raise NoRuleError(
            f"no derivative rule for {type(op).__name__} (in {op}); "
            "register one with symgraph.register_rule"
        )
    return rule(op, index)


def whole_partial(op: sp.Basic, symbol: sp.Symbol) -> sp.Basic:
    """``∂op/∂symbol`` by SymPy's own ``diff`` of the whole operation.

    For operations symgraph does not enter (``Sum``, ``Integral``...: their
    arguments bind variables), SymPy differentiates under the sign.  An
    unevaluated ``Derivative`` in the answer means SymPy cannot: no rule.

    >>> import sympy as sp
    >>> w, i = sp.Symbol("w", real=True), sp.Symbol("i", integer=True)
    >>> whole_partial(sp.Sum(w**i, (i, 1, 3)), w)
    Sum(i*w**i/w, (i, 1, 3))
    """
    if not isinstance(op, sp.Expr):  # a comparison or logic: piecewise constant
        return sp.S.Zero
    try:
        partial = op.diff(symbol)
    except (NotImplementedError, TypeError, ValueError) as err:  # Trace, ...: no rule in SymPy
        raise NoRuleError(f"SymPy cannot differentiate {op} with respect to {symbol}") from err
    if partial.has(sp.Derivative):
        raise NoRuleError(f"SymPy cannot differentiate {op} with respect to {symbol}")
    return partial


def has_rule(op: sp.Basic) -> bool:
    """Whether :func:`local_partial` can differentiate ``op``."""
    return find_rule(type(op)) is not None


# --- the rules ---------------------------------------------------------------


def _fdiff_rule(op: sp.Basic, index: int) -> sp.Basic:
    partial = op.fdiff(index + 1)
    arg = op.args[index]
    if isinstance(arg, sp.Symbol) and partial.has(sp.Derivative):
        # An undefined function: f'(v) must survive v being replaced by an
        # expression later, so write it as SymPy does, f'(ξ) at ξ = v.
        xi = sp.Dummy("xi")
        partial = sp.Subs(partial.xreplace({arg: xi}), xi, arg)
    return partial


@register_rule(sp.Add)
def _add(op: sp.Basic, index: int) -> sp.Basic:
    return sp.S.One


@register_rule(sp.Mul)
def _mul(op: sp.Basic, index: int) -> sp.Basic:
    others = [a for k, a in enumerate(op.args) if k != index]
    return others[0] if len(others) == 1 else sp.Mul(*others)


@register_rule(sp.Pow)
def _pow(op: sp.Basic, index: int) -> sp.Basic:
    base, exponent = op.args
    if index == 0:
        return exponent * base ** (exponent - 1)
    return op * sp.log(base)


@register_rule(sp.Abs)
def _abs(op: sp.Basic, index: int) -> sp.Basic:
    return sp.sign(op.args[0])


@register_rule(sp.sign)
def _sign(op: sp.Basic, index: int) -> sp.Basic:
    return 2 * sp.DiracDelta(op.args[0])  # SymPy's own value; zero wherever it exists


@register_rule(sp.Max)
@register_rule(sp.Min)
def _max_min(op: sp.Basic, index: int) -> sp.Basic:
    """A tie splits the derivative equally among the tied arguments: shares sum to 1.

    Two arguments keep SymPy's ``Heaviside(a - b)`` (½ each at a tie). For
    more, ``Heaviside(a_i − Max(others), 1)`` says "a_i is a maximum", and
    dividing by how many are gives each of the k tied arguments 1/k (SymPy's
    own ``Heaviside(a_i − Max(others))`` gives each ½, which sums to k/2).
    """
    if len(op.args) == 2:
        return op.fdiff(index + 1)
    step = (lambda d: d) if isinstance(op, sp.Max) else (lambda d: -d)

    def is_extreme(k: int) -> sp.Basic:
        others = op.func(*(a for j, a in enumerate(op.args) if j != k))
        return sp.Heaviside(step(op.args[k] - others), 1)

    return is_extreme(index) / sp.Add(*(is_extreme(k) for k in range(len(op.args))))


@register_rule(sp.Piecewise)
def _piecewise(op: sp.Basic, index: int) -> sp.Basic:
    branch, is_condition = divmod(index, 2)
    if is_condition:
        return sp.S.Zero
    conditions = [pair.cond for pair in op.args]
    return sp.Piecewise(
        *((sp.S.One if k == branch else sp.S.Zero, cond) for k, cond in enumerate(conditions))
    )


def _piecewise_constant(op: sp.Basic, index: int) -> sp.Basic:
    return sp.S.Zero


# Comparisons and logic are piecewise constant: their derivative is 0 wherever
# it exists, and the boundaries are where Piecewise's convention applies.
for _cls in (sp.core.relational.Relational, Boolean, sp.floor, sp.ceiling, sp.frac):
    register_rule(_cls, _piecewise_constant)

# The built-in rules, as registered above: a pattern is used while its parts keep these.
_BUILT_IN: dict[type, Rule] = dict(_RULES)
