"""``symgraph.draw``, re-exports of :mod:`symgraph.present.draw`."""

from .present.draw import *  # noqa: F403 - a thin re-export of the stage module's public names
from .present.draw import __all__  # noqa: F401
