"""The interactive page's arithmetic: the compiled lines, printed as JavaScript.

The page recomputes every node's value, every δ and every edge's local
partial when a leaf's value is edited.  It runs the lines the numbers of a
walkthrough come from (:func:`symgraph.numeric.compile.values_at`): the
graph's forward assignments, then the δ-equations as compiled
(:func:`~symgraph.numeric.lines.numeric_equations`), in their stable forms
(:mod:`symgraph.numeric.stable`), and one line per edge partial.  They are
printed by a subclass of SymPy's JavaScript printer with identifiers of our
own (``n3`` a node, ``d3`` its δ, ``p4`` an edge's partial, ``a`` the leaves'
values): a user's name never becomes code.  The result is checked token by
token before it is used (:func:`check_js`), as generated Python is.

Matrix graphs, and scalar ones using a function JavaScript has no form for
(``erf``, a user's own function), have no program: :func:`js_program` says why.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> program = js_program(sg.gradient(sp.tanh(w * x), wrt=[w]))
>>> print(program.source)
function symgraphCompute(a) {
  const n0 = a[0];
  const n1 = a[1];
  const n2 = n0*n1;
  const n3 = Math.tanh(n2);
  const d3 = 1;
  const d2 = d3*(1 - Math.pow(n3, 2));
  const d0 = d2*n1;
  const p0 = n1;
  const p1 = n0;
  const p2 = 1 - Math.pow(n3, 2);
  return {value: [n0, n1, n2, n3], delta: [d0, null, d2, d3], partial: [p0, p1, p2]};
}
>>> program.leaves
[0, 1]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp
from sympy.printing.codeprinter import PrintMethodNotImplementedError
from sympy.printing.jscode import JavascriptCodePrinter

from ..core.gradient import Gradient
from ..core.graph import forward_assignments
from ..errors import NoRuleError, SymgraphError
from ..numeric.lines import numeric_equations
from ..numeric.stable import stable_lines

__all__ = ["JSLines", "JSProgram", "check_js", "js_program"]


class JSLines(JavascriptCodePrinter):
    """SymPy's JavaScript printer with our identifiers and the compiled code's conventions.

    ``Heaviside(0) = 1/2``, ``DiracDelta → 0``, a ``Piecewise`` with no branch
    taken is NaN, and a zero-safe product is 0 where its δ is 0, as in
    :class:`~symgraph.numeric.printers.NumPyLines`.

    >>> x = sp.Symbol("x")
    >>> JSLines({x: "n0"}).doprint(sp.Heaviside(x) + x**sp.Rational(1, 3))
    'Math.pow(n0, 1/3) + (n0 > 0 ? 1 : n0 < 0 ? 0 : n0 === 0 ? 1/2 : NaN)'
    """

    def __init__(self, names: dict[sp.Basic, str]):
        super().__init__({"strict": True})
        self._names = names

    def _print_Symbol(self, expr):
        try:
            return self._names[expr]
        except KeyError:
            raise NoRuleError(f"the symbol {expr} has no value in the page's program") from None

    def _print_Rational(self, expr):
        return f"{expr.p}/{expr.q}"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_NaN(self, expr):
        return "NaN"

    def _print_BooleanTrue(self, expr):
        return "true"

    def _print_BooleanFalse(self, expr):
        return "false"

    def _print_Pow(self, expr):
        # Math.pow everywhere (SymPy would print Math.cbrt, real at negative numbers; NumPy is NaN)
        if expr.exp == sp.S.Half:
            return f"Math.sqrt({self._print(expr.base)})"
        return f"Math.pow({self._print(expr.base)}, {self._print(expr.exp)})"

    def _print_Piecewise(self, expr):
        out = "NaN"
        for value, test in reversed(expr.args):
            value = self._print(value)
            out = value if test == sp.true else f"({self._print(test)} ? {value} : {out})"
        return out

    def _print_Heaviside(self, expr):
        u = self._print(expr.args[0])
        h0 = self._print(expr.args[1] if len(expr.args) > 1 else sp.S.Half)
        return f"({u} > 0 ? 1 : {u} < 0 ? 0 : {u} === 0 ? {h0} : NaN)"

    def _print_DiracDelta(self, expr):
        return "0"

    def _print_ZeroSafeProduct(self, expr):
        delta, partial = (self._print(a) for a in expr.args)
        return f"({delta} === 0 ? 0 : {delta}*({partial}))"

    def _print_Logistic(self, expr):  # σ(u) without overflow, as numeric/stable_forms.py
        u = self._print(expr.args[0])
        return f"((u) => {{ const e = Math.exp(-Math.abs(u)); return u >= 0 ? 1/(1 + e) : e/(1 + e); }})({u})"  # noqa: E501

    def _print_Softplus(self, expr):
        u = self._print(expr.args[0])
        return f"((u) => Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u))))({u})"

    def _print_LogAddExp(self, expr):
        args = ", ".join(self._print(a) for a in expr.args)
        return (
            f"((...u) => {{ const m = Math.max(...u); "
            f"return m + Math.log(u.reduce((s, v) => s + Math.exp(v - m), 0)); }})({args})"
        )

    def _print_log1p(self, expr):
        return f"Math.log1p({self._print(expr.args[0])})"

    def _print_expm1(self, expr):
        return f"Math.expm1({self._print(expr.args[0])})"


@dataclass(frozen=True)
class JSProgram:
    """A JavaScript function ``symgraphCompute(a)`` and what its arrays mean.

    Attributes
    ----------
    source : str
        ``function symgraphCompute(a) {...}``; ``a`` holds the leaves' values in
        the order of :attr:`leaves`; it returns ``{value, delta, partial}``:
        arrays by node index (topological order; δ null where backpropagation
        does not visit the node) and by edge index (null: no scalar partial).
    leaves : list of int
        The node indices of the leaves, in the order ``a`` holds them.
    """

    source: str
    leaves: list[int]


def js_program(grad: Gradient) -> JSProgram | str:
    """The page's program for ``grad``, or the reason it has none (a sentence).

    One line per node, δ-equation and edge: linear in the graph.
    """
    graph = grad.graph
    if graph.has_matrices:
        return "matrix graphs are not recomputed in the page; their numbers are Python's"
    order = graph.topological_order()
    index = {node: k for k, node in enumerate(order)}
    names: dict[sp.Basic, str] = {node: f"n{k}" for k, node in enumerate(order)}
    by_name = {node.name: k for node, k in index.items()}
    deltas = {}
    for lhs, _ in grad.equations:
        deltas[by_name[lhs.node_name]] = names[lhs] = f"d{by_name[lhs.node_name]}"
    leaves = [k for k, node in enumerate(order) if graph.nx.nodes[node]["op"] is None]
    printer = JSLines(names)
    body = [f"  const n{k} = a[{i}];" for i, k in enumerate(leaves)]
    lines = stable_lines(forward_assignments(graph) + numeric_equations(grad))
    partials = []
    for e, (operand, result) in enumerate(graph.nx.edges):
        partial = graph.nx.edges[operand, result].get("partial")
        if partial is not None:
            target = sp.Dummy(f"p{e}")  # never equal to a node's symbol
            names[target] = f"p{e}"
            partials.append(f"p{e}")
            lines.append((target, partial))
        else:
            partials.append("null")
    try:
        for target, expr in lines:
            body.append(f"  const {names[target]} = {printer.doprint(expr)};")
    except (PrintMethodNotImplementedError, NoRuleError) as err:
        what = str(err).split(":")[-1].split("\n")[0].strip(" <>'") or "an operation"
        return f"the page cannot recompute this graph ({what} has no JavaScript form here)"
    values = ", ".join(f"n{k}" for k in range(len(order)))
    delta = ", ".join(deltas.get(k, "null") for k in range(len(order)))
    body.append(
        f"  return {{value: [{values}], delta: [{delta}], partial: [{', '.join(partials)}]}};"
    )
    source = "\n".join(["function symgraphCompute(a) {", *body, "}"])
    check_js(source)
    return JSProgram(source, leaves)


_TOKEN = re.compile(
    r"\s+|(?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)"
    r"|(?P<punct>\.\.\.|=>|===|[-+*/%(),?:<>=!&|\[\];{}])"
)
_OURS = re.compile(r"[ndp]\d+")
_ALLOWED = {
    "a", "u", "v", "e", "m", "s", "function", "symgraphCompute", "const", "return", "null",
    "value", "delta", "partial", "true", "false", "NaN", "Math.PI", "Math.E", "u.reduce",
    "Number.POSITIVE_INFINITY", "Number.NEGATIVE_INFINITY",
}  # fmt: skip
_MATH = {
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh",
    "acosh", "atanh", "exp", "log", "log1p", "expm1", "sqrt", "pow", "abs", "sign", "max",
    "min", "floor", "ceil",
}  # fmt: skip


def check_js(source: str) -> None:
    """Refuse generated JavaScript with anything but our names, numbers and operators.

    Raises
    ------
    SymgraphError
        Naming the first token that is not ours.

    >>> check_js("const n1 = Math.sin(n0);")
    >>> check_js("alert(1)")
    Traceback (most recent call last):
    ...
    symgraph.errors.SymgraphError: generated JavaScript has an unexpected token 'alert'
    """
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        name = match and match.group("name")
        if match is None or match.end() == position:
            raise SymgraphError(f"generated JavaScript has an unexpected {source[position]!r}")
        if name and not (
            name in _ALLOWED
            or _OURS.fullmatch(name)
            or (name.startswith("Math.") and name[5:] in _MATH)
        ):
            raise SymgraphError(f"generated JavaScript has an unexpected token {name!r}")
        position = match.end()
