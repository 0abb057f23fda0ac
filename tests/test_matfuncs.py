"""Entry sum, Frobenius norm, log-sum-exp and softmax: rules, printing, gradients.

Each VJP rule is checked against central differences at random shapes and
values, and against SymPy's own ``diff`` of the expanded scalar expression;
the printed NumPy code against NumPy; ``sg.gradient`` through these
functions against differences and against symgraph's scalar core.
"""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from oracles import inner, matrix_value
from sympy.matrices.expressions.matexpr import MatrixElement
from sympy.printing.numpy import NumPyPrinter

import symgraph as sg
from symgraph.errors import GraphError
from symgraph.present.latex import latex_of as matrix_latex
from symgraph.rules.matfuncs import FrobeniusNorm, LogSumExp, Softmax, SumEntries, expand_explicit
from symgraph.rules.matrix import has_vjp, matrix_vjp

n = sp.Symbol("n", integer=True, positive=True)


def check_rule(op, values, rng):
    """⟨vjp(op, 0, D), E⟩ equals the central difference of ⟨D, op⟩ along E."""
    target = op.args[0]
    direction = sp.Matrix(rng.uniform(-1, 1, target.shape))
    if getattr(op, "is_Matrix", False):
        adjoint, adjoint_value = (
            sp.MatrixSymbol("D", *op.shape),
            sp.Matrix(rng.uniform(-1, 1, op.shape)),
        )
    else:
        adjoint, adjoint_value = sp.Symbol("g"), sp.Float(rng.uniform(0.5, 1.5))
    analytic = matrix_value(matrix_vjp(op, 0, adjoint), {**values, adjoint: adjoint_value})
    assert analytic.shape == target.shape

    def probe(step):
        shifted = {**values, target: values[target] + step * direction}
        return inner(np.array(adjoint_value, dtype=float), matrix_value(op, shifted))

    h = 1e-6
    finite = (probe(h) - probe(-h)) / (2 * h)
    assert inner(analytic, direction) == pytest.approx(finite, rel=1e-6, abs=1e-9)


MAKERS = {
    "SumEntries": lambda shape: SumEntries(sp.MatrixSymbol("A", *shape)),
    "FrobeniusNorm": lambda shape: FrobeniusNorm(sp.MatrixSymbol("A", *shape)),
    "LogSumExp column": lambda shape: LogSumExp(sp.MatrixSymbol("v", shape[0], 1)),
    "LogSumExp row": lambda shape: LogSumExp(sp.MatrixSymbol("v", 1, shape[1])),
    "Softmax column": lambda shape: Softmax(sp.MatrixSymbol("v", shape[0], 1)),
    "Softmax row": lambda shape: Softmax(sp.MatrixSymbol("v", 1, shape[1])),
}


@pytest.mark.parametrize("name", list(MAKERS))
@settings(max_examples=8, deadline=None)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_rule_matches_central_differences(name, rows, cols, seed):
    rng = np.random.default_rng(seed)
    op = MAKERS[name]((rows, cols))
    symbol = op.args[0]
    check_rule(op, {symbol: sp.Matrix(rng.uniform(-2, 2, symbol.shape))}, rng)


def weighted(op, adjoint):
    """⟨adjoint, op⟩ as a scalar expression (so its gradient is the op's VJP)."""
    if getattr(op, "is_Matrix", False):
        return SumEntries(sp.HadamardProduct(adjoint, op))
    return adjoint * op


@pytest.mark.parametrize("name", list(MAKERS))
def test_rule_matches_sympy_diff_of_the_expanded_expression(name):
    rng = np.random.default_rng(7)
    op = MAKERS[name]((3, 2))
    symbol = op.args[0]
    if getattr(op, "is_Matrix", False):
        adjoint = sp.MatrixSymbol("D", *op.shape)
        adjoint_value = {adjoint: sp.Matrix(rng.uniform(-1, 1, op.shape))}
    else:
        adjoint, adjoint_value = sp.Symbol("g"), {}
    scalar = expand_explicit(weighted(op, adjoint))
    by_diff = sp.Matrix(*symbol.shape, lambda i, j: scalar.diff(symbol[i, j]))
    rule = expand_explicit(matrix_vjp(op, 0, adjoint))
    point = {symbol[i, j]: rng.uniform(-2, 2) for i, j in np.ndindex(*symbol.shape)}
    point |= {sp.Symbol("g"): 1.3}
    point |= {adjoint[i, j]: v for (i, j), v in np.ndenumerate(adjoint_value.get(adjoint, []))}
    difference = (rule - by_diff).xreplace(point).evalf()
    assert np.allclose(np.array(difference, dtype=float), 0, atol=1e-12)


def test_rules_are_found_along_the_mro():
    X = sp.MatrixSymbol("X", 2, 2)
    v = sp.MatrixSymbol("v", 2, 1)
    for op in (SumEntries(X), FrobeniusNorm(X), LogSumExp(v), Softmax(v), sp.Trace(X), X * X.T):
        assert has_vjp(op)
    assert not has_vjp(sp.sin(sp.Symbol("x")))
    assert not has_vjp(X)


