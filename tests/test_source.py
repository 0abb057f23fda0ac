"""Tests of grad.source("python") and grad.source("c"): source you can ship.

Oracle: the compiled NumPy function (``grad.lambdify()``) at random points.
The Python module is written to a file and imported in a fresh namespace; the
C source is compiled with ``cc -O2 -shared -fPIC`` and called through ctypes.
"""

from __future__ import annotations

import ast
import ctypes
import importlib.util
import shutil
import subprocess
import uuid

import numpy as np
import pytest
import sympy as sp
import test_matrix_graph

import symgraph as sg
from symgraph.errors import GraphError
from symgraph.rules.matfuncs import SumEntries

CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc, gcc or clang) on PATH")

w, x, b, y = sp.symbols("w x b y", real=True)
LOSS = (sp.tanh(w * x + b) - y) ** 2 + sp.log(1 + sp.exp(w * b))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20241212)


def import_module(source: str, tmp_path):
    path = tmp_path / f"generated_{uuid.uuid4().hex}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # our own generated module, checked
    return module


def compile_c(source: str, tmp_path):
    stem = f"grad_{uuid.uuid4().hex}"
    c_file, library = tmp_path / f"{stem}.c", tmp_path / f"{stem}.so"
    c_file.write_text(source)
    subprocess.run(
        [
            CC,
            "-O2",
            "-shared",
            "-fPIC",
            "-std=c99",
            "-Wall",
            "-Werror",
            "-o",
            library,
            c_file,
            "-lm",
        ],
        check=True,
        capture_output=True,
    )
    fn = ctypes.CDLL(str(library)).symgraph_value_and_grad
    fn.argtypes = [ctypes.POINTER(ctypes.c_double)] * 2
    fn.restype = ctypes.c_int
    return fn


def call_c(fn, f, values):
    """(return code, value, partials) of the C function at ``values`` (in f.args order)."""
    flat = np.concatenate([np.asarray(v, dtype=float).ravel() for v in values])
    sizes = [int(np.prod(getattr(w, "shape", ()) or (1,))) for w in f.wrt]
    out = np.full(1 + sum(sizes), np.nan)
    pointer = ctypes.POINTER(ctypes.c_double)
    rc = fn(flat.ctypes.data_as(pointer), out.ctypes.data_as(pointer))
    partials, start = [], 1
    for w_, size in zip(f.wrt, sizes, strict=True):
        shape = tuple(int(d) for d in w_.shape) if w_.is_Matrix else ()
        partials.append(out[start : start + size].reshape(shape))
        start += size
    return rc, out[0], partials


def assert_c_matches(grad, points, tmp_path):
    f = grad.lambdify()
    fn = compile_c(grad.source("c"), tmp_path)
    for values in points:
        expected_value, expected = f(*values)
        rc, value, partials = call_c(fn, f, values)
        assert rc == 0
        np.testing.assert_allclose(value, expected_value, rtol=1e-12, atol=1e-14)
        for got, want in zip(partials, expected, strict=True):
            np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=1e-12, atol=1e-14)


def scalar_points(f, rng, n=8, scale=2.0):
    return [list(rng.uniform(-scale, scale, size=len(f.args))) for _ in range(n)]


def network(d=3, h=4):
    xs = sp.symbols(f"x1:{d + 1}", real=True)
    W1 = [[sp.Symbol(f"W1_{j}_{i}", real=True) for i in range(d)] for j in range(h)]
    b1 = sp.symbols(f"b1_1:{h + 1}", real=True)
    W2 = sp.symbols(f"W2_1:{h + 1}", real=True)
    hidden = [
        sp.tanh(sum(wi * xi for wi, xi in zip(row, xs, strict=True)) + bj)
        for row, bj in zip(W1, b1, strict=True)
    ]
    loss = (sum(w2 * a for w2, a in zip(W2, hidden, strict=True)) + b - y) ** 2
    return loss, [wi for row in W1 for wi in row] + list(b1) + list(W2) + [b]


