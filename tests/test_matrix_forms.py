"""Matrix forms get the same care as scalar ones (issue 13): the identities a paper folds.

Oracles: every rewritten form against the unrewritten one at random explicit
matrices (SymPy's own arithmetic), and the closed forms and the compiled
gradient against ``jax.grad`` of the same loss written in ``jax.numpy``.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph import layers
from symgraph.core import substitute
from symgraph.core.matrix_identities import keeps_transpose, rewritten
from symgraph.core.substitute import folded
from symgraph.present.latex import paper_text
from symgraph.rules.matfuncs import RowSoftmax, SumEntries, evaluate_explicit

ROOT = Path(__file__).resolve().parent.parent
n, d, h = sp.symbols("n d h", integer=True, positive=True)
FORBIDDEN = [  # a broadcast scalar left as a Hadamard factor, in text and in LaTeX
    re.compile(r"(?<![\w.])1 ⊙"),
    re.compile(r"⊙ 1(?![\w.(])"),
    re.compile(r"\(1/2\)\*1\b"),
    re.compile(r"\\mathbf\{1\}\s*\\odot"),
    re.compile(r"\\odot\s*\\mathbf\{1\}"),
]


@pytest.fixture
def rng():
    return np.random.default_rng(13)


def bench_module(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def mlp_steps(n=n, d=d, h=h, loss="squared_error", k=1):
    """examples/matrix_mlp.py's network (and the softmax classifier of docs/matrices.md)."""
    X = layers.input_matrix(n, d)
    last = "identity"
    return layers.as_assignments(X, [h, k], ["tanh", last], loss=loss, reduction="mean")


def random_explicit(symbols, rng):
    return {s: sp.ImmutableMatrix(rng.normal(size=tuple(map(int, s.shape)))) for s in symbols}


def value_at(expr, values):
    value = evaluate_explicit(expr.xreplace(values))
    return np.array(sp.Matrix(value).evalf(), dtype=float) if value.is_Matrix else float(value)


def matrix_leaves(*exprs):
    return {s for e in exprs for s in e.free_symbols if isinstance(s, sp.MatrixSymbol)}


def scalar_leaves(*exprs):
    return {s for e in exprs for s in e.free_symbols if not isinstance(s, sp.MatrixSymbol)}


def assert_same_values(a, b, rng, points=3):
    """``a == b`` as functions: entrywise at random matrices (and random scalars)."""
    for _ in range(points):
        values = random_explicit(matrix_leaves(a, b), rng)
        values.update({s: sp.Float(rng.uniform(0.5, 2.0)) for s in scalar_leaves(a, b)})
        np.testing.assert_allclose(value_at(a, values), value_at(b, values), rtol=1e-10, atol=1e-12)


def unrewritten(monkeypatch):
    """Switch the identities off (SymPy's doit alone, every small transpose pushed in)."""
    monkeypatch.setattr(substitute, "rewritten", lambda e: e)
    monkeypatch.setattr(substitute, "keeps_transpose", lambda e: False)
    monkeypatch.setattr(substitute, "is_factored", lambda e: False)


# --- the identities one at a time ---

A, B, M, Y = (sp.MatrixSymbol(name, 3, 2) for name in "ABMY")
P, Q = sp.MatrixSymbol("P", 2, 3), sp.MatrixSymbol("Q", 3, 3)
c, k = sp.symbols("c k", positive=True)
ones = sp.OneMatrix(3, 2)
IDENTITIES = {
    "ones factor": (sp.HadamardProduct(ones, M), "M"),
    "broadcast scalar": (sp.HadamardProduct(c * ones, M), "c*M"),
    "half of ones": (sp.HadamardProduct(ones / 2, M, A), "(1/2)*(A ⊙ M)"),
    "scalars out": (sp.HadamardProduct(c * A, 3 * B), "(3*c)*(B ⊙ A)"),
    "all ones": (sp.HadamardProduct(ones, c * ones), "c*1"),
    "common factor": (
        sp.MatAdd(-(c / k) * Y, (c / k) * RowSoftmax(M)),
        "(c/k)*(-Y + RowSoftmax(M))",
    ),
    "common number": (sp.MatAdd(-Y / 64, M / 64), "(1/64)*(M - Y)"),
    "scaled transpose": (sp.Transpose(c * sp.HadamardProduct(A, B)), "c*(A ⊙ B)ᵀ"),
}


