'''Source you can ship: a self-contained Python module, or a C99 translation unit.

``grad.source("python")`` is a module defining one function,
``value_and_grad(<the arguments, in f.args order>)``, which returns
``(value, (partials in wrt order))`` like ``grad.lambdify()``.  It imports
NumPy (SciPy only if a function needs it); its docstring gives the formulas
(the closed forms, or the δ-equations when those are too big to print, within
the limits of :mod:`symgraph.core.sizes`), the argument order and the outputs.
Its body is the checked code of the compiled function
(:func:`~symgraph.numeric.codegen.make_function`), the same lines every
backend runs.  A symbol name becomes a parameter only when it is a plain
Python identifier that is no keyword, no builtin and no generated name
(``a0``, ``t1``, ``numpy``...); any other gets a name of ours (``arg2``) and
the docstring says so.  ``grad.source("c")``: see :mod:`symgraph.numeric.c_source`.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> source = sg.gradient(w**2 * x, wrt=[w]).source("python")
>>> start = source.index("def ")
>>> print(source[start : source.index("    with", start)].rstrip())
def value_and_grad(x, w):
    """The value of L and (dL/dw,) at x, w: see the module docstring."""
    a0, a1 = x, w
>>> namespace = {}
>>> exec(source, namespace)
>>> value, (dw,) = namespace["value_and_grad"](3.0, 2.0)
>>> float(value), float(dw)
(12.0, 12.0)
'''

from __future__ import annotations

import ast
import builtins
import re

from .. import __version__
from ..core.gradient import Gradient
from ..core.sizes import too_big_to_print
from ..errors import GraphError
from .c_source import c_source, display_name
from .chunks import WIDTH, chunked
from .codegen import make_function
from .lines import argument_order, compiled_lines
from .source_check import MODULES, plain_name
from .stable import stable_lines

__all__ = ["LANGUAGES", "gradient_source", "parameter_names", "python_source"]

LANGUAGES = ("python", "c")
FUNCTION = "value_and_grad"
_GENERATED = re.compile(r"[atiuvmeo]\d*\Z")
_RESERVED = frozenset(dir(builtins)) | set(MODULES) | {FUNCTION}


