"""Losses of a batch of matrix outputs, summed or averaged over the samples (the rows)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from ..core.activations import softplus
from ..core.sizes import is_matrix, shape_text
from ..errors import GraphError
from ..nn.losses import penalty_weight
from ..nn.units import chosen
from ..rules.matfuncs import RowLogSumExp, SumEntries
from .matrices import elementwise, is_elementwise

MatrixLoss = Callable[..., sp.Expr]

REDUCTIONS = ("mean", "sum")


def _reduce(total: sp.Expr, outputs: sp.MatrixExpr, reduction: str) -> sp.Expr:
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / outputs.shape[0]
    raise GraphError(f"reduction must be one of {', '.join(REDUCTIONS)}, not {reduction!r}")


def _same_shape(outputs: sp.MatrixExpr, targets: sp.MatrixExpr) -> None:
    for m, what in ((outputs, "outputs"), (targets, "targets")):
        if not is_matrix(m):
            raise GraphError(f"the {what} must be an n × k matrix, not {m!r}")
    if tuple(outputs.shape) != tuple(targets.shape):
        raise GraphError(
            f"the outputs {outputs} are {shape_text(outputs.shape)} "
            f"but the targets {targets} are {shape_text(targets.shape)}"
        )


def squared_error(
    outputs: sp.MatrixExpr, targets: sp.MatrixExpr, reduction: str = "mean"
) -> sp.Expr:
    """``½ Σ_{s,i} (Ŷ − Y)²_{s,i}``, divided by ``n`` for ``"mean"``.

    Written ``½ 1ᵀ (R ⊙ R) 1`` with ``R = Ŷ − Y``: ``n k`` operations, and a
    gradient ``δ R`` of the same cost (``tr(Rᵀ R)`` would form a ``k × k``
    product at ``n k²``, and ``tr(R Rᵀ)`` an ``n × n`` one).

    Examples
    --------
    >>> from symgraph.layers import input_matrix
    >>> Yhat, Y = (input_matrix(4, 1, name) for name in ("Yhat", "Y"))
    >>> squared_error(Yhat, Y)
    SumEntries(HadamardProduct(-Y + Yhat, -Y + Yhat))/8
    """
    _same_shape(outputs, targets)
    residual = outputs - targets
    return _reduce(SumEntries(sp.HadamardProduct(residual, residual)) / 2, outputs, reduction)


def binary_cross_entropy(
    outputs: sp.MatrixExpr,
    targets: sp.MatrixExpr,
    reduction: str = "mean",
    logits: bool = False,
) -> sp.Expr:
    """``−Σ (Y ⊙ log P + (1 − Y) ⊙ log(1 − P))`` on sigmoid outputs ``P``.

    With ``logits=True`` the outputs are the logits ``Z`` (``P = sigmoid(Z)``)
    and each entry is ``y softplus(−z) + (1 − y) softplus(z)``, whose gradient
    ``(1 − y) σ(z) − y σ(−z)`` (that is, ``σ(z) − y``) is accurate to the last
    digit for any ``z``, as in :func:`symgraph.nn.binary_cross_entropy`.  Outputs that are
    ``sigmoid`` of a matrix are read as ``logits=True`` on that matrix: the same
    loss, whose gradient ``σ(Z) − Y`` stays finite where ``log(1 − P)`` would
    not (a logit of 1000).

    Examples
    --------
    >>> from symgraph.layers import input_matrix, target_matrix
    >>> P, Y = input_matrix(4, 1, "P"), target_matrix(4, 1)
    >>> binary_cross_entropy(P, Y, reduction="sum")  # doctest: +NORMALIZE_WHITESPACE
    -SumEntries(HadamardProduct(-Y + 1, Lambda(_u, log(1 - _u)).(P))
                + HadamardProduct(Y, Lambda(_u, log(_u)).(P)))
    """
    _same_shape(outputs, targets)
    if not logits and is_elementwise("sigmoid", outputs):  # the same loss from the logits
        outputs, logits = outputs.expr, True
    ones = sp.OneMatrix(*targets.shape)
    if logits:  # Y ⊙ softplus(−Z) + (1 − Y) ⊙ softplus(Z): its gradient (1 − Y)⊙σ(Z) − Y⊙σ(−Z)
        total = SumEntries(
            sp.MatAdd(
                sp.HadamardProduct(targets, elementwise(lambda u: softplus(-u), outputs)),
                sp.HadamardProduct(ones - targets, elementwise(softplus, outputs)),
            )
        )
    else:
        # MatAdd itself, not +: `+` runs doit, which fuses log∘sigmoid under a fresh Dummy
        total = -SumEntries(
            sp.MatAdd(
                sp.HadamardProduct(targets, elementwise(sp.log, outputs)),
                sp.HadamardProduct(ones - targets, elementwise(lambda u: sp.log(1 - u), outputs)),
            )
        )
    return _reduce(total, outputs, reduction)


def softmax_cross_entropy(
    logits: sp.MatrixExpr, targets: sp.MatrixExpr, reduction: str = "mean"
) -> sp.Expr:
    """``Σ_s logsumexp(Z_s) − Σ (Y ⊙ Z)``: row by row, ``−Σ y log softmax(z)``.

    Targets are one-hot rows or probabilities (each row sums to 1); the
    logits are the raw outputs of a last layer with the ``"identity"``
    activation.  The row-wise log-sum-exp (:class:`~symgraph.rules.matfuncs.RowLogSumExp`)
    is computed shifted by each row's maximum, so large logits stay finite;
    its δ is the row-wise softmax.

    Examples
    --------
    >>> from symgraph.layers import input_matrix, target_matrix
    >>> Z, Y = input_matrix(4, 3, "Z"), target_matrix(4, 3)
    >>> softmax_cross_entropy(Z, Y, reduction="sum")
    -SumEntries(HadamardProduct(Y, Z)) + SumEntries(RowLogSumExp(Z))
    """
    _same_shape(logits, targets)
    total = SumEntries(RowLogSumExp(logits)) - SumEntries(sp.HadamardProduct(targets, logits))
    return _reduce(total, logits, reduction)


def l2_penalty(params: Sequence[sp.MatrixExpr], lam: sp.Expr | float | None = None) -> sp.Expr:
    """``λ/2 Σ_W ‖W‖²_F`` (``λ`` is the real symbol ``lambda`` unless given).

    Examples
    --------
    >>> from symgraph.layers import weights
    >>> l2_penalty([weights(1, 2, 2)], 0.1)
    0.05*SumEntries(HadamardProduct(W1, W1))
    """
    return penalty_weight(lam) * sp.Add(*(SumEntries(sp.HadamardProduct(W, W)) for W in params)) / 2


LOSSES: dict[str, MatrixLoss] = {
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def chosen_loss(loss: str | MatrixLoss) -> MatrixLoss:
    """The loss called ``loss`` (a callable is returned as it is)."""
    return chosen(LOSSES, loss, "loss")
