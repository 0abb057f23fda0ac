"""Placeholder while issue 12 is built (replaced in this session)."""

from ..errors import GraphError


def gradient_source(grad, language):
    raise GraphError("source: not built yet")
