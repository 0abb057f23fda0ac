"""Tests of the command line, symgraph.cli (in-process and as real processes).

Oracles: every printed partial is parsed back with SymPy here and compared
with ``sympy.diff`` of the loss at random points; the printed NumPy code is
executed and compared the same way; refusals are checked for the documented
contract (status 2, one ``symgraph: error`` line, no traceback, nothing run).
"""

from __future__ import annotations

import ctypes
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from symgraph.cli import EXIT_OK, EXIT_REFUSED, main

LOSS = "(tanh(w*x + b) - y)**2"
w, x, b, y = sp.symbols("w x b y", real=True)
LOSS_EXPR = (sp.tanh(w * x + b) - y) ** 2
PARTIAL_LINE = re.compile(r"^∂L/∂(\w+) = (.+)$")
GRAPH_LINE = re.compile(
    r"^graph: (\d+) nodes, (\d+) edges, (\d+) leaves, (\d+) operations, depth (\d+)$"
)
FAST = 10.0  # seconds: a refusal must come back well within this


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


def run(argv, capsys):
    """main(argv) in-process -> (status, stdout, stderr); argparse's SystemExit counts too."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def partials_from(out: str) -> dict[str, sp.Expr]:
    """The ``∂L/∂w = ...`` lines, parsed back with SymPy (real symbols)."""
    found = {}
    for line in out.splitlines():
        match = PARTIAL_LINE.match(line)
        if match:
            name, text = match.groups()
            names = set(re.findall(r"[A-Za-z_]\w*", text)) | {name}
            local = {n: sp.Symbol(n, real=True) for n in names if not hasattr(sp, n)}
            found[name] = sp.sympify(text, locals=local)
    return found


def assert_same_function(expr, oracle, symbols, rng, count=5):
    """expr == oracle numerically at random points (an independent evaluation)."""
    f = sp.lambdify(symbols, expr, "math")
    g = sp.lambdify(symbols, oracle, "math")
    for _ in range(count):
        point = rng.uniform(-2.0, 2.0, size=len(symbols))
        assert f(*point) == pytest.approx(g(*point), rel=1e-10, abs=1e-12), (expr, oracle, point)


class TestGradSuccess:
    def test_full_pipeline(self, capsys, rng):
        status, out, err = run(
            ["grad", LOSS, "--wrt", "w", "b", "--simplify", "--check", "--latex"], capsys
        )
        assert status == EXIT_OK
        assert err == ""
        lines = out.splitlines()

        graph = [GRAPH_LINE.match(line) for line in lines if line.startswith("graph:")]
        assert len(graph) == 1 and graph[0], out
        nodes, edges, leaves, operations, depth = map(int, graph[0].groups())
        assert leaves == len(LOSS_EXPR.free_symbols) == 4
        assert nodes == leaves + operations  # every node is a leaf or an operation
        assert edges == nodes - 1  # nothing is shared: the graph is a tree
        assert depth >= 2

        partials = partials_from(out)
        assert list(partials) == ["w", "b"]
        symbols = [w, x, b, y]
        for name, expr in partials.items():
            assert expr.free_symbols <= set(symbols)
            assert_same_function(expr, sp.diff(LOSS_EXPR, sp.Symbol(name, real=True)), symbols, rng)

        assert "cross-check at 3 points: ok" in lines
        assert "FAIL" not in out
        start, end = lines.index(r"\begin{align}"), lines.index(r"\end{align}")
        rows = [line for line in lines[start + 1 : end] if not line.startswith("&")]  # not broken
        heads = [row.split(" &= ")[0] for row in rows]
        assert heads == [r"\frac{\partial L}{\partial w}", r"\frac{\partial L}{\partial b}"]

    def test_python_prints_a_runnable_module(self, capsys, rng, tmp_path):
        status, out, _ = run(["grad", LOSS, "--wrt", "w", "b", "--python"], capsys)
        assert status == EXIT_OK
        path = tmp_path / "printed_by_symgraph.py"
        path.write_text(out[out.index('"""Value and gradient') :])
        fn = runpy.run_path(str(path))[
            "value_and_grad"
        ]  # our own test output, in a fresh namespace
        oracle = sp.lambdify(
            [x, y, w, b], [LOSS_EXPR, sp.diff(LOSS_EXPR, w), sp.diff(LOSS_EXPR, b)]
        )
        for _ in range(5):
            point = rng.uniform(-2.0, 2.0, size=4)  # inputs by name (x, y), then w, b
            value, (dw, db) = fn(*point)
            got = [float(v) for v in (value, dw, db)]
            assert got == pytest.approx([float(v) for v in oracle(*point)], rel=1e-10, abs=1e-12)

    @pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler (cc) on PATH")
    def test_c_prints_a_compilable_file(self, capsys, rng, tmp_path):
        status, out, _ = run(["grad", LOSS, "--wrt", "w", "b", "--c"], capsys)
        assert status == EXIT_OK
        (tmp_path / "grad.c").write_text(out[out.index("/* Value and gradient") :])
        library = tmp_path / "grad.so"
        command = ["cc", "-O2", "-shared", "-fPIC", "-o", library, tmp_path / "grad.c", "-lm"]
        subprocess.run(command, check=True, capture_output=True)
        fn = ctypes.CDLL(str(library)).symgraph_value_and_grad
        oracle = sp.lambdify(
            [x, y, w, b], [LOSS_EXPR, sp.diff(LOSS_EXPR, w), sp.diff(LOSS_EXPR, b)]
        )
        for _ in range(5):
            point = rng.uniform(-2.0, 2.0, size=4)
            result = np.zeros(3)
            pointer = ctypes.POINTER(ctypes.c_double)
            assert fn(point.ctypes.data_as(pointer), result.ctypes.data_as(pointer)) == 0
            assert list(result) == pytest.approx([float(v) for v in oracle(*point)], rel=1e-12)

    def test_c_refuses_symbolic_sizes_in_one_line(self, capsys):
        argv = ["grad", "sum(tanh(W*X))", "--wrt", "W", "--c", "--matrix", "W=2x3", "X=3xn"]
        status, _, err = run(argv, capsys)
        assert status == EXIT_REFUSED
        assert err.startswith("symgraph: error: C source needs fixed sizes: X is 3×n")
        assert len(err.splitlines()) == 1

    def test_structured_prints_delta_equations(self, capsys):
        status, out, _ = run(["grad", LOSS, "--wrt", "w", "b", "--structured"], capsys)
        assert status == EXIT_OK
        deltas = [line for line in out.splitlines() if line.startswith("delta_")]
        assert "delta_L = 1" in deltas
        assert any(line.startswith("delta_w = ") for line in deltas)
        assert any(line.startswith("delta_b = ") for line in deltas)
        # one δ-equation per node on a path to a weight: at most one per node
        assert len(deltas) == len({line.split(" = ")[0] for line in deltas})

    def test_fine_granularity_gives_the_same_partials(self, capsys, rng):
        _, op_out, _ = run(["grad", LOSS, "--wrt", "w", "b"], capsys)
        status, fine_out, _ = run(
            ["grad", LOSS, "--wrt", "w", "b", "--granularity", "fine"], capsys
        )
        assert status == EXIT_OK
        op, fine = partials_from(op_out), partials_from(fine_out)
        assert list(fine) == list(op) == ["w", "b"]
        for name in op:
            assert_same_function(fine[name], op[name], [w, x, b, y], rng)
            assert_same_function(
                fine[name], sp.diff(LOSS_EXPR, sp.Symbol(name, real=True)), [w, x, b, y], rng
            )

    def test_default_wrt_is_every_symbol_sorted(self, capsys, rng):
        status, out, _ = run(["grad", LOSS], capsys)
        assert status == EXIT_OK
        partials = partials_from(out)
        assert list(partials) == ["b", "w", "x", "y"]
        for name, expr in partials.items():
            assert_same_function(
                expr, sp.diff(LOSS_EXPR, sp.Symbol(name, real=True)), [w, x, b, y], rng
            )

    def test_version(self, capsys):
        status, out, _ = run(["--version"], capsys)
        assert status == 0
        assert out.startswith("symgraph ")


