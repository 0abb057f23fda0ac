"""Activations by name, and a neuron: ``σ(Σ_k w_k x_k + b)``.

The activations themselves are :mod:`symgraph.core.activations` (shared with the
parser and the tracer); here they are chosen by name, one per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from ..core.activations import ACTIVATIONS, Activation
from ..errors import GraphError


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
    return _activation(activation)(affine(inputs, weights, bias))


_activation = activation  # the parameter of neuron() shadows the function


def affine(inputs: Sequence[sp.Expr], row: Sequence[sp.Expr], bias: sp.Expr) -> sp.Expr:
    """``Σ_k w_k x_k + b``, the weights ``row`` against the ``inputs``."""
    return sp.Add(*(w * x for w, x in zip(row, inputs, strict=True)), bias)


def per_layer(widths, activations) -> list[Activation]:
    """One activation per layer: a single name or callable applies to every layer.

    Raises
    ------
    GraphError
        No layers, a count of activations that is not the count of layers, or
        an unknown activation (before anything is built).
    """
    if not widths:
        raise GraphError("an MLP needs at least one layer (widths is empty)")
    if isinstance(activations, str) or callable(activations):
        activations = [activations] * len(widths)
    activations = list(activations)
    if len(activations) != len(widths):
        raise GraphError(f"{len(widths)} layers but {len(activations)} activations")
    return [_activation(a) for a in activations]
