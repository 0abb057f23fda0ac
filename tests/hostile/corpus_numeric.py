"""The numeric corpus: careless values handed to compiled functions, points where a
formula divides by zero or overflows, ties and kinks, and cross-checks of correct
gradients that must pass."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from functools import partial

import mpmath
import numpy as np
import sympy as sp

import symgraph as sg
from symgraph import nn
from symgraph.numeric.compile import values_at

from .harness import Case, Wrong

W, X, B, Y = sp.symbols("w x b y", real=True)
AT_W = 0.5
MODEL = W * X + sp.sin(W)  # at w = 0.5: L = 0.5 x + sin(0.5), ∂L/∂w = x + cos(0.5)

#: Values for x, by name; ``None`` expected means: no number exists, only a refusal is right.
VALUES = {
    "none": None,
    "str-number": "1.5",
    "str-text": "abc",
    "str-payload": "__import__('os').system('touch SENTINEL')",
    "bytes": b"1.5",
    "dict": {"a": 1.0},
    "set": {1.0},
    "object": object(),
    "ragged": [1.0, [2.0, 3.0]],
    "ragged-2d": [[1.0, 2.0], [3.0]],
    "nested-empty": [[]],
    "empty": np.array([], dtype=float),
    "int-400-digits": 10**400,
    "int-minus-400-digits": -(10**400),
    "int-over-float": 2**1024,
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "complex": complex(1.0, 2.0),
    "np-complex": np.complex128(1.0 + 2.0j),
    "complex-array": np.array([1.0 + 1.0j, 2.0]),
    "bool": True,
    "np-bool-array": np.array([True, False]),
    "decimal": Decimal("1.5"),
    "fraction": Fraction(3, 2),
    "sympy-integer": sp.Integer(3),
    "sympy-float": sp.Float(1.5),
    "sympy-rational": sp.Rational(1, 3),
    "sympy-symbol": sp.Symbol("q"),
    "sympy-oo": sp.oo,
    "sympy-nan": sp.nan,
    "float16": np.float16(1.5),
    "int64-max": np.int64(2**63 - 1),
    "uint8-array": np.array([250, 7], dtype=np.uint8),
    "longdouble": np.longdouble(1.5),
    "object-array": np.array([1.0, None], dtype=object),
    "str-array": np.array(["1.5", "2"]),
    "datetime": np.datetime64("2020-01-01"),
    "0d-array": np.array(1.5),
    "list": [1.0, 2.0],
    "tuple": (1.0, 2.0),
    "2d-array": np.ones((2, 3)),
    "masked": np.ma.array([1.0, 2.0], mask=[False, True]),
    "matrix-1x1": sp.Matrix([[1.5]]),
    "huge-array": np.full(2_000_000, 0.25),
    "subnormal": 5e-324,
    "max-float": 1.7976931348623157e308,
}
NO_NUMBER = {"none", "str-text", "str-payload", "bytes", "dict", "set", "object", "ragged",
             "ragged-2d", "sympy-symbol", "datetime", "object-array"}  # fmt: skip


ON_EVERY_PATH = {"none", "str-number", "str-payload", "ragged", "int-400-digits", "nan",
                 "complex", "masked", "sympy-symbol", "2d-array", "list"}  # fmt: skip


def _expected(value):
    """The value and ∂L/∂w of MODEL at x = ``value``, by NumPy (the oracle)."""
    x = np.asarray(value.filled(np.nan) if np.ma.isMaskedArray(value) else value)
    if x.dtype.kind not in "biufc":
        x = x.astype(float)
    x = x.astype(complex) if x.dtype.kind == "c" else x.astype(float)
    return AT_W * x + np.sin(AT_W), x + np.cos(AT_W)


def _agrees(got, want, what: str, value) -> None:
    got = np.asarray(got)
    want = np.asarray(want)
    if np.ma.isMaskedArray(value):
        masked = np.ma.getmaskarray(got) if np.ma.isMaskedArray(got) else None
        if masked is None or not masked[np.ma.getmaskarray(value)].all():
            raise Wrong(f"{what}: the mask was lost: {got!r}")
        return
    if got.dtype.kind not in "biufc":
        raise Wrong(f"{what} is not a number: {got!r}")
    if want.dtype.kind == "c" and got.dtype.kind != "c":
        raise Wrong(f"{what} dropped the imaginary part: {got!r} for {want!r}")
    if got.size != want.size or not np.allclose(got.reshape(-1), want.reshape(-1), equal_nan=True):
        raise Wrong(f"{what} = {got!r}, expected {want!r}")


def _value_case(name: str, sink: str, tmp) -> None:
    value = VALUES[name]
    if sink == "lambdify":
        got_value, (got_partial,) = sg.gradient(MODEL, wrt=[W]).lambdify()(w=AT_W, x=value)
    elif sink == "forward":
        graph = sg.Graph.from_expr(MODEL, wrt=[W])
        got_value = graph.forward({W: AT_W, X: value})[graph.output]
        got_partial = None
    else:
        forward, delta = values_at(sg.gradient(MODEL, wrt=[W]), {W: AT_W, X: value})
        got_value, got_partial = forward[sp.Symbol("L", real=True)], delta[W]
    if name in NO_NUMBER:
        raise Wrong(f"returned {got_value!r} for a value that is no number")
    try:
        want_value, want_partial = _expected(value)
    except (OverflowError, TypeError, ValueError):
        if np.isinf(np.asarray(got_value, dtype=float)).all():
            return  # an integer beyond float range may come back as ±inf
        raise Wrong(f"returned {got_value!r} for x = {value!r}") from None
    _agrees(got_value, want_value, "value", value)
    if got_partial is not None:
        _agrees(got_partial, want_partial, "∂L/∂w", value)


def value_cases() -> list[Case]:
    return [
        Case(f"value:{sink}:{name}", "numeric", partial(_value_case, name, sink))
        for sink in ("lambdify", "forward", "values_at")
        for name in VALUES
        if sink == "lambdify" or name in ON_EVERY_PATH
    ]


#: A float and a one-entry array take one numeric path: same numbers (or one refusal).
AT_ZERO = {
    "log(x)": (sp.log(X), 0.0),
    "1/x": (1 / X, 0.0),
    "x**x": (X**X, 0.0),
    "x*log(x)": (X * sp.log(X), 0.0),
    "sqrt(x)": (sp.sqrt(X), 0.0),
    "guarded-log": (sp.Piecewise((sp.log(X), X > 0), (0, True)), 0.0),
    "cbrt-minus-8": (X ** sp.Rational(1, 3), -8.0),
    "log(1-x)": (sp.log(1 - X), 1.0),
    "asin(x)": (sp.asin(X), 1.0),
    "atanh(x)": (sp.atanh(X), 1.0),
    "x**-2": (X**-2, 0.0),
    "exp(1000x)": (sp.exp(1000 * X), 1.0),
    "tan(x)": (sp.tan(X), float(np.pi / 2)),
    "gamma(x)": (sp.gamma(X), 0.0),
    "log(x)-overflow": (sp.log(X), 1e-320),
}


def _call_both(expr, at: float, wrt):
    f = sg.gradient(expr * W, wrt=wrt).lambdify()
    outcomes = []
    for value in (at, np.array([at])):
        try:
            v, parts = f(w=1.0, x=value)
            outcomes.append(
                ("ok", [np.asarray(v).reshape(-1), *(np.asarray(p).reshape(-1) for p in parts)])
            )
        except sg.EvaluationError as err:
            outcomes.append(("refused", str(err)))
    return outcomes


def _zero_case(name: str, tmp) -> None:
    expr, at = AT_ZERO[name]
    (kind_f, got_f), (kind_a, got_a) = _call_both(expr, at, [W, X])
    if kind_f != kind_a:
        raise Wrong(f"a float gives {kind_f} {got_f}, an array {kind_a} {got_a}")
    if kind_f == "ok":
        for a, b in zip(got_f, got_a, strict=True):
            if not np.allclose(a.astype(complex), b.astype(complex), equal_nan=True):
                raise Wrong(f"a float gives {got_f}, an array {got_a}")
    if name == "guarded-log" and kind_f == "ok":
        if not np.allclose(np.concatenate(got_f).astype(float), 0.0):
            raise Wrong(f"the guard's branch at 0 is (0, 0, 0), got {got_f}")


def _stable_case(expr, at: float, exact, tmp) -> None:
    """A compiled partial at an extreme argument, against mpmath at 50 digits."""
    (_, (got,)) = sg.gradient(expr, wrt=[W]).lambdify()(w=at)
    with mpmath.workdps(50):
        want = exact(mpmath.mpf(at))
        error = abs(mpmath.mpf(float(got)) - want)
        ok = error <= 1e-9 * abs(want) + 1e-300  # below 1e-300: rounding to 0 is exact enough
    if not ok or not math.isfinite(float(got)):
        raise Wrong(f"∂/∂w at {at} = {float(got)!r}, true {mpmath.nstr(want, 17)}")


def _sigma(t):
    return 1 / (1 + mpmath.exp(-t))


def _bce(y):
    s = nn.sigmoid(W)
    return -(y * sp.log(s) + (1 - y) * sp.log(1 - s))


STABLE = {
    "sigmoid'(-1000)": (nn.sigmoid(W), -1000.0, lambda t: _sigma(t) * (1 - _sigma(t))),
    "sigmoid'(1000)": (nn.sigmoid(W), 1000.0, lambda t: _sigma(t) * (1 - _sigma(t))),
    "softplus'(1000)": (nn.softplus(W), 1000.0, _sigma),
    "softplus'(-1000)": (nn.softplus(W), -1000.0, _sigma),
    "bce-y0-25": (_bce(0), 25.0, _sigma),
    "bce-y1-30": (_bce(1), 30.0, lambda t: _sigma(t) - 1),
    "bce-y1-35": (_bce(1), 35.0, lambda t: _sigma(t) - 1),
    "bce-y0--30": (_bce(0), -30.0, _sigma),
    "log1p-exp-naive": (sp.log(1 + sp.exp(W)), 800.0, _sigma),
    "exp-minus-1": (sp.exp(W) - 1, 1e-20, mpmath.exp),
    "logsumexp": (nn.logsumexp([W, 2 * W]), 800.0,
                  lambda t: (1 + 2 * mpmath.exp(t)) / (1 + mpmath.exp(t))),
}  # fmt: skip


def _tie_case(tmp) -> None:
    """Max at a three-way tie: the shares form a valid subgradient (each in [0, 1], sum 1)."""
    grad = sg.gradient(sp.Max(W, B, X), wrt=[W, B, X])
    _, shares = grad.lambdify()(w=1.0, b=1.0, x=1.0)
    shares = [float(s) for s in shares]
    if not (all(0 <= s <= 1 for s in shares) and math.isclose(sum(shares), 1.0)):
        raise Wrong(f"shares at a tie {shares} are no subgradient (they sum to {sum(shares)})")


def _chain_print_case(depth: int, tmp) -> None:
    expr = W
    for _ in range(depth):  # unevaluated: SymPy's own constructor recurses on deep input
        expr = sp.sin(expr, evaluate=False)
    grad = sg.gradient(expr, wrt=[W])
    str(grad), repr(grad)


def _quadratic_form_case(which: str, tmp) -> None:
    x = sp.MatrixSymbol("x", 2, 1)
    A = sp.MatrixSymbol("A", 2, 2)
    loss = x.T * A * x
    if which == "hessian":
        sg.hessian(loss, [x])
    else:
        sg.hvp(loss, [x], [sp.MatrixSymbol("v", 2, 1)])


def _simplify_matrix_case(tmp) -> None:
    X_ = sp.MatrixSymbol("X", 4, 2)
    w_ = sp.MatrixSymbol("w", 2, 1)
    r = X_ * w_ + B * sp.OneMatrix(4, 1)
    grad = sg.gradient(sp.Trace(r.T * r), wrt=[w_, B])
    simple = grad.simplify()
    rng = np.random.default_rng(0)
    point = {"X": rng.normal(size=(4, 2)), "w": rng.normal(size=(2, 1)), "b": 0.3}
    v1, p1 = grad.lambdify()(**point)
    v2, p2 = simple.lambdify()(**point)
    for a, b in zip(p1, p2, strict=True):
        if not np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float)):
            raise Wrong(f"simplify changed a partial: {a} vs {b}")


def _check_bce_case(seed: int, tmp) -> None:
    w1, w2, z = sp.symbols("w1 w2 z", real=True)
    t = w1 * X + w2 * z + B
    s = nn.sigmoid(t)
    loss = -(Y * sp.log(s) + (1 - Y) * sp.log(1 - s))
    report = sg.check(sg.gradient(loss, wrt=[w1, w2, B]), seed=seed)
    if not report.ok:
        raise Wrong(f"check fails the correct BCE gradient at seed {seed}: {report}")


def _check_gp_case(seed: int, tmp) -> None:
    A = sp.MatrixSymbol("A", 3, 3)
    y = sp.MatrixSymbol("y", 3, 1)
    s = sp.Symbol("s", positive=True)
    K = A * A.T + s * sp.Identity(3)
    loss = sp.Trace(y.T * K.inverse() * y) / 2 + sp.log(sp.Determinant(K)) / 2
    report = sg.check(sg.gradient(loss, wrt=[A, s]), seed=seed)
    if not report.ok:
        raise Wrong(f"check fails the correct GP gradient at seed {seed}: {report}")


#: The walkthrough at a point where a naive formula divides by zero or sits on a kink.
EXPLAIN_AT = {
    "log(x)": sp.log(X) * W,
    "1/x": W / X,
    "x*log(x)": W * X * sp.log(X),
    "Heaviside(x)": W * sp.Heaviside(X),
    "x*sign(x)": W * X * sp.sign(X),
    "guarded-log": W * sp.Piecewise((sp.log(X), X > 0), (0, True)),
}


def _explain_case(name: str, tmp) -> None:
    grad = sg.gradient(EXPLAIN_AT[name], wrt=[W, X])
    for weight in (W, X):
        text = sg.explain(grad, weight, at={W: 1.0, X: 0.0}).text().lower()
        # nan is honest where the value itself is undefined (0·log 0 as computed); at a
        # kink or a guarded branch every value is defined, and nothing may disagree.
        for word in ("differs",) if name in ("log(x)", "1/x", "x*log(x)") else ("nan", "differs"):
            if word in text:
                raise Wrong(f"explain(∂/∂{weight}) at x = 0 prints {word!r}")


def edge_cases() -> list[Case]:
    cases = [Case(f"at-point:{name}", "numeric", partial(_zero_case, name)) for name in AT_ZERO]
    cases += [
        Case(f"stable:{name}", "numeric", partial(_stable_case, *spec))
        for name, spec in STABLE.items()
    ]
    cases += [
        Case("tie:max3", "numeric", _tie_case),
        Case("print:chain-200", "numeric", partial(_chain_print_case, 200)),
        Case("print:chain-2000", "numeric", partial(_chain_print_case, 2000)),
        Case("derivatives:hessian-1x1", "numeric", partial(_quadratic_form_case, "hessian")),
        Case("derivatives:hvp-1x1", "numeric", partial(_quadratic_form_case, "hvp")),
        Case("simplify:matrix-scalar-weight", "numeric", _simplify_matrix_case),
    ]
    cases += [Case(f"explain:{n}", "numeric", partial(_explain_case, n)) for n in EXPLAIN_AT]
    cases += [Case(f"check:bce:{s}", "numeric", partial(_check_bce_case, s)) for s in range(8)]
    cases += [Case(f"check:gp:{s}", "numeric", partial(_check_gp_case, s)) for s in range(4)]
    return cases


def cases() -> list[Case]:
    return value_cases() + edge_cases()
