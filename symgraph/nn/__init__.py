r"""Neural-network building blocks at scalar granularity: neurons, layers, losses.

Every weight, bias, input and intermediate is a scalar SymPy symbol named the
way a paper indexes it.  The symbol's *name* is a plain identifier
(``W1_2_3``), so generated code and the safe parser never see anything
unusual, while its LaTeX reads ``W^{(1)}_{2,3}``.

Row ``j`` of ``W^{(l)}`` feeds neuron ``j`` of layer ``l``; indices start at 1:

.. math::  z^{(l)}_j = \sum_k W^{(l)}_{j,k} a^{(l-1)}_k + b^{(l)}_j, \qquad
           a^{(l)}_j = \sigma(z^{(l)}_j)

A network comes at two granularities: :func:`as_expression` (one expression,
for :func:`symgraph.gradient`) and :func:`as_assignments` (named ``z`` and
``a`` intermediates, for :meth:`symgraph.Graph.from_assignments`, so the
structured gradient speaks of ``delta_z1_2``).  Both give the same numbers.

Its modules, by job: ``symbols``, ``units`` (activations by name, a neuron),
``losses`` and ``networks`` (layers, MLPs, batches); import names from ``symgraph.nn``.

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

from ..core.activations import ACTIVATIONS, identity, relu, sigmoid, softplus
from .losses import (
    LOSSES,
    binary_cross_entropy,
    l2_penalty,
    logsumexp,
    softmax_cross_entropy,
    squared_error,
)
from .networks import as_assignments, as_expression, batch_loss, dense, mlp
from .symbols import LayerSymbol, biases, input_symbols, layer_symbol, target_symbols, weights
from .units import activation, neuron

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
