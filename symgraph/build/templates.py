"""Local partials of a function of one node, from one template per function class.

``tanh(v)``'s rule gives ``1 - tanh(v)²`` for every symbol ``v`` of the same
assumptions, so it runs once, on placeholders: ``ξ`` for the argument and
``η`` for the node itself (``tanh' = 1 - η²``), and each node gets that
template with its own symbols put in.  Building ``tanh(v)`` and its
derivative again per node costs SymPy's evaluation each time (a function
call builds its ``nargs`` set, asks its argument's assumptions...).

A rule registered again gets a template of its own (the rule is in the key); a rule
that refuses placeholders is applied per node, as before.

Examples
--------
>>> import sympy as sp
>>> v, a = sp.symbols("v a", real=True)
>>> function_partial(sp.tanh(v), a), function_partial(sp.Max(0, v), a)
(1 - a**2, Heaviside(v))
"""

from __future__ import annotations

import sympy as sp

from ..core.substitute import applied
from ..rules.registry import find_rule, local_partial, pattern_of

__all__ = ["function_partial", "templated"]

# (class, rule, its numbers, the argument's and the node's assumptions) -> template
_templates: dict[tuple, tuple | None] = {}


def templated(op: sp.Basic) -> bool:
    """A function of one node symbol and numbers (``tanh(v)``, ``Max(0, v)``), not a pattern."""
    symbols = [a for a in op.args if not a.is_Number]
    return (
        isinstance(op, (sp.Function, sp.Max, sp.Min))
        and len(symbols) == 1
        and isinstance(symbols[0], sp.Symbol)
        and pattern_of(op) is None
    )


def function_partial(op: sp.Basic, node: sp.Basic) -> sp.Basic | None:
    """``∂op/∂v`` for ``node = op = f(v)``, written in the node where the rule says ``f(v)``.

    None when the rule does not give one formula for every such symbol: the
    caller applies it per node.
    """
    (arg,) = (a for a in op.args if not a.is_Number)
    numbers = tuple(None if a is arg else a for a in op.args)  # the symbol's place: None
    key = (type(op), find_rule(type(op)), numbers, _facts(arg), _facts(node))
    if key not in _templates:
        _templates[key] = _template(type(op), numbers, arg, node)
    if _templates[key] is None:
        return None
    xi, eta, template = _templates[key]
    rest = template.args[1:] if isinstance(template, sp.Function) else None
    if rest is not None and template.args[0] == xi and all(a.is_Number for a in rest):
        # relu' = Heaviside(ξ): built as it stands, not evaluated again (it did not fold on ξ)
        return applied(type(template), (arg, *rest))
    return template.xreplace({xi: arg, eta: node})


def _facts(symbol: sp.Basic) -> frozenset:
    return frozenset(symbol.assumptions0.items())


def _template(func: type, numbers: tuple, arg: sp.Basic, node: sp.Basic) -> tuple | None:
    xi = sp.Dummy("xi", **arg.assumptions0)
    call = func(*(xi if a is None else a for a in numbers))
    if type(call) is not func or xi not in call.args:  # evaluates to something else
        return None
    try:
        partial = local_partial(call, call.args.index(xi))
    except Exception:  # noqa: BLE001 - a user's rule may refuse a placeholder: per node then
        return None
    if partial.has(sp.Subs, sp.Derivative):  # an undefined function's f'(ξ)
        return None
    eta = sp.Dummy("eta", **node.assumptions0)
    return xi, eta, partial.xreplace({call: eta})
