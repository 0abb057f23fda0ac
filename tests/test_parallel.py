"""workers=N: a batch split across threads, and simplification on a pool of processes."""

import threading

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError
from symgraph.numeric.parallel import BLOCK, MIN_POINTS, ThreadedGradient

w, b, x, y = sp.symbols("w b x y", real=True)
N = 3 * MIN_POINTS + 7  # not a multiple of the workers


@pytest.fixture(scope="module")
def grad():
    return sg.gradient((sp.tanh(w * x + b) - y) ** 2 + w**2, wrt=[w, b])


@pytest.fixture
def rng():
    return np.random.default_rng(12)


def same(a, c):
    (va, pa), (vc, pc) = a, c
    assert np.shape(va) == np.shape(vc) and np.array_equal(va, vc)
    assert len(pa) == len(pc)
    for p, q in zip(pa, pc, strict=True):
        assert np.shape(p) == np.shape(q) and np.array_equal(p, q)


class Spy:
    """A compiled function that counts its runs (whole calls and parts) and the rows of each."""

    def __init__(self, f):
        self.f, self.args, self.wrt, self.calls = f, f.args, f.wrt, []
        self.validated = f.validated  # a threaded call checks the whole batch once

    def seen(self, values) -> None:
        self.calls.append(max((np.shape(v)[:1] for v in values), default=()))

    def __call__(self, *args, **values):
        self.seen((*args, *values.values()))
        return self.f(*args, **values)

    def results(self, ordered):  # a part of a per-point call, checked already
        self.seen(ordered)
        return self.f.results(ordered)


