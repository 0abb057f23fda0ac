"""A compiled gradient called with Dask arrays: the whole function once per chunk.

The inputs are brought to one chunking (``dask.array.core.unify_chunks``, with
NumPy's broadcasting: an axis of size 1 or a missing one is given whole to each
chunk), and one task per chunk runs the compiled function on that chunk's NumPy
blocks.  That task returns the value and every partial stacked along a new
first axis, so the results are slices of one Dask array of the broadcast shape:
computing all of them runs the chunk's task once.  Nothing is computed here;
``dask.compute(value, *partials)`` (on a ``dask.distributed`` cluster too) does.

A reduced function (``reduce="sum"`` or ``"mean"``) gives Dask scalars instead:
each chunk's task returns its sums (a mean times its number of points, and that
number), and a tree reduction adds them up (the mean divides by the total count).

A matrix graph is refused: its loss is one number over whole matrices and does
not split by chunks.  Dask is optional; it is imported here, when needed.

Examples
--------
>>> import numpy as np
>>> import dask.array as da
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> f = sg.gradient(w**2 * x, wrt=[w]).lambdify()
>>> value, (dw,) = f(x=da.arange(8.0, chunks=4), w=3.0)
>>> value.chunks, dw.compute().tolist()
(((4, 4),), [0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 36.0, 42.0])
"""

from __future__ import annotations

import copy
import functools
import string

import numpy as np

from ..errors import EvaluationError, GraphError
from .compile import is_dask

__all__ = ["dask_call"]


def dask_call(compiled, ordered: list) -> tuple:
    """``compiled(*ordered)`` as Dask arrays, one task per chunk; see the module docstring.

    Parameters
    ----------
    compiled : CompiledGradient
        Its ``args`` name the values; its ``reduce`` (if any) says how to combine chunks.
    ordered : list
        One value per argument, in order: Dask arrays, NumPy arrays, numbers.

    Raises
    ------
    GraphError
        For a matrix graph.
    EvaluationError
        When the shapes do not broadcast.
    """
    import dask.array as da

    if any(getattr(s, "is_Matrix", False) for s in compiled.args):
        raise GraphError(
            "Dask arrays go through a scalar graph chunk by chunk, but this is a matrix graph: "
            "its loss does not split by chunks; compute the arrays first (numpy.asarray)"
        )
    arrays = {k: v for k, v in enumerate(ordered) if np.ndim(v) > 0}
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{compiled.args[k]} {np.shape(v)}" for k, v in arrays.items())
        raise EvaluationError(f"the arguments' shapes do not broadcast: {shapes}") from None
    ndim = len(shape)
    axes = string.ascii_letters[:ndim]
    index = {k: axes[ndim - np.ndim(v) :] for k, v in arrays.items()}  # broadcast from the right
    lazy = [x for k, v in arrays.items() if is_dask(v) for x in (v, index[k])]
    chunks, _ = da.core.unify_chunks(*lazy)
    pairs = []
    for k, v in arrays.items():  # a NumPy array: cut to the same chunks, no rechunking after
        if not is_dask(v):
            v = da.from_array(
                v, chunks=[_along(chunks, a, n) for a, n in zip(index[k], v.shape, strict=True)]
            )
        pairs += [v, index[k]]
    chunks, unified = da.core.unify_chunks(*pairs)
    plain = {k: v for k, v in enumerate(ordered) if k not in arrays}
    reduce = getattr(compiled, "reduce", None)
    dtype = np.result_type(*(v.dtype for v in unified), np.float16)
    if dtype.kind != "f":
        dtype = np.dtype(float)
    count = 1 + len(compiled.wrt)
    block = functools.partial(
        _block, _portable(compiled), sorted(arrays), plain, ndim, reduce, dtype
    )
    inputs = [x for array, index in zip(unified, pairs[1::2], strict=True) for x in (array, index)]
    if reduce is None:
        stacked = da.blockwise(
            *(block, "z" + axes, *inputs),
            new_axes={"z": count},
            dtype=dtype,
            meta=np.empty((0,) * (ndim + 1), dtype),
        )
        return stacked[0], tuple(stacked[1 + j] for j in range(len(compiled.wrt)))
    sums = da.blockwise(  # one row (value, partials..., points) per chunk
        *(block, axes + "z", *inputs),
        new_axes={"z": count + 1},
        adjust_chunks=dict.fromkeys(axes, 1),
        dtype=float,
        meta=np.empty((0,) * (ndim + 1)),
    )
    total = sums.sum(axis=tuple(range(ndim)))
    if reduce == "mean":
        total = total[:count] / total[count]
    return total[0], tuple(total[1 + j] for j in range(len(compiled.wrt)))


def _along(chunks: dict, axis: str, size: int) -> tuple | int:
    """The chunks of the Dask inputs along ``axis``, for a NumPy array of that size there."""
    have = chunks.get(axis)
    return have if have is not None and sum(have) == size else size


def _portable(compiled):
    """A copy that pickles to a cluster's workers: without the symbolic lines of the scalar path.

    (Those are needed at the first call on plain numbers only; a chunk is an array.)
    """
    slim = copy.copy(compiled)
    vars(slim).pop("_scalar", None)
    slim._make_scalar = None
    if hasattr(slim, "_dispatch"):  # its own entry, not the original's (which holds the lines)
        slim._call = slim._dispatch
    return slim


def _block(compiled, positions, plain, ndim, reduce, dtype, *blocks) -> np.ndarray:
    """One chunk: the compiled function on NumPy blocks, its results stacked on a new axis."""
    values = dict(plain)
    values.update(zip(positions, blocks, strict=True))
    ordered = [values[k] for k in range(len(values))]
    here = np.broadcast_shapes(*(np.shape(b) for b in blocks))
    here = (1,) * (ndim - len(here)) + here
    value, partials = compiled(*ordered)
    if reduce is None:
        return np.stack([np.broadcast_to(r, here) for r in (value, *partials)]).astype(dtype)
    points = float(np.prod(here))
    weight = points if reduce == "mean" else 1.0
    sums = [float(value) * weight, *(float(p) * weight for p in partials), points]
    return np.array(sums).reshape((1,) * ndim + (len(sums),))
