"""A check of generated source before it is executed: only our identifiers may appear.

The code generator names every value itself (``a0``, ``t1``, ``i2``...), but
SymPy's printers write some labels as they are (an ``IndexedBase``'s label, a
``sympy.codegen.ast.FunctionCall``'s name, ``Subs``), and a label can be any
text.  Rather than closing those instances one by one, the whole class is
closed here: the source is parsed (never run), and every name, attribute,
call and constant in it must be one the generator itself can emit.

- names: generated identifiers, the modules of the namespace (``numpy``,
  ``scipy``, ``builtins``, ``functools``, ``math``) and a few builtins (``abs``,
  ``range``, ``type`` and ``float`` for the scalar version's guard);
- attribute chains on a module: public mathematical functions and constants
  (NumPy and SciPy ufuncs, a listed set of array functions, ``scipy.special``,
  ``scipy.constants``, the functions and constants of ``math``), never I/O,
  never a name starting with ``_``;
- attributes of values: ``.T``, ``.shape``, ``.sum``, ``.max``, ``.min``,
  ``.real``, ``.imag``;
- calls: only of such functions, of a lambda, or of those methods;
- constants: numbers, ``True``/``False``/``None`` and short lowercase words
  (``'fro'``).

Examples
--------
>>> tree = check_source("def f(a0):\\n    t1 = numpy.sin(a0)\\n    return (t1,)", "f")
>>> check_source("def f(a0):\\n    return (__import__('os'),)", "f")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
symgraph...UnsafeSourceError: line 2: the name '__import__' is not a generated function
"""

from __future__ import annotations

import ast
import importlib
import keyword
import re
import types

import numpy

from ..core.sizes import shown
from ..errors import NoRuleError
from . import kernels

MODULES = ("numpy", "scipy", "builtins", "functools", "math", "kernels")
BUILTIN_NAMES = frozenset({"abs", "range", "min", "max", "sum", "type", "float"})
VALUE_ATTRIBUTES = frozenset({"T", "shape", "sum", "max", "min", "real", "imag"})
_GENERATED = re.compile(r"(?:[ati]\d+|[uvme])\Z")
_WORD = re.compile(r"[a-z]{1,8}\Z")
# What line-by-line checking needs absent: line breaks other than \n, characters that
# move the indentation, and whitespace after a dot (an attribute's name, never a shape token).
_CONTROL = re.compile(r"[\r\f\v\x00]|\.[ \t]")
_BODY_LINE = re.compile(r"    \S")
# Generated names and numbers: their verdict does not depend on which (not after a dot).
_SHAPE = re.compile(r"(?<![.\w])(?:[ati]\d+(?!\w)|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.]))")

# Module functions the printers use that are not ufuncs (ufuncs are allowed by type).
_ARRAY_FUNCTIONS = frozenset(
    {
        "numpy.select", "numpy.where", "numpy.broadcast_to", "numpy.zeros", "numpy.ones",
        "numpy.eye", "numpy.trace", "numpy.shape", "numpy.sum", "numpy.amax", "numpy.amin",
        "numpy.prod", "numpy.asarray", "numpy.array", "numpy.piecewise", "numpy.linalg.det",
        "numpy.linalg.inv", "numpy.linalg.matrix_power", "numpy.linalg.norm",
        "numpy.linalg.slogdet", "numpy.logaddexp.reduce", "numpy.maximum.reduce",
        "numpy.minimum.reduce", "numpy.logical_and.reduce", "numpy.logical_or.reduce",
        "numpy.clip", "numpy.diag", "numpy.dot", "numpy.matmul", "numpy.outer",
        "numpy.full", "numpy.zeros_like", "numpy.ones_like", "numpy.isfinite", "numpy.float64",
        "builtins.sum", "builtins.abs", "builtins.min", "builtins.max", "builtins.range",
        "functools.reduce",
    }
)  # fmt: skip

_NODES = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.Assign, ast.Delete, ast.If,
    ast.Name, ast.Load, ast.Store, ast.Del, ast.Attribute, ast.Call, ast.keyword, ast.BinOp,
    ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Lambda, ast.Tuple, ast.List,
    ast.Subscript, ast.Slice, ast.Constant, ast.GeneratorExp, ast.ListComp, ast.comprehension,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)  # fmt: skip


