"""Matrix-form gradients against the scalar core on expanded small shapes and differences."""

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

import symgraph as sg
from symgraph.errors import GraphError

RNG = np.random.default_rng(1)


def matrix_gradient(loss, weights):
    """``∂loss/∂w`` for each weight, in the weight's shape, by sg.gradient."""
    grad = sg.gradient(loss, wrt=weights)
    return {w: grad[w] for w in weights}


def tanh_of(m):
    return ElementwiseApplyFunction(sp.tanh, m)


def mlp(d=3, h=2):
    W1, b1 = sp.MatrixSymbol("W1", h, d), sp.MatrixSymbol("b1", h, 1)
    W2, b2 = sp.MatrixSymbol("W2", 1, h), sp.MatrixSymbol("b2", 1, 1)
    x, y = sp.MatrixSymbol("x", d, 1), sp.MatrixSymbol("y", 1, 1)
    r = W2 * tanh_of(W1 * x + b1) + b2 - y
    return sp.Trace(r.T * r), [W1, b1, W2, b2], [x, y]


def explicit(symbol):
    """The matrix symbol as a matrix of real scalar symbols W1_0_1, ..."""
    rows, cols = symbol.shape
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{symbol.name}_{i}_{j}", real=True))


def numbers(symbols):
    return {s: sp.Matrix(RNG.uniform(-1, 1, s.shape)) for s in symbols}


def evaluate(expr, values):
    value = expr.xreplace(values).doit()
    if getattr(value, "is_Matrix", False):
        return np.array(sp.Matrix(value).evalf(), dtype=float)
    return float(value)


LOSSES = {
    "2-layer tanh MLP, squared error": mlp,
    "linear least squares": lambda: (
        sp.Trace((sp.MatrixSymbol("W", 2, 3) * sp.MatrixSymbol("x", 3, 1)
                  - sp.MatrixSymbol("y", 2, 1)).T
                 * (sp.MatrixSymbol("W", 2, 3) * sp.MatrixSymbol("x", 3, 1)
                    - sp.MatrixSymbol("y", 2, 1))),
        [sp.MatrixSymbol("W", 2, 3)],
        [sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)],
    ),
    "Hadamard and trace": lambda: (
        sp.Trace(sp.HadamardProduct(sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2))
                 * sp.MatrixSymbol("A", 2, 2).T) + 3 * sp.Trace(sp.MatrixSymbol("B", 2, 2)),
        [sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("B", 2, 2)],
        [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(LOSSES))
def test_matrix_gradient_equals_the_scalar_core_on_expanded_shapes(name):
    loss, weights, inputs = LOSSES[name]()
    grads = matrix_gradient(loss, weights)
    for w in weights:
        assert grads[w].shape == w.shape  # the weight's shape, never a 4-index tensor
    everything = weights + inputs
    values = numbers(everything)
    expanded = loss.xreplace({s: explicit(s) for s in everything}).doit()
    scalar_weights = [e for w in weights for e in explicit(w)]
    point = {
        str(e): float(values[s][i, j])
        for s in everything
        for (i, j), e in np.ndenumerate(np.array(explicit(s), dtype=object))
    }
    f = sg.gradient(expanded, wrt=scalar_weights).lambdify()
    value, partials = f(**point)
    assert float(value) == pytest.approx(evaluate(loss, values), rel=1e-10)
    by_name = dict(zip((str(e) for e in scalar_weights), partials, strict=True))
    for w in weights:
        ours = evaluate(grads[w], values)
        scalar = np.vectorize(lambda e: float(by_name[str(e)]))(np.array(explicit(w), dtype=object))
        np.testing.assert_allclose(ours, scalar, rtol=1e-9, atol=1e-12)


