"""Define-by-run: a traced value whose Python operations become graph nodes.

Each arithmetic operation or math method on a :class:`Value` computes its
number at once (like micrograd or PyTorch) and records one node, so the graph
keeps the structure the code had: ``w*x + w*x`` stays two products and a sum
(SymPy alone would merge them into ``2*w*x``), loops unroll, branches take the
path the numbers took.  ``.backward()`` gives the same :class:`Gradient` as the
static path, and stores each leaf's numeric partial in ``.grad``.

Recording is light: an operation keeps its kind and its operands (Values or
numbers), nothing symbolic.  ``.graph`` and ``.backward()`` build the graph
in one linear pass over the record, each operation straight into the one
:class:`~symgraph.build.builder.GraphBuilder`; the numeric partials come
from the compiled gradient of that graph, by the one rules registry, as for
every graph (an operation SymPy folds into a constant, ``x - x``, sends
nothing back).

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

import gc
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import sympy as sp
from sympy.core.sympify import _sympify

from .ad.backward import backward
from .build.builder import GraphBuilder, build_graph_from
from .build.inputs import Namer
from .core.activations import relu, sigmoid
from .core.adjoint import plain_number
from .core.substitute import EVALUATED_DEPTH, applied, unevaluated
from .errors import GraphError
from .numeric.compile import compile_gradient
from .rules.registry import has_rule

_unnamed = itertools.count(1)


class Operation(NamedTuple):
    """One kind of traced operation: ``symbolic`` builds it on SymPy operands, ``numeric``
    computes its value (its derivatives come from the graph, by the rules, as every graph's)."""

    symbolic: Callable
    numeric: Callable


OPERATIONS: dict[str, Operation] = {
    "add": Operation(lambda a, b: a + b, np.add),
    "sub": Operation(lambda a, b: a - b, np.subtract),
    "mul": Operation(lambda a, b: a * b, np.multiply),
    "truediv": Operation(lambda a, b: a / b, np.true_divide),
    "pow": Operation(lambda a, b: a**b, np.power),
    "neg": Operation(lambda a: -a, np.negative),
    "exp": Operation(sp.exp, np.exp),
    "log": Operation(sp.log, np.log),
    "sqrt": Operation(sp.sqrt, np.sqrt),
    "sin": Operation(sp.sin, np.sin),
    "cos": Operation(sp.cos, np.cos),
    "tanh": Operation(sp.tanh, np.tanh),
    "relu": Operation(relu, lambda v: np.maximum(0.0, v)),
    "sigmoid": Operation(sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "abs": Operation(sp.Abs, np.abs),
}

#: The math methods of a Value (``x.tanh()``), by name.
UNARY = ("exp", "log", "sqrt", "sin", "cos", "tanh", "relu", "sigmoid", "abs")


class Value:
    """A number that records how it was computed.

    Parameters
    ----------
    data : float
        The number.
    name : str, optional
        The leaf's symbol name (``u1, u2, ...`` when omitted).
    """

    __slots__ = ("data", "grad", "symbol", "_parents", "_kind", "_args")

    def __init__(self, data, name: str | None = None):
        self.data = float(data) if np.ndim(data) == 0 else np.asarray(data, dtype=float)
        self.grad = 0.0
        self.symbol = sp.Symbol(name or f"u{next(_unnamed)}", real=True)
        self._parents: tuple[Value, ...] = ()
        self._kind: str | None = None  # a key of OPERATIONS
        self._args: tuple = ()  # the operands in order: Values and numbers

    @classmethod
    def _result(cls, data, kind: str, args: tuple) -> Value:
        out = cls.__new__(cls)
        out.data = float(data) if np.ndim(data) == 0 else data
        out.grad, out.symbol = 0.0, None
        out._kind, out._args = kind, args
        # x*x: one operand, used twice
        out._parents = tuple(dict.fromkeys(a for a in args if isinstance(a, Value)))
        return out

    # --- arithmetic ---

    @staticmethod
    def _lift(other) -> Value | float:
        if isinstance(other, Value):
            return other
        if isinstance(other, (int, float, np.number)) and not isinstance(other, bool):
            return other
        raise GraphError(f"cannot trace an operation with {type(other).__name__}")

    def _binary(self, other, kind: str, swap=False) -> Value:
        other = self._lift(other)
        args = (other, self) if swap else (self, other)
        data = OPERATIONS[kind].numeric(*(_data(a) for a in args))
        return Value._result(data, kind, args)

    def __add__(self, other):
        return self._binary(other, "add")

    def __radd__(self, other):
        return self._binary(other, "add", swap=True)

    def __sub__(self, other):
        return self._binary(other, "sub")

    def __rsub__(self, other):
        return self._binary(other, "sub", swap=True)

    def __mul__(self, other):
        return self._binary(other, "mul")

    def __rmul__(self, other):
        return self._binary(other, "mul", swap=True)

    def __truediv__(self, other):
        return self._binary(other, "truediv")

    def __rtruediv__(self, other):
        return self._binary(other, "truediv", swap=True)

    def __pow__(self, other):
        return self._binary(other, "pow")

    def __rpow__(self, other):
        return self._binary(other, "pow", swap=True)

    def __neg__(self):
        return Value._result(-self.data, "neg", (self,))

    def __pos__(self):
        return self

    def _unary(self, kind: str) -> Value:
        with np.errstate(all="ignore"):
            data = OPERATIONS[kind].numeric(self.data)
        return Value._result(data, kind, (self,))

    # --- the graph and the gradient ---

    @property
    def graph(self):
        """The :class:`~symgraph.core.graph.Graph` recorded up to this value (its output)."""
        return trace_graph(self)

    def backward(self, wrt: list[Value] | None = None):
        """Backpropagate from this value: a Gradient over the traced leaves.

        Each leaf's ``.grad`` is set to its numeric partial at the traced point.
        """
        traced = _trace(self, wrt)
        with collector_paused():
            grad = backward(traced.graph)
            f = compile_gradient(grad)  # the numbers by the compiled gradient's conventions
        point = {leaf.symbol.name: leaf.data for leaf in traced.leaves}
        _, partials = f.checked(**{s.name: point[s.name] for s in f.args})  # one compiled call
        by_symbol = {leaf.symbol: leaf for leaf in traced.leaves}
        for w, partial in zip(grad.wrt, partials, strict=True):
            by_symbol[w].grad = float(partial) if np.ndim(partial) == 0 else partial
        return grad

    def __repr__(self) -> str:
        label = f"{self.symbol}=" if self.symbol is not None else ""
        return f"Value({label}{self.data})"


for _name in UNARY:
    setattr(Value, _name, lambda self, _name=_name: self._unary(_name))


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


class Trace(NamedTuple):
    """A recorded computation as a Graph, with what the numeric pass reads.

    ``leaves``: the leaf Values (traced, then weights outside the trace);
    ``order``: every Value, operands first; ``depends``: for each operation
    (by ``id``), the nodes its graph node is computed from.
    """

    graph: object
    leaves: list
    order: list
    output: Value
    depends: dict
    node_of: dict


def trace_graph(output: Value, wrt: list[Value] | None = None):
    """The Graph of a traced computation; every leaf is a weight unless ``wrt`` says otherwise."""
    return _trace(output, wrt).graph


def _trace(output: Value, wrt: list[Value] | None) -> Trace:
    """The Graph of the record, in one pass, operands first."""
    order = _postorder(output)
    leaves = [v for v in order if not v._parents]
    names = [v.symbol.name for v in leaves]
    if len(set(names)) != len(names):
        raise GraphError("two traced leaves have the same name; give each its own name")
    weights = [v.symbol for v in (leaves if wrt is None else wrt)]
    builder = GraphBuilder("op", Namer(names), weights, exprs_are_full=False)
    node_of: dict[int, sp.Basic] = {}
    depends: dict[int, set] = {}
    with collector_paused():
        _add_all(builder, order, output, node_of, depends)
    traced = {id(v) for v in leaves}
    leaves += [v for v in wrt or [] if id(v) not in traced]
    graph = build_graph_from(builder, node_of[id(output)], weights)
    return Trace(graph, leaves, order, output, depends, node_of)


def _add_all(builder: GraphBuilder, order: list, output: Value, node_of: dict, depends: dict):
    """Every recorded operation into the builder, operands first."""
    for v in order:
        if not v._parents:
            node_of[id(v)] = builder.leaf(v.symbol)
            continue
        operands = [node_of[id(a)] if isinstance(a, Value) else _sympify(a) for a in v._args]
        op = operation_on(v._kind, operands)
        name = builder.namer.named("L") if v is output and "L" not in builder.namer.taken else None
        node = name or builder.namer.fresh()
        # every Python operation its own node, as the code ran it: never merged
        # into an equal one (a - b is recorded as a + (-b), as SymPy writes it)
        node_of[id(v)], depends[id(v)] = _add_operation(builder, op, node)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block, and back on as it was.

    Building a graph allocates many SymPy objects a node and frees few; the
    collector's full sweeps walk the whole growing heap again and again (about
    a third of the time at 8,000 operations).  Nothing is lost: whatever is
    cyclic garbage is collected at the next sweep after the block.

    >>> with collector_paused():
    ...     gc.isenabled()
    False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Kinds whose result on a node symbol SymPy returns exactly as given, so they are
# built without evaluation (their derivatives come from one template per function:
# nothing evaluates the call again).
_AS_GIVEN: dict[str, Callable] = {
    "tanh": lambda a: applied(sp.tanh, (a,)),
    "sin": lambda a: applied(sp.sin, (a,)),
    "cos": lambda a: applied(sp.cos, (a,)),
    "exp": lambda a: applied(sp.exp, (a,)),
    "log": lambda a: applied(sp.log, (a,)),
    "abs": lambda a: applied(sp.Abs, (a,)),
    "sqrt": lambda a: sp.Pow(a, sp.S.Half, evaluate=False),
    "neg": lambda a: sp.Mul(sp.S.NegativeOne, a, evaluate=False),
    "relu": lambda a: max_of_zero(a),
}
_FUNC = {"add": sp.Add, "mul": sp.Mul, "pow": sp.Pow}


def operation_on(kind: str, operands: list) -> sp.Basic:
    """``OPERATIONS[kind].symbolic(*operands)``, built directly where nothing evaluates.

    A function of a symbol, a sum or product of two different symbols (in
    SymPy's order: by name) or of a symbol and a number other than 0 and 1
    (number first), and a power of a symbol and such a number are exactly what
    SymPy's constructors return; their evaluation (assumption questions,
    argument-count sets, comparisons) is skipped.

    >>> x, y = sp.symbols("x y", real=True)
    >>> operation_on("mul", [y, x]), operation_on("add", [sp.Integer(2), x])
    (x*y, x + 2)
    >>> operation_on("sub", [x, x])                    # folds: built by SymPy
    0
    >>> operation_on("truediv", [x, sp.Float(4.0)]) == x / 4.0
    True
    """
    if len(operands) == 1:
        if kind in _AS_GIVEN and isinstance(operands[0], sp.Symbol):
            return _AS_GIVEN[kind](operands[0])
        return OPERATIONS[kind].symbolic(*operands)
    a, b = operands
    if kind == "truediv" and isinstance(a, sp.Symbol) and plain_number(b):
        return sp.Mul._from_args((sp.S.One / b, a), True)  # v/2.0 is SymPy's 0.5*v
    if kind not in _FUNC:
        return OPERATIONS[kind].symbolic(a, b)
    func = _FUNC[kind]
    if isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol):
        if kind != "pow" and a != b:  # real symbols commute: no constructor checks needed
            return func._from_args(sorted((a, b), key=_name), True)
    elif kind == "pow":
        if plain_number(a) or plain_number(b):
            return func(a, b, evaluate=False)
    elif plain_number(a) or plain_number(b):
        number, symbol = (a, b) if a.is_Number else (b, a)
        return func._from_args((number, symbol), True)
    return OPERATIONS[kind].symbolic(a, b)


