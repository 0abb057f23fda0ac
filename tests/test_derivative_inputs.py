"""hessian / hvp / jacobian on what careless users give them (issue 9).

A 1×1 matrix loss is a scalar (``xᵀ A x``), as for ``sg.gradient``; directions
are numbers or SymPy values, text never converted; every refusal is one
SymgraphError line.  Oracles: ``sympy.hessian`` of the explicit entries, and
NumPy for the compiled values.
"""

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import GraphError, NotFoundError, SymgraphError

n = sp.Symbol("n", integer=True, positive=True)
c, s, u = sp.symbols("c s u", real=True)
X3, A3, V3 = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("A", 3, 3), sp.MatrixSymbol("V", 3, 1)
XS = sp.symbols("x0:3", real=True)
AS = sp.Matrix(3, 3, sp.symbols("a0:9", real=True))


def explicit(e):
    """``x`` and ``A`` replaced by matrices of plain symbols and evaluated: the oracle's terms."""
    mapping = {X3: sp.ImmutableMatrix(XS), A3: sp.ImmutableMatrix(AS)}
    value = e.xreplace(mapping).doit()
    if getattr(value, "is_Matrix", False) and value.shape == (1, 1) and not e.is_Matrix:
        return value[0, 0]
    return sp.Matrix(value) if getattr(value, "is_Matrix", False) else value


def quadratic_oracle():
    xv = sp.Matrix(XS)
    return (xv.T * AS * xv)[0, 0]


class TestOneByOneLoss:
    def test_hessian_of_x_transpose_a_x_is_sympys(self):
        # raised TypeError: object of type 'MatMul' has no len()
        ours = explicit(sg.hessian(X3.T * A3 * X3, [X3]))
        assert sp.simplify(ours - sp.hessian(quadratic_oracle(), XS)) == sp.zeros(3, 3)

    def test_hvp_at_concrete_sizes_in_numbers(self):
        hv = sg.hvp(X3.T * A3 * X3, [X3], [V3])
        rng = np.random.default_rng(0)
        A, x, v = rng.normal(size=(3, 3)), rng.normal(size=(3, 1)), rng.normal(size=(3, 1))
        _, (ours,) = hv.lambdify()(x=x, A=A, V=v)
        np.testing.assert_allclose(np.asarray(ours, dtype=float).reshape(3, 1), (A + A.T) @ v)

    def test_hvp_at_a_symbolic_size(self):
        x, A, V = (
            sp.MatrixSymbol(name, *shape)
            for name, shape in [("x", (n, 1)), ("A", (n, n)), ("V", (n, 1))]
        )
        hv = sg.hvp(x.T * A * x, [x], [V])[x]
        ours = explicit(hv.subs(n, 3).as_explicit())
        vs = sp.Matrix(sp.symbols("v0:3", real=True))
        ours = ours.xreplace({sp.MatrixSymbol("V", 3, 1)[i, 0]: vs[i] for i in range(3)})
        assert sp.simplify(ours - sp.hessian(quadratic_oracle(), XS) * vs) == sp.zeros(3, 1)

    def test_hessian_of_an_entrywise_function_of_a_one_by_one(self):
        # the entries' shares are explicit matrices: they become operations of the second graph
        loss = sp.exp((X3.T * X3)[0, 0])
        ours = explicit(sg.hessian(loss, [X3]))
        oracle = sp.hessian(sp.exp(sum(v**2 for v in XS)), XS)
        assert sp.simplify(ours - oracle) == sp.zeros(3, 3)

    def test_a_scalar_weight_of_a_one_by_one_loss(self):
        loss = (c * X3).T * A3 * (c * X3)
        H = sg.hessian(loss, [c])
        oracle = sp.diff(c**2 * quadratic_oracle(), c, 2)
        rng = np.random.default_rng(1)
        point = dict(zip(XS, rng.normal(size=3), strict=True))
        point.update(dict(zip(AS, rng.normal(size=9), strict=True)))
        point[c] = 0.7
        assert float(explicit(H[0, 0]).subs(point)) == pytest.approx(
            float(oracle.subs(point)), rel=1e-12
        )
        hv = sg.hvp(loss, [c], [u])[c]
        assert float(explicit(hv).subs({**point, u: 2.0})) == pytest.approx(
            2.0 * float(oracle.subs(point)), rel=1e-12
        )

    def test_a_one_by_three_is_still_refused(self):
        with pytest.raises(GraphError, match="one scalar expression, not 1x3"):
            sg.hessian(X3.T * A3, [X3])


