"""The activation functions, written once in SymPy: the parser, ``nn`` and the tracer share them.

Each is an ordinary SymPy expression of its argument.  The sigmoid and
softplus, several SymPy operations each, are one node of the graph apiece: the
rules registry knows them as pattern rules
(:func:`symgraph.rules.registry.register_pattern`), so ``σ' = a(1 − a)`` is
written in the node ``a`` itself, as tanh's ``1 − a²`` is, and softplus' is
the sigmoid of its argument.  The compiled code gets the stable forms of
:mod:`symgraph.numeric.stable`.

Examples
--------
>>> import sympy as sp
>>> z = sp.Symbol("z")
>>> sigmoid(z), relu(z), softplus(z)
(1/(1 + exp(-z)), Max(0, z), log(exp(z) + 1))
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp

Activation = Callable[[sp.Expr], sp.Expr]


def sigmoid(z: sp.Expr) -> sp.Expr:
    """The logistic function ``1/(1 + exp(-z))``."""
    return 1 / (1 + sp.exp(-z))


def relu(z: sp.Expr) -> sp.Expr:
    """``Max(0, z)``; its derivative is ``Heaviside(z)`` (½ at 0, SymPy's convention)."""
    return sp.Max(0, z)


def softplus(z: sp.Expr) -> sp.Expr:
    """``log(1 + exp(z))``, a smooth relu."""
    return sp.log(1 + sp.exp(z))


def identity(z: sp.Expr) -> sp.Expr:
    """``z`` itself (a linear layer, e.g. logits)."""
    return z


#: The activations by name (``nn.mlp(..., ["tanh", "identity"])``).
ACTIVATIONS: dict[str, Activation] = {
    "tanh": sp.tanh,
    "sigmoid": sigmoid,
    "relu": relu,
    "softplus": softplus,
    "identity": identity,
}
