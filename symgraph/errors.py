"""The exception hierarchy: one base class, each subclass also a built-in.

>>> issubclass(NoRuleError, NotImplementedError)
True
"""

from __future__ import annotations


class SymgraphError(Exception):
    """Base class of every error symgraph raises on purpose."""


class ParseError(SymgraphError, ValueError):
    """Text that the safe parser refuses (bad syntax, unknown name, too large)."""


class GraphError(SymgraphError, ValueError):
    """A graph that cannot be built or used as asked (bad weight, bad node)."""


class NotFoundError(GraphError, KeyError):
    """A weight or node asked for that the gradient or graph does not have (a KeyError)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0]) if self.args else ""


class NoRuleError(SymgraphError, NotImplementedError):
    """No derivative rule is known for an operation on the path to a weight."""


class EvaluationError(SymgraphError, ValueError):
    """Numeric evaluation failed: missing values, or no point inside the domain."""


class CheckError(SymgraphError, AssertionError):
    """A numeric cross-check found a partial derivative that disagrees."""
