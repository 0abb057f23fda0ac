"""Matrix lines in C: loops over the entries of arrays of fixed size, row-major.

A matrix expression of one line is taken apart into what is entrywise
(sums, Hadamard products and powers, entrywise functions, transposes, scalar
multiples, ``I``, ``1``, ``0``), printed once as the scalar expression of
entry ``(i, j)``, and what is not: a product gets an array of its own and a
loop over ``k``; ``tr``, the sum of entries and the Frobenius norm a scalar
accumulated over a loop.  Any other matrix function (``det``, an inverse,
``softmax``...) has no C form: a GraphError names it.

Examples
--------
>>> import sympy as sp
>>> from itertools import count
>>> from symgraph.numeric.c_printer import CPrinter
>>> A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 3, 1)
>>> entries = Entries(CPrinter({A: "a0", B: "a1"}, count(1)))
>>> entries.arrays.update(a0=(2, 3), a1=(3, 1))
>>> entries.fill_entries("t9", (A * B).applyfunc(sp.tanh), (2, 1))
>>> print("\\n".join(entries.lines))
double t1[2];
for (int i = 0; i < 2; ++i) {
    double t2 = 0.0;
    for (int k = 0; k < 3; ++k) {
        t2 += a0[i*3 + k]*a1[k];
    }
    t1[i] = t2;
}
for (int i = 0; i < 2; ++i) {
    t9[i] = tanh(t1[i]);
}
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.matexpr import MatrixElement

from ..errors import GraphError
from ..rules.matfuncs import FrobeniusNorm, SumEntries
from .c_printer import CPrinter

__all__ = ["Entries", "at"]

_CHEAP = (sp.Identity, sp.OneMatrix, sp.ZeroMatrix)


def at(name: str, shape: tuple[int, int], i: str, j: str) -> str:
    """``name[i*cols + j]``, row-major; a vector or a 1×1 matrix needs one index or none."""
    rows, cols = shape
    if rows == 1 and cols == 1:
        return f"{name}[0]"
    if cols == 1:
        return f"{name}[{i}]"
    if rows == 1:
        return f"{name}[{j}]"
    return f"{name}[{j}]" if i == "0" else f"{name}[{i}*{cols} + {j}]"


class Entries:
    """Matrix expressions as loops; ``arrays`` holds each array's name and shape."""

    def __init__(self, printer: CPrinter):
        self.printer = printer
        self.arrays: dict[str, tuple[int, int]] = {}
        self.stack = 0  # doubles of intermediate arrays
        self.lines: list[str] = []

    def add(self, lines: list[str], what=None) -> None:
        self.lines.extend(lines)

    def fill_entries(self, name: str, expr: sp.Basic, shape: tuple[int, int]) -> None:
        """Statements setting every entry of the array ``name`` (of ``shape``) to ``expr``'s."""
        if isinstance(expr, sp.MatMul) and sum(a.is_Matrix for a in expr.args) > 1:
            self._product(name, expr, shape)
            return
        rows, cols = shape
        i, j = ("i" if rows > 1 else "0"), ("j" if cols > 1 else "0")
        value = self.entry(expr, i, j) if getattr(expr, "is_Matrix", False) else self.lowered(expr)
        statements = self.printer.statement(at(name, shape, i, j), value, declare=False)
        self.add(_loops([("i", rows), ("j", cols)], statements))

    def array(self, expr: sp.Basic) -> str:
        """A new array holding ``expr``'s entries; its name."""
        name = self.printer.fresh()
        shape = tuple(int(d) for d in expr.shape)
        self.arrays[name] = shape
        self.stack += shape[0] * shape[1]
        self.add([f"double {name}[{shape[0] * shape[1]}];"])
        self.fill_entries(name, expr, shape)
        return name

    def entry(self, expr: sp.Basic, i: str, j: str) -> sp.Basic:
        """Entry ``(i, j)`` of the matrix ``expr`` as a scalar expression (C names inside)."""
        names = self.printer._names
        if expr in names:
            return self._access(names[expr], i, j)
        if isinstance(expr, sp.Transpose):
            return self.entry(expr.arg, j, i)
        if isinstance(expr, sp.MatAdd):
            return sp.Add(*(self.entry(a, i, j) for a in expr.args))
        if isinstance(expr, sp.HadamardProduct):
            return sp.Mul(*(self.entry(a, i, j) for a in expr.args))
        if isinstance(expr, sp.HadamardPower):
            return sp.Pow(self.entry(expr.base, i, j), self.lowered(expr.exp))
        if isinstance(expr, ElementwiseApplyFunction):
            return expr.function(self.entry(expr.expr, i, j))
        if isinstance(expr, sp.MatMul):
            scalars = [self.lowered(a) for a in expr.args if not a.is_Matrix]
            matrices = [a for a in expr.args if a.is_Matrix]
            if len(matrices) == 1:
                return sp.Mul(*scalars, self.entry(matrices[0], i, j))
            product = self._access(self.array(sp.MatMul(*matrices)), i, j)
            return sp.Mul(*scalars, product)
        if isinstance(expr, sp.Identity) and (i == j or i.isdigit() and j.isdigit()):
            return sp.S.One if i == j else sp.S.Zero
        if isinstance(expr, sp.Identity):
            return self._text(f"(({i} == {j}) ? 1.0 : 0.0)")
        if isinstance(expr, sp.OneMatrix):
            return sp.S.One
        if isinstance(expr, sp.ZeroMatrix):
            return sp.S.Zero
        if isinstance(expr, sp.MatrixSymbol):
            raise GraphError(f"the matrix {expr} has no value in the generated code")
        raise GraphError(f"no C form for {type(expr).__name__}")

    def lowered(self, expr: sp.Basic) -> sp.Basic:
        """A scalar expression with each matrix function in it (``tr(A)``) computed first."""
        found, stack = {}, [expr]
        while stack:
            node = stack.pop()
            if node in found or not isinstance(node, sp.Basic):
                continue
            if not node.is_Matrix and any(getattr(a, "is_Matrix", False) for a in node.args):
                found[node] = self._matrix_scalar(node)
            elif not node.is_Matrix:
                stack.extend(node.args)
        return expr.xreplace(found) if found else expr

    def _matrix_scalar(self, node: sp.Basic) -> sp.Basic:
        if isinstance(node, MatrixElement):
            return self.entry(node.parent, str(int(node.i)), str(int(node.j)))
        if isinstance(node, (sp.Trace, SumEntries, FrobeniusNorm)):
            arg = node.args[0]
            rows, cols = (int(d) for d in arg.shape)
            total = self.printer.fresh()
            if isinstance(node, sp.Trace):
                i = "i" if rows > 1 else "0"
                loops, value = [("i", rows)], self.entry(arg, i, i)
            else:
                i, j = ("i" if rows > 1 else "0"), ("j" if cols > 1 else "0")
                loops, value = [("i", rows), ("j", cols)], self.entry(arg, i, j)
            if isinstance(node, FrobeniusNorm):
                value = value**2
            self.add([f"double {total} = 0.0;"])
            self.add(_loops(loops, self._accumulate(total, value)))
            result = self._text(total)
            return sp.sqrt(result) if isinstance(node, FrobeniusNorm) else result
        raise GraphError(f"no C form for {type(node).__name__}")

    def _product(self, name: str, expr: sp.MatMul, shape: tuple[int, int]) -> None:
        """``name = A B C ...``: pairwise, left to right, a loop over ``k`` each."""
        factors = [a for a in expr.args if a.is_Matrix]
        factors = [f if self._cheap(f) else self._array_of(f) for f in factors]
        left = factors[0]
        for n, right in enumerate(factors[1:], start=2):
            last = n == len(factors)
            target = name if last else self.printer.fresh()
            rows, inner, cols = int(left.shape[0]), int(left.shape[1]), int(right.shape[1])
            if not last:
                self.arrays[target] = (rows, cols)
                self.stack += rows * cols
                self.add([f"double {target}[{rows * cols}];"])
            i, j, k = ("i" if rows > 1 else "0"), ("j" if cols > 1 else "0"), "k"
            k = k if inner > 1 else "0"
            term = self.entry(left, i, k) * self.entry(right, k, j)
            dest = at(target, (rows, cols), i, j)
            if inner == 1:
                statements = self.printer.statement(dest, term, declare=False)
            else:
                acc = self.printer.fresh()
                statements = [f"double {acc} = 0.0;"]
                statements += _loops([("k", inner)], self._accumulate(acc, term))
                statements.append(f"{dest} = {acc};")
            self.add(_loops([("i", rows), ("j", cols)], statements))
            left = sp.MatrixSymbol(target, rows, cols)
            self.printer._names[left] = target
        scalars = [self.lowered(a) for a in expr.args if not a.is_Matrix]
        if scalars:
            self.fill_entries(name, sp.Mul(*scalars) * left, shape)

    def _array_of(self, expr: sp.Basic) -> sp.MatrixSymbol:
        name = self.array(expr)
        symbol = sp.MatrixSymbol(name, *self.arrays[name])
        self.printer._names[symbol] = name
        return symbol

    def _cheap(self, expr: sp.Basic) -> bool:
        """Read entry by entry where it is: a name, its transpose, ``I``, ``1``, ``0``."""
        inner = expr.arg if isinstance(expr, sp.Transpose) else expr
        return inner in self.printer._names or isinstance(inner, _CHEAP)

    def _accumulate(self, total: str, value: sp.Basic) -> list[str]:
        """``total += value``: a wide value is folded into a name of its own first."""
        if self.printer._is_wide(value):
            part = self.printer.fresh()
            return [*self.printer.statement(part, value, declare=True), f"{total} += {part};"]
        statements = self.printer.statement(total, value, declare=False)
        *before, last = statements
        return [*before, last.replace(f"{total} = ", f"{total} += ", 1)]

    def _access(self, name: str, i: str, j: str) -> sp.Basic:
        return self._text(at(name, self.arrays[name], i, j))

    def _text(self, text: str) -> sp.Dummy:
        symbol = sp.Dummy()
        self.printer._names[symbol] = text
        return symbol


def _loops(loops: list[tuple[str, int]], statements: list[str]) -> list[str]:
    """``statements`` inside ``for`` loops over each (index, extent); extent 1: no loop."""
    for index, extent in reversed(loops):
        if extent > 1:
            head = f"for (int {index} = 0; {index} < {extent}; ++{index}) {{"
            statements = [head, *("    " + s for s in statements), "}"]
    return statements
