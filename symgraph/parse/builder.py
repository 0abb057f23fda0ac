"""The AST builder: a whitelisted ``ast`` tree turned into SymPy.

The tree is walked iteratively in post-order; each node is checked in its
context (expression, condition, Piecewise pair), and shapes are checked as the
matrix syntax is built.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Sequence

import sympy as sp

from ..core.sizes import is_matrix
from ..errors import ParseError
from .limits import MAX_GAMMA_ARG, MAX_POWER_BITS, MAX_ROOT_BITS, MAX_TOTAL_POWER_BITS, _error
from .literals import _check_float_range, _literal_number, _number_bits, _short
from .matrices import _Matrices
from .source import _group, _Source
from .vocabulary import (
    _ALL_MATRIX_NAMES,
    _ALL_NAMES,
    _CONDITION_FUNCTIONS,
    _F,
    _ROOTS,
    CONSTANTS,
    FUNCTIONS,
    MATRIX_FUNCTIONS,
    _entrywise,
    _no_matrices,
    _shape,
)

_EXPR, _COND, _PAIR = "expression", "condition", "pair"

_BINOP_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_COMPARE: dict[type, _F] = {
    ast.Lt: sp.Lt,
    ast.LtE: sp.Le,
    ast.Gt: sp.Gt,
    ast.GtE: sp.Ge,
    ast.Eq: sp.Eq,
    ast.NotEq: sp.Ne,
}
_LABELS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "a subscript",
    ast.Slice: "a slice",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.NamedExpr: "the walrus operator ':='",
    ast.IfExp: "'a if c else b' (use where(c, a, b))",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Starred: "a starred expression",
    ast.List: "a list",
    ast.Tuple: "a tuple outside Piecewise",
    ast.Set: "a set",
    ast.Dict: "a dict",
}
# The functions an unknown name's message mentions (the whole list is FUNCTIONS).
_COMMON = ("exp", "log", "sin", "tanh", "sigmoid", "relu")
_SYMPY_ERRORS = (TypeError, ValueError, ArithmeticError, AttributeError, NotImplementedError)


class _Builder:
    """Turn a whitelisted ``ast`` tree into SymPy, iteratively and in post-order."""

    def __init__(self, source: _Source, matrices: _Matrices | None = None):
        self.source = source
        self.power_bits = 0.0
        self.matrices = matrices  # None: scalar syntax only

    def build(self, root: ast.AST) -> sp.Expr:
        results: list = []
        stack: list = [(root, _EXPR, None)]
        while stack:
            node, ctx, plan = stack.pop()
            if plan is None:
                plan, children = self.expand(node, ctx)
                stack.append((node, ctx, (plan, len(children))))
                stack.extend((child, cctx, None) for child, cctx in reversed(children))
                continue
            combine, count = plan
            args = results[len(results) - count :]
            del results[len(results) - count :]
            try:
                results.append(combine(*args))
                _check_float_range(results[-1])
            except ParseError as err:
                message = str(err)
                if " at column " in message or " at line " in message:
                    raise
                raise _error(f"{message} at {self.source.where(node)}") from None
            except (*_SYMPY_ERRORS, RecursionError) as err:
                reason = " ".join(str(err).split())[:80] or type(err).__name__
                raise self.source.refuse(f"cannot build this ({reason})", node) from None
        (result,) = results
        if not isinstance(result, sp.Expr):
            raise _error(f"not an expression: {result}")
        return result

    def expand(self, node: ast.AST, ctx: str) -> tuple[Callable, list]:
        """Validate ``node`` in its context: return how to combine it and its children."""
        src = self.source
        if isinstance(node, ast.Constant):
            return self.constant(node, ctx), []
        if isinstance(node, ast.Name):
            if ctx != _EXPR:
                raise src.refuse("expected a condition (a comparison or True)", node)
            value = self.name(node)
            return (lambda: value), []
        if isinstance(node, ast.BinOp):
            return self.binop(node, ctx)
        if isinstance(node, ast.UnaryOp):
            return self.unaryop(node, ctx)
        if isinstance(node, ast.Compare):
            return self.compare(node, ctx)
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            if ctx != _COND:
                raise src.refuse(f"'{word}' is only allowed in Piecewise/where conditions", node)
            function = sp.And if word == "and" else sp.Or
            return function, [(value, _COND) for value in node.values]
        if isinstance(node, ast.Call):
            return self.call(node, ctx)
        if isinstance(node, ast.Attribute) and node.attr == "T" and self.matrices is not None:
            if ctx != _EXPR:
                raise src.refuse("expected a condition (a comparison or True)", node)
            return self.transpose, [(node.value, _EXPR)]
        if isinstance(node, ast.Tuple) and ctx == _PAIR:
            if len(node.elts) != 2:
                raise src.refuse("a Piecewise piece must be a pair (expression, condition)", node)
            return (lambda expr, cond: (expr, cond)), [(node.elts[0], _EXPR), (node.elts[1], _COND)]
        label = _LABELS.get(type(node), f"'{type(node).__name__}' syntax")
        if isinstance(node, ast.Attribute) and node.attr == "T":
            raise src.refuse(f"{label} is not allowed ('.T' needs declared matrices)", node)
        raise src.refuse(f"{label} is not allowed", node)

    def constant(self, node: ast.Constant, ctx: str) -> Callable:
        src, value = self.source, node.value
        if isinstance(value, bool):
            if ctx != _COND:
                raise src.refuse(f"{value} is only allowed as a Piecewise/where condition", node)
            result = sp.true if value else sp.false
            return lambda: result
        if ctx != _EXPR:
            raise src.refuse("expected a condition (a comparison or True)", node)
        if value is None:
            raise src.refuse("None is not allowed", node)
        if isinstance(value, str):
            raise src.refuse("strings are not allowed", node)
        if isinstance(value, bytes):
            raise src.refuse("bytes are not allowed", node)
        if isinstance(value, complex):
            raise src.refuse("complex literals are not allowed", node)
        if isinstance(value, (int, float)):
            number = _literal_number(node, src)
            return lambda: number
        raise src.refuse(f"{type(value).__name__} literals are not allowed", node)

    def name(self, node: ast.Name) -> sp.Basic:
        name = node.id
        if name.startswith("_"):
            raise self.source.refuse("names starting with '_' are not allowed", node)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if self.matrices is not None:
            known = self.matrices.names.get(name, self.matrices.sizes.get(name))
            if known is not None:
                return known
        return sp.Symbol(name, real=True)

    def transpose(self, a: sp.Basic) -> sp.Basic:
        if not is_matrix(a):
            raise _error(f"'.T' needs a matrix, not the scalar {a}")
        return a.T

    def matmul(self, a: sp.Basic, b: sp.Basic) -> sp.Basic:
        if not (is_matrix(a) and is_matrix(b)):
            raise _error(f"'@' needs matrices on both sides, not {_shape(a)} @ {_shape(b)}")
        return self.product(a, b)

    @staticmethod
    def product(a: sp.Basic, b: sp.Basic) -> sp.Basic:
        if is_matrix(a) and is_matrix(b) and a.shape[1] != b.shape[0]:
            raise _error(
                f"shapes do not match in the product {a} * {b}: {_shape(a)} times {_shape(b)}"
            )
        return a * b

    def matrix_sum(self, terms: Sequence[sp.Basic], inverse: Sequence[bool]) -> sp.Basic:
        first = next(t for t in terms if is_matrix(t))
        for t in terms:
            if not is_matrix(t):
                raise _error(f"cannot add the scalar {t} to the {_shape(first)} matrix {first}")
            if t.shape != first.shape:
                raise _error(
                    f"shapes do not match in a sum: {first} is {_shape(first)}, {t} is {_shape(t)}"
                )
        result = -terms[0] if inverse[0] else terms[0]
        for t, neg in zip(terms[1:], inverse[1:], strict=True):
            result = result - t if neg else result + t
        return result

    def matrix_product(self, factors: Sequence[sp.Basic], inverse: Sequence[bool]) -> sp.Basic:
        result = factors[0]
        for f, inv in zip(factors[1:], inverse[1:], strict=True):
            if inv and is_matrix(f):
                raise _error(f"cannot divide by the matrix {f} (use inv({f}))")
            result = result / f if inv else self.product(result, f)
        return result

    def binop(self, node: ast.BinOp, ctx: str) -> tuple[Callable, list]:
        src, op = self.source, type(node.op)
        if ctx == _COND:
            if op is ast.BitAnd:
                return sp.And, [(node.left, _COND), (node.right, _COND)]
            if op is ast.BitOr:
                return sp.Or, [(node.left, _COND), (node.right, _COND)]
            raise src.refuse("expected a condition (a comparison or True)", node)
        if op is ast.BitXor:
            raise src.refuse("'^' is not a power here (use ** for powers)", node)
        if op is ast.Pow:
            return self.power, [(node.left, _EXPR), (node.right, _EXPR)]
        if op is ast.MatMult:
            if self.matrices is None:
                raise src.refuse("'@' needs declared matrices", node)
            return self.matmul, [(node.left, _EXPR), (node.right, _EXPR)]
        group = _group(node)
        if group < 0:
            symbol = _BINOP_SYMBOLS.get(op, op.__name__)
            raise src.refuse(f"operator '{symbol}' is not allowed", node)
        # Flatten the left chain (a - b + c - d) into one n-ary Add or Mul.
        operands, inverse = [], []
        while _group(node) == group:
            operands.append(node.right)
            inverse.append(isinstance(node.op, (ast.Sub, ast.Div)))
            node = node.left
        operands.append(node)
        inverse.append(False)
        operands.reverse()
        inverse.reverse()
        if group == 0:

            def combine(*terms):
                if any(map(is_matrix, terms)):
                    return self.matrix_sum(terms, inverse)
                return sp.Add(*[-t if neg else t for t, neg in zip(terms, inverse, strict=True)])
        else:

            def combine(*factors):
                if any(map(is_matrix, factors)):
                    return self.matrix_product(factors, inverse)
                pairs = zip(factors, inverse, strict=True)
                return sp.Mul(*[1 / f if inv else f for f, inv in pairs])

        return combine, [(operand, _EXPR) for operand in operands]

    def power(self, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        if is_matrix(base) or is_matrix(exponent):
            raise _error(
                "'**' of a matrix is not supported (use hadamard(A, A) for entrywise "
                "squares, A @ A for products)"
            )
        if exponent.is_Rational:
            bits = _number_bits(base)
            if bits:
                size = abs(exponent) * bits
                if size > MAX_POWER_BITS:
                    raise _error(
                        f"power too large: {base} ** {_short(exponent)} would have about "
                        f"{_short(sp.Integer(int(size)))} bits (at most {MAX_POWER_BITS})"
                    )
                if not exponent.is_Integer and bits > MAX_ROOT_BITS:
                    raise _error(
                        f"exact root of a number above 2**{MAX_ROOT_BITS} is not supported"
                    )
                self.power_bits += float(size)
                if self.power_bits > MAX_TOTAL_POWER_BITS:
                    raise _error(f"powers of numbers total more than {MAX_TOTAL_POWER_BITS} bits")
        return base**exponent

    def unaryop(self, node: ast.UnaryOp, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if isinstance(node.op, (ast.Not, ast.Invert)):
            if ctx != _COND:
                word = "not" if isinstance(node.op, ast.Not) else "~"
                raise src.refuse(f"'{word}' is only allowed in Piecewise/where conditions", node)
            return sp.Not, [(node.operand, _COND)]
        if ctx != _EXPR:
            raise src.refuse("expected a condition (a comparison or True)", node)
        if isinstance(node.op, ast.USub):
            return (lambda x: -x), [(node.operand, _EXPR)]
        return (lambda x: x), [(node.operand, _EXPR)]

    def compare(self, node: ast.Compare, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if ctx != _COND:
            raise src.refuse(
                "comparison outside a condition (use where(cond, a, b) or Piecewise)", node
            )
        relations = []
        for op in node.ops:
            relation = _COMPARE.get(type(op))
            if relation is None:
                raise src.refuse(f"comparison '{type(op).__name__}' is not allowed", node)
            relations.append(relation)

        def combine(*operands):
            _no_matrices("a comparison", operands)
            pairs = zip(relations, operands, operands[1:], strict=False)
            return sp.And(*[relation(a, b) for relation, a, b in pairs])

        return combine, [(operand, _EXPR) for operand in [node.left, *node.comparators]]

    def call(self, node: ast.Call, ctx: str) -> tuple[Callable, list]:
        src = self.source
        if not isinstance(node.func, ast.Name):
            raise src.refuse("only plain function names can be called", node)
        name = node.func.id
        if name.startswith("_"):
            raise src.refuse("names starting with '_' are not allowed", node)
        if node.keywords:
            raise src.refuse(f"keyword arguments are not allowed in {name}()", node)
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise src.refuse(f"starred arguments are not allowed in {name}()", node)
        args, count = node.args, len(node.args)
        if ctx == _COND:
            function = _CONDITION_FUNCTIONS.get(name)
            if function is None:
                raise src.refuse("expected a condition (a comparison or True)", node)
            self.check_count(node, name, count, (2, 2))

            def condition(a, b, function=function):
                _no_matrices(f"{name}()", (a, b))
                return function(a, b)

            return condition, [(arg, _EXPR) for arg in args]
        if name in _CONDITION_FUNCTIONS:
            raise src.refuse(f"{name}() is only allowed in Piecewise/where conditions", node)
        if name == "Piecewise":
            self.check_count(node, name, count, (1, None))
            for arg in args:
                if not isinstance(arg, ast.Tuple):
                    raise src.refuse("Piecewise takes pairs (expression, condition)", arg)

            def piecewise(*pieces):
                _no_matrices("Piecewise", [expr for expr, _ in pieces])
                return sp.Piecewise(*pieces)

            return piecewise, [(arg, _PAIR) for arg in args]
        if name == "where":
            self.check_count(node, name, count, (3, 3))
            children = [(args[0], _COND), (args[1], _EXPR), (args[2], _EXPR)]

            def where(cond, a, b):
                _no_matrices("where()", (a, b))
                return sp.Piecewise((a, cond), (b, True))

            return where, children
        if self.matrices is not None and name in MATRIX_FUNCTIONS:
            counts, function = MATRIX_FUNCTIONS[name]
            self.check_count(node, name, count, counts)
            return function, [(arg, _EXPR) for arg in args]
        entry = FUNCTIONS.get(name)
        if entry is None:
            raise _error(f"unknown function {name!r} at {src.where(node)}; {self.hint(name)}")
        counts, function = entry
        self.check_count(node, name, count, counts)
        if self.matrices is not None:
            return self.entrywise(name, function), [(arg, _EXPR) for arg in args]
        if name in ("gamma", "loggamma"):
            function = self.guard_gamma(function, name)
        elif name in _ROOTS:
            root = _ROOTS[name]

            def function(x: sp.Expr) -> sp.Expr:
                return self.power(x, root)

        return function, [(arg, _EXPR) for arg in args]

    def hint(self, name: str) -> str:
        """What to try instead of the unknown function ``name``: short, never the whole list."""
        if self.matrices is None and name in MATRIX_FUNCTIONS:
            return f"{name}() is a matrix function: it needs declared matrices"
        names = _ALL_NAMES if self.matrices is None else _ALL_MATRIX_NAMES
        close = difflib.get_close_matches(name, names, n=3)
        if close:
            return f"did you mean {', '.join(close)}?"
        return f"known: {' '.join(_COMMON)}... (all: symgraph.parse.FUNCTIONS)"

    def entrywise(self, name: str, function: _F) -> _F:
        """``function`` on scalars; on one matrix, applied to each entry."""
        scalar = function
        if name in _ROOTS:
            root = _ROOTS[name]
            scalar = lambda x: self.power(x, root)  # noqa: E731
        elif name in ("gamma", "loggamma"):
            scalar = self.guard_gamma(function, name)

        def apply(*args: sp.Basic) -> sp.Basic:
            if not any(map(is_matrix, args)):
                return scalar(*args)
            if len(args) != 1:
                raise _error(
                    f"{name}() applies entrywise to one matrix, not to {len(args)} arguments"
                )
            return _entrywise(name, function, args[0])

        return apply

    def check_count(self, node: ast.Call, name: str, count: int, counts) -> None:
        low, high = counts
        if count < low or (high is not None and count > high):
            if high is None:
                wanted = f"at least {low}"
            elif low == high:
                wanted = str(low)
            else:
                wanted = f"{low} to {high}"
            plural = "" if wanted == "1" else "s"
            raise self.source.refuse(f"{name}() takes {wanted} argument{plural}, got {count}", node)

    def guard_gamma(self, function: _F, name: str) -> _F:
        def guarded(arg: sp.Expr) -> sp.Expr:
            if arg.is_Rational and abs(arg) > MAX_GAMMA_ARG:
                raise _error(f"{name}() of a number above {MAX_GAMMA_ARG} is too large")
            return function(arg)

        return guarded
