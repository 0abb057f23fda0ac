"""Does every stage scale linearly?  Each stage timed as the graph doubles in size.

Run from the repository root::

    python bench/scaling.py            # 1,000 .. 16,000 graph nodes, 60 s per cell
    python bench/scaling.py --quick    # 1,000 .. 4,000 graph nodes, 10 s per cell

One table goes to stdout, progress lines to stderr.  For each problem family
(built at about N graph nodes) and each stage, the time at every size, the
worst growth per doubling (time(2n) / time(n); target <= 2.3) and the fitted
scaling exponent (the least-squares slope of log time against log nodes: 1 is
linear, 2 quadratic).

Families:

- chain: ``a_k = tanh(w_k*a_{k-1} + b_k)``, loss ``(a_D - y)**2``, by every ``w_k, b_k``;
- wide sum: ``sum_i sin(w*x_i)``, one weight, many inputs;
- tied recurrence: ``h_t = tanh(w*h_{t-1} + b)``, the same ``w, b`` every step;
- product: ``prod_i x_i``, by every ``x_i``; product of sin: ``prod_i sin(x_i)``;
- matrix chain: ``A_k = tanh(W_k A_{k-1})``, 3x3 ``MatrixSymbol`` weights, ``A_0 = X``
  (3 x 1,000), loss ``SumEntries(A_D)``, sized by depth; built from named steps
  (``sg.Graph.from_assignments``): SymPy computes the shape of a nested matrix
  expression by recursion, so the nested expression cannot even be built past
  about 300 layers;
- coarsen: a graph, then ``graph.coarsen(members)``: the wide sum with every
  operation fused into one node ("whole sum"), or the chain with the last layer's
  product, sum and tanh fused ("one layer"); the stages after it run on the fused
  graph.  (A whole deep chain cannot be one node: a node's operation is at most
  100 operations deep.)

Stages: build (``sg.Graph.from_expr``; ``from_assignments`` for the matrix chain),
backward (``graph.backward()``), closed form (``grad[w]`` for one weight, on demand:
all the closed forms of a k-factor product hold k(k - 1) factors together), compile
(``grad.lambdify()``), call (one call at 1,000 points), check (``sg.check(grad)``),
structured LaTeX (``grad.latex(form="structured")``), save (``sg.to_json``), load
(``sg.from_json``), explain (``sg.explain(grad, weight, at=point)`` for one weight),
and a reference that is none of symgraph's: CPython's ``compile`` of straight-line
code, 4 lines per graph node, run in the same processes (what a doubling of plainly
linear work costs this machine at that size: more than 2 as the data outgrow the
caches).  Building the SymPy expression itself is not timed.

Every stage runs in its own forked process with a time limit. The processes form the
stages' dependency tree: a stage's process times it (SymPy's cache cleared first),
reports, then forks its dependents, which inherit its result; so nothing is computed
twice, and a stage that hangs is killed without losing its siblings. A cell is the
best of 3 rounds (2 with ``--quick``), each round measuring every size of the family
once, in turn, each cell one run (a cell repeated within its round would be measured
warm at small sizes and cold at large ones): a slow spell of the machine (another
job, another virtual machine on the host) then falls on one round of a few cells,
not on every repeat of one size, which made single doublings read 3x while their
neighbours read 1.7x. A cell reads ``timeout``, ``crashed`` (the process died, e.g.
a C stack overflow), the class of the exception raised (``RecursionError``, ...), or
``skipped`` (a stage it depends on failed, or it timed out at a smaller size). As in
``bench/run.py``, deep expressions are built with ``evaluate=False`` (SymPy's own
assumption queries would otherwise walk the whole chain at every level).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

from symgraph.matfuncs import SumEntries

TARGET = 2.3  # the worst allowed growth per doubling
NOISE = 0.02  # s: a doubling that ends below this is timer noise, not counted
POINTS = 1000  # points of the call stage (columns of the matrix chain's input)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the problem families -------------------------------------------------------------


@dataclass
class Problem:
    """One family at one size: the expression, its weights and a point."""

    expr: sp.Basic | list  # an expression, or named steps (sg.Graph.from_assignments)
    wrt: list
    weight: sp.Basic  # the weight the explain stage walks through
    values: Callable[[np.random.Generator, int], dict[str, np.ndarray]]  # name -> n points


def _uniform(symbols, low: float, high: float):
    def values(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        return {s.name: rng.uniform(low, high, n) for s in symbols}

    return values


def chain(depth: int) -> Problem:
    x, y = sp.symbols("x y", real=True)
    ws = sp.symbols(f"w1:{depth + 1}", real=True)
    bs = sp.symbols(f"b1:{depth + 1}", real=True)
    a = x
    for w, b in zip(ws, bs, strict=True):
        a = sp.tanh(w * a + b, evaluate=False)
    loss = sp.Pow(a - y, 2, evaluate=False)
    wrt = [v for pair in zip(ws, bs, strict=True) for v in pair]
    return Problem(loss, wrt, ws[0], _uniform([x, y, *wrt], -1.0, 1.0))


def wide_sum(n: int) -> Problem:
    w = sp.Symbol("w", real=True)
    xs = sp.symbols(f"x1:{n + 1}", real=True)
    loss = sp.Add(*(sp.sin(w * x) for x in xs))
    return Problem(loss, [w], w, _uniform([w, *xs], -1.0, 1.0))


def tied(steps: int) -> Problem:
    w, b, x, y = sp.symbols("w b x y", real=True)
    h = x
    for _ in range(steps):
        h = sp.tanh(w * h + b, evaluate=False)
    loss = sp.Pow(h - y, 2, evaluate=False)
    return Problem(loss, [w, b], w, _uniform([w, b, x, y], -1.0, 1.0))


def product(n: int) -> Problem:
    xs = list(sp.symbols(f"x1:{n + 1}", real=True))
    return Problem(sp.Mul(*xs), xs, xs[0], _uniform(xs, 0.9, 1.1))


def product_of_sin(n: int) -> Problem:
    xs = list(sp.symbols(f"x1:{n + 1}", real=True))
    return Problem(sp.Mul(*(sp.sin(x) for x in xs)), xs, xs[0], _uniform(xs, 1.4, 1.7))


def matrix_chain(depth: int) -> Problem:
    """As named steps: SymPy computes a nested matrix expression's shape by recursion."""
    X = sp.MatrixSymbol("X", 3, POINTS)
    Ws = [sp.MatrixSymbol(f"W{k}", 3, 3) for k in range(1, depth + 1)]
    steps, a = [], X
    for k, W in enumerate(Ws, start=1):
        a_next = sp.MatrixSymbol(f"A{k}", 3, POINTS)
        steps.append((a_next, (W * a).applyfunc(sp.tanh)))
        a = a_next
    steps.append((sp.Symbol("L", real=True), SumEntries(a)))

    def values(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        out = {W.name: rng.uniform(-1.0, 1.0, (3, 3)) for W in Ws}
        out["X"] = rng.uniform(-1.0, 1.0, (3, n))
        return out

    return Problem(steps, Ws, Ws[0], values)


def graph_of(problem: Problem) -> sg.Graph:
    if isinstance(problem.expr, list):
        return sg.Graph.from_assignments(problem.expr, wrt=problem.wrt)
    return sg.Graph.from_expr(problem.expr, wrt=problem.wrt)


def fuse_all(graph: sg.Graph) -> list:
    """Every operation: the whole wide sum becomes one node, ``L = sin(w*x1) + ...``.

    (A whole deep chain cannot be one node: a node's operation is at most
    ``OPERATION_MAX_DEPTH`` levels deep, and fusing it is refused in one line.)
    """
    return [n for n in graph.nx if graph.nx.nodes[n]["op"] is not None]


def fuse_top_layer(graph: sg.Graph) -> list:
    """The last layer's product, sum and tanh: one node ``tanh(w_D*a + b_D)``, as in a paper."""
    order = graph.topological_order()
    top = next(n for n in reversed(order) if isinstance(graph.nx.nodes[n]["op"], sp.tanh))
    members = [top]
    for _ in range(2):  # tanh <- b + v <- a*w
        members.append(
            next(p for p in graph.nx.predecessors(members[-1]) if graph.op(p) is not None)
        )
    return members


@dataclass(frozen=True)
class Family:
    name: str
    make: Callable[[int], Problem]
    fuse: Callable[[sg.Graph], list] | None = None  # the nodes to coarsen after building


FAMILIES = [
    Family("chain", chain),
    Family("wide sum", wide_sum),
    Family("tied recurrence", tied),
    Family("product", product),
    Family("product of sin", product_of_sin),
    Family("matrix chain", matrix_chain),
    Family("coarsen: whole sum", wide_sum, fuse=fuse_all),
    Family("coarsen: one layer", chain, fuse=fuse_top_layer),
]


def parameter_for(family: Family, nodes: int) -> int:
    """The size parameter giving about ``nodes`` graph nodes (the count is affine in it)."""
    small, large = 20, 40  # past the first few sizes, where SymPy's forms still vary
    n_small, n_large = (graph_of(family.make(p)).size["nodes"] for p in (small, large))
    per = (n_large - n_small) / (large - small)
    return max(1, round((nodes - (n_small - small * per)) / per))


# --- the stages -----------------------------------------------------------------------


def fresh_grad(state: dict) -> None:
    state["grad"] = state["graph"].backward()


def st_build(s: dict):
    s["graph"] = graph_of(s["problem"])
    return s["graph"]


def st_build_to_coarsen(s: dict):
    s["built"] = st_build(s)
    return s["built"]


def st_coarsen(s: dict):
    s["graph"] = s["built"].coarsen(s["members"])
    return s["graph"]


def st_backward(s: dict):
    s["grad"] = s["graph"].backward()
    return s["grad"]


def st_closed(s: dict):
    return s["grad"][s["problem"].weight]  # on demand: all of a k-product's hold k(k - 1) factors


def st_compile(s: dict):
    s["f"] = s["grad"].lambdify()
    return s["f"]


def st_call(s: dict):
    return s["f"](*s["args"])


def st_check(s: dict):
    return sg.check(s["grad"])


def st_latex(s: dict):
    return s["grad"].latex(form="structured")


def st_save(s: dict):
    s["json"] = sg.to_json(s["graph"])
    return s["json"]


def st_load(s: dict):
    return sg.from_json(s["json"])


def st_explain(s: dict):
    return sg.explain(s["grad"], s["problem"].weight, at=s["point"])


def st_reference(s: dict):
    """CPython compiling straight-line code, 4 lines per graph node: linear work, for scale.

    Run in the same processes as the stages, it shows what a doubling costs this
    machine at each size when nothing of symgraph's is involved.
    """
    lines = 4 * s["nodes"]
    source = "\n".join(f"t{i} = t{i - 1} * a{i} + 1.5" for i in range(1, lines + 1))
    return compile(source, "<reference>", "exec")


def set_reference(s: dict) -> None:
    s["nodes"] = s.get("built", s["graph"]).size["nodes"]


def set_members(s: dict) -> None:
    s["members"] = s["fuse"](s["built"])


def set_args(s: dict) -> None:
    """The call's arguments, and one call untimed: the cell is a call's steady cost (the
    first one also grows the allocator's heap for the temporaries, about 2.4x a later one)."""
    values = s["problem"].values(np.random.default_rng(0), POINTS)
    s["args"] = [values[a.name] for a in s["f"].args]
    s["f"](*s["args"])


def set_point(s: dict) -> None:
    values = s["problem"].values(np.random.default_rng(1), POINTS)
    s["point"] = {k: v if np.ndim(v) == 2 else float(v[0]) for k, v in values.items()}


@dataclass
class Stage:
    name: str
    run: Callable[[dict], object]
    before: Callable[[dict], None] | None = None  # untimed, once
    again: Callable[[dict], None] | None = None  # untimed, before each repeat
    after: list[Stage] = field(default_factory=list)  # the stages that need this one's result


def stage_tree(coarsen: bool) -> Stage:
    on_grad = [
        Stage("closed form", st_closed, again=fresh_grad),
        Stage("compile", st_compile, again=fresh_grad, after=[Stage("call", st_call, set_args)]),
        Stage("check", st_check, again=fresh_grad),
        Stage("LaTeX", st_latex, again=fresh_grad),
        Stage("explain", st_explain, set_point, again=fresh_grad),
    ]
    on_graph = [
        Stage("backward", st_backward, after=on_grad),
        Stage("save", st_save, after=[Stage("load", st_load)]),
        Stage("reference", st_reference, set_reference),
    ]
    if coarsen:
        fuse = Stage("coarsen", st_coarsen, set_members, after=on_graph)
        return Stage("build", st_build_to_coarsen, after=[fuse])
    return Stage("build", st_build, after=on_graph)


def stage_names(coarsen: bool) -> list[str]:
    names, stack = [], [stage_tree(coarsen)]
    while stack:
        st = stack.pop()
        names.append(st.name)
        stack.extend(reversed(st.after))
    return names


# --- running the tree in forked processes ---------------------------------------------


class Channel:
    """Lines of JSON to the parent; each one ``os.write`` under PIPE_BUF, so never interleaved."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, *message) -> None:
        os.write(self.fd, (json.dumps(message) + "\n").encode())


def run_children(stages: list[Stage], state: dict, out: Channel, skip: set[str], repeats: int):
    for st in stages:
        if st.name in skip:
            continue
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_stage(st, state, out, skip, repeats)
            except BaseException:  # a child never returns into its parent's loop
                code = 1
            finally:
                os._exit(code)
        os.waitpid(pid, 0)


def run_stage(st: Stage, state: dict, out: Channel, skip: set[str], repeats: int) -> None:
    out.send("start", st.name, os.getpid())
    try:
        if st.before is not None:
            st.before(state)
        best, started = math.inf, time.perf_counter()
        for k in range(repeats):
            if k and st.again is not None:
                st.again(state)
            sp.core.cache.clear_cache()
            t0 = time.perf_counter()
            st.run(state)
            last = time.perf_counter() - t0
            best = min(best, last)
            if time.perf_counter() - started + last > state["budget"]:
                break  # one more would risk the time limit
    except BaseException as exc:  # the cell reads the exception's class
        out.send("error", st.name, type(exc).__name__)
        return
    if st.name == "build":
        out.send("nodes", st.name, state["graph"].size["nodes"])
    out.send("done", st.name, best)
    run_children(st.after, state, out, skip, repeats)


def holder(family: Family, param: int, out: Channel, skip: set[str], repeats: int, budget: float):
    out.send("start", "expression", os.getpid())
    try:
        problem = family.make(param)
    except Exception as exc:  # SymPy itself could not build it: every cell is skipped
        out.send("error", "expression", type(exc).__name__)
        return
    out.send("done", "expression", 0.0)
    state = {"problem": problem, "budget": budget, "fuse": family.fuse}
    run_children([stage_tree(family.fuse is not None)], state, out, skip, repeats)


def measure(
    family: Family, param: int, skip: set[str], timeout: float, repeats: int
) -> tuple[dict[str, object], int | None]:
    """Cells of one family at one size: stage -> seconds or a failure word; and the node count."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            holder(family, param, Channel(w), skip, repeats, budget=timeout / 3)
        except BaseException:  # never back into the caller's loop
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    cells: dict[str, object] = {}
    nodes = None
    current: tuple[str, int, float] | None = None  # stage, pid, deadline
    buffer = b""
    while True:
        wait = 1.0 if current is None else max(0.0, current[2] - time.monotonic())
        ready, _, _ = select.select([r], [], [], min(wait, 1.0))
        if current is not None and time.monotonic() >= current[2] and not ready:
            name, running, _ = current
            cells[name] = "timeout"
            log(f"    {name}: timeout, killed")
            try:
                os.kill(running, signal.SIGKILL)
            except ProcessLookupError:
                pass
            current = None
            continue
        if not ready:
            continue
        chunk = os.read(r, 65536)
        if not chunk:
            break
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            kind, name, value = json.loads(line)
            if kind == "start":
                if current is not None:  # the previous stage died without a word
                    cells[current[0]] = "crashed"
                    log(f"    {current[0]}: crashed")
                current = (name, value, time.monotonic() + timeout)
            elif kind == "nodes":
                nodes = value
            elif kind in ("done", "error"):
                cells[name] = value
                if kind == "error" or name != "expression":
                    log(f"    {name}: {value if kind == 'error' else fmt_seconds(value) + ' s'}")
                current = None
    if current is not None:
        cells[current[0]] = "crashed"
    os.close(r)
    os.waitpid(pid, 0)
    return cells, nodes


# --- the table ------------------------------------------------------------------------


def fmt_seconds(t: float) -> str:
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    if t >= 0.1:
        return f"{t:.2f}"
    if t >= 0.01:
        return f"{t:.3f}"
    return f"{t:.4f}"


def growth(times: list[object], nodes: list[int | None], timeout: float):
    """(worst doubling text, verdict, exponent text) of one row."""
    counted, raw = [], []
    for a, b in zip(times, times[1:], strict=False):
        if isinstance(a, float) and isinstance(b, float) and a > 0:
            raw.append(b / a)
            if b >= NOISE:
                counted.append(b / a)
        elif isinstance(a, float) and b == "timeout" and a > 0:
            counted.append(-timeout / a)  # a lower bound, marked by its sign
    if counted:
        worst = max(counted, key=abs)
        text = f">{-worst:.1f}" if worst < 0 else f"{worst:.2f}"
        verdict = "ok" if 0 < worst <= TARGET else "over"
    elif raw:
        text, verdict = f"{max(raw):.2f}", "ok*"
    else:
        text, verdict = "-", "-"
    points = [
        (math.log(n), math.log(t))
        for t, n in zip(times, nodes, strict=True)
        if isinstance(t, float) and t > 0 and n
    ]
    slope = "-"
    if len(points) >= 2:
        xs, ys = np.array(points).T
        if np.ptp(xs) > 0:
            slope = f"{np.polyfit(xs, ys, 1)[0]:.2f}"
    return text, verdict, slope


def print_table(rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)

    def show(cells):
        first = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        rest = [c.rjust(w) for c, w in zip(cells[2:], widths[2:], strict=True)]
        return "  ".join(first + rest).rstrip()

    print(line)
    print(show(headers))
    print(line)
    previous = None
    for r in rows:
        if previous is not None and r[0] and r[0] != previous:
            print()
        previous = r[0] or previous
        print(show(r))
    print(line, flush=True)


def machine_facts(args) -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"symgraph {sg.__version__}, Python {sys.version.split()[0]}, SymPy {sp.__version__},"
        f" NumPy {np.__version__}; {platform.system()} {platform.machine()},"
        f" {os.cpu_count()} CPUs, load average {load};"
        f" {'--quick' if args.quick else 'full'} run, limit {args.timeout:.0f} s per cell,"
        f" best of {args.repeats}"
    )


