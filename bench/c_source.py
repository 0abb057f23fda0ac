"""Per-call cost of ``grad.source("c")`` against SymEngine's LLVM ``Lambdify`` (issue 12).

For each gradient: the C function compiled with ``cc -O2 -shared -fPIC`` and
called through ctypes on preallocated arrays; the raw C cost, measured by a
small C driver that calls it in a loop (no Python in the loop); and
``symengine.Lambdify(args, [value, *partials], backend="llvm", cse=True)`` on
the same closed forms, called on a preallocated input with ``out=``.  Without
SymEngine's LLVM backend the "lambda" backend is timed instead (noted).  The
gradients: the scalar test loss ``(tanh(w*x + b) - y)**2 + log(1 + exp(w*b))``
and the 8x18 tanh network of ``bench/run.py`` (181 weights).  Best of 7.

Run: ``python bench/c_source.py``
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np
import sympy as sp

try:
    import symgraph as sg
except ImportError:  # run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import symgraph as sg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Network  # noqa: E402 - the bench's own network

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int symgraph_value_and_grad(const double *args, double *out);
int main(int argc, char **argv) {
    int n_args = atoi(argv[1]), n_out = atoi(argv[2]);
    long calls = atol(argv[3]);
    double *args = malloc(sizeof(double) * n_args), *out = malloc(sizeof(double) * n_out);
    for (int k = 0; k < n_args; ++k) args[k] = atof(argv[4 + k]);
    volatile double sink = 0.0;
    double best = 1e300;
    for (int r = 0; r < 7; ++r) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long c = 0; c < calls; ++c) {
            args[0] += 1e-300;  /* a new call each time: nothing is hoisted */
            symgraph_value_and_grad(args, out);
            sink += out[0];
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / calls;
        if (ns < best) best = ns;
    }
    printf("%.3f\n", best);
    return 0;
}
"""


def gradients():
    w, x, b, y = sp.symbols("w x b y", real=True)
    loss = (sp.tanh(w * x + b) - y) ** 2 + sp.log(1 + sp.exp(w * b))
    yield "scalar loss", sg.gradient(loss, wrt=[w, b])
    net = Network(8, 18)
    loss, weights = net.build()
    yield f"network {net.label} ({net.n_weights} weights)", sg.gradient(loss, wrt=weights)


def per_call(fn, number: int) -> float:
    """Best time of one call, in µs."""
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def c_timings(grad, point: np.ndarray, n_out: int, workdir: Path, cc: str) -> tuple[float, float]:
    """(µs per ctypes call, µs per call in the C driver loop)."""
    source = workdir / "grad.c"
    source.write_text(grad.source("c"))
    library = workdir / "grad.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", library, source, "-lm"], check=True)
    fn = ctypes.CDLL(str(library)).symgraph_value_and_grad
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    out = np.empty(n_out)
    args_p, out_p = point.ctypes.data, out.ctypes.data
    via_ctypes = per_call(lambda: fn(args_p, out_p), 100_000)
    (workdir / "driver.c").write_text(DRIVER)
    driver = workdir / "driver"
    command = [cc, "-O2", "-o", driver, workdir / "driver.c", source, "-lm"]
    subprocess.run(command, check=True)
    calls = str(2_000_000 if len(point) < 20 else 100_000)
    args = [str(driver), str(len(point)), str(n_out), calls, *map(repr, point.tolist())]
    raw = float(subprocess.run(args, check=True, capture_output=True, text=True).stdout) / 1e3
    return via_ctypes, raw


def symengine_timing(grad, args, point: np.ndarray, n_out: int) -> tuple[float, str]:
    import symengine as se

    closed = grad.closed_forms()
    exprs = [grad.expr, *(closed[w] for w in grad.wrt)]
    try:
        fn = se.Lambdify(list(args), exprs, backend="llvm", cse=True)
        backend = "llvm"
    except (RuntimeError, ValueError, TypeError):  # a SymEngine built without LLVM
        fn = se.Lambdify(list(args), exprs, backend="lambda", cse=True)
        backend = "lambda (no llvm)"
    out = np.empty(n_out)
    fn(point, out=out)
    return per_call(lambda: fn(point, out=out), 100_000 if len(point) < 20 else 20_000), backend


def main() -> None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("no C compiler on PATH: nothing to time")
        return
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, grad in gradients():
            f = grad.lambdify()
            point = rng.uniform(-1, 1, size=len(f.args))
            n_out = 1 + len(grad.wrt)
            value, partials = f(*point)
            workdir = Path(tmp) / str(len(rows))
            workdir.mkdir()
            via_ctypes, raw = c_timings(grad, point, n_out, workdir, cc)
            engine, backend = symengine_timing(grad, f.args, point, n_out)
            rows.append((label, raw, via_ctypes, engine, backend))
    print(f"µs per call of value and gradient, best of 7; SymEngine backend: {rows[0][4]}")
    head = ("gradient", "C raw", "C ctypes", "SymEngine", "raw/SE", "ctypes/SE")
    print(f"{head[0]:34s} {head[1]:>9s} {head[2]:>9s} {head[3]:>10s} {head[4]:>8s} {head[5]:>10s}")
    for label, raw, via_ctypes, engine, _ in rows:
        print(
            f"{label:34s} {raw:9.3f} {via_ctypes:9.3f} {engine:10.3f} "
            f"{raw / engine:8.2f} {via_ctypes / engine:10.2f}"
        )
    print("ratios: C / SymEngine LLVM (target <= 2; below 1, C is faster)")


if __name__ == "__main__":
    main()