class UnsafeSourceError(NoRuleError):
    """Generated source that uses something the generator itself never emits."""

    def __init__(self, line: int, problem: str, message: str | None = None):
        super().__init__(message or f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def keyword_parameters(names: list[str], width: int) -> bool:
    """Whether the user's ``names`` can be the generated function's own parameters.

    Plain ASCII identifiers, distinct, at most ``width`` of them, none a keyword,
    a module or builtin the code uses, a generated identifier or private; then
    ``f(**values)`` is Python's own keyword call.

    >>> keyword_parameters(["w", "x_1"], 32), keyword_parameters(["numpy", "t1"], 32)
    (True, False)
    """
    return len(names) <= width and len(set(names)) == len(names) and all(map(plain_name, names))


def plain_name(name: str) -> bool:
    """An ASCII identifier, not a keyword, private, a module, a builtin the code uses or ours.

    >>> plain_name("W1_2"), plain_name("t3"), plain_name("lambda"), plain_name("façade")
    (True, False, False, False)
    """
    return (
        name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in MODULES
        and name not in BUILTIN_NAMES
        and not _GENERATED.match(name)
    )


def check_source(source: str, name: str, parameters: frozenset = frozenset()) -> ast.Module | str:
    """Refuse ``source`` unless it is one function ``name`` made only of generated code.

    Returns what to compile: ``source`` itself when it was checked line by
    line (see :func:`_checked_by_line`), else the checked tree; compiling
    either runs exactly what was checked.  ``parameters``: the user's names
    the function takes (see :func:`keyword_parameters`), allowed as variables too.

    Raises
    ------
    UnsafeSourceError
        Naming the line and what it uses; nothing has been executed.
    """
    if not all(map(plain_name, parameters)):
        raise UnsafeSourceError(1, "a parameter that is not a plain name")
    if _checked_by_line(source, name, parameters):
        return source
    try:
        tree = ast.parse(source)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as err:
        line = getattr(err, "lineno", 0) or 0
        raise UnsafeSourceError(line, "not valid generated code") from None
    allowed: dict[str, bool] = {}  # a module chain -> allowed, resolved once per source
    function = _definition(tree, name, parameters, allowed)
    for statement in function.body:
        problem = _first_problem(statement, allowed, parameters)
        if problem:
            raise UnsafeSourceError(getattr(statement, "lineno", 1), problem)
    return tree


def _definition(
    tree: ast.Module, name: str, parameters: frozenset, allowed: dict
) -> ast.FunctionDef:
    """The one function definition ``tree`` holds, its name and parameters checked."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        raise UnsafeSourceError(1, "generated code is one function definition")
    function = tree.body[0]
    if function.name != name or function.decorator_list or function.returns:
        raise UnsafeSourceError(1, f"generated code defines {name}() and nothing else")
    problem = _first_problem(function.args, allowed, parameters)
    if problem:
        raise UnsafeSourceError(1, problem)
    return function


def _checked_by_line(source: str, name: str, parameters: frozenset) -> bool:
    """Whether ``source`` passed the check one body line at a time (False: not so laid out).

    Generated code is a ``def`` line and flat statements, one per line, at
    four spaces.  When every line parses alone as one statement (no string,
    bracket or backslash runs on into the next; no control character that
    moves the indentation), the function's body is exactly those statements,
    so each can be checked alone; and lines that differ only in generated
    names and numbers (``t7 = numpy.tanh(t6)``, ``t9 = numpy.tanh(t8)``)
    get the same verdict, so each such shape is parsed and walked once.  The
    first line with a problem raises, as the whole-tree check would.
    """
    if _CONTROL.search(source):
        return False
    head, *body = source.split("\n")
    try:
        definition = ast.parse(head + "\n    pass")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False
    function = definition.body[0] if len(definition.body) == 1 else None
    if not isinstance(function, ast.FunctionDef) or len(function.body) != 1:
        return False  # a statement after the colon (def f(a0): import os): the whole tree
    allowed: dict[str, bool] = {}
    _definition(definition, name, parameters, allowed)
    verdicts: dict[str, str | None] = {}  # a line's shape -> its problem ("" for none)
    for number, line in enumerate(body, start=2):
        if not _BODY_LINE.match(line):
            return False
        shape = _SHAPE.sub(_shape_token, line[4:])
        if shape not in verdicts:
            verdicts[shape] = _line_problem(shape, allowed, parameters)
        problem = verdicts[shape]
        if problem is None:
            return False
        if problem:  # named as the line has it, not as its shape
            raise UnsafeSourceError(number, _line_problem(line[4:], allowed, parameters))
    return bool(body)


def _line_problem(line: str, allowed: dict, parameters: frozenset) -> str | None:
    """The first problem of one statement (``""``: none), or None if it is not one alone."""
    try:
        tree = ast.parse(line)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return None
    if len(tree.body) != 1:
        return None
    return _first_problem(tree.body[0], allowed, parameters) or ""


def _shape_token(match: re.Match) -> str:
    """A generated name stands for every generated name, a number for every number."""
    return "1" if match.group()[0].isdigit() else "t1"


def _module_chain(node: ast.AST) -> str | None:
    """``numpy.linalg.det`` for an attribute chain rooted at a module's name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in MODULES and parts:
        return ".".join([node.id, *reversed(parts)])
    return None


def _first_problem(root: ast.AST, allowed: dict[str, bool], parameters: frozenset) -> str | None:
    """The first thing in ``root`` generated code never holds, or None.

    One iterative walk.  A module chain (``numpy.linalg.det``) is checked
    whole and not entered; every other node by :func:`_problem`.
    """
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Attribute):
            chain = _module_chain(node)
            if chain is not None:
                if chain not in allowed:
                    allowed[chain] = _allowed_chain(chain)
                if not allowed[chain]:
                    return f"{shown(chain)} is not generated code"
                continue
        named = node.id if isinstance(node, ast.Name) else getattr(node, "arg", None)
        problem = None if isinstance(named, str) and named in parameters else _problem(node)
        if problem:  # a parameter's name is allowed; what it holds (an annotation) is walked
            return problem
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))
    return None


