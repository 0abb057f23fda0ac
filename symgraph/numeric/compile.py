"""Numeric callables: the value and every partial in one vectorized call.

The code is generated from the graph, one assignment per node: first the
forward pass, then one line per δ-equation.  Each shared subexpression is
computed once, the code grows linearly with the graph, and nothing is ever
printed as one nested expression (which is what overflows ``sympy.lambdify``).
A simplified gradient is compiled from its closed forms, after sharing their
common subexpressions in a graph of their own.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> f = sg.gradient(w**2 * x, wrt=[w]).lambdify()
>>> f.args
(x, w)
>>> value, (dw,) = f(x=3.0, w=2.0)
>>> float(value), float(dw)
(12.0, 12.0)
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..core.graph import forward_assignments
from ..errors import GraphError, NoRuleError
from .chunks import WIDTH
from .codegen import make_function
from .entry import direct_entry, rebuilt_call
from .forward import call_values, checked_values, run, stable_function, values_in_order
from .lines import argument_order, compiled_lines, numeric_equations
from .source_check import keyword_parameters
from .stable import stable_lines
from .values import broadcast_shape, check_shapes, declared_shapes

__all__ = [
    "CompiledGradient",
    "argument_order",
    "check_shapes",
    "compile_gradient",
    "compiled_lines",
    "declared_shapes",
    "numeric_equations",
    "partials_at",
    "values_at",
]

BACKENDS = ("numpy", "jax", "torch")
REDUCTIONS = (None, "sum", "mean")
_PLAIN = frozenset({float, int, np.float64, np.int64})  # not bool, not float32: kept dtypes


class CompiledGradient:
    """``f(*args)`` or ``f(**values)`` -> ``(value, (∂/∂w1, ∂/∂w2, ...))``.

    Attributes
    ----------
    args : tuple of Symbol
        Positional order: inputs sorted by name, then the weights in order.
    wrt : tuple of Symbol
    source : str
        The generated Python code.
    """

    def __init__(self, fn, args, wrt, shapes=None, scalar=None):
        self._fn = fn
        self.args = tuple(args)
        self.wrt = tuple(wrt)
        self.source = fn.source
        self._shapes = shapes  # a matrix graph: each argument's declared shape
        self._make_scalar = scalar  # makes the math version, for plain float calls (or None)
        names = self._names = [s.name for s in self.args]
        self._n = len(names)
        self._pick = operator.itemgetter(*names) if len(names) > 1 else lambda v: (v[names[0]],)
        self._keywords = scalar is not None and keyword_parameters(names, WIDTH)
        self._call = self._dispatch
        if scalar is not None and self._n <= WIDTH:  # no generated line growing with the inputs
            self._call = direct_entry(self._first_fast, names, self._keywords, self._rebuilt)

    # f(...) calls the instance's own entry point: a generated function taking the
    # inputs themselves (numeric/entry.py), without this class's *args, **values.
    __call__ = property(operator.attrgetter("_call"), doc="The call; see :meth:`_dispatch`.")

    @property
    def __signature__(self) -> inspect.Signature:  # what inspect.signature(f) shows: the entry's
        return inspect.signature(self._call)

    @functools.cached_property
    def _scalar(self):
        """The ``math`` version, compiled at the first call on plain numbers (None: none).

        Later: compiling stays one code generation for callers that only pass arrays.
        """
        fast = None if self._make_scalar is None else self._make_scalar()
        if self._call is not self._dispatch:  # the entry calls it from now on
            self._call.__globals__["_fast"] = fast or _no_scalar
        return fast

    def _first_fast(self, *args: float):
        """The entry's ``math`` version until it exists: compiled at the first all-float call."""
        if not all(type(a) is float for a in args):
            return None  # arrays, ints, a missing input: the general path, nothing compiled
        fast = self._scalar
        return None if fast is None else fast(*args)

    def _rebuilt(self, params: tuple, more: tuple, extra: dict):
        """A call the direct entry refused, made again on the general path."""
        args, values = rebuilt_call(self._names, self._keywords, params, more, extra)
        if all(type(v) in _PLAIN for v in (*args, *values.values())):  # ints converted, or named
            return self._dispatch(*args, **values)
        return self.checked(*args, **values)  # arrays: nothing for the math version

    def _dispatch(self, *args: Any, **values: Any):
        """The fast path: every argument a plain number, by position or by name.

        The ``math`` version checks the types itself and returns the results
        as they are returned (``numpy.float64``); ints and NumPy scalars are
        converted first.  Anything else (arrays, text, a missing or unknown
        name, ``math`` raising where NumPy gives ``inf``/``nan``) runs :meth:`checked`,
        and an array never compiles the ``math`` version.
        """
        if not all(type(v) in _PLAIN for v in (*args, *values.values())):
            return self.checked(*args, **values)
        if values:
            if args or len(values) != self._n:
                return self.checked(*args, **values)
            if self._keywords:  # the math version takes the user's names itself
                fast = self._scalar
                try:
                    result = None if fast is None else fast(**values)
                except (ArithmeticError, ValueError, TypeError):  # NumPy's inf, nan; a bad name
                    result = None
                return self._by_name(values) if result is None else result
            try:
                args = self._pick(values)
            except KeyError:
                return self.checked(**values)
        elif len(args) != self._n:
            return self.checked(*args)
        fast = self._scalar
        if fast is None:
            return self.checked(*args)
        try:
            result = fast(*args)
            if result is None and set(map(type, args)) <= _PLAIN:  # ints, NumPy scalars
                result = fast(*map(float, args))  # OverflowError: the checked path says so
        except (ArithmeticError, ValueError, TypeError):  # where NumPy is inf, nan
            result = None
        return self.checked(*args) if result is None else result

    def _by_name(self, values: dict):
        """A keyword call the math version refused: ints and NumPy scalars converted, or checked."""
        fast, result = self._scalar, None
        if fast is not None and set(map(type, values.values())) <= _PLAIN:
            try:
                result = fast(**{k: float(v) for k, v in values.items()})
            except (ArithmeticError, ValueError, TypeError):
                result = None
        return self.checked(**values) if result is None else result

    def checked(self, *args: Any, **values: Any):
        """The call with every value checked and converted, on NumPy (arrays too).

        Dask arrays among the values: the whole function runs once per chunk
        (:mod:`symgraph.numeric.dask_call`).
        """
        ordered = self.validated(args, values)
        if any(map(is_dask, ordered)):
            from .dask_call import dask_call

            return dask_call(self, ordered)
        if self._shapes is not None:
            ordered = check_shapes(self.args, ordered, self._shapes)
            value, *partials = run(self._fn, ordered)
            value = float(np.asarray(value, dtype=float).reshape(()))  # a 1×1 loss is a number
            return value, tuple(_matrix_result(p) for p in partials)
        return self.evaluate(ordered, broadcast_shape(self.args, ordered))

    def validated(self, args: tuple, values: dict) -> list:
        """The values of a call by position and by name, checked and converted, in order."""
        return call_values(self.args, args, values)

    def evaluate(self, ordered: list, shape: tuple):
        """The call on values checked already (in ``args`` order), of broadcast shape ``shape``.

        What a caller that checked a whole batch once runs on each part of it
        (:mod:`symgraph.numeric.parallel`): no check, no conversion on the way in.
        """
        value, *partials = self.results(ordered)
        return _shaped(value, shape), tuple(_shaped(p, shape) for p in partials)

    def results(self, ordered: list) -> tuple:
        """``(value, *partials)`` as the generated code returns them (a constant as a number)."""
        return run(self._fn, ordered)

    def objective(self, **data: Any):
        """``fun(theta) -> (value, gradient)`` at fixed data, for ``scipy.optimize.minimize``.

        ``theta`` holds the weights in ``wrt`` order (matrices row by row); see
        :class:`~symgraph.numeric.objective.Objective`.
        """
        from .objective import objective

        return objective(self, data)

    def __repr__(self) -> str:
        args = ", ".join(map(str, self.args))
        return f"<CompiledGradient ({args}) -> value, {len(self.wrt)} partials>"


