"""The scalar call path (``math`` module, no per-call checks) against the NumPy path.

Oracle: the same compiled gradient called on arrays (the checked NumPy code,
unchanged).  ``math`` and NumPy's SIMD functions (tanh, exp, log...) may differ
in the last bits, so finite results are compared within :data:`ULPS` units in
the last place of the largest term; everything else (``inf``, ``-inf``,
``nan``, signs, zeros) must be the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import EvaluationError

ULPS = 64  # a few ulp per function, through a dozen lines of a gradient

w, x, b, y = sp.symbols("w x b y", real=True)
z = w * x + b
sigmoid = 1 / (1 + sp.exp(-z))
GRADIENTS = {
    "tanh network": (sp.tanh(z) - y) ** 2 + sp.log(1 + sp.exp(w * b)),
    "cross-entropy": -(y * sp.log(sigmoid) + (1 - y) * sp.log(1 - sigmoid)),
    "softplus": sp.log(1 + sp.exp(z)) - y * z,
    "piecewise": sp.Piecewise((w**2 * x, w > 0), (sp.Abs(b) * x, True)) + sp.Max(z, 0),
    "reciprocal": 1 / (w * x) + sp.sqrt(b**2) + sp.log(x**2),
}
EDGES = [0.0, -0.0, 1.0, -1.0, 1000.0, -1000.0, np.inf, -np.inf, np.nan, 1e-300, 1e300]


def compiled(name: str, simplified: bool = False):
    grad = sg.gradient(GRADIENTS[name], wrt=[w, b])
    return (grad.simplify() if simplified else grad).lambdify()


def points(seed: int) -> np.ndarray:
    """Random points (normal, wide, edge values mixed in), one row per point, 4 columns."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=(150, 4)) * rng.choice([0.1, 1.0, 30.0], size=(150, 1))
    edges = rng.choice(EDGES, size=(150, 4))
    mixed = np.where(rng.random((150, 4)) < 0.3, edges, rng.normal(size=(150, 4)))
    return np.vstack([normal, edges, mixed])


def assert_close(fast: float, slow: float, where: str) -> None:
    assert type(fast) is np.float64, where
    if np.isfinite(slow):
        ulp = np.spacing(max(abs(slow), 1e-300))
        assert abs(fast - slow) <= ULPS * ulp or abs(fast - slow) <= 1e-13, (where, fast, slow)
    else:
        assert np.isnan(fast) == np.isnan(slow) and (np.isnan(slow) or fast == slow), where


@pytest.mark.parametrize("simplified", [False, True])
@pytest.mark.parametrize("name", list(GRADIENTS))
def test_scalar_calls_agree_with_arrays(name, simplified):
    f = compiled(name, simplified)
    assert f._scalar is not None  # the math version exists for every scalar graph here
    rows = points(len(name))[:, : len(f.args)]
    columns = dict(zip((s.name for s in f.args), rows.T, strict=True))
    value, partials = f(**columns)  # the array path: NumPy, checked
    for k, row in enumerate(rows):
        given = [float(v) for v in row]
        for fast in (f(*given), f(**dict(zip(columns, given, strict=True)))):
            assert_close(fast[0], value[k], f"{name} value at {given}")
            assert len(fast[1]) == len(partials)
            for p, (fast_p, slow_p) in enumerate(zip(fast[1], partials, strict=True)):
                assert_close(fast_p, slow_p[k], f"{name} partial {p} at {given}")


@pytest.mark.parametrize("name", list(GRADIENTS))
def test_scalar_calls_agree_with_checked_scalar_calls(name):
    """The NumPy path on scalars (what a call did before): the same numbers, the same types."""
    f = compiled(name)
    for row in points(7)[:, : len(f.args)]:
        given = [float(v) for v in row]
        fast, slow = f(*given), f.checked(*given)
        assert_close(fast[0], slow[0], name)
        for a, c in zip(fast[1], slow[1], strict=True):
            assert_close(a, c, name)


def test_edge_conventions():
    """1/0 is inf, log(0) is -inf, the stable forms keep ±1000 finite."""
    f = sg.gradient(1 / w + sp.log(x), wrt=[w]).lambdify()
    value, (dw,) = f(w=0.0, x=0.0)
    assert value == np.inf or np.isnan(value)  # inf + (-inf)
    assert dw == -np.inf
    g = compiled("cross-entropy")
    for logit in (1000.0, -1000.0):
        value, partials = g(w=1.0, x=logit, b=0.0, y=1.0)
        assert np.isfinite(value) and all(np.isfinite(p) for p in partials)


