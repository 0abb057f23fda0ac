"""The JAX and torch backends against each library's own automatic differentiation.

The matrix network of ``bench/matrix_network.py`` (tanh hidden layer, linear
output, mean squared error over a batch X of n rows; d = 32, h = 64,
n = 10,000), compiled once with symbolic sizes, value and gradient of the
loss by the four weights:

- jax: ``jax.jit(grad.lambdify(backend="jax"))`` against
  ``jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))`` of the loss
  written by hand in ``jax.numpy``;
- torch: ``grad.lambdify(backend="torch")`` against the same loss written by
  hand in torch, differentiated by ``torch.autograd.grad``; again on one
  thread (``torch/1``, ``torch.set_num_threads(1)``).

Both sides get the library's arrays (float64) and are checked to agree with
hand-written NumPy backpropagation before timing; best of ``repeats`` calls
of each, alternating, each waited for (``block_until_ready``).  ratio = symgraph / hand-written
(target <= 1.2).

Run: ``python bench/backends.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg
sys.path.insert(0, str(Path(__file__).resolve().parent))
from matrix_network import network, numpy_value_and_grad  # noqa: E402

SIZE = (32, 64, 10_000)  # d, h, n


def gradient():
    n, d, h = sp.symbols("n d h", integer=True, positive=True)
    steps, weights = network(d, h, n)
    return sg.Graph.from_assignments(steps, wrt=weights, granularity="named").backward()


def data(d: int, h: int, n: int) -> dict:
    rng = np.random.default_rng(0)
    return dict(
        X=rng.standard_normal((n, d)),
        Y=rng.standard_normal((n, 1)),
        W1=rng.standard_normal((h, d)) / np.sqrt(d),
        b1=rng.standard_normal((h, 1)),
        w2=rng.standard_normal((h, 1)) / np.sqrt(h),
        b2=float(rng.standard_normal()),
    )


def jax_pair(grad, values: dict):
    """(symgraph, hand-written) zero-argument calls on JAX arrays, compiled and warmed up."""
    import jax
    import jax.numpy as jnp

    f = grad.lambdify(backend="jax")  # turns on float64
    args = [jnp.asarray(values[s.name]) for s in f.args]
    ours = jax.jit(f)
    X, Y, W1, b1, w2, b2 = (jnp.asarray(values[k]) for k in ("X", "Y", "W1", "b1", "w2", "b2"))

    def loss(W1, b1, w2, b2, X, Y):
        R = jnp.tanh(X @ W1.T + b1.T) @ w2 + b2 - Y
        return jnp.sum(R * R) / X.shape[0]

    theirs = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))

    def run_ours():
        return jax.block_until_ready(ours(*args))

    def run_theirs():
        return jax.block_until_ready(theirs(W1, b1, w2, b2, X, Y))

    return run_ours, run_theirs


def torch_pair(grad, values: dict):
    """(symgraph, hand-written autograd) zero-argument calls on float64 tensors."""
    import torch

    f = grad.lambdify(backend="torch")
    args = [torch.as_tensor(np.asarray(values[s.name], dtype=float)) for s in f.args]
    X, Y, W1, b1, w2, b2 = (
        torch.as_tensor(np.asarray(values[k], dtype=float))
        for k in ("X", "Y", "W1", "b1", "w2", "b2")
    )
    weights = [t.clone().requires_grad_() for t in (W1, b1, w2, b2)]

    def run_ours():
        return f(*args)

    def run_theirs():
        W1, b1, w2, b2 = weights
        R = torch.tanh(X @ W1.T + b1.T) @ w2 + b2 - Y
        L = (R * R).sum() / X.shape[0]
        return L.detach(), torch.autograd.grad(L, weights)

    return run_ours, run_theirs


def agrees(result, reference) -> bool:
    (v1, g1), (v2, g2) = result, reference
    pairs = [(v1, v2), *zip(g1, g2, strict=True)]
    return all(np.allclose(np.asarray(a).reshape(np.shape(b)), b) for a, b in pairs)


def best_interleaved(ours, theirs, repeats: int) -> tuple[float, float]:
    """The best time of each, calls alternating: a burst of load hits both sides alike."""
    times = [
        (timeit.timeit(ours, number=1), timeit.timeit(theirs, number=1)) for _ in range(repeats)
    ]
    return min(t for t, _ in times), min(t for _, t in times)


def run(repeats: int) -> None:
    d, h, n = SIZE
    grad = gradient()
    values = data(d, h, n)
    reference = numpy_value_and_grad(**values)
    print(
        f"Value and gradient of the matrix network, d={d} h={h} n={n:,}, float64, best of "
        f"{repeats};\nratio = symgraph backend / the library's own autodiff (<= 1.2 targeted)"
    )
    print(f"   {'backend':<8} {'agree':>6} {'symgraph':>10} {'by hand':>10} {'ratio':>6}")
    for name, pair in (("jax", jax_pair), ("torch", torch_pair), ("torch/1", torch_pair)):
        try:
            if name == "torch/1":  # one thread: less at the mercy of other jobs on the machine
                import torch

                torch.set_num_threads(1)
            ours, theirs = pair(grad, values)
        except ImportError as err:
            print(f"   {name:<8} skipped: {err}")
            continue
        ok = agrees(ours(), reference) and agrees(theirs(), reference)
        for _ in range(3):  # warm up (jit compilation, torch's thread pool)
            ours(), theirs()
        t_ours, t_theirs = best_interleaved(ours, theirs, repeats)
        print(
            f"   {name:<8} {'ok' if ok else 'NO':>6} {t_ours * 1e3:>8.2f}ms"
            f" {t_theirs * 1e3:>8.2f}ms {t_ours / t_theirs:>6.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    run(repeats=5 if options.quick else 30)
