// The workflow studio's page: one definition, three views of it kept in step (the graph, the
// code and the form of the selected state), a palette, live validation, undo and redo, Save, Run
// and Test state.
//
// Every change goes through commit(): it records the old definition for Undo, keeps the new one
// and re-draws the views that did not make the change. The server checks each version of the code
// (POST /studio/check, debounced): the engine's validator finds the problems, and the answer also
// carries the graph as Graphviz DOT, drawn here with viz.js as the console's other pages draw it.
"use strict";

const Studio = (() => {
  const M = StudioModel;
  const CHECK_DELAY = 250;  // ms after the last change before the server checks it
  const CODE_DELAY = 300;  // ms after the last keystroke in the code before it becomes the definition
  const HISTORY_LIMIT = 200;
  const SVG_NS = "http://www.w3.org/2000/svg";

  const page = {
    config: null,
    definition: null,
    selection: null,
    palette: { functions: [], topics: [], tables: [], machines: [] },
    undo: [],
    redo: [],
    lastEdit: null,  // the key of the last edit, so a run of keystrokes in one field is one undo step
    diagnostics: [],
    checked: false,  // the last check answered for the code as it is now
    checkNumber: 0,
    checkTimer: null,
    codeTimer: null,
    applying: false,  // the code is being set from the definition: not an edit by the person
    savedText: null,
    testInput: "{}",
    editor: null,
    panZoom: null,
    viz: null,
    nodes: {},
  };

  const $ = (selector) => document.querySelector(selector);
  const text = (definition) => JSON.stringify(definition, null, 2);

  // -- changing the definition ---------------------------------------------------------------

  // Keep `definition` as the new version. `key` names the edit: consecutive edits with the same
  // key (typing in one field) are one step of Undo.
  function commit(definition, { key = null, selection, from = null } = {}) {
    const before = { definition: page.definition, selection: page.selection };
    if (!(key && key === page.lastEdit)) {
      page.undo.push(before);
      if (page.undo.length > HISTORY_LIMIT) page.undo.shift();
    }
    page.redo = [];
    page.lastEdit = key;
    page.definition = definition;
    if (selection !== undefined) page.selection = selection;
    refresh({ from });
  }

  // Re-draw every view but the one the change came from ("code" or "form").
  function refresh({ from = null } = {}) {
    if (page.selection && !M.exists(page.definition, page.selection)) page.selection = null;
    if (from !== "code") { showCode(); showInCode(page.selection); }
    if (from !== "form") renderForm();
    renderPlacement();
    renderHistoryButtons();
    scheduleCheck();
  }

  function edit(key, mutate, { rerender = false } = {}) {
    const next = M.clone(page.definition);
    mutate(M.stateAt(next, page.selection), next);
    commit(next, { key, from: rerender ? null : "form" });
  }

  function step(from, to) {
    const previous = from.pop();
    if (!previous) return;
    to.push({ definition: page.definition, selection: page.selection });
    page.definition = previous.definition;
    page.selection = previous.selection;
    page.lastEdit = null;
    refresh();
    say(from === page.undo ? "Undone." : "Redone.");
  }

  const undo = () => step(page.undo, page.redo);
  const redo = () => step(page.redo, page.undo);

  function renderHistoryButtons() {
    $("[data-undo]").disabled = page.undo.length === 0;
    $("[data-redo]").disabled = page.redo.length === 0;
  }

  // -- the code view -------------------------------------------------------------------------

  function setUpEditor() {
    page.editor = CodeMirror.fromTextArea($("#studio-code"), {
      mode: { name: "javascript", json: true },
      lineNumbers: true,
      lineWrapping: true,  // the pane is narrow and ARNs are long
      matchBrackets: true,
      tabSize: 2,
      indentUnit: 2,
      gutters: ["CodeMirror-linenumbers", "studio-marks"],
      extraKeys: { "Ctrl-Enter": () => codeEdited(), Tab: false, "Shift-Tab": false },  // Tab leaves the editor: keyboard users are not trapped
      screenReaderLabel: "Code: the definition in Amazon States Language (JSON)",
    });
    page.editor.on("changes", () => {
      if (page.applying) return;
      page.checked = false;
      $("[data-studio]").dataset.checking = "true";
      updateSave();
      clearTimeout(page.codeTimer);
      page.codeTimer = setTimeout(codeEdited, CODE_DELAY);
    });
  }

  function showCode() {
    const wanted = text(page.definition);
    if (page.editor.getValue() === wanted) return;
    page.applying = true;
    const scroll = page.editor.getScrollInfo();
    page.editor.setValue(wanted);
    page.editor.scrollTo(scroll.left, scroll.top);
    page.applying = false;
  }

  // The code, once it is JSON again, is the definition; until then the server's check says where
  // the JSON breaks.
  function codeEdited() {
    clearTimeout(page.codeTimer);
    let parsed;
    try { parsed = JSON.parse(page.editor.getValue()); } catch { parsed = undefined; }
    if (M.isObject(parsed)) {
      if (JSON.stringify(parsed) !== JSON.stringify(page.definition)) commit(parsed, { key: "code", from: "code" });
      else scheduleCheck();
    } else {
      scheduleCheck();
    }
  }

  function codeText() {
    return page.editor.getValue();
  }

  // -- checking ------------------------------------------------------------------------------

  // While a check is on its way, the page says so (data-checking): Save waits for its answer.
  function scheduleCheck() {
    page.checked = false;
    $("[data-studio]").dataset.checking = "true";
    updateSave();
    clearTimeout(page.checkTimer);
    page.checkTimer = setTimeout(check, CHECK_DELAY);
  }

  async function check() {
    const number = (page.checkNumber += 1);
    const sent = codeText();
    let answer;
    try {
      answer = await post("/console/studio/check", { definition: sent });
    } catch (error) {
      say(`Could not check the definition: ${error.message}`, true);
      return;
    }
    if (number !== page.checkNumber || sent !== codeText()) return;  // a newer version is on its way
    page.diagnostics = answer.diagnostics || [];
    if (answer.dot) await drawGraph(answer.dot, answer.nodes);
    if (number !== page.checkNumber) return;
    showProblems();
    page.checked = true;
    delete $("[data-studio]").dataset.checking;
    updateSave();
  }

  const errors = () => page.diagnostics.filter((d) => d.severity === "ERROR");

  function showProblems() {
    const list = $("[data-problems]");
    list.replaceChildren(...page.diagnostics.map(problemItem));
    if (!page.diagnostics.length) list.append(StudioForm.h("li", { class: "ok", text: "No problem: the definition is valid." }));
    $("[data-problem-count]").textContent = String(errors().length);
    markCode();
    markGraph();
    if (page.selection) renderProblemsOfSelection();
  }

  function problemItem(problem) {
    const h = StudioForm.h;
    const where = problem.state ? `“${problem.state}”: ` : problem.line ? `Line ${problem.line}: ` : "";
    const item = h("li", { class: `problem-${problem.severity.toLowerCase()}` },
      h("span", { class: "severity", text: problem.severity === "ERROR" ? "Error" : "Warning" }), " ", where + problem.message,
      problem.location ? h("code", { class: "muted", text: ` ${problem.location}` }) : null);
    const node = problem.node && page.nodes[problem.node];
    const show = () => {
      if (node) select({ scope: node.scope, name: node.name });
      const line = lineOf(problem);
      if (line !== null) { page.editor.scrollIntoView({ line, ch: 0 }, 40); page.editor.setCursor({ line, ch: 0 }); }
    };
    item.prepend(h("button", { type: "button", class: "link", text: "Show", title: "Select its state and show its line", onclick: show }), " ");
    return item;
  }

  // The line of the code a problem is at (0-based), or null.
  function lineOf(problem, lines = StudioJson.lines(page.editor.getValue())) {
    const line = problem.line ? problem.line - 1 : StudioJson.lineOf(lines, problem.location);
    return line === null || line === undefined || line >= page.editor.lineCount() ? null : line;
  }

  // Each problem at its line: the line of its JSON pointer in the code (or of the broken JSON).
  function markCode() {
    const editor = page.editor;
    editor.operation(() => {
      for (let line = 0; line < editor.lineCount(); line += 1) editor.removeLineClass(line, "wrap", "cm-problem-line");
      editor.clearGutter("studio-marks");
      const lines = StudioJson.lines(editor.getValue());
      for (const problem of page.diagnostics) {
        const line = lineOf(problem, lines);
        if (line === null) continue;
        editor.addLineClass(line, "wrap", "cm-problem-line");
        const mark = document.createElement("span");
        mark.className = "problem-gutter";
        mark.textContent = "!";
        mark.title = problem.message;
        editor.setGutterMarker(line, "studio-marks", mark);
      }
    });
  }

  // -- the graph -----------------------------------------------------------------------------

  async function drawGraph(dot, nodes) {
    const canvas = $("[data-studio-graph]");
    const focused = canvas.contains(document.activeElement) && document.activeElement.dataset.scope ? selectionOfElement(document.activeElement) : null;
    page.viz = page.viz || (await Viz.instance());
    const svg = page.viz.renderSVGElement(dot);
    const view = page.panZoom && page.moved ? { zoom: page.panZoom.getZoom(), pan: page.panZoom.getPan() } : null;
    if (page.panZoom) { page.panZoom.destroy(); page.panZoom = null; }
    page.nodes = nodes;
    for (const [id, node] of Object.entries(nodes)) annotate(svg.getElementById(id), node);
    canvas.replaceChildren(svg);
    page.panZoom = svgPanZoom(svg, {
      zoomScaleSensitivity: 0.3, minZoom: 0.1, maxZoom: 10, fit: true, center: true, dblClickZoomEnabled: false,
    });
    if (view) { page.panZoom.zoom(view.zoom); page.panZoom.pan(view.pan); } else notLarger();
    canvas.dataset.ready = "true";
    markSelected();
    // Drawn again, the graph keeps the keyboard where it was.
    const again = focused && graphElements().find((element) => M.sameSelection(selectionOfElement(element), focused));
    if (again) again.focus({ preventScroll: true });
  }

  function annotate(element, node) {
    if (!element) return;
    if (node.branch !== undefined) {
      element.dataset.branch = String(node.branch);
      element.dataset.parallel = node.name;
      element.setAttribute("aria-label", `Branch ${node.branch + 1} of ${node.name}`);
    } else {
      element.dataset.state = node.name;
      element.dataset.type = node.type;
      element.setAttribute("aria-label", `${node.name} (${node.type})`);
    }
    element.dataset.scope = JSON.stringify(node.scope);
    element.setAttribute("tabindex", "0");
    element.setAttribute("role", "button");
  }

  function selectionOfElement(element) {
    const scope = JSON.parse(element.dataset.scope);
    if (element.dataset.branch !== undefined) return { scope: [...scope, [element.dataset.parallel, Number(element.dataset.branch)]], name: null };
    return { scope, name: element.dataset.state };
  }

  function graphElements() {
    return [...document.querySelectorAll("[data-studio-graph] [data-scope]")];
  }

  function markSelected() {
    for (const element of graphElements()) {
      const selected = M.sameSelection(selectionOfElement(element), page.selection);
      element.classList.toggle("selected", selected);
      element.setAttribute("aria-pressed", selected ? "true" : "false");
    }
  }

  // A problem shows on its state: a red outline (data-invalid) and a "!" with the messages.
  function markGraph() {
    const byNode = new Map();
    for (const problem of errors()) if (problem.node) byNode.set(problem.node, [...(byNode.get(problem.node) || []), problem.message]);
    for (const element of graphElements()) {
      element.querySelectorAll(":scope > .problem-mark").forEach((mark) => mark.remove());
      const messages = byNode.get(element.id);
      if (!messages) { element.removeAttribute("data-invalid"); continue; }
      element.dataset.invalid = "true";
      const shape = element.querySelector(":scope > polygon, :scope > ellipse, :scope > path");
      if (!shape) continue;
      const box = shape.getBBox();
      const mark = document.createElementNS(SVG_NS, "g");
      mark.setAttribute("class", "problem-mark");
      const circle = document.createElementNS(SVG_NS, "circle");
      circle.setAttribute("cx", String(box.x + box.width - 2));
      circle.setAttribute("cy", String(box.y + 2));
      circle.setAttribute("r", "8");
      const sign = document.createElementNS(SVG_NS, "text");
      sign.setAttribute("x", String(box.x + box.width - 2));
      sign.setAttribute("y", String(box.y + 6));
      sign.textContent = "!";
      const title = document.createElementNS(SVG_NS, "title");
      title.textContent = messages.join("\n");
      mark.append(title, circle, sign);
      element.append(mark);
    }
  }

  // Once the person zooms or pans (a wheel, a drag, the zoom buttons), the graph keeps their view
  // when it is drawn again; Fit forgets it.
  function watchView(canvas) {
    let down = null;
    canvas.addEventListener("wheel", () => { page.moved = true; }, { passive: true });
    canvas.addEventListener("pointerdown", (event) => { down = [event.clientX, event.clientY]; });
    canvas.addEventListener("pointerup", () => { down = null; });
    canvas.addEventListener("pointermove", (event) => {
      if (down && Math.hypot(event.clientX - down[0], event.clientY - down[1]) > 4) page.moved = true;
    });
  }

  // Fitting a small graph would blow it up: show it at its natural size at most.
  function notLarger() {
    const real = page.panZoom.getSizes().realZoom;
    if (real > 1) { page.panZoom.zoom(page.panZoom.getZoom() / real); page.panZoom.center(); }
  }

  function zoom(action) {
    if (!page.panZoom) return;
    if (action === "in") { page.panZoom.zoomIn(); page.moved = true; }
    else if (action === "out") { page.panZoom.zoomOut(); page.moved = true; }
    else { page.panZoom.resize(); page.panZoom.fit(); page.panZoom.center(); notLarger(); page.moved = false; }
  }

  // -- selection, palette, form ----------------------------------------------------------------

  function select(selection) {
    page.selection = selection;
    page.lastEdit = null;
    renderForm();
    renderPlacement();
    markSelected();
    showInCode(selection);
  }

  // The selected state's line in the code: marked, and scrolled into view.
  function showInCode(selection) {
    const editor = page.editor;
    if (page.selectedLine !== undefined) editor.removeLineClass(page.selectedLine, "wrap", "cm-selected-line");
    page.selectedLine = undefined;
    const line = selection ? StudioJson.lineOf(StudioJson.lines(editor.getValue()), pointerOf(selection)) : null;
    if (line === null) return;
    page.selectedLine = line;
    editor.addLineClass(line, "wrap", "cm-selected-line");
    const top = editor.heightAtLine(line, "local");
    const shown = editor.getScrollInfo();
    if (top < shown.top || top > shown.top + shown.clientHeight - 40) editor.scrollTo(null, Math.max(0, top - 40));
  }

  // The JSON pointer of a selection: /States/Map/ItemProcessor/States/Inner, /States/P/Branches/0.
  function pointerOf(selection) {
    const escape = (name) => String(name).replace(/~/g, "~0").replace(/\//g, "~1");
    let pointer = "";
    selection.scope.forEach(([name, branch], index) => {
      const state = M.stateAt(page.definition, { scope: selection.scope.slice(0, index), name });
      const key = branch !== "items" ? `Branches/${branch}` : state && state.Iterator && !state.ItemProcessor ? "Iterator" : "ItemProcessor";
      pointer += `/States/${escape(name)}/${key}`;
    });
    return selection.name == null ? pointer : `${pointer}/States/${escape(selection.name)}`;
  }

  function renderPlacement() {
    const state = M.stateAt(page.definition, page.selection);
    const box = $("[data-placement]");
    const container = state && (state.Type === "Parallel" || state.Type === "Map");
    box.hidden = !container;
    if (container) {
      $("[data-inside-label]").textContent = state.Type === "Parallel" ? "Inside it, as a new branch" : "Inside it, in the states run for each item";
      const empty = state.Type === "Parallel" ? !(state.Branches || []).length : !Object.keys((state.ItemProcessor || state.Iterator || {}).States || {}).length;
      if (page.placementFor === undefined || !M.sameSelection(page.placementFor, page.selection)) {
        $(empty ? "#place-inside" : "#place-after").checked = true;  // an empty one is there to be filled
        page.placementFor = page.selection;
      }
    }
    const hint = $("[data-placement-hint]");
    if (!page.selection) hint.textContent = "Nothing is selected: a new state goes at the end of the workflow.";
    else if (page.selection.name == null) hint.textContent = "A new state goes at the end of the selected branch.";
    else hint.textContent = `A new state goes after “${page.selection.name}”.`;
  }

  function inside() {
    return !$("[data-placement]").hidden && $("#place-inside").checked;
  }

  function addState(kind) {
    const template = M.template(kind, page.palette, page.definition.QueryLanguage === "JSONata");
    if (!template) return;
    const added = M.insert(page.definition, page.selection, inside(), kind, template);
    page.placementFor = undefined;
    commit(added.definition, { selection: added.selection });
    markSelected();
    say(added.note);
  }

  function renderForm() {
    const container = $("[data-form]");
    const focused = document.activeElement && container.contains(document.activeElement) ? document.activeElement : null;
    const memory = focused && { id: focused.id, start: focused.selectionStart, end: focused.selectionEnd };
    StudioForm.render(container, {
      definition: page.definition,
      selection: page.selection,
      palette: page.palette,
      problems: problemsOfSelection(),
      testInput: page.testInput,
      // The last Test state's answer stays on its state's form when the form is drawn again.
      testReport: page.lastTest && M.sameSelection(page.lastTest.selection, page.selection) ? page.lastTest.report : null,
      edit,
      act: actions,
    });
    if (memory && memory.id) {
      const again = document.getElementById(memory.id);
      if (again) {
        again.focus();
        if (typeof memory.start === "number" && "setSelectionRange" in again) {
          try { again.setSelectionRange(memory.start, memory.end); } catch { /* not a text field */ }
        }
      }
    }
  }

  function problemsOfSelection() {
    if (!page.selection || page.selection.name == null) return [];
    return errors().filter((p) => {
      const node = p.node && page.nodes[p.node];
      return node && node.name === page.selection.name && JSON.stringify(node.scope) === JSON.stringify(page.selection.scope);
    });
  }

  function renderProblemsOfSelection() {
    const container = $("[data-form]");
    if (container.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) {
      updateProblemList(container);  // do not disturb a field being typed in
      return;
    }
    renderForm();
  }

  function updateProblemList(container) {
    const old = container.querySelector(".state-problems");
    const problems = problemsOfSelection();
    if (!problems.length) { if (old) old.remove(); return; }
    const fresh = StudioForm.h("ul", { class: "state-problems", "aria-label": "Problems in this state" }, problems.map((p) => StudioForm.h("li", { text: p.message })));
    if (old) old.replaceWith(fresh); else container.querySelector("h2").after(fresh);
  }

  const actions = {
    select,
    rename(name) {
      const renamed = M.rename(page.definition, page.selection, name);
      if (renamed.definition !== page.definition) {
        commit(renamed.definition, { selection: renamed.selection });
        markSelected();
        say(`Renamed to “${renamed.selection.name}”; every reference to it follows.`);
      }
    },
    remove() {
      const removed = M.remove(page.definition, page.selection);
      commit(removed.definition, { selection: null });
      say(removed.note);
      $("[data-studio-graph]").focus();
    },
    move(delta) {
      const moved = M.move(page.definition, page.selection, delta);
      if (moved) commit(moved, {});
      else say(delta < 0 ? "It is already the first state." : "It is already the last state.");
    },
    addBranch() {
      const added = M.addBranch(page.definition, page.selection);
      commit(added.definition, { selection: added.selection });
      say("Added an empty branch: add its first state from the palette.");
    },
    removeBranch() {
      const removed = M.removeBranch(page.definition, page.selection);
      commit(removed.definition, { selection: removed.selection });
    },
    rememberTestInput(value) { page.testInput = value; },
    test: testState,
  };

  // -- Save, Run, Test state -------------------------------------------------------------------

  function updateSave() {
    const valid = page.checked && errors().length === 0;
    const save = $("[data-save]");
    save.disabled = page.config.readOnly || !valid;
    save.title = page.config.readOnly ? "The console is read-only" : !page.checked ? "Checking…" : valid ? "" : "Fix the problems first";
    const saved = page.config.machine && page.savedText === text(page.definition) && codeText() === text(page.definition);
    $("[data-dirty]").hidden = saved || (!page.config.machine && page.undo.length === 0);
    const run = $("[data-run]");
    run.disabled = page.config.readOnly || !saved;
    run.title = saved ? "Start an execution of the saved state machine" : "Save first: Run starts the saved definition";
  }

  async function save(event) {
    event.preventDefault();
    if ($("[data-save]").disabled) return;
    const name = $("#machine-name").value.trim();
    if (!name) { say("Give the state machine a name first.", true); $("#machine-name").focus(); return; }
    const body = {
      name,
      definition: text(page.definition),
      existing: Boolean(page.config.machine),
      publish: $("[data-publish]").checked,
      description: $("[data-description]").value,
      roleArn: page.config.roleArn,
    };
    let answer;
    try { answer = await post("/console/studio/save", body); }
    catch (error) { say(`Not saved: ${error.message}`, true); return; }
    saved(answer, body.definition);
  }

  function saved(answer, definitionText) {
    const first = !page.config.machine;
    page.config.machine = answer.name;
    page.config.startUrl = answer.startUrl;
    page.savedText = definitionText;
    if (first) {
      history.replaceState(null, "", answer.editUrl);
      $("#machine-name").readOnly = true;
      $("[data-name-field]").hidden = true;
      $("[data-studio-heading]").textContent = `Edit ${answer.name}`;
      document.title = `Edit ${answer.name} · Orchestrator console`;
    }
    $("[data-publish]").checked = false;
    $("[data-description]").value = "";
    $("[data-description]").disabled = true;
    const version = answer.versionArn ? ` Published version ${answer.versionArn.split(":").pop()}.` : "";
    say(`Saved “${answer.name}”.${version}`, false, answer.machineUrl);
    updateSave();
  }

  function openRun() {
    const dialog = $("[data-run-dialog]");
    const form = $("[data-run-form]");
    form.action = page.config.startUrl;
    $("[data-machine-page]").href = `/console/state-machines/${encodeURIComponent(page.config.machine)}`;
    dialog.showModal();
    $("#run-input").focus();
  }

  async function testState(input, result) {
    const h = StudioForm.h;
    result.replaceChildren(h("p", { class: "muted", text: "Running…" }));
    let report;
    try {
      report = await post("/console/studio/test-state", { definition: codeText(), scope: page.selection.scope, state: page.selection.name, input, roleArn: page.config.roleArn });
    } catch (error) {
      result.replaceChildren(h("p", { class: "banner banner-failed", text: error.message }));
      return;
    }
    page.lastTest = { selection: page.selection, report };
    result.replaceChildren(...StudioForm.report(report));
  }

  // -- talking to the server -----------------------------------------------------------------

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": page.config.csrf },
      body: JSON.stringify(body),
    });
    const type = response.headers.get("content-type") || "";
    const answer = type.includes("json") ? await response.json() : { message: await response.text() };
    if (!response.ok) {
      if (answer.diagnostics) { page.diagnostics = answer.diagnostics; showProblems(); }
      throw new Error(answer.message || `the server answered ${response.status}`);
    }
    return answer;
  }

  async function loadPalette() {
    try {
      const response = await fetch("/console/studio/palette");
      if (response.ok) page.palette = await response.json();
    } catch { /* the palette still adds states; their choices stay empty */ }
    renderForm();
  }

  function say(message, problem = false, link = null) {
    const status = $("[data-status]");
    status.replaceChildren(message);
    status.classList.toggle("studio-status-problem", problem);
    if (link) status.append(" ", StudioForm.h("a", { href: link, text: "Open its page" }));
  }

  // -- keyboard and clicks -----------------------------------------------------------------------

  function typing(target) {
    return Boolean(target.closest && (target.closest(".CodeMirror") || target.matches("input, textarea, select")));
  }

  function onKey(event) {
    const command = event.ctrlKey || event.metaKey;
    if (command && !typing(event.target) && (event.key === "z" || event.key === "Z" || event.key === "y")) {
      event.preventDefault();
      if (event.key === "y" || event.shiftKey) redo(); else undo();
      return;
    }
    const node = event.target.closest && event.target.closest("[data-studio-graph] [data-scope]");
    if (!node) return;
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(selectionOfElement(node)); }
    else if ((event.key === "Delete" || event.key === "Backspace") && node.dataset.state) {
      event.preventDefault();
      select(selectionOfElement(node));
      actions.remove();
    } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown") && node.dataset.state) {
      event.preventDefault();
      select(selectionOfElement(node));
      actions.move(event.key === "ArrowUp" ? -1 : 1);
    }
  }

  function onClick(event) {
    const target = event.target;
    const add = target.closest("[data-add]");
    if (add) { addState(add.dataset.add); return; }
    const zoomButton = target.closest("[data-zoom]");
    if (zoomButton) { zoom(zoomButton.dataset.zoom); return; }
    if (target.closest("[data-undo]")) { undo(); return; }
    if (target.closest("[data-redo]")) { redo(); return; }
    if (target.closest("[data-run]")) { openRun(); return; }
    if (target.closest("[data-run-cancel]")) { $("[data-run-dialog]").close(); return; }
    const node = target.closest("[data-studio-graph] [data-scope]");
    if (node) {
      node.focus({ preventScroll: true });  // pan and zoom keep the click from focusing it: its keys work now
      select(selectionOfElement(node));
      return;
    }
    if (target.closest("[data-studio-graph] svg") && !target.closest("[data-scope]")) select(null);
  }

  function start() {
    page.config = JSON.parse($("#studio-data").textContent);
    try { page.definition = JSON.parse(page.config.definition); } catch { page.definition = { StartAt: "", States: {} }; }
    if (!M.isObject(page.definition)) page.definition = { StartAt: "", States: {} };
    page.savedText = page.config.machine ? text(page.definition) : null;
    setUpEditor();
    $("[data-save-form]").addEventListener("submit", save);
    $("[data-publish]").addEventListener("change", (event) => { $("[data-description]").disabled = !event.target.checked; });
    document.addEventListener("keydown", onKey);
    watchView($("[data-studio-graph]"));
    $("[data-studio]").addEventListener("click", onClick);
    $("[data-run-dialog]").addEventListener("click", onClick);
    refresh();
    loadPalette().then(() => { $("[data-studio]").dataset.started = "true"; });
  }

  return { start, page, undo, redo };
})();

document.addEventListener("DOMContentLoaded", Studio.start);