def test_plain_numbers_of_every_kind():
    f = compiled("tanh network")
    want = f.checked(x=0.7, y=0.0, w=0.3, b=-0.2)
    for given in [(0.7, 0, 0.3, -0.2), (np.float64(0.7), np.int64(0), 0.3, -0.2)]:
        got = f(*given)
        assert_close(got[0], want[0], str(given))


BAD_CALLS = [
    ((), {"w": 0.3, "x": 0.7, "b": -0.2, "q": 0.1}),  # unknown name
    ((), {"w": 0.3, "x": 0.7, "b": -0.2}),  # missing
    ((0.7, 0.1, 0.3), {}),  # too few
    ((0.7, 0.1, 0.3, -0.2, 1.0), {}),  # too many
    ((0.7, "0.1", 0.3, -0.2), {}),  # text
    ((0.7, None, 0.3, -0.2), {}),
    ((0.7, 10**400, 0.3, -0.2), {}),  # too large for a float
    ((0.7, -0.2, 0.3, 0.1), {"q": 0.1}),  # every input and an unknown name
]


@pytest.mark.parametrize("entry", [False, True])  # the first call, then the direct entry's
@pytest.mark.parametrize(("args", "values"), BAD_CALLS)
def test_errors_are_the_checked_paths(args, values, entry):
    f = compiled("tanh network")
    if entry:
        f(0.7, 0.1, 0.3, -0.2)
        assert "_scalar" in vars(f)  # the math version exists
    with pytest.raises(EvaluationError) as slow:
        f.checked(*args, **values)
    with pytest.raises(EvaluationError) as fast:
        f(*args, **values)
    assert str(fast.value) == str(slow.value)
    assert "\n" not in str(fast.value)


def test_bool_is_refused_or_converted_as_before():
    f = compiled("tanh network")
    try:
        want = f.checked(0.7, True, 0.3, -0.2)
    except EvaluationError as err:
        with pytest.raises(EvaluationError, match=str(err)[:20]):
            f(0.7, True, 0.3, -0.2)
    else:
        assert f(0.7, True, 0.3, -0.2)[0] == want[0]


def test_arrays_and_float32_run_numpy():
    f = compiled("tanh network")
    value, (dw, db) = f(x=np.array([0.7, 0.1]), y=0.1, w=0.3, b=-0.2)
    assert value.shape == dw.shape == (2,)
    single, _ = f(x=np.float32(0.7), y=0.1, w=0.3, b=-0.2)
    assert single == f.checked(x=np.float32(0.7), y=0.1, w=0.3, b=-0.2)[0]


@pytest.mark.parametrize("inputs", [4, 40])  # the direct entry; past 32 inputs, the dispatch
def test_array_calls_never_compile_the_math_version(inputs):
    """An array call went through the dispatch's math version, compiling it (as long as
    compiling the gradient itself) only to be told to run NumPy."""
    xs = sp.symbols(f"x0:{inputs}", real=True)
    w = sp.Symbol("w", real=True)
    f = sg.gradient(sp.Add(*(sp.sin(w * xi) for xi in xs)), wrt=[w]).lambdify()
    columns = [np.linspace(-1, 1, 5) if s != w else 0.3 for s in f.args]
    by_position = f(*columns)
    by_name = f(**{s.name: c for s, c in zip(f.args, columns, strict=True)})
    assert "_scalar" not in vars(f)
    expected = sum(
        np.asarray(c) * np.cos(0.3 * np.asarray(c))
        for s, c in zip(f.args, columns, strict=True)
        if s != w
    )
    np.testing.assert_allclose(by_position[1][0], expected, rtol=1e-13)
    np.testing.assert_array_equal(by_name[1][0], by_position[1][0])


def test_matrix_graphs_use_numpy():
    W = sp.MatrixSymbol("W", 2, 2)
    v = sp.MatrixSymbol("v", 2, 1)
    f = sg.gradient((v.T * W * v)[0, 0], wrt=[W]).lambdify()
    assert f._scalar is None
    value, (dW,) = f(W=np.eye(2), v=np.array([1.0, 2.0]))
    assert value == 5.0 and dW.shape == (2, 2)


def test_generated_scalar_source_uses_math():
    import inspect

    f = compiled("tanh network")
    source = inspect.getsource(f._scalar)
    assert "math.tanh" in source and "del " not in source
    assert source.count("numpy") == source.count("numpy.float64(") == 3  # the results only
    assert source.splitlines()[0].startswith("def value_and_grad(x, y, w, b):")  # keyword calls
    assert source.splitlines()[1].strip().startswith("if type(x) is not float or")
    assert f._scalar(0.1, 0.2, 0.3, 1) is None  # an int: the caller converts it


