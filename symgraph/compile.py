"""``symgraph.compile``, re-exports of :mod:`symgraph.numeric.compile`."""

from .numeric.compile import *  # noqa: F403 - a thin re-export of the stage module's public names
from .numeric.compile import __all__  # noqa: F401
