"""The cyclic garbage collector is paused while a stage runs, and restored after."""

import gc
import threading

import pytest
import sympy as sp

import symgraph as sg
from symgraph.core.collector import paused_collector

seen: list[bool] = []


class probe(sp.Function):
    """A function whose derivative notes whether the collector was running."""

    def fdiff(self, argindex=1):
        seen.append(gc.isenabled())
        return sp.cos(self.args[0])


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    assert gc.isenabled(), "a stage left the collector paused"
    if not was:
        gc.disable()


def test_backpropagation_runs_with_the_collector_paused():
    w, x = sp.symbols("w x", real=True)
    seen.clear()
    grad = sg.gradient(probe(w * x), wrt=[w])
    assert seen and not any(seen)
    assert gc.isenabled()
    assert sp.simplify(grad[w] - x * sp.cos(w * x)) == 0


def test_nested_stages_restore_it_once_at_the_end():
    @paused_collector
    def inner():
        return gc.isenabled()

    @paused_collector
    def outer():
        return inner(), gc.isenabled()

    assert outer() == (False, False)
    assert gc.isenabled()


def test_a_failing_stage_restores_it():
    with pytest.raises(sg.GraphError):
        sg.gradient("x + 1")  # text is not an expression
    assert gc.isenabled()


def test_a_collector_the_user_disabled_stays_disabled():
    gc.disable()
    try:
        paused_collector(lambda: None)()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_share_one_pause():
    """The collector comes back when the last of two overlapping stages ends."""
    first_inside, release = threading.Event(), threading.Event()
    states = {}

    @paused_collector
    def long_stage():
        first_inside.set()
        release.wait(10)

    @paused_collector
    def short_stage():
        return gc.isenabled()

    worker = threading.Thread(target=long_stage)
    worker.start()
    assert first_inside.wait(10)
    states["during"] = short_stage()
    states["after short"] = gc.isenabled()
    release.set()
    worker.join(10)
    assert states == {"during": False, "after short": False}
    assert gc.isenabled()