class TestDirections:
    w = sp.Symbol("w", real=True)

    def test_text_is_refused_and_never_run(self, tmp_path):
        sentinel = tmp_path / "ran"
        code = f"__import__('os').system('touch {sentinel}')"
        with pytest.raises(GraphError, match="is text") as info:
            sg.hvp(self.w**3, [self.w], [code])
        assert not sentinel.exists()
        assert "\n" not in str(info.value) and len(str(info.value)) < 200

    @pytest.mark.parametrize(
        "direction",
        [float("nan"), float("inf"), np.float64("-inf"), sp.oo, sp.nan, sp.zoo * u],
        ids=repr,
    )
    def test_non_finite_is_refused(self, direction):
        with pytest.raises(GraphError, match="finite"):
            sg.hvp(self.w**3, [self.w], [direction])

    @pytest.mark.parametrize(
        "direction",
        [None, True, np.bool_(True), sp.true, u > 1, complex(1, 2), [1.0], b"1"],
        ids=repr,
    )
    def test_non_numbers_are_refused(self, direction):
        with pytest.raises(GraphError, match="direction for w") as info:
            sg.hvp(self.w**3, [self.w], [direction])
        assert "\n" not in str(info.value)

    @pytest.mark.parametrize("vector", [3, "u", u, None])
    def test_a_vector_that_is_not_a_list_is_refused(self, vector):
        with pytest.raises(GraphError, match="vector must be a list"):
            sg.hvp(self.w**3, [self.w], vector)

    @pytest.mark.parametrize(
        "number", [2, 2.0, np.float64(2.0), np.int64(2), sp.Integer(2), sp.Rational(2)], ids=repr
    )
    def test_numbers_of_every_kind(self, number):
        hv = sg.hvp(self.w**3, [self.w], [number])[self.w]
        assert sp.simplify(hv - 2 * sp.diff(self.w**3, self.w, 2)) == 0

    def test_a_huge_integer_is_exact(self):
        hv = sg.hvp(self.w**3, [self.w], [10**400])[self.w]
        assert sp.expand(hv - 10**400 * 6 * self.w) == 0

    def test_matrix_directions_as_arrays_and_mutable_matrices(self):
        rng = np.random.default_rng(2)
        A, x = rng.normal(size=(3, 3)), rng.normal(size=(3, 1))
        v = np.array([1.0, -2.0, 0.5])
        for direction in (v, v.reshape(3, 1), sp.Matrix(v)):
            hv = sg.hvp(X3.T * A3 * X3, [X3], [direction])
            _, (ours,) = hv.lambdify()(x=x, A=A)
            expected = (A + A.T) @ v.reshape(3, 1)
            np.testing.assert_allclose(np.asarray(ours, dtype=float).reshape(3, 1), expected)

    def test_shapes_must_match(self):
        with pytest.raises(GraphError, match="must be a scalar, as w is"):
            sg.hvp(self.w**3, [self.w], [sp.MatrixSymbol("V", 2, 1)])
        with pytest.raises(GraphError, match="shape 3×1, not 2×1") as info:
            sg.hvp(X3.T * A3 * X3, [X3], [sp.Matrix([1, 2])])
        assert "\n" not in str(info.value)
        with pytest.raises(GraphError, match="shape 3×1, not a scalar"):
            sg.hvp(X3.T * A3 * X3, [X3], [u])


class TestRefusedInOneLine:
    @pytest.mark.parametrize(
        "call",
        [
            lambda: sg.gradient(c > 1, wrt=[c]),
            lambda: sg.gradient(sp.Eq(c, 1), wrt=[c]),
            lambda: sg.hessian(c > 1, [c]),
            lambda: sg.jacobian([c, c > 1], [c]),
            lambda: sg.jacobian([X3.T * X3, c > 1], [X3]),
        ],
    )
    def test_conditions_have_no_derivative(self, call):
        # they were differentiated as 0
        with pytest.raises(GraphError, match="is a condition"):
            call()

    @pytest.mark.parametrize(
        "call",
        [
            lambda: sg.Graph.from_assignments(None),
            lambda: sg.Graph.from_assignments([(c,)]),
            lambda: sg.Graph.from_assignments([(s, c > 1)]),
            lambda: sg.Graph.from_expr(c**2, output=3),
            lambda: sg.Graph.from_expr(c**2, output="__import__('os')"),
            lambda: sg.jacobian(c, 5),
            lambda: sg.hessian(c**2, 5),
        ],
    )
    def test_malformed_calls(self, call):
        with pytest.raises(SymgraphError) as info:
            call()
        assert "\n" not in str(info.value) and len(str(info.value)) < 200

    def test_a_missing_weight_is_a_key_error_and_a_symgraph_error(self):
        grad = sg.gradient(c**2, wrt=[c])
        with pytest.raises(NotFoundError, match="not a weight of this gradient") as info:
            grad[5]
        assert isinstance(info.value, KeyError)
        assert str(info.value) == (
            "5 is not a weight of this gradient (a weight is a Symbol or a name); "
            "ask for one of [c]"
        )
        assert 5 not in grad and grad.get("z") is None and "c" in grad