class TestThreads:
    def test_blas_runs_one_thread_inside_a_threaded_call_only(self, grad, rng):
        threadpoolctl = pytest.importorskip("threadpoolctl")

        def blas_threads():
            return [
                p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"
            ]

        seen = []

        class Recording(Spy):
            def seen(self, values):
                seen.append(blas_threads())

        before = blas_threads()
        f = ThreadedGradient(Recording(grad.lambdify()), 2)
        xs, ys = rng.normal(size=N), rng.normal(size=N)
        f(x=xs, y=ys, w=0.3, b=-0.2)
        assert seen and all(threads == [1] * len(before) for threads in seen)
        assert blas_threads() == before
        # calls from several of the user's threads at once: as BLAS was once the last ends
        # (whether BLAS heeds a limit set from another thread is the BLAS build's choice)
        users = [
            threading.Thread(target=f, kwargs=dict(x=xs, y=ys, w=0.3, b=-0.2)) for _ in range(3)
        ]
        for user in users:
            user.start()
        for user in users:
            user.join()
        assert blas_threads() == before

    def test_a_large_batch_equals_one_call(self, grad, rng):
        xs, ys = rng.normal(size=N), rng.normal(size=N)
        same(
            grad.lambdify(workers=2)(x=xs, y=ys, w=0.3, b=-0.2), grad.lambdify()(xs, ys, 0.3, -0.2)
        )

    def test_more_workers_than_cores_and_by_position(self, grad, rng):
        xs = rng.normal(size=N)
        f = grad.lambdify(workers=5)
        same(f(xs, 0.5, 0.3, -0.2), grad.lambdify()(xs, 0.5, 0.3, -0.2))

    def test_broadcasting_shapes_and_scalars(self, grad, rng):
        xs, ys = rng.normal(size=(N // 100, 1)), rng.normal(size=(1, 100))
        f, g = grad.lambdify(workers=2), grad.lambdify()
        same(f(x=xs, y=ys, w=0.3, b=-0.2), g(x=xs, y=ys, w=0.3, b=-0.2))
        same(f(x=ys, y=xs, w=0.3, b=-0.2), g(x=ys, y=xs, w=0.3, b=-0.2))  # (1, m) first
        same(f(x=xs, y=1.5, w=0.3, b=-0.2), g(x=xs, y=1.5, w=0.3, b=-0.2))

    def test_weights_as_arrays_split_too(self, grad, rng):
        xs, ws = rng.normal(size=N), rng.normal(size=N)
        same(grad.lambdify(workers=2)(xs, 0.0, ws, 1.0), grad.lambdify()(xs, 0.0, ws, 1.0))

    def test_constant_partials_are_broadcast(self, rng):
        g = sg.gradient(w * x + 2 * b, wrt=[w, b])
        xs = rng.normal(size=N)
        value, (dw, db) = g.lambdify(workers=2)(x=xs, w=1.0, b=0.5)
        same((value, (dw, db)), g.lambdify()(x=xs, w=1.0, b=0.5))
        assert db.shape == (N,) and np.all(db == 2.0)

    def test_the_batch_is_split_in_rows_of_blocks(self, grad, rng):
        spy = Spy(grad.lambdify())
        f = ThreadedGradient(spy, 3)
        f(rng.normal(size=N), 0.5, 0.3, -0.2)
        sizes = [rows for (rows,) in spy.calls]  # less than a block each: one per thread
        assert sum(sizes) == N and len(sizes) == 3 and max(sizes) - min(sizes) <= 1
        spy.calls.clear()
        rows = 7 * BLOCK + 5  # 8 blocks' worth: 3 threads get 3 blocks each
        f(rng.normal(size=rows), 0.5, 0.3, -0.2)
        sizes = [rows for (rows,) in spy.calls]
        assert sum(sizes) == rows and len(sizes) == 9 and max(sizes) <= BLOCK
        assert max(sizes) - min(sizes) <= 1
        spy.calls.clear()
        f(rng.normal(size=(N // 4, 4)), 0.5, 0.3, -0.2)  # a row holds 4 points
        assert sorted(rows for (rows,) in spy.calls) == [5000, 5000, 5001]

    def test_the_batch_is_checked_once_and_its_parts_run_unchecked(self, grad, rng, monkeypatch):
        import symgraph.numeric.forward as forward

        checks = []
        real_value = forward.real_value
        monkeypatch.setattr(
            forward, "real_value", lambda name, v: checks.append(name) or real_value(name, v)
        )
        xs = rng.normal(size=N)
        value, partials = grad.lambdify(workers=2)(xs, 0.5, 0.3, -0.2)
        assert sorted(checks) == ["b", "w", "x", "y"]  # once each, not once per block
        monkeypatch.undo()
        same((value, partials), grad.lambdify()(xs, 0.5, 0.3, -0.2))

    def test_small_batches_run_in_one_call(self, grad, rng):
        spy = Spy(grad.lambdify())
        f = ThreadedGradient(spy, 2)
        f(rng.normal(size=MIN_POINTS - 1), 0.5, 0.3, -0.2)
        f(x=0.5, y=1.0, w=0.3, b=-0.2)
        f(rng.normal(size=(1, N)), 0.5, 0.3, -0.2)  # one row: not split
        assert len(spy.calls) == 3

    def test_keeps_the_interface(self, grad):
        f, g = grad.lambdify(workers=2), grad.lambdify()
        assert (f.args, f.wrt, f.source) == (g.args, g.wrt, g.source)
        assert "2 threads" in repr(f)
        same(f(x=0.5, y=1.0, w=0.3, b=-0.2), g(x=0.5, y=1.0, w=0.3, b=-0.2))

    def test_bad_calls_say_what_the_serial_call_says(self, grad):
        f = grad.lambdify(workers=2)
        with pytest.raises(EvaluationError, match="no value given for b"):
            f(x=np.zeros(N), y=0.0, w=1.0)
        with pytest.raises(EvaluationError, match="given both by position and by name"):
            f(np.zeros(N), x=np.zeros(N), y=0.0, w=1.0, b=0.0)
        with pytest.raises(EvaluationError, match="shape"):
            f(np.zeros(N), np.zeros(N + 1), 1.0, 0.0)

    @pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2"])
    def test_bad_worker_counts_are_refused(self, grad, workers):
        with pytest.raises(GraphError, match="workers must be a whole number"):
            grad.lambdify(workers=workers)

    def test_a_matrix_graph_is_refused(self):
        W, X = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("X", 3, 4)
        g = sg.gradient(sp.Trace((W * X).T * (W * X)), wrt=[W])
        with pytest.raises(GraphError, match="matrix graph"):
            g.lambdify(workers=2)
        assert g.lambdify(workers=1) is not None

    def test_the_threads_end_with_the_function(self, grad, rng):
        import gc
        import threading

        f = grad.lambdify(workers=3)
        f(rng.normal(size=N), 0.5, 0.3, -0.2)
        pool = f._pool
        del f
        gc.collect()
        assert pool._shutdown
        for thread in threading.enumerate():
            if thread.name.startswith("symgraph"):
                thread.join(timeout=5)


class TestReduced:
    @pytest.mark.parametrize("reduce", ["sum", "mean"])
    def test_reduced_parts_are_joined(self, grad, rng, reduce):
        xs, ys = rng.normal(size=N), rng.normal(size=N)
        value, partials = grad.lambdify(reduce=reduce, workers=2)(x=xs, y=ys, w=0.3, b=-0.2)
        v1, p1 = grad.lambdify(reduce=reduce)(x=xs, y=ys, w=0.3, b=-0.2)
        assert isinstance(value, float) and value == pytest.approx(v1, rel=1e-12)
        assert partials == pytest.approx(p1, rel=1e-12)

    def test_a_mean_is_weighted_by_the_parts_sizes(self, grad, rng):
        xs, ys = rng.normal(size=(N // 50, 1)), rng.normal(size=(1, 50))
        f = grad.lambdify(reduce="mean", workers=4)  # parts of unequal size
        v1, p1 = grad.lambdify()(x=xs, y=ys, w=0.3, b=-0.2)
        value, partials = f(x=xs, y=ys, w=0.3, b=-0.2)
        assert value == pytest.approx(float(np.mean(v1)), rel=1e-12)
        assert partials == pytest.approx([float(np.mean(p)) for p in p1], rel=1e-12)

    def test_an_array_for_a_weight_is_refused_before_the_threads_start(self, grad, rng):
        xs = rng.normal(size=N)
        with pytest.raises(EvaluationError, match="w is a weight: reduce='sum' needs one number"):
            grad.lambdify(reduce="sum", workers=2)(x=xs, y=0.0, w=xs, b=1.0)

    def test_the_objective_runs_on_threads(self, grad, rng):
        xs, ys = rng.normal(size=N), rng.normal(size=N)
        fun = grad.lambdify(reduce="mean", workers=2).objective(x=xs, y=ys)
        one = grad.lambdify(reduce="mean").objective(x=xs, y=ys)
        value, gradient = fun(np.array([0.3, -0.2]))
        v1, g1 = one(np.array([0.3, -0.2]))
        assert value == pytest.approx(v1, rel=1e-12) and gradient == pytest.approx(g1, rel=1e-12)


@pytest.fixture(scope="module")
def many():
    weights = sp.symbols("v0:3", real=True)
    loss = (sum(v * x / (1 + v**2) for v in weights) - y) ** 2
    return sg.gradient(loss, wrt=list(weights)), weights


class TestSimplifyWorkers:
    def test_equals_the_serial_result(self, many):
        grad, weights = many
        serial = grad.simplify(budget=120)
        parallel = grad.simplify(budget=120, workers=2)
        assert parallel.simplified == "fast"
        for v in weights:
            assert sp.srepr(parallel[v]) == sp.srepr(serial[v])
        assert sp.count_ops(parallel[weights[0]]) < sp.count_ops(grad[weights[0]])

    def test_the_budget_holds(self, many):
        import time

        grad, weights = many
        start = time.monotonic()
        out = grad.simplify(strategy="thorough", budget=0.5, workers=2)
        assert time.monotonic() - start < 5
        for v in weights:  # whatever was found in time, never a different value
            assert sp.count_ops(out[v]) <= sp.count_ops(grad[v])

    def test_a_zero_budget_changes_nothing(self, many):
        grad, weights = many
        out = grad.simplify(budget=0, workers=2)
        assert all(out[v] == grad[v] for v in weights)

    @pytest.mark.parametrize("workers", [0, 2.0, False])
    def test_bad_worker_counts_are_refused(self, many, workers):
        with pytest.raises(GraphError, match="workers must be a whole number"):
            many[0].simplify(workers=workers)
