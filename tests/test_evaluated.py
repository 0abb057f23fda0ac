"""Closed forms evaluated once, after an unevaluated pass (``core.substitute.evaluated``).

Oracles: SymPy's own ``xreplace`` (which evaluates each level as it goes) and
``sympy.diff``; the work is measured by the operands SymPy's ``Mul.flatten``
and ``Add.flatten`` are given, not by a clock.
"""

import numpy as np
import pytest
import sympy as sp
from sympy.core.add import Add
from sympy.core.mul import Mul

import symgraph as sg
from symgraph.core.substitute import GATHERED, evaluated, substitute

xs = sp.symbols("x0:8", real=True)


def _chained(rhs_list, values, built=None):
    """Each right side substituted in turn, as the closed forms are: d_k may use d_0..d_{k-1}."""
    values = dict(values)
    for k, rhs in enumerate(rhs_list):
        d = sp.Symbol(f"d{k}")
        values[d] = substitute(rhs, values, built is None, built)
    return values[sp.Symbol(f"d{len(rhs_list) - 1}")]


def _random_equations(rng, count):
    """δ-like right sides: products and sums of earlier δs, symbols, numbers and functions."""
    atoms = [*xs, sp.Integer(2), sp.Rational(-1, 3), sp.Float(0.5)]
    rhs_list = []
    for k in range(count):
        ds = [sp.Symbol(f"d{j}") for j in range(k)]

        def pick(ds=ds):
            pool = atoms + ds if ds and rng.random() < 0.6 else atoms
            a = pool[int(rng.integers(len(pool)))]
            r = rng.random()
            return sp.sin(a) if r < 0.15 else (a + 1 if r < 0.3 else a)

        operands = [pick() for _ in range(int(rng.integers(1, 4)))]
        rhs_list.append(sp.Mul(*operands) if rng.random() < 0.6 else sp.Add(*operands))
    return rhs_list


def test_small_forms_are_exactly_what_xreplace_builds():
    """Under GATHERED operands per nest, each level is evaluated as xreplace would."""
    rng = np.random.default_rng(20261203)
    for _ in range(200):
        rhs_list = _random_equations(rng, int(rng.integers(2, 7)))
        expected = _chained(rhs_list, {})
        built: set[int] = set()
        assert evaluated(_chained(rhs_list, {}, built), built) == expected, rhs_list


def test_large_nests_have_the_same_value():
    x = sp.symbols("y0:300", real=True)
    rhs_list = [x[0] * x[1]]  # d_k = d_{k-1} * y_{k+1}: one factor more at each level
    rhs_list += [sp.Symbol(f"d{k - 1}") * x[k + 1] for k in range(1, 299)]
    built: set[int] = set()
    form = evaluated(_chained(rhs_list, {}, built), built)
    assert form == sp.Mul(*x)


def test_shared_levels_count_every_use():
    """A nest level used twice contributes its operands twice: powers, coefficients."""
    x = sp.symbols(f"y0:{2 * GATHERED}", real=True)
    d = [sp.Symbol(f"d{k}") for k in range(3)]
    for kind, many in ((sp.Mul, lambda a: a**2), (sp.Add, lambda a: 2 * a)):
        values = {d[0]: sp.Symbol("s")}
        built: set[int] = set()
        values[d[0]] = substitute(kind(*x[:GATHERED], d[2]), {d[2]: kind(*x[GATHERED:])}, False)
        built.add(id(values[d[0]]))
        twice = substitute(kind(d[0], d[1]), {d[0]: values[d[0]], d[1]: values[d[0]]}, False, built)
        assert evaluated(twice, built) == kind(*map(many, x))


class _Flattened:
    """Counts the operands Mul.flatten and Add.flatten work through (nested ones opened)."""

    def __init__(self, monkeypatch):
        self.count = 0
        for cls in (Mul, Add):
            original = cls.flatten.__func__

            def counting(klass, seq, _original=original, _cls=cls):
                self.count += sum(len(a.args) if type(a) is _cls else 1 for a in seq)
                return _original(klass, seq)

            monkeypatch.setattr(cls, "flatten", classmethod(counting))


@pytest.mark.parametrize("k", [512, 1024, 2048])
def test_one_weight_of_a_product_flattens_each_factor_about_once(k, monkeypatch):
    """Flattened level by level, x0's form down a balanced product flattened k log k operands."""
    factors = sp.symbols(f"x0:{k}", real=True)
    grad = sg.gradient(sp.Mul(*factors), wrt=list(factors))
    grad._evaluates  # noqa: B018 - decided before counting
    flattened = _Flattened(monkeypatch)
    assert grad[factors[0]] == sp.Mul(*factors[1:])
    assert flattened.count < 3 * k  # level by level: 8,705 at k = 1,024 (k - 1 gathered)


def test_every_weight_of_a_small_graph_against_sympy_diff():
    w, b, x, y = sp.symbols("w b x y", real=True)
    expr = (sp.tanh(w * x + b) - y) ** 2 + sp.Mul(*xs) * sp.sin(w * b) + sp.Add(*xs) ** 2
    grad = sg.gradient(expr, wrt=[w, b, *xs])
    for v, form in grad.closed_forms().items():
        assert sp.simplify(form - sp.diff(expr, v)) == 0, v
