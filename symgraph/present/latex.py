r"""LaTeX export of a Gradient: one ``\frac{\partial L}{\partial w} = …`` per weight.

Two forms:

- ``"closed"``: each partial in inputs and weights only;
- ``"structured"``: the forward definitions (``v_{1} = w x``), the δ-terms
  named after the graph's nodes (``\delta_{v_{1}} = \delta_{L} \cos{v_{1}}``),
  then each partial in δ-terms: the way a paper's backpropagation section reads.

SymPy prints every expression; this module only arranges equations.

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x = sp.symbols("w x", real=True)
>>> print(gradient_latex(sg.gradient(sp.sin(w * x), wrt=[w])))
\begin{align}
\frac{\partial L}{\partial w} &= x \cos{\left(w x \right)}
\end{align}
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..core.adjoint import adjoint_of, is_adjoint
from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..core.sizes import is_matrix
from ..core.substitute import folded
from ..errors import GraphError, SymgraphError
from .latex_break import COLUMN_WIDTH, break_rows

FORMS = ("closed", "structured")
# A longer sum is printed in SymPy's stored order: ordering terms over n symbols
# (Expr.as_ordered_terms) builds an n-long monomial per term, quadratic in n.
ORDERED_TERMS = 64
ENVIRONMENTS = ("align", "align*", "aligned", None)


class _LongSumsAsStored:
    """Sums of more than ``ORDERED_TERMS`` terms printed in SymPy's stored order.

    So are the factors of a product with such a sum among them (or such a
    sum's power): SymPy orders factors by their sort keys, and a sum's sort key
    orders its terms, which is the quadratic step again (``δ_L (Σ x_i cos(w x_i))``).
    """

    def _print_Add(self, expr, order=None):
        return super()._print_Add(expr, "none" if len(expr.args) > ORDERED_TERMS else order)

    def _print_Mul(self, expr):
        if not any(map(_long_sum, expr.args)):
            return super()._print_Mul(expr)
        order, self._settings["order"] = self._settings["order"], "none"
        try:
            return super()._print_Mul(expr)
        finally:
            self._settings["order"] = order


def _long_sum(factor: sp.Basic) -> bool:
    """Whether ``factor`` is a sum of more than ``ORDERED_TERMS`` terms, or a power of one."""
    base = factor.base if factor.is_Pow else factor
    return base.is_Add and len(base.args) > ORDERED_TERMS


class PaperLatexPrinter(_LongSumsAsStored, LatexPrinter):
    """SymPy's LaTeX, with matrices in a paper's notation.

    ``^{\\top}``, ``\\odot``, ``\\operatorname{tr}``; a function applied
    entrywise to a node is written as if on a number: ``\\tanh(Z_1)``,
    ``1 - \\tanh^2(Z_1)``.
    """

    def _print_Transpose(self, expr):
        base = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol):
            base = rf"\left({base}\right)"
        return rf"{base}^{{\top}}"

    def _print_HadamardProduct(self, expr):
        return r" \odot ".join(self.parenthesize(a, PRECEDENCE["Mul"] - 1) for a in expr.args)

    def _print_OneMatrix(self, expr):
        return r"\mathbf{1}"

    def _print_MatMul(self, expr):
        """A fraction leading a product is written bare: ``\frac{1}{64} (S - Y)``."""
        head, *rest = expr.args
        if rest and head.is_Rational and not head.is_Integer and head > 0:
            return f"{self._print(head)} {self._print(sp.MatMul(*rest))}"
        return super()._print_MatMul(expr)

    def _print_Trace(self, expr):
        return rf"\operatorname{{tr}}\left({self._print(expr.arg)}\right)"

    def _print_ElementwiseApplyFunction(self, expr):
        u = sp.Dummy("u")
        body = expr.function(u)
        argument = self._print(expr.expr)
        if isinstance(body, sp.Function) and body.args == (u,):  # tanh(z), applied entrywise
            name = type(body).__name__
            head = f"\\{name}" if name in LATEX_FUNCTIONS else f"\\operatorname{{{name}}}"
            return f"{head}\\left({argument}\\right)"
        if isinstance(expr.expr, sp.MatrixSymbol):  # 1 - tanh(Z1)**2, entrywise
            written = self._print(body.xreplace({u: sp.Symbol(expr.expr.name)}))
            return rf"\left({written}\right)"
        placeholder = sp.Symbol("PLACEHOLDER")  # [1 - tanh(·)**2](W x), entrywise
        inner = self._print(body.xreplace({u: placeholder})).replace("PLACEHOLDER", "\\cdot")
        return f"\\left[{inner}\\right]\\left({argument}\\right)"


LATEX_FUNCTIONS = ("tanh", "exp", "log", "sin", "cos", "sinh", "cosh")


class PaperTextPrinter(_LongSumsAsStored, StrPrinter):
    """Plain text in a paper's notation: ``Xᵀ``, ``⊙``, ``tanh(Z1)`` entrywise, ``1``."""

    def _print_Transpose(self, expr):
        base = self._print(expr.arg)
        return f"{base}ᵀ" if isinstance(expr.arg, sp.MatrixSymbol) else f"({base})ᵀ"

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in expr.args)

    def _print_OneMatrix(self, expr):
        return "1"

    def _print_AdjointSymbol(self, expr):
        return f"δ_{expr.node_name}"

    _print_MatrixAdjoint = _print_AdjointSymbol

    def _print_ElementwiseApplyFunction(self, expr):
        u = sp.Dummy("u")
        body = expr.function(u)
        if isinstance(body, sp.Function) and body.args == (u,):
            return f"{type(body).__name__}({self._print(expr.expr)})"
        if isinstance(expr.expr, sp.MatrixSymbol):
            return f"({self._print(body.xreplace({u: sp.Symbol(expr.expr.name)}))})"
        return f"[{self._print(body.xreplace({u: sp.Symbol('·')}))}]({self._print(expr.expr)})"


