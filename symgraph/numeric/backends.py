"""Placeholder while issue 12 is built (replaced in this session)."""

from ..errors import GraphError


def compile_backend(grad, backend, reduce):
    raise GraphError("backends: not built yet")
