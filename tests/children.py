"""Run a test's work in a forked child with a time limit: a hang fails one test, not the run."""

from __future__ import annotations

import multiprocessing

LIMIT = 20.0  # seconds; the fixed code takes well under one


def _child(conn, fn):  # pragma: no cover - runs in a forked child
    try:
        conn.send(fn())
    except BaseException as err:  # noqa: B036 - report anything to the parent
        conn.send(f"{type(err).__name__}: {str(err)[:200]}")


def in_child(fn, seconds: float = LIMIT):
    """``fn()`` in a forked child: its result, an error's text, or "timeout"."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, fn), daemon=True)
    child.start()
    send.close()
    result = receive.recv() if receive.poll(seconds) else "timeout"
    child.terminate()
    child.join()
    return result
