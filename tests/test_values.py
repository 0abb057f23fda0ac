"""Numeric inputs: one NumPy path for floats and arrays, one-line refusals of what is not real."""

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.numeric.compile import values_at
from symgraph.numeric.values import real_value

x, w = sp.symbols("x w", real=True)


class TestOneNumericPath:
    """A Python float takes NumPy's path: the same value as a one-element array."""

    @pytest.mark.parametrize(
        "expr, at",
        [
            (sp.log(x), 0.0),
            (1 / x, 0.0),
            (x**x, 0.0),
            (sp.Piecewise((sp.log(x), x > 0), (0, True)), 0.0),
            (x ** sp.Rational(1, 3), -8.0),
            (sp.sqrt(x), -1.0),
        ],
    )
    def test_float_and_array_agree(self, expr, at):
        f = sg.gradient(w * expr, wrt=[w, x]).lambdify()
        value, partials = f(x=at, w=1.5)
        array_value, array_partials = f(x=np.array([at]), w=1.5)
        np.testing.assert_array_equal(np.atleast_1d(value), array_value)
        for p, q in zip(partials, array_partials, strict=True):
            np.testing.assert_array_equal(np.atleast_1d(p), q)
        assert all(np.isreal(p) for p in (value, *partials))

    def test_documented_guard_at_a_float_zero(self):
        guarded = sp.Piecewise((sp.log(x), x > 0), (0, True))
        value, (dx,) = sg.gradient(guarded, wrt=[x]).lambdify()(x=0.0)
        assert (value, dx) == (0.0, 0.0)

    def test_division_by_zero_is_inf_in_every_entry_point(self):
        grad = sg.gradient(w / x, wrt=[w])
        value, (dw,) = grad.lambdify()(x=0.0, w=1.0)
        assert value == np.inf and dw == np.inf
        assert grad.graph.forward(x=0.0, w=1.0)[grad.output] == np.inf
        forward, _ = values_at(grad, x=0.0, w=1.0)
        assert forward[grad.output] == np.inf

    def test_scalar_results_are_numpy_floats(self):
        value, (dw,) = sg.gradient(w**2, wrt=[w]).lambdify()(w=3)
        assert isinstance(value, np.float64) and isinstance(dw, np.float64)
        assert (value, dw) == (9.0, 6.0)


BAD = [
    ("None", None, "got None"),
    ("text", "1.5", "got text '1.5'"),
    ("complex", 1 + 2j, "complex number"),
    ("complex array", np.array([1j]), "complex array"),
    ("ragged", [[1.0, 2.0], [3.0]], "ragged list"),
    ("huge int", 10**400, "too large for a float"),
    ("huge int in a list", [10**400], "too large for a float"),
    ("text array", ["a", "b"], "array of text"),
    ("None in a list", [1.0, None], "holding None"),
    ("masked", np.ma.masked_array([1.0, 2.0], mask=[False, True]), "masked array"),
    ("symbol", sp.Symbol("q"), "symbolic expression q"),
    ("object", object(), "value of type object"),
]


def _one_line_naming_x(err):
    text = str(err.value)
    assert "\n" not in text and text.startswith("x: expected a real number"), text
    assert len(text) < 200


@pytest.fixture(scope="module")
def scalar_grad():
    return sg.gradient(sp.sin(w * x), wrt=[w])


class TestRefusedValues:
    @pytest.mark.parametrize("value, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_compiled_gradient(self, scalar_grad, value, message):
        with pytest.raises(sg.EvaluationError, match=message) as err:
            scalar_grad.lambdify()(x=value, w=1.0)
        _one_line_naming_x(err)

    @pytest.mark.parametrize("value, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_graph_forward(self, scalar_grad, value, message):
        with pytest.raises(sg.EvaluationError, match=message) as err:
            scalar_grad.graph.forward(x=value, w=1.0)
        _one_line_naming_x(err)

    @pytest.mark.parametrize("value, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_values_at(self, scalar_grad, value, message):
        with pytest.raises(sg.EvaluationError, match=message) as err:
            values_at(scalar_grad, x=value, w=1.0)
        _one_line_naming_x(err)

    @pytest.mark.parametrize("value, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
    def test_check_at(self, scalar_grad, value, message):
        with pytest.raises(sg.EvaluationError, match=message) as err:
            sg.check(scalar_grad, at={"x": value, "w": 1.0})
        _one_line_naming_x(err)

    def test_a_mask_without_masked_entries_is_honoured(self, scalar_grad):
        value, (dw,) = scalar_grad.lambdify()(x=np.ma.masked_array([1.0, 2.0]), w=0.5)
        np.testing.assert_allclose(dw, [np.cos(0.5), 2 * np.cos(1.0)], rtol=1e-15)

    def test_the_message_never_echoes_a_long_input(self):
        with pytest.raises(sg.EvaluationError) as err:
            real_value("x", "9" * 5000)
        assert len(str(err.value)) < 120

    @pytest.mark.parametrize("call", ["lambdify", "forward", "values_at"])
    def test_mismatched_shapes_name_both_arguments(self, scalar_grad, call):
        point = {"x": np.zeros(3), "w": np.zeros(2)}
        x3, w2 = r"x has shape \(3,\)", r"w has shape \(2,\)"
        shapes = f"({x3} but {w2}|{w2} but {x3})"
        with pytest.raises(sg.EvaluationError, match=shapes):
            if call == "lambdify":
                scalar_grad.lambdify()(**point)
            elif call == "forward":
                scalar_grad.graph.forward(point)
            else:
                values_at(scalar_grad, point)

    def test_values_that_are_not_a_mapping(self, scalar_grad):
        with pytest.raises(sg.EvaluationError, match="mapping"):
            scalar_grad.graph.forward([1.0, 2.0])


W_2x2, v_2x1 = sp.MatrixSymbol("W", 2, 2), sp.MatrixSymbol("v", 2, 1)


@pytest.fixture(scope="module")
def matrix_grad():
    return sg.gradient(sp.Trace(W_2x2.T * W_2x2) + sp.Trace(v_2x1.T * v_2x1), wrt=[W_2x2])


class TestMatrixValues:
    W, v = W_2x2, v_2x1

    def test_wrong_shape_in_forward_names_the_argument(self, matrix_grad):
        with pytest.raises(sg.EvaluationError, match=r"W has shape \(2, 2\)"):
            matrix_grad.graph.forward({"W": np.zeros((3, 3)), "v": np.zeros((2, 1))})

    def test_text_in_a_matrix_entry(self, matrix_grad):
        with pytest.raises(sg.EvaluationError, match="W: expected a real number"):
            matrix_grad.lambdify()(W=[["a", "b"], ["c", "d"]], v=[1.0, 2.0])

    def test_singular_matrix_is_one_line(self):
        matrix_grad = sg.gradient(sp.Trace(sp.Inverse(self.W)), wrt=[self.W])
        with pytest.raises(sg.EvaluationError, match="invertible"):
            matrix_grad.lambdify()(W=np.zeros((2, 2)))
