"""Generated source is checked before it runs: labels SymPy prints raw cannot execute."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.codegen.ast import FunctionCall

import symgraph as sg
from symgraph.errors import NoRuleError, SymgraphError
from symgraph.numeric import source_check
from symgraph.numeric.compile import values_at
from symgraph.numeric.source_check import UnsafeSourceError, check_source

x, w = sp.symbols("x w", real=True)


def _payload(path) -> str:
    return f"__import__('os').system('touch {path}')"


# Expressions whose printed form carries a label as it is (SymPy's printers do not escape them).
LABELLED = {
    "IndexedBase label": lambda p: sp.IndexedBase(p)[0] * w * x,
    "FunctionCall name": lambda p: FunctionCall(p, [x]) * w,
    "Idx label": lambda p: sp.IndexedBase("A")[sp.Idx(p, 3)] * w,
    "Subs of an undefined function": lambda p: sp.Subs(sp.Function(p)(x), x, 2) * w,
}

ENTRIES = {
    "lambdify": lambda grad, at: grad.lambdify()(**at),
    "Graph.forward": lambda grad, at: grad.graph.forward(at),
    "values_at": lambda grad, at: values_at(grad, at),
    "check": lambda grad, at: sg.check(grad),
}


class TestLabelsNeverRun:
    @pytest.mark.parametrize("entry", ENTRIES)
    @pytest.mark.parametrize("label", LABELLED)
    def test_refused_before_anything_runs(self, tmp_path, label, entry):
        sentinel = tmp_path / "ran"
        expr = LABELLED[label](_payload(sentinel))
        with pytest.raises(SymgraphError) as refused:
            grad = sg.gradient(expr, wrt=[w])
            ENTRIES[entry](grad, {s.name: 1.5 for s in grad.graph.leaves})
        assert not sentinel.exists()
        assert len(str(refused.value).splitlines()) == 1
        assert len(str(refused.value)) < 300  # the payload is shown shortened, if at all

    @pytest.mark.parametrize("label", [*LABELLED, "Function name"])
    def test_a_label_with_newlines_is_refused_in_one_line(self, tmp_path, label):
        text = f"x\nopen('{tmp_path / 'ran'}', 'w')\n"
        make = LABELLED.get(label, lambda p: sp.Function(p)(w) * x)
        with pytest.raises(SymgraphError) as refused:
            sg.gradient(make(text), wrt=[w]).lambdify()
        assert len(str(refused.value).splitlines()) == 1
        assert not (tmp_path / "ran").exists()

    def test_the_error_names_the_node(self, tmp_path):
        grad = sg.gradient(sp.IndexedBase(_payload(tmp_path / "s"))[0] * w, wrt=[w])
        with pytest.raises(UnsafeSourceError, match="cannot compile .* no safe numeric form"):
            grad.lambdify()

    def test_a_function_call_is_code_not_mathematics(self):
        # FunctionCall("f", [x]) printed as f(x) once ran whatever f named (a wrong value)
        with pytest.raises(NoRuleError, match="no numeric form for 'FunctionCall'"):
            sg.gradient(FunctionCall("abs", [x]) * w, wrt=[w]).lambdify()

    def test_user_names_are_never_printed(self, tmp_path):
        sentinel = tmp_path / "ran"
        evil = sp.Symbol(_payload(sentinel), real=True)
        value, (dw,) = sg.gradient(evil * w**2, wrt=[w]).lambdify()(1.5, 2.0)
        assert (float(value), float(dw)) == (6.0, 6.0)  # 1.5*2², 2*1.5*2
        assert not sentinel.exists()


GOOD = """def f(a0, a1):
    t1 = numpy.sin(a0)
    t2 = scipy.special.erf(t1) + numpy.linalg.det(a1) * scipy.constants.pi
    t3 = (lambda v: v.max() + numpy.log(numpy.exp(v - v.max()).sum()))(a1.T)
    t4 = numpy.select([numpy.greater(a0, 0), True], [a0, t1], default=numpy.nan)
    t5 = builtins.sum(a0**i2 for i2 in range(1, 5 + 1)) + abs(a0) + a1.shape[0]
    t6 = numpy.linalg.norm(a1, 'fro') + numpy.logical_and.reduce((t1 > 0, t2 < 1))
    t7 = kernels.tanh_backward(t6, t1)
    del t1
    return (t2, t3, t4, t5, t6, t7)"""


class TestCheckSource:
    def test_what_the_generator_writes_passes(self):
        check_source(GOOD, "f")

    @pytest.mark.parametrize(
        "line",
        [
            "__import__('os')",
            "open('/etc/passwd')",
            "getattr(a0, 'x')",
            "eval('1')",
            "a0.__class__",
            "numpy.__dict__",
            "numpy._core",
            "numpy.load('x.npy')",
            "numpy.fromfile('x')",
            "numpy.ctypeslib",
            "scipy.io.loadmat('x')",
            "a0.tofile('x')",
            "builtins.__import__",
            "builtins.exec",
            "functools.partial(print)",
            "f'{a0}'",
            "'a long string with spaces'",
            "b'bytes'",
            "[i1 for i1 in range(3) if i1]",
            "[os for os in range(3)]",
            "(lambda *v: v)(1)",
            "(lambda os: os)(1)",
            "a0(1)",
            "(yield a0)",
            "print",
            "kernels.numpy.load('x')",
            "kernels.tanh_backward.__globals__",
            "kernels.__all__",
            "kernels.annotations",
        ],
    )
    def test_anything_else_is_refused(self, line):
        source = f"def f(a0):\n    t1 = {line}\n    return (t1,)"
        with pytest.raises(UnsafeSourceError) as refused:
            check_source(source, "f")
        assert refused.value.line == 2

    @pytest.mark.parametrize(
        "source",
        [
            "import os\ndef f(a0):\n    return (a0,)",
            "def f(a0):\n    return (a0,)\ndef g(a0):\n    return (a0,)",
            "@print\ndef f(a0):\n    return (a0,)",
            "def g(a0):\n    return (a0,)",
            "def f(a0):\n    import os\n    return (a0,)",
            "def f(a0):\n    global t1\n    return (a0,)",
            "def f(a0:\n",
        ],
    )
    def test_the_frame_is_one_function(self, source):
        with pytest.raises(UnsafeSourceError):
            check_source(source, "f")

    def test_every_generated_name_is_ours(self):
        grad = sg.gradient(sp.Piecewise((sp.log(x * w), x > 0), (w, True)) ** 2, wrt=[w])
        f = grad.lambdify()
        check_source(f.source, "value_and_grad")
        value, (dw,) = f(x=np.array([2.0, -1.0]), w=np.array([0.5, 3.0]))
        np.testing.assert_allclose(value, [0.0, 9.0], atol=1e-15)  # log(1)² ; w²
        np.testing.assert_allclose(dw, [0.0, 6.0], atol=1e-15)  # 2 log(xw)/w ; 2w


def test_parameters_are_the_safe_names_only():
    source = "def f(w, x):\n    t1 = numpy.sin(w*x)\n    return (t1,)"
    check_source(source, "f", frozenset({"w", "x"}))
    with pytest.raises(UnsafeSourceError, match="not a generated identifier"):
        check_source(source, "f", frozenset({"w"}))  # x is not one of them
    with pytest.raises(UnsafeSourceError, match="__import__"):  # a parameter's annotation
        check_source("def f(w: __import__('os')):\n    return (w,)", "f", frozenset({"w"}))
    with pytest.raises(UnsafeSourceError, match="not a plain name"):
        check_source("def f(os):\n    return (os,)", "f", frozenset({"os", "__import__"}))


def _whole_tree_verdict(source: str, monkeypatch) -> tuple:
    """What the whole-tree check says of ``source``: (refused, line, problem)."""
    with monkeypatch.context() as patched:
        patched.setattr(source_check, "_checked_by_line", lambda *args: False)
        return _verdict(source)


def _verdict(source: str) -> tuple:
    try:
        check_source(source, "f")
    except UnsafeSourceError as err:
        return True, err.line, err.problem
    return False, 0, ""


class TestLineByLine:
    """Flat generated code is checked a line shape at a time, with the whole tree's verdicts."""

    def test_flat_code_is_checked_line_by_line_and_runs(self):
        lines = [f"    t{k + 1} = numpy.tanh(0.{k + 1}*t{k} + a0)" for k in range(1, 200)]
        source = "\n".join(["def f(a0):", "    t1 = a0", *lines, "    return (t200,)"])
        assert check_source(source, "f") is source  # compiled as it is
        namespace = {"numpy": np}
        exec(compile(source, "<test>", "exec"), namespace)
        assert np.isfinite(namespace["f"](0.3)[0])

    def test_a_bad_line_among_many_of_one_shape_is_found_at_its_line(self):
        lines = [f"    t{k + 1} = numpy.sin(t{k})" for k in range(1, 60)]
        lines[40] = "    t42 = numpy.sin(os)"
        source = "\n".join(["def f(a0):", "    t1 = a0", *lines, "    return (t60,)"])
        with pytest.raises(UnsafeSourceError, match="'os'") as refused:
            check_source(source, "f")
        assert refused.value.line == 43

    @pytest.mark.parametrize(
        "source",
        [
            f"def f(a0):\n{body}\n    return (t1,)"
            for body in [
                "    t1 = (a0 +\n        __import__('os'))",  # a bracket runs on
                "    t1 = a0 + \\\n__import__('os')",  # a backslash runs on
                "    t1 = '''\n    '''; __import__('os')",  # a string runs on
                "    t1 = a0\n\x0c__import__('os')",  # a form feed moves the indentation
                "    t1 = a0\r__import__('os')",  # another line break
                "    t1 = numpy. __dict__",  # a dot and a space
                "    t1 = a0; __import__('os')",  # two statements on a line
            ]
        ]
        + [
            f"{head}\n    t1 = a0\n    return (t1,)"  # the definition line holds more
            for head in [
                "def f(a0): __import__('os')",
                "def f(a0): t1 = a0; __import__('os')",
                "def f(a0=__import__('os')):",
                "def f(a0): pass",
            ]
        ],
    )
    def test_code_not_laid_out_flat_takes_the_whole_tree(self, source, monkeypatch):
        assert _verdict(source)[0]
        assert _verdict(source) == _whole_tree_verdict(source, monkeypatch)

    @pytest.mark.parametrize(
        "line",
        [
            "numpy.sin(a0) + 1.5e-3*a0**2",
            "numpy.log1p(a0.shape[0]) + 0.5",
            "__import__('os')",
            "a0.t1",
            "numpy.a1",
            "'t12'",
            "'abc'",
            "1j*a0 + 0x1f",
            "[i1 for i1 in range(3)]",
            "(lambda u: 1 - u**2)(a0)",
        ],
    )
    def test_each_line_gets_the_whole_trees_verdict(self, line, monkeypatch):
        source = f"def f(a0):\n    t1 = {line}\n    t2 = {line}\n    return (t1, t2)"
        assert _verdict(source) == _whole_tree_verdict(source, monkeypatch)
