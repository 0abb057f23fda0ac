"""``symgraph.check``, re-exports of :mod:`symgraph.numeric.check`."""

from .numeric.check import *  # noqa: F403 - a thin re-export of the stage module's public names
from .numeric.check import __all__  # noqa: F401
