"""Reverse mode over matrix expressions (issue 4, first step): gradients in matrix form.

The loss is a scalar built from ``MatrixSymbol`` s (``Trace``, products,
sums, Hadamard products, elementwise functions, ...).  Walking its
expression DAG in reverse topological order, each operation sends its
adjoint back to its operands with the VJP rules of
:mod:`symgraph.matrix_rules` (matrix operations) or the scalar rules of
:mod:`symgraph.rules` (scalar operations on top), so ``∂L/∂W`` comes out with
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
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from .errors import GraphError, NoRuleError
from .matrix_rules import matrix_vjp
from .rules import local_partial


def _is_matrix(e: sp.Basic) -> bool:
    return bool(getattr(e, "is_Matrix", False))


def _operands(e: sp.Basic) -> list[tuple[int, sp.Basic]]:
    """(slot, operand) pairs that carry weights (constants and the function of an
    elementwise application are not operands)."""
    if isinstance(e, ElementwiseApplyFunction):
        return [(1, e.expr)]
    return [(k, a) for k, a in enumerate(e.args) if a.free_symbols and not isinstance(a, sp.Lambda)]


def _postorder(root: sp.Basic) -> list[sp.Basic]:
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        e, ready = stack.pop()
        if ready:
            order.append(e)
            continue
        if e in seen:
            continue
        seen.add(e)
        stack.append((e, True))
        if not isinstance(e, (sp.MatrixSymbol, sp.Symbol)):
            stack.extend((a, False) for _, a in reversed(_operands(e)) if a not in seen)
    return order


def _scalar_vjp(op: sp.Basic, index: int, adjoint: sp.Basic) -> sp.Basic:
    """A scalar operation's rule, applied through placeholder symbols for its slots."""
    placeholders = [sp.Dummy(f"s{k}") for k in range(len(op.args))]
    local = op.func(*placeholders)
    partial = local_partial(local, index)
    return adjoint * partial.xreplace(dict(zip(placeholders, op.args, strict=True)))


def matrix_gradient(loss: sp.Basic, wrt: Iterable[sp.Basic]) -> dict[sp.Basic, sp.Basic]:
    """``∂loss/∂w`` for each weight, each with the weight's shape.

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
    if _is_matrix(loss) and loss.shape != (1, 1):
        raise GraphError(f"the loss must be a scalar, not a {loss.shape[0]}×{loss.shape[1]} matrix")
    order = _postorder(loss)
    adjoint: dict[sp.Basic, sp.Basic] = {loss: sp.S.One}
    for e in reversed(order):
        if e not in adjoint or isinstance(e, (sp.MatrixSymbol, sp.Symbol)):
            continue
        for slot, operand in _operands(e):
            try:
                if _is_matrix(e) or isinstance(e, (sp.Trace, sp.Determinant)):
                    contribution = matrix_vjp(e, slot, adjoint[e])
                else:
                    contribution = _scalar_vjp(e, slot, adjoint[e])
            except NoRuleError as err:
                raise NoRuleError(f"cannot backpropagate through {e}: {err}") from err
            previous = adjoint.get(operand)
            adjoint[operand] = contribution if previous is None else previous + contribution
    zero = {w: sp.ZeroMatrix(*w.shape) if _is_matrix(w) else sp.S.Zero for w in wrt}
    return {w: _tidy(adjoint[w]) if w in adjoint else zero[w] for w in wrt}


def _tidy(e: sp.Basic) -> sp.Basic:
    try:
        return e.doit()
    except Exception:  # noqa: BLE001 - the unsimplified form is still right
        return e


class _MatrixLatexPrinter(LatexPrinter):
    """Paper notation: ``^{\\top}``, ``\\odot``, ``\\operatorname{tr}``, ``tanh(z)`` entrywise."""

    def _print_Transpose(self, expr):
        base = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol):
            base = rf"\left({base}\right)"
        return rf"{base}^{{\top}}"

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self.parenthesize(a, PRECEDENCE["Mul"] - 1) for a in expr.args)

    def _print_Trace(self, expr):
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_ElementwiseApplyFunction(self, expr):
        u = sp.Dummy("u")
        body = expr.function(u)
        argument = self._print(expr.expr)
        if isinstance(body, sp.Function) and body.args == (u,):  # tanh(z), applied entrywise
            name = type(body).__name__
            head = f"\\{name}" if name in LATEX_FUNCTIONS else f"\\operatorname{{{name}}}"
            return f"{head}\\left({argument}\\right)"
        placeholder = sp.Symbol("PLACEHOLDER")  # 1 - tanh(·)**2, applied entrywise
        inner = self._print(body.xreplace({u: placeholder})).replace("PLACEHOLDER", "\\cdot")
        return f"\\left[{inner}\\right]\\left({argument}\\right)"


LATEX_FUNCTIONS = ("tanh", "exp", "log", "sin", "cos", "sinh", "cosh")


def matrix_latex(expr: sp.Basic) -> str:
    r"""LaTeX of a matrix expression in a paper's notation.

    >>> import sympy as sp
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> d = sp.MatrixSymbol("delta", 2, 1)
    >>> matrix_latex(sp.HadamardProduct(d, W * x) * x.T)
    '\\left(W x \\odot \\delta\\right) x^{\\top}'
    """
    return _MatrixLatexPrinter().doprint(expr)


def gradient_latex_matrix(grads: dict, output: str = "L") -> str:
    r"""``\frac{\partial L}{\partial W} &= ...`` for each weight, in an ``align`` environment."""
    lines = [
        rf"\frac{{\partial {output}}}{{\partial {sp.latex(w)}}} &= {matrix_latex(g)}"
        for w, g in grads.items()
    ]
    return "\\begin{align}\n" + " \\\\\n".join(lines) + "\n\\end{align}"
