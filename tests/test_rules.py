"""The rules registry: one table of functions, each with its sampling domain."""

import numpy as np
import pytest
import sympy as sp
from oracles import assert_matches_sympy_diff

import symgraph as sg
from symgraph.errors import GraphError, NoRuleError
from symgraph.rules.registry import find_rule, local_partial, register_rule

x, y, z = sp.symbols("x y z", real=True)

# (expression in x, y; sampling interval). Every SymPy elementary family, and
# functions of several arguments.
TABLE = [
    (sp.exp(x * y), (-2, 2)),
    (sp.log(x * y), (0.1, 3)),
    (x**y, (0.1, 3)),
    (y ** sp.Rational(3, 2) * sp.sqrt(x), (0.1, 3)),
    (sp.cbrt(x) * y, (0.1, 3)),
    (sp.sin(x * y), (-2, 2)),
    (sp.cos(x + y), (-2, 2)),
    (sp.tan(x * y), (-1, 1)),
    (sp.cot(x + y), (0.1, 1.4)),
    (sp.sec(x * y), (-1, 1)),
    (sp.csc(x + y), (0.1, 1.4)),
    (sp.asin(x * y), (-0.9, 0.9)),
    (sp.acos(x * y), (-0.9, 0.9)),
    (sp.atan(x * y), (-2, 2)),
    (sp.acot(x * y), (0.1, 2)),
    (sp.asec(x * y + 2), (0.1, 2)),
    (sp.acsc(x * y + 2), (0.1, 2)),
    (sp.sinh(x * y), (-2, 2)),
    (sp.cosh(x * y), (-2, 2)),
    (sp.tanh(x * y), (-2, 2)),
    (sp.coth(x + y), (0.1, 2)),
    (sp.sech(x * y), (-2, 2)),
    (sp.csch(x + y), (0.1, 2)),
    (sp.asinh(x * y), (-2, 2)),
    (sp.acosh(x * y + 2), (0.1, 2)),
    (sp.atanh(x * y), (-0.9, 0.9)),
    (sp.acoth(x * y + 2), (0.1, 2)),
    (sp.erf(x * y), (-2, 2)),
    (sp.erfc(x * y), (-2, 2)),
    (sp.gamma(x + y), (0.1, 3)),
    (sp.loggamma(x + y), (0.1, 3)),
    (sp.Abs(x * y - 1), (-2, 2)),
    (sp.sign(x) * y, (-2, 2)),
    (sp.Heaviside(x - 0.5) * y**2, (-2, 2)),
    (sp.Max(x, y), (-2, 2)),
    (sp.Min(x, y**2, 1), (-2, 2)),
    (sp.Max(0, x * y), (-2, 2)),
    (sp.Piecewise((x**2, x > y), (x * y, True)), (-2, 2)),
    (sp.Piecewise((sp.sin(x), x < 0), (sp.cos(y), x < 1), (x * y, True)), (-2, 2)),
    (sp.atan2(y, x), (0.1, 2)),
    (sp.besselj(1, x * y), (-2, 2)),
    (sp.exp(-(x**2)) / (1 + y**2), (-2, 2)),
    (sp.log(sp.exp(x) + sp.exp(y)), (-2, 2)),
]


@pytest.mark.parametrize("expr, interval", TABLE, ids=[str(e) for e, _ in TABLE])
def test_partials_equal_sympy_diff(expr, interval):
    grad = sg.gradient(expr, wrt=[x, y])
    assert_matches_sympy_diff(grad, low=interval[0], high=interval[1])


@pytest.mark.parametrize("expr, interval", TABLE[:12], ids=[str(e) for e, _ in TABLE[:12]])
def test_closed_forms_equal_sympy_diff_symbolically(expr, interval):
    grad = sg.gradient(expr, wrt=[x, y])
    for w in (x, y):
        assert sp.simplify(grad[w] - sp.diff(expr, w)) == 0


