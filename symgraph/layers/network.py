"""A network over a batch as named layer assignments, and its loss in one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import sympy as sp

from ..core.activations import Activation
from ..core.sizes import is_matrix
from ..errors import GraphError
from ..nn.units import per_layer
from .losses import MatrixLoss, chosen_loss
from .matrices import Size, affine, biases, elementwise, target_matrix, weights


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
        >>> from symgraph.layers import input_matrix
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
        >>> from symgraph.layers import input_matrix
        >>> net = mlp(input_matrix(4, 2), [1], "identity")
        >>> net.with_loss(reduction="sum")[-1]
        (L, SumEntries(HadamardProduct(A1 - Y, A1 - Y))/2)
        """
        out = self.output
        targets = target_matrix(*out.shape) if targets is None else targets
        value = chosen_loss(loss)(out, targets, reduction=reduction)
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
    >>> from symgraph.layers import input_matrix
    >>> net = mlp(input_matrix(n, 2), [h, 1])
    >>> [(str(p), p.shape) for p in net.params]
    [('W1', (h, 2)), ('b1', (h, 1)), ('W2', (1, h)), ('b2', (1, 1))]
    >>> net.output, net.output.shape
    (A2, (n, 1))
    """
    if not is_matrix(X):
        raise GraphError(f"the batch must be an n × d matrix expression, not {X!r}")
    acts = per_layer(widths, activations)
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


def as_expression(
    X: sp.MatrixExpr,
    widths: Sequence[Size],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | MatrixLoss = "squared_error",
    targets: sp.MatrixExpr | None = None,
    reduction: str = "mean",
) -> tuple[sp.Expr, tuple[sp.MatrixSymbol, ...]]:
    """The batch loss of an MLP as one expression, for :func:`symgraph.gradient`.

    Arguments as for :func:`mlp` and :meth:`Network.with_loss`; the matrix
    counterpart of :func:`symgraph.nn.as_expression`.

    Returns
    -------
    (loss, params)

    Examples
    --------
    >>> from symgraph.layers import input_matrix
    >>> loss, params = as_expression(input_matrix(4, 2), [1], "identity", reduction="sum")
    >>> loss
    SumEntries(HadamardProduct(X*W1.T - Y + 1*b1.T, X*W1.T - Y + 1*b1.T))/2
    """
    net = mlp(X, widths, activations)
    output = net.expression()
    targets = target_matrix(*output.shape) if targets is None else targets
    return chosen_loss(loss)(output, targets, reduction=reduction), net.params


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
    >>> from symgraph.layers import input_matrix
    >>> steps, params = as_assignments(input_matrix(4, 2), [3, 1], "tanh")
    >>> [str(name) for name, _ in steps]
    ['Z1', 'A1', 'Z2', 'A2', 'L']
    """
    net = mlp(X, widths, activations)
    return net.with_loss(loss, targets, reduction, output), net.params