def test_rules_read_like_a_paper():
    v, delta = sp.MatrixSymbol("v", 3, 1), sp.MatrixSymbol("delta", 3, 1)
    X, g = sp.MatrixSymbol("X", 2, 3), sp.Symbol("g")
    s = Softmax(v)
    assert matrix_vjp(SumEntries(X), 0, g) == g * sp.OneMatrix(2, 3)
    assert matrix_vjp(FrobeniusNorm(X), 0, g) == g / FrobeniusNorm(X) * X
    assert matrix_vjp(LogSumExp(v), 0, g) == g * s
    assert matrix_vjp(s, 0, delta) == sp.HadamardProduct(s, delta) - s * (s.T * delta)


# ---------------------------------------------------------------- shapes and refusals


def test_symbolic_dimensions():
    X, w = sp.MatrixSymbol("X", n, 3), sp.MatrixSymbol("w", n, 1)
    assert Softmax(w).shape == (n, 1)
    assert Softmax(w.T).shape == (1, n)
    assert LogSumExp(w).doit() == LogSumExp(w)  # stays unevaluated on a symbol
    assert SumEntries(X).doit() == SumEntries(X)
    assert Softmax(w)[0, 0].has(sp.Sum)  # exp(w_0) / Σ_k exp(w_k)
    assert matrix_vjp(SumEntries(X), 0, sp.S.One).shape == (n, 3)


@pytest.mark.parametrize("cls", [Softmax, LogSumExp])
def test_non_vectors_are_refused_naming_the_shape(cls):
    with pytest.raises(GraphError, match="3×3"):
        cls(sp.MatrixSymbol("X", 3, 3))
    with pytest.raises(GraphError, match="n×2"):
        cls(sp.MatrixSymbol("X", n, 2))


@pytest.mark.parametrize("cls", [SumEntries, FrobeniusNorm, Softmax, LogSumExp])
def test_scalars_are_refused(cls):
    with pytest.raises(GraphError, match="matrix"):
        cls(sp.Symbol("x"))


# ---------------------------------------------------------------- explicit expansion


def test_expand_explicit_gives_scalar_expressions_in_the_entries():
    A, v = sp.MatrixSymbol("A", 2, 2), sp.MatrixSymbol("v", 2, 1)
    entries = [A[i, j] for i, j in np.ndindex(2, 2)]
    assert expand_explicit(SumEntries(A)) == sp.Add(*entries)
    assert expand_explicit(FrobeniusNorm(A)) == sp.sqrt(sp.Add(*(e**2 for e in entries)))
    total = sp.exp(v[0, 0]) + sp.exp(v[1, 0])
    assert expand_explicit(LogSumExp(v)) == sp.log(total)
    assert expand_explicit(Softmax(A * v)).shape == (2, 1)
    assert expand_explicit(Softmax(v)) == sp.ImmutableMatrix([sp.exp(v[0, 0]) / total,
                                                              sp.exp(v[1, 0]) / total])  # fmt: skip
    assert expand_explicit(sp.Trace(A) + SumEntries(A.T)).free_symbols == {A}


def test_expand_explicit_leaves_symbolic_shapes():
    w = sp.MatrixSymbol("w", n, 1)
    assert expand_explicit(LogSumExp(w)) == LogSumExp(w)


# ---------------------------------------------------------------- NumPy code


def run_numpy(expr, **arrays):
    """Print with fully qualified names, then run our own generated code."""
    code = NumPyPrinter({"fully_qualified_modules": True}).doprint(expr)
    return eval(code, {"numpy": np, **arrays})  # noqa: S307 - code we generated


def np_softmax(v):
    e = np.exp(v)
    return e / e.sum()


@pytest.mark.parametrize("shape", [(3, 1), (1, 4)])
def test_numpy_code_agrees_with_numpy(shape):
    rng = np.random.default_rng(3)
    X, v = sp.MatrixSymbol("X", 3, 2), sp.MatrixSymbol("v", *shape)
    A, b = rng.uniform(-2, 2, (3, 2)), rng.uniform(-2, 2, shape)
    assert run_numpy(SumEntries(X), X=A) == pytest.approx(np.sum(A))
    assert run_numpy(FrobeniusNorm(X), X=A) == pytest.approx(np.sqrt(np.sum(A**2)))
    assert run_numpy(LogSumExp(v), v=b) == pytest.approx(np.log(np.sum(np.exp(b))))
    np.testing.assert_allclose(run_numpy(Softmax(v), v=b), np_softmax(b), rtol=1e-12)
    assert run_numpy(Softmax(v), v=b).shape == shape


def test_numpy_code_of_a_composite_operand():
    rng = np.random.default_rng(4)
    W, x = sp.MatrixSymbol("W", 3, 2), sp.MatrixSymbol("x", 2, 1)
    Wv, xv = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (2, 1))
    z = Wv @ xv
    assert run_numpy(LogSumExp(W * x), W=Wv, x=xv) == pytest.approx(np.log(np.exp(z).sum()))
    np.testing.assert_allclose(run_numpy(Softmax(W * x), W=Wv, x=xv), np_softmax(z))
    fn = sp.lambdify([W, x], FrobeniusNorm(W * x), modules="numpy")  # imports, not qualified
    assert fn(Wv, xv) == pytest.approx(np.linalg.norm(z))


