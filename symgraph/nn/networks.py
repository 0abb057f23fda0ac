"""Networks of scalar units: a dense layer, an MLP, and its loss at two granularities.

:func:`as_expression` gives one expression (for :func:`symgraph.gradient`),
:func:`as_assignments` the named ``z`` and ``a`` intermediates (for
:meth:`symgraph.Graph.from_assignments`); both give the same numbers.
:func:`batch_loss` sums a loss over samples with symbols of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from ..core.activations import Activation
from ..errors import GraphError
from ..parse.constants import count
from .losses import LossFn, chosen_loss
from .symbols import LayerSymbol, biases, input_symbols, layer_symbol, target_symbols, weights
from .units import activation as _activation
from .units import affine, per_layer


def dense(
    inputs: Sequence[sp.Expr],
    layer_index: int,
    n_out: int,
    activation: str | Activation = "identity",
) -> tuple[list[sp.Expr], list[LayerSymbol]]:
    """A fully connected layer: ``n_out`` neurons over ``inputs``.

    Returns
    -------
    (outputs, params)
        The ``n_out`` output expressions, and the layer's parameters: the
        weights row by row, then the biases.

    Examples
    --------
    >>> out, params = dense(input_symbols(2), 1, 1, "tanh")
    >>> out
    [tanh(W1_1_1*x_1 + W1_1_2*x_2 + b1_1)]
    >>> params
    [W1_1_1, W1_1_2, b1_1]
    """
    n_out = count(n_out, "a layer's width")
    if not inputs:
        raise GraphError(f"a layer needs inputs and at least one output (n_out={n_out})")
    W, b = weights(layer_index, n_out, len(inputs)), biases(layer_index, n_out)
    f = _activation(activation)
    outputs = [f(affine(inputs, W[j], b[j])) for j in range(n_out)]
    return outputs, [w for row in W for w in row] + b


def mlp(
    inputs: Sequence[sp.Expr],
    widths: Sequence[int],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
) -> tuple[list[sp.Expr], list[LayerSymbol]]:
    """A multilayer perceptron of any depth, as expressions in the inputs.

    Parameters
    ----------
    inputs : sequence of Expr
    widths : sequence of int
        The width of each layer, the output layer last (``[3, 1]`` for 2-3-1).
    activations : name, callable, or one per layer

    Returns
    -------
    (outputs, params)
        The output expressions, and every parameter layer by layer (weights
        row by row, then biases): a stable order for ``wrt``.

    Examples
    --------
    >>> out, params = mlp(input_symbols(1), [2, 1], ["relu", "identity"])
    >>> out
    [W2_1_1*Max(0, W1_1_1*x_1 + b1_1) + W2_1_2*Max(0, W1_2_1*x_1 + b1_2) + b2_1]
    >>> len(params)
    7
    """
    acts = per_layer(widths, activations)
    outputs, params = list(inputs), []
    for layer, (width, f) in enumerate(zip(widths, acts, strict=True), start=1):
        outputs, layer_params = dense(outputs, layer, width, f)
        params += layer_params
    return outputs, params


def as_expression(
    inputs: Sequence[sp.Expr],
    widths: Sequence[int],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | LossFn = "squared_error",
    targets: Sequence[sp.Expr] | None = None,
) -> tuple[sp.Expr, list[LayerSymbol]]:
    """The loss of an MLP as one expression, for :func:`symgraph.gradient`.

    Parameters
    ----------
    inputs, widths, activations
        As for :func:`mlp`.
    loss : name or callable ``loss(outputs, targets)``
        ``"squared_error"``, ``"binary_cross_entropy"`` or
        ``"softmax_cross_entropy"``.
    targets : sequence of Expr, optional
        ``y_1 … y_k`` (:func:`target_symbols`) when omitted.

    Returns
    -------
    (loss, params)

    Examples
    --------
    >>> loss, params = as_expression(input_symbols(1), [1], "identity")
    >>> loss
    (W1_1_1*x_1 + b1_1 - y_1)**2/2
    """
    outputs, params = mlp(inputs, widths, activations)
    targets = target_symbols(len(outputs)) if targets is None else list(targets)
    return chosen_loss(loss)(outputs, targets), params


def as_assignments(
    inputs: Sequence[sp.Expr],
    widths: Sequence[int],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | LossFn = "squared_error",
    targets: Sequence[sp.Expr] | None = None,
    output: str = "L",
) -> tuple[list[tuple[sp.Symbol, sp.Expr]], list[LayerSymbol]]:
    """The same loss as :func:`as_expression`, as named intermediates in a paper's order.

    ``z^{(l)}_j = Σ_k W^{(l)}_{j,k} a^{(l-1)}_k + b^{(l)}_j``, then
    ``a^{(l)}_j = σ(z^{(l)}_j)`` for each layer, and last ``L = loss``: a list
    for :meth:`symgraph.Graph.from_assignments`, whose graph then has a node
    per ``z`` and ``a`` and whose δ-equations use those names.

    Returns
    -------
    (assignments, params)

    Examples
    --------
    >>> steps, params = as_assignments(input_symbols(2), [1], "tanh")
    >>> for name, rhs in steps: print(name, "=", rhs)
    z1_1 = W1_1_1*x_1 + W1_1_2*x_2 + b1_1
    a1_1 = tanh(z1_1)
    L = (a1_1 - y_1)**2/2
    """
    acts = per_layer(widths, activations)
    steps: list[tuple[sp.Symbol, sp.Expr]] = []
    previous, params = list(inputs), []
    if not previous:
        raise GraphError("an MLP needs at least one input")
    for layer, (width, f) in enumerate(zip(widths, acts, strict=True), start=1):
        W, b = weights(layer, width, len(previous)), biases(layer, width)
        params += [w for row in W for w in row] + b
        current = []
        for j in range(width):
            z, a = layer_symbol("z", layer, j + 1), layer_symbol("a", layer, j + 1)
            steps += [(z, affine(previous, W[j], b[j])), (a, f(z))]
            current.append(a)
        previous = current
    targets = target_symbols(len(previous)) if targets is None else list(targets)
    steps.append((sp.Symbol(output, real=True), chosen_loss(loss)(previous, targets)))
    return steps, params


def batch_loss(
    sample_loss: Callable[[list[LayerSymbol], list[LayerSymbol]], sp.Expr],
    n: int,
    n_inputs: int,
    n_targets: int = 1,
    mean: bool = False,
) -> tuple[sp.Expr, list[list[LayerSymbol]], list[list[LayerSymbol]]]:
    """``Σ_s loss_s`` (or its mean) over ``n`` samples, each with its own symbols.

    ``sample_loss(xs, ys)`` is called once per sample ``s = 1 … n`` with the
    inputs ``x_{s,1} … x_{s,n_inputs}`` and targets ``y_{s,1} …``; the
    parameters it uses are shared by all samples.

    Returns
    -------
    (loss, inputs, targets)
        ``inputs[s - 1]`` and ``targets[s - 1]`` are the symbols of sample ``s``.

    Examples
    --------
    >>> import sympy as sp
    >>> w = sp.Symbol("w", real=True)
    >>> loss, xs, ys = batch_loss(lambda x, y: (w*x[0] - y[0])**2, 2, 1, mean=True)
    >>> loss
    (x_1_1*w - y_1_1)**2/2 + (x_2_1*w - y_2_1)**2/2
    >>> xs
    [[x_1_1], [x_2_1]]
    """
    if n < 1:
        raise GraphError(f"a batch needs at least one sample (n={n})")
    inputs = [input_symbols(n_inputs, sample=s) for s in range(1, n + 1)]
    targets = [target_symbols(n_targets, sample=s) for s in range(1, n + 1)]
    total = sp.Add(*(sample_loss(x, y) for x, y in zip(inputs, targets, strict=True)))
    return (total / n if mean else total), inputs, targets
