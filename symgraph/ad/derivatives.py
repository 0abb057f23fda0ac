r"""Jacobians, Hessians and Hessian-vector products by the same graph machinery.

Nothing here differentiates a closed form entry by entry:

- :func:`jacobian` builds **one** graph holding every output (equal
  subexpressions shared) and runs one reverse pass per output over it;
- :func:`hessian` runs the reverse pass once, turns the gradient into a graph
  of its own (:func:`gradient_assignments`: the forward nodes, then one node
  per δ-equation), and runs the reverse pass again on that graph, once per
  gradient component;
- :func:`hvp` adds one node ``s = Σ_i g_i · v_i`` to the gradient's graph and
  backpropagates once (reverse over reverse), so ``H·v`` costs a small
  multiple of one gradient, whatever the number of weights.

In the gradient's graph, the first pass's adjoint δ_n of a node ``n`` is a
node named ``g_n`` (an :class:`AdjointNode`, printed :math:`\bar{n}`), so that
the second pass's own adjoints (``delta_n``) never collide with it.

Examples
--------
>>> import sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> hessian(x**3 * y, [x, y])
Matrix([
[ 6*x*y, 3*x**2],
[3*x**2,      0]])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from ..build.builder import GraphBuilder
from ..build.inputs import Namer, leaves_and_sizes
from ..core.adjoint import AdjointNode
from ..core.collector import paused_collector
from ..core.gradient import Gradient
from ..core.graph import Graph, forward_assignments
from ..core.sizes import is_matrix
from ..core.substitute import contains
from ..errors import GraphError
from ..rules.matfuncs import expand_explicit
from .backward import backward
from .inputs import (
    check_direction_names,
    check_directions,
    check_weights,
    forward_graph,
    outputs_of,
)

# --- the gradient's graph ------------------------------------------------------


def gradient_assignments(
    grad: Gradient, reserved: Iterable[str] = ()
) -> tuple[list[tuple[sp.Basic, sp.Basic]], dict[sp.Basic, sp.Basic]]:
    """The gradient as named assignments: the forward nodes, then the δ-equations.

    The forward graph's operation nodes come first, in topological order, then
    one assignment per δ-equation in the order backpropagation made them
    (children before parents), each δ renamed to an :class:`AdjointNode`.
    Constant adjoints (``δ_L = 1``) are written inline, not as nodes.  The
    weights stay the weights, and the graph of these assignments computes
    every gradient component as a named node.

    Parameters
    ----------
    grad : Gradient
    reserved : iterable of str
        Names that must stay free for symbols still to come (an HVP's
        directions): an intermediate node with such a name is renamed.

    Returns
    -------
    (list, dict)
        The ``(target, right side)`` assignments, and weight -> the node
        holding its gradient component (or a constant, e.g. 0, when there is none).

    Examples
    --------
    >>> import sympy as sp
    >>> import symgraph as sg
    >>> w, x = sp.symbols("w x", real=True)
    >>> steps, component = gradient_assignments(sg.gradient(sp.sin(w * x), wrt=[w]))
    >>> for target, rhs in steps: print(target, "=", rhs)
    v1 = w*x
    L = sin(v1)
    g_v1 = cos(v1)
    g_w = g_v1*x
    >>> component[w]
    g_w
    """
    graph = grad.graph
    reserved = set(reserved)
    taken = {n.name for n in graph.nx} | reserved
    rename: dict[sp.Basic, sp.Basic] = {}
    assignments = []
    for node, op in forward_assignments(graph, needed_only=True):
        if node.name in reserved:  # v1 = w*x, while the user calls a direction v1
            rename[node] = _renamed(node, _fresh_name(node.name, taken))
        assignments.append((rename.get(node, node), op.xreplace(rename) if rename else op))
    for lhs, rhs in grad.equations:  # children before parents: one pass
        rhs = _entries_as_operations(rhs.xreplace(rename) if rename else rhs)
        if not rhs.free_symbols:  # δ_L = 1, or a 0: inline, never a node
            rename[lhs] = rhs
            continue
        node = _adjoint_node(lhs, taken, rename)
        rename[lhs] = node
        assignments.append((node, rhs))
    return assignments, {w: rename.get(d, d) for w, d in grad.adjoints.items()}


def _entries_as_operations(rhs: sp.Basic) -> sp.Basic:
    """Explicit matrices holding values, written as ``Σ entry · unit matrix``.

    An entry's share (``δ_v E_ij`` for ``v = x[i, j]``) evaluates to an explicit
    matrix with ``δ_v`` inside; as a node of the gradient's graph it must be an
    operation on ``δ_v``, which the matrix rules differentiate.
    """
    if not contains(rhs, sp.MatrixBase):
        return rhs
    explicit = [m for m in rhs.atoms(sp.ImmutableMatrix) if m.free_symbols]  # rhs: one node
    if not explicit:
        return rhs
    mapping = {}
    for m in explicit:
        terms = [
            sp.MatMul(entry, _unit(m.shape, i, j))
            for (i, j), entry in m.todok().items()
            if entry != 0
        ]
        mapping[m] = terms[0] if len(terms) == 1 else sp.MatAdd(*terms)
    return rhs.xreplace(mapping)


def _unit(shape: tuple[int, int], i: int, j: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(*shape, lambda r, c: int((r, c) == (i, j)))


def _adjoint_node(adjoint: sp.Basic, taken: set[str], rename: Mapping) -> sp.Basic:
    """A fresh node symbol for the value of ``adjoint`` (matrix-shaped for a matrix δ)."""
    node = getattr(adjoint, "node", None)
    node = rename.get(node, node) if node is not None else None
    base = node.name if node is not None else adjoint.name[len("delta_") :]
    name = _fresh_name(f"g_{base}", taken)
    if isinstance(adjoint, sp.MatrixSymbol):
        return sp.MatrixSymbol(name, *adjoint.shape)
    return AdjointNode(name, node)


def _fresh_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _renamed(node: sp.Basic, name: str) -> sp.Basic:
    if isinstance(node, sp.MatrixSymbol):
        return sp.MatrixSymbol(name, *node.shape)
    return sp.Symbol(name, **node.assumptions0)


def _build(assignments: Sequence[tuple[sp.Basic, sp.Basic]], wrt: Sequence[sp.Basic]):
    """One GraphBuilder holding every assignment as a named node (``"op"`` granularity).

    Every target name is reserved before anything is added, so a fresh name
    (``v7``) never takes a name that a later assignment needs.
    """
    names = {target.name for target, _ in assignments} | {w.name for w in wrt}
    leaves, sizes = leaves_and_sizes(rhs for _, rhs in assignments)
    names |= {s.name for s in leaves}
    b = GraphBuilder("op", Namer(names), wrt, sizes, exprs_are_full=False)
    for w in wrt:
        b.leaf(w)
    for target, rhs in assignments:
        b.add(rhs, target)
    return b


def view(b: GraphBuilder, root: sp.Basic, wrt: Sequence[sp.Basic]) -> Graph:
    """The Graph with output ``root`` over the builder's (shared) DiGraph."""
    if b.g.nodes[root]["op"] is not None:
        b.g.nodes[root]["role"] = "output"
    return Graph(b.g, root, wrt)