def _problem(node: ast.AST) -> str | None:
    if not isinstance(node, _NODES):
        return f"{type(node).__name__} is not generated code"
    if isinstance(node, ast.Name):
        if node.id in MODULES or node.id in BUILTIN_NAMES or _GENERATED.match(node.id):
            return None
        return f"the name {shown(node.id)} is not generated code"
    if isinstance(node, ast.Attribute):  # not a module chain: an attribute of a value
        if node.attr in VALUE_ATTRIBUTES:
            return None
        return f"the attribute {shown(node.attr)} is not generated code"
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Lambda) or _module_chain(func) is not None:
            return None  # the chain itself is checked as an attribute
        if isinstance(func, ast.Name) and func.id in BUILTIN_NAMES:
            return None
        if isinstance(func, ast.Attribute) and func.attr in VALUE_ATTRIBUTES:
            return None
        if isinstance(func, ast.Name):
            return f"the name {shown(func.id)} is not a generated function"
        return "a call of something generated code never calls"
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (bool, int, float, complex)):
            return None
        if isinstance(value, str) and _WORD.match(value):
            return None
        return f"the constant {shown(value)} is not generated code"
    if isinstance(node, (ast.arg, ast.comprehension)):
        target = node.arg if isinstance(node, ast.arg) else getattr(node.target, "id", None)
        if target is None or not _GENERATED.match(target):
            return "a variable that is not a generated identifier"
        if isinstance(node, ast.comprehension) and (node.is_async or node.ifs):
            return "a comprehension that is not generated code"
    if isinstance(node, ast.Lambda) and (node.args.vararg or node.args.kwarg):
        return "a lambda that is not generated code"
    return None


def _allowed_chain(chain: str) -> bool:
    if any(part.startswith("_") for part in chain.split(".")):
        return False
    if chain in _ARRAY_FUNCTIONS:
        return True
    if chain.startswith("kernels."):  # our fused kernels: exactly the module's own names
        return chain.count(".") == 1 and chain.split(".")[1] in kernels.__all__
    target = _resolve(chain)
    if target is None:
        return False
    if isinstance(target, (numpy.ufunc, float, int)) and chain.startswith(("numpy.", "scipy.")):
        return True  # ufuncs are pure elementwise mathematics; constants are numbers
    if chain.startswith("math."):  # the scalar mode: every function of math is mathematics
        return isinstance(target, (types.BuiltinFunctionType, float))
    # scipy.special: mathematical functions only (ufuncs and plain functions over arrays)
    return chain.startswith("scipy.special.") and isinstance(
        target, (types.FunctionType, types.BuiltinFunctionType, numpy.ufunc)
    )


def _resolve(chain: str):
    root, *parts = chain.split(".")
    try:
        target = importlib.import_module(root)
        if root == "scipy" and parts and parts[0] in ("special", "constants"):
            target = importlib.import_module(f"scipy.{parts[0]}")
            parts = parts[1:]
        for part in parts:
            target = getattr(target, part)
    except (ImportError, AttributeError):
        return None
    return target
