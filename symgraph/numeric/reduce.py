r"""The loss summed or averaged over a batch, its reductions fused into the δ-lines.

``grad.lambdify(reduce="sum")`` returns the value and the gradient of

.. math:: \mathcal{L} = \sum_n L(x_n; w),

where the sum runs over every point of the batch: all axes of the broadcast
shape of the inputs that are not weights ("data").  ``reduce="mean"`` divides
by the batch size :math:`N`.  A term that depends on the weights only (a
regularizer ``λ·w²``) is part of every point's loss, so it counts :math:`N`
times: the reduced result is exactly the sum of the per-point results of
``grad.lambdify()``.  (For a penalty that counts once, add it to the reduced
value and gradient yourself, or divide it by :math:`N` in the expression.)

No per-point partial is ever formed.  A node is *batched* when it depends on a
data input; a weight, and every node depending on weights only, is not.  The
forward lines and the δ-lines of batched nodes run per point, as in
:mod:`symgraph.numeric.compile`; the δ of an unbatched node is kept summed
over the batch, so each batched term of its equation becomes one reduction:
a product of two batched factors is one dot product (``δ_w = Σ_n δ_z[n]·x[n]``
is ``numpy.dot(δ_z, x)``, scalar factors outside it), any other batched factor
one ``numpy.sum``; an unbatched term summed over the batch is :math:`N` times
itself.  The generated code sees every datum as one flat array over the
batch: data that broadcast against each other (``x`` of shape ``(n, 1)``,
``y`` of shape ``(1, m)``), plain numbers and arrays of several axes are
broadcast to the batch's shape and raveled at the call (a copy only where a
datum is not flat already).  A layer written weight by weight is then rolled
back into matrix products (:mod:`symgraph.numeric.reroll`): the sums
``Σ_i W_ji·x_i`` over the same inputs as one ``C @ S``, their weights' dot
products as one ``Δ @ S.T``.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, y = sp.symbols("w x y", real=True)
>>> f = sg.gradient((w * x - y) ** 2, wrt=[w]).lambdify(reduce="sum")
>>> f(x=np.array([1.0, 2.0]), y=np.array([0.0, 0.0]), w=1.0)
(5.0, (10.0,))
>>> "numpy.dot" in f.source
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from ..core.adjoint import AdjointSymbol
from ..core.gradient import Gradient
from ..errors import EvaluationError, GraphError
from .codegen import ZeroSafeProduct, make_function
from .compile import CompiledGradient, is_dask
from .forward import run
from .lines import argument_order, compiled_lines
from .reroll import BatchDot, BatchSum, rerolled
from .stable import stable_lines
from .values import broadcast_shape

__all__ = ["BatchDot", "BatchSum", "ReducedGradient", "compile_reduced", "reduced_lines"]


def reduced_lines(grad: Gradient, size: sp.Symbol) -> tuple[list, list]:
    """The lines of ``grad``'s program with the δ of every unbatched node summed over the batch.

    ``size`` is the symbol holding the batch size :math:`N`.  Returns the
    assignments and the outputs: the summed value, then each summed partial.
    """
    lines, outputs, _ = _reduced_program(grad, size)
    return lines, outputs


def _reduced_program(grad: Gradient, size: sp.Symbol) -> tuple[list, list, set]:
    """:func:`reduced_lines`, and the names that hold arrays over the batch."""
    if grad.graph.has_matrices:
        raise GraphError(
            "a matrix graph's loss is already one number: reduce applies to a scalar graph "
            "over a batch of points; call lambdify() without reduce"
        )
    weights = set(grad.wrt)
    data = [n for n in grad.graph.leaves if n not in weights]
    g, batched_nodes = grad.graph.nx, set(data)
    for node in grad.graph.topological_order():  # one pass: depends on a data input
        if any(p in batched_nodes for p in g.predecessors(node)):
            batched_nodes.add(node)
    unbatched = {n.name for n in g if n not in batched_nodes}
    summed = {
        lhs
        for lhs, _ in grad.equations
        if isinstance(lhs, AdjointSymbol) and lhs.node_name in unbatched
    }
    assignments, outputs = compiled_lines(grad)
    lines = stable_lines(assignments, keep=sorted(summed, key=str))
    batched = set(data)
    out = []
    for target, expr in lines:
        if target in summed:
            expr = _summed(expr, batched, summed, size, target)
        elif expr.free_symbols & batched:
            batched.add(target)
        out.append((target, expr))
    return (*_fused_outputs(out, outputs, batched, summed, size), batched)


def _fused_outputs(lines, outputs, batched, summed, size):
    """Each output summed; an output's own line, read nowhere else, is summed in place."""
    uses: dict = {}
    for _, expr in lines:
        for s in expr.free_symbols:
            uses[s] = uses.get(s, 0) + 1
    for out in outputs:
        uses[out] = uses.get(out, 0) + 1
    by_target = {target: k for k, (target, _) in enumerate(lines)}
    reduced = []
    for out in outputs:
        if out in summed:
            reduced.append(out)
            continue
        expr = out
        if out in by_target and uses.get(out) == 1 and out in batched:
            expr = lines[by_target[out]][1]  # the line itself becomes dead
        reduced.append(_summed(expr, batched, summed, size, out))
    return lines, reduced


