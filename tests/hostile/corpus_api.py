"""The Python API corpus: hostile names that reach generated code, and text handed
to the helpers that take sizes or coefficients."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import sympy as sp
from sympy.codegen.ast import FunctionCall
from sympy.utilities.lambdify import implemented_function

import symgraph as sg
from symgraph import layers, nn
from symgraph.numeric.compile import values_at

from .corpus_cli import CORE, PAYLOADS
from .harness import Case, Wrong

NAMES = PAYLOADS["names"]
SHORT = {0, 1, 5, 10}  # import, ")" breakout, newline, look-alike
W = sp.Symbol("w", real=True)
A = sp.Symbol("a", real=True)
L = sp.Symbol("L", real=True)
# The model of every name case: a*w**2 + sin(w) at a = 2, w = 1.5 (some leaf stands for a).
AT_A, AT_W = 2.0, 1.5
VALUE = AT_A * AT_W**2 + math.sin(AT_W)
D_W = 2 * AT_A * AT_W + math.cos(AT_W)
D_A = AT_W**2


def _close(got, want, what: str) -> None:
    got = np.asarray(got, dtype=float)
    if got.shape not in ((), (1,), (1, 1)) or not np.isclose(float(got.reshape(-1)[0]), want):
        raise Wrong(f"{what} = {got!r}, expected {want!r}")


class Model:
    """A graph whose leaf ``a`` (or an intermediate) carries a hostile name.

    ``numeric`` is False when the name's object has no numeric meaning (an
    undefined function): then only a refusal is right.
    """

    def __init__(self, kind: str, name: str):
        self.kind, self.name, self.numeric = kind, name, True
        self.leaf, self.wrt, self.assignments = A, [W], None
        t = sp.Symbol("t", real=True)
        if kind == "symbol":
            self.leaf = sp.Symbol(name, real=True)
        elif kind == "weight":  # the hostile symbol is also differentiated
            self.leaf = sp.Symbol(name, real=True)
            self.wrt = [W, self.leaf]
        elif kind == "dummy":
            self.leaf = sp.Dummy(name, real=True)
        elif kind == "indexed":
            self.leaf = sp.IndexedBase(name)[0]
        elif kind == "idx":
            self.leaf = sp.IndexedBase("A")[sp.Idx(name)]
        elif kind == "intermediate":  # z (hostile) = a*w**2; L = z + sin(w)
            z = sp.Symbol(name, real=True)
            self.assignments = [(z, A * W**2), (L, z + sp.sin(W))]
        elif kind == "implemented":  # F(a) = a, compiled from its _imp_
            self.expr = implemented_function(sp.Function(name), lambda u: u)(A) * W**2 + sp.sin(W)
        elif kind == "function":  # an undefined function: no number exists
            self.expr = sp.Function(name)(A) * W**2 + sp.sin(W)
            self.numeric = False
        elif kind == "functioncall":
            self.expr = FunctionCall(name, [A]) * W**2 + sp.sin(W)
            self.numeric = False
        elif kind == "subs":
            self.expr = sp.Subs(t**2 * sp.Symbol(name, real=True), t, W) + sp.sin(W)
            self.leaf = sp.Symbol(name, real=True)
        else:
            raise ValueError(kind)
        if not hasattr(self, "expr"):
            self.expr = self.leaf * W**2 + sp.sin(W)

    def graph(self) -> sg.Graph:
        if self.assignments is not None:
            return sg.Graph.from_assignments(self.assignments, wrt=self.wrt)
        return sg.Graph.from_expr(self.expr, wrt=self.wrt)

    def value_of(self, symbol) -> float:
        return AT_W if symbol == W else AT_A

    def point(self, graph: sg.Graph) -> dict:
        return {leaf: self.value_of(leaf) for leaf in graph.leaves}

    def succeeded(self) -> None:
        if not self.numeric:
            raise Wrong("returned numbers for an expression that has none (undefined function)")

    def partials(self) -> list[float]:
        return [D_W, D_A][: len(self.wrt)]


def sink_lambdify(model: Model) -> None:
    from symgraph.present.draw import to_dot

    graph = model.graph()
    grad = graph.backward()
    str(grad), repr(grad), grad.latex(), to_dot(graph)  # the printers first: no exec there
    f = grad.lambdify()
    value, partials = f(*[model.value_of(s) for s in f.args])
    model.succeeded()
    _close(value, VALUE, "value")
    for got, want in zip(partials, model.partials(), strict=True):
        _close(got, want, "partial")


def sink_forward(model: Model) -> None:
    graph = model.graph()
    values = graph.forward(model.point(graph))
    model.succeeded()
    _close(values[graph.output], VALUE, "forward value")


def sink_values_at(model: Model) -> None:
    graph = model.graph()
    grad = graph.backward()
    forward, delta = values_at(grad, model.point(graph))
    model.succeeded()
    _close(forward[graph.output], VALUE, "forward value")
    _close(delta[W], D_W, "δ_w")


def sink_check(model: Model) -> None:
    report = sg.check(model.graph().backward(), seed=0)
    model.succeeded()
    if not report.ok:
        raise Wrong(f"check fails a correct gradient: {report}")


def sink_source(model: Model) -> None:
    grad = model.graph().backward()
    for language in ("python", "c"):
        grad.source(language)


SINKS = {
    "lambdify": sink_lambdify,
    "forward": sink_forward,
    "values_at": sink_values_at,
    "check": sink_check,
}
if hasattr(sg.Gradient, "source"):
    SINKS["source"] = sink_source
KINDS = ["symbol", "weight", "dummy", "indexed", "idx", "intermediate", "implemented",
         "function", "functioncall", "subs"]  # fmt: skip


def _name_case(kind: str, name: str, sink, tmp) -> None:
    sink(Model(kind, name))


def name_cases() -> list[Case]:
    """Each hostile name, built each way, through each stage that generates code."""
    cases = []
    for kind in KINDS:
        for i, name in enumerate(NAMES):
            if kind != "symbol" and i not in SHORT:
                continue
            for sink_name, sink in SINKS.items():
                if kind != "symbol" and sink_name not in ("lambdify", "values_at"):
                    continue  # forward and check compile as values_at does: one kind suffices
                cases.append(
                    Case(
                        f"name:{kind}:{sink_name}:{i}",
                        "names",
                        partial(_name_case, kind, name, sink),
                    )
                )
    return cases


def collision_cases() -> list[Case]:
    """Names the generated code itself uses (np, sin, v1, delta_w...): the numbers stay right."""
    return [
        Case(f"collide:{kind}:{sink}:{name}", "names", partial(_name_case, kind, name, SINKS[sink]))
        for kind in ("symbol", "weight", "intermediate")
        for name in PAYLOADS["collide"]
        for sink in ("lambdify", "values_at")
        if kind == "symbol" or sink == "lambdify"
    ]


def _trace_case(name: str, tmp) -> None:
    w = sg.Value(1.5, name="w")
    a = sg.Value(2.0, name=name)
    out = a * w * w + w.sin()
    out.backward()
    _close(w.grad, D_W, "w.grad")
    _close(a.grad, D_A, "a.grad")


# --- text handed to the helpers ---

HELPERS = {
    "layers.input_matrix(n)": lambda p: layers.input_matrix(p, 2),
    "layers.input_matrix(d)": lambda p: layers.input_matrix(2, p),
    "layers.input_matrix(name)": lambda p: _compile_matrix(layers.input_matrix(2, 1, name=p)),
    "layers.target_matrix": lambda p: layers.target_matrix(p, 1),
    "layers.weights": lambda p: layers.weights(1, p, 2),
    "layers.biases": lambda p: layers.biases(1, p),
    "layers.mlp(widths)": lambda p: layers.mlp(layers.input_matrix(2, 2), widths=[p, 1]),
    "layers.l2_penalty(lam)": lambda p: layers.l2_penalty([layers.weights(1, 2, 2)], lam=p),
    "nn.l2_penalty(lam)": lambda p: nn.l2_penalty([W], lam=p),
    "nn.mlp(widths)": lambda p: nn.mlp(nn.input_symbols(2), widths=[p, 1]),
    "nn.activation": lambda p: nn.activation(p),
    "layers.elementwise": lambda p: layers.elementwise(p, layers.input_matrix(2, 2)),
    "sg.gradient(str)": lambda p: sg.gradient(p),
    "sg.gradient(wrt=str)": lambda p: sg.gradient(W**2, wrt=[p]),
    "Graph.from_expr(str)": lambda p: sg.Graph.from_expr(p),
    "Graph.forward(str key)": lambda p: sg.Graph.from_expr(W**2).forward({p: 1.0, W: 1.0}),
    "Graph.forward(str value)": lambda p: sg.Graph.from_expr(W**2).forward({W: p}),
    "lambdify()(str)": lambda p: sg.gradient(W**2, wrt=[W]).lambdify()(w=p),
    "sg.hessian(str)": lambda p: sg.hessian(p, [W]),
    "sg.jacobian(str)": lambda p: sg.jacobian([p], [W]),
    "Value(name=str)": lambda p: _trace_case(p, None),
    "Graph.node_named": lambda p: sg.Graph.from_expr(W**2).node_named(p),
}


def _compile_matrix(X) -> None:
    grad = sg.gradient(sp.Trace(X.T * X), wrt=[X])
    value, (partial_x,) = grad.lambdify()(np.array([[1.0], [2.0]]))
    _close(value, 5.0, "value")
    if not np.allclose(np.asarray(partial_x, dtype=float), [[2.0], [4.0]]):
        raise Wrong(f"∂/∂X = {partial_x!r}")


#: The helpers that take a name: any text may be one; the others take numbers or math.
NAME_HELPERS = {"layers.input_matrix(name)", "Value(name=str)"}


def _helper_case(name: str, helper, payload: str, tmp) -> None:
    result = helper(payload)
    if name not in NAME_HELPERS:
        raise Wrong(f"accepted code text as a number or expression: {str(result)[:200]}")


def helper_cases() -> list[Case]:
    """Every text helper handed each core payload: none may run it."""
    return [
        Case(f"helper:{name}:{i}", "helpers", partial(_helper_case, name, helper, payload))
        for name, helper in HELPERS.items()
        for i, payload in enumerate(CORE[:4])
    ]


def cases() -> list[Case]:
    return name_cases() + collision_cases() + helper_cases()