def paper_text(expr: sp.Basic) -> str:
    """One expression as plain text in a paper's notation (drawings' labels).

    >>> import sympy as sp
    >>> Z = sp.MatrixSymbol("Z", 2, 2)
    >>> paper_text(sp.HadamardProduct(Z.applyfunc(sp.tanh), Z.T))
    'tanh(Z) ⊙ Zᵀ'
    """
    return PaperTextPrinter().doprint(expr)


def latex_of(expr: sp.Basic) -> str:
    r"""LaTeX of one expression (scalar or matrix) in a paper's notation.

    >>> import sympy as sp
    >>> W, x = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1)
    >>> d = sp.MatrixSymbol("delta", 2, 1)
    >>> latex_of(sp.HadamardProduct(d, W * x) * x.T)
    '\\left(W x \\odot \\delta\\right) x^{\\top}'
    """
    return PaperLatexPrinter().doprint(expr)


def _tex(expr: sp.Basic) -> str:
    try:
        return latex_of(expr)
    except RecursionError as err:
        raise SymgraphError(
            "this closed form is too deep to print; use form='structured', "
            "which prints one short equation per node"
        ) from err


def partial_symbol(output: sp.Symbol, weight: sp.Symbol) -> str:
    r"""``\frac{\partial L}{\partial w}`` for an output and a weight."""
    return rf"\frac{{\partial {_tex(output)}}}{{\partial {_tex(weight)}}}"


