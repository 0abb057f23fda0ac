r"""Neural-network building blocks at layer granularity: a whole layer is one matrix node.

The same networks and losses as :mod:`symgraph.nn`, written with
``MatrixSymbol`` s over a batch, so a layer is one node of the graph and the
gradient comes out in matrix form (``∂L/∂W1 = δ_{Z1}ᵀ X``).  Conventions:

- a batch ``X`` is ``n × d``, one sample per row, as NumPy code holds data;
- the weights ``W^{(l)}`` of layer ``l`` are ``out × in`` and its biases
  ``b^{(l)}`` a column ``out × 1``, as in papers: row ``j`` of ``W^{(l)}``
  feeds neuron ``j``, exactly as in :mod:`symgraph.nn`;
- a layer computes, with ``1`` the all-ones column ``n × 1`` and ``σ``
  applied entrywise,

  .. math::  Z^{(l)} = A^{(l-1)} W^{(l)\top} + \mathbf{1} b^{(l)\top}, \qquad
             A^{(l)} = \sigma(Z^{(l)}), \qquad A^{(0)} = X;

- sizes are integers or positive integer symbols (``n``, ``d``, ``h``); the
  compiled gradient reads symbolic sizes from the arrays it is given.

Losses follow :mod:`symgraph.nn` sample by sample (``½ Σ (ŷ − y)²``, the
binary and softmax cross-entropies), then ``reduction="mean"`` divides the
sum over the batch by the number of samples ``n`` (the rows; not by the number
of entries, unlike PyTorch's ``MSELoss``) and ``reduction="sum"`` keeps the
sum: the numbers of ``nn.batch_loss(..., mean=True)`` and ``mean=False``.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> X = input_matrix(n, 2)
>>> net = mlp(X, [3, 1], ["tanh", "identity"])
>>> for name, rhs in net.steps: print(name, "=", rhs)
Z1 = X*W1.T + 1*b1.T
A1 = Lambda(_u, tanh(_u)).(Z1)
Z2 = A1*W2.T + 1*b2.T
A2 = Z2
>>> net.params
(W1, b1, W2, b2)
>>> g = sg.Graph.from_assignments(net.with_loss(), wrt=net.params, granularity="named")
>>> g.backward().structured[net.params[0]]  # ∂L/∂W1, a paper's δ-form
delta_Z1.T*X
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .errors import GraphError
from .nn import ACTIVATIONS, Activation, activation, chosen
from .parse.constants import as_constant
from .rules.matfuncs import RowLogSumExp, SumEntries

Size = int | sp.Expr
MatrixLoss = Callable[..., sp.Expr]

# One placeholder for every entrywise function: SymPy's own ``applyfunc``
# makes a fresh Dummy("d") each time, and a graph builder that meets two of
# them sees two different symbols with one name.
_U = sp.Dummy("u")


def _size(value: Size, what: str) -> sp.Expr:
    size = as_constant(value, what)
    if size.is_integer is not True or size.is_positive is not True:
        raise GraphError(
            f"{what} must be a positive integer or a positive integer symbol "
            f"(sp.Symbol('n', integer=True, positive=True)), not {value!r}"
        )
    return size


def _text(shape) -> str:
    return f"{shape[0]}×{shape[1]}"


def input_matrix(n: Size, d: Size, name: str = "X") -> sp.MatrixSymbol:
    """The batch ``X``: ``n`` samples (rows) of ``d`` features.

    Examples
    --------
    >>> input_matrix(4, 2).shape
    (4, 2)
    """
    return sp.MatrixSymbol(name, _size(n, "the batch size n"), _size(d, "the input size d"))


def target_matrix(n: Size, k: Size, name: str = "Y") -> sp.MatrixSymbol:
    """The targets ``Y``: ``n`` samples (rows) of ``k`` outputs.

    Examples
    --------
    >>> target_matrix(4, 1)
    Y
    """
    return sp.MatrixSymbol(name, _size(n, "the batch size n"), _size(k, "the output size k"))


def weights(layer: int, rows: Size, cols: Size) -> sp.MatrixSymbol:
    """``W^{(layer)}``, named ``W{layer}``: ``rows`` neurons (out) × ``cols`` inputs (in).

    Entry ``[j-1, k-1]`` is the scalar ``W{layer}_j_k`` of :func:`symgraph.nn.weights`.

    Examples
    --------
    >>> weights(1, 3, 2).shape
    (3, 2)
    """
    rows, cols = _size(rows, "a layer's width"), _size(cols, "a layer's inputs")
    return sp.MatrixSymbol(f"W{int(layer)}", rows, cols)


def biases(layer: int, rows: Size) -> sp.MatrixSymbol:
    """``b^{(layer)}``, named ``b{layer}``: a column ``rows × 1``.

    Examples
    --------
    >>> biases(2, 3).shape
    (3, 1)
    """
    return sp.MatrixSymbol(f"b{int(layer)}", _size(rows, "a layer's width"), 1)


# --- layers ---


def elementwise(fn: str | Activation, M: sp.MatrixExpr) -> sp.MatrixExpr:
    """``fn`` applied to every entry of ``M``; ``"identity"`` gives ``M`` itself.

    Like ``M.applyfunc(fn)``, but every call shares one placeholder symbol,
    so any number of them can sit in one graph.  ``fn`` is a name of
    :data:`symgraph.nn.ACTIVATIONS` or any callable on a SymPy scalar.

    Examples
    --------
    >>> import sympy as sp
    >>> Z = sp.MatrixSymbol("Z", 2, 3)
    >>> elementwise("relu", Z)
    Lambda(_u, Max(0, _u)).(Z)
    >>> elementwise("identity", Z)
    Z
    """
    body = activation(fn)(_U)
    if body == _U:
        return M
    return ElementwiseApplyFunction(sp.Lambda(_U, body), M)


def affine(X: sp.MatrixExpr, W: sp.MatrixExpr, b: sp.MatrixExpr) -> sp.MatrixExpr:
    """``X Wᵀ + 1 bᵀ``: one row per sample, the bias added to every row.

    Raises
    ------
    GraphError
        When ``W`` does not take ``X`` 's columns or ``b`` is not ``W`` 's height × 1.

    Examples
    --------
    >>> affine(input_matrix(4, 2), weights(1, 3, 2), biases(1, 3))
    X*W1.T + 1*b1.T
    """
    n, d = X.shape
    out, inputs = W.shape
    if inputs != d:
        hint = " (transposed?)" if out == d else ""
        raise GraphError(
            f"{W} is {_text(W.shape)}, {X} is {_text(X.shape)}: "
            f"W (out × in) needs {d} columns{hint}"
        )
    if tuple(b.shape) != (out, 1):
        raise GraphError(f"{b} is {_text(b.shape)}; the biases of {W} must be a column {out}×1")
    return X * W.T + sp.OneMatrix(n, 1) * b.T


def dense(
    X: sp.MatrixExpr,
    W: sp.MatrixExpr,
    b: sp.MatrixExpr,
    activation: str | Activation = "identity",
) -> sp.MatrixExpr:
    """A fully connected layer over a batch: ``σ(X Wᵀ + 1 bᵀ)``, ``n × out``.

    Parameters
    ----------
    X : MatrixExpr
        ``n × in``: one sample per row (the batch, or the previous layer).
    W : MatrixExpr
        ``out × in``.
    b : MatrixExpr
        ``out × 1``.
    activation : name or callable
        ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"softplus"``, ``"identity"``
        (:data:`symgraph.nn.ACTIVATIONS`, so conventions such as relu's
        derivative at 0 agree with the scalar blocks) or a callable.

    Raises
    ------
    GraphError
        On mismatched shapes or an unknown activation.

    Examples
    --------
    >>> X, W, b = input_matrix(4, 2), weights(1, 3, 2), biases(1, 3)
    >>> dense(X, W, b, "tanh")
    Lambda(_u, tanh(_u)).(X*W1.T + 1*b1.T)
    >>> dense(X, W.T, b)
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: W1.T is 2×3, X is 4×2: W (out × in) needs 2 columns (transposed?)
    """
    return elementwise(activation, affine(X, W, b))


def _per_layer(widths, activations) -> list[str | Activation]:
    if not widths:
        raise GraphError("an MLP needs at least one layer (widths is empty)")
    if isinstance(activations, str) or callable(activations):
        activations = [activations] * len(widths)
    activations = list(activations)
    if len(activations) != len(widths):
        raise GraphError(f"{len(widths)} layers but {len(activations)} activations")
    for a in activations:
        activation(a)  # refuse an unknown name before building anything
    return activations


class Network(NamedTuple):
    """A network as named assignments, a paper's forward pass: ``Z1, A1, Z2, A2, ...``.

    It unpacks like the result of :func:`symgraph.nn.as_assignments`:
    ``steps, params = mlp(...)``.

    Attributes
    ----------
    steps : tuple of (MatrixSymbol, MatrixExpr)
        ``(Z1, X W1ᵀ + 1 b1ᵀ), (A1, σ(Z1)), ...`` in order; ``A`` of an
        ``"identity"`` layer is ``Z`` renamed.
    params : tuple of MatrixSymbol
        ``(W1, b1, W2, b2, ...)``: a stable order for ``wrt``.
    """

    steps: tuple[tuple[sp.MatrixSymbol, sp.MatrixExpr], ...]
    params: tuple[sp.MatrixSymbol, ...]

    @property
    def output(self) -> sp.MatrixSymbol:
        """The last layer's ``A``, ``n × k``."""
        return self.steps[-1][0]

    def expression(self) -> sp.MatrixExpr:
        """The output as one nested expression in the inputs and parameters.

        Examples
        --------
        >>> mlp(input_matrix(4, 2), [1], "sigmoid").expression()
        Lambda(_u, 1/(1 + exp(-_u))).(X*W1.T + 1*b1.T)
        """
        expr = self.output
        for name, rhs in reversed(self.steps):
            expr = expr.xreplace({name: rhs})
        return expr

    def with_loss(
        self,
        loss: str | MatrixLoss = "squared_error",
        targets: sp.MatrixExpr | None = None,
        reduction: str = "mean",
        output: str = "L",
    ) -> list[tuple[sp.Basic, sp.Basic]]:
        """The steps followed by ``L = loss(output, targets)``, for ``Graph.from_assignments``.

        Parameters
        ----------
        loss : name or callable ``loss(outputs, targets, reduction=...)``
            ``"squared_error"``, ``"binary_cross_entropy"`` or
            ``"softmax_cross_entropy"`` (:data:`LOSSES`).
        targets : MatrixExpr, optional
            ``n × k`` like the output; ``Y`` (:func:`target_matrix`) when omitted.
        reduction : ``"mean"`` or ``"sum"``
            Over the samples of the batch.
        output : str
            The loss's name.

        Examples
        --------
        >>> net = mlp(input_matrix(4, 2), [1], "identity")
        >>> net.with_loss(reduction="sum")[-1]
        (L, SumEntries(HadamardProduct(A1 - Y, A1 - Y))/2)
        """
        out = self.output
        targets = target_matrix(*out.shape) if targets is None else targets
        value = _loss(loss)(out, targets, reduction=reduction)
        return [*self.steps, (sp.Symbol(output, real=True), value)]


