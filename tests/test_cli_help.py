"""The command line's help: plain text, every option explained with its default, examples that run.

Oracles: the parser's own list of options (each must have help, each default
must be stated), the printed help (no reST markup), and the examples
themselves, each run through ``main`` in a scratch directory (exit 0, the file
it names written).
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil

import pytest
from test_cli import run  # main(argv) -> (status, stdout, stderr)

from symgraph.cli import COMMANDS, EXIT_OK, EXIT_REFUSED, build_parser

MAX_LINE = 150  # characters of a refusal that says what to do


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


HELPS = {"symgraph": build_parser().format_help()} | {
    name: p.format_help() for name, p in subparsers().items()
}


class TestHelpText:
    def test_every_command_has_a_help_page(self):
        assert set(subparsers()) == set(COMMANDS)

    @pytest.mark.parametrize("name", list(HELPS))
    def test_no_rest_markup(self, name):
        assert "``" not in HELPS[name]
        assert ":func:" not in HELPS[name] and ":mod:" not in HELPS[name]

    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_every_option_has_help(self, name):
        for action in options(subparsers()[name]):
            assert action.help and action.help != argparse.SUPPRESS, action.option_strings

    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_every_default_is_stated(self, name):
        """An option with a default, or one that is off unless given, says so."""
        for action in options(subparsers()[name]):
            if not action.option_strings or isinstance(action, argparse._StoreTrueAction):
                continue  # the expression; a flag's default is its absence
            if action.dest == "file":
                assert "instead of EXPR" in action.help  # the alternative to the expression
                continue
            assert "default" in action.help or action.required, action.option_strings

    def test_stated_defaults_are_the_real_ones(self):
        grad = " ".join(HELPS["grad"].split())
        assert "(default: 5 s)" in grad and "(default: 10000)" in grad
        assert "(default: text)" in " ".join(HELPS["explain"].split())
        explain = {a.dest: a.default for a in options(subparsers()["explain"])}
        assert explain["format"] == "text"

    @pytest.mark.parametrize("name", list(HELPS))
    def test_examples_are_shown(self, name):
        assert "examples:" in HELPS[name]
        assert examples(HELPS[name])

    def test_grad_help_lists_the_functions(self):
        for function in ("tanh", "sigmoid", "softplus", "Heaviside", "trace", "softmax"):
            assert re.search(rf"\b{function}\b", HELPS["grad"]), function

    def test_the_top_level_names_each_command_on_one_line(self):
        lines = HELPS["symgraph"].splitlines()
        for name in COMMANDS:
            assert any(re.match(rf"^\s+{name}\s+\S", line) for line in lines), name


class TestBareSymgraph:
    def test_prints_the_help_and_exits_2(self, capsys):
        status, out, err = run([], capsys)
        assert status == EXIT_REFUSED
        assert out.startswith("usage: symgraph")
        assert "examples:" in out and all(name in out for name in COMMANDS)
        (line,) = err.splitlines()  # the usual one-line refusal, on standard error
        assert line == "symgraph: error: choose a command: grad, draw, explain, view"

    def test_help_itself_exits_0(self, capsys):
        status, out, _ = run(["--help"], capsys)
        assert status == EXIT_OK
        assert out == HELPS["symgraph"]


class TestMatrixSyntaxWithoutMatrix:
    @pytest.mark.parametrize(
        ("argv", "what"),
        [
            (["grad", "sum(W @ x)"], "sum() needs declared matrices"),
            (["grad", "(W @ x)[0]"], None),  # a subscript: refused for what it is
            (["grad", "y*(W @ x)"], "'@' needs declared matrices"),
            (["grad", "trace(W.T*W)"], "trace() needs declared matrices"),
            (["grad", "w*W.T"], "'.T' needs declared matrices"),
            (["explain", "norm(W)", "--wrt", "W"], "norm() needs declared matrices"),
            (["grad", "qux(W*x)"], "unknown function 'qux'"),
        ],
    )
    def test_one_short_line_that_says_to_declare_them(self, argv, what, capsys):
        status, out, err = run(argv, capsys)
        assert status == EXIT_REFUSED
        (line,) = err.splitlines()
        assert line.startswith("symgraph: error: ")
        assert len(line) < MAX_LINE, line
        if what is not None:
            assert what in line
            assert "--matrix W=2x3 x=3x1" in line
        assert "Abs Eq Heaviside" not in line  # never the whole list of functions

    def test_from_a_file_too(self, tmp_path, capsys):
        model = tmp_path / "model.txt"
        model.write_text("z = W @ x\nL = sum(z)\n")
        status, _, err = run(["grad", "--file", str(model)], capsys)
        assert status == EXIT_REFUSED
        assert err.strip() == (
            "symgraph: error: '@' needs declared matrices (line 1, column 5): "
            "add e.g. --matrix W=2x3 x=3x1"
        )

    def test_an_unknown_scalar_function_points_to_the_help(self, capsys):
        status, _, err = run(["grad", "qux(x)"], capsys)
        assert status == EXIT_REFUSED
        line = err.strip()
        assert line == (
            "symgraph: error: unknown function 'qux' (column 1); "
            "the functions are listed in symgraph grad --help"
        )

    def test_a_close_name_is_still_suggested(self, capsys):
        _, _, err = run(["grad", "sinn(w)"], capsys)
        assert "did you mean sin" in err and "--matrix" not in err

    def test_with_matrix_the_same_text_works(self, capsys):
        status, out, _ = run(
            ["grad", "sum(W @ x)", "--wrt", "W", "--matrix", "W=2x3", "x=3x1"], capsys
        )
        assert status == EXIT_OK
        assert "∂L/∂W" in out


def examples(help_text: str) -> list[list[str]]:
    """The example command lines of a help page, as argv lists (without ``symgraph``)."""
    found = []
    for line in help_text.splitlines():
        if line.startswith("  symgraph "):
            words = shlex.split(line)
            assert words[0] == "symgraph"
            found.append(words[1:])
    return found


def model_file(help_text: str) -> str:
    """The ``model.txt`` an example reads, as its help writes it (``#   name = expr`` lines)."""
    lines = re.findall(r"^\s+#\s{3}(\w+ = .+)$", help_text, re.MULTILINE)
    return "\n".join(lines) + "\n"


EXAMPLES = [(name, argv) for name, text in HELPS.items() for argv in examples(text)]


@pytest.mark.parametrize(
    ("page", "argv"), EXAMPLES, ids=[f"{page}:{' '.join(argv)[:60]}" for page, argv in EXAMPLES]
)
def test_every_example_runs(page, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if "--file" in argv:
        (tmp_path / argv[argv.index("--file") + 1]).write_text(model_file(HELPS[page]))
    output = argv[argv.index("-o") + 1] if "-o" in argv else None
    if output and not output.endswith((".dot", ".html")) and shutil.which("dot") is None:
        pytest.skip("Graphviz (dot) is not installed")
    status, out, err = run([*argv, "--no-progress"] if argv[0] == "grad" else argv, capsys)
    assert status == EXIT_OK, err
    assert err == ""
    assert out
    if output:
        assert (tmp_path / output).stat().st_size > 0
