"""Placeholder while issue 12 is built (replaced in this session)."""

from ..errors import GraphError


def threaded(compiled, workers):
    raise GraphError("parallel: not built yet")