# A payload that, if anything were ever executed, would create this file.
PWNED = Path("/tmp") / f"symgraph_pwned_{uuid.uuid4().hex}"
TOUCH = f"__import__('os').system('touch {PWNED}')"

HOSTILE = {
    "attribute access": ["grad", "x.__class__"],
    "attribute chain": ["grad", "().__class__.__bases__[0].__subclasses__()"],
    "dunder name": ["grad", "__builtins__"],
    "lambda": ["grad", "(lambda: 1)() + x"],
    "subscript": ["grad", "x[0]"],
    "string": ["grad", "'abc'"],
    "unknown function": ["grad", "foo(x)"],
    "__import__ os": ["grad", "__import__('os')"],
    "__import__ payload": ["grad", TOUCH],
    "eval payload": ["grad", f'eval("{TOUCH}")'],
    "exec payload": ["grad", f'exec("{TOUCH}")'],
    "open payload": ["grad", f"open('{PWNED}', 'w')"],
    "huge power": ["grad", "9**9**9**9"],
    "huge literal": ["grad", "1" * 5000],
    "deep parentheses": ["grad", "(" * 5000 + "x" + ")" * 5000],
    "deep calls": ["grad", "sin(" * 1000 + "x" + ")" * 1000],
    "deep unary minus": ["grad", " " + "-" * 5000 + "x"],
    "deep powers": ["grad", "x**" * 1000 + "x"],
    "1 MB input": ["grad", "x+" * 500_000 + "x"],
    "empty": ["grad", ""],
    "blank": ["grad", "   "],
    "two statements": ["grad", "x; y"],
    "wrt keyword": ["grad", "w*x", "--wrt", "for"],
    "wrt dunder": ["grad", "w*x", "--wrt", "__x"],
    "wrt absent": ["grad", "w*x", "--wrt", "z"],
    "wrt payload": ["grad", "w*x", "--wrt", TOUCH],
    "wrt twice": ["grad", "w*x", "--wrt", "w", "w"],
    "wrt constant": ["grad", "w*x", "--wrt", "pi"],
    "wrt empty list": ["grad", "w*x", "--wrt"],
    "unknown flag": ["grad", "w*x", "--bogus"],
    "bad granularity": ["grad", "w*x", "--granularity", "coarse"],
    "missing expression": ["grad"],
    "missing command": [],
    "unknown command": ["integrate", "x"],
}


