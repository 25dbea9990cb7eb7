// The console's own script: draws the graph (Graphviz as WebAssembly, via viz.js), marks each state
// with its name and status, opens a step's details, and checks JSON before it is sent.
// Everything else (live updates, partial pages) is htmx.
"use strict";

const STATUS_TEXT = {
  "succeeded": ["✓", "Succeeded"], "failed": ["✕", "Failed"], "caught-error": ["!", "Caught error"],
  "running": ["▶", "In progress"], "waiting": ["…", "Waiting for callback"],
  "cancelled": ["⊘", "Cancelled"], "not-run": ["○", "Not run"],
};
const SVG_NS = "http://www.w3.org/2000/svg";
let panZoom = null;

function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : null;
}

async function drawGraph() {
  const canvas = document.querySelector("[data-graph-canvas]");
  const data = readJson("graph-data");
  if (!canvas || !data) return;
  const svg = await laidOut(data.dot, canvas);
  for (const [id, node] of Object.entries(data.nodes)) {
    const element = svg.getElementById(id);
    if (!element) continue;
    element.classList.add("state");
    element.dataset.state = node.name;
    element.dataset.type = node.type;
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
    element.setAttribute("aria-label", `${node.name} (${node.type})`);
  }
  canvas.replaceChildren(svg);
  canvas.dataset.ready = "true";
  svg.addEventListener("click", (event) => {
    const node = event.target.closest("[data-state]");
    if (node) openState(node.dataset.state);
  });
  svg.addEventListener("keydown", (event) => {
    const node = event.target.closest("[data-state]");
    if (node && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); openState(node.dataset.state); }
  });
  panZoom = svgPanZoom(svg, { zoomScaleSensitivity: 0.3, minZoom: 0.1, maxZoom: 10, fit: true, center: true });
  applyStatuses();
}

// How long Graphviz may take over a graph (a page may lower it, as the tests do, by setting
// window.consoleLayoutSeconds before this script runs).
const LAYOUT_SECONDS = () => window.consoleLayoutSeconds || 10;

function layout(dot, seconds) {
  // In a worker, with a deadline if given: Graphviz can take minutes over graphs where many states
  // Catch to one state (long edges across every layer), and the page must stay usable meanwhile.
  return new Promise((resolve, reject) => {
    const worker = new Worker("/console/static/layout-worker.js");
    const timer = seconds === undefined ? null
      : setTimeout(() => { worker.terminate(); reject(new Error("timeout")); }, seconds * 1000);
    worker.onmessage = (event) => {
      clearTimeout(timer);
      worker.terminate();
      if (event.data.error) reject(new Error(event.data.error)); else resolve(event.data.svg);
    };
    worker.postMessage(dot);
  });
}

async function laidOut(dot, canvas) {
  let text;
  try {
    text = await layout(dot, LAYOUT_SECONDS());
  } catch (error) {
    // Without its Catch edges the same graph lays out quickly; say what is missing. This last try
    // has no deadline: on a busy machine even the quick layout can outlast the first one's.
    text = await layout(dot.split("\n").filter((line) => !line.includes('class="catch"')).join("\n"));
    const note = document.createElement("p");
    note.className = "muted graph-note";
    note.textContent = "This graph is drawn without its Catch edges: with them, laying it out took too long. "
      + "Each state's Catch is in the definition below.";
    canvas.before(note);
  }
  return new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
}

function applyStatuses() {
  const statuses = readJson("graph-status");
  const canvas = document.querySelector("[data-graph-canvas]");
  if (!statuses || !canvas) return;
  for (const [id, status] of Object.entries(statuses)) {
    const element = canvas.querySelector(`[id="${CSS.escape(id)}"]`);
    if (!element) continue;
    element.dataset.status = status;
    markNode(element, status);
  }
}

function markNode(element, status) {
  // Colour is never alone: the node also gets an icon and, as its tooltip, the status in words.
  const [icon, words] = STATUS_TEXT[status] || ["?", status];
  let title = element.querySelector(":scope > title");
  if (!title) { title = document.createElementNS(SVG_NS, "title"); element.prepend(title); }
  title.textContent = `${element.dataset.state}: ${words}`;
  let mark = element.querySelector(":scope > text.status-icon");
  const shape = element.querySelector(":scope > polygon, :scope > ellipse, :scope > path");
  if (!mark && shape) {
    const box = shape.getBBox();
    mark = document.createElementNS(SVG_NS, "text");
    mark.setAttribute("class", "status-icon");
    mark.setAttribute("x", String(box.x + box.width - 12));
    mark.setAttribute("y", String(box.y + 13));
    element.append(mark);
  }
  if (mark) { mark.textContent = icon; mark.setAttribute("fill", getComputedStyle(shape).stroke); }
}