class TestLookup:
    def test_subclass_inherits_parent_rule(self):
        class mytanh(sp.tanh):
            pass

        assert find_rule(mytanh) is find_rule(sp.tanh)

    def test_fdiff_fallback_for_functions(self):
        assert local_partial(sp.sin(x), 0) == sp.cos(x)

    def test_unknown_class_has_no_rule(self):
        assert find_rule(sp.Integral) is None
        with pytest.raises(NoRuleError, match="Integral"):
            local_partial(sp.Integral(x, (y, 0, 1)), 0)

    def test_registered_rule_is_used_and_gradient_follows_it(self):
        class softsign(sp.Function):
            """A user function SymPy cannot differentiate on its own."""

        register_rule(softsign, lambda op, i: 1 / (1 + sp.Abs(op.args[0])) ** 2)
        grad = sg.gradient(softsign(x * y), wrt=[x])
        assert grad[x] == y / (1 + sp.Abs(x * y)) ** 2

    def test_a_rule_registered_again_replaces_the_one_each_node_used(self):
        class bump(sp.Function):
            """A user function whose rule changes between two gradients."""

        register_rule(bump, lambda op, i: 2 * op.args[0])
        assert sg.gradient(bump(x * y), wrt=[x])[x] == 2 * x * y**2
        register_rule(bump, lambda op, i: 3 * op)  # in the node: bump' = 3·bump
        assert sg.gradient(bump(x * y), wrt=[x])[x] == 3 * y * bump(x * y)

    def test_a_rule_that_needs_the_nodes_own_symbol_still_applies(self):
        class named(sp.Function):
            """A rule that only works on symbols of a name it knows (not on placeholders)."""

        def rule(op, i):
            if not op.args[0].name.startswith("v"):
                raise RuntimeError("only node symbols")
            return op.args[0] ** 2

        register_rule(named, rule)
        assert sg.gradient(named(x * y), wrt=[x])[x] == y**3 * x**2

    def test_argument_without_derivative_names_the_node(self):
        nu = sp.Symbol("nu", real=True)
        with pytest.raises(NoRuleError, match=r"besselj.*nu"):
            sg.gradient(sp.besselj(nu, x), wrt=[nu])

    def test_operation_without_rule_off_the_path_is_fine(self):
        f = sp.Function("f")
        expr = sp.Integral(f(x * y), (x, 0, 1)) + z**2
        grad = sg.gradient(expr, wrt=[z])
        assert grad[z] == 2 * z
        with pytest.raises(NoRuleError, match="Integral"):
            sg.gradient(expr, wrt=[y])

    def test_binding_operations_are_differentiated_whole_by_sympy(self):
        i = sp.Symbol("i", integer=True)
        expr = sp.Sum(y**i / (i + 1), (i, 1, 4)) * x + sp.Integral(sp.exp(x * y), (x, 0, 1))
        grad = sg.gradient(expr, wrt=[x, y])
        for w in (x, y):
            difference = (grad[w] - sp.diff(expr, w)).doit()
            assert abs(float(difference.subs({x: 0.7, y: 1.3}))) < 1e-12
        node = next(n for n, op in grad.graph.nx.nodes(data="op") if isinstance(op, sp.Sum))
        assert list(grad.graph.nx.predecessors(node)) == [y]  # the bound i is no node


def test_step_functions_have_zero_derivative_where_it_exists():
    """SymPy leaves d floor(x)/dx unevaluated; it is 0 wherever it exists."""
    grad = sg.gradient(sp.floor(x) * y + sp.ceiling(y) * x, wrt=[x, y])
    assert grad[x] == sp.ceiling(y)
    assert grad[y] == sp.floor(x)


def test_kinks_follow_the_documented_convention():
    """At the kink: sign(0) = 0, Heaviside(0) = 1/2; never NaN, never a warning."""
    grad = sg.gradient(sp.Abs(x) + sp.Max(0, y) + sp.Heaviside(z), wrt=[x, y, z])
    value, (dx, dy, dz) = grad.lambdify()(x=np.zeros(3), y=np.zeros(3), z=np.zeros(3))
    assert np.all(dx == 0) and np.all(dy == 0.5) and np.all(dz == 0)
    assert np.all(value == 0.5)


class TestTiesOfMaxAndMin:
    """At a tie the shares form a valid subgradient: they sum to 1 (equal split, 1/k)."""

    a, b, c, d = sp.symbols("a b c d", real=True)

    @pytest.mark.parametrize("fn", [sp.Max, sp.Min])
    @pytest.mark.parametrize("n", [2, 3, 4])
    def test_shares_at_a_full_tie_sum_to_one(self, fn, n):
        args = (self.a, self.b, self.c, self.d)[:n]
        f = sg.gradient(fn(*args), wrt=list(args)).lambdify()
        _, shares = f(**{s.name: 0.7 for s in args})
        assert sum(shares) == pytest.approx(1.0, abs=1e-15)
        assert all(s == pytest.approx(1 / n, abs=1e-15) for s in shares)

    @pytest.mark.parametrize("fn", [sp.Max, sp.Min])
    def test_a_partial_tie_splits_among_the_tied_only(self, fn):
        args = (self.a, self.b, self.c, self.d)
        f = sg.gradient(fn(*args), wrt=list(args)).lambdify()
        extreme, other = (2.0, 1.0) if fn is sp.Max else (1.0, 2.0)
        _, shares = f(a=extreme, b=other, c=extreme, d=other)
        assert [float(s) for s in shares] == [0.5, 0.0, 0.5, 0.0]

    def test_a_constant_in_the_tie_takes_its_share(self):
        _, (da, db) = sg.gradient(sp.Max(0, self.a, self.b), wrt=[self.a, self.b]).lambdify()(
            a=0.0, b=0.0
        )
        assert (da, db) == (pytest.approx(1 / 3), pytest.approx(1 / 3))

    @pytest.mark.parametrize("fn", [sp.Max, sp.Min])
    def test_away_from_ties_equal_to_sympy_diff(self, fn):
        args = (self.a, self.b, self.c, self.d)
        assert_matches_sympy_diff(sg.gradient(fn(*args, 0.3), wrt=list(args)), points=30)


