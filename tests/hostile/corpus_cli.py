"""The command-line corpus: argv cases from ``cli_cases.json``, and every code payload
of ``payloads.json`` through every place the command line reads text."""

from __future__ import annotations

import json
import random
from functools import partial
from pathlib import Path

from .harness import Case, capture_cli, subprocess_cli

HERE = Path(__file__).resolve().parent
PAYLOADS = json.loads((HERE / "payloads.json").read_text())
CODE = PAYLOADS["code"]
# A cross-section of the disguises, for the entry points where one of each kind suffices:
# import, open, dunder chain, lambda, f-string, exec, getattr, look-alike, statement, breakout.
CORE = [CODE[i] for i in (0, 2, 8, 12, 14, 16, 19, 22, 27, 50)]


def expand(spec) -> str:
    """A string of ``cli_cases.json``: written out, or a recipe for a long one."""
    if isinstance(spec, str):
        return spec
    if "repeat" in spec:
        return spec.get("prefix", "") + spec["repeat"] * spec["times"] + spec.get("suffix", "")
    if "join" in spec:
        body = spec["join"].join(spec["format"].format(i=i) for i in range(spec["n"]))
        return spec.get("prefix", "") + body + spec.get("suffix", "")
    if "nest" in spec:
        body = spec["nest"] * spec["times"] + spec["core"] + spec["close"] * spec["times"]
        return spec.get("prefix", "") + body + spec.get("suffix", "")
    raise ValueError(f"unknown string recipe {spec}")


def file_bytes(spec) -> bytes:
    """The content of a file of ``cli_cases.json``."""
    if isinstance(spec, str):
        return spec.encode()
    if "text" in spec:
        return spec["text"].encode(spec.get("encoding", "utf-8"))
    if "random" in spec:  # seeded: the same bytes every run
        return random.Random(9).randbytes(spec["random"]) + spec.get("then", "").encode()
    if "chain" in spec:  # z1 = w*x, z2 = sin(z1) + w, ...
        lines = ["z0 = w*x"] + [f"z{i} = sin(z{i - 1}) + w" for i in range(1, spec["chain"])]
        return ("\n".join(lines) + f"\nL = z{spec['chain'] - 1}\n").encode()
    if "shared" in spec:  # each line uses the one before twice: 2**n terms when expanded
        lines = ["z0 = w*x + 1"] + [
            f"z{i} = z{i - 1}*(z{i - 1} + 1)" for i in range(1, spec["shared"])
        ]
        return ("\n".join(lines) + f"\nL = z{spec['shared'] - 1}\n").encode()
    return expand(spec).encode() + spec.get("then", "").encode()


def _run(argv: list[str], sub: bool, tmp: Path) -> int:
    return subprocess_cli(argv, tmp) if sub else capture_cli(argv)


def cli_case(
    id: str, argv: list, files: dict | None = None, sub: bool = False, allow=(0, 2), forbid=()
):
    args = [expand(a) for a in argv]
    content = {name: file_bytes(spec) for name, spec in (files or {}).items()}
    dirs = {name for name in content if "/" in name}
    if dirs:  # "sub.dot/keep": a directory where the output file should go
        content = {n: c for n, c in content.items() if n not in dirs}
        run = partial(_with_dirs, sorted(dirs), args, sub)
    else:
        run = partial(_run, args, sub)
    return Case(id, "cli", run, content, cli=True, allow_exit=tuple(allow), forbid=tuple(forbid))


def _with_dirs(dirs: list[str], argv: list[str], sub: bool, tmp: Path) -> int:
    for name in dirs:
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
    return _run(argv, sub, tmp)


def data_cases() -> list[Case]:
    """The written-out argv cases: options, files, points, declarations, bombs."""
    data = json.loads((HERE / "cli_cases.json").read_text())
    cases = []
    for group, prefix in (("cases", "cli"), ("bombs", "bomb")):
        for c in data[group]:
            cases.append(
                cli_case(
                    f"{prefix}:{c['id']}",
                    c["argv"],
                    c.get("files"),
                    c.get("subprocess", False),
                    c.get("allow", (0, 2)),
                    c.get("forbid", ()),
                )
            )
    return cases


def _file(text: str) -> dict:
    return {"m.txt": text.encode("utf-8", "surrogatepass")}


#: Where the command line reads text, as (name, payloads, argv maker, files maker).
ENTRIES = [
    ("expr", CODE, lambda p: ["grad", p], None),
    ("expr-check", CORE[:6], lambda p: ["grad", f"w*x + {p}", "--check"], None),
    ("wrt", CORE, lambda p: ["grad", "w*x", "--wrt", p], None),
    ("at-value", CORE, lambda p: ["explain", "w*x", "--wrt", "w", "--at", f"x={p},w=1"], None),
    ("at-name", CORE[:6],
     lambda p: ["explain", "w*x", "--wrt", "w", "--at", f"{p}=1,x=1,w=1"], None),
    ("matrix-name", CORE, lambda p: ["grad", "trace(W)", "--matrix", f"{p}=2x2"], None),
    ("matrix-size", CORE[:6], lambda p: ["grad", "trace(W)", "--matrix", f"W={p}x2"], None),
    ("matrix-at", CORE,
     lambda p: ["explain", "trace(W)", "--matrix", "W=1x1", "--wrt", "W", "--at", f"W=[[{p}]]"],
     None),
    ("highlight", CORE[:6], lambda p: ["draw", "w*x", "-o", "g.dot", "--highlight", p], None),
    ("output", CORE[:6], lambda p: ["draw", "w*x", "-o", p + ".dot"], None),
    ("file-rhs", CORE, lambda p: ["grad", "--file", "m.txt"],
     lambda p: _file(f"z = w*x\nL = {p}\n")),
    ("file-lhs", CORE, lambda p: ["grad", "--file", "m.txt"], lambda p: _file(f"{p} = w*x\n")),
]  # fmt: skip


def payload_cases() -> list[Case]:
    """Every payload through every entry point: none may create the sentinel."""
    cases = []
    for entry, payloads, argv, files in ENTRIES:
        for i, payload in enumerate(payloads):
            content = files(payload) if files else None
            case = Case(f"inject-cli:{entry}:{i}", "cli-inject",
                        partial(_run, argv(payload), False), content or {}, cli=True)  # fmt: skip
            cases.append(case)
    return cases


def cases() -> list[Case]:
    return data_cases() + payload_cases()
