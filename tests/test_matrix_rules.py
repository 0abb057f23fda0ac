"""Every matrix VJP rule against central differences, at random shapes and values."""

import numpy as np
import pytest
import sympy as sp
from oracles import inner, matrix_value
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgraph.errors import NoRuleError
from symgraph.rules.matfuncs import RowLogSumExp, RowSoftmax
from symgraph.rules.matrix import matrix_vjp

RNG = np.random.default_rng(0)


def random_matrix(shape, positive_definite=False):
    m = RNG.uniform(-1, 1, shape)
    if positive_definite:
        m = m @ m.T + shape[0] * np.eye(shape[0])
    return sp.Matrix(m)


def check_rule(op, symbols, index, shapes, definite=()):
    values = {s: random_matrix(shapes[s], s in definite) for s in symbols}
    target = op.args[index]
    direction = random_matrix(target.shape)
    out_shape = op.shape if getattr(op, "is_Matrix", False) else None
    adjoint_value = random_matrix(out_shape) if out_shape else sp.Float(RNG.uniform(0.5, 1.5))
    adjoint = sp.MatrixSymbol("D", *out_shape) if out_shape else sp.Symbol("g")
    analytic = matrix_value(matrix_vjp(op, index, adjoint), {**values, adjoint: adjoint_value})
    h = 1e-6

    def probe(step):
        shifted = {**values, target: values[target] + step * direction}
        return inner(
            np.array(adjoint_value.evalf() if out_shape else adjoint_value, dtype=float),
            matrix_value(op, shifted),
        )

    finite = (probe(h) - probe(-h)) / (2 * h)
    assert inner(analytic, np.array(direction, dtype=float)) == pytest.approx(finite, rel=1e-6)


n, d, h = 3, 2, 4
A, B, C = sp.MatrixSymbol("A", n, d), sp.MatrixSymbol("B", d, h), sp.MatrixSymbol("C", n, d)
X, Y = sp.MatrixSymbol("X", n, n), sp.MatrixSymbol("Y", n, n)
x, s = sp.MatrixSymbol("x", d, 1), sp.MatrixSymbol("s", n, 1)
SHAPES = {A: (n, d), B: (d, h), C: (n, d), X: (n, n), Y: (n, n), x: (d, 1), s: (n, 1)}

CASES = [
    ("A*B wrt A", A * B, [A, B], 0, ()),
    ("A*B wrt B", A * B, [A, B], 1, ()),
    ("X*A*B middle", X * A * B, [X, A, B], 1, ()),
    ("3*A*x", 3 * A * x, [A, x], 1, ()),
    ("A + C", A + C, [A, C], 1, ()),
    ("A.T", A.T, [A], 0, ()),
    ("A ∘ C", sp.HadamardProduct(A, C), [A, C], 0, ()),
    # an elementwise function's operand is its second argument (the first is the function)
    ("tanh elementwise", ElementwiseApplyFunction(sp.tanh, C), [C], 1, ()),
    ("exp elementwise", ElementwiseApplyFunction(sp.exp, X), [X], 1, ()),
    ("trace", sp.Trace(X * Y), [X, Y], 0, ()),
    ("determinant", sp.Determinant(X), [X], 0, (X,)),
    ("inverse", sp.Inverse(X), [X], 0, (X,)),
    ("matrix power X**3", sp.MatPow(X, 3), [X], 0, ()),
    ("entrywise power C∘3", sp.HadamardPower(C, 3), [C], 0, ()),
    ("entry A[1, 0]", A[1, 0], [A], 0, ()),
    ("row-wise logsumexp", RowLogSumExp(A), [A], 0, ()),
    ("row-wise softmax", RowSoftmax(A), [A], 0, ()),
]


@pytest.mark.parametrize("name, op, symbols, index, definite", CASES, ids=[c[0] for c in CASES])
def test_rule_matches_central_differences(name, op, symbols, index, definite):
    if isinstance(op, sp.Trace):  # Trace's argument is X*Y: its rule sends δ·I to that product
        inner_op = op.arg
        rule = matrix_vjp(op, 0, sp.Symbol("g"))
        assert rule == sp.Symbol("g") * sp.Identity(n)
        op = inner_op  # and the product's own rule is checked as a MatMul
        check_rule(op, symbols, index, SHAPES, definite)
        return
    check_rule(op, symbols, index, SHAPES, definite)


def test_weight_gradient_reads_delta_x_transposed():
    W, xv = sp.MatrixSymbol("W", 3, 2), sp.MatrixSymbol("x", 2, 1)
    delta = sp.MatrixSymbol("delta", 3, 1)
    assert matrix_vjp(W * xv, 0, delta) == delta * xv.T
    assert matrix_vjp(W * xv, 1, delta) == W.T * delta


def test_unknown_operation_has_no_rule():
    with pytest.raises(NoRuleError, match="KroneckerProduct"):
        matrix_vjp(sp.KroneckerProduct(X, Y), 0, sp.MatrixSymbol("D", n * n, n * n))