class TestRegisteringRefusesNonsense:
    @pytest.mark.parametrize("key", ["__import__('os')", 3, None, object])
    def test_the_key_is_a_sympy_class(self, key):
        with pytest.raises(GraphError, match="keyed by a SymPy class"):
            sg.register_rule(key, lambda op, i: 0)
        with pytest.raises(GraphError, match="keyed by a SymPy class"):
            sg.register_vjp(key, lambda op, i, d: d)

    def test_the_rule_is_a_function(self):
        with pytest.raises(GraphError, match="is a function, not"):
            sg.register_rule(sp.Function("never_registered"), "lambda op, i: 0")


@pytest.mark.parametrize(
    "function",
    [
        sp.tanh, sp.sin, sp.cos, sp.exp, sp.log, sp.Abs, sp.atan, sp.erf, sp.asinh, sp.tan,
        sp.sign, sp.Heaviside, sp.LambertW, sp.acos, sp.sec, sp.gamma, sp.loggamma, sp.atanh,
        lambda z: sp.Max(0, z), lambda z: sp.Min(z, 2), lambda z: sp.besselj(2, z),
    ],
)  # fmt: skip
def test_a_templates_partial_is_exactly_the_rules(function):
    """One template per function class, filled in per node: the rule's own expression."""
    from symgraph.build.templates import function_partial

    v, a = sp.Symbol("v7", real=True), sp.Symbol("a3", real=True)
    op = function(v)
    rule = local_partial(op, op.args.index(v)).xreplace({op: a})
    ours = function_partial(op, a)
    assert sp.srepr(ours) == sp.srepr(rule) and hash(ours) == hash(rule)
    assert ours.is_real == rule.is_real and ours.subs({v: 0.3, a: 0.7}) == rule.subs(
        {v: 0.3, a: 0.7}
    )


@pytest.mark.parametrize(
    "function, extra",
    [
        (sp.tanh, ()), (sp.sin, ()), (sp.exp, ()), (sp.log, ()), (sp.Abs, ()), (sp.erf, ()),
        (sp.sign, ()), (sp.Heaviside, (sp.S.Half,)), (sp.Heaviside, (sp.S.Zero,)),
        (sp.atan2, (sp.Symbol("q", positive=True),)), (sp.Function("f"), ()),
    ],
)  # fmt: skip
def test_a_function_built_directly_is_sympys_own_unevaluated(function, extra):
    """``applied`` skips SymPy's per-call ``nargs`` set; the object is the one SymPy builds."""
    from symgraph.core.substitute import applied

    v = sp.Symbol("v7", real=True)
    ours, sympys = applied(function, (v, *extra)), function(v, *extra, evaluate=False)
    assert sp.srepr(ours) == sp.srepr(sympys) and hash(ours) == hash(sympys)
    assert ours == sympys and ours.nargs == sympys.nargs
    assert applied(function, (v, *extra)) is ours  # cached: what is built on it is shared
    assert ours.is_real == sympys.is_real and ours.diff(v) == sympys.diff(v)
    assert ours.subs(v, 0.3) == sympys.subs(v, 0.3)


@pytest.mark.parametrize(
    "function, args",
    [(sp.Max, (0, "v")), (sp.Heaviside, ("v",)), (sp.Min, ("v", 2))],
)
def test_a_constructor_that_rewrites_its_arguments_is_sympys(function, args):
    """``Max`` sorts, ``Heaviside(v)`` adds its value at 0: built by SymPy, never directly."""
    from symgraph.core.substitute import applied

    v = sp.Symbol("v", real=True)
    args = tuple(v if a == "v" else sp.Integer(a) for a in args)
    ours = applied(function, args)
    assert sp.srepr(ours) == sp.srepr(function(*args, evaluate=False))
