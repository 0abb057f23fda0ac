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


# The only imports against the flow: documented methods of Graph, Gradient and Value that
# hand on to a later stage (DESIGN.md), each a function-local import: (module, function, stage).
UPWARD = {
    ("gradient", "__str__", "latex"),
    ("gradient", "latex", "latex"),
    ("gradient", "lambdify", "compile"),
    ("gradient", "simplify", "simplify"),
    ("graph", "_repr_svg_", "draw"),
    ("graph", "backward", "backward"),
    ("graph", "coarsen", "reshape"),
    ("graph", "refine", "reshape"),
    ("graph", "forward", "forward"),
    ("graph", "from_assignments", "matrix_build"),
    ("graph", "from_expr", "matrix_build"),
    ("trace", "backward", "backward"),
    ("trace", "backward", "compile"),
}


def imports_of(source: str) -> set[tuple[str | None, str]]:
    """(enclosing function or None at top level, symgraph module) for every relative import."""
    tree = ast.parse(source)
    found: set[tuple[str | None, str]] = set()
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, function = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add((function, node.module.split(".")[0]))
            else:  # from . import x
                found.update((function, alias.name) for alias in node.names)
        stack.extend((child, function) for child in ast.iter_child_nodes(node))
    return found


def test_every_module_is_placed():
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_modules_to_the_left(module):
    """Top-level and function-local imports alike; the listed doors of Graph/Gradient aside."""
    left = set(ORDER[: ORDER.index(module)]) | {"__version__"}
    wrong = {
        (function, target)
        for function, target in imports_of((PACKAGE / f"{module}.py").read_text())
        if target not in left and (module, function, target) not in UPWARD
    }
    assert not wrong, f"{module} imports against the flow: {sorted(wrong, key=str)}"


def test_the_listed_doors_still_exist():
    for module, function, target in UPWARD:
        assert (function, target) in imports_of((PACKAGE / f"{module}.py").read_text())


def test_a_planted_upward_import_is_found():
    planted = "from .errors import GraphError\n\ndef helper():\n    from .cli import main\n"
    assert imports_of(planted) == {(None, "errors"), ("helper", "cli")}


@pytest.mark.parametrize("module", ORDER)
def test_no_eval_or_sympify_anywhere(module):
    """No module hands anything to eval, sympify, S or SymPy's parser (text would run).

    Numbers become SymPy objects through SymPy's strict ``_sympify`` (it refuses
    text); text goes through symgraph's own parser.  The one ``exec`` runs
    generated code after ``source_check`` has checked it.
    """
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = getattr(func.value, "id", None) if isinstance(func, ast.Attribute) else None
            assert name not in {"eval", "sympify", "S"}, f"{module}:{node.lineno} calls {name}"
            assert not (owner in {"sp", "sympy"} and name == "parse_expr"), module
            assert name != "exec" or module == "codegen", f"{module}:{node.lineno} calls exec"
        if isinstance(node, ast.ImportFrom) and node.module:
            assert not node.module.startswith("sympy.parsing"), module
            if node.module == "sympy":
                names = {alias.name for alias in node.names}
                assert not names & {"sympify", "S", "parse_expr"}, module
