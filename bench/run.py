"""Benchmark: symgraph's symbolic backpropagation against SymPy and SymEngine.

Run from the repository root::

    python bench/run.py            # full run, about 5-15 minutes
    python bench/run.py --quick    # smaller sizes, fewer repeats, under ~2 minutes

Tables go to stdout, progress lines to stderr.  Three parts:

1. Deep chain ``a0 = x; a_k = tanh(w_k*a_{k-1} + b_k)``, loss ``(a_D - y)**2``,
   differentiated by every ``w_k`` and ``b_k``.  Derivation time of
   - symgraph: ``sg.gradient`` + ``grad.lambdify()`` (code generation included),
     and separately ``grad.closed_forms()``;
   - SymPy: ``[sp.diff(L, w) for w in weights]``, and the same followed by ``sp.cse``;
   - SymEngine: ``symengine.sympify(L)`` then ``.diff(w)`` per weight.
2. A one-hidden-layer tanh network written out in scalars (inputs ``x_i``,
   ``a_j = tanh(sum_i W1_j_i*x_i + b1_j)``, output ``sum_j W2_j*a_j + b2``, squared
   error against ``y``), differentiated by all weights: the same derivation times,
   plus the gradient's size after common-subexpression elimination, as a ratio to
   the loss's own operation count (``count_ops`` of ``sp.cse([L])``).  For symgraph
   the count is the forward operations of the graph plus the right sides of its
   δ-equations; for SymPy it is ``sp.cse(diffs)`` (replacements + reduced forms).
3. Value and gradient of the network over 10,000 data points: symgraph's compiled
   function against hand-written NumPy forward/backward code and, where it can be
   built, ``sympy.lambdify(weights + inputs, [L] + diffs, cse=True)``.  All three
   produce per-point quantities (the loss per point and every partial per point,
   no reduction over points); they are checked to agree before timing.

Every derivation runs in its own forked process with a time limit, so one that
hangs or overflows the recursion limit only fills its table cell ("timeout",
"recursion", "crashed").  Imports and NumPy/SciPy set-up happen once in the
parent before forking, so they are not timed.  Ratios are "other / symgraph":
above 1 means symgraph is faster.

All symbols are ``real=True`` (symgraph's own convention).  The chain is built with
``evaluate=False`` on ``tanh`` and on the final square: with automatic evaluation
SymPy itself asks assumption questions (``is_finite`` -> ``as_real_imag`` ->
``expand``) that walk the whole chain, which makes merely *building* the loss
quadratic and overflow the recursion limit before depth 1000.  The tree is the
same one evaluation would give.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

try:
    import symengine as se
except ImportError:  # SymEngine is a bench-only dependency; its columns read "n/a"
    se = None

CTX = mp.get_context("fork")  # children inherit the warmed-up parent: no import cost


@dataclass(frozen=True)
class Settings:
    depths: tuple[int, ...]
    symgraph_only_depths: tuple[int, ...]
    networks: tuple[tuple[int, int], ...]
    timeout: float
    points: int
    repeats: int
    lambdify_max_weights: int  # largest network for which sympy.lambdify is built


FULL = Settings(
    depths=(10, 30, 100, 1000),
    symgraph_only_depths=(5000,),
    networks=((4, 4), (8, 18), (16, 32), (32, 64)),
    timeout=60.0,
    points=10_000,
    repeats=7,
    lambdify_max_weights=600,
)
QUICK = Settings(
    depths=(10, 30, 100, 1000),
    symgraph_only_depths=(),
    networks=((4, 4), (8, 18), (16, 32)),
    timeout=20.0,
    points=10_000,
    repeats=3,
    lambdify_max_weights=200,
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the problems ---------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """``a_k = tanh(w_k*a_{k-1} + b_k)``, ``D`` deep; loss ``(a_D - y)**2``."""

    depth: int

    @property
    def n_weights(self) -> int:
        return 2 * self.depth

    def build(self) -> tuple[sp.Expr, list[sp.Symbol]]:
        x, y = sp.symbols("x y", real=True)
        ws = sp.symbols(f"w1:{self.depth + 1}", real=True)
        bs = sp.symbols(f"b1:{self.depth + 1}", real=True)
        a = x
        for w, b in zip(ws, bs, strict=True):
            a = sp.tanh(w * a + b, evaluate=False)
        loss = sp.Pow(a - y, 2, evaluate=False)
        return loss, [v for pair in zip(ws, bs, strict=True) for v in pair]


@dataclass(frozen=True)
class Network:
    """One hidden tanh layer of ``h`` units on ``d`` inputs, linear output, squared error."""

    d: int
    h: int

    @property
    def n_weights(self) -> int:
        return self.h * self.d + 2 * self.h + 1

    @property
    def label(self) -> str:
        return f"{self.d}x{self.h}"

    def symbols(self):
        """(inputs x_1..x_d, target y, W1 as h rows of d, b1, W2, b2)."""
        xs = [sp.Symbol(f"x_{i}", real=True) for i in range(1, self.d + 1)]
        y = sp.Symbol("y", real=True)
        w1 = [
            [sp.Symbol(f"W1_{j}_{i}", real=True) for i in range(1, self.d + 1)]
            for j in range(1, self.h + 1)
        ]
        b1 = [sp.Symbol(f"b1_{j}", real=True) for j in range(1, self.h + 1)]
        w2 = [sp.Symbol(f"W2_{j}", real=True) for j in range(1, self.h + 1)]
        b2 = sp.Symbol("b2", real=True)
        return xs, y, w1, b1, w2, b2

    def build(self) -> tuple[sp.Expr, list[sp.Symbol]]:
        xs, y, w1, b1, w2, b2 = self.symbols()
        hidden = [
            sp.tanh(sp.Add(*(wji * xi for wji, xi in zip(row, xs, strict=True)), bj))
            for row, bj in zip(w1, b1, strict=True)
        ]
        out = sp.Add(*(w2j * aj for w2j, aj in zip(w2, hidden, strict=True)), b2)
        loss = (out - y) ** 2
        weights = [w for row in w1 for w in row] + b1 + w2 + [b2]
        return loss, weights


# --- running one derivation in a child process ----------------------------------------

Report = Callable[[str, object], None]


def _child(task, problem, conn) -> None:
    def report(key: str, value: object) -> None:
        conn.send((key, value))

    try:
        task(report, problem)
        conn.send(("done", None))
    except RecursionError:
        conn.send(("error", "recursion"))
    except MemoryError:
        conn.send(("error", "memory"))
    except Exception as exc:  # any other failure fills the cell instead of stopping the run
        conn.send(("error", f"error: {type(exc).__name__}"))
    finally:
        conn.close()


def run_isolated(task, problem, timeout: float) -> tuple[dict[str, object], str | None]:
    """Run ``task(report, problem)`` in a forked process.

    Returns the values it reported and a failure status (``None`` when it finished):
    "timeout", "recursion", "crashed" (e.g. a C stack overflow) or "error: ...".
    Values reported before a failure are kept.
    """
    receiver, sender = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=_child, args=(task, problem, sender), daemon=True)
    proc.start()
    sender.close()
    results: dict[str, object] = {}
    status: str | None = "crashed"
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            status = "timeout"
            break
        if not receiver.poll(min(remaining, 1.0)):
            continue
        try:
            key, value = receiver.recv()
        except EOFError:  # the child died without a word
            break
        if key == "done":
            status = None
            break
        if key == "error":
            status = str(value)
            break
        results[key] = value
    if proc.is_alive():
        proc.kill()
    proc.join()
    receiver.close()
    return results, status


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def count_ops(exprs) -> int:
    return sum(sp.count_ops(e) for e in exprs)


def cse_ops(exprs: Sequence[sp.Expr]) -> int:
    replacements, reduced = sp.cse(list(exprs))
    return count_ops(rhs for _, rhs in replacements) + count_ops(reduced)


def task_symgraph(report: Report, problem) -> None:
    loss, weights = problem.build()
    grad, t = _timed(lambda: sg.gradient(loss, wrt=weights))
    report("gradient", t)
    _, t = _timed(grad.lambdify)
    report("lambdify", t)
    report("nodes", grad.graph.size["nodes"])
    _, t = _timed(grad.closed_forms)
    report("closed", t)
    if isinstance(problem, Network):
        nodes = grad.graph.nx.nodes
        forward = count_ops(nodes[n]["op"] for n in nodes if nodes[n]["op"] is not None)
        report("ops", forward + count_ops(rhs for _, rhs in grad.equations))


def task_sympy(report: Report, problem) -> None:
    loss, weights = problem.build()
    diffs, t = _timed(lambda: [sp.diff(loss, w) for w in weights])
    report("diff", t)
    reduced, t = _timed(lambda: sp.cse(diffs))
    report("cse", t)
    if isinstance(problem, Network):
        replacements, exprs = reduced
        report("ops", count_ops(rhs for _, rhs in replacements) + count_ops(exprs))


def task_symengine(report: Report, problem) -> None:
    if se is None:
        raise ImportError("symengine is not installed")
    loss, weights = problem.build()

    def derive():
        converted = se.sympify(loss)
        return [converted.diff(se.sympify(w)) for w in weights]

    _, t = _timed(derive)
    report("diff", t)


def task_loss_ops(report: Report, problem) -> None:
    loss, _ = problem.build()
    report("ops", cse_ops([loss]))


# --- tables ---------------------------------------------------------------------------


def fmt_seconds(t: float) -> str:
    if t >= 100:
        return f"{t:.0f}"
    if t >= 10:
        return f"{t:.1f}"
    if t >= 0.01:
        return f"{t:.2f}"
    return f"{t:.4f}"


def fmt_ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


class Cell:
    """A measured time, or the reason there is none."""

    def __init__(self, seconds: float | None = None, status: str | None = None):
        self.seconds = seconds
        self.status = status

    def __str__(self) -> str:
        return fmt_seconds(self.seconds) if self.seconds is not None else str(self.status)

    def ratio_to(self, base: Cell, timeout: float) -> str:
        """``self / base``; a lower bound for a timeout, "-" for other failures."""
        if base.seconds is None or base.seconds <= 0:
            return "-"
        if self.seconds is not None:
            return fmt_ratio(self.seconds / base.seconds)
        if self.status == "timeout":
            return ">" + fmt_ratio(timeout / base.seconds)
        return "-"


def cell(results: dict[str, object], status: str | None, *keys: str) -> Cell:
    """The sum of ``keys`` if all were measured, else the failure status."""
    if all(k in results for k in keys):
        return Cell(seconds=sum(float(results[k]) for k in keys))
    return Cell(status=status or "failed")


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    texts = [[str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in texts)) for k, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print()
    print(title)
    print(line)
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for r in texts:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))
    print(line, flush=True)


# --- parts 1 and 2: derivation --------------------------------------------------------


@dataclass
class Derivation:
    """The measured cells of one problem."""

    nodes: object
    symgraph: Cell
    closed: Cell
    diff: Cell
    diff_cse: Cell
    symengine: Cell
    symgraph_ops: int | None = None
    sympy_ops: int | None = None
    loss_ops: int | None = None

    def row(self, timeout: float) -> list[object]:
        base = self.symgraph
        return [
            self.nodes,
            base,
            self.closed,
            self.diff,
            self.diff_cse,
            self.symengine,
            self.diff.ratio_to(base, timeout),
            self.diff_cse.ratio_to(base, timeout),
            self.symengine.ratio_to(base, timeout),
        ]


DERIVATION_HEADERS = [
    "nodes",
    "symgraph",
    "closed_forms",
    "sp.diff",
    "diff+cse",
    "symengine",
    "diff/sg",
    "diff+cse/sg",
    "se/sg",
]


def derive(problem, name: str, timeout: float, others: bool = True) -> Derivation:
    log(f"  {name}: symgraph")
    res, status = run_isolated(task_symgraph, problem, timeout)
    skipped = Cell(status="skipped")
    d = Derivation(
        nodes=res.get("nodes", "-"),
        symgraph=cell(res, status, "gradient", "lambdify"),
        closed=cell(res, status, "closed"),
        diff=skipped,
        diff_cse=skipped,
        symengine=skipped,
        symgraph_ops=res.get("ops"),
    )
    if not others:
        return d
    log(f"  {name}: sympy.diff + cse")
    res, status = run_isolated(task_sympy, problem, timeout)
    d.diff = cell(res, status, "diff")
    d.diff_cse = cell(res, status, "diff", "cse")
    d.sympy_ops = res.get("ops")
    log(f"  {name}: symengine")
    res, status = run_isolated(task_symengine, problem, timeout)
    d.symengine = cell(res, status, "diff")
    if isinstance(problem, Network):
        res, _ = run_isolated(task_loss_ops, problem, timeout)
        d.loss_ops = res.get("ops")
    return d


def part_chain(s: Settings) -> None:
    log("part 1: deep tanh chain")
    rows = []
    for depth in (*s.depths, *s.symgraph_only_depths):
        problem = Chain(depth)
        others = depth in s.depths
        d = derive(problem, f"depth {depth}", s.timeout, others=others)
        rows.append([depth, problem.n_weights, *d.row(s.timeout)])
    print_table(
        "1. Deep chain a_k = tanh(w_k*a_{k-1} + b_k), loss (a_D - y)**2, d/d(all w_k, b_k):"
        f" derivation time in s (limit {s.timeout:.0f} s each).\n"
        "   symgraph = sg.gradient + grad.lambdify() (code generation included);"
        " closed_forms = grad.closed_forms() afterwards;\n"
        "   sp.diff = [sp.diff(L, w) for w in weights]; diff+cse = the same then sp.cse;"
        " symengine = symengine.sympify(L), .diff(w) per weight.\n"
        "   Ratios are other/symgraph (>1: symgraph faster; '>Nx': the other timed out).",
        ["depth", "weights", *DERIVATION_HEADERS],
        rows,
    )


def part_network(s: Settings) -> None:
    log("part 2: one-hidden-layer tanh network in scalars")
    times, sizes = [], []
    for d_in, h in s.networks:
        problem = Network(d_in, h)
        d = derive(problem, f"network {problem.label}", s.timeout)
        times.append([problem.n_weights, problem.label, *d.row(s.timeout)])
        sizes.append(
            [
                problem.n_weights,
                problem.label,
                _or_dash(d.loss_ops),
                _or_dash(d.symgraph_ops),
                _ops_ratio(d.symgraph_ops, d.loss_ops),
                _or_dash(d.sympy_ops),
                _ops_ratio(d.sympy_ops, d.loss_ops),
            ]
        )
    print_table(
        "2a. Scalar tanh network (d inputs x h hidden units), d/d(all weights):"
        f" derivation time in s (limit {s.timeout:.0f} s each); columns as in table 1.",
        ["weights", "d x h", *DERIVATION_HEADERS],
        times,
    )
    print_table(
        "2b. Gradient size: operation count (sp.count_ops) after CSE, and its ratio to the"
        " loss's own count (target <= 3).\n"
        "   loss = sp.cse([L]); symgraph = forward ops of every graph node + right sides of"
        " the delta-equations\n"
        "   (value and gradient together); sympy = sp.cse(diffs), replacements + reduced"
        " (gradient only).",
        ["weights", "d x h", "loss ops", "symgraph ops", "sg/loss", "sympy cse ops", "sympy/loss"],
        sizes,
    )


def _or_dash(v: object) -> object:
    return "-" if v is None else v


def _ops_ratio(ops: int | None, loss_ops: int | None) -> str:
    return "-" if not ops or not loss_ops else f"{ops / loss_ops:.2f}"


# --- part 3: value and gradient over data ---------------------------------------------


def numpy_value_and_grad(x, y, w1, b1, w2, b2):
    """Per-point loss and per-point gradient of every weight, by hand (matrix form).

    Shapes: x (n, d), y (n,), w1 (h, d), b1 (h,), w2 (h,), b2 scalar.  Returns the
    loss (n,), dW1 (n, h, d), db1 (n, h), dW2 (n, h), db2 (n,).
    """
    a = np.tanh(x @ w1.T + b1)
    r = a @ w2 + b2 - y
    dout = 2.0 * r
    dz = dout[:, None] * w2 * (1.0 - a * a)
    return r * r, dz[:, :, None] * x[:, None, :], dz, dout[:, None] * a, dout


def flatten_numpy(grads, n: int) -> np.ndarray:
    """(n, weights) in the order of ``Network.build``: W1 row by row, b1, W2, b2."""
    dw1, db1, dw2, db2 = grads
    return np.concatenate([dw1.reshape(n, -1), db1, dw2, db2[:, None]], axis=1)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    return min(timeit.repeat(fn, number=1, repeat=repeats))


def part_speed(s: Settings) -> None:
    log(f"part 3: value and gradient over {s.points:,} points")
    rng = np.random.default_rng(0)
    rows = []
    for d_in, h in s.networks:
        problem = Network(d_in, h)
        name = f"network {problem.label}"
        log(f"  {name}: building")
        xs, ysym, w1s, _, _, _ = problem.symbols()
        loss, weights = problem.build()
        f = sg.gradient(loss, wrt=weights).lambdify()

        x = rng.standard_normal((s.points, d_in))
        y = rng.standard_normal(s.points)
        w1 = rng.standard_normal((h, d_in)) / np.sqrt(d_in)
        b1 = rng.standard_normal(h)
        w2 = rng.standard_normal(h) / np.sqrt(h)
        b2 = float(rng.standard_normal())
        weight_values = [*w1.ravel(), *b1, *w2, b2]
        values = {sym.name: float(v) for sym, v in zip(weights, weight_values, strict=True)}
        values.update({sym.name: x[:, i] for i, sym in enumerate(xs)})
        values[ysym.name] = y
        sg_args = [values[sym.name] for sym in f.args]

        def run_symgraph(f=f, sg_args=sg_args):
            return f(*sg_args)

        def run_numpy(x=x, y=y, w1=w1, b1=b1, w2=w2, b2=b2):
            return numpy_value_and_grad(x, y, w1, b1, w2, b2)

        value, partials = run_symgraph()
        expected_value, *expected = run_numpy()
        expected_grad = flatten_numpy(expected, s.points)
        agree = np.allclose(value, expected_value) and np.allclose(
            np.stack(partials, axis=1), expected_grad
        )
        checks = ["ok" if agree else "MISMATCH"]

        run_sympy = None
        if problem.n_weights <= s.lambdify_max_weights:
            log(f"  {name}: sympy.lambdify(cse=True)")
            diffs = [sp.diff(loss, w) for w in weights]
            fl = sp.lambdify([*weights, *xs, ysym], [loss, *diffs], modules="numpy", cse=True)
            sp_args = [*(float(v) for v in weight_values), *(x[:, i] for i in range(d_in)), y]

            def run_sympy(fl=fl, sp_args=sp_args):
                return fl(*sp_args)

            out = run_sympy()
            sp_agree = np.allclose(out[0], expected_value) and np.allclose(
                np.stack([np.broadcast_to(o, (s.points,)) for o in out[1:]], axis=1),
                expected_grad,
            )
            checks.append("ok" if sp_agree else "MISMATCH")

        log(f"  {name}: timing")
        t_sg = Cell(best_of(run_symgraph, s.repeats) * 1e3)
        t_np = Cell(best_of(run_numpy, s.repeats) * 1e3)
        t_sp = Cell(status="not built")
        if run_sympy is not None:
            t_sp = Cell(best_of(run_sympy, s.repeats) * 1e3)
        rows.append(
            [
                problem.n_weights,
                problem.label,
                "/".join(checks),
                t_sg,
                t_np,
                t_sp,
                t_np.ratio_to(t_sg, 0),
                t_sp.ratio_to(t_sg, 0),
            ]
        )
    print_table(
        f"3. Value and gradient of the scalar network over n={s.points:,} points, PER POINT"
        " (loss (n,) and every partial (n,), no sum over points);\n"
        f"   time of one call in ms, best of {s.repeats}.  symgraph = compiled f(x_i arrays, y,"
        " weights as floats);\n"
        "   numpy = hand-written matrix forward/backward (dW1 as (n,h,d)); sympy ="
        " sympy.lambdify(weights+inputs, [L]+diffs, cse=True)\n"
        f"   (built for <= {s.lambdify_max_weights} weights).  agree = np.allclose with the"
        " hand-written NumPy (symgraph/sympy).  Ratios other/symgraph.",
        ["weights", "d x h", "agree", "symgraph", "numpy", "sympy", "numpy/sg", "sympy/sg"],
        rows,
    )


# --- part 4: matrix nodes (bench/matrix_network.py) ---------------------------------


def part_matrix(s: Settings, quick: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import matrix_network

    matrix_network.run(repeats=s.repeats, quick=quick)


# --- main -----------------------------------------------------------------------------


def warm_up() -> None:
    """Import everything lazily imported (SciPy printers, SymEngine) before timing."""
    w, x = sp.symbols("w x", real=True)
    loss = sp.tanh(w * x) ** 2
    sg.gradient(loss, wrt=[w]).lambdify()(1.0, 2.0)
    sp.cse([sp.diff(loss, w)])
    sp.lambdify([w, x], [loss], modules="numpy", cse=True)(1.0, 2.0)
    if se is not None:
        se.sympify(loss).diff(se.sympify(w))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--timeout", type=float, help="seconds allowed per derivation")
    args = parser.parse_args(argv)
    s = QUICK if args.quick else FULL
    if args.timeout is not None:
        s = replace(s, timeout=args.timeout)
    start = time.perf_counter()
    warm_up()
    print(
        f"symgraph {sg.__version__}, SymPy {sp.__version__}, NumPy {np.__version__}, "
        f"SymEngine {se.__version__ if se is not None else 'not installed'}, "
        f"Python {sys.version.split()[0]}; {'--quick' if args.quick else 'full'} run"
    )
    part_chain(s)
    part_network(s)
    part_speed(s)
    part_matrix(s, quick=args.quick)
    log(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
