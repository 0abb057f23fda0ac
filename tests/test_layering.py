"""Data flows one way: a module never imports one to its right (DESIGN.md).

Only top-level imports count; the public doors on Graph and Gradient
(``g.backward()``, ``grad.lambdify()``) import their stage inside the method.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symgraph"

# Left to right, as in DESIGN.md's picture; helpers with no symgraph imports first.
ORDER = [
    "errors",
    "sizes",
    "adjoint",
    "rules",
    "matfuncs",
    "matrix_rules",
    "substitute",
    "values",
    "stable_forms",
    "stable",
    "source_check",
    "codegen",
    "parse",
    "constants",
    "graph",
    "build",
    "matrix_build",
    "reshape",
    "trace",
    "forward",
    "gradient",
    "backward",
    "api",
    "derivative_inputs",
    "derivatives",
    "simplify",
    "compile",
    "edge_values",
    "check_precise",
    "check",
    "latex",
    "matrix_explain",
    "explain_render",
    "explain",
    "draw",
    "matrix",
    "io_format",
    "io_limits",
    "io_verify",
    "io_decode",
    "io",
    "nn",
    "layers",
    "cli_output",
    "cli",
]


def top_level_imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add((node.module or "").split(".")[0])
    return found - {""}


def test_every_module_is_placed():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_modules_to_the_left(module):
    allowed = set(ORDER[: ORDER.index(module)])
    assert top_level_imports(module) <= allowed, module


def test_no_eval_or_sympify_on_text():
    """The parser and the command line never hand text to eval/sympify/parse_expr."""
    for module in ("parse", "cli"):
        tree = ast.parse((PACKAGE / f"{module}.py").read_text())
        called = {
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
        }
        assert not called & {"eval", "exec", "sympify", "S"}, module
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert not any(name and name.startswith("sympy.parsing") for name in imported), module