def max_of_zero(e: sp.Basic) -> sp.Basic:
    """``Max(0, e)`` as SymPy builds it when nothing folds (``e`` a real symbol, or deep).

    SymPy orders a ``Max``'s arguments by counting their nodes, recursively:
    on a deep ``e`` that overflows the recursion limit.  A number comes first
    whatever ``e`` is, so the order is known.

    >>> x = sp.Symbol("x", real=True)
    >>> max_of_zero(x) == sp.Max(0, x), max_of_zero(x).args
    (True, (0, x))
    """
    result = sp.Expr.__new__(sp.Max, sp.S.Zero, e)
    result._argset = frozenset((sp.S.Zero, e))  # what Max's own constructor records
    return result


def folded_max_of_zero(e: sp.Basic) -> sp.Basic:
    """``Max(0, e)`` as SymPy evaluates it, where ``e`` is not itself a ``Max`` or ``Min``.

    SymPy folds it to ``e`` or 0 where the sign of ``e`` is known, and
    otherwise looks for common zeros of the arguments (``factor_terms`` of
    their difference: about 8 ms on a sum of a few dozen terms, for a result
    that two arguments cannot change).

    >>> x = sp.Symbol("x", real=True)
    >>> folded_max_of_zero(x**2), folded_max_of_zero(-sp.exp(x)), folded_max_of_zero(x - 1)
    (x**2, 0, Max(0, x - 1))
    """
    if isinstance(e, (sp.Max, sp.Min)) or not e.is_real:
        return sp.Max(sp.S.Zero, e)
    if e.is_nonnegative:
        return e
    if e.is_nonpositive:
        return sp.S.Zero
    return max_of_zero(e)


