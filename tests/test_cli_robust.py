"""The command line never shows a traceback, never hangs on output, never lies (issue 9).

Every refusal is one ``symgraph: error:`` line on stderr with exit status 2,
handled at its cause (never by the last-resort "internal error" handler).
Oracles: the documented conventions at kinks (docs/numerics.md), limits of
the true derivative (``1/x`` at 0+), central differences of a chain in
floats, and the constants the options are documented with.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from test_cli import run  # main(argv) in-process -> (status, stdout, stderr)

from symgraph.cli import MAX_CHECK_ENTRIES
from symgraph.core.sizes import PRINT_MAX_NODES
from symgraph.errors import SymgraphError
from symgraph.numeric.simplify import DEFAULT_BUDGET
from symgraph.present.cli_output import MAX_MESSAGE_CHARS, printable, read_text
from symgraph.present.explain import explain

x = sp.Symbol("x", real=True)


def refusal(argv, capsys) -> str:
    """The one refusal line of ``argv`` (exit 2, handled at its cause)."""
    status, _, err = run(argv, capsys)
    lines = err.splitlines()
    assert status == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("symgraph: error:"), err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


class TestRefusedAtTheCause:
    @pytest.mark.parametrize(
        "argv",
        [
            ["grad", "gamma(1600)*x", "--wrt", "x"],
            ["grad", "2**9999*2**9999*x", "--wrt", "x"],
            ["grad", "x**1e400", "--wrt", "x", "--check"],
            ["grad", "exp(10**999)*x", "--wrt", "x", "--check"],
            ["explain", "x*10**400", "--wrt", "x", "--at", "x=1"],
        ],
    )
    def test_number_beyond_a_float(self, argv, capsys):
        assert "too large for a float" in refusal(argv, capsys)

    @pytest.mark.parametrize("budget", ["inf", "nan", "-1", "0", "-inf", "soon", "1e999"])
    def test_budget(self, budget, capsys):
        argv = ["grad", "x**2", "--wrt", "x", "--simplify", "thorough", "--budget", budget]
        assert "--budget" in refusal(argv, capsys)

    def test_budget_default_is_stated_in_help(self, capsys):
        status, out, _ = run(["grad", "--help"], capsys)
        assert status == 0
        assert f"default: {DEFAULT_BUDGET:g} s" in " ".join(out.split())

    @pytest.mark.parametrize("output", ["/nonexistent/g.dot", "/nonexistent/g.svg"])
    def test_output_cannot_be_written(self, output, capsys):
        line = refusal(["draw", "w*x", "--wrt", "w", "-o", output], capsys)
        assert "cannot write" in line or "dot failed" in line

    @pytest.mark.parametrize(
        "content, fragment",
        [
            ("L = x*é\n".encode("latin-1"), "not UTF-8"),
            ("L = x*y\n".encode("utf-16"), "UTF-16"),
            (bytes(np.random.default_rng(9).integers(128, 256, 300, dtype=np.uint8)), "UTF-8"),
            (b"L = x\x00*y\n", "NUL"),
            (b"", "empty"),
        ],
    )
    def test_file_that_is_not_utf8_text(self, tmp_path, content, fragment, capsys):
        path = tmp_path / "model.txt"
        path.write_bytes(content)
        assert fragment in refusal(["grad", "--file", str(path)], capsys)

    @pytest.mark.parametrize("path", ["/dev/urandom", "/nonexistent/model.txt", "/"])
    def test_file_that_cannot_be_read(self, path, capsys):
        assert "--file" in refusal(["grad", "--file", path], capsys)

    def test_utf8_with_a_byte_order_mark_is_read(self, tmp_path):
        path = tmp_path / "model.txt"
        path.write_bytes("\ufeffL = w*x\n".encode())
        assert read_text(str(path)) == "L = w*x\n"

    def test_singular_matrix_at_the_point(self, capsys):
        argv = ["explain", "det(W)", "--matrix", "W=2x2", "--wrt", "W", "--at", "W=[[0,0],[0,0]]"]
        assert "singular" in refusal(argv, capsys).lower()

    @pytest.mark.parametrize(
        "argv",
        [
            ["grad", "1" * 5000 + "*x", "--wrt", "x"],
            ["grad", "x" * 5000, "--wrt", "x"],
            ["grad", "w*x", "--wrt", "w" * 5000],
            ["grad", "w*x", "--wrt", "w", "--simplify", "--budget", "9" * 5000],
            ["explain", "w*x", "--wrt", "w", "--at", "w=" + "9" * 5000 + ",x=1"],
            ["grad", "w*x", "--matrix", "W=" + "9" * 5000 + "x2"],
            ["draw", "w*x", "--wrt", "w", "-o", "/nonexistent/" + "d" * 5000 + ".dot"],
            ["grad", "--file", "/nonexistent/" + "f" * 5000],
        ],
    )
    def test_refusal_does_not_echo_a_huge_input(self, argv, capsys):
        line = refusal(argv, capsys)
        assert len(line) < 2 * MAX_MESSAGE_CHARS + 100, line[:300]


@pytest.mark.parametrize("power", [70, 300, 308])
def test_check_of_a_large_integer_coefficient(power, capsys):
    """10**300*x fits a float: its gradient is checked (it was an object array: TypeError)."""
    status, out, err = run(["grad", f"10**{power}*x", "--wrt", "x", "--check"], capsys)
    assert status == 0 and err == ""
    assert "cross-check at 3 points: ok" in out


class TestExplainFollowsTheCompiledConventions:
    """At a kink, the walkthrough's numbers are the compiled gradient's: no NaN, no 'differs'."""

    @pytest.mark.parametrize(
        "expr, expected",  # docs/numerics.md: DiracDelta → 0, sign(0) = 0; limits at 0+
        [
            (sp.Heaviside(x), 0.0),
            (x * sp.sign(x), 0.0),
            (sp.Abs(x), 0.0),
            (sp.Piecewise((sp.sqrt(x), x > 0), (0, True)), 0.0),  # the branch not taken
            (sp.Piecewise((sp.log(x), x > 0), (0, True)), 0.0),
            (sp.Piecewise((x**2, x < 1), (sp.sqrt(x - 2), True)), 0.0),
            (sp.log(x), math.inf),
            (1 / x, -math.inf),
        ],
    )
    def test_numbers_at_zero(self, expr, expected):
        import symgraph as sg

        grad = sg.gradient(expr, wrt=[x])
        walk = explain(grad, x, at={"x": 0.0})
        _, (compiled,) = grad.lambdify()(x=0.0)
        assert walk.sum_value == expected == float(compiled)
        assert walk.deltas[-1].value == expected
        assert walk.agrees
        assert "differs" not in walk.text()

    @pytest.mark.parametrize("expr", ["Heaviside(x)", "x*sign(x)", "x*log(x)", "1/x", "log(x)"])
    def test_cli_at_zero(self, expr, capsys):
        status, out, err = run(["explain", expr, "--wrt", "x", "--at", "x=0"], capsys)
        assert status == 0 and err == ""
        assert "agrees" in out and "differs" not in out

    def test_cli_branch_not_taken(self, capsys):
        expr = "Piecewise((sqrt(x), x > 0), (0, True))"
        status, out, _ = run(["explain", expr, "--wrt", "x", "--at", "x=-1"], capsys)
        assert status == 0
        (line,) = [ln for ln in out.splitlines() if ln.startswith("sum over")]
        assert "= 0 = dx" not in line and " = 0 = ∂L/∂x (compiled gradient: 0, agrees)" in line

    @pytest.mark.parametrize(
        "expr, label",
        [("Heaviside(x)", "DiracDelta(x) = 0"), ("log(x)", "1/x = inf"), ("Abs(x)", "= 0")],
    )
    def test_draw_at_zero(self, tmp_path, expr, label, capsys):
        path = tmp_path / "g.dot"
        status, _, err = run(["draw", expr, "--wrt", "x", "--at", "x=0", "-o", str(path)], capsys)
        assert status == 0, err
        edges = [ln for ln in path.read_text().splitlines() if "->" in ln]
        assert any(label in ln for ln in edges), edges
        assert not any("nan" in ln.lower() or "zoo" in ln for ln in edges), edges


def chain_file(tmp_path, depth: int):
    lines = ["z1 = tanh(w*x + b)"]
    lines += [f"z{k} = tanh(w*z{k - 1} + b)" for k in range(2, depth + 1)]
    lines.append(f"L = z{depth}**2")
    path = tmp_path / "chain.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def chain_value(w, x, b, depth):
    z = math.tanh(w * x + b)
    for _ in range(depth - 1):
        z = math.tanh(w * z + b)
    return z**2


class TestOutputIsBounded:
    def test_deep_chain_prints_the_delta_equations(self, tmp_path, capsys):
        depth = 120  # the closed form nests about 360 levels
        path = chain_file(tmp_path, depth)
        status, out, err = run(["grad", "--file", str(path), "--wrt", "w", "b"], capsys)
        assert status == 0, err
        assert re.search(r"note: the closed form of ∂L/∂\w+ is too big to print", out)
        # evaluate the printed structured form in order, then compare with central differences
        point = {"w": 0.7, "x": 0.3, "b": -0.2}
        values = {sp.Symbol(k): v for k, v in point.items()}
        found = {}
        for line in out.splitlines():
            match = re.fullmatch(r"(∂L/∂)?(\w+) = (.+)", line)
            if match is None or line.startswith(("graph:", "expression:", "note:")):
                continue
            total, lhs, rhs = match.groups()
            value = float(sp.sympify(rhs).xreplace(values))
            if total:
                found[lhs] = value
            else:
                values[sp.Symbol(lhs)] = value
        h = 1e-6
        for name in ("w", "b"):
            up, down = dict(point), dict(point)
            up[name] += h
            down[name] -= h
            numeric = (chain_value(depth=depth, **up) - chain_value(depth=depth, **down)) / (2 * h)
            assert found[name] == pytest.approx(numeric, rel=1e-6, abs=1e-9)

    def test_wide_product_is_cut_with_a_reason(self, capsys):
        names = [f"x{k}" for k in range(250)]
        status, out, _ = run(["grad", "*".join(names)], capsys)
        assert status == 0
        assert re.search(r"note: the closed form of ∂L/∂\w+ is too big to print", out)
        assert len(out) < 400_000  # the closed forms alone are 250 × 250 factors

    def test_explain_of_a_deep_chain_is_bounded_and_checked(self, tmp_path, capsys):
        depth = 150  # 150 paths from w, each about 450 steps long
        path = chain_file(tmp_path, depth)
        argv = ["explain", "--file", str(path), "--wrt", "w", "--at", "w=0.7,x=0.3,b=-0.2"]
        status, out, _ = run(argv, capsys)
        assert status == 0
        assert len(out) < 400_000
        assert f"of {depth} paths" in out and "agrees" in out and "differs" not in out

    def test_small_gradients_still_print_closed_forms(self, capsys):
        status, out, _ = run(["grad", "w*x + b", "--wrt", "w", "b"], capsys)
        assert status == 0 and "note:" not in out
        assert "∂L/∂w = x" in out.splitlines() and "∂L/∂b = 1" in out.splitlines()

    @pytest.mark.parametrize("n", [300, 30000])
    def test_matrix_check_is_bounded(self, n, capsys):
        argv = ["grad", "trace(W @ x @ x.T)", "--matrix", f"W={n}x{n}", f"x={n}x1"]
        line = refusal([*argv, "--wrt", "W", "--check"], capsys)
        assert "--check" in line and str(MAX_CHECK_ENTRIES) in line

    def test_matrix_check_below_the_limit_runs(self, capsys):
        argv = ["grad", "trace(W @ x @ x.T)", "--matrix", "W=3x3", "x=3x1", "--wrt", "W"]
        status, out, err = run([*argv, "--check"], capsys)
        assert status == 0, err
        assert "ok" in out

    def test_shared_subexpressions_count_as_printed(self):
        e = x
        for _ in range(40):  # a DAG of 121 nodes, printed as a tree of 3·2**40 - 2
            e = sp.Add(e, sp.sin(e), evaluate=False)
        fits, counted = printable([e])  # counted up to the limit, never 2**40 steps
        assert not fits and counted == PRINT_MAX_NODES + 1


class TestLastResort:
    def test_unexpected_exception_is_one_line(self, monkeypatch, capsys):
        from symgraph import cli

        def broken(args):
            raise ZeroDivisionError("x" * 10_000)

        monkeypatch.setitem(cli.COMMANDS, "grad", broken)
        status, out, err = run(["grad", "w*x"], capsys)
        assert status == 2
        (line,) = err.splitlines()
        assert line.startswith("symgraph: internal error: ZeroDivisionError")
        assert "please report" in line and len(line) < 400

    def test_symgraph_error_is_not_internal(self, monkeypatch, capsys):
        from symgraph import cli

        def refused(args):
            raise SymgraphError("a reason\nover two lines")

        monkeypatch.setitem(cli.COMMANDS, "grad", refused)
        assert refusal(["grad", "w*x"], capsys) == "symgraph: error: a reason over two lines"


@pytest.mark.parametrize(
    "argv",
    [
        ["grad", "gamma(1600)*x", "--wrt", "x"],
        ["grad", "x", "--wrt", "x", "--simplify", "--budget", "inf"],
        ["draw", "x", "--wrt", "x", "-o", "/nonexistent/g.dot"],
        ["grad", "--file", "/dev/urandom"],
        ["grad", "trace(W @ W)", "--matrix", "W=30000x30000", "--wrt", "W", "--check"],
    ],
)
def test_real_process(argv):
    result = subprocess.run(
        [sys.executable, "-m", "symgraph", *argv],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


class TestBoundedUsageAndDrawings:
    def test_a_long_argument_is_not_echoed_back(self, capsys):
        line = refusal(["grad", "-" * 100_000 + "x"], capsys)  # argparse's own refusal
        assert len(line) < 300

    def test_a_drawing_too_big_to_lay_out_is_refused_before_graphviz_runs(self, capsys):
        from symgraph.present.draw import MAX_RENDERED_NODES

        expr = "+".join(f"sin(w*x{k})" for k in range(MAX_RENDERED_NODES // 2))
        line = refusal(["draw", expr, "--wrt", "w", "-o", "g.svg"], capsys)
        assert "write -o graph.dot" in line

    def test_the_same_graph_is_written_as_dot(self, tmp_path, capsys):
        expr = "+".join(f"sin(w*x{k})" for k in range(800))
        path = tmp_path / "g.dot"
        status, out, err = run(["draw", expr, "--wrt", "w", "-o", str(path)], capsys)
        assert status == 0, err
        assert path.read_text().startswith("digraph symgraph {")
