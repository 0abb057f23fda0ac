"""Tests of the safe text → SymPy parser, symgraph.parse."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracles import assert_same_mathematics
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from symgraph.errors import ParseError
from symgraph.parse import (
    CONSTANTS,
    FUNCTIONS,
    parse_assignments,
    parse_expr,
    parse_matrices,
    parse_matrix_point,
    parse_point,
    parse_symbols,
)
from symgraph.rules.matfuncs import FrobeniusNorm, LogSumExp, Softmax, SumEntries

w, x, y, b, e, z1, a1 = sp.symbols("w x y b e z1 a1", real=True)


def refused(call, *args) -> str:
    """Call, expect a ParseError, and return its message, checked to be one line."""
    with pytest.raises(ParseError) as info:
        call(*args)
    message = str(info.value)
    assert message
    assert len(message.splitlines()) == 1, message
    return message


class TestParseExpr:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("tanh(w*x + b)", sp.tanh(w * x + b)),
            ("x", x),
            ("  x + 1  # a comment", x + 1),
            ("(x +\n y)", x + y),
            ("2**10", sp.Integer(1024)),
            ("0.5", sp.Rational(1, 2)),
            ("0.1*x", x / 10),
            ("1e-3", sp.Rational(1, 1000)),
            ("2.5E2", sp.Integer(250)),
            ("0.30000000000000000001", sp.Rational("0.30000000000000000001")),
            ("-x + +y", -x + y),
            ("x - y - w - b", x - y - w - b),
            ("x / y / w * b", x * b / (y * w)),
            ("-2**2", sp.Integer(-4)),
            ("2**-1", sp.Rational(1, 2)),
            ("x**y**w", x ** (y**w)),
            ("pi + E + e", sp.pi + sp.E + e),
            ("exp(x) + ln(x) + log(x, 2)", sp.exp(x) + sp.log(x) + sp.log(x, 2)),
            ("sqrt(x) + cbrt(x)", sp.sqrt(x) + sp.cbrt(x)),
            (
                "sin(x)+cos(x)+tan(x)+cot(x)+sec(x)+csc(x)",
                sp.sin(x) + sp.cos(x) + sp.tan(x) + sp.cot(x) + sp.sec(x) + sp.csc(x),
            ),
            (
                "asin(x)+acos(x)+atan(x)+acot(x)+atan2(y, x)",
                sp.asin(x) + sp.acos(x) + sp.atan(x) + sp.acot(x) + sp.atan2(y, x),
            ),
            ("sinh(x)+cosh(x)+tanh(x)+coth(x)", sp.sinh(x) + sp.cosh(x) + sp.tanh(x) + sp.coth(x)),
            ("asinh(x)+acosh(x)+atanh(x)", sp.asinh(x) + sp.acosh(x) + sp.atanh(x)),
            ("sigmoid(x)", 1 / (1 + sp.exp(-x))),
            ("softplus(x)", sp.log(1 + sp.exp(x))),
            ("relu(x)", sp.Max(0, x)),
            ("erf(x) + erfc(x)", sp.erf(x) + sp.erfc(x)),
            ("gamma(x) + loggamma(x)", sp.gamma(x) + sp.loggamma(x)),
            ("abs(x) + Abs(y) + sign(x)", sp.Abs(x) + sp.Abs(y) + sp.sign(x)),
            ("Heaviside(x) + Heaviside(y, 0.5)", sp.Heaviside(x) + sp.Heaviside(y, sp.S.Half)),
            ("max(x, y, 1) + Min(x, y)", sp.Max(x, y, 1) + sp.Min(x, y)),
            ("floor(x) + ceiling(y)", sp.floor(x) + sp.ceiling(y)),
            ("Piecewise((x, x < 0), (x**2, True))", sp.Piecewise((x, x < 0), (x**2, True))),
            (
                "Piecewise((x, 0 < x <= 1), (0, True))",
                sp.Piecewise((x, sp.And(0 < x, x <= 1)), (0, True)),
            ),
            (
                "Piecewise((x, (x > 0) & (y >= 1) | ~(w < 0)), (1, True))",
                sp.Piecewise((x, ((x > 0) & (y >= 1)) | ~(w < 0)), (1, True)),
            ),
            (
                "Piecewise((x, Eq(x, 1)), (y, x != 2), (0, True))",
                sp.Piecewise((x, sp.Eq(x, 1)), (y, sp.Ne(x, 2)), (0, True)),
            ),
            (
                "where(x > 0 and not y > 1, x, 0.1*x)",
                sp.Piecewise((x, sp.And(x > 0, sp.Not(y > 1))), (x / 10, True)),
            ),
            ("gamma * x", sp.Symbol("gamma", real=True) * x),
            ("α*β", sp.Symbol("α", real=True) * sp.Symbol("β", real=True)),
            ("1_000", sp.Integer(1000)),
            ("sqrt(2)**2000", sp.Integer(2) ** 1000),  # 1.07e301: still a float
            ("x**(10**300)", x ** (sp.Integer(10) ** 300)),
        ],
    )
    def test_accepted(self, text, expected):
        result = parse_expr(text)
        assert result == expected
        assert isinstance(result, sp.Expr)

    def test_symbols_are_real(self):
        assert all(s.is_real for s in parse_expr("w*x + b + e").free_symbols)

    def test_floats_are_exact(self):
        assert parse_expr("0.1") == sp.Rational(1, 10)
        assert not parse_expr("0.1*x + 2.5").atoms(sp.Float)

    def test_long_flat_sum(self):
        assert parse_expr("+".join(["x"] * 1000)) == 1000 * x

    def test_constants(self):
        assert dict(CONSTANTS) == {"pi": sp.pi, "E": sp.E}

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("x.__class__", "attribute access"),
            ("().__class__.__bases__", "attribute access"),
            ("x[0]", "subscript"),
            ("lambda: 1", "lambda"),
            ("[i for i in x]", "comprehension"),
            ("(i for i in x)", "generator"),
            ("[x, y]", "list"),
            ("{x: 1}", "dict"),
            ("(x, y)", "tuple"),
            ("'a'", "string"),
            ("b'a'", "bytes"),
            ("f'{x}'", "f-string"),
            ("__import__('os')", "'_'"),
            ("__builtins__", "'_'"),
            ("_x + 1", "'_'"),
            ("None", "None"),
            ("True", "condition"),
            ("x + False", "condition"),
            ("sinn(x)", "did you mean sin"),
            ("eval(x)", "unknown function"),
            ("sympify(x)", "unknown function"),
            ("x.y(1)", "plain function names"),
            ("(lambda: 1)()", "plain function names"),
            ("sin(*x)", "starred"),
            ("sin(x=1)", "keyword"),
            ("max(*[x])", "starred"),
            ("import os", "import"),
            ("x = 1", "assignment"),
            ("x; y", "2 statements"),
            ("(y := 1)", "walrus"),
            ("x < 1", "comparison outside a condition"),
            ("x if y else z", "where"),
            ("x and y", "'and'"),
            ("not x", "'not'"),
            ("~x", "'~'"),
            ("x & y", "'&'"),
            ("x ^ 2", "use **"),
            ("x // 2", "'//'"),
            ("x % 2", "'%'"),
            ("x @ y", "'@'"),
            ("x << 2", "'<<'"),
            ("1j", "complex"),
            ("2 + 3j", "complex"),
            ("...", "ellipsis"),
            ("", "empty"),
            ("   \n ", "empty"),
            ("x +", "syntax error"),
            ("x\x00", "null bytes"),
            ("atan2(x)", "takes 2 arguments, got 1"),
            ("exp(x, y)", "takes 1 argument, got 2"),
            ("Max()", "at least 1"),
            ("log(x, 2, 3)", "1 to 2"),
            ("where(x, 1, 2)", "expected a condition"),
            ("where(x > 1, 2)", "takes 3 arguments"),
            ("Piecewise(x)", "pairs"),
            ("Piecewise((x,))", "pair"),
            ("Piecewise((x, 1))", "expected a condition"),
            ("Piecewise((x, sin(x)))", "expected a condition"),
            ("Eq(x, 1)", "conditions"),
            ("Piecewise((x, x is y), (1, True))", "comparison"),
            ("Max(x, sqrt(-1))", "cannot build"),
            ("1" * 1001, "1000 digits"),
            ("1" * 5000, "1000 digits"),
            ("1e5000", "exponent"),
            ("1e99999999999", "exponent"),
            ("2**10001", "power too large"),
            ("0.5**20000", "power too large"),
            ("(2*x)**(10**999)", "too large"),
            ("sqrt(2)**(10**999)", "too large"),
            # beyond the largest float (1.8e308): refused at once, whatever computes them
            ("sqrt(2)**10000", "too large for a float"),
            ("x**(10**999)", "too large for a float"),
            ("gamma(1600)*x", "too large for a float"),
            ("2**9999*2**9999*x", "too large for a float"),
            ("x**1e400", "too large for a float"),
            ("exp(10**999)*x", "too large for a float"),
            ("-2**1100*x", "too large for a float"),
            ("Piecewise((x, x > 1e309), (0, True))", "too large for a float"),
            ("sqrt(" + "7" * 300 + ")", "root"),
            ("gamma(10**999)", "too large"),
            ("loggamma(100000)", "too large"),
            ("-" * 300 + "x", "nest"),
            ("x**" * 300 + "x", "nest"),
            ("(" * 300 + "x" + ")" * 300, "nest"),
            ("sin(" * 250 + "x" + ")" * 250, "nest"),
        ],
    )
    def test_refused(self, text, fragment):
        assert fragment in refused(parse_expr, text)

    @pytest.mark.parametrize("value", [None, 1, 1.5, b"x", ["x"], sp.Symbol("x")])
    def test_refuses_non_str(self, value):
        assert "must be a str" in refused(parse_expr, value)

    def test_message_has_column(self):
        message = refused(parse_expr, "x + y.__class__")
        assert "column 5" in message and "y.__class__" in message
        assert "line 2, column 2" in refused(parse_expr, "(x +\n y.a)")

    def test_refused_message_is_one_line_for_multiline_input(self):
        refused(parse_expr, "(x +\n 'a\\nb' +\n y)")

    @pytest.mark.parametrize(
        "text",
        [
            "9**9**9**9",
            "(" * 10_000 + "x" + ")" * 10_000,
            "x" * 1_000_000,
            "x+" * 49_000 + "x",
            "-" * 99_000 + "x",
            "sin(" * 20_000 + "x" + ")" * 20_000,
            "2**10000*" * 11 + "1",
            "sqrt(" + "7" * 1000 + ")",
            "((" * 5000 + "))" * 5000,
        ],
        ids=lambda text: f"{text[:12]}...({len(text)} chars)",
    )
    def test_refusals_are_fast(self, text):
        start = time.perf_counter()
        refused(parse_expr, text)
        assert time.perf_counter() - start < 1.0

    def test_never_evaluates(self):
        paths = sorted(Path(__file__).parents[1].joinpath("symgraph", "parse").glob("*.py"))
        assert len(paths) > 1, "symgraph/parse/ is the parser's package"
        for path in paths:
            tree = ast.parse(path.read_text())
            names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
            attributes = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
            assert not names & {"eval", "exec", "compile", "sympify", "__import__"}, path.name
            assert not attributes & {"eval", "exec", "sympify", "parse_expr", "parsing"}, path.name
            imported = {
                node.module
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module is not None
            }
            assert not any("parsing" in module for module in imported), path.name

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(max_size=80))
    def test_random_text_parses_or_is_refused(self, text):
        self._parses_or_refused(text)

    _TOKENS = [
        *"x y w _ __class__ 0 1 2.5 1e3 9 j ( ) , + - * / ** ^ < == . [ ] ' = := lambda".split(),
        *"True None sin exp atan2 Piecewise where Max sqrt gamma pi E and not & ~ if else".split(),
        *"for in #".split(),
        " ",
        "\n",
    ]

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(st.sampled_from(_TOKENS), max_size=30).map("".join))
    def test_random_tokens_parse_or_are_refused(self, text):
        self._parses_or_refused(text)

    @staticmethod
    def _parses_or_refused(text):
        try:
            result = parse_expr(text)
        except ParseError as err:
            assert len(str(err).splitlines()) == 1
        else:
            assert isinstance(result, sp.Expr)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.deferred(lambda: _expressions))
    def test_round_trip(self, expr):
        assume(not expr.has(sp.I, sp.zoo, sp.oo, -sp.oo, sp.nan))
        names = {type(f).__name__ for f in expr.atoms(sp.Function)}
        assume(names <= set(FUNCTIONS) | {"Piecewise"})
        text = str(expr)
        parsed = parse_expr(text)
        # Equal mathematics, not equal trees: SymPy's own evaluation is not idempotent
        # (3*(w + x)/(2*(w + y)) reads back with its factors arranged another way).
        assert_same_mathematics(parsed, expr)
        assert_same_mathematics(parse_expr(str(parsed)), parsed)


# gamma of a generated constant can be a factorial of a huge number: SymPy then computes it.
_UNARY = [
    function
    for (low, _high), function in FUNCTIONS.values()
    if low == 1 and function not in (sp.gamma, sp.loggamma)
]
_leaves = st.one_of(
    st.sampled_from([w, x, y, b, e, sp.pi, sp.E]),
    st.integers(-5, 5).map(sp.Integer),
    st.fractions(max_denominator=9).map(lambda f: sp.Rational(f.numerator, f.denominator)),
)


def _safe(build):
    """A strategy map that drops the combinations SymPy itself refuses to build."""

    def apply(args):
        try:
            return build(*args)
        except (TypeError, ValueError, ArithmeticError):
            return None

    return apply


def _extend(children):
    pair = st.tuples(children, children)
    combined = st.one_of(
        st.tuples(st.sampled_from(_UNARY), children).map(_safe(lambda f, a: f(a))),
        pair.map(_safe(lambda a, c: a + c)),
        pair.map(_safe(lambda a, c: a - c)),
        pair.map(_safe(lambda a, c: a * c)),
        pair.map(_safe(lambda a, c: a / c)),
        st.tuples(children, st.integers(-3, 3)).map(_safe(lambda a, n: a**n)),
        pair.map(_safe(sp.atan2)),
        pair.map(_safe(sp.Max)),
        pair.map(_safe(lambda a, c: sp.Piecewise((a, x > 0), (c, True)))),
    )
    return combined.filter(lambda value: value is not None)


_expressions = st.recursive(_leaves, _extend, max_leaves=8)


class TestParseSymbols:
    def test_typical(self):
        assert parse_symbols(["w1", "b1", "x"]) == list(sp.symbols("w1 b1 x", real=True))
        assert all(s.is_real for s in parse_symbols(("a", "gamma", "α")))

    def test_generator_and_empty(self):
        assert parse_symbols(name for name in ["x"]) == [x]
        assert parse_symbols([]) == []

    def test_matches_parse_expr(self):
        assert parse_symbols(["ﬁ"]) == list(parse_expr("ﬁ").free_symbols)

    @pytest.mark.parametrize(
        ("names", "fragment"),
        [
            ("xy", "not a single str"),
            (5, "iterable"),
            (["x", "x"], "twice"),
            (["1a"], "plain identifier"),
            (["x y"], "plain identifier"),
            (["x.y"], "plain identifier"),
            (["x+1"], "plain identifier"),
            ([""], "plain identifier"),
            (["_a"], "'_'"),
            (["__class__"], "'_'"),
            (["lambda"], "keyword"),
            (["None"], "keyword"),
            (["pi"], "constant"),
            (["E"], "constant"),
            ([1], "must be a str"),
        ],
    )
    def test_refused(self, names, fragment):
        assert fragment in refused(parse_symbols, names)


class TestParseAssignments:
    def test_typical(self):
        text = "z1 = w*x + b\n\n# a comment\n  a1 = tanh(z1)  # activation\n"
        assert parse_assignments(text) == [(z1, w * x + b), (a1, sp.tanh(z1))]

    def test_names_are_real_symbols(self):
        ((name, expr),) = parse_assignments("L = (y - 0.5)**2")
        assert name == sp.Symbol("L", real=True)
        assert expr == (y - sp.Rational(1, 2)) ** 2

    def test_windows_newlines(self):
        assert parse_assignments("z1 = x\r\na1 = z1 + 1") == [(z1, x), (a1, z1 + 1)]

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("", "empty"),
            ("# only a comment\n", "no assignments"),
            ("x + 1", "without a name"),
            ("a = 1; b = 2", "one assignment per line"),
            ("a = b = 1", "one plain name"),
            ("a, b = 1, 2", "one plain name"),
            ("a.b = 1", "one plain name"),
            ("a += 1", "augmented"),
            ("import os", "import"),
            ("z = z + 1", "itself"),
            ("a = x\nx = 2", "used before"),
            ("a = 1\na = 2", "again"),
            ("pi = 3", "constant"),
            ("_a = 1", "'_'"),
            ("a = x.y", "line 1, column 5"),
            ("a = 1\n\nb = foo(x)", "line 3"),
            ("a = \n", "syntax error"),
            ("a = (1 +\n 2)", "syntax error"),
            ("a = 9**9**9**9", "power too large"),
        ],
    )
    def test_refused(self, text, fragment):
        assert fragment in refused(parse_assignments, text)

    def test_refuses_non_str(self):
        refused(parse_assignments, [("a", "1")])


class TestParsePoint:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("x=1,w=0.5", {"x": 1.0, "w": 0.5}),
            ("x=1, w=-0.5", {"x": 1.0, "w": -0.5}),
            (" x = +1e-3 ", {"x": 0.001}),
            ("a=.5,b=2.", {"a": 0.5, "b": 2.0}),
        ],
    )
    def test_accepted(self, text, expected):
        point = parse_point(text)
        assert point == expected
        assert all(type(value) is float for value in point.values())

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("", "empty"),
            ("x", "name=number"),
            ("x=1,", "name=number"),
            ("x=1=2", "name=number"),
            ("x=a", "not a number"),
            ("x=1+1", "not a number"),
            ("x=--1", "not a number"),
            ("x=inf", "not a number"),
            ("x=1e999", "finite"),
            ("x=1_0", "not a number"),
            ("x=٣", "not a number"),
            ("x=1,x=2", "twice"),
            ("1=2", "plain identifier"),
            ("_x=1", "'_'"),
            ("pi=1", "constant"),
            ("x.y=1", "plain identifier"),
            ("x=__import__('os')", "not a number"),
        ],
    )
    def test_refused(self, text, fragment):
        assert fragment in refused(parse_point, text)

    def test_refuses_non_str(self):
        refused(parse_point, {"x": 1})


class TestMatrices:
    """Declared matrix names: MatrixSymbols, @, .T, matrix and entrywise functions."""

    DECLARED = {"W": (2, 3), "x": (3, 1), "y": (2, 1), "A": (2, 2), "X": ("n", "d")}
    W, xm, ym = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)

    def parse(self, text):
        return parse_expr(text, matrices=self.DECLARED)

    def test_declared_names_are_matrix_symbols_and_sizes_are_positive_integers(self):
        expr = self.parse("trace(X.T @ X)/n")
        n, d = sp.symbols("n d", integer=True, positive=True)
        X = sp.MatrixSymbol("X", n, d)
        assert expr == sp.Trace(X.T * X) / n
        (X_parsed,) = expr.atoms(sp.MatrixSymbol)
        assert X_parsed.shape == (n, d) and all(s.is_integer and s.is_positive for s in (n, d))

    def test_products_transpose_sum_and_scalars(self):
        W, x, y = self.W, self.xm, self.ym
        r = W * x - y
        assert self.parse("trace((W @ x - y).T @ (W @ x - y))") == sp.Trace(r.T * r)
        assert self.parse("trace((W*x - y).T * (W*x - y))") == sp.Trace(r.T * r)
        assert self.parse("sum(2*W - W/2 + w*W)") == SumEntries(2 * W - W / 2 + w * W)
        assert self.parse("sum(-W.T.T)") == SumEntries(-W)

    @pytest.mark.parametrize(
        ("text", "build"),
        [
            ("sum(W)", lambda W, x, y, A: SumEntries(W)),
            ("norm(W @ x - y)", lambda W, x, y, A: FrobeniusNorm(W * x - y)),
            ("logsumexp(W @ x)", lambda W, x, y, A: LogSumExp(W * x)),
            ("sum(softmax(W @ x))", lambda W, x, y, A: SumEntries(Softmax(W * x))),
            ("det(A) + trace(inv(A))", lambda W, x, y, A: sp.Determinant(A) + sp.Trace(A.inv())),
            (
                "sum(hadamard(W @ x, y))",
                lambda W, x, y, A: SumEntries(sp.HadamardProduct(W * x, y)),
            ),
        ],
    )
    def test_matrix_functions(self, text, build):
        A = sp.MatrixSymbol("A", 2, 2)
        assert self.parse(text) == build(self.W, self.xm, self.ym, A)

    @pytest.mark.parametrize("name", ["tanh", "exp", "sigmoid", "relu", "sqrt", "abs", "softplus"])
    def test_scalar_functions_act_entrywise(self, name):
        expr = self.parse(f"sum({name}(W @ x))")
        (inner,) = expr.args
        assert isinstance(inner, ElementwiseApplyFunction) and inner.expr == self.W * self.xm
        u = sp.Symbol("u", real=True)
        _, scalar = FUNCTIONS[name]
        assert sp.simplify(inner.function(u) - scalar(u)) == 0

    def test_entrywise_class_is_sympys_own(self):
        r = (self.W * self.xm).applyfunc(sp.tanh) - self.ym
        assert str(self.parse("trace((tanh(W @ x) - y).T @ (tanh(W @ x) - y))")) == str(
            sp.Trace(r.T * r)
        )

    def test_scalar_syntax_is_unchanged(self):
        assert self.parse("tanh(w*e + b)") == sp.tanh(w * e + b)
        assert self.parse("where(w > 0, w, 0.1*w)") == parse_expr("where(w > 0, w, 0.1*w)")

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("sum(W.__class__)", "attribute access is not allowed: 'W.__class__'"),
            ("W.__class__", "attribute access"),
            ("sum(W.shape)", "attribute access"),
            ("sum(W.T())", "plain function names"),
            ("w.T", "'.T' needs a matrix"),
            ("sum(W @ y)", "shapes do not match in the product W * y: 2x3 times 2x1"),
            ("sum(W * y)", "shapes do not match"),
            ("sum(W + y)", "shapes do not match in a sum"),
            ("sum(W + 1)", "cannot add the scalar 1"),
            ("sum(W ** 2)", "'**' of a matrix"),
            ("sum(x / W)", "cannot divide by the matrix W"),
            ("w @ x", "'@' needs matrices"),
            ("trace(W)", "square matrix, not a 2x3"),
            ("trace(w)", "trace() takes a matrix, not the scalar w"),
            ("logsumexp(W)", "takes a vector"),
            ("sum(hadamard(W, A))", "different shapes"),
            ("sum(max(W, 1))", "entrywise to one matrix"),
            ("sum(where(w > 0, W, W))", "takes scalars"),
            ("W @ x", "2x1 matrix; a loss must be a scalar: reduce it with trace(...) or sum(...)"),
            ("x.T @ x", "trace(...)"),
            ("summ(W)", "did you mean sum"),
        ],
    )
    def test_refused(self, text, fragment):
        assert fragment in refused(self.parse, text)

    def test_without_declarations_matrix_syntax_stays_refused(self):
        assert "'@'" in refused(parse_expr, "W @ x")
        assert "attribute access" in refused(parse_expr, "W.T")
        assert "unknown function 'trace'" in refused(parse_expr, "trace(W)")

    @pytest.mark.parametrize(
        ("matrices", "fragment"),
        [
            ({"W": (0, 3)}, "between 1 and"),
            ({"W": (2, 3.5)}, "positive int or a size name"),
            ({"W": (True, 3)}, "positive int"),
            ({"W": (2,)}, "(rows, cols)"),
            ({"W": ("n", "__class__")}, "'_'"),
            ({"W": ("pi", 2)}, "constant"),
            ({"n": ("n", 1)}, "both a matrix and a size"),
            ({"exp": (2, 2)}, "function name"),
            ({"_W": (2, 2)}, "'_'"),
            ({"W x": (2, 2)}, "plain identifier"),
            (["W"], "must be a dict"),
        ],
    )
    def test_bad_declarations(self, matrices, fragment):
        assert fragment in refused(parse_expr, "w", matrices)

    def test_parse_matrices(self):
        assert parse_matrices(["W=2x3", "X = n x d", "v=d×1"]) == {
            "W": (2, 3),
            "X": ("n", "d"),
            "v": ("d", 1),
        }

    @pytest.mark.parametrize(
        ("declarations", "fragment"),
        [
            (["W"], "not NAME=ROWSxCOLS"),
            (["W=2x3x4"], "not NAME=ROWSxCOLS"),
            (["W=2x"], "not NAME=ROWSxCOLS"),
            (["W=2by3"], "not NAME=ROWSxCOLS"),
            (["W=0x3"], "between 1 and"),
            (["W=99999999999x3"], "between 1 and"),
            (["W=-1x3"], "not a plain identifier"),
            (["W=2x3", "W=3x3"], "declared twice"),
            (["=2x3"], "plain identifier"),
            (["W=nx__class__"], "'_'"),
            ("W=2x3", "not a single str"),
        ],
    )
    def test_parse_matrices_refusals(self, declarations, fragment):
        assert fragment in refused(parse_matrices, declarations)

    def test_assignments_with_matrices(self):
        text = "Z = W @ x\nA1 = tanh(Z)\nR = A1 - y\nL = trace(R.T @ R)"
        pairs = parse_assignments(text, self.DECLARED)
        Z, A1, R = (sp.MatrixSymbol(name, 2, 1) for name in ("Z", "A1", "R"))
        assert [lhs for lhs, _ in pairs] == [Z, A1, R, sp.Symbol("L", real=True)]
        assert pairs[0][1] == self.W * self.xm and pairs[2][1] == A1 - self.ym
        assert pairs[3][1] == sp.Trace(R.T * R)

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("Z = W @ x", "the last assignment, Z, is a 2x1 matrix"),
            ("A = W @ x\nL = sum(A)", "'A' is declared 2x2 but line 1 gives it a 2x1"),
            ("W = w\nL = W", "declared 2x3 but line 1 gives it a scalar"),
            ("n = 2\nL = n", "matrix size"),
            ("Z = W @ x\nL = sum(Z @ Z)", "shapes do not match"),
        ],
    )
    def test_assignments_refused(self, text, fragment):
        assert fragment in refused(parse_assignments, text, self.DECLARED)


class TestParseMatrixPoint:
    def test_lists_and_numbers(self):
        assert parse_matrix_point("W=[[1, 2, 3], [4, 5, -6.5]], x=[[1e-3]], c=-0.5") == {
            "W": [[1.0, 2.0, 3.0], [4.0, 5.0, -6.5]],
            "x": [[0.001]],
            "c": -0.5,
        }

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("W=[[1, 2], [3]]", "different lengths"),
            ("W=[[x]]", "only numbers"),
            ("W=[[__import__('os')]]", "only numbers"),
            ("W=[[1 + 1]]", "only numbers"),
            ("W=[[--1]]", "only numbers"),
            ("W=[[True]]", "only numbers"),
            ("W=[[1j]]", "only numbers"),
            ("W=[[1e999]]", "finite"),
            ("W=[[" + "9" * 400 + "]]", "finite"),
            ("W=[1, 2]", "each row is a list"),
            ("W=[[]]", "each row is a list"),
            ("W=[[1]] * 2", "list of rows"),
            ("W=[[1]]]", "unbalanced"),
            ("W=[[1]", "unbalanced"),
            ("W=[[1]], W=2", "given twice"),
            ("_W=[[1]]", "'_'"),
            ("W", "not 'name=value'"),
            ("W=x", "not a number"),
        ],
    )
    def test_refused(self, text, fragment):
        assert fragment in refused(parse_matrix_point, text)
