"""Reverse mode over matrix expressions (issue 4, first step): gradients in matrix form.

The loss is a scalar built from ``MatrixSymbol`` s (``Trace``, products,
sums, Hadamard products, elementwise functions, ...).  Walking its
expression DAG in reverse topological order, each operation sends its
adjoint back to its operands with the VJP rules of
:mod:`symgraph.rules.matrix` (matrix operations) or the scalar rules of
:mod:`symgraph.rules.registry` (scalar operations on top), so ``∂L/∂W`` comes out with
``W``'s shape — ``δ xᵀ`` — never a 4-index tensor, and never expanded into
scalars.  SymPy 1.14's own ``diff`` raises here as soon as an elementwise
function sits inside the loss.

Examples
--------
>>> import sympy as sp
>>> W, x, y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
>>> r = W * x - y
>>> matrix_gradient(sp.Trace(r.T * r), [W])[W]
2*(W*x - y)*x.T
"""

from __future__ import annotations

from collections.abc import Iterable

import sympy as sp

from .build.matrix import expression_vjp, is_matrix
from .core.substitute import folded
from .errors import GraphError
from .present.latex import latex_of


def matrix_gradient(loss: sp.Basic, wrt: Iterable[sp.Basic]) -> dict[sp.Basic, sp.Basic]:
    """``∂loss/∂w`` for each weight, each with the weight's shape, from the expression alone.

    One reverse sweep over the loss's expression DAG
    (:func:`symgraph.build.matrix.expression_vjp`), with no graph kept:
    ``sg.gradient`` gives the same closed forms along with δ-equations,
    compiled code and checks.

    Parameters
    ----------
    loss : sympy.Basic
        A scalar (``Trace(...)``, a 1×1 product's entry, sums of those...).
    wrt : iterable of MatrixSymbol or Symbol

    Raises
    ------
    GraphError
        When the loss is not a scalar.
    NoRuleError
        When an operation on a weight's path has no rule (names it).
    """
    wrt = list(wrt)
    if is_matrix(loss) and loss.shape != (1, 1):
        raise GraphError(f"the loss must be a scalar, not a {loss.shape[0]}×{loss.shape[1]} matrix")
    seed = sp.Identity(1) if is_matrix(loss) else sp.S.One
    shares = expression_vjp(loss, seed, wrt)
    zero = {w: sp.ZeroMatrix(*w.shape) if is_matrix(w) else sp.S.Zero for w in wrt}
    return {w: folded(shares[w]) if w in shares else zero[w] for w in wrt}


def matrix_latex(expr: sp.Basic) -> str:
    r"""LaTeX of a matrix expression in a paper's notation.

    >>> import sympy as sp
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> d = sp.MatrixSymbol("delta", 2, 1)
    >>> matrix_latex(sp.HadamardProduct(d, W * x) * x.T)
    '\\left(W x \\odot \\delta\\right) x^{\\top}'
    """
    return latex_of(expr)


def gradient_latex_matrix(grads: dict, output: str = "L") -> str:
    r"""``\frac{\partial L}{\partial W} &= ...`` for each weight, in an ``align`` environment."""
    lines = [
        rf"\frac{{\partial {output}}}{{\partial {latex_of(w)}}} &= {latex_of(g)}"
        for w, g in grads.items()
    ]
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"
