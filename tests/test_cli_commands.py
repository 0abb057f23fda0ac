"""The draw and explain commands, and models read from a file of assignments."""

import shutil

import pytest
import sympy as sp

from symgraph.cli import EXIT_OK, EXIT_REFUSED, main

MODEL = "z1 = w*x + b\na1 = tanh(z1)\nL = (a1 - y)**2\n"


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def test_assignments_file_gives_the_named_structured_gradient(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text(MODEL)
    status, out, _ = run(["grad", "--file", str(model), "--wrt", "w", "--structured"], capsys)
    assert status == EXIT_OK
    assert "delta_z1 = delta_a1*(1 - a1**2)" in out
    w, x, b, y = sp.symbols("w x b y", real=True)
    printed = out.split("dL/dw = ")[1].splitlines()[0]
    expected = sp.diff((sp.tanh(w * x + b) - y) ** 2, w)
    names = {"w": w, "x": x, "b": b, "y": y, "tanh": sp.tanh}
    assert sp.simplify(sp.sympify(printed, locals=names) - expected) == 0  # test-side oracle


@pytest.mark.parametrize(
    "content, message",
    [
        ("z1 = __import__('os')\n", "error"),
        ("z1 = w*x\nz1 = 2\n", "error"),
        ("x" * 2_000_000, "larger"),
    ],
)
def test_hostile_or_bad_files_are_refused(tmp_path, capsys, content, message):
    model = tmp_path / "model.txt"
    model.write_text(content)
    status, _, err = run(["grad", "--file", str(model)], capsys)
    assert status == EXIT_REFUSED and message in err and len(err.splitlines()) == 1


def test_expression_and_file_together_or_neither(tmp_path, capsys):
    assert run(["grad"], capsys)[0] == EXIT_REFUSED
    model = tmp_path / "m.txt"
    model.write_text(MODEL)
    assert run(["grad", "w*x", "--file", str(model)], capsys)[0] == EXIT_REFUSED
    assert run(["grad", "--file", str(tmp_path / "missing.txt")], capsys)[0] == EXIT_REFUSED


def test_draw_dot_has_values_adjoints_and_the_highlighted_path(tmp_path, capsys):
    out_file = tmp_path / "g.dot"
    argv = ["draw", "(tanh(w*x + b) - y)**2", "-o", str(out_file)]
    argv += ["--at", "x=0.5,y=0.3,w=2,b=-0.5", "--highlight", "w"]
    status, out, _ = run(argv, capsys)
    assert status == EXIT_OK and "wrote" in out
    dot = out_file.read_text()
    assert "value 0.02628" in dot and "δ 0.1275" in dot and "#c0392b" in dot


def test_draw_svg(tmp_path, capsys):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    out_file = tmp_path / "g.svg"
    status, _, _ = run(["draw", "sin(w*x)", "-o", str(out_file)], capsys)
    assert status == EXIT_OK and "<svg" in out_file.read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["draw", "w*x", "-o", "g.gif"],
        ["draw", "w*x", "-o", "g.dot", "--at", "w=1"],
        ["draw", "w*x", "-o", "g.dot", "--at", "w=__import__('os')"],
        ["draw", "w*x", "-o", "g.dot", "--highlight", "q"],
        ["explain", "w*x"],
    ],
)
def test_draw_and_explain_refusals(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(argv, capsys)
    assert (
        status == EXIT_REFUSED and err.startswith("symgraph: error") and len(err.splitlines()) == 1
    )


def test_explain_walks_the_chain_rule_with_the_numbers(capsys):
    argv = ["explain", "(tanh(w*x + b) - y)**2", "--wrt", "w", "--at", "x=0.5,y=0.2,w=1,b=0.1"]
    status, out, _ = run(argv, capsys)
    assert status == EXIT_OK
    assert "path 1: w → v2 → v3 → v4 → v5 → L" in out
    t = sp.tanh(0.6)
    expected = 2 * (t - 0.2) * (1 - t**2) * 0.5  # the derivative by hand
    assert f"{float(expected):.6g}" in out and "agrees" in out


def test_explain_latex_and_markdown(capsys):
    for fmt, marker in (("latex", "\\begin{align*}"), ("markdown", "**")):
        status, out, _ = run(["explain", "sin(w*x)", "--wrt", "w", "--format", fmt], capsys)
        assert status == EXIT_OK and marker in out


@pytest.mark.parametrize("text", ["x/0", "sqrt(-1)*x", "log(0)*x", "x**2/0 + 1"])
def test_expressions_that_are_not_finite_real_functions_are_refused(text, capsys):
    status, _, err = run(["grad", text, "--check"], capsys)
    assert status == EXIT_REFUSED and "not a finite real function" in err
    assert len(err.splitlines()) == 1
