"""The draw and explain commands, and models read from a file of assignments."""

import shutil

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.cli import EXIT_OK, EXIT_REFUSED, main
from symgraph.present.latex import paper_text

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
    printed = out.split("∂L/∂w = ")[1].splitlines()[0]
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


# --- matrices: --matrix NAME=RxC ---

W, xm, ym = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
SHAPES = ["--matrix", "W=2x3", "x=3x1", "y=2x1"]


def printed_partial(out: str, name: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith(f"∂L/∂{name} = ")]
    return line.split(" = ", 1)[1]


def test_matrix_least_squares_prints_the_matrix_gradient(capsys):
    r = W * xm - ym
    expected = sg.gradient(sp.Trace(r.T * r), wrt=[W])[W]  # built from SymPy objects
    status, out, err = run(
        ["grad", "trace((W@x - y).T @ (W@x - y))", "--wrt", "W", *SHAPES], capsys
    )
    assert status == EXIT_OK and err == ""
    assert printed_partial(out, "W") == paper_text(expected)
    assert sp.simplify((expected - 2 * (W * xm - ym) * xm.T).as_explicit()) == sp.zeros(2, 3)


def test_matrix_tanh_layer_with_check_latex_and_simplify(capsys):
    r = (W * xm).applyfunc(sp.tanh) - ym
    expected = sg.gradient(sp.Trace(r.T * r), wrt=[W])
    argv = ["grad", "trace((tanh(W*x) - y).T * (tanh(W*x) - y))", "--wrt", "W", *SHAPES]
    status, out, _ = run([*argv, "--check", "--latex", "--simplify", "--structured"], capsys)
    assert status == EXIT_OK
    assert printed_partial(out, "W") == paper_text(expected[W])
    assert "cross-check at 3 points: ok" in out and "FAIL" not in out
    assert expected.latex() in out and expected.latex(form="structured") in out
    assert r"\frac{\partial L}{\partial W}" in out and r"x^{\top}" in out


def test_matrix_symbolic_sizes_from_a_file(tmp_path, capsys):
    model = tmp_path / "model.txt"
    model.write_text("R = X @ w - Y\nL = trace(R.T @ R)/n\n")
    argv = ["grad", "--file", str(model), "--wrt", "w", "--check"]
    status, out, _ = run([*argv, "--matrix", "X=nxd", "w=dx1", "Y=nx1"], capsys)
    assert status == EXIT_OK
    n, d = sp.symbols("n d", integer=True, positive=True)
    X, w, Y = sp.MatrixSymbol("X", n, d), sp.MatrixSymbol("w", d, 1), sp.MatrixSymbol("Y", n, 1)
    expected = sg.gradient(sp.Trace((X * w - Y).T * (X * w - Y)) / n, wrt=[w])[w]
    assert printed_partial(out, "w") == paper_text(expected) == "(2/n)*Xᵀ*(X*w - Y)"
    assert "ok" in out