# --- the public functions --------------------------------------------------------


@paused_collector
def jacobian(exprs, wrt: Iterable[sp.Symbol] | None, granularity: str = "op") -> sp.ImmutableMatrix:
    """The Jacobian ∂exprs_i/∂w_j: one reverse pass per output over one shared graph.

    Every output is a root of one DiGraph (equal subexpressions are one node),
    and each reverse pass visits only the nodes between the weights and its
    own output.

    Parameters
    ----------
    exprs : sequence of Expr, row or column Matrix, or one Expr
        The outputs.
    wrt : iterable of Symbol, or None
        The weights, in column order; None: all free symbols sorted by name.
    granularity : {"op", "fine"}
        How finely the graph is cut; the Jacobian is the same either way.

    Returns
    -------
    sympy.ImmutableMatrix
        Shape ``(len(exprs), len(wrt))``, closed forms in inputs and weights.

    Raises
    ------
    GraphError
        For an empty ``wrt``, a weight listed twice, a non-symbol weight, or
        outputs forming a 2-D matrix.

    See Also
    --------
    hessian, sympy.Matrix.jacobian

    Examples
    --------
    >>> import sympy as sp
    >>> r, t = sp.symbols("r t", real=True)
    >>> jacobian([r * sp.cos(t), r * sp.sin(t)], [r, t])
    Matrix([
    [cos(t), -r*sin(t)],
    [sin(t),  r*cos(t)]])
    """
    return _rows(*jacobian_graph(exprs, wrt, granularity))


