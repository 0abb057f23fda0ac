r"""The interactive page's HTML, styles and script: one template, filled by :func:`render_page`.

The script reads the page's data from a ``<script type="application/json">``
element and writes every name and formula as text (``textContent``), never
as markup; it computes with the generated ``symgraphCompute`` only (see
:mod:`symgraph.present.view_js`).  Nothing is fetched: no ``src``, no ``href``
to anywhere, and the SVG namespace is read from the page's own ``<svg>``.

Examples
--------
>>> page = render_page({"title": "∂L/∂w"}, "{}", "const symgraphCompute = null;")
>>> "<title>symgraph: ∂L/∂w</title>" in page
True
"""

from __future__ import annotations

import html
import re

__all__ = ["render_page"]

_MARKER = re.compile(r"@@(TITLE|DATA|PROGRAM)@@")


def render_page(data: dict, data_json: str, program: str) -> str:
    """The page: ``data_json`` (already safe inside ``<script>``) and the checked ``program``.

    The three parts are filled in one pass, so a marker inside a user's name stays text.
    """
    parts = {"TITLE": html.escape(data["title"]), "DATA": data_json, "PROGRAM": program}
    return _MARKER.sub(lambda m: parts[m.group(1)], TEMPLATE)


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
header { padding: 8px 16px; background: #f4f6f8; border-bottom: 1px solid #ddd; }
h1 { font-size: 18px; margin: 4px 0; } h2 { font-size: 15px; margin: 8px 0 4px; }
main { display: flex; gap: 12px; padding: 8px 16px; align-items: flex-start; }
#drawing { flex: 1 1 auto; overflow: auto; border: 1px solid #ddd; max-height: 80vh; }
aside { flex: 0 0 360px; }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
.leaf { display: inline-flex; gap: 4px; align-items: center; }
.leaf input { width: 90px; font: inherit; } .leaf input.bad { background: #fdd; }
pre { white-space: pre-wrap; background: #f8f8f8; padding: 6px; margin: 2px 0; font-size: 13px; }
dt { font-weight: 600; margin-top: 6px; } dd { margin: 0 0 0 8px; word-break: break-word; }
dd.number { white-space: pre-wrap; font-family: monospace; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; border-bottom: 1px solid #eee; }
.note { color: #555; } .ok { color: #1a7f37; } .bad-text { color: #c0392b; }
.node rect { stroke: #555; stroke-width: 1; cursor: pointer; }
.node text { font-size: 12px; pointer-events: none; }
.role-weight rect { fill: #fde2b8; } .role-input rect, .role-constant rect { fill: #d7e8fb; }
.role-output rect { fill: #d5f0d5; } .role-intermediate rect { fill: #fff; }
.node.done rect { stroke: #1a7f37; stroke-width: 2; }
.node.current rect { stroke: #c0392b; stroke-width: 3; }
.node.selected rect { stroke-dasharray: 4 2; stroke-width: 2.5; }
.edge { stroke: #888; stroke-width: 1.2; fill: none; }
.edge-label { font-size: 10px; fill: #666; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("symgraph-data").textContent);
  const compute = typeof symgraphCompute === "function" ? symgraphCompute : null;
  const $ = (id) => document.getElementById(id);
  const special = { NaN: NaN, inf: Infinity, "-inf": -Infinity };
  const num = (v) => (v === null || v === undefined ? null
    : typeof v === "string" && v in special ? special[v] : v);

  function g6(v) { // Python's "%.6g"
    if (v === null) return "—";
    if (typeof v === "boolean") return String(v);
    if (typeof v !== "number") return typeof v === "object" ? v.text : String(v);
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
    if (v === 0) return "0";
    const parts = v.toExponential(5).split("e");
    const x = parseInt(parts[1], 10);
    const trim = (s) => (s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s);
    if (x < -4 || x >= 6) {
      return trim(parts[0]) + "e" + (x < 0 ? "-" : "+") + String(Math.abs(x)).padStart(2, "0");
    }
    return trim(v.toFixed(Math.max(0, 5 - x)));
  }
  const full = (v) => (v === null ? "—" : typeof v === "object" ? v.full : String(v));

  const state = {
    value: D.nodes.map((n) => num(n.value)),
    delta: D.nodes.map((n) => num(n.delta)),
    partial: D.edges.map((e) => num(e.value)),
  };
  let selected = null, step = -1;

  // --- the drawing ---
  const svg = $("graph");
  const NS = svg.namespaceURI;
  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  }
  svg.setAttribute("viewBox", "0 0 " + D.width + " " + D.height);
  svg.setAttribute("width", D.width);
  svg.setAttribute("height", D.height);
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5",
    markerWidth: "7", markerHeight: "7", orient: "auto" }, el("defs", {}, svg));
  el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#888" }, marker);
  const H = 40, showLabels = D.edges.length <= 80;
  D.edges.forEach((e, i) => {
    const a = D.nodes[e.from], b = D.nodes[e.to];
    const x1 = a.x, y1 = a.y + H / 2, x2 = b.x, y2 = b.y - H / 2;
    // an edge over several rows bows out sideways, around the boxes between
    const bow = b.y - a.y > 100 ? (x1 > x2 ? 1 : -1) * Math.min(90, (b.y - a.y) / 3) : 0;
    const line = el("path", { class: "edge", d: "M" + x1 + "," + y1 + " Q" +
      ((x1 + x2) / 2 + bow) + "," + ((y1 + y2) / 2) + " " + x2 + "," + y2,
      "marker-end": "url(#arrow)", "data-edge": i }, svg);
    el("title", {}, line, "∂" + b.name + "/∂" + a.name + " = " + e.partial);
    if (showLabels && e.partial !== "1") {
      const text = e.partial.length > 22 ? e.partial.slice(0, 21) + "…" : e.partial;
      const at = { x: (x1 + x2) / 2 + bow / 2 + 4, y: (y1 + y2) / 2 };
      el("text", { class: "edge-label", x: at.x, y: at.y }, svg, text);
    }
  });
  const boxes = D.nodes.map((n, k) => {
    const g = el("g", { class: "node role-" + n.role, "data-node": k }, svg);
    el("rect", { x: n.x - n.w / 2, y: n.y - H / 2, width: n.w, height: H, rx: n.op ? 12 : 2 }, g);
    el("title", {}, g, n.op ? n.name + " = " + n.op : n.name + " (" + n.role + ")");
    el("text", { x: n.x, y: n.y - 4, "text-anchor": "middle" }, g, n.label);
    const numbers = el("text", { x: n.x, y: n.y + 13, "text-anchor": "middle" }, g, "");
    g.addEventListener("click", () => select(k));
    return { g: g, numbers: numbers };
  });

  // --- the panel ---
  function stepText(k) {
    const n = D.nodes[k];
    if (n.equation === null) return "backpropagation does not visit " + n.name +
      ": it is on no path from a weight to the output";
    const lines = [n.equation];
    if (!D.matrices && n.terms.length) {
      lines.push("= " + n.terms.map(([c, e]) =>
        g6(state.delta[c]) + " · " + g6(state.partial[e])).join(" + "));
    }
    if (state.delta[k] !== null) lines.push("= " + g6(state.delta[k]));
    return lines.join("\n");
  }
  function showPanel() {
    if (selected === null) return;
    const n = D.nodes[selected];
    $("detail-name").textContent = n.name;
    $("detail-role").textContent = n.role + (n.shape ? ", " + n.shape : "");
    $("detail-op").textContent = n.op === null ? "(a leaf)" : n.name + " = " + n.op;
    $("detail-expr").textContent = n.op === null ? "—" : n.expr === null ? "(too large to show)"
      : n.expr;
    $("detail-value").textContent = full(state.value[selected]);
    $("detail-delta").textContent = full(state.delta[selected]);
    $("detail-step").textContent = stepText(selected);
  }
  function select(k) {
    selected = k;
    boxes.forEach((b, i) => b.g.classList.toggle("selected", i === k));
    showPanel();
  }

  // --- numbers on the drawing and in the table ---
  function refresh() {
    boxes.forEach((b, k) => {
      const parts = [];
      if (state.value[k] !== null) parts.push("= " + g6(state.value[k]));
      if (state.delta[k] !== null) parts.push("δ " + g6(state.delta[k]));
      b.numbers.textContent = parts.join("   ");
    });
    const table = $("grad-table");
    table.textContent = "";
    const head = table.insertRow();
    ["", "in the page", "compiled gradient at the given point"].forEach((t) => {
      head.appendChild(document.createElement("th")).textContent = t;
    });
    D.weights.forEach((k, i) => {
      const row = table.insertRow();
      row.insertCell().textContent = "d" + D.nodes[D.output].name + "/d" + D.nodes[k].name;
      const cell = row.insertCell();
      cell.textContent = g6(state.delta[k]);
      cell.title = full(state.delta[k]);
      cell.className = "page-gradient";
      row.insertCell().textContent = D.compiled.length ? g6(num(D.compiled[i])) : "—";
    });
    showPanel();
  }

  // --- the point ---
  const inputs = [];
  D.leaves.forEach((k) => {
    const n = D.nodes[k];
    const label = $("inputs").appendChild(document.createElement("label"));
    label.className = "leaf";
    label.appendChild(document.createElement("span")).textContent = n.name;
    const input = label.appendChild(document.createElement("input"));
    input.dataset.leaf = n.name;
    input.value = full(D.point === null ? null : num(D.point[n.name]));
    input.disabled = !compute;
    input.addEventListener("input", recompute);
    inputs.push(input);
  });
  function status(text, cls) {
    const s = $("status");
    s.textContent = text;
    s.className = cls || "note";
  }
  function read() {
    const a = [];
    for (const input of inputs) {
      const text = input.value.trim();
      const v = Number(text);
      const bad = text === "" || (Number.isNaN(v) && text !== "NaN");
      input.classList.toggle("bad", bad);
      if (bad) { status(input.dataset.leaf + ": not a number", "bad-text"); return null; }
      a.push(v);
    }
    return a;
  }
  function recompute() {
    const a = read();
    if (a === null) return;
    const r = compute(a);
    state.value = r.value; state.delta = r.delta; state.partial = r.partial;
    refresh();
    status("Recomputed in the page at the point above.");
  }
  function agreement() { // the page's arithmetic against the compiled gradient, at the given point
    const a = read();
    if (a === null || !D.compiled.length) return null;
    const r = compute(a);
    let worst = 0;
    D.weights.forEach((k, i) => {
      const x = r.delta[k], y = num(D.compiled[i]);
      if (Number.isNaN(x) && Number.isNaN(y)) return;
      const d = x === y ? 0 : Math.abs(x - y) / Math.max(1, Math.abs(y));
      worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
    });
    return worst;
  }

  // --- the backward pass, one node at a time ---
  function setStep(s) {
    step = Math.max(-1, Math.min(s, D.backward.length - 1));
    const done = new Set(D.backward.slice(0, step));
    const current = step >= 0 ? D.backward[step] : null;
    boxes.forEach((b, k) => {
      b.g.classList.toggle("done", done.has(k));
      b.g.classList.toggle("current", k === current);
    });
    $("prev").disabled = step <= 0;
    $("next").disabled = step >= D.backward.length - 1;
    $("step-label").textContent = current === null
      ? "Backward pass: " + D.backward.length + " δ-equations, output first. Press Next."
      : "step " + (step + 1) + " of " + D.backward.length + ": δ_" + D.nodes[current].name;
    if (current !== null) select(current);
  }
  $("next").addEventListener("click", () => setStep(step + 1));
  $("prev").addEventListener("click", () => setStep(step - 1));
  $("reset").addEventListener("click", () => setStep(-1));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    if (e.key === "ArrowRight") setStep(step + 1);
    if (e.key === "ArrowLeft") setStep(step - 1);
  });

  $("title").textContent = "symgraph: " + D.title;
  const notes = [D.note, compute ? null : (D.why_not_editable || "") +
    (D.matrices ? "" : "; the numbers are those at the given point.")].filter(Boolean);
  $("note").textContent = notes.join(" ");
  refresh();
  setStep(-1);
  select(D.output);
  if (compute) {
    const worst = agreement();
    if (worst === null) status("Edit a leaf's value: the page recomputes every number.");
    else if (worst <= 1e-9) status("The page's arithmetic agrees with the compiled gradient at " +
      "this point (largest relative difference " + g6(worst) + "). Edit a value to recompute.",
      "ok");
    else status("The page's arithmetic differs from the compiled gradient by " + g6(worst) +
      " here: trust the compiled gradient.", "bad-text");
  }
})();
"""

TEMPLATE = (
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>symgraph: @@TITLE@@</title>
<style>"""
    + STYLE
    + """</style>
</head>
<body>
<header>
<h1 id="title"></h1>
<p id="note" class="note"></p>
<div class="controls" id="inputs"></div>
<p id="status" class="note"></p>
<div class="controls">
<button id="prev" type="button">Previous</button>
<button id="next" type="button">Next</button>
<button id="reset" type="button">Reset</button>
<span id="step-label"></span>
</div>
</header>
<main>
<div id="drawing"><svg id="graph" role="img" aria-label="the computational graph"></svg></div>
<aside>
<h2 id="detail-name"></h2>
<p id="detail-role" class="note"></p>
<dl>
<dt>operation</dt><dd id="detail-op"></dd>
<dt>in the leaves</dt><dd id="detail-expr"></dd>
<dt>value</dt><dd id="detail-value" class="number"></dd>
<dt>δ (the output's derivative by this node)</dt><dd id="detail-delta" class="number"></dd>
<dt>chain-rule step</dt><dd><pre id="detail-step"></pre></dd>
</dl>
<h2>Gradient</h2>
<table id="grad-table"></table>
</aside>
</main>
<script type="application/json" id="symgraph-data">@@DATA@@</script>
<script>
@@PROGRAM@@
</script>
<script>"""
    + SCRIPT
    + """</script>
</body>
</html>
"""
)