def gradient_source(grad: Gradient, language: str = "python") -> str:
    """``grad``'s value and gradient as source in ``language`` (``"python"`` or ``"c"``).

    Raises
    ------
    GraphError
        An unknown language, or a gradient with no form in it (the node named).
    """
    if language == "python":
        return python_source(grad)
    if language == "c":
        return c_source(grad)
    raise GraphError(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")


def parameter_names(names: list[str]) -> list[str]:
    """A Python parameter for each symbol name: the name itself when safe, else ``arg<k>``.

    >>> parameter_names(["x", "lambda", "t1", "x); system('rm", "arg1"])
    ['x', 'arg1_', 'arg2', 'arg3', 'arg1']
    """
    safe = [_safe(n) and names.count(n) == 1 for n in names]
    taken = {n for n, ok in zip(names, safe, strict=True) if ok}
    out = []
    for k, (name, ok) in enumerate(zip(names, safe, strict=True)):
        if not ok:
            name = f"arg{k}"
            while name in taken:
                name += "_"
            taken.add(name)
        out.append(name)
    return out


def _safe(name: str) -> bool:
    return plain_name(name) and name not in _RESERVED and not _GENERATED.match(name)


def python_source(grad: Gradient) -> str:
    """The Python module of ``grad``'s value and gradient (see the module docstring)."""
    args = argument_order(grad)
    assignments, outputs = compiled_lines(grad)
    fn = make_function(stable_lines(assignments), args, outputs, name=FUNCTION)
    parameters = parameter_names([s.name for s in args])
    definition, *body = fn.source.splitlines()
    *body, returned = body
    if not returned.startswith("    return "):  # pragma: no cover - make_function's layout
        raise GraphError("the generated function does not end in its return")
    packed = definition.endswith("):") and "(*" in definition
    arguments = _packed(definition, parameters) if packed else _unpacked(parameters)
    output = display_name(grad.output.name)
    partials = _tuple([f"d{output}/d{display_name(w.name)}" for w in grad.wrt])
    lines = [
        f"def {FUNCTION}({', '.join(parameters)}):",
        f'    """The value of {output} and {partials} at {_listed(parameters)}: '
        'see the module docstring."""',
        *("    " + line for line in arguments),
        '    with numpy.errstate(all="ignore"):',
        *("    " + line for line in body),
        "        t0 = " + returned[len("    return ") :],
        "    return t0[0], t0[1:]",
    ]
    code = "\n".join(lines)
    imports = _imports(fn.source)
    docstring = _docstring(grad, args, parameters, imports)
    module = f"{_literal(docstring)}\n\n" + "\n".join(imports) + f"\n\n\n{code}\n"
    _check_module(module, docstring, parameters)
    return module


def _unpacked(parameters: list[str]) -> list[str]:
    """``a0, a1 = x, w``, a bounded number of names a line."""
    lines, start = [], 0
    for chunk in chunked(parameters, WIDTH):
        targets = ", ".join(f"a{k}" for k in range(start, start + len(chunk)))
        lines.append(f"{targets} = {', '.join(chunk)}")
        start += len(chunk)
    return lines


def _packed(definition: str, parameters: list[str]) -> list[str]:
    """``a40 = (x, w, ...)`` for a function that unpacks its ``*a40`` itself."""
    pack = definition[definition.index("(*") + 2 : -2]
    chunks = chunked(parameters, WIDTH)
    lines = [f"{pack} = ({', '.join(chunks[0])},)"]
    return lines + [f"{pack} = {pack} + ({', '.join(c)},)" for c in chunks[1:]]


def _tuple(texts: list[str]) -> str:
    return f"({texts[0]},)" if len(texts) == 1 else f"({', '.join(texts)})"


def _listed(parameters: list[str]) -> str:
    return ", ".join(parameters) if len(parameters) <= 8 else f"its {len(parameters)} arguments"


def _imports(source: str) -> list[str]:
    """The imports the function's code needs: numpy always, scipy.special etc. when used."""
    used = {"numpy"}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "scipy":
                used.add(f"scipy.{node.attr}")
            elif node.value.id in MODULES:
                used.add(node.value.id)
        elif isinstance(node, ast.Name) and node.id in MODULES and node.id != "scipy":
            used.add(node.id)
    return [f"import {name}" for name in sorted(used)]


def _docstring(grad: Gradient, args, parameters: list[str], imports: list[str]) -> str:
    output = display_name(grad.output.name)
    expr = "" if too_big_to_print(grad.expr) else f" = {grad.expr}"
    weights = set(grad.wrt)
    partials = [f"d{output}/d{display_name(w.name)}" for w in grad.wrt]
    lines = [
        f"Value and gradient of {output}{expr}.",
        "",
        f"Generated by symgraph {__version__}; it needs {', '.join(imports)[7:]}.",
        "",
        f"    value, {_tuple(partials)} = {FUNCTION}({_listed(parameters)})",
        "",
        "Arguments, in this order (inputs sorted by name, then the weights):",
        "",
    ]
    for symbol, name in zip(args, parameters, strict=True):
        kind = "weight" if symbol in weights else "input"
        shape = f", a {'x'.join(map(str, symbol.shape))} array" if symbol.is_Matrix else ""
        lines.append(f"    {name}: {kind}{shape}")
    renamed = [(s, p) for s, p in zip(args, parameters, strict=True) if s.name != p]
    if renamed:
        lines += ["", "Renamed (not a safe Python parameter name):", ""]
        lines += [f"    {p} is the symbol '{display_name(s.name)}'" for s, p in renamed]
    lines += [
        "",
        "Numbers or NumPy arrays (scalar arguments broadcast together); overflow gives",
        "inf or nan, without a warning.  Returns (value, partials): the value, then one",
        "partial per weight in the order above, each of its weight's shape (a constant",
        "partial is a number).",
        "",
        "Formulas:",
        "",
        *("    " + line for line in str(grad).splitlines()),
    ]
    return "\n".join(lines)


def _literal(text: str) -> str:
    """``text`` as a triple-quoted string literal: backslashes, quotes and controls escaped."""
    out = []
    for c in text:
        if c == "\\" or c == '"':
            out.append("\\" + c)
        elif c == "\n" or c.isprintable():
            out.append(c)
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return '"""' + "".join(out) + '\n"""'


def _check_module(module: str, docstring: str, parameters: list[str]) -> None:
    """The module is the docstring, imports and the one function, exactly as written."""
    tree = ast.parse(module)
    first, *imports, function = tree.body
    ok = (
        isinstance(first, ast.Expr)
        and ast.get_docstring(tree, clean=False) == docstring + "\n"
        and all(isinstance(i, ast.Import) for i in imports)
        and isinstance(function, ast.FunctionDef)
        and function.name == FUNCTION
        and [a.arg for a in function.args.args] == parameters
    )
    if not ok:  # pragma: no cover - the layout above
        raise GraphError("the generated module is not laid out as documented")