def mlp(
    X: sp.MatrixExpr,
    widths: Sequence[Size],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
) -> Network:
    """A multilayer perceptron over a batch, as named layer assignments.

    The matrix counterpart of :func:`symgraph.nn.mlp` and
    :func:`symgraph.nn.as_assignments`, with the same arguments and the same
    network: ``W{l}[j-1, k-1]`` is the scalar ``W{l}_j_k``.

    Parameters
    ----------
    X : MatrixExpr
        The batch, ``n × d`` (:func:`input_matrix`).
    widths : sequence of int or Symbol
        The width of each layer, the output layer last (``[h, 1]`` for d-h-1).
    activations : name, callable, or one per layer
        One name applies to every layer, as in :func:`symgraph.nn.mlp`; give
        ``["tanh", "identity"]`` for a linear output.

    Returns
    -------
    Network
        ``.steps`` (``Z1, A1, Z2, A2, ...``), ``.params`` (``W1, b1, W2, b2, ...``),
        ``.output``, ``.expression()`` and ``.with_loss(...)``.

    Raises
    ------
    GraphError
        No layers, a count of activations that is not the count of layers, an
        unknown activation, or a width that is not a positive integer.

    Examples
    --------
    >>> import sympy as sp
    >>> n, h = sp.symbols("n h", integer=True, positive=True)
    >>> net = mlp(input_matrix(n, 2), [h, 1])
    >>> [(str(p), p.shape) for p in net.params]
    [('W1', (h, 2)), ('b1', (h, 1)), ('W2', (1, h)), ('b2', (1, 1))]
    >>> net.output, net.output.shape
    (A2, (n, 1))
    """
    if not getattr(X, "is_Matrix", False):
        raise GraphError(f"the batch must be an n × d matrix expression, not {X!r}")
    acts = _per_layer(widths, activations)
    steps: list[tuple[sp.MatrixSymbol, sp.MatrixExpr]] = []
    params: list[sp.MatrixSymbol] = []
    previous = X
    n = X.shape[0]
    for layer, (width, act) in enumerate(zip(widths, acts, strict=True), start=1):
        W, b = weights(layer, width, previous.shape[1]), biases(layer, width)
        Z, A = (sp.MatrixSymbol(f"{base}{layer}", n, W.shape[0]) for base in "ZA")
        steps += [(Z, affine(previous, W, b)), (A, elementwise(act, Z))]
        params += [W, b]
        previous = A
    return Network(tuple(steps), tuple(params))