class TestIdentities:
    @pytest.mark.parametrize("name", list(IDENTITIES))
    def test_each_identity_keeps_the_value_and_reads_as_a_paper(self, name, rng):
        expr, text = IDENTITIES[name]
        result = folded(expr)
        assert paper_text(result) == text
        assert_same_values(result, expr, rng)

    def test_half_cancels_against_two_across_a_product(self, rng):
        expr = 2 * P * sp.HadamardProduct(ones / 2, M)
        assert paper_text(folded(expr)) == "P*M"
        assert_same_values(folded(expr), expr, rng)

    def test_no_common_factor_when_what_stays_is_not_a_number(self):
        expr = sp.MatAdd(A / k, B / c)
        assert rewritten(expr) == expr
        assert rewritten(sp.MatAdd(A, 2 * B)) == sp.MatAdd(A, 2 * B)

    def test_a_transpose_that_cancels_is_folded_one_in_forward_orientation_stays(self, rng):
        assert folded(sp.Transpose(Q.T * P.T)) == P * Q
        tanh = (Q * A).applyfunc(sp.tanh)
        assert keeps_transpose(sp.Transpose(tanh))
        assert paper_text(folded(sp.Transpose(tanh))) == "(tanh(Q*A))ᵀ"
        for expr in (sp.Transpose(tanh), sp.Transpose(sp.MatAdd(A, B)), sp.Transpose(Q * A)):
            assert isinstance(folded(expr), sp.Transpose)
            assert_same_values(folded(expr), expr, rng)

    def test_a_number_stays_outside_a_sum_through_later_products(self, rng):
        expr = sp.MatMul(sp.Rational(1, 64), sp.MatAdd(M, -Y), evaluate=False) * P
        assert paper_text(folded(expr)) == "(1/64)*(M - Y)*P"
        assert_same_values(folded(expr), expr, rng)


# --- the networks of the examples, the benchmarks and the docs ---


def models():
    """name -> Gradient: every matrix model of examples/ and bench/, and the docs' classifier."""
    steps, params = mlp_steps()
    out = {
        "examples/matrix_mlp.py (named)": sg.Graph.from_assignments(
            steps, wrt=params, granularity="named"
        ).backward(),
        "examples/matrix_mlp.py": sg.Graph.from_assignments(steps, wrt=params).backward(),
    }
    bench_steps, weights = bench_module("matrix_network").network(d, h, n)
    out["bench/matrix_network.py"] = sg.Graph.from_assignments(
        bench_steps, wrt=weights, granularity="named"
    ).backward()
    out["bench/compile_scaling.py"] = bench_module("compile_scaling").matrix_network(0)
    chain = bench_module("scaling").matrix_chain(3)
    out["bench/scaling.py"] = sg.Graph.from_assignments(chain.expr, wrt=chain.wrt).backward()
    steps, params = mlp_steps(loss="softmax_cross_entropy", k=3)
    out["softmax classifier"] = sg.Graph.from_assignments(
        steps, wrt=params, granularity="named"
    ).backward()
    return out


@pytest.fixture(scope="module")
def every_model():
    return models()


def printed(grad):
    parts = [str(grad), grad.latex(), grad.latex(form="structured")]
    parts += [paper_text(grad[w]) for w in grad.wrt]
    parts += [paper_text(rhs) for _, rhs in grad.equations]
    return "\n".join(parts)


class TestPrintedForms:
    def test_no_broadcast_ones_in_any_model(self, every_model):
        for name, grad in every_model.items():
            text = printed(grad)
            for pattern in FORBIDDEN:
                assert not pattern.search(text), f"{name}: {pattern.pattern} in\n{text}"

    def test_the_matrix_example_prints_none(self):
        script = ROOT / "examples" / "matrix_mlp.py"
        result = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=True
        )
        for pattern in FORBIDDEN:
            assert not pattern.search(result.stdout), pattern.pattern

    def test_the_softmax_delta_reads_as_in_a_paper(self, every_model):
        grad = every_model["softmax classifier"]
        tex = grad.latex(form="structured", width=None)
        softmax = r"\operatorname{softmax}_{\mathrm{row}}\left(A_{2}\right)"
        line = re.search(r"\\delta_\{A_\{2\}\} &= (.*?) \\\\", tex).group(1)
        assert line in (
            rf"\frac{{1}}{{n}} \left(- Y + {softmax}\right)",
            rf"\frac{{1}}{{n}} \left({softmax} - Y\right)",
        )
        assert r"\delta_{L} &= 1" not in tex  # folded into every row that used it
        delta = dict(grad.equations)[sg.core.adjoint.adjoint_of(sp.MatrixSymbol("A2", n, 3))]
        assert paper_text(delta) == "(δ_L/n)*(-Y + RowSoftmax(A2))"

    def test_closed_forms_are_simplified(self, every_model):
        grad = every_model["examples/matrix_mlp.py (named)"]
        W1, b1, W2, b2 = grad.wrt
        residual = "tanh(X*W1ᵀ + 1*b1ᵀ)*W2ᵀ - Y + 1*b2ᵀ"
        assert paper_text(grad[W2]) == f"1/n*({residual})ᵀ*tanh(X*W1ᵀ + 1*b1ᵀ)"
        assert paper_text(grad[W1]) == (
            f"1/n*((({residual})*W2) ⊙ [1 - tanh(·)**2](X*W1ᵀ + 1*b1ᵀ))ᵀ*X"
        )
        structured = grad.latex(form="structured", width=None)
        assert r"\delta_{A_{2}} &= \frac{1}{n} \left(A_{2} - Y\right)" in structured

    def test_closed_forms_keep_the_forward_orientation(self, every_model):
        for name, grad in every_model.items():
            text = str(grad)
            assert "W1*Xᵀ" not in text and "Xᵀ*W1ᵀ" not in text, name
        chain = every_model["bench/scaling.py"]
        assert paper_text(chain[chain.wrt[1]]).endswith("*(tanh(W1*X))ᵀ")


