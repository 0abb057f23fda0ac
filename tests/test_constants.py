"""Helpers handed text never evaluate it: the safe parser reads it, or it is refused."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symgraph import layers, nn
from symgraph.errors import GraphError
from symgraph.parse.constants import as_constant


def _payload(path) -> str:
    return f"__import__('os').system('touch {path}')"


# The seven helpers that once handed a str to sympy.sympify (which runs it).
TEXT_TAKERS = {
    "layers.input_matrix": lambda text: layers.input_matrix(text, 2),
    "layers.target_matrix": lambda text: layers.target_matrix(2, text),
    "layers.weights": lambda text: layers.weights(1, text, 2),
    "layers.biases": lambda text: layers.biases(1, text),
    "layers.mlp widths": lambda text: layers.mlp(layers.input_matrix(3, 2), [text, 1], "tanh"),
    "layers.l2_penalty": lambda text: layers.l2_penalty([layers.weights(1, 2, 2)], lam=text),
    "nn.l2_penalty": lambda text: nn.l2_penalty(list(sp.symbols("w1 w2")), lam=text),
    "nn.mlp widths": lambda text: nn.mlp(nn.input_symbols(2), [text, 1], "tanh"),
    "nn.input_symbols": lambda text: nn.input_symbols(text),
}


class TestTextIsNeverRun:
    @pytest.mark.parametrize("helper", TEXT_TAKERS)
    def test_code_is_refused(self, tmp_path, helper):
        sentinel = tmp_path / "ran"
        with pytest.raises(GraphError) as refused:
            TEXT_TAKERS[helper](_payload(sentinel))
        assert not sentinel.exists()
        assert len(str(refused.value).splitlines()) == 1

    @pytest.mark.parametrize("helper", ["layers.l2_penalty", "nn.l2_penalty"])
    def test_a_number_as_text_is_read_safely(self, helper):
        make = TEXT_TAKERS[helper]
        assert sp.simplify(make("1/10") - make(sp.Rational(1, 10))) == 0

    def test_a_size_as_text_must_still_be_a_positive_integer(self):
        with pytest.raises(GraphError, match="positive integer"):
            layers.input_matrix("n", 2)  # the parser's n is a real symbol, not a size
        assert layers.input_matrix(np.int64(3), 2).shape == (3, 2)


class TestAsConstant:
    def test_numbers_are_exact(self):
        assert as_constant(3, "n") == sp.Integer(3)
        assert as_constant(np.float64(0.25), "lam") == sp.Float(0.25)
        assert as_constant(sp.Symbol("k"), "lam") == sp.Symbol("k")

    @pytest.mark.parametrize("value", [True, np.bool_(False), None, [1], {"a": 1}, b"1", 1j])
    def test_other_types_are_refused(self, value):
        with pytest.raises(GraphError, match="must be a number or a SymPy expression"):
            as_constant(value, "lam")

    def test_a_long_refusal_does_not_echo_the_input(self):
        with pytest.raises(GraphError) as refused:
            as_constant("_" * 5000, "lam")
        assert len(str(refused.value)) < 400


class TestUnitCounts:
    @pytest.mark.parametrize("width", [0, -1, 2.5, 10**9, "abc", None, True])
    def test_a_width_is_a_whole_number_in_range(self, width):
        with pytest.raises(GraphError, match="a layer's width"):
            nn.mlp(nn.input_symbols(2), [width, 1], "tanh")

    def test_a_width_as_text_is_read(self):
        out, params = nn.mlp(nn.input_symbols(2), ["3", 1], "tanh")
        assert len(params) == 3 * 2 + 3 + 1 * 3 + 1
