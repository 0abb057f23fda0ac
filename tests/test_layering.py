"""Data flows one way: a module never imports one to its right (DESIGN.md).

Top-level and function-local imports count alike; the only imports against the
flow are the public doors on Graph, Gradient and Value (``g.backward()``,
``grad.lambdify()``), which import their stage inside the method.  A stage is a
module ``symgraph/<stage>.py`` or a package ``symgraph/<stage>/``; a package's
modules may import each other (without a cycle) and anything left of the stage.
"""

import ast
import graphlib
from collections.abc import Iterable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "symgraph"

# Left to right, as in DESIGN.md's layout: the stage packages in the data's order, then
# the modules on top, then the thin re-exports that keep the docs' dotted paths working.
ORDER = [
    "errors",
    "core",
    "rules",
    "parse",
    "build",
    "ad",
    "numeric",
    "present",
    "io",
    "nn",
    "layers",
    "trace",
    "cli",
    "compile",
    "draw",
    "matfuncs",
    "derivatives",
    "check",
]


# The only imports against the flow: documented methods of Graph and Gradient that hand
# on to a later stage (DESIGN.md), each a function-local import: (stage, function, stage).
UPWARD = {
    ("core", "__str__", "present"),
    ("core", "latex", "present"),
    ("core", "lambdify", "numeric"),
    ("core", "source", "numeric"),
    ("core", "simplify", "numeric"),
    ("core", "_repr_svg_", "present"),
    ("core", "backward", "ad"),
    ("core", "coarsen", "build"),
    ("core", "refine", "build"),
    ("core", "forward", "numeric"),
    ("core", "from_assignments", "build"),
    ("core", "from_expr", "build"),
}
MAX_DOORS = 15


def imports_of(source: str, package: str | None = None) -> set[tuple[str | None, str]]:
    """(enclosing function or None at top level, symgraph module) for every relative import.

    In a module of the stage package ``package``, ``from .x`` names the sibling
    ``package.x`` and ``from ..x`` the top-level ``x``; a relative import reaching
    beyond ``symgraph/`` is returned as written (``...x``), which no stage allows.
    """
    tree = ast.parse(source)
    top = 1 if package is None else 2
    found: set[tuple[str | None, str]] = set()
    stack: list[tuple[ast.AST, str | None]] = [(tree, None)]
    while stack:
        node, function = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        if isinstance(node, ast.ImportFrom) and node.level:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            for name in names:
                first = name.split(".")[0]
                if node.level == top:
                    found.add((function, first))
                elif node.level == 1:  # a sibling in the package
                    found.add((function, f"{package}.{first}"))
                else:
                    found.add((function, "." * node.level + name))
        stack.extend((child, function) for child in ast.iter_child_nodes(node))
    return found


def is_package(stage: str) -> bool:
    return (PACKAGE / stage / "__init__.py").is_file()


def files_of(stage: str) -> list[Path]:
    """The source files of a stage: its module, or every module of its package."""
    if is_package(stage):
        return sorted((PACKAGE / stage).glob("*.py"))
    return [PACKAGE / f"{stage}.py"]


def stage_imports(stage: str) -> set[tuple[str, str | None, str]]:
    """(file, enclosing function or None, imported module) over every file of ``stage``."""
    package = stage if is_package(stage) else None
    return {
        (path.name, function, target)
        for path in files_of(stage)
        for function, target in imports_of(path.read_text(), package)
    }


def against_the_flow(stage: str, imports: set[tuple[str, str | None, str]]) -> set:
    """The imports of ``stage`` that reach a stage to its right (the listed doors aside)."""
    left = set(ORDER[: ORDER.index(stage)]) | {"__version__"}
    return {
        (file, function, target)
        for file, function, target in imports
        if target not in left
        and not (is_package(stage) and target.startswith(f"{stage}."))
        and (stage, function, target) not in UPWARD
    }


def test_every_module_is_placed():
    stages = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    stages |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert stages == set(ORDER)
    read = {path for stage in ORDER for path in files_of(stage)}
    every = set(PACKAGE.rglob("*.py")) - {PACKAGE / "__init__.py", PACKAGE / "__main__.py"}
    assert every == read, f"modules no stage reads: {sorted(map(str, every - read))}"


@pytest.mark.parametrize("module", ORDER)
def test_imports_only_modules_to_the_left(module):
    """Top-level and function-local imports alike; the listed doors of Graph/Gradient aside."""
    wrong = against_the_flow(module, stage_imports(module))
    assert not wrong, f"{module} imports against the flow: {sorted(wrong, key=str)}"


