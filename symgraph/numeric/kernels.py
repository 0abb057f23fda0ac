"""Fused kernels: one pass over the arrays where the plain form of a line takes several.

A printer that knows a backend fuses some products calls these by name
(``kernels.tanh_backward(g, a)``); each backend's namespace binds ``kernels``
to its own implementation, and the NumPy functions here are the reference
(the source check allows exactly the names in ``__all__``).  Only the torch
backend's printer calls them: a jitted JAX function fuses on its own, and
NumPy's version is the plain form.

Examples
--------
>>> import numpy as np
>>> tanh_backward(np.array([2.0]), np.tanh(np.array([0.5])))
array([1.57289...])
"""

from __future__ import annotations

__all__ = ["tanh_backward"]


def tanh_backward(g, a):
    """``g ⊙ (1 - a ⊙ a)``: what a node ``a = tanh(z)`` sends back to ``z`` of its δ ``g``.

    >>> tanh_backward(3.0, 0.5)
    2.25
    """
    return g * (1 - a * a)
