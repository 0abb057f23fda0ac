"""The one registry of derivative rules: local partials and vector-Jacobian products.

``registry`` holds the table and the scalar rules (SymPy's own ``fdiff`` as the
fallback); ``matfuncs`` the matrix functions symgraph adds (``SumEntries``,
``FrobeniusNorm``, row-wise softmax, ...); ``matrix`` their VJP rules and those
of SymPy's matrix operations, registered in the same table.
"""

from . import matrix  # noqa: F401 - registers the matrix operations' rules in the table
from .registry import register_rule, register_vjp

__all__ = ["register_rule", "register_vjp"]
