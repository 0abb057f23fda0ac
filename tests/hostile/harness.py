"""Run one hostile case in a forked child, limited in time and memory, and judge it.

The test process imports SymPy and symgraph once; each case runs in a child made
by ``os.fork`` (a few milliseconds), with ``RLIMIT_AS`` capped and its own empty
working directory, its standard streams on files.  The child sends back what
happened over a pipe; the parent kills a child that overruns its deadline.

A case is a :class:`Case`: ``run(tmp)`` is called in the child, in the case's
directory, and either returns (success; it raises :class:`Wrong` itself when the
numbers are wrong), raises, or -- for the command line -- returns an exit
status.  :func:`judge` turns the :class:`Outcome` into a list of problems
(empty: the case held).

Examples
--------
>>> outcome = run_case(Case("doc", "api", lambda tmp: None))
>>> outcome.kind, judge(outcome)
('ok', [])
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIME_LIMIT = 20.0  # seconds of wall clock per case
MEMORY_LIMIT = 4 * 2**30  # bytes of address space above what the parent already maps
SENTINEL = "SENTINEL"  # the file every injection payload tries to create
MAX_MESSAGE = 500  # characters of a refusal: more echoes the input back
MAX_STDOUT = 1_000_000  # bytes the command line may print


class Wrong(Exception):
    """Raised by a case's own check: success, but with the wrong numbers."""


class Hung(Exception):
    """Raised by a case that ran a subprocess which overran its time."""


@dataclass
class Case:
    """One hostile input: an id, its entry point, and what to run in the child."""

    id: str
    entry: str
    run: Callable[[Path], Any]
    files: dict[str, bytes] = field(default_factory=dict)  # written into tmp first
    cli: bool = False  # run returns an exit status; stderr is judged as a refusal
    allow_exit: tuple[int, ...] = (0, 2)
    time_limit: float = TIME_LIMIT
    forbid: tuple[str, ...] = ()  # text that a successful run must not print (e.g. "nan")


@dataclass
class Outcome:
    """What the child reported (or what became of it)."""

    kind: str  # ok | refused | raw | wrong | exit | hung | crashed
    error: str = ""  # exception class (qualified) for refused/raw/wrong
    message: str = ""
    status: int | None = None  # CLI exit status
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    executed: bool = False  # the sentinel file exists
    seconds: float = 0.0
    trace: str = ""

    def summary(self) -> str:
        text = f"{self.kind}"
        if self.error:
            text += f" {self.error}"
        if self.status is not None:
            text += f" exit={self.status}"
        if self.message:
            text += f": {_short(self.message)}"
        if self.stderr and self.kind == "exit":
            text += f" stderr={_short(self.stderr)!r}"
        if self.executed:
            text += " [SENTINEL CREATED]"
        return text + f" ({self.seconds:.2f}s)"


def _short(text: str, limit: int = 300) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... [{len(text)} chars]"


def _current_address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _qualified(err: BaseException) -> str:
    cls = type(err)
    return f"{cls.__module__}.{cls.__qualname__}"


