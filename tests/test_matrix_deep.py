"""Deep matrix chains: every stage works without recursion in the depth.

``A_k = tanh(W_k A_{k-1})``, loss ``SumEntries(A_D)``, from named steps.
Oracle: backpropagation written out in NumPy (an independent reference), and
``sg.check`` (central differences) where the chain is short enough to be quick.
"""

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.core.substitute import EVALUATED_DEPTH, plain_class, sized, unevaluated
from symgraph.rules.matfuncs import SumEntries

POINTS = 4


def matrix_chain(depth: int):
    X = sp.MatrixSymbol("X", 3, POINTS)
    Ws = [sp.MatrixSymbol(f"W{k}", 3, 3) for k in range(1, depth + 1)]
    steps, a = [], X
    for k, W in enumerate(Ws, start=1):
        nxt = sp.MatrixSymbol(f"A{k}", 3, POINTS)
        steps.append((nxt, (W * a).applyfunc(sp.tanh)))
        a = nxt
    steps.append((sp.Symbol("L", real=True), SumEntries(a)))
    return steps, Ws


def reference(ws: list[np.ndarray], x: np.ndarray):
    """Loss and ∂L/∂W_k by backpropagation in NumPy."""
    activations = [x]
    for w in ws:
        activations.append(np.tanh(w @ activations[-1]))
    upstream, grads = np.ones_like(activations[-1]), []
    for w, a_in, a_out in zip(
        reversed(ws), reversed(activations[:-1]), reversed(activations[1:]), strict=True
    ):
        dz = upstream * (1 - a_out**2)
        grads.append(dz @ a_in.T)
        upstream = w.T @ dz
    return activations[-1].sum(), grads[::-1]


def point(depth: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    # orthogonal weights a little over 1: the signal neither vanishes nor explodes
    ws = [1.3 * np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(depth)]
    return ws, rng.uniform(-1.0, 1.0, (3, POINTS))


def assert_agrees(grad, Ws, depth: int) -> None:
    ws, x = point(depth)
    f = grad.lambdify()
    values = {"X": x, **{W.name: w for W, w in zip(Ws, ws, strict=True)}}
    value, partials = f(**values)
    loss, expected = reference(ws, x)
    assert np.isclose(float(np.asarray(value).sum()), loss, rtol=1e-10)
    scale = max(np.abs(g).max() for g in expected)
    for got, want in zip(partials, expected, strict=True):
        np.testing.assert_allclose(
            np.asarray(got, dtype=float), want, rtol=1e-8, atol=1e-10 * scale
        )


class TestSizedTwins:
    def test_a_twin_stores_its_shape_and_equals_its_plain_form(self):
        W, X = sp.MatrixSymbol("W", 3, 3), sp.MatrixSymbol("X", 3, 5)
        twin = unevaluated(sp.MatMul, [W, X])
        assert type(twin) is sized(sp.MatMul) and plain_class(type(twin)) is sp.MatMul
        assert twin == W * X and W * X == twin and hash(twin) == hash(W * X)
        assert twin.shape == (3, 5) and sp.latex(twin) == sp.latex(W * X)

    def test_a_nested_twin_answers_shape_and_hash_at_any_depth(self):
        W, a = sp.MatrixSymbol("W", 3, 3), sp.MatrixSymbol("X", 3, 5)
        apply = type((W * a).applyfunc(sp.tanh))
        for _ in range(5000):
            a = unevaluated(apply, [sp.tanh, unevaluated(sp.MatMul, [W, a])])
        assert a.shape == (3, 5)
        assert isinstance(hash(a), int)


class TestDeepMatrixChain:
    @pytest.mark.parametrize("depth", [3, EVALUATED_DEPTH + 10])
    def test_short_chains_agree_with_numpy_and_central_differences(self, depth):
        steps, Ws = matrix_chain(depth)
        grad = sg.Graph.from_assignments(steps, wrt=Ws).backward()
        assert grad[Ws[0]].shape == (3, 3)
        assert_agrees(grad, Ws, depth)
        assert sg.check(grad).ok

    def test_a_chain_of_1000_layers_runs_every_stage(self):
        depth = 1000
        steps, Ws = matrix_chain(depth)
        graph = sg.Graph.from_assignments(steps, wrt=Ws)
        grad = graph.backward()
        assert grad[Ws[0]].shape == (3, 3)  # the closed form, nested 1,000 layers deep
        assert_agrees(grad, Ws, depth)
        loaded = sg.from_json(sg.to_json(graph))
        assert loaded.size["nodes"] == graph.size["nodes"]
        assert grad.latex(form="structured").count(r"\\") > 2 * depth
