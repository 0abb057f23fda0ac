"""Gradient: the result of backpropagation, a mapping weight → closed form.

It keeps both forms the design asks for:

- ``equations``: the structured form, one δ-equation per node in node symbols
  (``delta_v1 = delta_L*cos(v1)``); it is what keeps everything linear;
- ``grad[w]``: the closed form in inputs and weights only, built from the
  equations on first use (iteratively, one small substitution per node).

Examples
--------
>>> import sympy as sp
>>> import symgraph as sg
>>> w, x, b, y = sp.symbols("w x b y", real=True)
>>> grad = sg.gradient((sp.tanh(w*x + b) - y)**2, wrt=[w, b])
>>> grad[b]
(1 - tanh(b + w*x)**2)*(-2*y + 2*tanh(b + w*x))
>>> grad.structured[w]
delta_v2*x
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sympy as sp

from .sizes import too_big_to_print
from .substitute import EVALUATED_DEPTH, folded, substitute

if TYPE_CHECKING:  # pragma: no cover
    from .graph import Graph

SIMPLIFY_BUDGET = 5.0  # seconds for one whole simplify call (symgraph.simplify.DEFAULT_BUDGET)


class Gradient(Mapping):
    """Closed-form partial derivatives of one output with respect to weights.

    Attributes
    ----------
    graph : Graph
        The graph backpropagation ran on.
    wrt : tuple of Symbol
        The weights, in order.
    equations : tuple of (AdjointSymbol, Expr)
        The δ-equations in reverse topological order (structured form).
    adjoints : dict
        weight -> its δ symbol (0 when the output does not depend on it).
    """

    def __init__(
        self,
        graph: Graph,
        equations,
        adjoints: Mapping[sp.Symbol, sp.Basic],
        closed: Mapping[sp.Symbol, sp.Basic] | None = None,
        simplified: str | None = None,
    ):
        self.graph = graph
        self.wrt = tuple(graph.wrt)
        self.equations = tuple(equations)
        self.adjoints = dict(adjoints)
        self._closed = dict(closed) if closed is not None else None
        self.simplified = simplified

    # --- the mapping ---

    def _key(self, key: Any) -> sp.Symbol:
        if isinstance(key, str):
            for w in self.wrt:
                if w.name == key:
                    return w
        elif key in self.adjoints:
            return key
        raise KeyError(f"{key} is not a weight of this gradient (wrt: {list(self.wrt)})")

    def __getitem__(self, key: Any) -> sp.Basic:
        return self.closed_forms()[self._key(key)]

    def __iter__(self) -> Iterator[sp.Symbol]:
        return iter(self.wrt)

    def __len__(self) -> int:
        return len(self.wrt)

    # --- the two forms ---

    @property
    def output(self) -> sp.Symbol:
        """The output node's symbol (``L`` unless named otherwise)."""
        return self.graph.output

    @property
    def expr(self) -> sp.Basic:
        """The differentiated expression itself."""
        return self.graph.expr

    @property
    def structured(self) -> dict[sp.Symbol, sp.Basic]:
        """weight -> right side of its δ-equation, in node symbols and δ-terms."""
        rhs = dict(self.equations)
        return {w: rhs.get(d, d) for w, d in self.adjoints.items()}

    def closed_forms(self) -> dict[sp.Symbol, sp.Basic]:
        """weight -> closed form (inputs and weights only); computed once."""
        if self._closed is None:
            values: dict[sp.Basic, sp.Basic] = {
                n: data["expr"] for n, data in self.graph.nx.nodes(data=True)
            }
            # Deep graphs give deep closed forms: built unevaluated, in linear time.
            evaluate = self.graph.size["depth"] <= EVALUATED_DEPTH
            for lhs, rhs in self.equations:  # children before parents: one pass
                values[lhs] = substitute(rhs, values, evaluate)
            self._closed = {w: folded(values.get(d, d)) for w, d in self.adjoints.items()}
        return dict(self._closed)

    # --- the next stages ---

    def simplify(
        self, strategy: str = "fast", budget: float = SIMPLIFY_BUDGET, progress: bool = False
    ) -> Gradient:
        """A new Gradient with simplified closed forms (values never change).

        ``"fast"`` factors shared factors and cancels, keeping a form only when
        it is shorter; ``"thorough"`` also runs ``sympy.simplify``.  The whole
        call, either way, takes at most about ``budget`` seconds (5 by default):
        past it, each closed form keeps the best form found so far.  See
        :mod:`symgraph.simplify`.
        """
        from .simplify import simplify_gradient

        return simplify_gradient(self, strategy=strategy, budget=budget, progress=progress)

    def lambdify(self, backend: str = "numpy"):
        """One callable computing the value and every partial together.

        ``f(**values)`` or ``f(*f.args)`` returns ``(value, (∂/∂w1, ...))``.
        See :mod:`symgraph.compile`.
        """
        from .compile import compile_gradient

        return compile_gradient(self, backend=backend)

    def latex(self, form: str = "closed", environment: str = "align") -> str:
        """LaTeX for a paper: ``\\frac{\\partial L}{\\partial w} = ...`` per weight.

        Closed forms too big to print (:func:`symgraph.sizes.too_big_to_print`)
        give the structured form instead, after a ``%`` comment saying why.
        """
        from .latex import gradient_latex

        reason = self._unprintable() if form == "closed" else None
        if reason is None:
            return gradient_latex(self, form=form, environment=environment)
        body = gradient_latex(self, form="structured", environment=environment)
        return f"% {reason}\n{body}"

    def _repr_latex_(self) -> str:
        lines = self.latex(environment="aligned").splitlines()
        return "$$" + "\n".join(line for line in lines if not line.startswith("%")) + "$$"

    def __str__(self) -> str:
        from .latex import paper_text  # Xᵀ, ⊙, tanh(Z) entrywise; plain str for scalars

        reason = self._unprintable()
        if reason is not None:
            return self._structured_text(reason, paper_text)
        closed = self.closed_forms().items()
        return "\n".join(f"d{self.output}/d{w} = {paper_text(e)}" for w, e in closed)

    def _unprintable(self) -> str | None:
        """Why the closed forms are not printed (naming the first such weight), or None."""
        for w, e in self.closed_forms().items():
            reason = too_big_to_print(e)
            if reason is not None:
                return (
                    f"the closed form of d{self.output}/d{w} is too big to print ({reason}); "
                    "the structured form follows, one equation per node"
                )
        return None

    def _structured_text(self, reason: str, text) -> str:
        """The forward definitions, the δ-equations, then each partial in δ-terms."""
        nodes = self.graph.nx.nodes
        lines = [f"# {reason}"]
        lines += [
            f"{n} = {_printed(nodes[n]['op'], text)}"
            for n in self.graph.topological_order()
            if nodes[n]["op"] is not None
        ]
        lines += [f"{text(lhs)} = {_printed(rhs, text)}" for lhs, rhs in self.equations]
        structured = self.structured
        lines += [f"d{self.output}/d{w} = {_printed(structured[w], text)}" for w in self.wrt]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Gradient of {self.output} wrt {', '.join(map(str, self.wrt))}>"


def _printed(expr: sp.Basic, text) -> str:
    """``text(expr)``, or a note when even one equation is too big to print."""
    reason = too_big_to_print(expr)
    return f"<not printed: {reason}>" if reason else text(expr)