def _in_child(case: Case, tmp: Path, write_fd: int) -> None:
    """The child's whole life: limits, streams, the case, one report, ``os._exit``."""
    report: dict[str, Any] = {}
    try:
        os.setpgid(0, 0)  # its own process group: a hung case's children die with it
        os.chdir(tmp)
        limit = _current_address_space() + MEMORY_LIMIT
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.alarm(int(case.time_limit) + 5)  # backstop; the parent kills first
        out = open(tmp / ".stdout", "w", encoding="utf-8", errors="backslashreplace")
        err = open(tmp / ".stderr", "w", encoding="utf-8", errors="backslashreplace")
        null = open(os.devnull)
        os.dup2(null.fileno(), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin, sys.stdout, sys.stderr = null, out, err
        warnings.resetwarnings()  # a user's defaults, not pytest's "error"
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning):
            warnings.simplefilter("ignore", category)
        try:
            result = case.run(tmp)
            if case.cli:
                report.update(kind="exit", status=int(result))
            else:
                report.update(kind="ok")
        except SystemExit as stop:  # argparse: --help, usage errors
            code = stop.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
            if not isinstance(code, int) and code is not None:
                print(code, file=sys.stderr)
            report.update(kind="exit", status=status)
        except Wrong as bad:
            report.update(kind="wrong", error="Wrong", message=str(bad))
        except Hung as bad:
            report.update(kind="hung", message=str(bad))
        except BaseException as bad:  # noqa: B036 - the judge sorts them
            from symgraph.errors import SymgraphError

            kind = "refused" if isinstance(bad, SymgraphError) else "raw"
            try:
                message = str(bad)
            except BaseException:  # noqa: B036 - str() of a broken exception
                message = "<str() failed>"
            report.update(
                kind=kind,
                error=_qualified(bad),
                message=message[:5000] + ("" if len(message) <= 5000 else "..."),
                message_length=len(message),
                trace="".join(traceback.format_exception(bad))[-3000:],
            )
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    except BaseException as bad:  # noqa: B036 - the harness itself failed
        report = {"kind": "crashed", "message": f"harness: {bad!r}"}
    try:
        data = pickle.dumps(report)
    except Exception as bad:
        data = pickle.dumps({"kind": "crashed", "message": f"unpicklable report: {bad!r}"})
    with contextlib.suppress(Exception):
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
    os._exit(0)


@dataclass
class _Running:
    case: Case
    tmp: tempfile.TemporaryDirectory
    pid: int
    fd: int
    start: float
    chunks: list = field(default_factory=list)


def _start(case: Case) -> _Running:
    tmp = tempfile.TemporaryDirectory(prefix="hostile-")
    path = Path(tmp.name)
    for name, content in case.files.items():
        (path / name).write_bytes(content)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            _in_child(case, path, write_fd)
        finally:
            os._exit(3)
    os.close(write_fd)
    with contextlib.suppress(OSError):  # also here: no race with the child's own call
        os.setpgid(pid, pid)
    return _Running(case, tmp, pid, read_fd, time.monotonic())


def _finish(run: _Running, hung: bool) -> Outcome:
    seconds = time.monotonic() - run.start
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(run.pid, signal.SIGKILL)  # the child's group: itself, and what it started
    _, status = os.waitpid(run.pid, 0)
    os.close(run.fd)
    path = Path(run.tmp.name)
    stdout_path, stderr_path = path / ".stdout", path / ".stderr"
    stdout = stdout_path.read_bytes() if stdout_path.exists() else b""
    stderr = stderr_path.read_bytes() if stderr_path.exists() else b""
    executed = (path / SENTINEL).exists()
    run.tmp.cleanup()
    if hung:
        outcome = Outcome("hung", message=f"killed after {seconds:.1f}s")
    else:
        try:
            report = pickle.loads(b"".join(run.chunks))
        except Exception:
            how = (
                f"signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit {os.WEXITSTATUS(status)}"
            )
            report = {"kind": "crashed", "message": f"child died without a report ({how})"}
        report.pop("message_length", None)
        outcome = Outcome(**report)
    outcome.stdout_bytes = len(stdout)
    outcome.stdout = stdout[-4000:].decode("utf-8", "backslashreplace")
    outcome.stderr = stderr[-4000:].decode("utf-8", "backslashreplace")
    outcome.executed = executed
    outcome.seconds = seconds
    return outcome