def test_a_shared_stable_form_computes_its_exponential_once():
    import inspect

    f = compiled("tanh network")  # log(1 + exp(w b)) and its derivative, the sigmoid of w b
    source = inspect.getsource(f._scalar)
    assert source.count("math.exp(") == 1, source


@pytest.mark.parametrize("names", [["t1", "w"], ["numpy", "w"], ["float", "w"], ["_x", "w"]])
def test_names_that_cannot_be_parameters_are_called_by_position(names):
    import inspect

    x, w = (sp.Symbol(n, real=True) for n in names)
    f = sg.gradient(sp.sin(w * x) + w**2, wrt=[w]).lambdify()
    value, (dw,) = f(**{names[0]: 0.5, names[1]: 0.25})
    assert np.isclose(value, np.sin(0.125) + 0.0625) and np.isclose(dw, 0.5 * np.cos(0.125) + 0.5)
    assert inspect.getsource(f._scalar).startswith("def value_and_grad(a0, a1):")


def test_keyword_calls_convert_ints_and_check_the_rest():
    f = compiled("tanh network")
    by_float = f(x=1.0, y=2.0, w=0.5, b=-1.0)
    assert f(x=1, y=2, w=0.5, b=-1) == by_float  # ints converted
    np.testing.assert_allclose(f(x=np.array([1.0]), y=2.0, w=0.5, b=-1.0)[0], [by_float[0]])
    with pytest.raises(EvaluationError, match="unknown symbols z"):
        f(x=1.0, y=2.0, w=0.5, z=-1.0)


def test_an_input_given_twice_is_refused_in_one_line():
    """Python's own message, as for any function with these parameters (the entry binds them);
    where the names cannot be parameters, the general path's."""
    f = compiled("tanh network")
    for _ in range(2):  # before the math version exists and after
        with pytest.raises(TypeError, match=r"^value_and_grad\(\) got multiple values for .*'x'$"):
            f(0.7, x=0.7, y=0.1, w=0.3)
        f(0.7, 0.1, 0.3, -0.2)
    t1, w_ = sp.symbols("t1 w", real=True)
    g = sg.gradient(sp.sin(w_ * t1), wrt=[w_]).lambdify()
    with pytest.raises(EvaluationError, match="^t1 given both by position and by name$"):
        g(0.7, t1=0.7)


def test_the_direct_entry_takes_the_inputs_names_and_positions():
    import inspect

    f = compiled("tanh network")
    assert str(inspect.signature(f)).startswith("(x=MISSING, y=MISSING, w=MISSING, b=MISSING, *")
    assert "_scalar" not in vars(f)
    value, (dw, db) = f(x=np.array([0.7, 0.7]), y=0.1, w=0.3, b=-0.2)  # arrays: NumPy's path
    assert "_scalar" not in vars(f)  # nothing compiled for a call on arrays
    want = f.checked(x=0.7, y=0.1, w=0.3, b=-0.2)
    assert value.shape == (2,) and np.allclose(value, want[0])
    calls = [f(y=0.1, b=-0.2, x=0.7, w=0.3), f(0.7, 0.1, 0.3, -0.2), f(0.7, 0.1, b=-0.2, w=0.3)]
    for got in calls:
        for fast, slow in zip((got[0], *got[1]), (want[0], *want[1]), strict=True):
            assert_close(fast, slow, "direct entry")
    assert f(np.float64(0.7), 0, 0.3, -0.2)[0] == f(0.7, 0.0, 0.3, -0.2)[0]  # converted


def test_generated_parameter_names_take_no_keyword():
    """Names that cannot be parameters: the entry's ``a0, a1`` are positional only."""
    t1, w_ = sp.symbols("t1 w", real=True)
    f = sg.gradient(sp.sin(w_ * t1) + w_**2, wrt=[w_]).lambdify()
    value = f(0.5, 0.25)[0]
    assert f(t1=0.5, w=0.25)[0] == value and f(0.5, w=0.25)[0] == value
    with pytest.raises(EvaluationError, match="unknown symbols a0"):
        f(a0=0.5, w=0.25)


def test_many_inputs_keep_the_general_entry():
    """No generated line grows with the inputs: past a line's width, the general path."""
    xs = sp.symbols("x1:41", real=True)
    f = sg.gradient(sum(sp.sin(s) for s in xs), wrt=list(xs[:2])).lambdify()
    values = {s.name: 0.1 * k for k, s in enumerate(xs)}
    value, (d1, d2) = f(**values)
    assert f._call == f._dispatch
    assert np.isclose(value, sum(np.sin(v) for v in values.values())) and np.isclose(d1, 1.0)
