"""Progress on long work: shown on standard error when asked for, never changing a result."""

import builtins
import sys

import sympy as sp

import symgraph as sg
from symgraph.cli import main
from symgraph.core import progress

w, x, b, y = sp.symbols("w x b y", real=True)
LOSS = (sp.tanh(w * x + b) - y) ** 2


def test_progress_shows_a_bar_and_changes_nothing(capsys):
    quiet = sg.gradient(LOSS, wrt=[w, b])
    shown = sg.gradient(LOSS, wrt=[w, b], progress=True)
    assert shown.equations == quiet.equations
    assert shown.closed_forms(progress=True) == quiet.closed_forms()
    err = capsys.readouterr().err
    assert "backward" in err and "closed forms" in err


def test_off_by_default(capsys):
    sg.Graph.from_expr(LOSS, wrt=[w]).backward().closed_forms()
    assert capsys.readouterr().err == ""


def test_without_tqdm_a_line_every_few_seconds(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name == "tqdm":
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    monkeypatch.setattr(progress, "EVERY", -1.0)  # every item
    assert list(progress.steps(range(3), 3, "work", enabled=True)) == [0, 1, 2]
    assert capsys.readouterr().err.splitlines() == ["work: 1/3", "work: 2/3", "work: 3/3"]


def test_the_command_line_shows_progress_only_on_a_terminal(monkeypatch, capsys):
    command = ["grad", "(tanh(w*x + b) - y)**2", "--wrt", "w", "b"]
    assert main(command) == 0
    assert capsys.readouterr().err == ""  # captured: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(command) == 0
    assert "backward" in capsys.readouterr().err
    assert main([*command, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
