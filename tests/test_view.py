"""The interactive page: self-contained, escaped, and its numbers the compiled gradient's.

The unit tests read the page's text; the browser tests load it in headless
Chromium (Debian's ``chromium``, driven by Playwright's Python package) from a
file, with the network off, click, edit and step through it.
"""

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symgraph as sg
from symgraph.cli import main
from symgraph.errors import SymgraphError
from symgraph.present.view_js import check_js, js_program

w, x, b, y = sp.symbols("w x b y", real=True)
LOSS = (sp.tanh(w * x + b) - y) ** 2
POINT = {"w": 1.0, "x": 0.5, "b": 0.1, "y": 0.2}
HOSTILE = "</script><script>alert(1)</script>"
CHROMIUM = "/usr/bin/chromium"
DOCS_PICTURE = Path(__file__).resolve().parent.parent / "docs" / "img" / "view.png"


@pytest.fixture(scope="module")
def grad():
    return sg.gradient(LOSS, wrt=[w, b])


def embedded(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="symgraph-data">(.*?)</script>', page)
    return json.loads(match.group(1))


def matrix_gradient():
    W, X, Y = sp.MatrixSymbol("W", 2, 3), sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
    Z, A, L = sp.MatrixSymbol("Z", 2, 1), sp.MatrixSymbol("A", 2, 1), sp.Symbol("L")
    steps = [(Z, W * X), (A, Z.applyfunc(sp.tanh)), (L, sp.Trace((A - Y).T * (A - Y)))]
    graph = sg.Graph.from_assignments(steps, wrt=[W], granularity="named")
    point = {"W": np.arange(6.0).reshape(2, 3) / 10, "x": np.ones((3, 1)), "y": np.zeros((2, 1))}
    return graph.backward(), point


class TestPage:
    def test_self_contained(self, grad):
        page = sg.view(grad, at=POINT).html
        assert "http://" not in page and "https://" not in page
        for link in re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page):
            assert not re.match(r"[a-z]+:", link), link  # nothing from anywhere
        assert "<link" not in page and "@import" not in page and "fetch(" not in page
        assert page.count("<script") == 3  # the data, the program, the page's script

    def test_embedded_json_is_valid_and_complete(self, grad):
        data = embedded(sg.view(grad, at=POINT).html)
        assert [n["name"] for n in data["nodes"]] == [
            n.name for n in grad.graph.topological_order()
        ]
        assert len(data["edges"]) == grad.graph.nx.number_of_edges()
        assert len(data["backward"]) == len(grad.equations)
        assert data["editable"] is True and data["point"] == POINT

    def test_numbers_are_the_compiled_gradients(self, grad):
        data = sg.view(grad, at=POINT).data
        _, partials = grad.lambdify()(**POINT)
        for k, partial in zip(data["weights"], partials, strict=True):
            assert data["nodes"][k]["delta"] == pytest.approx(float(partial), rel=1e-12)
        # the NumPy path's numbers (no math version compiled for one look): the last bits may
        # differ from a call on floats, as math.tanh and NumPy's tanh may
        assert data["compiled"] == pytest.approx([float(p) for p in partials], rel=1e-12)
        _, on_arrays = grad.lambdify()(**{k: np.asarray(v) for k, v in POINT.items()})
        assert data["compiled"] == [float(p) for p in on_arrays]

    def test_the_chain_rule_step_is_the_walkthroughs(self, grad):
        data = sg.view(grad, at=POINT).data
        walk = sg.explain(grad, w)
        by_name = {n["name"]: n for n in data["nodes"]}
        assert by_name["w"]["equation"] == walk.text().splitlines()[-1].strip()
        assert by_name["L"]["equation"] == "δ_L = 1"

    def test_hostile_names_are_text_never_markup(self):
        evil = sp.Symbol(HOSTILE, real=True)
        page = sg.view(sg.gradient(sp.sin(evil * x), wrt=[evil])).html
        assert HOSTILE not in page and "<script>alert" not in page
        assert page.count("</script>") == 3
        data = embedded(page)
        assert data["nodes"][0]["name"] == HOSTILE or HOSTILE in {n["name"] for n in data["nodes"]}
        program = page.split("<script>\n", 1)[1].split("</script>", 1)[0]
        assert "alert" not in program
        frame = sg.view(sg.gradient(sp.sin(evil * x), wrt=[evil]))._repr_html_()
        assert frame.startswith("<iframe srcdoc=") and "<script" not in frame

    def test_a_marker_in_a_name_stays_text(self):
        odd = sp.Symbol("@@PROGRAM@@", real=True)
        page = sg.view(sg.gradient(odd * x, wrt=[odd])).html
        assert embedded(page)["nodes"][0]["name"] in {"@@PROGRAM@@", "x"}

    def test_no_point_gives_every_leaf_a_half(self, grad):
        data = sg.view(grad).data
        assert data["point"] == {"b": 0.5, "w": 0.5, "x": 0.5, "y": 0.5}
        assert "0.5" in data["note"]

    def test_matrix_page_shows_structure_and_pythons_numbers(self):
        grad, point = matrix_gradient()
        page = sg.view(grad, at=point)
        data = page.data
        assert data["editable"] is False and "matrix" in data["why_not_editable"]
        _, (dW,) = grad.lambdify()(**point)
        by_name = {n["name"]: n for n in data["nodes"]}
        assert by_name["W"]["delta"]["text"] == sg.present.numbers.format_value(dW)
        assert "δ_Z*xᵀ" in by_name["W"]["equation"]
        assert "structure" in sg.view(grad).data["note"]

    def test_a_function_without_javascript_is_not_editable(self):
        reason = js_program(sg.gradient(sp.erf(w * x), wrt=[w]))
        assert isinstance(reason, str) and "erf" in reason
        assert sg.view(sg.gradient(sp.erf(w * x), wrt=[w])).data["editable"] is False

    def test_generated_javascript_is_checked(self):
        check_js("const n1 = Math.sin(n0) + 1.5e-3;")
        for bad in ("alert(1)", "const n1 = window.x;", 'const n1 = "x";', "n0`"):
            with pytest.raises(SymgraphError):
                check_js(bad)

    def test_a_long_chain_is_linear_and_not_recursive(self):
        depth = 1000
        steps, previous = [], x
        for k in range(1, depth + 1):
            a, wk = sp.Symbol(f"a{k}", real=True), sp.Symbol(f"w{k}", real=True)
            steps.append((a, sp.tanh(wk * previous)))
            previous = a
        steps.append((sp.Symbol("L", real=True), (previous - y) ** 2))
        grad = sg.Graph.from_assignments(steps, granularity="named").backward()
        start = time.perf_counter()
        data = sg.view(grad).data
        assert len(data["nodes"]) == 2 * depth + 3 and len(data["backward"]) == len(grad.equations)
        assert time.perf_counter() - start < 60

    def test_save(self, grad, tmp_path):
        target = sg.view(grad, tmp_path / "page.html", at=POINT)
        assert (tmp_path / "page.html").read_text(encoding="utf-8") == target.html
        with pytest.raises(SymgraphError, match="cannot write"):
            target.save(tmp_path / "missing" / "page.html")