def _is_relu(op: sp.Basic) -> bool:
    return isinstance(op, sp.Max) and len(op.args) == 2 and op.args[0] == 0


def _name(symbol: sp.Symbol) -> str:
    return symbol.name


def _add_operation(builder: GraphBuilder, op: sp.Basic, node: sp.Basic) -> tuple:
    """The node ``node = op``, and the nodes ``op`` is computed from.

    One operation on nodes and numbers (the usual case) goes straight to
    :meth:`GraphBuilder.operation`, as :meth:`GraphBuilder.add` would send it
    after walking it; nested ones (``a - b`` is ``a + (-b)``), a folded
    constant or a copy take the walk.
    """
    args = op.args
    # a number equal to some node's expression is that node, for the walk: it takes those
    direct = has_rule(op) and all(
        a in builder.full or not (a.args or a in builder.node_of) for a in args
    )
    operands = list(dict.fromkeys(a for a in args if a in builder.full))
    if direct and operands:
        full = None  # shallow: the builder evaluates it, as it would
        if max(builder.depth[s] for s in operands) >= EVALUATED_DEPTH:
            # deep: the one unevaluated rebuild substitute would make, without its walk
            full = _unevaluated(op, [builder.full.get(a, a) for a in args])
        elif _is_relu(op):  # evaluated as SymPy would, without its search for common zeros
            full = folded_max_of_zero(builder.full.get(args[1], args[1]))
        return builder.operation(op, operands, node, full), set(operands)
    return builder.add(op, node), op.free_symbols


def _unevaluated(op: sp.Basic, args: list) -> sp.Basic:
    """``op``'s operation on ``args``, unevaluated (``Max(0, E)`` without SymPy's sort)."""
    if isinstance(op, sp.Max) and len(args) == 2 and args[0] == 0:
        return max_of_zero(args[1])
    if op.func is sp.Add or op.func is sp.Mul:  # of traced real numbers: commutative, not asked
        return op.func._from_args(args, True)
    return unevaluated(op.func, args)
