"""The batch, the parameters and a layer, as matrix expressions: ``σ(X Wᵀ + 1 bᵀ)``."""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..core.activations import Activation
from ..core.sizes import shape_text
from ..errors import GraphError
from ..nn.units import activation
from ..parse.constants import as_constant

Size = int | sp.Expr

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


def is_elementwise(fn: str | Activation, M: sp.MatrixExpr) -> bool:
    """Whether ``M`` is ``fn`` applied to every entry of a matrix (``elementwise(fn, ·)``)."""
    if not isinstance(M, ElementwiseApplyFunction):
        return False
    (u,), body = M.function.variables, M.function.expr
    return body.xreplace({u: _U}) == activation(fn)(_U)


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
            f"{W} is {shape_text(W.shape)}, {X} is {shape_text(X.shape)}: "
            f"W (out × in) needs {d} columns{hint}"
        )
    if tuple(b.shape) != (out, 1):
        raise GraphError(
            f"{b} is {shape_text(b.shape)}; the biases of {W} must be a column {out}×1"
        )
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
