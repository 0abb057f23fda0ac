"""Every script in examples/ runs, prints its results and stays quiet on stderr.

One test per file (ids are the file names), so adding an example adds a test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TIMEOUT = 300  # seconds; the slowest example (deep_chain.py) takes about 15


def test_examples_found():
    assert SCRIPTS, f"no examples found in {EXAMPLES}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # files an example writes land here, not in the checkout
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{script.name} exited {result.returncode}:\n{result.stderr}"
    assert result.stdout.strip(), f"{script.name} printed nothing"
    for word in ("Traceback", "Warning"):
        message = f"{script.name} wrote {word!r} to stderr:\n{result.stderr}"
        assert word not in result.stderr, message