def matrix_layer(sizes=(2, 3)):
    rows, cols = sizes
    W, X, Y = (
        sp.MatrixSymbol("W", rows, cols),
        sp.MatrixSymbol("X", cols, 1),
        sp.MatrixSymbol("Y", rows, 1),
    )
    r = (W * X).applyfunc(sp.tanh) - Y
    return sp.Trace(r.T * r), [W]


def batch_network(n=5, d=3, h=4):
    """tests/test_matrix_graph.py's 2-layer network, with sizes given."""
    steps, weights = test_matrix_graph.batch_network(n, d, h)
    return sg.Graph.from_assignments(steps, wrt=weights).backward()


def matrix_values(f, rng):
    return [
        rng.normal(size=tuple(int(d) for d in s.shape)) if s.is_Matrix else rng.normal()
        for s in f.args
    ]


class TestPython:
    def test_scalar_module_matches_lambdify_at_points_and_batches(self, tmp_path, rng):
        grad = sg.gradient(LOSS, wrt=[w, b])
        f = grad.lambdify()
        module = import_module(grad.source("python"), tmp_path)
        for values in [*scalar_points(f, rng), [rng.normal(size=50) for _ in f.args]]:
            value, partials = module.value_and_grad(*values)
            want_value, want = f(*values)
            np.testing.assert_allclose(value, want_value, rtol=1e-13)
            assert len(partials) == 2
            for got, expected in zip(partials, want, strict=True):
                np.testing.assert_allclose(got, expected, rtol=1e-13)

    def test_parameters_are_the_user_names_in_args_order(self, tmp_path):
        grad = sg.gradient(LOSS, wrt=[w, b])
        tree = ast.parse(grad.source("python"))
        (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
        assert function.name == "value_and_grad"
        assert [a.arg for a in function.args.args] == [s.name for s in grad.lambdify().args]
        assert [type(n) for n in tree.body[1:-1]] == [ast.Import]  # numpy only: no scipy

    def test_docstring_lists_formulas_arguments_and_outputs(self):
        grad = sg.gradient(LOSS, wrt=[w, b])
        doc = ast.get_docstring(ast.parse(grad.source("python")))
        assert "value, (dL/dw, dL/db) = value_and_grad(x, y, w, b)" in doc
        for line in str(grad).splitlines():
            assert line in doc
        assert "    w: weight" in doc and "    x: input" in doc

    def test_too_big_formulas_are_left_out_saying_so(self):
        a = x
        weights = sp.symbols("w0:150", real=True)
        for wk in weights:
            a = sp.tanh(wk * a)
        grad = sg.gradient(a, wrt=list(weights))
        doc = ast.get_docstring(ast.parse(grad.source("python")))
        assert grad.unprintable_reason() is not None
        assert grad.unprintable_reason() in doc

    def test_scipy_is_imported_only_when_used(self, tmp_path):
        grad = sg.gradient(sp.erf(w * x), wrt=[w])
        source = grad.source("python")
        assert "import scipy.special" in source
        module = import_module(source, tmp_path)
        value, (dw,) = module.value_and_grad(0.3, 0.7)
        assert float(dw) == pytest.approx(float(grad.lambdify()(0.3, 0.7)[1][0]), rel=1e-13)

    def test_matrix_module_with_symbolic_sizes(self, tmp_path, rng):
        n, d, h = sp.symbols("n d h", integer=True, positive=True)
        X, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("Y", n, 1)
        W1, w2 = sp.MatrixSymbol("W1", h, d), sp.MatrixSymbol("w2", h, 1)
        loss = SumEntries(sp.HadamardProduct(*[(X * W1.T).applyfunc(sp.tanh) * w2 - Y] * 2)) / n
        grad = sg.gradient(loss, wrt=[W1, w2])
        f = grad.lambdify()
        module = import_module(grad.source("python"), tmp_path)
        shapes = {"X": (7, 3), "Y": (7, 1), "W1": (4, 3), "w2": (4, 1)}
        values = [rng.normal(size=shapes[s.name]) for s in f.args]
        value, partials = module.value_and_grad(*values)
        want_value, want = f(*values)
        np.testing.assert_allclose(value, want_value, rtol=1e-13)
        for got, expected in zip(partials, want, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-13)

    @pytest.mark.parametrize(
        "name", ['x); system("rm', "__import__", "lambda", "t1", "numpy", "print", "a0", "e"]
    )
    def test_unsafe_names_are_renamed_and_never_code(self, name, tmp_path, rng):
        z = sp.Symbol(name, real=True)
        grad = sg.gradient(sp.sin(w * z) + z**2, wrt=[w])
        source = grad.source("python")
        tree = ast.parse(source)
        code = ast.unparse(tree.body[1:])
        assert name not in {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
        if name not in ("t1", "numpy", "a0", "e"):  # those are the generator's own names
            assert name not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if not name.isidentifier():
            assert name not in source
        assert "Renamed" in ast.get_docstring(tree)
        assert "system" not in code
        module = import_module(source, tmp_path)
        values = list(rng.normal(size=2))
        np.testing.assert_allclose(
            module.value_and_grad(*values)[1][0], grad.lambdify()(*values)[1][0], rtol=1e-13
        )

    def test_lambdify_source_attribute_is_unchanged(self):
        assert sg.gradient(LOSS, wrt=[w]).lambdify().source.startswith("def value_and_grad(a0")

    def test_unknown_language(self):
        with pytest.raises(GraphError, match="unknown language 'rust'"):
            sg.gradient(LOSS, wrt=[w]).source("rust")


@needs_cc
class TestC:
    def test_scalar_loss(self, tmp_path, rng):
        grad = sg.gradient(LOSS, wrt=[w, b])
        assert_c_matches(grad, scalar_points(grad.lambdify(), rng), tmp_path)

    def test_tanh_network(self, tmp_path, rng):
        loss, weights = network()
        grad = sg.gradient(loss, wrt=weights)
        assert_c_matches(grad, scalar_points(grad.lambdify(), rng, n=4), tmp_path)

    def test_sigmoid_softplus_stable_at_extremes(self, tmp_path, rng):
        s = 1 / (1 + sp.exp(-(w * x + b)))
        loss = -(y * sp.log(s) + (1 - y) * sp.log(1 - s)) + sp.log(1 + sp.exp(w))
        grad = sg.gradient(loss, wrt=[w, b])
        f = grad.lambdify()
        points = scalar_points(f, rng) + [[1.0, 1.0, 800.0, 3.0], [-1.0, 0.0, 900.0, -2.0]]
        assert_c_matches(grad, points, tmp_path)

    @pytest.mark.parametrize(
        "expr",
        [
            sp.Max(0, w * x + b) ** 2,
            sp.Abs(w * x - b),
            sp.Piecewise((w**2 * x, w * x > b), (sp.sin(b), True)),
            sp.Piecewise((sp.sqrt(w), w > 0), (w * b, True)),
            sp.Heaviside(w - b) * w + sp.sign(b - x) * b,
            sp.Min(w, b, x) * sp.Max(w, b),
        ],
        ids=["relu", "abs", "piecewise", "zero-safe", "heaviside-sign", "min-max"],
    )
    def test_kinks(self, expr, tmp_path, rng):
        grad = sg.gradient(expr, wrt=[w, b])
        points = scalar_points(grad.lambdify(), rng, n=12)
        points += [[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]]  # at the kinks: our conventions
        assert_c_matches(grad, [p for p in points if len(p) == len(grad.lambdify().args)], tmp_path)

    def test_mod_has_the_divisors_sign(self, tmp_path):
        grad = sg.gradient(w * sp.Mod(x, 3), wrt=[w])
        assert_c_matches(grad, [[-4.5, 2.0], [4.5, -1.0], [-3.0, 1.0]], tmp_path)

    def test_matrix_layer(self, tmp_path, rng):
        loss, weights = matrix_layer((3, 4))
        grad = sg.gradient(loss, wrt=weights)
        f = grad.lambdify()
        assert_c_matches(grad, [matrix_values(f, rng) for _ in range(4)], tmp_path)

    def test_batch_network(self, tmp_path, rng):
        grad = batch_network()
        f = grad.lambdify()
        assert_c_matches(grad, [matrix_values(f, rng) for _ in range(4)], tmp_path)

    def test_layout_comment(self):
        source = batch_network(n=5, d=3, h=4).source("c")
        header = " ".join(source[: source.index("*/")].split())
        args = [s.name for s in batch_network().lambdify().args]
        assert args == ["X", "Y", "W1", "b1", "w2"]
        for row in [
            "args: 40 doubles",
            "[0..14] X, 5x3 row-major",
            "[15..19] Y, 5x1 row-major",
            "[36..39] w2, 4x1 row-major",
            "out: 21 doubles",
            "[0] L, the value",
            "[1..12] dL/dW1, 4x3 row-major",
            "[17..20] dL/dw2, 4x1 row-major",
            "returns 0 when every output is finite, 1 when",
        ]:
            assert row in header

    def test_symbolic_size_is_refused(self):
        n = sp.Symbol("n", integer=True, positive=True)
        X, v = sp.MatrixSymbol("X", n, 2), sp.MatrixSymbol("v", 2, 1)
        grad = sg.gradient(SumEntries((X * v).applyfunc(sp.tanh)), wrt=[v])
        with pytest.raises(GraphError, match=r"C source needs fixed sizes: X is n×2"):
            grad.source("c")

    def test_non_finite_result_returns_1(self, tmp_path):
        grad = sg.gradient(sp.log(w) * x, wrt=[w])
        f = grad.lambdify()
        fn = compile_c(grad.source("c"), tmp_path)
        assert call_c(fn, f, [1.0, 2.0])[0] == 0
        assert call_c(fn, f, [1.0, -1.0])[0] == 1  # nan
        assert call_c(fn, f, [1.0, 0.0])[0] == 1  # -inf, and 1/0

    def test_wide_sum_has_bounded_lines(self, tmp_path, rng):
        xs = sp.symbols("x0:2000", real=True)
        grad = sg.gradient(sp.Add(*(sp.sin(w * xi) for xi in xs)), wrt=[w])
        source = grad.source("c")
        assert max(map(len, source.splitlines())) <= 1200
        f = grad.lambdify()
        assert_c_matches(grad, [list(rng.uniform(-1, 1, size=len(f.args)))], tmp_path)

    @pytest.mark.parametrize("name", ['x); system("rm', "__import__", "main", "double", "*/"])
    def test_hostile_names_never_appear(self, name, tmp_path, rng):
        z = sp.Symbol(name, real=True)
        grad = sg.gradient(sp.tanh(w * z) + z**2, wrt=[w])
        source = grad.source("c")
        if name not in ("main", "double", "*/"):
            assert name not in source
        assert source.count("*/") == 1
        assert_c_matches(grad, [list(rng.normal(size=2)) for _ in range(3)], tmp_path)

    def test_function_without_c_form_is_named(self):
        grad = sg.gradient(sp.besselj(0, w * x), wrt=[w])
        with pytest.raises(
            GraphError, match="cannot compile node L = besselj.*: no C form for 'besselj'"
        ):
            grad.source("c")

    def test_matrix_function_without_c_form_is_named(self):
        A = sp.MatrixSymbol("A", 2, 2)
        grad = sg.gradient(sp.Determinant(A), wrt=[A])
        with pytest.raises(GraphError, match="Determinant"):
            grad.source("c")

    def test_undefined_function_name_never_printed(self):
        system = sp.Function("system")
        grad = sg.gradient(system(w), wrt=[w])
        with pytest.raises(GraphError, match="cannot compile"):
            grad.source("c")
