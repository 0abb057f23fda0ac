r"""Scalar lines over a batch re-rolled into matrix products (SLP vectorization).

A scalar graph of a layer writes one node per weight: ``z_j = b_j + Σ_i W_ji·x_i``
is ``d`` products and ``d`` additions of batch-long arrays for each ``j``, and
its reduced gradient ``δ_W_ji = Σ_n δ_z_j[n]·x_i[n]`` is one dot product per
weight.  Here the straight-line program of :mod:`symgraph.numeric.reduce` is
rolled back into the matrix form a person would write by hand, from the
pattern of its lines alone (nothing knows the network):

- **forward**: a batched sum with two or more *linear terms*, each an
  unbatched coefficient that is not just a number (a weight, ``2·w``,
  ``sin(w)``) times one batched name (``W_ji·x_i``, written in the sum or on
  a line it reads), keeps its other terms and takes the linear ones
  from a matrix product.  The batched names, sorted, are the sum's *key*; each
  key's arrays are stacked once (``S = numpy.array((x_1, …, x_d))``, shape
  ``d×N``) and shared, and the sums with one key form one coefficient matrix:
  ``Z = C @ S`` gives every ``z_j`` as a row ``Z[j]`` (one sum: ``C`` is a
  vector and ``Z`` the sum's part itself);
- **backward**: reductions ``Σ_n p[n]·q[n]`` (:class:`BatchDot`) with ``q`` in
  a stacked key are computed together: for one ``p``, ``S @ p`` gives ``p``'s
  dot with every row of ``S``; for several, ``P @ S.T`` with ``P`` their stack
  gives the whole block, and ``P.sum(axis=1)`` every ``Σ_n p[n]``
  (:class:`BatchSum`) at once.  A ``p`` joins a key when it is dotted with at
  least two of its names and half of them.

Elementwise lines stay as they are, and a reduction that fits no group stays a
``numpy.dot``.  Stacking needs every batched name to hold a flat array of one
length, which :class:`~symgraph.numeric.reduce.ReducedGradient` ensures by
raveling the data at the call; the per-point path (whose data broadcast
against each other, ``(n, 1)`` with ``(1, m)``) is therefore left as it is.

A long list (a stack, a row of coefficients, the rows of a matrix) is built
over lines of at most :data:`~symgraph.numeric.chunks.WIDTH` items, as a
tuple grown chunk by chunk.  The work is linear in the lines: each
term and each reduction is looked at a bounded number of times, and the result
is put back in dependency order by one topological sort.

Examples
--------
>>> import numpy as np
>>> import sympy as sp
>>> from symgraph.numeric.codegen import make_function
>>> w, v, x, y, z = sp.symbols("w v x y z")
>>> lines, outputs = rerolled(
...     [(z, w * x + v * y)], [BatchDot(z, x), BatchDot(z, y)], batched={x, y, z}
... )
>>> fn = make_function(lines, [x, y, w, v], outputs)
>>> print(fn.source)
def generated(a0, a1, a2, a3):
    t1 = numpy.array((a0, a1, ))
    t2 = numpy.array((a2, a3, ))
    t3 = (t2 @ t1)
    del t2
    t4 = (t1 @ t3)
    del t3, t1
    return (t4[0], t4[1])
>>> [float(r) for r in fn(np.array([1.0, 2.0]), np.array([0.0, 1.0]), 3.0, 1.0)]
[17.0, 7.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sympy as sp

from .chunks import WIDTH
from .schedule import is_name

__all__ = ["BatchDot", "BatchSum", "rerolled"]

STACKS_PER_NAME = 8  # a name is looked up in at most this many stacked keys (linear work)


def _text(printer, arg) -> str:
    text = getattr(printer, "text", None)  # symgraph's printer: its names and its fast path
    return text(arg) if text is not None else printer._print(arg)


class BatchSum(sp.Function):
    """``Σ_n u[n]`` over the batch, ``u`` a flat array of it: ``numpy.sum(u)``."""

    nargs = 1

    def _numpycode(self, printer):
        return f"numpy.sum({_text(printer, self.args[0])})"


class BatchDot(sp.Function):
    """``Σ_n u[n]·v[n]`` over the batch, both flat arrays of it: ``numpy.dot(u, v)``."""

    nargs = 2

    def _numpycode(self, printer):
        u, v = (_text(printer, a) for a in self.args)
        return f"numpy.dot({u}, {v})"


class Items(sp.Function):
    """A Python tuple of its arguments (at most :data:`WIDTH`): ``(a, b,)``."""

    def _numpycode(self, printer):
        return "(" + "".join(f"{_text(printer, a)}, " for a in self.args) + ")"


class More(sp.Function):
    """The tuple ``args[0]`` with the other arguments appended: ``(t1 + (c, d,))``."""

    def _numpycode(self, printer):
        head, *rest = (_text(printer, a) for a in self.args)
        return f"({head} + (" + "".join(f"{r}, " for r in rest) + "))"


class Packed(sp.Function):
    """An array of its arguments: arrays of one length stack to rows, numbers to a vector.

    ``numpy.array((a, b,))``: the same as ``numpy.stack`` for arrays of one shape.
    """

    def _numpycode(self, printer):
        return "numpy.array((" + "".join(f"{_text(printer, a)}, " for a in self.args) + "))"


class Array(sp.Function):
    """An array of the items of a tuple built on earlier lines: ``numpy.array(t7)``."""

    nargs = 1

    def _numpycode(self, printer):
        return f"numpy.array({_text(printer, self.args[0])})"


class Product(sp.Function):
    """The matrix product ``args[0] @ args[1]``; a third argument ``True`` transposes the second."""

    def _numpycode(self, printer):
        a, b = (_text(printer, x) for x in self.args[:2])
        return f"({a} @ {b}{'.T' if len(self.args) > 2 else ''})"


class Row(sp.Function):
    """An entry (or a row) of an array by its index: ``t3[2]``, ``t3[2, 5]``."""

    def _numpycode(self, printer):
        array, *index = (_text(printer, x) for x in self.args)
        return f"{array}[{', '.join(index)}]"


def rerolled(
    lines: Sequence[tuple[sp.Basic, sp.Basic]], outputs: Sequence[sp.Basic], batched: set
) -> tuple[list, list]:
    """``lines`` and ``outputs`` with linear sums and reductions grouped into matrix products.

    Parameters
    ----------
    lines : sequence of (target, expression)
        A straight-line program in dependency order, each target assigned once.
    outputs : sequence of expressions
        What it returns; their :class:`BatchDot` and :class:`BatchSum` may be grouped too.
    batched : set
        The names holding flat arrays over the batch, all of one length (the data,
        and the targets computed from them); every other name is one number.

    Returns
    -------
    lines, outputs
        The same values (up to the order of floating-point additions), in
        dependency order.  A program with nothing to group is returned as it is.
    """
    roll = _Reroll(lines, batched)
    roll.forward()
    outputs = roll.backward(list(outputs))
    if not roll.added:
        return list(lines), outputs
    return _sorted([*roll.lines, *roll.added]), outputs


class _Reroll:
    """The state of one re-rolling: the lines, the stacked keys, the lines added."""

    def __init__(self, lines, batched):
        self.lines = list(lines)
        self.batched = batched
        self.line_of = dict(self.lines)
        self.root: dict = {}  # a name -> the name it copies (δ_v2 = δ_v5)
        self.after_reduction: set = set()  # names computed from a Σ over the batch
        for target, expr in self.lines:
            if is_name(expr):
                self.root[target] = self.root.get(expr, expr)
            if expr.has(BatchDot, BatchSum) or expr.free_symbols & self.after_reduction:
                self.after_reduction.add(target)
        self.added: list = []
        self.stacks: dict[tuple, sp.Symbol] = {}  # key (names) -> the name of their stack
        self.keys_of: dict = {}  # a name -> the keys stacked in the forward pass that hold it
        self.rows_of: dict = {}  # a p stacked for the backward pass -> (its stack, its row)

    def name(self, label: str) -> sp.Symbol:
        return sp.Dummy(label)

    def resolved(self, expr):
        return self.root.get(expr, expr)

    # --- forward: linear sums as matrix products ---

    def forward(self) -> None:
        groups: dict[tuple, list] = {}  # key -> [(k, coefficients by name, other terms)]
        for k, (target, expr) in enumerate(self.lines):
            if not isinstance(expr, sp.Add) or target not in self.batched:
                continue
            if target in self.after_reduction:
                continue
            linear, rest = {}, []
            for term in expr.args:
                found = self._linear(term)
                if found is None or found[1] in linear:
                    rest.append(term)
                else:
                    linear[found[1]] = found[0]
            if len(linear) < 2:
                continue
            key = tuple(sorted(linear, key=sp.default_sort_key))
            groups.setdefault(key, []).append((k, linear, rest))
        for key, members in groups.items():
            stack = self.stacked(key)
            for name in key:
                keys = self.keys_of.setdefault(name, [])
                if len(keys) < STACKS_PER_NAME:
                    keys.append(key)
            self._product(key, stack, members)

    def _linear(self, term):
        """``(coefficient, batched name)`` when ``term`` is one, looking through one name."""
        if is_name(term):
            term = self.line_of.get(self.resolved(term), term)
        if not isinstance(term, sp.Mul):
            return None
        inside = [f for f in term.args if f.free_symbols & self.batched]
        if len(inside) != 1 or not is_name(inside[0]) or inside[0] in self.after_reduction:
            return None
        coefficient = sp.Mul(*(f for f in term.args if f is not inside[0]))
        if not coefficient.free_symbols or coefficient.free_symbols & self.after_reduction:
            return None  # a number times x (-y): a subtraction, not a weight's term
        return coefficient, self.resolved(inside[0])

    def _product(self, key, stack, members) -> None:
        rows = [[self._item(linear[name]) for name in key] for _, linear, _ in members]
        if len(members) == 1:  # a vector: the product is the sum's part itself
            coefficients = self.packed(rows[0], "coefficients")
        else:  # a matrix, one tuple a row (each on lines of its own)
            coefficients = self.packed([self.tupled(row, "row") for row in rows], "coefficients")
        product = self.add(self.name("rows"), Product(coefficients, stack))
        for j, (k, _, rest) in enumerate(members):
            part = product if len(members) == 1 else Row(product, j)
            self.lines[k] = (self.lines[k][0], sp.Add(part, *rest))

    def _item(self, coefficient):
        """A coefficient as an item of a tuple: a name or a number, else a line of its own."""
        if is_name(coefficient) or coefficient.is_Number:
            return coefficient
        return self.add(self.name("coefficient"), coefficient)

    # --- backward: reductions over the batch as matrix products ---

    def backward(self, outputs: list) -> list:
        dots: dict[tuple, list] = {}  # (p, q), resolved -> the BatchDot spellings of it
        sums: dict = {}
        for target, expr in [*self.lines, *((None, out) for out in outputs)]:
            if target in self.batched or not expr.has(BatchDot, BatchSum):
                continue
            for found in sorted(expr.atoms(BatchDot), key=sp.default_sort_key):
                pair = tuple(self.resolved(a) for a in found.args)
                if all(map(is_name, pair)) and not set(pair) & self.after_reduction:
                    dots.setdefault(pair, []).append(found)
            for found in sorted(expr.atoms(BatchSum), key=sp.default_sort_key):
                if is_name(found.args[0]):
                    sums.setdefault(self.resolved(found.args[0]), []).append(found)
        replaced = self._dots(dots)
        replaced.update(self._sums(sums))
        if not replaced:
            return outputs
        for k, (target, expr) in enumerate(self.lines):
            if target not in self.batched and expr.has(BatchDot, BatchSum):
                self.lines[k] = (target, expr.xreplace(replaced))
        return [out.xreplace(replaced) for out in outputs]

    def _dots(self, dots) -> dict:
        counts: dict[tuple, int] = {}  # (p, key) -> how many of key's names p is dotted with
        for u, v in dots:
            for p, q in {(u, v), (v, u)}:
                for key in self.keys_of.get(q, ()):
                    counts[p, key] = counts.get((p, key), 0) + 1
        joined = {pk for pk, n in counts.items() if n >= 2 and 2 * n >= len(pk[1])}
        taken: dict[tuple, list] = {}  # (p, key) -> the pairs it computes
        for u, v in dots:
            for p, q in ((u, v), (v, u)):
                keys = [key for key in self.keys_of.get(q, ()) if (p, key) in joined]
                if keys:  # the key that computes most of p's dots
                    key = max(keys, key=lambda key: counts[p, key])
                    taken.setdefault((p, key), []).append((u, v, q))
                    break
        by_key: dict[tuple, list] = {}
        for (p, key), pairs in taken.items():
            if len(pairs) >= 2:
                by_key.setdefault(key, []).append((p, pairs))
        replaced = {}
        for key, members in by_key.items():
            stack, column = self.stacks[key], {name: i for i, name in enumerate(key)}
            if len(members) == 1:
                (p, pairs), row = members[0], ()
                block = self.add(self.name("dots"), Product(stack, p))
            else:
                ps = tuple(p for p, _ in members)
                left = self.stacked(ps)
                self.rows_of.update((p, (left, j)) for j, p in enumerate(ps))
                block = self.add(self.name("dots"), Product(left, stack, sp.true))
            for j, (_, pairs) in enumerate(members):
                row = (j,) if len(members) > 1 else ()
                for u, v, q in pairs:
                    for found in dots[u, v]:
                        replaced[found] = Row(block, *row, column[q])
        return replaced

    def _sums(self, sums) -> dict:
        """``Σ_n p[n]`` of two or more rows of one stack: its row sums, in one call."""
        by_stack: dict = {}
        for p, found in sums.items():
            if p in self.rows_of:
                by_stack.setdefault(self.rows_of[p][0], []).append((self.rows_of[p][1], found))
        replaced = {}
        for stack, members in by_stack.items():
            if len(members) < 2:
                continue
            totals = self.add(self.name("sums"), RowSums(stack))
            for j, found in members:
                replaced.update((f, Row(totals, j)) for f in found)
        return replaced

    # --- building lists over bounded lines ---

    def stacked(self, names: tuple) -> sp.Symbol:
        """The name of ``numpy.array(names)``: one stack for each tuple of names."""
        if names not in self.stacks:
            self.stacks[names] = self.packed(list(names), "stack")
        return self.stacks[names]

    def packed(self, items: list, label: str) -> sp.Symbol:
        """The name of ``numpy.array`` of ``items`` (two or more), over bounded lines."""
        if len(items) <= WIDTH:
            return self.add(self.name(label), Packed(*items))
        return self.add(self.name(label), Array(self.tupled(items, label)))

    def tupled(self, items: list, label: str) -> sp.Symbol:
        """The name of a tuple of ``items``, grown a chunk of :data:`WIDTH` a line."""
        chunks = [items[k : k + WIDTH] for k in range(0, len(items), WIDTH)]
        built = self.add(self.name(label), Items(*chunks[0]))
        for chunk in chunks[1:]:
            built = self.add(self.name(label), More(built, *chunk))
        return built

    def add(self, target: sp.Symbol, expr: sp.Basic) -> sp.Symbol:
        self.added.append((target, expr))
        return target


class RowSums(sp.Function):
    """Each row's sum of a 2-D array: ``t4.sum(axis=1)``."""

    nargs = 1

    def _numpycode(self, printer):
        return f"{_text(printer, self.args[0])}.sum(axis=1)"


def _sorted(lines: list) -> list:
    """``lines`` in dependency order, each as early in the given order as its inputs allow."""
    position = {target: k for k, (target, _) in enumerate(lines)}
    needs = [sorted({position[s] for s in expr.free_symbols if s in position}) for _, expr in lines]
    state = [0] * len(lines)  # 0 not seen, 1 on the stack, 2 placed
    order: list[int] = []
    for start in range(len(lines)):
        if state[start]:
            continue
        state[start] = 1
        stack: list[tuple[int, Iterable[int]]] = [(start, iter(needs[start]))]
        while stack:
            k, pending = stack[-1]
            child = next((c for c in pending if state[c] != 2), None)
            if child is None:
                stack.pop()
                state[k] = 2
                order.append(k)
            elif state[child] == 1:  # pragma: no cover - the groups never make a cycle
                raise AssertionError(f"a cycle through {lines[child][0]} in re-rolled lines")
            else:
                state[child] = 1
                stack.append((child, iter(needs[child])))
    return [lines[k] for k in order]
