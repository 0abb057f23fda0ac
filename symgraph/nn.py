r"""Neural-network building blocks at scalar granularity: neurons, layers, losses.

Every weight, bias, input and intermediate is a scalar SymPy symbol named the
way a paper indexes it.  The symbol's *name* is a plain identifier
(``W1_2_3``), so generated code and the safe parser never see anything
unusual, while its LaTeX reads ``W^{(1)}_{2,3}``.

Row ``j`` of ``W^{(l)}`` feeds neuron ``j`` of layer ``l``; indices start at 1:

.. math::  z^{(l)}_j = \sum_k W^{(l)}_{j,k} a^{(l-1)}_k + b^{(l)}_j, \qquad
           a^{(l)}_j = \sigma(z^{(l)}_j)

A network comes at two granularities: :func:`as_expression` (one expression,
for :func:`symgraph.core.gradient`) and :func:`as_assignments` (named ``z`` and
``a`` intermediates, for :meth:`symgraph.Graph.from_assignments`, so the
structured gradient speaks of ``delta_z1_2``).  Both give the same numbers.

Loss conventions
----------------
- squared error: ``½ Σ_i (ŷ_i − y_i)²`` (the ½ cancels the 2 of the derivative);
- binary cross-entropy: ``−Σ_i (y_i log p_i + (1 − y_i) log(1 − p_i))``;
- softmax cross-entropy: ``logsumexp(z) − Σ_i y_i z_i`` for one-hot or
  probability targets ``y``, with ``logsumexp`` shifted by ``max(z)``;
- L2 penalty: ``λ/2 Σ w²``.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> x = input_symbols(2)
>>> loss, params = as_expression(x, widths=[1], activations="tanh")
>>> loss
(-y_1 + tanh(W1_1_1*x_1 + W1_1_2*x_2 + b1_1))**2/2
>>> sp.latex(params[0])
'W^{(1)}_{1,1}'
>>> sg.gradient(loss, wrt=params)[params[2]]
(1 - tanh(W1_1_1*x_1 + W1_1_2*x_2 + b1_1)**2)*(-y_1 + tanh(W1_1_1*x_1 + W1_1_2*x_2 + b1_1))
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import sympy as sp

from .core.activations import ACTIVATIONS, Activation, identity, relu, sigmoid, softplus
from .errors import GraphError
from .parse.constants import as_constant, count

LossFn = Callable[[Sequence[sp.Expr], Sequence[sp.Expr]], sp.Expr]

# base letters, an optional layer number, then "_"-separated indices: W1_2_3, x_4, z2_1
_NAME = re.compile(r"(?P<base>[A-Za-z]+)(?P<layer>\d*)(?P<indices>(?:_\d+)*)")


class LayerSymbol(sp.Symbol):
    r"""A real symbol named like ``W1_2_3`` and printed ``W^{(1)}_{2,3}`` in LaTeX.

    The name stays a plain identifier (generated code, the safe parser and
    ``str`` see only it); only the LaTeX printer reads the layer and indices
    back out of the name.  Being a class of its own, it never equals a plain
    ``Symbol`` of the same name.

    Examples
    --------
    >>> import sympy as sp
    >>> w = layer_symbol("W", 1, 2, 3)
    >>> w.name, sp.latex(w)
    ('W1_2_3', 'W^{(1)}_{2,3}')
    >>> sp.latex(layer_symbol("x", None, 4, 1))
    'x_{4,1}'
    """

    def _latex(self, printer) -> str:
        match = _NAME.fullmatch(self.name)
        if match is None:  # built by hand with an unusual name: print it plainly
            return printer._print_Symbol(self)
        text = match["base"]
        if match["layer"]:
            text += f"^{{({match['layer']})}}"
        if match["indices"]:
            text += "_{" + ",".join(match["indices"][1:].split("_")) + "}"
        return text


def layer_symbol(base: str, layer: int | None, *indices: int) -> LayerSymbol:
    """The real symbol ``base^{(layer)}_{indices}``, named ``base{layer}_{i}_{j}``.

    Parameters
    ----------
    base : str
        Letters only (``"W"``, ``"b"``, ``"z"``, ``"x"``).
    layer : int or None
        The layer number (no superscript when None).
    *indices : int

    Examples
    --------
    >>> layer_symbol("b", 2, 1)
    b2_1
    """
    if not re.fullmatch(r"[A-Za-z]+", base):
        raise GraphError(f"a symbol's base must be letters only, not {base!r}")
    name = base + ("" if layer is None else str(int(layer)))
    name += "".join(f"_{int(i)}" for i in indices)
    return LayerSymbol(name, real=True)


def weights(layer: int, rows: int, cols: int) -> list[list[LayerSymbol]]:
    """The weight matrix ``W^{(layer)}`` as ``rows`` lists of ``cols`` symbols.

    Examples
    --------
    >>> weights(1, 2, 3)
    [[W1_1_1, W1_1_2, W1_1_3], [W1_2_1, W1_2_2, W1_2_3]]
    """
    rows, cols = count(rows, "a layer's width"), count(cols, "a layer's inputs")
    return [
        [layer_symbol("W", layer, j, k) for k in range(1, cols + 1)] for j in range(1, rows + 1)
    ]


def biases(layer: int, n: int) -> list[LayerSymbol]:
    """The biases ``b^{(layer)}_1 … b^{(layer)}_n``.

    Examples
    --------
    >>> biases(2, 2)
    [b2_1, b2_2]
    """
    return [layer_symbol("b", layer, j) for j in range(1, count(n, "a layer's width") + 1)]


def input_symbols(n: int, sample: int | None = None, base: str = "x") -> list[LayerSymbol]:
    """Inputs ``x_1 … x_n``, or ``x_{s,1} … x_{s,n}`` of sample ``s``.

    Examples
    --------
    >>> input_symbols(2), input_symbols(2, sample=3)
    ([x_1, x_2], [x_3_1, x_3_2])
    """
    head = () if sample is None else (sample,)
    return [layer_symbol(base, None, *head, i) for i in range(1, count(n, "the inputs") + 1)]


def target_symbols(n: int, sample: int | None = None) -> list[LayerSymbol]:
    """Targets ``y_1 … y_n``, or ``y_{s,1} … y_{s,n}`` of sample ``s``.

    Examples
    --------
    >>> target_symbols(1)
    [y_1]
    """
    return input_symbols(n, sample, base="y")


# --- activations ---


def activation(name: str | Activation) -> Activation:
    """The activation called ``name`` (a callable is returned as it is).

    Examples
    --------
    >>> import sympy as sp
    >>> activation("sigmoid")(sp.Symbol("z"))
    1/(1 + exp(-z))
    """
    return chosen(ACTIVATIONS, name, "activation")


def chosen(table: dict, key, what: str):
    """``key`` itself when it is a callable, else ``table[key]``; a clear error otherwise.

    >>> chosen({"a": abs}, "a", "function")(-2)
    2
    """
    if callable(key):
        return key
    try:
        return table[key]
    except (KeyError, TypeError):
        raise GraphError(
            f"unknown {what} {key!r}; choose one of {', '.join(table)} or pass a callable"
        ) from None


# --- neurons and layers ---


def neuron(
    inputs: Sequence[sp.Expr],
    weights: Sequence[sp.Expr],
    bias: sp.Expr,
    activation: str | Activation = "identity",
) -> sp.Expr:
    """``σ(Σ_k w_k x_k + b)``.

    Examples
    --------
    >>> import sympy as sp
    >>> x1, x2, w1, w2, b = sp.symbols("x1 x2 w1 w2 b")
    >>> neuron([x1, x2], [w1, w2], b, "relu")
    Max(0, b + w1*x1 + w2*x2)
    """
    if len(inputs) != len(weights):
        raise GraphError(f"{len(inputs)} inputs but {len(weights)} weights")
    return _activation(activation)(_affine(inputs, weights, bias))


_activation = activation  # the parameter of neuron() and dense() shadows the function


def _affine(inputs, row, bias) -> sp.Expr:
    return sp.Add(*(w * x for w, x in zip(row, inputs, strict=True)), bias)


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
    outputs = [f(_affine(inputs, W[j], b[j])) for j in range(n_out)]
    return outputs, [w for row in W for w in row] + b


def _activations_per_layer(widths, activations) -> list[Activation]:
    if not widths:
        raise GraphError("an MLP needs at least one layer (widths is empty)")
    if isinstance(activations, str) or callable(activations):
        activations = [activations] * len(widths)
    if len(activations) != len(widths):
        raise GraphError(f"{len(widths)} layers but {len(activations)} activations")
    return [_activation(a) for a in activations]


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
    acts = _activations_per_layer(widths, activations)
    outputs, params = list(inputs), []
    for layer, (width, f) in enumerate(zip(widths, acts, strict=True), start=1):
        outputs, layer_params = dense(outputs, layer, width, f)
        params += layer_params
    return outputs, params


# --- losses ---


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
            y * sp.log(1 + sp.exp(-z)) + (1 - y) * sp.log(1 + sp.exp(z))
            for z, y in zip(outputs, targets, strict=True)
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
    lam = sp.Symbol("lambda", real=True) if lam is None else as_constant(lam, "lam")
    return lam * sp.Add(*(w**2 for w in params)) / 2


LOSSES: dict[str, LossFn] = {
    "squared_error": squared_error,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
}


def _same_length(outputs, targets) -> None:
    if len(outputs) != len(targets):
        raise GraphError(f"{len(outputs)} outputs but {len(targets)} targets")


def _loss(loss: str | LossFn) -> LossFn:
    return chosen(LOSSES, loss, "loss")


# --- the two granularities ---


def as_expression(
    inputs: Sequence[sp.Expr],
    widths: Sequence[int],
    activations: str | Activation | Sequence[str | Activation] = "tanh",
    loss: str | LossFn = "squared_error",
    targets: Sequence[sp.Expr] | None = None,
) -> tuple[sp.Expr, list[LayerSymbol]]:
    """The loss of an MLP as one expression, for :func:`symgraph.core.gradient`.

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
    return _loss(loss)(outputs, targets), params


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
    acts = _activations_per_layer(widths, activations)
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
            steps += [(z, _affine(previous, W[j], b[j])), (a, f(z))]
            current.append(a)
        previous = current
    targets = target_symbols(len(previous)) if targets is None else list(targets)
    steps.append((sp.Symbol(output, real=True), _loss(loss)(previous, targets)))
    return steps, params


# --- batches ---


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


__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "LayerSymbol",
    "activation",
    "as_assignments",
    "as_expression",
    "batch_loss",
    "biases",
    "binary_cross_entropy",
    "dense",
    "identity",
    "input_symbols",
    "l2_penalty",
    "layer_symbol",
    "logsumexp",
    "mlp",
    "neuron",
    "relu",
    "sigmoid",
    "softmax_cross_entropy",
    "softplus",
    "squared_error",
    "target_symbols",
    "weights",
]
