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

Its modules, by job: ``matrices`` (the batch, the parameters, a layer), ``losses``
and ``network`` (an MLP, its loss in one call); import names from ``symgraph.layers``.

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

from ..core.activations import ACTIVATIONS
from .losses import (
    LOSSES,
    REDUCTIONS,
    binary_cross_entropy,
    l2_penalty,
    softmax_cross_entropy,
    squared_error,
)
from .matrices import affine, biases, dense, elementwise, input_matrix, target_matrix, weights
from .network import Network, as_assignments, as_expression, mlp

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