function openState(name) {
  const rows = [...document.querySelectorAll("tr.step-row")].filter((row) => row.dataset.step === name);
  const row = rows[rows.length - 1];
  document.querySelectorAll("[data-state].selected").forEach((n) => n.classList.remove("selected"));
  document.querySelectorAll(`[data-graph-canvas] [data-state]`).forEach((node) => {
    if (node.dataset.state === name) node.classList.add("selected");
  });
  if (row) { openStep(row.dataset.stepIndex); return; }
  // Not on this page of the table (or never run): the server finds its latest step.
  const canvas = document.querySelector("[data-steps-url]");
  if (canvas) htmx.ajax("GET", `${canvas.dataset.stepsUrl}?fragment=step&state=${encodeURIComponent(name)}`, "#step-panel");
}

function openStep(index) {
  const canvas = document.querySelector("[data-steps-url]");
  if (!canvas) return;
  document.querySelectorAll("tr.step-row.selected").forEach((row) => row.classList.remove("selected"));
  const row = document.querySelector(`tr.step-row[data-step-index="${CSS.escape(String(index))}"]`);
  if (row) row.classList.add("selected");
  htmx.ajax("GET", `${canvas.dataset.stepsUrl}?fragment=step&step=${encodeURIComponent(index)}`, "#step-panel");
}

function graphTool(action) {
  if (!panZoom) return;
  if (action === "zoom-in") panZoom.zoomIn();
  else if (action === "zoom-out") panZoom.zoomOut();
  else if (action === "fit") { panZoom.resize(); panZoom.fit(); panZoom.center(); }
  else if (action === "export") exportSvg();
}

function exportSvg() {
  const svg = document.querySelector("[data-graph-canvas] svg").cloneNode(true);
  const viewport = svg.querySelector(".svg-pan-zoom_viewport");
  if (viewport) { viewport.removeAttribute("transform"); viewport.removeAttribute("style"); }
  svg.querySelectorAll("[data-status]").forEach((node) => {
    const shape = document.querySelector(`[data-graph-canvas] [id="${CSS.escape(node.id)}"] > polygon, [data-graph-canvas] [id="${CSS.escape(node.id)}"] > ellipse, [data-graph-canvas] [id="${CSS.escape(node.id)}"] > path`);
    const copy = node.querySelector(":scope > polygon, :scope > ellipse, :scope > path");
    if (shape && copy) {
      const style = getComputedStyle(shape);
      copy.setAttribute("fill", style.fill); copy.setAttribute("stroke", style.stroke);
    }
  });
  const blob = new Blob([new XMLSerializer().serializeToString(svg)], { type: "image/svg+xml" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${document.title.split(" · ")[0] || "graph"}.svg`;
  link.click();
  URL.revokeObjectURL(link.href);
}

function checkJson(editor) {
  const message = editor.parentElement.querySelector(".json-error") || editor.form.querySelector(".json-error");
  const button = editor.form.querySelector("button[type=submit]");
  let problem = "";
  try { JSON.parse(editor.value); } catch (error) { problem = `Not valid JSON: ${error.message}`; }
  editor.classList.toggle("invalid", Boolean(problem));
  editor.setAttribute("aria-invalid", problem ? "true" : "false");
  if (message) message.textContent = problem;
  if (button) button.disabled = Boolean(problem);
}

document.addEventListener("input", (event) => {
  if (event.target.matches("[data-json-editor]")) checkJson(event.target);
});

document.addEventListener("click", (event) => {
  const target = event.target;
  const tool = target.closest("[data-graph]");
  if (tool) { graphTool(tool.dataset.graph); return; }
  const step = target.closest("[data-open-step]");
  if (step) { openStep(step.dataset.openStep); return; }
  const show = target.closest("[data-show-state]");
  if (show) { event.preventDefault(); openState(show.dataset.showState); show.closest("main").querySelector("#graph-heading").scrollIntoView(); return; }
  const copy = target.closest("[data-copy], [data-copy-from]");
  if (copy) {
    const text = copy.dataset.copy ?? document.getElementById(copy.dataset.copyFrom).textContent;
    navigator.clipboard.writeText(text).then(() => { copy.textContent = "Copied"; });
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

document.addEventListener("change", (event) => {
  if (event.target.matches("[data-submit-on-change]")) event.target.form.submit();
});

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-json-editor]").forEach(checkJson);
  drawGraph().catch((error) => {
    const canvas = document.querySelector("[data-graph-canvas]");
    if (canvas) canvas.textContent = `The graph could not be drawn: ${error}`;
  });
});

document.addEventListener("htmx:afterSwap", () => {
  applyStatuses();
  document.querySelectorAll("[data-json-editor]").forEach(checkJson);
});