@paused_collector
def hessian(expr, wrt: Iterable[sp.Symbol] | None, granularity: str = "op") -> sp.ImmutableMatrix:
    """The Hessian ∂²expr/∂w_i∂w_j by backpropagating through the gradient's graph.

    One reverse pass gives the gradient's δ-equations; they become nodes of a
    new graph (:func:`gradient_assignments`) whose nodes ``g_w`` hold the
    gradient components; a reverse pass over that graph from ``g_w_i`` gives
    row ``i``.  Row ``i`` and column ``i`` come from different passes, so the
    matrix is symmetric in value (up to simplification), not by copying.

    Parameters
    ----------
    expr : Expr or Graph
        One scalar expression (or a graph, whose output is differentiated).
    wrt : iterable of Symbol, or None
        The weights; None: all free symbols sorted by name (a graph's own weights).
    granularity : {"op", "fine"}
        How finely the first graph is cut.

    Returns
    -------
    sympy.ImmutableMatrix
        ``k x k`` for ``k`` weights.

    Raises
    ------
    GraphError
        For a non-scalar ``expr``, an empty ``wrt`` or a weight listed twice.

    See Also
    --------
    hvp : the product with a vector, without the whole matrix.
    sympy.hessian

    Examples
    --------
    >>> import sympy as sp
    >>> w, b, x = sp.symbols("w b x", real=True)
    >>> hessian(sp.exp(w * x + b), [w, b])
    Matrix([
    [x**2*exp(b + w*x), x*exp(b + w*x)],
    [   x*exp(b + w*x),   exp(b + w*x)]])
    """
    return _rows(*hessian_graph(expr, wrt, granularity))


@paused_collector
def hvp(expr, wrt: Iterable[sp.Symbol] | None, vector, granularity: str = "op") -> Gradient:
    """The Hessian-vector product ``H·v`` as a Gradient: reverse over reverse.

    The gradient's graph (:func:`gradient_assignments`) gets one more node,
    ``s = Σ_i g_i · v_i`` (``trace(g_Wᵀ V)`` for a matrix weight ``W``), and
    one reverse pass from ``s`` gives ``∂s/∂w_j = Σ_i v_i ∂²expr/∂w_i∂w_j``:
    the cost is linear in the graph, not quadratic, and the ``H`` matrix is
    never formed.

    Parameters
    ----------
    expr : Expr or Graph
        One scalar expression (or a graph, whose output is differentiated).
    wrt : iterable of Symbol, or None
        The weights; None: all free symbols sorted by name (a graph's own weights).
    vector : sequence or mapping
        The direction: one entry per weight, in ``wrt`` order, or a mapping
        weight (or its name) -> entry.  Entries are symbols (inputs of the new
        graph), numbers or expressions free of the weights.
    granularity : {"op", "fine"}
        How finely the first graph is cut.

    Returns
    -------
    Gradient
        ``result[w_i]`` is ``(H v)_i``; ``.lambdify()``, ``.latex()`` and
        :func:`symgraph.check` work on it as on any gradient (the directions are
        inputs of the compiled function).

    Raises
    ------
    GraphError
        For a non-scalar ``expr``, an empty ``wrt``, a weight listed twice, a
        vector of the wrong length, or a direction that depends on a weight.

    Examples
    --------
    >>> import sympy as sp
    >>> w, b, x, u, v = sp.symbols("w b x u v", real=True)
    >>> hv = hvp(sp.exp(w * x + b), [w, b], [u, v])
    >>> hv[w], hv[b]
    (x*(u*x + v)*exp(b + w*x), (u*x + v)*exp(b + w*x))
    >>> value, (hv_w, hv_b) = hv.lambdify()(x=1.0, u=1.0, v=0.0, w=0.0, b=0.0)
    >>> float(hv_w), float(hv_b)
    (1.0, 1.0)
    """
    graph = forward_graph(expr, wrt, granularity)
    directions = check_directions(vector, graph.wrt)
    symbols = set().union(*(v.free_symbols for v in directions.values()))
    check_direction_names(graph, symbols)
    names = {s.name for s in symbols}
    assignments, component = gradient_assignments(backward(graph), reserved=names)
    taken = names | {n.name for n in graph.nx} | {target.name for target, _ in assignments}
    terms = []
    for w in graph.wrt:
        g, v = component[w], directions[w]
        if isinstance(w, sp.MatrixSymbol):  # ⟨G, V⟩ = trace(Gᵀ V)
            terms.append(sp.S.Zero if getattr(g, "is_ZeroMatrix", False) else sp.Trace(g.T * v))
        else:
            terms.append(g * v)
    s = sp.Symbol(_fresh_name("s", taken), real=True)
    assignments.append((s, sp.Add(*terms)))
    b = _build(assignments, graph.wrt)
    return backward(view(b, s, graph.wrt))