@paused_collector
def gradient_latex(
    grad: Gradient,
    form: str = "closed",
    environment: str | None = "align",
    *,
    width: float | None = COLUMN_WIDTH,
) -> str:
    r"""The gradient as LaTeX equations, aligned at ``=``, broken to fit a column.

    Parameters
    ----------
    grad : Gradient
    form : {"closed", "structured"}
    environment : {"align", "align*", "aligned", None}
        The amsmath environment around the lines (None: the lines alone, for
        an alignment of one's own; like ``align``'s, a broken equation's rows
        but the last carry ``\nonumber``).
    width : float or None, keyword-only
        The column in points (default: a two-column article's ``\columnwidth``,
        229.5 pt); a longer right side is broken over rows at its top-level
        operators (see :mod:`symgraph.present.latex_break`).  A closed form that
        cannot fit (a part that cannot break is wider) is replaced by its
        weight's δ-equations, after a ``%`` comment saying so.  None: one row
        per equation, never broken.

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> a = sp.symbols("a1:9", real=True)
    >>> grad = sg.gradient(sp.Add(*(sp.exp(v) for v in a)) * a[0], wrt=[a[0]])
    >>> print(gradient_latex(grad, width=150))
    \begin{align}
    \frac{\partial L}{\partial a_{1}} &= a_{1} e^{a_{1}} + e^{a_{1}} + e^{a_{2}} \nonumber \\
    &\quad + e^{a_{3}} + e^{a_{4}} + e^{a_{5}} \nonumber \\
    &\quad + e^{a_{6}} + e^{a_{7}} + e^{a_{8}}
    \end{align}
    """
    if form not in FORMS:
        raise GraphError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    if environment not in ENVIRONMENTS:
        raise GraphError(f"unknown environment {environment!r}")
    numbered = environment in ("align", None)  # None: the lines may go into a numbered align
    if form == "structured":
        lines = _arranged(_structured_rows(grad), width, numbered)
    else:
        rows = [(partial_symbol(grad.output, w), _tex(e)) for w, e in grad.closed_forms().items()]
        lines = _closed_or_structured(grad, rows, width, numbered)
    body = " \\\\\n".join(lines)
    if environment is None:
        return body
    return f"\\begin{{{environment}}}\n{body}\n\\end{{{environment}}}"


def _arranged(rows, width, numbered, comments=None) -> list[str]:
    """The rows broken to fit, with ``comments`` (row index -> text) before their rows.

    A row that still does not fit gets a ``%`` comment saying so.
    """
    arranged = break_rows(rows, width, numbered)
    comments = dict(comments or {})
    for k, wide in arranged.too_wide:
        comments.setdefault(k, f"% about {wide:.0f} pt wide: wider than the column")
    lines = arranged.lines
    for k, comment in comments.items():
        lines[arranged.starts[k]] = f"{comment}\n{lines[arranged.starts[k]]}"
    return lines


def _closed_or_structured(grad: Gradient, rows, width, numbered) -> list[str]:
    """Closed-form rows; those of weights that cannot fit replaced by their δ-equations."""
    arranged = break_rows(rows, width, numbered)
    if not arranged.too_wide:
        return arranged.lines
    wide = dict(arranged.too_wide)
    weights = [w for k, w in enumerate(grad.wrt) if k in wide]
    structured = iter(_structured_rows(grad, only=weights))  # each definition once
    out, comments = [], {}
    for k, row in enumerate(rows):
        if k not in wide:
            out.append(row)
            continue
        comments[len(out)] = (
            f"% {row[0]}: the closed form does not fit a column of {width:g} pt "
            f"(a part that cannot break makes a row about {wide[k]:.0f} pt wide); "
            "its delta-equations instead"
        )
        for structured_row in structured:  # up to and including this weight's ∂L/∂w
            out.append(structured_row)
            if structured_row[0] == row[0]:
                break
    return _arranged(out, width, numbered, comments)


def pass_throughs(equations, keep=()) -> dict[sp.Basic, sp.Basic]:
    """δ_v -> the δ it equals, for ``δ_v = δ_Z1`` lines (a sum passes its δ on unchanged).

    A paper writes δ_Z1 there, with no line of its own; the δs in ``keep``
    (the weights') keep theirs.  Equations come children first, so one pass
    follows chains.

    >>> import sympy as sp
    >>> from symgraph.core.adjoint import adjoint_of
    >>> a, b, c = (adjoint_of(sp.Symbol(n)) for n in "abc")
    >>> pass_throughs([(a, sp.S.One), (b, a), (c, 2 * b)])
    {delta_b: delta_a}
    """
    keep = set(keep)
    alias: dict[sp.Basic, sp.Basic] = {}
    for lhs, rhs in equations:
        if is_adjoint(rhs) and lhs not in keep:
            alias[lhs] = alias.get(rhs, rhs)
    return alias


