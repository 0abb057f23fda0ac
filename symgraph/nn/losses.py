"""Losses of scalar outputs, with the conventions listed in :mod:`symgraph.nn`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from ..core.activations import softplus
from ..errors import GraphError
from ..parse.constants import as_constant
from .units import chosen

LossFn = Callable[[Sequence[sp.Expr], Sequence[sp.Expr]], sp.Expr]


def squared_error(outputs: Sequence[sp.Expr], targets: Sequence[sp.Expr]) -> sp.Expr:
    """``½ Σ_i (ŷ_i − y_i)²``.

    Examples
    --------
    >>> import sympy as sp
    >>> p, y = sp.symbols("p y")
    >>> squared_error([p], [y])
    (p - y)**2/2
    """
    _same_length(outputs, targets)
    return sp.Add(*((o - t) ** 2 for o, t in zip(outputs, targets, strict=True))) / 2


def binary_cross_entropy(
    outputs: Sequence[sp.Expr], targets: Sequence[sp.Expr], logits: bool = False
) -> sp.Expr:
    """``−Σ_i (y_i log p_i + (1 − y_i) log(1 − p_i))`` on sigmoid outputs ``p``.

    With ``logits=True`` the outputs are the logits ``z`` (``p = sigmoid(z)``)
    and the loss is written ``y softplus(−z) + (1 − y) softplus(z)``: finite for
    any ``z``, and its gradient ``(1 − y) σ(z) − y σ(−z)`` (that is, ``σ(z) − y``)
    accurate to the last digit (compiled through symgraph's stable forms).

    Examples
    --------
    >>> import sympy as sp
    >>> p, y, z = sp.symbols("p y z", real=True)
    >>> binary_cross_entropy([p], [y])
    -y*log(p) - (1 - y)*log(1 - p)
    >>> binary_cross_entropy([z], [y], logits=True)
    y*log(1 + exp(-z)) + (1 - y)*log(exp(z) + 1)
    """
    _same_length(outputs, targets)
    if logits:
        terms = (
            y * softplus(-z) + (1 - y) * softplus(z) for z, y in zip(outputs, targets, strict=True)
        )
    else:
        terms = (
            -(y * sp.log(p) + (1 - y) * sp.log(1 - p))
            for p, y in zip(outputs, targets, strict=True)
        )
    return sp.Add(*terms)


def logsumexp(z: Sequence[sp.Expr]) -> sp.Expr:
    """``log Σ exp(z_i)``, written ``m + log Σ exp(z_i − m)`` with ``m = max(z)``.

    The shift keeps the compiled value finite for large ``z``; its effect on
    the derivative cancels exactly (the ``Heaviside`` terms of ``max`` sum to 0).

    Examples
    --------
    >>> import sympy as sp
    >>> logsumexp(sp.symbols("z1 z2", real=True))
    log(exp(z1 - Max(z1, z2)) + exp(z2 - Max(z1, z2))) + Max(z1, z2)
    """
    if not z:
        raise GraphError("logsumexp of no logits")
    if len(z) == 1:
        return z[0]
    m = sp.Max(*z)
    return m + sp.log(sp.Add(*(sp.exp(zi - m) for zi in z)))


def softmax_cross_entropy(logits: Sequence[sp.Expr], targets: Sequence[sp.Expr]) -> sp.Expr:
    """``logsumexp(z) − Σ_i y_i z_i``: ``−Σ y_i log softmax(z)_i`` when ``Σ y_i = 1``.

    Targets are one-hot or probabilities; the logits are the raw outputs of a
    last layer with the ``"identity"`` activation.

    Examples
    --------
    >>> import sympy as sp
    >>> z1, z2, y1, y2 = sp.symbols("z1 z2 y1 y2", real=True)
    >>> softmax_cross_entropy([z1, z2], [y1, y2])
    -y1*z1 - y2*z2 + log(exp(z1 - Max(z1, z2)) + exp(z2 - Max(z1, z2))) + Max(z1, z2)
    """
    _same_length(logits, targets)
    return logsumexp(logits) - sp.Add(*(y * z for z, y in zip(logits, targets, strict=True)))


def l2_penalty(params: Sequence[sp.Expr], lam: sp.Expr | float | None = None) -> sp.Expr:
    """``λ/2 Σ w²`` (``λ`` is the real symbol ``lambda`` unless given).

    Examples
    --------
    >>> import sympy as sp
    >>> w1, w2 = sp.symbols("w1 w2")
    >>> l2_penalty([w1, w2])
    lambda*(w1**2 + w2**2)/2
    """
    return penalty_weight(lam) * sp.Add(*(w**2 for w in params)) / 2


def penalty_weight(lam: sp.Expr | float | None) -> sp.Expr:
    """``λ`` of a penalty: the real symbol ``lambda`` when None, else ``lam`` as a constant."""
    return sp.Symbol("lambda", real=True) if lam is None else as_constant(lam, "lam")


LOSSES: dict[str, LossFn] = {
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def _same_length(outputs, targets) -> None:
    if len(outputs) != len(targets):
        raise GraphError(f"{len(outputs)} outputs but {len(targets)} targets")


def chosen_loss(loss: str | LossFn) -> LossFn:
    """The loss called ``loss`` (a callable is returned as it is)."""
    return chosen(LOSSES, loss, "loss")
