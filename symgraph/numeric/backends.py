"""The JAX and PyTorch backends: the NumPy program's own lines, on that library's arrays.

``grad.lambdify(backend="jax")`` and ``backend="torch"`` print the same
straight-line program as the NumPy backend (:func:`~symgraph.numeric.lines.compiled_lines`,
the stable forms, :func:`~symgraph.numeric.codegen.make_function` with its
source check), then run that checked source with its ``numpy`` and ``scipy``
names bound to the library: ``jax.numpy`` and ``jax.scipy`` for JAX, the
shims of :mod:`symgraph.numeric.torch_namespace` for torch.  A function the
library lacks is refused when the gradient is compiled, naming it.

The results follow the NumPy backend: ``(value, (∂/∂w1, ...))`` in ``wrt``
order; for a scalar graph every result has the broadcast shape of the inputs
(constant partials too); for a matrix graph the value is one number (a 0-d
array) and each partial has its weight's shape.  ``reduce="sum"`` /
``"mean"`` sums or averages the value and each partial of a scalar graph over
every axis of the batch with the library's own ``sum``/``mean``.

JAX: building the backend turns on ``jax_enable_x64`` (float64, as NumPy); the
function is pure (no NumPy conversion of a value, no Python branch on one),
so ``jax.jit(f)``, ``jax.vmap(f)`` and ``jax.grad`` of it work.  torch: tensors
in and out; Python numbers and NumPy arrays are converted (``float64``).
The library is imported only when its backend is built.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> f = sg.gradient(w**2 * x, wrt=[w]).lambdify(backend="torch")
>>> value, (dw,) = f(x=3.0, w=2.0)
>>> value, dw
(tensor(12., dtype=torch.float64), tensor(12., dtype=torch.float64))
"""

from __future__ import annotations

import functools
import re
import types
from typing import Any

import numpy as np

from ..core.gradient import Gradient
from ..errors import EvaluationError, GraphError
from .codegen import make_function
from .forward import call_values
from .lines import argument_order, compiled_lines
from .printers import NumPyLines, TorchLines
from .stable import stable_lines
from .values import broadcast_shape, check_shapes, declared_shapes

__all__ = ["BackendGradient", "compile_backend"]

_CHAIN = re.compile(r"\b(?:numpy|scipy)(?:\.\w+)+")


class BackendGradient:
    """``f(*args)`` or ``f(**values)`` -> ``(value, (∂/∂w1, ...))`` on JAX or torch arrays.

    Attributes
    ----------
    args : tuple of Symbol
        Positional order: inputs sorted by name, then the weights in order.
    wrt : tuple of Symbol
    source : str
        The generated Python code, as it runs (its ``numpy`` is the library's).
    backend : str
        ``"jax"`` or ``"torch"``.
    """

    def __init__(self, fn, source, args, wrt, library, shapes=None, reduce=None):
        self._fn = fn
        self.source = source
        self.args = tuple(args)
        self.wrt = tuple(wrt)
        self.backend = library.name
        self._library = library
        self._shapes = shapes
        self._reduce = reduce
        index = {s: k for k, s in enumerate(self.args)}
        self._weights = [index[w] for w in self.wrt]

    def __call__(self, *args: Any, **values: Any):
        """The value and each partial; by position, by name, or both (each argument once)."""
        ordered = call_values(self.args, args, values)
        lib = self._library
        if self._shapes is not None:
            return self._matrix_call(ordered)
        shape = broadcast_shape(self.args, ordered)
        results = [lib.result(r, shape) for r in self._run([lib.array(v) for v in ordered])]
        if self._reduce is not None:
            results = [lib.reduced(r, self._reduce) for r in results]
        return results[0], tuple(results[1:])

    def _matrix_call(self, ordered: list):
        """Shapes checked on NumPy stand-ins of no memory (values are never converted)."""
        lib = self._library
        stand_ins = [np.broadcast_to(np.float64(0.0), np.shape(v)) for v in ordered]
        fitted = check_shapes(self.args, stand_ins, self._shapes)
        arrays = []
        for value, like in zip(ordered, fitted, strict=True):
            array = lib.array(value)
            arrays.append(array if tuple(array.shape) == like.shape else array.reshape(like.shape))
        value, *partials = self._run(arrays)
        shapes = [tuple(arrays[k].shape) for k in self._weights]
        partials = [lib.result(p, s) for p, s in zip(partials, shapes, strict=True)]
        return lib.result(value, ()), tuple(partials)

    def _run(self, arrays: list):
        try:
            return self._fn(*arrays)
        except self._library.errors as err:
            raise EvaluationError(
                f"{err} at the given point: choose values where every inverted matrix is invertible"
            ) from err

    def __repr__(self) -> str:
        args = ", ".join(map(str, self.args))
        return f"<BackendGradient {self.backend} ({args}) -> value, {len(self.wrt)} partials>"