def test_matrix_draw_writes_the_matrix_graph(tmp_path, capsys):
    out_file = tmp_path / "g.dot"
    argv = ["draw", "sum(softmax(W @ x))", "-o", str(out_file), "--highlight", "W", *SHAPES[:3]]
    status, out, _ = run(argv, capsys)
    assert status == EXIT_OK and "wrote" in out
    dot = out_file.read_text()
    assert "2×3" in dot and "softmax" in dot.lower()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["grad", "sum(W @ x)", "--matrix", "W=2x3", "x=3"], "not NAME=ROWSxCOLS"),
        (["grad", "sum(W @ x)", "--matrix", "W=0x3", "x=3x1"], "between 1 and"),
        (["grad", "sum(W @ x)", "--matrix", "W=2x3", "W=2x2"], "declared twice"),
        (["grad", "sum(W @ x)", "--matrix", "W=2x__x", "x=3x1"], "--matrix"),
        (["grad", "--matrix", "W=2x2", "trace(W)"], "put the expression before --matrix"),
        (
            ["grad", "sum(W @ y)", *SHAPES],
            "shapes do not match in the product W * y: 2x3 times 2x1",
        ),
        (["grad", "W @ x", *SHAPES], "reduce it with trace(...) or sum(...)"),
        (["grad", "sum(W.__class__)", *SHAPES], "attribute access is not allowed"),
        (["grad", "sum(W @ x)", "--wrt", "z", *SHAPES], "does not appear"),
        (["grad", "trace(X.T @ X)", "--wrt", "n", "--matrix", "X=nx2"], "matrix size"),
        (["draw", "sum(W @ x)", "-o", "g.dot", "--at", "x=1", *SHAPES[:3]], "--at"),
        (
            [
                "draw",
                "sum(W @ x)",
                "-o",
                "g.dot",
                "--at",
                "W=[[1,2],[3,4]],x=[[1],[2],[3]]",
                *SHAPES[:3],
            ],
            "W has shape (2, 3); got an array of shape (2, 2)",
        ),
        (
            ["draw", "sum(W @ x)", "-o", "g.dot", "--at", "W=[[__import__('os')]]", *SHAPES[:3]],
            "only numbers",
        ),
        (
            ["draw", "sum(W @ x)", "-o", "g.dot", "--at", "W=[[1,2,3],[4,5]]", *SHAPES[:3]],
            "different lengths",
        ),
    ],
)
def test_matrix_refusals(argv, fragment, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(argv, capsys)
    assert status == EXIT_REFUSED and err.startswith("symgraph: error") and fragment in err
    assert len(err.splitlines()) == 1 and out == ""


def test_matrix_draw_at_a_point_shows_values_and_adjoints(tmp_path, capsys):
    out_file = tmp_path / "g.dot"
    at = "X=[[1, 2], [3, 4], [5, 6]]"  # n = 3 from the value's shape
    argv = ["draw", "trace(X.T @ X)/n", "-o", str(out_file), "--matrix", "X=nx2", "--at", at]
    status, out, _ = run(argv, capsys)
    assert status == EXIT_OK and "wrote" in out
    dot = out_file.read_text()
    # δ_X = 2X/n, value of tr(XᵀX) = 91: computed here by hand
    assert "value 91" in dot and "[[35., 44.], [44., 56.]]" in dot
    X = np.array([[1.0, 2], [3, 4], [5, 6]])
    assert f"‖·‖ {np.linalg.norm(2 * X / 3):.4g}" in dot


def test_matrix_explain_at_a_point_walks_the_delta_form(capsys):
    at = "W=[[1,2,3],[4,5,6]], x=[[0.1],[0.2],[0.3]], y=[[0],[1]]"
    loss = "trace((tanh(W@x) - y).T @ (tanh(W@x) - y))"
    status, out, _ = run(["explain", loss, "--wrt", "W", *SHAPES, "--at", at], capsys)
    assert status == 0
    assert "by backpropagation through matrix nodes" in out
    assert "δ_W   2×3 = δ_v1*xᵀ" in out and "[2×1 · 1×3 → 2×3]" in out
    assert out.rstrip().endswith("agrees)")
    status, out, _ = run(["explain", loss, "--wrt", "W", *SHAPES, "--format", "latex"], capsys)
    assert status == 0 and r"\in \mathbb{R}^{2 \times 3}" in out


def test_max_terms_sets_where_closed_forms_give_way_to_the_structured_form(capsys):
    loss = "(tanh(w*x + b) - y)**2"
    status, out, _ = run(["grad", loss, "--wrt", "w", "b", "--no-progress"], capsys)
    assert status == EXIT_OK
    w, x, b, y = sp.symbols("w x b y", real=True)
    expected = sg.gradient((sp.tanh(w * x + b) - y) ** 2, wrt=[w])[w]  # the closed form
    assert f"∂L/∂w = {expected}" in out
    status, out, _ = run(["grad", loss, "--wrt", "w", "b", "--max-terms", "3"], capsys)
    assert status == EXIT_OK
    assert "exceed 3 nodes" in out and "delta_v2 = " in out and "∂L/∂w = delta_w" in out
    with pytest.raises(SystemExit) as refused:  # argparse's own exit
        main(["grad", loss, "--max-terms", "0"])
    err = capsys.readouterr().err
    assert refused.value.code == EXIT_REFUSED and "--max-terms" in err
    assert len(err.strip().splitlines()) == 1