def run_cases(
    cases: Iterable[Case], workers: int = 2, progress: Callable | None = None
) -> dict[str, Outcome]:
    """Run every case, ``workers`` children at a time; case id -> outcome."""
    pending = list(cases)[::-1]
    running: dict[int, _Running] = {}
    outcomes: dict[str, Outcome] = {}
    while pending or running:
        while pending and len(running) < workers:
            run = _start(pending.pop())
            running[run.fd] = run
        now = time.monotonic()
        wait = min(r.start + r.case.time_limit for r in running.values()) - now
        ready, _, _ = select.select(list(running), [], [], max(0.0, wait))
        for fd in ready:
            run = running[fd]
            chunk = os.read(fd, 1 << 16)
            if chunk:
                run.chunks.append(chunk)
            else:
                outcomes[run.case.id] = _finish(running.pop(fd), hung=False)
                if progress is not None:
                    progress(run.case, outcomes[run.case.id])
        now = time.monotonic()
        for fd, run in list(running.items()):
            if now - run.start > run.case.time_limit:
                outcomes[run.case.id] = _finish(running.pop(fd), hung=True)
                if progress is not None:
                    progress(run.case, outcomes[run.case.id])
    return outcomes


def run_case(case: Case) -> Outcome:
    """One case on its own."""
    return run_cases([case], workers=1)[case.id]


def _one_line(text: str) -> bool:
    return len(text.strip("\n").splitlines()) == 1


def judge(outcome: Outcome, case: Case | None = None) -> list[str]:
    """What is wrong with an outcome (nothing, for a case that held)."""
    problems = []
    if outcome.executed:
        problems.append("EXECUTED: the sentinel file was created")
    kind = outcome.kind
    if kind == "hung":
        problems.append(f"HUNG: {outcome.message}")
    elif kind == "crashed":
        problems.append(f"CRASHED: {outcome.message}")
    elif kind == "wrong":
        problems.append(f"WRONG: {_short(outcome.message)}")
    elif kind == "raw":
        problems.append(f"RAW {outcome.error}: {_short(outcome.message)}")
    elif kind == "refused":
        if not _one_line(outcome.message):
            problems.append(f"MULTI-LINE refusal: {_short(outcome.message)!r}")
        if len(outcome.message) > MAX_MESSAGE:
            problems.append(f"LONG refusal ({len(outcome.message)} chars)")
    elif kind == "exit":
        allowed = case.allow_exit if case is not None else (0, 2)
        if outcome.status not in allowed:
            problems.append(f"EXIT {outcome.status} (allowed {allowed})")
        if "Traceback" in outcome.stderr or "Traceback" in outcome.stdout:
            problems.append(f"TRACEBACK printed: {_short(outcome.stderr)!r}")
        if outcome.status == 2 or outcome.status not in (0, 1):
            if not _one_line(outcome.stderr):
                problems.append(f"refusal is not one line: {_short(outcome.stderr)!r}")
            elif len(outcome.stderr.strip()) > MAX_MESSAGE:
                problems.append(f"LONG refusal ({len(outcome.stderr)} chars)")
        if outcome.status == 0 and case is not None:
            printed = outcome.stdout.lower()
            lies = [word for word in case.forbid if word.lower() in printed]
            if lies:
                problems.append(f"LIES: exit 0 but prints {', '.join(lies)}")
        if outcome.stdout_bytes > MAX_STDOUT:
            problems.append(f"UNBOUNDED output: {outcome.stdout_bytes} bytes on stdout")
    return problems


def capture_cli(argv: list[str]) -> int:
    """``symgraph.cli.main(argv)`` (in the child: its streams are already files)."""
    from symgraph.cli import main

    return main(argv)


def subprocess_cli(argv: list[str], tmp: Path, timeout: float = 18.0) -> int:
    """``python -m symgraph ...`` as a real process; its output becomes the child's."""
    import subprocess

    try:
        done = subprocess.run(
            [sys.executable, "-m", "symgraph", *argv],
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise Hung(f"python -m symgraph ran past {timeout}s") from None
    sys.stdout.write(done.stdout.decode("utf-8", "backslashreplace"))
    sys.stderr.write(done.stderr.decode("utf-8", "backslashreplace"))
    return done.returncode


__all__ = [
    "Case",
    "Outcome",
    "Wrong",
    "capture_cli",
    "judge",
    "run_case",
    "run_cases",
    "subprocess_cli",
]