def _no_scalar(*args: Any) -> None:
    """The entry's ``math`` version where there is none: every call takes the general path."""
    return None


def is_dask(value: Any) -> bool:
    """Whether ``value`` is a Dask collection (told without importing Dask)."""
    return type(value).__module__.startswith("dask.")


def _shaped(value: Any, shape: tuple) -> Any:
    """Every result gets the broadcast shape of the inputs (constants included)."""
    value = np.asarray(value)
    if value.dtype.kind in "biu":  # constants and integer inputs: results are reals
        value = value.astype(float)
    if shape == ():
        return value[()] if value.shape == () else value
    return np.broadcast_to(value, shape).copy() if value.shape != shape else value


def _matrix_result(value: Any) -> Any:
    value = np.asarray(value, dtype=float)
    return float(value) if value.shape == () else value


@paused_collector
def compile_gradient(
    grad: Gradient, backend: str = "numpy", reduce: str | None = None, workers: int = 1
):
    """Compile ``grad`` into one callable; see :class:`CompiledGradient`.

    ``backend="jax"`` / ``"torch"``: the same lines on that library's arrays
    (:mod:`symgraph.numeric.backends`); ``reduce``: the value and gradient of
    the loss summed or averaged over the batch (:mod:`symgraph.numeric.reduce`);
    ``workers``: a large batch split across threads (:mod:`symgraph.numeric.parallel`).
    """
    check_options(backend, reduce, workers)
    if backend != "numpy":
        from .backends import compile_backend

        return compile_backend(grad, backend, reduce)
    if reduce is not None:
        from .reduce import compile_reduced

        compiled = compile_reduced(grad, reduce)
    else:
        compiled = _compile_numpy(grad)
    if workers > 1:
        from .parallel import threaded

        return threaded(compiled, workers)
    return compiled