# --- losses ---

REDUCTIONS = ("mean", "sum")


def _reduce(total: sp.Expr, outputs: sp.MatrixExpr, reduction: str) -> sp.Expr:
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / outputs.shape[0]
    raise GraphError(f"reduction must be one of {', '.join(REDUCTIONS)}, not {reduction!r}")


def _same_shape(outputs: sp.MatrixExpr, targets: sp.MatrixExpr) -> None:
    for m, what in ((outputs, "outputs"), (targets, "targets")):
        if not getattr(m, "is_Matrix", False):
            raise GraphError(f"the {what} must be an n × k matrix, not {m!r}")
    if tuple(outputs.shape) != tuple(targets.shape):
        raise GraphError(
            f"the outputs {outputs} are {_text(outputs.shape)} "
            f"but the targets {targets} are {_text(targets.shape)}"
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
    >>> Yhat, Y = (input_matrix(4, 1, name) for name in ("Yhat", "Y"))
    >>> squared_error(Yhat, Y)
    SumEntries(HadamardProduct(-Y + Yhat, -Y + Yhat))/8
    """
    _same_shape(outputs, targets)
    residual = outputs - targets
    return _reduce(SumEntries(sp.HadamardProduct(residual, residual)) / 2, outputs, reduction)


def _log_one_minus(u: sp.Expr) -> sp.Expr:
    return sp.log(1 - u)


def _softplus(u: sp.Expr) -> sp.Expr:
    """``log(1 + exp(u))``: compiled without overflow (symgraph.stable)."""
    return sp.log(1 + sp.exp(u))


def _softplus_of_minus(u: sp.Expr) -> sp.Expr:
    return sp.log(1 + sp.exp(-u))


def _is_sigmoid(M: sp.MatrixExpr) -> bool:
    """Whether ``M`` is ``sigmoid`` applied to every entry of a matrix (the logits)."""
    if not isinstance(M, ElementwiseApplyFunction):
        return False
    (u,), body = M.function.variables, M.function.expr
    return body.xreplace({u: _U}) == activation("sigmoid")(_U)


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
    >>> P, Y = input_matrix(4, 1, "P"), target_matrix(4, 1)
    >>> binary_cross_entropy(P, Y, reduction="sum")  # doctest: +NORMALIZE_WHITESPACE
    -SumEntries(HadamardProduct(-Y + 1, Lambda(_u, log(1 - _u)).(P))
                + HadamardProduct(Y, Lambda(_u, log(_u)).(P)))
    """
    _same_shape(outputs, targets)
    if not logits and _is_sigmoid(outputs):  # the same loss from the logits: finite for any z
        outputs, logits = outputs.expr, True
    ones = sp.OneMatrix(*targets.shape)
    if logits:  # Y ⊙ softplus(−Z) + (1 − Y) ⊙ softplus(Z): its gradient (1 − Y)⊙σ(Z) − Y⊙σ(−Z)
        total = SumEntries(
            sp.MatAdd(
                sp.HadamardProduct(targets, elementwise(_softplus_of_minus, outputs)),
                sp.HadamardProduct(ones - targets, elementwise(_softplus, outputs)),
            )
        )
    else:
        # MatAdd itself, not +: `+` runs doit, which fuses log∘sigmoid under a fresh Dummy
        total = -SumEntries(
            sp.MatAdd(
                sp.HadamardProduct(targets, elementwise(sp.log, outputs)),
                sp.HadamardProduct(ones - targets, elementwise(_log_one_minus, outputs)),
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
    >>> l2_penalty([weights(1, 2, 2)], 0.1)
    0.05*SumEntries(HadamardProduct(W1, W1))
    """
    lam = sp.Symbol("lambda", real=True) if lam is None else as_constant(lam, "lam")
    return lam * sp.Add(*(SumEntries(sp.HadamardProduct(W, W)) for W in params)) / 2


LOSSES: dict[str, MatrixLoss] = {
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def _loss(loss: str | MatrixLoss) -> MatrixLoss:
    return chosen(LOSSES, loss, "loss")


# --- one call, as in symgraph.nn ---


def as_expression(
    X: sp.MatrixExpr,
    widths: Sequence[Size],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | MatrixLoss = "squared_error",
    targets: sp.MatrixExpr | None = None,
    reduction: str = "mean",
) -> tuple[sp.Expr, tuple[sp.MatrixSymbol, ...]]:
    """The batch loss of an MLP as one expression, for :func:`symgraph.core.gradient`.

    Arguments as for :func:`mlp` and :meth:`Network.with_loss`; the matrix
    counterpart of :func:`symgraph.nn.as_expression`.

    Returns
    -------
    (loss, params)

    Examples
    --------
    >>> loss, params = as_expression(input_matrix(4, 2), [1], "identity", reduction="sum")
    >>> loss
    SumEntries(HadamardProduct(X*W1.T - Y + 1*b1.T, X*W1.T - Y + 1*b1.T))/2
    """
    net = mlp(X, widths, activations)
    output = net.expression()
    targets = target_matrix(*output.shape) if targets is None else targets
    return _loss(loss)(output, targets, reduction=reduction), net.params


def as_assignments(
    X: sp.MatrixExpr,
    widths: Sequence[Size],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | MatrixLoss = "squared_error",
    targets: sp.MatrixExpr | None = None,
    reduction: str = "mean",
    output: str = "L",
) -> tuple[list[tuple[sp.Basic, sp.Basic]], tuple[sp.MatrixSymbol, ...]]:
    """The same loss as :func:`as_expression`, as named layers for ``Graph.from_assignments``.

    The matrix counterpart of :func:`symgraph.nn.as_assignments`: the
    δ-equations then speak of ``delta_Z1``, ``delta_A1``...

    Returns
    -------
    (assignments, params)

    Examples
    --------
    >>> steps, params = as_assignments(input_matrix(4, 2), [3, 1], "tanh")
    >>> [str(name) for name, _ in steps]
    ['Z1', 'A1', 'Z2', 'A2', 'L']
    """
    net = mlp(X, widths, activations)
    return net.with_loss(loss, targets, reduction, output), net.params


__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "REDUCTIONS",
    "Network",
    "affine",
    "as_assignments",
    "as_expression",
    "biases",
    "binary_cross_entropy",
    "dense",
    "elementwise",
    "input_matrix",
    "l2_penalty",
    "mlp",
    "softmax_cross_entropy",
    "squared_error",
    "target_matrix",
    "weights",
]