def _summed(expr, batched, summed, size, where) -> sp.Basic:
    """``Σ_n expr[n]`` over the batch, one reduction per batched term."""
    return sp.Add(*(_summed_term(t, batched, summed, size, where) for t in sp.Add.make_args(expr)))


def _summed_term(term, batched, summed, size, where) -> sp.Basic:
    free = term.free_symbols
    if free & summed:  # δ of an unbatched node: already summed, linear in it
        carriers = [f for f in sp.Mul.make_args(term) if f.free_symbols & summed]
        if free & batched or len(carriers) != 1 or not _carries(carriers[0], summed):
            raise GraphError(f"cannot sum {where} = … {term} … over the batch: not linear in a δ")
        return term
    if not free & batched:
        return size * term
    outside, inside = [], []
    for factor in sp.Mul.make_args(term):
        (inside if factor.free_symbols & batched else outside).append(factor)
    if len(inside) == 1:
        reduction = BatchSum(inside[0])
    else:
        reduction = BatchDot(inside[0], sp.Mul(*inside[1:]))
    return sp.Mul(*outside, reduction)


def _carries(factor, summed) -> bool:
    """Whether ``factor`` is a summed δ, or its zero-safe product with a factor free of δs."""
    if isinstance(factor, ZeroSafeProduct):
        delta, rest = factor.args
        return delta in summed and not rest.free_symbols & summed
    return factor in summed


class ReducedGradient(CompiledGradient):
    """``f(*args)`` or ``f(**values)`` -> ``(Σ value, (Σ ∂/∂w1, ...))`` over the batch.

    Python floats; ``reduce="mean"`` divides each by the batch size.  Weights
    must be plain numbers; data broadcast against each other (each is made one
    flat array over the batch before the generated code runs).

    Attributes
    ----------
    args, wrt, source
        As for :class:`~symgraph.numeric.compile.CompiledGradient`.
    reduce : str
        ``"sum"`` or ``"mean"``.
    """

    def __init__(self, fn, args, wrt, reduce: str):
        super().__init__(fn, args, wrt)
        self.reduce = reduce
        self._weights = frozenset(wrt)

    def checked(self, *args: Any, **values: Any):
        """The call with every value checked and converted, then reduced over the batch."""
        ordered = self.validated(args, values)
        if any(map(is_dask, ordered)):  # one task per chunk, its sums combined
            from .dask_call import dask_call

            return dask_call(self, ordered)
        return self.evaluate(ordered, broadcast_shape(self.args, ordered))

    def validated(self, args: tuple, values: dict) -> list:
        """The call's values checked and converted, in ``args`` order; every weight one number."""
        ordered = super().validated(args, values)
        for symbol, value in zip(self.args, ordered, strict=True):
            if symbol in self._weights and np.shape(value) != ():
                raise EvaluationError(
                    f"{symbol} is a weight: reduce={self.reduce!r} needs one number for it, "
                    f"got an array of shape {np.shape(value)}"
                )
        return ordered

    def evaluate(self, ordered: list, shape: tuple):
        """The reduced call on values checked already (in ``args`` order), of shape ``shape``."""
        size = math.prod(shape)
        if size == 0:
            if self.reduce == "mean":
                raise EvaluationError("reduce='mean' over an empty batch (no points): no mean")
            return 0.0, (0.0,) * len(self.wrt)
        flat = [
            v if symbol in self._weights or np.shape(v) == (size,) else _flat(v, shape)
            for symbol, v in zip(self.args, ordered, strict=True)
        ]
        value, *partials = run(self._fn, [*flat, size])
        count = size if self.reduce == "mean" else 1
        return float(value) / count, tuple(float(p) / count for p in partials)

    def __repr__(self) -> str:
        args = ", ".join(map(str, self.args))
        return f"<CompiledGradient ({args}) -> {self.reduce} of value, {len(self.wrt)} partials>"


def _flat(value, shape):
    """A datum as one flat array over the batch: broadcast (each point once), then raveled."""
    return np.broadcast_to(value, shape).reshape(-1)


def compile_reduced(grad: Gradient, reduce: str) -> ReducedGradient:
    """``grad`` compiled with its reductions over the batch fused in; see :class:`ReducedGradient`.

    Raises
    ------
    GraphError
        For a matrix graph, whose loss is one number already.
    """
    size = sp.Dummy("batch_size", integer=True, positive=True)
    lines, outputs, batched = _reduced_program(grad, size)
    lines, outputs = rerolled(lines, outputs, batched)  # matrix products where lines allow
    args = argument_order(grad)
    fn = make_function(lines, [*args, size], outputs, name="value_and_grad")
    return ReducedGradient(fn, args, grad.wrt, reduce)
