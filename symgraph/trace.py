"""Define-by-run: a traced value whose Python operations become graph nodes.

Each arithmetic operation or math method on a :class:`Value` computes its
number at once (like micrograd or PyTorch) and records one node, so the graph
keeps the structure the code had: ``w*x + w*x`` stays two products and a sum
(SymPy alone would merge them into ``2*w*x``), loops unroll, branches take the
path the numbers took.  ``.backward()`` gives the same :class:`Gradient` as the
static path, and stores each leaf's numeric partial in ``.grad``.

Examples
--------
>>> a = Value(-4.0, name="a")
>>> b = Value(2.0, name="b")
>>> c = a * b + b**3
>>> c.data
0.0
>>> grad = c.backward()
>>> grad[b.symbol], a.grad, b.grad
(a + 3*b**2, 2.0, 8.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from .ad.backward import backward
from .build.builder import GraphBuilder, build_graph_from
from .build.inputs import Namer
from .core.activations import relu, sigmoid
from .errors import GraphError
from .numeric.compile import compile_gradient

_unnamed = itertools.count(1)


UNARY: dict[str, tuple[Callable, Callable]] = {
    "exp": (sp.exp, np.exp),
    "log": (sp.log, np.log),
    "sqrt": (sp.sqrt, np.sqrt),
    "sin": (sp.sin, np.sin),
    "cos": (sp.cos, np.cos),
    "tanh": (sp.tanh, np.tanh),
    "relu": (relu, lambda v: np.maximum(0.0, v)),
    "sigmoid": (sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "abs": (sp.Abs, np.abs),
}


class Value:
    """A number that records how it was computed.

    Parameters
    ----------
    data : float
        The number.
    name : str, optional
        The leaf's symbol name (``u1, u2, ...`` when omitted).
    """

    __slots__ = ("data", "grad", "symbol", "_parents", "_op")

    def __init__(self, data, name: str | None = None):
        self.data = float(data) if np.ndim(data) == 0 else np.asarray(data, dtype=float)
        self.grad = 0.0
        self.symbol = sp.Symbol(name or f"u{next(_unnamed)}", real=True)
        self._parents: tuple[Value, ...] = ()
        self._op: Callable | None = None  # SymPy operation on the parents' symbols

    @classmethod
    def _result(cls, data, parents, op) -> Value:
        out = cls.__new__(cls)
        out.data = float(data) if np.ndim(data) == 0 else data
        out.grad, out.symbol = 0.0, None
        out._parents, out._op = tuple(parents), op
        return out

    # --- arithmetic ---

    @staticmethod
    def _lift(other) -> Value | float:
        if isinstance(other, Value):
            return other
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return other
        raise GraphError(f"cannot trace an operation with {type(other).__name__}")

    def _binary(self, other, number, symbolic, swap=False) -> Value:
        other = self._lift(other)
        left, right = (other, self) if swap else (self, other)
        data = number(_data(left), _data(right))
        parents = [v for v in (left, right) if isinstance(v, Value)]

        def op(*symbols, left=left, right=right):
            it = iter(symbols)
            a = next(it) if isinstance(left, Value) else _sympify(left)
            b = next(it) if isinstance(right, Value) else _sympify(right)
            return symbolic(a, b)

        if len(parents) == 2 and parents[0] is parents[1]:  # x*x: one operand, used twice
            parents = parents[:1]
            op = _same_operand(symbolic)
        return Value._result(data, parents, op)

    def __add__(self, other):
        return self._binary(other, np.add, lambda a, b: a + b)

    def __radd__(self, other):
        return self._binary(other, np.add, lambda a, b: a + b, swap=True)

    def __sub__(self, other):
        return self._binary(other, np.subtract, lambda a, b: a - b)

    def __rsub__(self, other):
        return self._binary(other, np.subtract, lambda a, b: a - b, swap=True)

    def __mul__(self, other):
        return self._binary(other, np.multiply, lambda a, b: a * b)

    def __rmul__(self, other):
        return self._binary(other, np.multiply, lambda a, b: a * b, swap=True)

    def __truediv__(self, other):
        return self._binary(other, np.true_divide, lambda a, b: a / b)

    def __rtruediv__(self, other):
        return self._binary(other, np.true_divide, lambda a, b: a / b, swap=True)

    def __pow__(self, other):
        return self._binary(other, np.power, lambda a, b: a**b)

    def __rpow__(self, other):
        return self._binary(other, np.power, lambda a, b: a**b, swap=True)

    def __neg__(self):
        return Value._result(-self.data, [self], lambda a: -a)

    def __pos__(self):
        return self

    def _unary(self, name: str) -> Value:
        symbolic, number = UNARY[name]
        with np.errstate(all="ignore"):
            data = number(self.data)
        return Value._result(data, [self], symbolic)

    # --- the graph and the gradient ---

    @property
    def graph(self):
        """The :class:`~symgraph.core.graph.Graph` recorded up to this value (its output)."""
        return trace_graph(self)

    def backward(self, wrt: list[Value] | None = None):
        """Backpropagate from this value: a Gradient over the traced leaves.

        Each leaf's ``.grad`` is set to its numeric partial at the traced point.
        """
        graph, leaves = _trace(self, wrt)
        grad = backward(graph)
        point = {leaf.symbol.name: leaf.data for leaf in leaves}
        f = compile_gradient(grad)
        _, partials = f(**{s.name: point[s.name] for s in f.args})
        by_symbol = {leaf.symbol: leaf for leaf in leaves}
        for w, partial in zip(grad.wrt, partials, strict=True):
            by_symbol[w].grad = float(partial) if np.ndim(partial) == 0 else partial
        return grad

    def __repr__(self) -> str:
        label = f"{self.symbol}=" if self.symbol is not None else ""
        return f"Value({label}{self.data})"


for _name in UNARY:
    setattr(Value, _name, lambda self, _name=_name: self._unary(_name))


def _same_operand(symbolic):
    return lambda a: symbolic(a, a)


def _data(v):
    return v.data if isinstance(v, Value) else v


def _postorder(output: Value) -> list[Value]:
    """Every value the output depends on, operands first (iteratively, without recursion)."""
    order: list[Value] = []
    seen: set[int] = set()
    stack = [(output, False)]
    while stack:
        v, expanded = stack.pop()
        if id(v) in seen and not expanded:
            continue
        if expanded:
            order.append(v)
            continue
        seen.add(id(v))
        stack.append((v, True))
        stack.extend((p, False) for p in reversed(v._parents) if id(p) not in seen)
    return order


def trace_graph(output: Value, wrt: list[Value] | None = None):
    """The Graph of a traced computation; every leaf is a weight unless ``wrt`` says otherwise."""
    return _trace(output, wrt)[0]


def _trace(output: Value, wrt: list[Value] | None):
    """The Graph, and the leaf Values it holds (traced leaves, then weights outside the trace)."""
    order = _postorder(output)
    leaves = [v for v in order if not v._parents]
    names = [v.symbol.name for v in leaves]
    if len(set(names)) != len(names):
        raise GraphError("two traced leaves have the same name; give each its own name")
    weights = [v.symbol for v in (leaves if wrt is None else wrt)]
    builder = GraphBuilder("op", Namer(names), weights, exprs_are_full=False)
    node_of: dict[int, sp.Symbol] = {}
    for v in order:
        if not v._parents:
            node_of[id(v)] = builder.leaf(v.symbol)
            continue
        operands = [node_of[id(p)] for p in v._parents]
        name = builder.namer.named("L") if v is output and "L" not in builder.namer.taken else None
        node = name or builder.namer.fresh()
        # every Python operation its own node, as the code ran it: never merged
        # into an equal one (a - b is recorded as a + (-b), as SymPy writes it)
        node_of[id(v)] = builder.add(v._op(*operands), node)
    traced = {id(v) for v in leaves}
    leaves += [v for v in wrt or [] if id(v) not in traced]
    return build_graph_from(builder, node_of[id(output)], weights), leaves