@pytest.fixture
def no_payload_ran():
    PWNED.unlink(missing_ok=True)
    yield
    ran = PWNED.exists()
    PWNED.unlink(missing_ok=True)
    assert not ran, "a payload in the input was executed"


class TestRefusals:
    @pytest.mark.parametrize("argv", list(HOSTILE.values()), ids=list(HOSTILE))
    def test_refused_with_one_line(self, argv, capsys, no_payload_ran):
        start = time.monotonic()
        status, out, err = run(argv, capsys)
        assert time.monotonic() - start < FAST
        assert status == EXIT_REFUSED
        assert "Traceback" not in out + err
        assert len(err.splitlines()) == 1, err
        assert err.startswith("symgraph: error"), err
        assert "∂L/∂" not in out

    def test_floor_differentiates_to_zero_where_the_derivative_exists(self, capsys):
        status, out, err = run(["grad", "w*floor(w)", "--check"], capsys)
        assert status == EXIT_OK, err
        assert "∂L/∂w = floor(w)" in out

    def test_check_on_atan2_does_not_crash(self, capsys):
        status, out, err = run(["grad", "atan2(w, x)", "--check"], capsys)
        assert status == EXIT_OK
        assert "cross-check at 3 points: ok" in out


def symgraph_script() -> str:
    beside = Path(sys.executable).with_name("symgraph")
    found = str(beside) if beside.exists() else shutil.which("symgraph")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("the symgraph console script is not installed")
        pytest.skip("the symgraph console script is not installed")
    return found


def run_process(command, cwd):
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


class TestRealProcesses:
    def test_python_m_success(self, tmp_path):
        result = run_process(
            [sys.executable, "-m", "symgraph", "grad", LOSS, "--wrt", "w", "b", "--check"], tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert "cross-check at 3 points: ok" in result.stdout.splitlines()

    @pytest.mark.parametrize(
        "argv",
        [
            ["grad", TOUCH],
            ["grad", "x.__class__"],
            ["grad", "w*x", "--wrt", "for"],
            ["grad", "x", "--nope"],
        ],
    )
    def test_python_m_refusal_status(self, argv, tmp_path, no_payload_ran):
        result = run_process([sys.executable, "-m", "symgraph", *argv], tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1
        assert result.stderr.startswith("symgraph: error")

    def test_console_script(self, tmp_path, no_payload_ran):
        script = symgraph_script()
        ok = run_process([script, "grad", "sin(w*x)", "--wrt", "w"], tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert f"∂L/∂w = {sp.diff(sp.sin(w * x), w)}" in ok.stdout.splitlines()
        refused = run_process([script, "grad", f"foo(x) + {TOUCH}"], tmp_path)
        assert refused.returncode == 2
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith("symgraph: error")
        assert len(refused.stderr.splitlines()) == 1