@pytest.mark.parametrize("level", [1000.0, -1000.0])
def test_logsumexp_and_softmax_are_stable_at_large_inputs(level):
    v = sp.MatrixSymbol("v", 3, 1)
    b = np.array([[level], [level], [level - 1.0]])
    expected = level + np.log(2 + np.exp(-1.0))
    assert run_numpy(LogSumExp(v), v=b) == pytest.approx(expected, rel=1e-14)
    probabilities = run_numpy(Softmax(v), v=b)  # warnings are errors: no overflow
    np.testing.assert_allclose(probabilities, np_softmax(b - level), rtol=1e-14)
    assert np.isfinite(probabilities).all() and probabilities.sum() == pytest.approx(1.0)


# ---------------------------------------------------------------- LaTeX


def test_latex_strings():
    A, B = sp.MatrixSymbol("A", 2, 3), sp.MatrixSymbol("B", 2, 3)
    v, W = sp.MatrixSymbol("v", 3, 1), sp.MatrixSymbol("W", 3, 3)
    assert sp.latex(SumEntries(A)) == r"\mathbf{1}^{\top} A \mathbf{1}"
    assert sp.latex(SumEntries(A + B)) == r"\mathbf{1}^{\top} \left(A + B\right) \mathbf{1}"
    assert sp.latex(SumEntries(W * v)) == r"\mathbf{1}^{\top} W v"
    assert matrix_latex(SumEntries(v.T)) == r"v^{\top} \mathbf{1}"
    assert sp.latex(FrobeniusNorm(A + B)) == r"\lVert A + B \rVert_{F}"
    assert sp.latex(LogSumExp(W * v)) == r"\operatorname{logsumexp}\left(W v\right)"
    assert sp.latex(Softmax(v)) == r"\operatorname{softmax}\left(v\right)"
    assert matrix_latex(Softmax(v) * v.T) == r"\operatorname{softmax}\left(v\right) v^{\top}"


# ---------------------------------------------------------------- gradients


def numbers(symbols, rng):
    return {s: sp.Matrix(rng.uniform(-1, 1, s.shape)) for s in symbols}


def central_differences(loss, weight, values):
    h, grad = 1e-6, np.zeros(weight.shape)
    for i, j in np.ndindex(*weight.shape):
        step = sp.zeros(*weight.shape)
        step[i, j] = h
        up = matrix_value(loss, {**values, weight: values[weight] + step})
        down = matrix_value(loss, {**values, weight: values[weight] - step})
        grad[i, j] = (up - down) / (2 * h)
    return grad


def scalar_core(loss, weight, values):
    """∂loss/∂weight by symgraph's scalar core on the expanded loss."""
    expanded = expand_explicit(loss)
    entries = sorted(expanded.atoms(MatrixElement), key=str)
    names = {e: sp.Symbol(f"e{k}", real=True) for k, e in enumerate(entries)}
    point = {str(names[e]): float(values[e.parent][e.i, e.j]) for e in entries}
    wrt = [names[weight[i, j]] for i, j in np.ndindex(*weight.shape)]
    _, partials = sg.gradient(expanded.xreplace(names), wrt=wrt).lambdify()(**point)
    return np.array([float(p) for p in partials]).reshape(weight.shape)


W, x, y = sp.MatrixSymbol("W", 3, 2), sp.MatrixSymbol("x", 2, 1), sp.MatrixSymbol("y", 3, 1)
GRADIENTS = {  # loss, its gradient in W as a paper writes it
    "logsumexp(W x)": (LogSumExp(W * x), Softmax(W * x) * x.T),
    "‖W x − y‖_F": (FrobeniusNorm(W * x - y), (W * x - y) * x.T / FrobeniusNorm(W * x - y)),
    "1ᵀ (W ⊙ W) 1": (SumEntries(sp.HadamardProduct(W, W)), 2 * W),
    "yᵀ softmax(W x)": (
        SumEntries(sp.HadamardProduct(y, Softmax(W * x))),
        (sp.HadamardProduct(Softmax(W * x), y) - Softmax(W * x) * Softmax(W * x).T * y) * x.T,
    ),
}


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_matrix_gradient_through_the_new_functions(name):
    loss, expected = GRADIENTS[name]
    values = numbers([W, x, y], np.random.default_rng(5))
    grad = sg.gradient(loss, wrt=[W])[W]
    assert grad.shape == W.shape
    ours = matrix_value(grad, values)
    np.testing.assert_allclose(ours, matrix_value(expected, values), rtol=1e-10)
    np.testing.assert_allclose(ours, central_differences(loss, W, values), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours, scalar_core(loss, W, values), rtol=1e-9, atol=1e-12)