def seeded(rhs: sp.Basic, grad: Gradient) -> sp.Basic:
    """A matrix δ-equation with the output's δ (1) folded in, as a paper writes it.

    ``δ_{A_2} = (softmax(A_2) − Y)/n``, not ``(δ_L/n)(softmax(A_2) − Y)``; scalar
    equations keep ``δ_L`` (the textbook picture names the seed).

    >>> import sympy as sp
    >>> import symgraph as sg
    >>> from symgraph.matfuncs import SumEntries
    >>> v, y, r = (sp.MatrixSymbol(name, 2, 1) for name in "vyr")
    >>> loss = SumEntries(sp.HadamardProduct(r, r)) / 2
    >>> grad = sg.Graph.from_assignments([(r, v - y), (sp.Symbol("L"), loss)], wrt=[v]).backward()
    >>> for lhs, rhs in grad.equations[1:2]: print(lhs, "=", rhs, "->", seeded(rhs, grad))
    delta_r = delta_L*r -> r
    """
    seed = adjoint_of(grad.output)
    if not (is_matrix(rhs) and seed in rhs.free_symbols):
        return rhs
    value = dict(grad.equations).get(seed)
    if value != 1 and value != sp.Identity(1):
        return rhs
    return folded(rhs.xreplace({seed: sp.S.One}))


def _structured_rows(grad: Gradient, only=None) -> list[tuple[str, str]]:
    """(left, right) rows: forward definitions, δ-terms, then each ∂L/∂w in δ-terms.

    ``only``: the weights whose rows to give, with just the definitions and
    δ-terms they use (found walking back from their partials, once each).
    """
    graph = grad.graph
    forward = [
        (n, graph.nx.nodes[n]["op"])
        for n in graph.topological_order()
        if graph.nx.nodes[n]["op"] is not None
    ]
    weights = set(grad.adjoints.values())  # printed below as ∂L/∂w, not twice
    alias = pass_throughs(grad.equations, keep=weights)
    deltas = [
        (lhs, seeded(rhs.xreplace(alias), grad))
        for lhs, rhs in grad.equations
        if lhs not in weights and lhs not in alias
    ]
    structured = grad.structured  # a property that builds its dict: once, not per weight
    finals = [(w, seeded(structured[w].xreplace(alias), grad)) for w in only or grad.wrt]
    seed = adjoint_of(grad.output)
    if not any(seed in rhs.free_symbols for _, rhs in [*deltas, *finals]):
        deltas = [(lhs, rhs) for lhs, rhs in deltas if lhs != seed]  # folded into every row
    if only is not None:
        needed = set().union(*(e.free_symbols for _, e in finals))
        kept = []
        for lhs, rhs in reversed(deltas):  # δ-terms use later δ-terms, then node values
            if lhs in needed:
                kept.append((lhs, rhs))
                needed |= rhs.free_symbols
        deltas = kept[::-1]
        kept = []
        for lhs, rhs in reversed(forward):
            if lhs in needed:
                kept.append((lhs, rhs))
                needed |= rhs.free_symbols
        forward = kept[::-1]
    rows = [(_tex(lhs), _tex(rhs)) for lhs, rhs in [*forward, *deltas]]
    return rows + [(partial_symbol(grad.output, w), _tex(e)) for w, e in finals]


def latex_document(body: str) -> str:
    """A minimal compilable document around ``body`` (amsmath, and amssymb for \\mathbb)."""
    return (
        "\\documentclass{article}\n\\usepackage{amsmath, amssymb}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n"
    )
