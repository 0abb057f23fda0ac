"""Graphs as files: symgraph's JSON (save and load), GraphML and DOT (export).

The format is described in :mod:`symgraph.io.files`; ``format`` holds its
vocabulary, ``limits`` and ``verify`` what a loaded file must satisfy,
``decode`` the reader.
"""

from .files import (
    SYMBOL_CLASSES,
    from_json,
    load_json,
    save_dot,
    save_graphml,
    save_json,
    to_graphml,
    to_json,
)
from .format import ASSUMPTIONS, CLASSES, CONSTANTS, FORMAT, VERSION

__all__ = [
    "ASSUMPTIONS",
    "CLASSES",
    "CONSTANTS",
    "FORMAT",
    "SYMBOL_CLASSES",
    "VERSION",
    "from_json",
    "load_json",
    "save_dot",
    "save_graphml",
    "save_json",
    "to_graphml",
    "to_json",
]