class TestCommandLine:
    def test_writes_the_page(self, tmp_path, capsys):
        out = tmp_path / "page.html"
        status = main(["view", str(LOSS), "--wrt", "w", "b", "--at", "w=1,x=0.5,b=0.1,y=0.2",
                       "-o", str(out)])  # fmt: skip
        assert status == 0 and "wrote" in capsys.readouterr().out
        assert embedded(out.read_text())["point"] == POINT

    def test_matrices(self, tmp_path):
        out = tmp_path / "m.html"
        assert (
            main(["view", "trace(W*x*x.T*W.T)", "--matrix", "W=2x3", "x=3x1", "-o", str(out)]) == 0
        )
        assert embedded(out.read_text())["matrices"] is True

    @pytest.mark.parametrize(
        "argv",
        [
            ["view", "w*", "-o", "p.html"],
            ["view", "w*x", "--at", "w=1", "-o", "p.html"],
            ["view", "w*x", "-o", "/nonexistent/p.html"],
            ["view", "w*x"],
        ],
    )
    def test_bad_input_is_one_line_and_status_2(self, argv, tmp_path, capsys, monkeypatch):
        monkeypatch.chdir(tmp_path)
        with pytest.raises(SystemExit) if "-o" not in argv else _no_exit():
            assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("symgraph")

    def test_help_has_an_example(self, capsys):
        with pytest.raises(SystemExit):
            main(["view", "--help"])
        assert "examples:\n  symgraph view " in capsys.readouterr().out


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --- in a browser ---


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium with a new, empty profile; offline; every http(s) request refused."""
    missing = []
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        missing.append("Debian's chromium (apt-get install chromium; scripts/setup-system.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"not installed in CI: {' and '.join(missing)}")
        pytest.skip(f"no browser test without {' and '.join(missing)}")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            viewport={"width": 1200, "height": 720},
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )  # fmt: skip
        context.set_offline(True)
        requested: list[str] = []

        def refuse(route):
            requested.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^https?://"), refuse)
        context.requested = requested
        yield context
        context.close()


def open_page(context, path: Path):
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.on(
        "dialog", lambda dialog: (problems.append("dialog " + dialog.message), dialog.dismiss())
    )
    page.goto(path.as_uri())
    page.problems = problems
    return page


def node(page, data, name):
    k = [n["name"] for n in data["nodes"]].index(name)
    return page.locator(f'g[data-node="{k}"]')


def test_in_a_browser(browser, grad, tmp_path):
    path = tmp_path / "page.html"
    data = sg.view(grad, path, at=POINT).data
    page = open_page(browser, path)
    assert "agrees with the compiled gradient" in page.inner_text("#status")
    f = grad.lambdify()

    # click a node: its δ is the compiled gradient's
    _, (dw, db) = f(**POINT)
    node(page, data, "w").click()
    assert float(page.inner_text("#detail-delta")) == pytest.approx(float(dw), rel=1e-9, abs=1e-12)
    assert page.inner_text("#detail-name") == "w"
    step = page.inner_text("#detail-step")
    assert step.startswith("δ_w = δ_v2·∂v2/∂w") and step.splitlines()[-1] == f"= {float(dw):.6g}"

    # edit a leaf: every number recomputed in the page, as the compiled gradient has them
    page.fill('input[data-leaf="x"]', "-1.25")
    page.fill('input[data-leaf="b"]', "0.75")
    moved = {**POINT, "x": -1.25, "b": 0.75}
    value, (dw, db) = f(**moved)
    assert "Recomputed" in page.inner_text("#status")
    node(page, data, "w").click()
    assert float(page.inner_text("#detail-delta")) == pytest.approx(float(dw), rel=1e-9, abs=1e-12)
    node(page, data, "b").click()
    assert float(page.inner_text("#detail-delta")) == pytest.approx(float(db), rel=1e-9, abs=1e-12)
    node(page, data, "L").click()
    assert float(page.inner_text("#detail-value")) == pytest.approx(float(value), rel=1e-9)
    page.fill('input[data-leaf="x"]', "not a number")
    assert "x: not a number" in page.inner_text("#status")
    page.fill('input[data-leaf="x"]', "-1.25")

    # step through the backward pass: the output first, reverse topological order
    order = data["backward"]
    for i, k in enumerate(order):
        page.click("#next")
        current = page.locator("g.node.current")
        assert current.count() == 1 and current.get_attribute("data-node") == str(k)
        assert page.locator("g.node.done").count() == i
        assert page.inner_text("#detail-name") == data["nodes"][k]["name"]
    assert page.locator("#next").is_disabled()
    page.click("#prev")
    assert page.locator("g.node.current").get_attribute("data-node") == str(order[-2])

    page.screenshot(path=str(tmp_path / "view.png"))
    assert (tmp_path / "view.png").stat().st_size > 10_000
    if not DOCS_PICTURE.exists() or os.environ.get("SYMGRAPH_PICTURES"):
        page.reload()  # at the given point, where the table's two columns agree
        for _ in range(4):
            page.click("#next")
        page.screenshot(path=str(DOCS_PICTURE))  # the docs' picture (docs/view.md)
    assert page.problems == [] and browser.requested == []


def test_matrix_page_in_a_browser(browser, tmp_path):
    grad, point = matrix_gradient()
    path = tmp_path / "m.html"
    data = sg.view(grad, path, at=point).data
    page = open_page(browser, path)
    node(page, data, "W").click()
    assert (
        page.inner_text("#detail-delta")
        == [n for n in data["nodes"] if n["name"] == "W"][0]["delta"]["full"]
    )
    assert page.locator('input[data-leaf="W"]').is_disabled()
    assert "matrix graphs are not recomputed" in page.inner_text("#note")
    assert page.problems == [] and browser.requested == []


def test_hostile_page_in_a_browser(browser, tmp_path):
    evil = sp.Symbol(HOSTILE, real=True)
    path = tmp_path / "evil.html"
    sg.view(sg.gradient(sp.sin(evil * x), wrt=[evil]), path)
    page = open_page(browser, path)
    assert HOSTILE in page.inner_text("#title")  # shown as text; no alert ran
    assert page.problems == [] and browser.requested == []