def warm_up() -> None:
    """Import what the stages import lazily (printers, JSON, the checker) before forking.

    A scalar chain of 40 weights (sg.check takes its random-direction path above 32)
    and a small matrix chain go through every stage once.
    """
    for problem in (chain(20), matrix_chain(2)):
        state = {"problem": problem}
        st_build(state)
        st_backward(state)
        st_compile(state)
        set_args(state)
        st_call(state)
        st_check(state)
        st_latex(state)
        st_save(state)
        st_load(state)
        set_point(state)
        st_explain(state)


def _best(old: object, new: object) -> object:
    """A cell over the rounds: the fastest time; a first failure stays (it is not run again)."""
    if old is None:
        return new
    if isinstance(old, float) and isinstance(new, float):
        return min(old, new)
    return old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 .. 4,000 nodes, 10 s a cell")
    parser.add_argument("--timeout", type=float, help="seconds per cell (60; 10 with --quick)")
    parser.add_argument("--repeats", type=int, help="best of this many (3; 2 with --quick)")
    parser.add_argument("--families", help="comma-separated names (default: all)")
    parser.add_argument("--sizes", help="comma-separated node counts (default: by --quick)")
    args = parser.parse_args(argv)
    sizes = [1000, 2000, 4000] if args.quick else [1000, 2000, 4000, 8000, 16000]
    if args.sizes:
        sizes = [int(n) for n in args.sizes.split(",")]
    args.timeout = args.timeout or (10.0 if args.quick else 60.0)
    args.repeats = args.repeats or (2 if args.quick else 3)
    families = FAMILIES
    if args.families:
        wanted = {n.strip() for n in args.families.split(",")}
        families = [f for f in FAMILIES if f.name in wanted]
    start = time.perf_counter()
    warm_up()
    print(machine_facts(args), flush=True)
    headers = ["family", "stage", *(f"{n:,}" for n in sizes), "worst x2", "target", "exponent"]
    rows = []
    for family in families:
        names = stage_names(family.fuse is not None)
        params = [parameter_for(family, n) for n in sizes]
        by_size: list[dict] = [{} for _ in sizes]
        nodes: list[int | None] = [None] * len(sizes)
        failed_at: dict[str, int] = {}  # stage -> the first size it timed out or crashed at
        for round_ in range(1, args.repeats + 1):  # every size once per round, in turn
            for k, (n, p) in enumerate(zip(sizes, params, strict=True)):
                failed = {name for name, at in failed_at.items() if at <= k}
                if failed & {"expression", "build"}:
                    continue  # nothing to measure at this size
                elapsed = time.perf_counter() - start
                log(
                    f"{family.name}, about {n:,} nodes (parameter {p}), round {round_} of "
                    f"{args.repeats}; {elapsed:.0f} s so far"
                )
                cells, count = measure(family, p, failed, args.timeout, 1)
                nodes[k] = nodes[k] or count
                for name, value in cells.items():
                    by_size[k][name] = _best(by_size[k].get(name), value)
                for name, v in cells.items():
                    if v in ("timeout", "crashed") or (
                        name == "expression" and not isinstance(v, float)
                    ):
                        failed_at[name] = min(failed_at.get(name, k), k)
        rows.append([family.name, "nodes", *(f"{c:,}" if c else "-" for c in nodes), "", "", ""])
        for name in names:
            times = [c.get(name, "skipped") for c in by_size]
            shown = [fmt_seconds(t) if isinstance(t, float) else str(t) for t in times]
            rows.append(["", name, *shown, *growth(times, nodes, args.timeout)])
    print()
    print(
        "Time in seconds of each stage (best of the rounds; the expression itself built"
        " untimed) at about N graph nodes.\n"
        f"worst x2 = the largest time(2n)/time(n) (target <= {TARGET}; '>k' a lower bound"
        " where time(2n) timed out); exponent = slope of log time on log nodes.\n"
        f"ok* = every doubling ends under {NOISE * 1000:.0f} ms (timer noise, not counted);"
        " skipped = a stage it needs failed, or it timed out at a smaller size."
    )
    print_table(rows, headers)
    log(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