class TestSameMathematics:
    @pytest.mark.parametrize("granularity", ["named", "op"])
    def test_rewritten_forms_equal_the_unrewritten_ones(self, granularity, monkeypatch, rng):
        kinds = [("squared_error", 1), ("softmax_cross_entropy", 3)]
        for loss, width in kinds:
            steps, params = mlp_steps(4, 2, 3, loss=loss, k=width)
            new = sg.Graph.from_assignments(steps, wrt=params, granularity=granularity).backward()
            with monkeypatch.context() as patch:
                unrewritten(patch)
                old = sg.Graph.from_assignments(
                    steps, wrt=params, granularity=granularity
                ).backward()
                old_closed = old.closed_forms()
            for (lhs, rhs), (old_lhs, old_rhs) in zip(new.equations, old.equations, strict=True):
                assert lhs == old_lhs
                if rhs != old_rhs:
                    assert_same_values(rhs, old_rhs, rng, points=2)
            for w in params:
                assert_same_values(new[w], old_closed[w], rng, points=2)


def jax_losses():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    jax.config.update("jax_enable_x64", True)

    def forward(X, W1, b1, W2, b2):
        A1 = jnp.tanh(X @ W1.T + b1.T)
        return A1 @ W2.T + b2.T

    def squared_error(X, Y, W1, b1, W2, b2):
        R = forward(X, W1, b1, W2, b2) - Y
        return jnp.sum(R * R) / (2 * X.shape[0])

    def softmax_cross_entropy(X, Y, W1, b1, W2, b2):
        Z = forward(X, W1, b1, W2, b2)
        lse = jax.scipy.special.logsumexp(Z, axis=1)
        return (jnp.sum(lse) - jnp.sum(Y * Z)) / X.shape[0]

    return jax, {"squared_error": squared_error, "softmax_cross_entropy": softmax_cross_entropy}


class TestAgainstJax:
    @pytest.mark.parametrize("loss,width", [("squared_error", 1), ("softmax_cross_entropy", 3)])
    def test_closed_forms_and_compiled_gradient_match_jax(self, loss, width, rng):
        jax, losses = jax_losses()
        steps, params = mlp_steps(4, 2, 3, loss=loss, k=width)
        named = sg.Graph.from_assignments(steps, wrt=params, granularity="named").backward()
        fine = sg.Graph.from_assignments(steps, wrt=params).backward()
        X, Y = layers.input_matrix(4, 2), layers.target_matrix(4, width)
        leaves = [X, Y, *params]
        point = {s: rng.normal(size=tuple(map(int, s.shape))) for s in leaves}
        expected = jax.grad(losses[loss], argnums=(2, 3, 4, 5))(*(point[s] for s in leaves))
        explicit = {s: sp.ImmutableMatrix(v) for s, v in point.items()}
        by_name = {s.name: v for s, v in point.items()}
        for grad in (named, fine):
            _, compiled = grad.lambdify()(**by_name)
            for w, want, got in zip(params, expected, compiled, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
                np.testing.assert_allclose(value_at(grad[w], explicit), want, rtol=1e-9, atol=1e-12)

    def test_the_bench_network_matches_finite_differences(self, every_model):
        grad = every_model["bench/matrix_network.py"]
        assert sg.check(grad).ok


def test_sums_of_entries_still_give_the_textbook_least_squares(rng):
    X, w, y = sp.MatrixSymbol("X", 5, 3), sp.MatrixSymbol("w", 3, 1), sp.MatrixSymbol("y", 5, 1)
    r = X * w - y
    grad = sg.gradient(SumEntries(sp.HadamardProduct(r, r)) / 2, wrt=[w])
    assert paper_text(grad[w]) in ("Xᵀ*(X*w - y)", "Xᵀ*(-y + X*w)")
    assert_same_values(grad[w], X.T * (X * w - y), rng)