class _Jax:
    """JAX: ``jax.numpy`` and ``jax.scipy`` for the generated code; float64 turned on."""

    name = "jax"
    errors = ()  # a singular matrix gives inf/nan, as NumPy's lines do elsewhere
    printer = NumPyLines  # jax.jit fuses entrywise work itself

    def __init__(self):
        try:
            import jax
        except ImportError as err:
            raise GraphError("backend 'jax' needs JAX: pip install 'symgraph[jax]'") from err
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import jax.scipy.special

        self.np = jnp
        reducing = {k: _Reducing(getattr(jnp, k)) for k in ("logical_and", "logical_or")}
        self.namespace = {
            "numpy": _Overlay(jnp, reducing),
            "scipy": types.SimpleNamespace(special=jax.scipy.special, constants=_constants()),
        }

    def array(self, value):
        array = self.np.asarray(value)
        return array if self.np.issubdtype(array.dtype, self.np.floating) else array.astype(float)

    def result(self, value, shape: tuple):
        value = self.array(value)
        if value.shape == shape:
            return value
        if shape == () and value.size == 1:  # a 1×1 loss is one number
            return value.reshape(shape)
        return self.np.broadcast_to(value, shape)

    def reduced(self, value, how: str):
        return self.np.sum(value) if how == "sum" else self.np.mean(value)


class _Torch:
    """torch: the shims of :mod:`symgraph.numeric.torch_namespace`; tensors in and out."""

    name = "torch"
    printer = TorchLines  # torch runs each operation as it comes: the fused kernels save passes

    def __init__(self):
        try:
            import torch
        except ImportError as err:
            raise GraphError(
                "backend 'torch' needs PyTorch: pip install 'symgraph[torch]'"
            ) from err
        from .torch_namespace import namespaces

        self.torch = torch
        self.errors = (torch.linalg.LinAlgError,)
        numpy, scipy, kernels = namespaces()
        self.namespace = {"numpy": numpy, "scipy": scipy, "kernels": kernels}

    def array(self, value):
        torch = self.torch
        if isinstance(value, torch.Tensor):
            return value if value.is_floating_point() else value.to(torch.float64)
        value = np.asarray(value)
        if value.dtype.kind != "f":
            value = value.astype(np.float64)
        return torch.as_tensor(value) if value.flags.writeable else torch.tensor(value)

    def result(self, value, shape: tuple):
        value = self.array(value)
        if tuple(value.shape) == shape:
            return value
        if shape == () and value.numel() == 1:
            return value.reshape(shape)
        return self.torch.broadcast_to(value, shape).contiguous()

    def reduced(self, value, how: str):
        return value.sum() if how == "sum" else value.mean()


_LIBRARIES = {"jax": _Jax, "torch": _Torch}


class _Overlay:
    """A module with a few of its names replaced (``numpy.logical_and.reduce`` of a tuple)."""

    def __init__(self, module, replaced: dict):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str):
        return getattr(self._module, name)


class _Reducing:
    """A binary function with NumPy's ``.reduce`` over a tuple of arrays."""

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, a, b):
        return self._fn(a, b)

    def reduce(self, items):
        return functools.reduce(self._fn, items)


def _constants():
    import scipy.constants  # printed only where SciPy's printer is used, so SciPy is there

    return scipy.constants


def compile_backend(grad: Gradient, backend: str, reduce: str | None = None) -> BackendGradient:
    """Compile ``grad`` for ``backend`` (``"jax"`` or ``"torch"``); see :class:`BackendGradient`.

    Raises
    ------
    GraphError
        The library is not installed (one line naming the extra to install);
        the generated code calls a function the library lacks; ``reduce`` on a
        matrix graph, whose value is already one number.
    """
    library = _LIBRARIES[backend]()
    args = argument_order(grad)
    shapes = declared_shapes(args) if grad.graph.has_matrices else None
    if shapes is not None and reduce is not None:
        raise GraphError(
            f"reduce={reduce!r} sums or averages over a batch, but this matrix graph's value "
            "is already one number (its loss over the whole batch); call lambdify without reduce"
        )
    assignments, outputs = compiled_lines(grad)
    lines = stable_lines(assignments)
    fn = make_function(
        lines,
        args,
        outputs,
        name="value_and_grad",
        namespace=library.namespace,
        lines=library.printer,
    )
    check_names(fn.source, library.namespace, backend)
    return BackendGradient(fn.fn, fn.source, args, grad.wrt, library, shapes, reduce)


def check_names(source: str, namespace: dict, backend: str) -> None:
    """Every ``numpy.…`` and ``scipy.…`` that ``source`` names must be in ``namespace``.

    Examples
    --------
    >>> import numpy, types
    >>> check_names("t1 = numpy.sin(a0)", {"numpy": numpy}, "numpy")
    >>> check_names("t1 = numpy.sin(a0)", {"numpy": types.SimpleNamespace()}, "mine")
    Traceback (most recent call last):
    ...
    symgraph.errors.GraphError: backend 'mine' has no numpy.sin, which the generated code calls; \
compile this gradient with backend='numpy'
    """
    missing = sorted({c for c in _CHAIN.findall(source) if not _resolves(c, namespace)})
    if missing:
        raise GraphError(
            f"backend {backend!r} has no {', '.join(missing)}, which the generated code calls; "
            "compile this gradient with backend='numpy'"
        )


def _resolves(chain: str, namespace: dict) -> bool:
    root, *parts = chain.split(".")
    target = namespace.get(root)
    for part in parts:
        target = getattr(target, part, None)
        if target is None:
            return False
    return target is not None
