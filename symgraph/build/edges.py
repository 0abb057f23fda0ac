"""The in-edges of a node: what each operand receives of the node's δ, for every shape.

One edge kind.  Every edge carries ``vjp``, its vector-Jacobian product: the
operand's share of ``δ_node``, written in ``δ_node`` (``δ_W = δ_z xᵀ``;
``δ_v · cos(v)`` for ``sin``).  Backpropagation sums those shares.  An edge
out of a scalar operation also keeps ``partial``, the local derivative
∂node/∂operand (its share is ``δ_node · partial``), for drawings and
path-by-path walkthroughs; elsewhere ``partial`` is None.

Examples
--------
>>> import sympy as sp
>>> v, w = sp.Symbol("v", real=True), sp.Symbol("w", real=True)
>>> edges_of(v, sp.sin(w), [w])
[(w, {'partial': cos(w), 'vjp': delta_v*cos(w)})]
>>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
>>> edges_of(sp.MatrixSymbol("z", 2, 1), W * x, [W, x])[0]
(W, {'partial': None, 'vjp': delta_z*x.T})
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence

import sympy as sp
from sympy.core.function import ArgumentIndexError
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.adjoint import adjoint_of, share_of
from ..core.sizes import expression_depth, is_matrix, zero_like
from ..core.substitute import contains, folded
from ..errors import GraphError, NoRuleError
from ..rules.registry import (
    has_rule,
    has_vjp,
    local_partial,
    matrix_vjp,
    pattern_of,
    slots,
    whole_partial,
)
from .templates import function_partial, templated

# levels of one node's operation: its partials, generated code and printers recurse once per
# level (a 50-layer tanh chain as one named step works; 75 layers overflow Python's stack)
OPERATION_MAX_DEPTH = 100


def edges_of(node: sp.Basic, op: sp.Basic, operands: Sequence[sp.Basic]) -> list[tuple]:
    """``(operand, {"partial": ..., "vjp": ...})`` for each in-edge of ``node = op``.

    ``op`` may be one operation or several nested ones (a named step, a fused
    node).  Where no rule applies, the edge's ``vjp`` is None: backward names
    the node if a weight's path needs it.

    Raises
    ------
    GraphError
        For an ``op`` more than :data:`OPERATION_MAX_DEPTH` levels deep.
    """
    levels = expression_depth(op) - 1  # a symbol's own level is not an operation
    if levels > OPERATION_MAX_DEPTH:
        raise GraphError(
            f"{node} would compute one expression {levels} operations deep; a node's operation "
            f"may be at most {OPERATION_MAX_DEPTH} deep, as it is differentiated, compiled, "
            "checked and printed whole: cut it into more nodes (granularity='op', shorter "
            "named steps, or fuse fewer nodes at a time: a layer, a block of layers)"
        )
    if not (is_matrix(op) or has_vjp(op) or any(map(is_matrix, operands))):
        delta = adjoint_of(node)
        return [
            (s, {"partial": partial, "vjp": share_of(delta, partial)})
            for s, partial in scalar_partials(node, op, operands)
        ]
    try:
        shares = expression_vjp(op, adjoint_of(node), operands, value=node)
    except NoRuleError:
        return [(s, {"partial": None, "vjp": None}) for s in operands]
    edges = []
    for s in operands:
        share = shares.get(s)
        if share is None:
            share = zero_like(s)
        else:  # tanh'(Z) = 1 - A⊙A: the node A, computed once, not tanh(Z) again
            share = folded(share.xreplace({op: node}) if share.has(op) else share)
        edges.append((s, {"partial": None, "vjp": share}))
    return edges


def scalar_partials(node, op: sp.Basic, operands: Sequence[sp.Basic]) -> list[tuple]:
    """``(operand, ∂op/∂operand)`` for the in-edges of ``node = op``; None where no rule.

    The rules speak of slots: they apply when every slot is an operand or a
    constant.  A fused operation (operands nested deeper, as a coarse node
    has) is differentiated by one reverse sweep over its own expression
    (linear in its size, whatever the number of operands); an opaque one
    (Sum, Integral), or one the sweep has no rule for, by SymPy's ``diff``.
    """
    if isinstance(op, sp.Symbol):  # a named copy: a = z
        return [(op, sp.S.One)]
    position_of: dict[sp.Basic, list[int]] = {s: [] for s in operands}
    for k, slot in enumerate(slots(op)):
        if slot in position_of:
            position_of[slot].append(k)
    entered = has_rule(op) and all(
        slot in position_of or not slot.free_symbols for slot in slots(op)
    )
    swept = {} if entered else _swept_partials(op, operands)
    edges = []
    if entered and len(position_of) == 1 and templated(op):  # tanh(v): 1 - a**2
        partial = function_partial(op, node)
        if partial is not None:
            return [(operands[0], partial)]
    for operand, positions in position_of.items():
        try:
            if entered:
                partials = [local_partial(op, k) for k in positions]
                partial = partials[0] if len(partials) == 1 else sp.Add(*partials)
            elif swept is not None:
                partial = swept.get(operand, sp.S.Zero)
            else:
                partial = whole_partial(op, operand)
        except (ArgumentIndexError, NoRuleError):  # no derivative: backward names the node
            edges.append((operand, None))
            continue
        if (entered and pattern_of(op) is not None) or (
            not isinstance(op, (sp.Add, sp.Mul, sp.Pow)) and not partial.has(sp.Subs)
        ):  # tanh' = 1 - a**2, not 1 - tanh(z)**2; σ' = a*(1 - a)
            partial = partial.xreplace({op: node})
        edges.append((operand, partial))
    return edges


def _swept_partials(op: sp.Basic, operands: Sequence[sp.Basic]) -> dict | None:
    """Every ``∂op/∂operand`` of a fused scalar operation, by one reverse sweep (seed 1).

    None when some operation inside has no rule the sweep can use (an
    ``Integral``, a ``Piecewise``): SymPy's ``diff`` differentiates those whole.
    """
    if contains(op, sp.Piecewise):  # its slots are not its args: the rules cannot sweep it
        return None
    try:
        return expression_vjp(op, sp.S.One, operands)
    except (ArgumentIndexError, NoRuleError, TypeError, ValueError):
        return None


def _value_positions(e: sp.Basic) -> range | list[int]:
    """Positions in ``e.args`` that may hold values (not an entrywise function's function)."""
    if isinstance(e, ElementwiseApplyFunction):
        return [1]
    if isinstance(e, (sp.MatrixSymbol, sp.Symbol)) or not e.args:
        return []
    return range(len(e.args))


def expression_vjp(
    op: sp.Basic, seed: sp.Basic, operands: Sequence[sp.Basic], value: sp.Basic | None = None
) -> dict:
    """Each operand's share of ``seed``, the adjoint of ``op`` (one reverse sweep).

    ``op`` is an expression in ``operands`` (one operation, or several nested
    ones for a fused node); matrix operations go through the VJP rules,
    scalar ones through the scalar rules.  Iterative: nesting depth is free.
    ``value``: the node holding ``op``'s result; what ``op``'s own rule writes in
    ``op`` (``tanh' = 1 - A⊙A``) is written in it at once, before the rules
    below fold it into their operands (``1 - tanh(WX)²``, computed again).

    Examples
    --------
    >>> import sympy as sp
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> d = sp.MatrixSymbol("d", 2, 1)
    >>> expression_vjp(W*x + W*x, d, [W, x])
    {W: 2*d*x.T, x: 2*W.T*d}
    """
    targets = set(operands)
    order, seen, stack = [], set(), [(op, False)]  # post-order over every value position
    while stack:
        e, ready = stack.pop()
        if ready:
            order.append(e)
            continue
        if e in seen:
            continue
        seen.add(e)
        stack.append((e, True))
        if e not in targets:
            stack.extend((e.args[k], False) for k in _value_positions(e))
    holds: dict[sp.Basic, bool] = {}  # does this subexpression hold an operand? (bottom-up)
    for e in order:
        holds[e] = e in targets or any(holds[e.args[k]] for k in _value_positions(e))
    # each part's shares, summed once when it is reached (all its users come before it): an
    # operand used in k places (w in sin(w*x1) + ... ) is one k-term sum, not k growing ones
    shares: dict[sp.Basic, list[sp.Basic]] = {op: [seed]}
    for e in reversed(order):
        if e in targets or e not in shares:
            continue
        positions = [k for k in _value_positions(e) if holds[e.args[k]]]
        for k, share in zip(positions, _local_vjps(e, positions, _total(shares[e])), strict=True):
            if e is op and value is not None:
                share = share.xreplace({op: value})
            shares.setdefault(e.args[k], []).append(share)
    return {s: _total(shares[s]) for s in operands if s in shares}


def _total(shares: list[sp.Basic]) -> sp.Basic:
    """The sum of a part's shares: one ``Add`` of scalars; matrices added as their class adds."""
    if len(shares) == 1:
        return shares[0]
    if any(map(is_matrix, shares)):
        return functools.reduce(operator.add, shares)
    return sp.Add(*shares)


def _local_vjps(e: sp.Basic, positions: list[int], adjoint: sp.Basic) -> list[sp.Basic]:
    """The shares of ``adjoint`` that ``e`` sends to its arguments at ``positions``.

    What does not depend on the position (the checks, the rule's placeholders)
    is made once: a sum of k terms costs k, not k².
    """
    try:
        if is_matrix(e) or has_vjp(e):
            return [matrix_vjp(e, k, adjoint) for k in positions]
        if any(is_matrix(a) for a in e.args):
            raise NoRuleError(f"no rule for {type(e).__name__} of a matrix")
        if not has_rule(e):  # Sum, Integral: their arguments bind variables
            raise NoRuleError(f"no rule for {type(e).__name__}")
        if isinstance(e, sp.Add):  # every term's partial is 1
            return [adjoint] * len(positions)
        placeholders = [sp.Dummy(f"s{j}") for j in range(len(e.args))]
        general, values = e.func(*placeholders), dict(zip(placeholders, e.args, strict=True))
        return [adjoint * local_partial(general, k).xreplace(values) for k in positions]
    except NoRuleError as err:
        raise NoRuleError(f"cannot backpropagate through {e}: {err}") from err