def test_where_sympy_raises_the_gradient_matches_central_differences():
    """SymPy 1.14 raises for ∂L/∂W with an elementwise function inside the loss."""
    loss, weights, inputs = mlp()
    W1 = weights[0]
    if sp.__version__.startswith("1.14"):
        with pytest.raises(Exception):  # noqa: B017 - whatever SymPy raises, it cannot
            sp.diff(loss, W1)
    grad = matrix_gradient(loss, [W1])[W1]
    values = numbers(weights + inputs)
    analytic = evaluate(grad, values)
    h = 1e-6
    for i, j in np.ndindex(*W1.shape):
        step = sp.zeros(*W1.shape)
        step[i, j] = h
        up = evaluate(loss, {**values, W1: values[W1] + step})
        down = evaluate(loss, {**values, W1: values[W1] - step})
        assert analytic[i, j] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-9)


def test_the_loss_must_be_a_scalar():
    W = sp.MatrixSymbol("W", 2, 2)
    with pytest.raises(GraphError, match="scalar"):
        matrix_gradient(W * W, [W])


A3, B3, X3 = (sp.MatrixSymbol(n, 3, 3) for n in "ABX")
v3 = sp.MatrixSymbol("v", 3, 1)
COOKBOOK = {  # (loss, weight, expected gradient) — The Matrix Cookbook, eqs. 57, 100, 103, 109
    "d log det X = X^-T": (sp.log(sp.Determinant(X3)), X3, X3.inverse().T),
    "d tr(A X B) = A^T B^T": (sp.Trace(A3 * X3 * B3), X3, A3.T * B3.T),
    "d tr(X^T A X) = (A + A^T) X": (sp.Trace(X3.T * A3 * X3), X3, (A3 + A3.T) * X3),
    "d v^T A v = (A + A^T) v": (sp.Trace(v3.T * A3 * v3), v3, (A3 + A3.T) * v3),
    "d tr(X^-1 A) = -(X^-1 A X^-1)^T": (
        sp.Trace(X3.inverse() * A3),
        X3,
        -(X3.inverse() * A3 * X3.inverse()).T,
    ),
}


@pytest.mark.parametrize("name", list(COOKBOOK))
def test_matrix_cookbook_identities(name):
    loss, weight, expected = COOKBOOK[name]
    grad = matrix_gradient(loss, [weight])[weight]
    values = numbers([A3, B3, v3])
    values[X3] = sp.Matrix(RNG.uniform(-1, 1, (3, 3)) + 3 * np.eye(3))  # well conditioned
    np.testing.assert_allclose(evaluate(grad, values), evaluate(expected, values), rtol=1e-9)


def test_sympy_gets_log_det_wrong_and_we_do_not():
    """SymPy 1.14 returns 0 for d log det X / dX."""
    loss = sp.log(sp.Determinant(X3))
    if sp.__version__.startswith("1.14"):
        theirs = sp.diff(loss, X3)
        assert theirs == 0 or getattr(theirs, "is_ZeroMatrix", False)
    ours = evaluate(matrix_gradient(loss, [X3])[X3], {X3: sp.Matrix(np.eye(3) * 2)})
    np.testing.assert_allclose(ours, np.eye(3) / 2)  # X^-T at X = 2 I


def test_matrix_powers_have_a_rule():
    W = sp.MatrixSymbol("W", 3, 3)
    rng = np.random.default_rng(3)
    at = rng.normal(size=(3, 3))
    for k in (2, 3):
        grad = sg.gradient(sp.Trace(W**k), wrt=[W])
        ours = evaluate(grad[W], {W: sp.Matrix(at)})
        np.testing.assert_allclose(ours, k * np.linalg.matrix_power(at.T, k - 1), rtol=1e-10)


def test_matrix_latex_reads_like_a_paper_and_compiles(tmp_path):
    from oracles import compile_latex

    from symgraph.present.latex import latex_document, latex_of

    loss, weights, _ = mlp()
    text = sg.gradient(loss, wrt=weights).latex()
    for notation in ("^{\\top}", "\\odot", "\\tanh\\left("):
        assert notation in text
    assert "\\operatorname{tr}" in latex_of(loss)
    assert "Lambda" not in text and "mapsto" not in text
    compile_latex(latex_document(text), tmp_path)
