"""Dask arrays: the compiled function runs once per chunk, locally and on a cluster."""

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.errors import EvaluationError, GraphError

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("dask.distributed")

w, b, x, y = sp.symbols("w b x y", real=True)
CHUNKS = 4


@pytest.fixture(scope="module")
def grad():
    return sg.gradient((sp.tanh(w * x + b) - y) ** 2 + w**2, wrt=[w, b])


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    return rng.normal(size=400), rng.normal(size=400)


def close(lazy, eager):
    (va, pa), (ve, pe) = lazy, eager
    assert np.allclose(va, ve, rtol=1e-13, atol=0)
    for p, q in zip(pa, pe, strict=True):
        assert np.shape(p) == np.shape(q) and np.allclose(p, q, rtol=1e-13, atol=0)


class TestChunks:
    def test_four_chunks_give_the_numpy_answer(self, grad, data):
        xs, ys = data
        f = grad.lambdify()
        value, partials = f(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=-0.2)
        assert isinstance(value, da.Array) and all(isinstance(p, da.Array) for p in partials)
        assert value.shape == (400,) and value.numblocks == (CHUNKS,)
        close(dask.compute(value, partials), f(x=xs, y=ys, w=0.3, b=-0.2))

    def test_one_task_per_chunk_not_per_operation(self, grad, data):
        xs, ys = data
        value, partials = grad.lambdify()(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=-0.2)
        graph = dict(value.__dask_graph__())
        names = [key[0] for key in graph]
        # per chunk: x's block, y's block (cut to x's chunks), the one call, the value's slice
        assert len(graph) == 4 * CHUNKS
        assert sum(name.startswith("block-") for name in names) == CHUNKS
        every = {key: task for r in (value, *partials) for key, task in r.dask.items()}
        assert len(every) == (3 + 3) * CHUNKS  # the value's and the partials' slices of one call

    def test_broadcasting_and_different_chunkings(self, grad):
        rng = np.random.default_rng(6)
        xs, ys = rng.normal(size=(40, 1)), rng.normal(size=(1, 30))
        f = grad.lambdify()
        lazy = f(
            x=da.from_array(xs, chunks=(10, 1)), y=da.from_array(ys, chunks=(1, 15)), w=0.3, b=0.1
        )
        assert lazy[0].shape == (40, 30) and lazy[0].numblocks == (4, 2)
        close(dask.compute(*lazy), f(x=xs, y=ys, w=0.3, b=0.1))
        xs1, ys1 = rng.normal(size=100), rng.normal(size=100)
        lazy = f(x=da.from_array(xs1, chunks=25), y=da.from_array(ys1, chunks=30), w=0.3, b=0.1)
        close(dask.compute(*lazy), f(x=xs1, y=ys1, w=0.3, b=0.1))

    def test_constant_partials_have_the_batch_shape(self, data):
        f = sg.gradient(w * x + 2 * b, wrt=[w, b]).lambdify()
        value, (dw, db) = f(x=da.from_array(data[0], chunks=100), w=1.0, b=0.5)
        assert db.shape == (400,) and np.all(db.compute() == 2.0)

    def test_threaded_functions_hand_dask_arrays_on(self, grad, data):
        xs, ys = data
        value, _ = grad.lambdify(workers=2)(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=0.0)
        assert isinstance(value, da.Array)

    def test_shapes_that_do_not_broadcast(self, grad):
        with pytest.raises(EvaluationError, match="do not broadcast"):
            grad.lambdify()(x=da.zeros(8, chunks=4), y=np.zeros(3), w=0.3, b=0.1)

    def test_a_matrix_graph_is_refused(self):
        W, X = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("X", 3, 4)
        f = sg.gradient(sp.Trace((W * X).T * (W * X)), wrt=[W]).lambdify()
        with pytest.raises(GraphError, match="matrix graph"):
            f(W=np.ones((2, 3)), X=da.ones((3, 4), chunks=2))


class TestReduced:
    @pytest.mark.parametrize("reduce", ["sum", "mean"])
    def test_chunk_sums_combine(self, grad, data, reduce):
        xs, ys = data
        f = grad.lambdify(reduce=reduce)
        value, partials = f(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=-0.2)
        assert isinstance(value, da.Array) and value.shape == ()
        v1, p1 = f(x=xs, y=ys, w=0.3, b=-0.2)
        v, *p = dask.compute(value, *partials)
        assert v == pytest.approx(v1, rel=1e-12) and p == pytest.approx(p1, rel=1e-12)

    def test_a_mean_weighs_chunks_by_their_points(self, grad, data):
        xs, ys = data
        f = grad.lambdify(reduce="mean")
        value, _ = f(da.from_array(xs, chunks=(50, 150, 200)), ys, 0.3, -0.2)
        assert float(value.compute()) == pytest.approx(f(x=xs, y=ys, w=0.3, b=-0.2)[0], rel=1e-12)


# No warning filter: LocalCluster with a Client as a context manager, closed in the
# fixture, emits none here (pytest runs with -W error, so a new one fails loudly).
@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        silence_logs=50,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.usefixtures("client")
class TestCluster:
    def test_the_same_call_runs_on_the_cluster(self, client, grad, data):
        xs, ys = data
        f = grad.lambdify()
        f(x=0.5, y=0.5, w=0.3, b=-0.2)  # the scalar path built: not shipped to the workers
        lazy = f(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=-0.2)
        value, *partials = client.compute([lazy[0], *lazy[1]], sync=True)
        close((value, partials), f(x=xs, y=ys, w=0.3, b=-0.2))
        assert len(client.scheduler_info()["workers"]) == 2

    def test_a_reduced_call_on_the_cluster(self, client, grad, data):
        xs, ys = data
        f = grad.lambdify(reduce="mean")
        value, partials = f(x=da.from_array(xs, chunks=100), y=ys, w=0.3, b=-0.2)
        v, *p = client.compute([value, *partials], sync=True)
        v1, p1 = f(x=xs, y=ys, w=0.3, b=-0.2)
        assert v == pytest.approx(v1, rel=1e-12) and p == pytest.approx(p1, rel=1e-12)
