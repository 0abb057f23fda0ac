"""``symgraph.derivatives``, re-exports of :mod:`symgraph.ad.derivatives`."""

from .ad.derivatives import *  # noqa: F403 - a thin re-export of the stage module's public names
from .ad.derivatives import __all__  # noqa: F401
