"""Every Python block in the docs and the README runs (a page's blocks share one namespace)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_blocks_run(page, tmp_path, monkeypatch):
    blocks = BLOCK.findall(page.read_text())
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for k, block in enumerate(blocks):
        code = compile(block, f"{page.name}[block {k}]", "exec")
        exec(code, namespace)  # the project's own documentation, not user input


def test_docs_have_examples():
    assert sum(len(BLOCK.findall(p.read_text())) for p in PAGES) >= 10


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_pictures_exist(page):
    for target in IMAGE.findall(page.read_text()):
        assert (page.parent / target).is_file(), f"{page.name} shows a missing picture {target}"