def sibling_order(
    package: str, imports: set[tuple[str, str | None, str]], modules: Iterable[str] = ()
) -> list[str]:
    """The package's modules in an order where each imports only earlier ones (top level).

    Raises graphlib.CycleError if their top-level imports of each other form a cycle.
    """
    graph: dict[str, set[str]] = {name: set() for name in modules}
    graph.update({file.removesuffix(".py"): set() for file, _, _ in imports})
    for file, function, target in imports:
        if function is None and target.startswith(f"{package}."):
            graph[file.removesuffix(".py")].add(target.removeprefix(f"{package}."))
    return list(graphlib.TopologicalSorter(graph).static_order())


@pytest.mark.parametrize("package", [stage for stage in ORDER if is_package(stage)])
def test_a_packages_modules_import_each_other_without_a_cycle(package):
    modules = {path.stem for path in files_of(package)}
    order = sibling_order(package, stage_imports(package), modules)
    assert set(order) == modules, f"{package} imports missing modules: {set(order) - modules}"


def test_the_listed_doors_still_exist():
    for module, function, target in UPWARD:
        assert (function, target) in {(f, t) for _, f, t in stage_imports(module)}


def test_a_planted_upward_import_is_found():
    planted = "from ..errors import GraphError\n\ndef helper():\n    from ..cli import main\n"
    assert imports_of(planted, "core") == {(None, "errors"), ("helper", "cli")}
    found = {("graph.py", f, t) for f, t in imports_of(planted, "core")}
    assert against_the_flow("core", found) == {("graph.py", "helper", "cli")}


def test_a_planted_upward_import_in_a_package_is_found():
    planted = (
        "from ..errors import ParseError\nfrom .limits import MAX_NODES\n"
        "from . import vocabulary\nfrom ...outside import x\n\n"
        "def helper():\n    from ..build.builder import GraphBuilder\n"
    )
    found = imports_of(planted, "parse")
    assert found == {
        (None, "errors"),
        (None, "parse.limits"),
        (None, "parse.vocabulary"),
        (None, "...outside"),
        ("helper", "build"),
    }
    wrong = against_the_flow("parse", {("x.py", f, t) for f, t in found})
    assert wrong == {("x.py", None, "...outside"), ("x.py", "helper", "build")}
    # a stage to the right of parse may import it, or one of its modules; one to the left may not
    into = imports_of("from .parse.limits import MAX_NODES\n")
    assert into == {(None, "parse")}
    assert not against_the_flow("nn", {("nn.py", f, t) for f, t in into})
    assert against_the_flow(
        "rules",
        {
            ("registry.py", f, t)
            for f, t in imports_of("from ..parse.limits import MAX_NODES\n", "rules")
        },
    )


def test_function_local_imports_are_only_the_listed_doors():
    """A lazy import is a door of Graph or Gradient, listed above, or not at all."""
    local = {
        (stage, function, target)
        for stage in ORDER
        for _, function, target in stage_imports(stage)
        if function is not None and not target.startswith(f"{stage}.")
    }
    assert local == UPWARD
    assert len(UPWARD) <= MAX_DOORS


def test_a_planted_cycle_in_a_package_is_found():
    imports = {("a.py", None, "parse.b"), ("b.py", None, "parse.c"), ("c.py", "f", "parse.a")}
    assert sibling_order("parse", imports) == ["c", "b", "a"]  # the local import is no edge
    with pytest.raises(graphlib.CycleError):
        sibling_order("parse", imports | {("c.py", None, "parse.a")})


@pytest.mark.parametrize("module", ORDER)
def test_no_eval_or_sympify_anywhere(module):
    """No module hands anything to eval, sympify, S or SymPy's parser (text would run).

    Numbers become SymPy objects through SymPy's strict ``_sympify`` (it refuses
    text); text goes through symgraph's own parser.  ``exec`` runs in codegen.py
    only: generated code after ``source_check`` has checked it, and the call
    entry's template, whose text holds our names alone (the inputs' names
    become its parameters' names as data, never as text).
    """
    for path in files_of(module):
        where = path.relative_to(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                owner = getattr(func.value, "id", None) if isinstance(func, ast.Attribute) else None
                assert name not in {"eval", "sympify", "S"}, f"{where}:{node.lineno} calls {name}"
                assert not (owner in {"sp", "sympy"} and name == "parse_expr"), where
                assert name != "exec" or path.name == "codegen.py", f"{where}:{node.lineno} exec"
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("sympy.parsing"), where
                if node.module == "sympy":
                    names = {alias.name for alias in node.names}
                    assert not names & {"sympify", "S", "parse_expr"}, where
