"""Scalar symbols named the way a paper indexes them: ``W1_2_3`` printed ``W^{(1)}_{2,3}``.

Row ``j`` of ``W^{(l)}`` feeds neuron ``j`` of layer ``l``; indices start at 1.
"""

from __future__ import annotations

import re

import sympy as sp

from ..errors import GraphError
from ..parse.constants import count

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