def jacobian_graph(exprs, wrt, granularity: str = "op"):
    """``(builder, roots, weights)``: one shared graph whose roots are the Jacobian's outputs.

    Row ``i`` of the Jacobian is the gradient of ``roots[i]`` over the
    builder's graph (:func:`jacobian` differentiates it, and
    :func:`symgraph.numeric.jacobian.lambdify_jacobian` compiles it).
    """
    outputs = _outputs(exprs)
    leaves, sizes = leaves_and_sizes(outputs)
    wrt = check_weights(leaves if wrt is None else wrt)
    b = GraphBuilder(granularity, Namer(s.name for s in [*leaves, *wrt]), wrt, sizes)
    for w in wrt:
        b.leaf(w)
    return b, [b.add(e) for e in outputs], wrt


def hessian_graph(expr, wrt, granularity: str = "op"):
    """``(builder, roots, weights)`` over the gradient's graph: a root per gradient entry.

    Row ``i`` of the Hessian is the gradient of ``roots[i]``; a matrix weight
    (of concrete shape) gives a root per entry, row-major.
    """
    graph = forward_graph(expr, wrt, granularity)
    for w in graph.wrt:
        if is_matrix(w) and not all(d.is_Integer for d in w.shape):
            raise GraphError(
                f"the Hessian over the entries of {w} needs a concrete shape, not "
                f"{w.shape[0]}×{w.shape[1]}; hvp gives H·V for symbolic shapes"
            )
    assignments, component = gradient_assignments(backward(graph))
    b = _build(assignments, graph.wrt)
    return b, [b.add(e) for w in graph.wrt for e in entries(component[w])], graph.wrt


def _outputs(exprs) -> list[sp.Basic]:
    """A Jacobian's outputs, each a scalar: a matrix expression gives its entries, row-major."""
    if is_matrix(exprs) and not isinstance(exprs, sp.MatrixBase):
        rows, cols = exprs.shape
        if not (rows.is_Integer and cols.is_Integer):
            raise GraphError(f"a Jacobian needs outputs of concrete shape, not {rows}×{cols}")
        return [MatrixElement(exprs, i, j) for i in range(rows) for j in range(cols)]
    outputs = outputs_of(exprs)
    for k, e in enumerate(outputs):
        if is_matrix(e) and tuple(e.shape) != (1, 1):
            raise GraphError(
                f"output {k} is a {e.shape[0]}×{e.shape[1]} matrix; give the matrix itself "
                "(its entries are the outputs) or a list of scalars"
            )
    return outputs


def _rows(b: GraphBuilder, roots: Sequence[sp.Basic], wrt: Sequence[sp.Basic]):
    """One row per root, by one reverse pass from it over the builder's shared graph.

    Columns: the weights' entries, matrix weights row-major.
    """
    width = sum(len(entries(w)) for w in wrt)
    matrix = []
    for root in roots:
        if root in b.g and b.g.nodes[root]["op"] is not None:
            closed = backward(view(b, root, wrt)).closed_forms()
            matrix.append([e for w in wrt for e in entries(closed[w])])
        else:  # a constant output, or a leaf itself
            matrix.append([sp.Integer(int(root == w)) for w in wrt for _ in entries(w)])
    return sp.ImmutableMatrix(len(matrix), width, [e for row in matrix for e in row])


def entries(e: sp.Basic) -> list[sp.Basic]:
    """A scalar, or a matrix expression's entries row by row."""
    if not getattr(e, "is_Matrix", False):
        return [e]
    return list(expand_explicit(e))


__all__ = [
    "AdjointNode",
    "gradient_assignments",
    "hessian",
    "hessian_graph",
    "hvp",
    "jacobian",
    "jacobian_graph",
]
