"""The docs site: every page is in the nav, and `mkdocs build --strict` builds a site that
works offline (MathJax copied in by scripts/docs_hooks.py, no script or stylesheet from the
network) with an API reference covering every public name."""

import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import symgraph as sg

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"


def nav_pages() -> list[str]:
    """The .md files named in mkdocs.yml's nav (the block under `nav:`, up to the next key)."""
    block = re.search(r"^nav:\n((?:[ \t]+.*\n|\n)*)", MKDOCS_YML.read_text(), re.MULTILINE)
    assert block, "mkdocs.yml has no nav"
    return re.findall(r"([\w./-]+\.md)\s*$", block.group(1), re.MULTILINE)


class TestNav:
    def test_every_page_is_in_the_nav(self):
        missing = sorted({p.name for p in DOCS.glob("*.md")} - set(nav_pages()))
        assert not missing, f"docs pages missing from mkdocs.yml's nav: {missing}"

    def test_every_nav_entry_is_a_page(self):
        absent = [page for page in nav_pages() if not (DOCS / page).is_file()]
        assert not absent, f"mkdocs.yml's nav names pages that do not exist: {absent}"

    def test_no_page_twice(self):
        pages = nav_pages()
        assert len(pages) == len(set(pages))

    def test_no_script_under_docs(self):
        # mkdocs publishes every file under docs/ as it is: tools live in scripts/
        scripts = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.py")]
        assert not scripts, f"scripts under docs/ that the site would publish: {scripts}"


class _Assets(HTMLParser):
    """The scripts and linked files (stylesheets, fonts, preloads) of one HTML page."""

    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.links: list[str] = []
        self.classes: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.classes.update((attrs.get("class") or "").split())
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            rel = set((attrs.get("rel") or "").split())
            if rel - {"canonical", "alternate", "prev", "next"}:  # what the page loads
                self.links.append(attrs["href"])


REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'); the site is not built")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # mkdocs-material's banner, not a defect
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def parsed(page: Path) -> _Assets:
    assets = _Assets()
    assets.feed(page.read_text(encoding="utf-8"))
    return assets


class TestBuild:
    def test_every_page_is_built(self, site):
        for page in nav_pages():
            stem = Path(page).stem
            built = site / "index.html" if stem == "index" else site / stem / "index.html"
            assert built.is_file(), f"{page} was not built"

    def test_nothing_loads_from_the_network(self, site):
        pages = sorted(site.rglob("*.html"))
        assert pages
        for page in pages:
            assets = parsed(page)
            remote = [u for u in assets.scripts + assets.links if REMOTE.match(u)]
            assert not remote, f"{page.relative_to(site)} loads {remote}"

    def test_math_renders_with_the_bundled_mathjax(self, site):
        mathjax = site / "assets" / "mathjax"
        assert (mathjax / "tex-chtml.js").stat().st_size > 100_000
        assert "arithmatex" in (mathjax / "config.js").read_text()
        assert list((mathjax / "output" / "chtml" / "fonts").rglob("*.woff")), "no MathJax fonts"
        assert (mathjax / "LICENSE").is_file()
        page = parsed(site / "nn" / "index.html")  # nn.md has a displayed formula
        assert "arithmatex" in page.classes
        loaded = [Path(src).name for src in page.scripts]
        assert loaded.index("config.js") < loaded.index("tex-chtml.js")
        assert all(src.startswith("../assets/") for src in page.scripts)

    def test_no_script_is_published(self, site):
        assert not list(site.rglob("*.py"))

    def test_api_reference_covers_the_public_names(self, site):
        ids = set(re.findall(r'id="(symgraph\.[\w.]+)"', (site / "api" / "index.html").read_text()))
        modules = {"nn", "layers"}
        undocumented = [
            name
            for name in sg.__all__
            if name not in modules and not any(i.endswith(f".{name}") for i in ids)
        ]
        assert not undocumented, f"public names missing from docs/api.md: {undocumented}"
        for module in modules:
            assert any(i.startswith(f"symgraph.{module}.") for i in ids), module