def check_options(backend: str, reduce: str | None, workers: int) -> None:
    """One clear error for an unknown backend, reduction or worker count."""
    if backend not in BACKENDS:
        raise GraphError(f"unknown backend {backend!r}; available: {', '.join(BACKENDS)}")
    if reduce not in REDUCTIONS:
        raise GraphError(f"unknown reduce {reduce!r}; use None, 'sum' or 'mean'")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GraphError(f"workers must be a whole number >= 1, got {workers!r}")
    if workers > 1 and backend != "numpy":
        raise GraphError(f"workers applies to the numpy backend; {backend} runs its own threads")


def _compile_numpy(grad: Gradient) -> CompiledGradient:
    args = argument_order(grad)
    assignments, outputs = compiled_lines(grad)
    lines = stable_lines(assignments)
    fn = make_function(lines, args, outputs, name="value_and_grad")
    if grad.graph.has_matrices:
        return CompiledGradient(fn, args, grad.wrt, declared_shapes(args))
    return CompiledGradient(
        fn, args, grad.wrt, scalar=functools.partial(_scalar_function, lines, args, outputs)
    )


def _scalar_function(lines, args, outputs):
    """The ``math`` version of the lines, or None where they have no scalar form."""
    try:
        names = [s.name for s in args]
        keywords = names if keyword_parameters(names, WIDTH) else None
        return make_function(
            lines, args, outputs, name="value_and_grad", scalar=True, parameters=keywords
        ).fn
    except NoRuleError:  # a function printed by its own _numpycode only: NumPy's path
        return None


def values_at(grad: Gradient, values=None, **kw) -> tuple[dict, dict]:
    """Every node's forward value and every adjoint δ at one point (or over arrays).

    Returns
    -------
    (dict, dict)
        node -> value, and node -> δ (for the nodes backpropagation visits).

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> forward, delta = values_at(sg.gradient(w**2 * x, wrt=[w]), w=3.0, x=2.0)
    >>> float(forward[w]), float(delta[w])
    (3.0, 12.0)
    """
    args = argument_order(grad)
    leaves = set(args)
    nodes = [n for n in grad.graph.topological_order() if n not in leaves]
    lhs = [d for d, _ in grad.equations]
    assignments = forward_assignments(grad.graph) + numeric_equations(grad)
    fn = stable_function(assignments, args, [*nodes, *lhs], name="values_at")
    ordered = checked_values(args, values_in_order(args, values, kw))
    results = run(fn, ordered)
    forward = dict(zip(args, ordered, strict=True))
    forward.update(zip(nodes, results[: len(nodes)], strict=True))
    by_name = {n.name: n for n in grad.graph.nx}
    delta = {by_name[d.node_name]: v for d, v in zip(lhs, results[len(nodes) :], strict=True)}
    return {n: forward[n] for n in grad.graph.topological_order()}, delta


def partials_at(grad: Gradient, point: Mapping[str, Any]) -> tuple:
    """``grad.lambdify()``'s partials at one point (keyed by name), by its NumPy path.

    Plain numbers go in as NumPy scalars: one look at a point never compiles
    the ``math`` version, which would double the cost of a walkthrough.

    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> [float(p) for p in partials_at(sg.gradient(w**2 * x, wrt=[w]), {"w": 3.0, "x": 2.0})]
    [12.0]
    """
    values = {k: np.asarray(v) if type(v) in _PLAIN else v for k, v in point.items()}
    return grad.lambdify()(**values)[1]
