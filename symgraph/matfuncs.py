"""``symgraph.matfuncs``, re-exports of :mod:`symgraph.rules.registry.matfuncs`."""

from .rules.matfuncs import *  # noqa: F403 - a thin re-export of the stage module's public names
from .rules.matfuncs import __all__  # noqa: F401
