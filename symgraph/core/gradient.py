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

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sympy as sp

from ..errors import NotFoundError, SymgraphError
from .collector import paused_collector
from .progress import steps
from .sizes import (
    PRINT_MAX_DEPTH,
    PRINT_MAX_NODES,
    STRUCTURED_EQUATIONS,
    STRUCTURED_MAX_NODES,
    shared_tree_size,
    shown,
    substituted_shapes,
    too_big_to_print,
    tree_shape,
    worth_evaluating,
)
from .substitute import EVALUATED_DEPTH, evaluated, folded, substitute, warm_assumptions

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
        self._on_demand: tuple | None = None  # the state of closed forms asked one by one
        self.simplified = simplified

    # --- the mapping ---

    def weight(self, key: Any) -> sp.Basic:
        """The weight ``key`` names: itself, or the weight of that name.

        Raises
        ------
        NotFoundError
            Naming what ``key`` is instead (an input, no node at all) and the weights.

        Examples
        --------
        >>> import sympy as sp
        >>> import symgraph as sg
        >>> w, x = sp.symbols("w x")
        >>> sg.gradient(w * x, wrt=[w]).weight("w")
        w
        """
        try:
            if key in self.adjoints:
                return key
        except TypeError:  # unhashable: not a weight either
            pass
        name = key.name if isinstance(key, (sp.Symbol, sp.MatrixSymbol)) else key
        weights = shown(list(self.wrt))
        if not isinstance(name, str):
            raise NotFoundError(
                f"{shown(key)} is not a weight of this gradient (a weight is a Symbol or a "
                f"name); ask for one of {weights}"
            )
        for w in self.wrt:  # by name: a symbol with other assumptions names the same weight
            if w.name == name:
                return w
        nodes = self.graph.nx.nodes(data="role")
        role = next((r for n, r in nodes if n.name == name), None)
        hint = f"{shown(name)} is an {role} node" if role else f"no weight named {shown(name)}"
        raise NotFoundError(
            f"{hint}, not a weight; the weights of this gradient are {weights} "
            "(differentiate by another symbol with sg.gradient(expr, wrt=[...]))"
        )

    def __getitem__(self, key: Any) -> sp.Basic:
        w = self.weight(key)
        if self._closed is not None:
            return self._closed[w]
        return self._closed_form(w)

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

    @paused_collector
    def _closed_form(self, w: sp.Basic) -> sp.Basic:
        """One weight's closed form, from the δ-equations it needs only (on demand).

        ``grad[x1]`` of a k-factor product substitutes the δs on x1's path, not
        every weight's: linear in k, where all the closed forms together hold
        k(k - 1) factors.  What one weight's form computes is kept for the next.
        """
        if self._on_demand is None:
            values = {n: data["expr"] for n, data in self.graph.nx.nodes(data=True)}
            evaluate = self._evaluates
            if not evaluate:
                warm_assumptions(values.values())
            order = {lhs: k for k, (lhs, _) in enumerate(self.equations)}
            built = set() if evaluate else None
            self._on_demand = (values, built, dict(self.equations), order, {}, {})
        values, built, rhs_of, order, done, evaluations = self._on_demand
        d = self.adjoints[w]
        needed, stack = set(), [d]
        while stack:  # the δs d is written with, not yet substituted
            lhs = stack.pop()
            if lhs in needed or lhs in values or lhs not in rhs_of:
                continue
            needed.add(lhs)
            stack.extend(s for s in rhs_of[lhs].free_symbols if s in rhs_of)
        for lhs in sorted(needed, key=order.__getitem__):  # children before parents
            values[lhs] = substitute(rhs_of[lhs], values, False, built)
        value = values.get(d, d)
        return folded(value if built is None else evaluated(value, built, evaluations), done)

    @functools.cached_property
    def _evaluates(self) -> bool:
        """Whether closed forms are built with SymPy's evaluation.

        Deep graphs give deep closed forms, and shared parts (a residual layer's
        ``h + tanh(w*h)``) trees exponentially large: both are built unevaluated,
        in time linear in the graph, as SymPy's evaluation walks them as trees.
        """
        if self.graph.size["depth"] > EVALUATED_DEPTH:
            return False
        exprs = [data["expr"] for _, data in self.graph.nx.nodes(data=True)]
        memo: dict = {}  # shared: the nodes' expressions share their parts
        tree = max((shared_tree_size(e, memo=memo) for e in exprs), default=0)
        return worth_evaluating(tree, len(memo))

    @paused_collector
    def closed_forms(self, progress: bool = False) -> dict[sp.Symbol, sp.Basic]:
        """weight -> closed form (inputs and weights only); computed once.

        With ``progress``, a bar on standard error counts the δ-equations done.
        """
        if self._closed is None:
            values: dict[sp.Basic, sp.Basic] = {
                n: data["expr"] for n, data in self.graph.nx.nodes(data=True)
            }
            evaluate = self._evaluates
            if not evaluate:  # even unevaluated, SymPy asks is_commutative all the way down
                warm_assumptions(values.values())
            equations = steps(self.equations, len(self.equations), "closed forms", progress)
            built = set() if evaluate else None  # evaluated once each, after the pass
            for lhs, rhs in equations:  # children before parents: one pass
                values[lhs] = substitute(rhs, values, False, built)
            closed = {w: values.get(d, d) for w, d in self.adjoints.items()}
            if built is not None:
                evaluations: dict = {}  # shared, as the weights' closed forms share parts
                closed = {w: evaluated(e, built, evaluations) for w, e in closed.items()}
            done: dict = {}  # the weights' closed forms share their parts: fold each once
            self._closed = {w: folded(e, done) for w, e in closed.items()}
        return dict(self._closed)

    # --- the next stages ---

    def simplify(
        self,
        strategy: str = "fast",
        budget: float = SIMPLIFY_BUDGET,
        progress: bool = False,
        workers: int = 1,
    ) -> Gradient:
        """A new Gradient with simplified closed forms (values never change).

        ``"fast"`` factors shared factors and cancels, keeping a form only when
        it is shorter; ``"thorough"`` also runs ``sympy.simplify``.  The whole
        call, either way, takes at most about ``budget`` seconds (5 by default):
        past it, each closed form keeps the best form found so far.  ``workers``:
        processes simplifying the weights' closed forms side by side (the same
        result).  See :mod:`symgraph.numeric.simplify`.
        """
        from ..numeric.simplify import simplify_gradient

        return simplify_gradient(
            self, strategy=strategy, budget=budget, progress=progress, workers=workers
        )

    def lambdify(self, backend: str = "numpy", reduce: str | None = None, workers: int = 1):
        """One callable computing the value and every partial together.

        ``f(**values)`` or ``f(*f.args)`` returns ``(value, (∂/∂w1, ...))``.
        ``backend``: ``"numpy"``, ``"jax"`` or ``"torch"``; ``reduce``: ``"sum"``
        or ``"mean"`` over the batch; ``workers``: threads splitting a batch.
        See :mod:`symgraph.numeric.compile`.
        """
        from ..numeric.compile import compile_gradient

        return compile_gradient(self, backend=backend, reduce=reduce, workers=workers)

    def source(self, language: str = "python") -> str:
        """Self-contained source of the value and gradient: ``"python"`` or ``"c"``.

        See :mod:`symgraph.numeric.source`.
        """
        from ..numeric.source import gradient_source

        return gradient_source(self, language)

    def latex(
        self, form: str = "closed", environment: str = "align", *, width: float | None = 229.5
    ) -> str:
        """LaTeX for a paper: ``\\frac{\\partial L}{\\partial w} = ...`` per weight.

        Closed forms too big to print (see :mod:`symgraph.core.sizes`) give the
        structured form instead, after a ``%`` comment saying why; a structured
        form too big as well is refused (SymgraphError).  ``width``: the column
        in points (229.5, a two-column article's ``\\columnwidth``); longer
        formulas are broken over rows at their top-level operators, a closed
        form that cannot fit gives its weight's δ-equations; None: never broken.
        See :func:`symgraph.present.latex.gradient_latex`.
        """
        from ..present.latex import gradient_latex

        reason = self.unprintable_reason() if form == "closed" else None
        if reason is None and form != "structured":
            return gradient_latex(self, form=form, environment=environment, width=width)
        too_big = self._structured_too_big()
        if too_big is not None:
            raise SymgraphError(
                f"the gradient is too big for LaTeX: {too_big}; "
                "print a part of grad.equations, or build a finer graph "
                "(granularity='op': an equation per operation)"
            )
        body = gradient_latex(self, form="structured", environment=environment, width=width)
        return body if reason is None else f"% {reason}\n{body}"

    def _repr_latex_(self) -> str:
        lines = self.latex(environment="aligned").splitlines()
        return "$$" + "\n".join(line for line in lines if not line.startswith("%")) + "$$"

    def __str__(self) -> str:
        from ..present.latex import paper_text  # Xᵀ, ⊙, tanh(Z) entrywise; plain str for scalars

        reason = self.unprintable_reason()
        if reason is not None:
            return self._structured_text(reason, paper_text)
        closed = self.closed_forms().items()
        return "\n".join(f"∂{self.output}/∂{w} = {paper_text(e)}" for w, e in closed)

    def estimated_shapes(self, cap: int = STRUCTURED_MAX_NODES) -> dict[sp.Symbol, tuple]:
        """weight -> (size, depth) its closed form will have as a tree, without building it.

        Measured on the structured form in one pass (sizes capped at ``cap + 1``),
        so that printing and simplifying can skip a closed form of millions of
        terms instead of building it first.
        """
        nodes = self.graph.nx.nodes
        steps = [
            (n, nodes[n]["op"])
            for n in self.graph.topological_order()
            if nodes[n]["op"] is not None
        ]
        shapes = substituted_shapes([*steps, *self.equations], cap)
        return {w: shapes.get(d) or tree_shape(d, cap) for w, d in self.adjoints.items()}

    def unprintable_reason(self, max_nodes: int | None = None) -> str | None:
        """Why the closed forms are not printed, or None: too deep, or over ``max_nodes`` together.

        Measured before any closed form is built where they would be far too big.

        Examples
        --------
        >>> import sympy as sp
        >>> import symgraph as sg
        >>> w, x = sp.symbols("w x")
        >>> sg.gradient(sp.tanh(w * x), wrt=[w]).unprintable_reason() is None
        True
        """
        max_nodes = PRINT_MAX_NODES if max_nodes is None else max_nodes
        if self._closed is None:  # far too big: say so without building them
            total, cap = 0, 10 * max_nodes
            for w, (size, depth) in self.estimated_shapes(cap).items():
                total += size
                if total > cap or depth > 10 * PRINT_MAX_DEPTH:
                    return self._too_big(w, total <= cap, depth, max_nodes)
        left = max_nodes
        for w, e in self.closed_forms().items():
            size, depth = tree_shape(e, left)
            left -= size
            if left < 0 or depth > PRINT_MAX_DEPTH:
                return self._too_big(w, left >= 0, depth, max_nodes)
        return None

    def _too_big(self, w: sp.Symbol, counted: bool, depth: int, max_nodes: int) -> str:
        """The reason line; ``counted``: the tree was measured in full, so ``depth`` is exact."""
        why = f"the closed forms up to it exceed {max_nodes} nodes written out"
        if depth > PRINT_MAX_DEPTH:
            why = (
                f"depth {depth} > {PRINT_MAX_DEPTH}" if counted else f"depth over {PRINT_MAX_DEPTH}"
            )
        return (
            f"the closed form of ∂{self.output}/∂{w} is too big to print ({why}); "
            "the structured form follows, one equation per node"
        )

    def _structured_equations(self) -> list[tuple[Any, sp.Basic]]:
        """The forward definitions, the δ-equations, then each partial in δ-terms."""
        nodes = self.graph.nx.nodes
        pairs: list[tuple[Any, sp.Basic]] = [
            (n, nodes[n]["op"])
            for n in self.graph.topological_order()
            if nodes[n]["op"] is not None
        ]
        pairs += self.equations
        structured = self.structured
        return pairs + [(f"∂{self.output}/∂{w}", structured[w]) for w in self.wrt]

    def _structured_too_big(self) -> str | None:
        """Why the structured form is not printed, or None.

        The budget grows with the number of equations (a deep graph's equations
        are many and short: linear), so only big equations are refused.
        """
        pairs = self._structured_equations()
        budget = STRUCTURED_MAX_NODES * max(1, len(pairs) // STRUCTURED_EQUATIONS)
        left = budget
        for _, rhs in pairs:
            size, depth = tree_shape(rhs, left)
            left -= size
            if left < 0:
                return f"its equations exceed {budget} nodes written out"
            if depth > PRINT_MAX_DEPTH:
                return f"an equation of depth {depth} > {PRINT_MAX_DEPTH}"
        return None

    def _structured_text(self, reason: str, text) -> str:
        """The structured form as text; the equations, then the partials, each cut
        (saying so) past half of ``STRUCTURED_MAX_NODES``."""
        pairs = self._structured_equations()
        cut = len(pairs) - len(self.wrt)
        lines = [f"# {reason}"]
        for part, where in ((pairs[:cut], "grad.equations"), (pairs[cut:], "grad.structured")):
            left = half = STRUCTURED_MAX_NODES // 2
            for k, (lhs, rhs) in enumerate(part):
                left -= tree_shape(rhs, max(left, 0))[0]
                if left < 0:
                    lines.append(
                        f"# {len(part) - k} more lines not printed (over {half} nodes "
                        f"written out): read them in {where}"
                    )
                    break
                lines.append(_line(lhs, rhs, text))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Gradient of {self.output} wrt {', '.join(map(str, self.wrt))}>"


def _line(lhs: Any, rhs: sp.Basic, text) -> str:
    """``lhs = rhs`` as text, or a note in place of a right side too big to print."""
    name = lhs if isinstance(lhs, str) else text(lhs)
    reason = too_big_to_print(rhs)
    return f"{name} = <not printed: {reason}>" if reason else f"{name} = {text(rhs)}"
