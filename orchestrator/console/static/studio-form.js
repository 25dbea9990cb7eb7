// The workflow studio's form: the fields of the selected state (or of the machine, or of a
// Parallel branch), built from the definition each time the selection or the shape of the state
// changes. Every control has a label. A change calls ctx.edit(key, mutate, options): the page
// applies `mutate` to a copy of the definition and re-draws the other views (see studio.js).
"use strict";

const StudioForm = (() => {
  const M = StudioModel;
  const COMPARISONS = ["Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"];
  const SYMBOLS = { Equals: "=", LessThan: "<", GreaterThan: ">", LessThanEquals: "≤", GreaterThanEquals: "≥" };
  // Every comparison of the States Language, with its ...Path twin, then the type tests.
  const OPERATORS = [
    ...["String", "Numeric", "Timestamp"].flatMap((kind) => COMPARISONS.flatMap((c) => [`${kind}${c}`, `${kind}${c}Path`])),
    "BooleanEquals", "BooleanEqualsPath", "StringMatches",
    "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp",
  ];
  const FIELD_KINDS = [["text", "Text"], ["path", "Path"], ["json", "Number, true, false, null, list"], ["fields", "Fields"]];
  const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
  const WAITS = [["Seconds", "Seconds"], ["Timestamp", "Until a timestamp"], ["SecondsPath", "Seconds read from the input"], ["TimestampPath", "Timestamp read from the input"]];
  // The Parameters each kind of Task has a control of its own for (the rest are listed as fields).
  const OWN_FIELDS = { lambda: ["FunctionName"], sns: ["TopicArn", "Subject"], dynamodb: ["TableName"], sfn: ["StateMachineArn"], http: ["ApiEndpoint", "Method"] };

  // -- building elements ---------------------------------------------------------------------

  function h(tag, attributes = {}, ...children) {
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else if (key === "text") element.textContent = value;
      else if (key === "value") element.value = value;
      else if (key === "checked") element.checked = true;
      else element.setAttribute(key, value === true ? "" : value);
    }
    element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
    return element;
  }

  // Ids stay the same from one drawing of the form to the next, so focus can come back.
  const stableId = (...parts) => "sf-" + parts.join("-").replace(/[^A-Za-z0-9_-]+/g, "_");

  function labelled(label, control, hint) {
    return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control, hint ? h("p", { class: "hint", text: hint }) : null);
  }

  function input(id, value, onChange, { event = "input", type = "text", placeholder, list } = {}) {
    const element = h("input", { id, type, value: value ?? "", placeholder, list, spellcheck: "false", autocomplete: "off" });
    if (type === "number") element.step = "any";
    element.addEventListener(event, () => onChange(element.value, element));
    return element;
  }

  function select(id, options, value, onChange) {
    const element = h("select", { id }, options.map(([v, text]) => h("option", { value: v, text })));
    element.value = value ?? "";
    element.addEventListener("change", () => onChange(element.value));
    return element;
  }

  function checkbox(id, label, on, onChange) {
    const box = h("input", { id, type: "checkbox", checked: on });
    box.addEventListener("change", () => onChange(box.checked));
    return h("div", { class: "field check" }, box, h("label", { for: id, text: label }));
  }

  function button(text, onClick, attributes = {}) {
    return h("button", { type: "button", text, onclick: onClick, ...attributes });
  }

  function section(title, ...children) {
    return h("section", { class: "form-section" }, h("h3", { text: title }), ...children);
  }

  function group(legend, ...children) {
    return h("fieldset", { class: "group" }, h("legend", { text: legend }), ...children);
  }

  // -- values --------------------------------------------------------------------------------

  function numberOrAbsent(holder, key, text) {
    if (text.trim() === "") delete holder[key];
    else if (Number.isFinite(Number(text))) holder[key] = Number(text);
  }

  function textOrAbsent(holder, key, text) {
    if (text === "") delete holder[key]; else holder[key] = text;
  }

  const errorsText = (list) => (Array.isArray(list) ? list.join(", ") : "");
  const errorsList = (text) => text.split(",").map((e) => e.trim()).filter(Boolean);

  function family(state) {
    const base = M.baseResource(state.Resource);
    if (/^arn:[^:]+:states:::lambda:invoke/.test(base)) return "lambda";
    if (/^arn:[^:]+:states:::sns:publish/.test(base)) return "sns";
    if (/^arn:[^:]+:states:::(aws-sdk:)?dynamodb:/.test(base)) return "dynamodb";
    if (/^arn:[^:]+:states:::states:startExecution/.test(base)) return "sfn";
    if (/^arn:[^:]+:states:::http:invoke/.test(base)) return "http";
    return "other";
  }

  const usesJsonata = (ctx, state) => (state.QueryLanguage || ctx.definition.QueryLanguage) === "JSONata";

  // The states a transition of the selected state may go to: the others of its block.
  function targets(ctx) {
    const block = M.blockAt(ctx.definition, ctx.selection.scope);
    return Object.keys(block.States || {}).filter((name) => name !== ctx.selection.name);
  }

  function targetSelect(id, ctx, value, empty, onChange) {
    const names = targets(ctx);
    const options = [["", empty], ...names.map((n) => [n, n])];
    if (value && !names.includes(value)) options.push([value, `${value} (missing)`]);
    return select(id, options, value, onChange);
  }

  // -- the whole form ------------------------------------------------------------------------

  function render(container, ctx) {
    const parts = !ctx.selection ? machineForm(ctx) : ctx.selection.name == null ? branchForm(ctx) : stateForm(ctx);
    container.replaceChildren(...parts.filter((part) => part !== null && part !== undefined));
  }

  function machineForm(ctx) {
    const definition = ctx.definition;
    const edit = (key, mutate) => ctx.edit(key, (_, d) => mutate(d));
    return [
      h("h2", { text: "State machine" }),
      h("p", { class: "hint", text: "Select a state in the graph to edit it, or add one from the palette: with nothing selected, it goes at the end of the workflow." }),
      labelled("Comment", input(stableId("m", "comment"), definition.Comment, (v) => edit("m-comment", (d) => textOrAbsent(d, "Comment", v)))),
      labelled("Timeout (seconds)", input(stableId("m", "timeout"), definition.TimeoutSeconds, (v) => edit("m-timeout", (d) => numberOrAbsent(d, "TimeoutSeconds", v)), { type: "number" }), "The whole execution fails with States.Timeout after this long. Empty: no limit."),
      labelled("Query language", select(stableId("m", "language"), [["", "JSONPath (the default)"], ["JSONata", "JSONata"]], definition.QueryLanguage === "JSONata" ? "JSONata" : "",
        (v) => ctx.edit("m-language", (_, d) => textOrAbsent(d, "QueryLanguage", v), { rerender: true }))),
    ];
  }

  function branchForm(ctx) {
    const [parallel, index] = ctx.selection.scope[ctx.selection.scope.length - 1];
    const block = M.blockAt(ctx.definition, ctx.selection.scope);
    const first = block.StartAt;
    return [
      h("h2", { text: `Branch ${index + 1} of “${parallel}”` }),
      h("p", { text: first ? `It starts at “${first}”. The palette adds new states at its end.` : "It is empty: add its first state from the palette." }),
      h("div", { class: "form-actions" },
        button(`Select “${parallel}”`, () => ctx.act.select({ scope: ctx.selection.scope.slice(0, -1), name: parallel })),
        button("Remove branch", () => ctx.act.removeBranch(), { class: "danger" })),
    ];
  }

  function stateForm(ctx) {
    const state = M.stateAt(ctx.definition, ctx.selection);
    const where = ctx.selection.scope.map(([name, branch]) => (branch === "items" ? `in “${name}”` : `in branch ${branch + 1} of “${name}”`)).join(", ");
    return [
      h("h2", {}, h("span", { text: ctx.selection.name }), " ", h("span", { class: "pill", text: state.Type || "?" })),
      where ? h("p", { class: "hint", text: `Inside: ${where}.` }) : null,
      problems(ctx),
      nameField(ctx),
      h("div", { class: "form-actions" },
        button("Move up", () => ctx.act.move(-1), { title: "Earlier in the code (Alt+↑)" }),
        button("Move down", () => ctx.act.move(1), { title: "Later in the code (Alt+↓)" }),
        button("Delete state", () => ctx.act.remove(), { class: "danger", title: "Delete" })),
      ...typeSections(ctx, state),
      transitionSection(ctx, state),
      dataFlowSection(ctx, state),
      errorSections(ctx, state),
      testSection(ctx, state),
      labelled("Comment", input(stableId("comment"), state.Comment, (v) => ctx.edit("comment", (s) => textOrAbsent(s, "Comment", v)))),
    ];
  }

  function problems(ctx) {
    if (!ctx.problems.length) return null;
    return h("ul", { class: "state-problems", "aria-label": "Problems in this state" },
      ctx.problems.map((p) => h("li", { text: `${p.message}${p.location ? ` (at ${p.location})` : ""}` })));
  }

  function nameField(ctx) {
    const message = h("p", { class: "field-error", "aria-live": "polite" });
    const control = input(stableId("name"), ctx.selection.name, (value, element) => {
      try { ctx.act.rename(value); message.textContent = ""; element.removeAttribute("aria-invalid"); }
      catch (error) { message.textContent = error.message; element.setAttribute("aria-invalid", "true"); }
    }, { event: "change" });
    return h("div", { class: "field" }, h("label", { for: control.id, text: "State name" }), control, message,
      h("p", { class: "hint", text: "Renaming updates every Next, Default, rule and catcher that names it." }));
  }

  // -- by type -------------------------------------------------------------------------------

  function typeSections(ctx, state) {
    switch (state.Type) {
      case "Task": return [taskSection(ctx, state)];
      case "Pass": return [passSection(ctx, state)];
      case "Choice": return [choiceSection(ctx, state)];
      case "Wait": return [waitSection(ctx, state)];
      case "Fail": return [failSection(ctx, state)];
      case "Succeed": return [h("p", { class: "hint", text: "A Succeed state ends the workflow (or its branch) successfully." })];
      case "Parallel": return [parallelSection(ctx, state)];
      case "Map": return [mapSection(ctx, state)];
      default: return [h("p", { class: "hint", text: "Choose the type of this state in the code view." })];
    }
  }

  function taskSection(ctx, state) {
    const kind = family(state);
    const jsonata = usesJsonata(ctx, state);
    const holder = jsonata ? "Arguments" : "Parameters";
    const parameters = M.isObject(state[holder]) ? state[holder] : {};
    const children = [
      labelled("Resource", input(stableId("resource"), state.Resource, (v) => ctx.edit("resource", (s) => { s.Resource = v; }, { rerender: true }), { event: "change" }),
        "What the task calls: a Lambda function, an AWS service's action, an HTTP API, or an activity."),
      ...serviceFields(ctx, kind, parameters, holder),
    ];
    if (kind !== "dynamodb" && kind !== "http") {
      children.push(checkbox(stableId("callback"), "Wait for callback (adds .waitForTaskToken and sends the task token)", M.isCallback(state),
        (on) => ctx.edit("callback", (s) => M.setCallback(s, on, jsonata), { rerender: true })));
    }
    children.push(fieldsEditor(ctx, holder, [holder], parameters, { skip: OWN_FIELDS[kind] || [], jsonata }));
    children.push(h("div", { class: "row" },
      labelled("Timeout (seconds)", input(stableId("timeout"), state.TimeoutSeconds, (v) => ctx.edit("timeout", (s) => numberOrAbsent(s, "TimeoutSeconds", v)), { type: "number" })),
      labelled("Heartbeat (seconds)", input(stableId("heartbeat"), state.HeartbeatSeconds, (v) => ctx.edit("heartbeat", (s) => numberOrAbsent(s, "HeartbeatSeconds", v)), { type: "number" }))));
    return section(taskTitle(kind), ...children);
  }

  function taskTitle(kind) {
    return { lambda: "Lambda Invoke", sns: "SNS Publish", dynamodb: "DynamoDB", sfn: "Step Functions StartExecution", http: "HTTP Task" }[kind] || "Task";
  }

  // The control of its own each kind of Task has: the function, the topic, the table, ...
  function serviceFields(ctx, kind, parameters, holder) {
    const palette = ctx.palette;
    const setParameter = (key, rerender = false) => (v) => ctx.edit(`p-${key}`, (s) => {
      if (!M.isObject(s[holder])) s[holder] = {};
      textOrAbsent(s[holder], key, v);
    }, { rerender });
    const choices = (items, current) => {
      const options = [["", "Choose…"], ...items];
      if (current && !items.some(([v]) => v === current)) options.push([current, current]);
      return options;
    };
    switch (kind) {
      case "lambda": return [labelled("Function", select(stableId("function"), choices(palette.functions.map((f) => [f.arn, f.name]), parameters.FunctionName), parameters.FunctionName, setParameter("FunctionName")),
        "The handlers registered with @handler in this server's Python modules.")];
      case "sns": return [
        labelled("Topic", select(stableId("topic"), choices(palette.topics.map((t) => [t.arn, t.name]), parameters.TopicArn), parameters.TopicArn, setParameter("TopicArn"))),
        labelled("Subject", input(stableId("subject"), parameters.Subject, setParameter("Subject")))];
      case "dynamodb": return [labelled("Table", select(stableId("table"), choices(palette.tables.map((t) => [t, t]), parameters.TableName), parameters.TableName, setParameter("TableName")))];
      case "sfn": return [labelled("State machine", select(stableId("machine"), choices(palette.machines.map((m) => [m.arn, m.name]), parameters.StateMachineArn), parameters.StateMachineArn, setParameter("StateMachineArn")))];
      case "http": return [
        labelled("API endpoint", input(stableId("endpoint"), parameters.ApiEndpoint, setParameter("ApiEndpoint"), { type: "url", placeholder: "https://api.example.com/path" })),
        labelled("Method", select(stableId("method"), METHODS.map((m) => [m, m]), parameters.Method || "GET", setParameter("Method")))];
      default: return [];
    }
  }

  function passSection(ctx, state) {
    const children = [h("p", { class: "hint", text: "A Pass state passes its input on, reshaped by its Parameters or replaced by its Result." })];
    if (usesJsonata(ctx, state)) return section("Pass", ...children);
    children.push(fieldsEditor(ctx, "Parameters", ["Parameters"], state.Parameters));
    const result = input(stableId("result"), state.Result === undefined ? "" : JSON.stringify(state.Result), (v, element) => ctx.edit("result", (s) => {
      if (v.trim() === "") { delete s.Result; element.removeAttribute("aria-invalid"); return; }
      try { s.Result = JSON.parse(v); element.removeAttribute("aria-invalid"); } catch { element.setAttribute("aria-invalid", "true"); }
    }));
    children.push(labelled("Result (JSON)", result, "Replaces the state's input: for example {\"ok\": true}. Empty: none."));
    return section("Pass", ...children);
  }

  function waitSection(ctx, state) {
    const kind = WAITS.map(([k]) => k).find((k) => k in state) || "Seconds";
    const value = state[kind] ?? "";
    const set = (k, v) => (s) => {
      for (const [other] of WAITS) delete s[other];
      s[k] = k === "Seconds" && Number.isFinite(Number(v)) && String(v).trim() !== "" ? Number(v) : String(v);
    };
    return section("Wait",
      labelled("Wait for", select(stableId("wait-kind"), WAITS, kind, (k) => ctx.edit("wait-kind", set(k, k === "Seconds" ? 5 : k.endsWith("Path") ? "$." : new Date().toISOString().slice(0, 19) + "Z"), { rerender: true }))),
      labelled(WAITS.find(([k]) => k === kind)[1], input(stableId("wait-value"), String(value), (v) => ctx.edit("wait-value", set(kind, v)), { type: kind === "Seconds" ? "number" : "text" }),
        kind === "Timestamp" ? "An ISO 8601 time, for example 2026-12-24T18:00:00Z." : kind.endsWith("Path") ? "A path such as $.delay." : null));
  }

  function failSection(ctx, state) {
    return section("Fail",
      labelled("Error", input(stableId("error"), state.Error, (v) => ctx.edit("error", (s) => textOrAbsent(s, "Error", v)), { placeholder: "States.MyError" })),
      labelled("Cause", input(stableId("cause"), state.Cause, (v) => ctx.edit("cause", (s) => textOrAbsent(s, "Cause", v)))));
  }

  function parallelSection(ctx, state) {
    const branches = Array.isArray(state.Branches) ? state.Branches : [];
    const list = h("ol", { class: "branches" }, branches.map((branch, index) => h("li", {},
      h("span", { text: branch && branch.StartAt ? `starts at “${branch.StartAt}” ` : "empty " }),
      button(`Select branch ${index + 1}`, () => ctx.act.select({ scope: [...ctx.selection.scope, [ctx.selection.name, index]], name: null })))));
    return section("Parallel",
      h("p", { class: "hint", text: "Runs its branches at the same time; its output is the list of their outputs." }),
      list,
      button("Add branch", () => ctx.act.addBranch()),
      usesJsonata(ctx, state)
        ? fieldsEditor(ctx, "Arguments", ["Arguments"], state.Arguments, { jsonata: true })
        : fieldsEditor(ctx, "Parameters", ["Parameters"], state.Parameters));
  }

  function mapSection(ctx, state) {
    const processor = state.ItemProcessor ? "ItemProcessor" : state.Iterator ? "Iterator" : "ItemProcessor";
    const config = M.isObject(state[processor]) && M.isObject(state[processor].ProcessorConfig) ? state[processor].ProcessorConfig : {};
    const setMode = (mode) => ctx.edit("map-mode", (s) => {
      if (!M.isObject(s[processor])) s[processor] = { StartAt: "", States: {} };
      const current = M.isObject(s[processor].ProcessorConfig) ? s[processor].ProcessorConfig : {};
      s[processor].ProcessorConfig = mode === "DISTRIBUTED" ? { ...current, Mode: mode, ExecutionType: current.ExecutionType || "STANDARD" } : { Mode: mode };
    }, { rerender: true });
    return section("Map",
      h("p", { class: "hint", text: "Runs its states once for each item of a list. Select it and choose “Inside” in the palette to add them." }),
      labelled("Items path", input(stableId("items-path"), state.ItemsPath, (v) => ctx.edit("items-path", (s) => textOrAbsent(s, "ItemsPath", v)), { placeholder: "$.items" })),
      labelled("Maximum concurrency", input(stableId("concurrency"), state.MaxConcurrency, (v) => ctx.edit("concurrency", (s) => numberOrAbsent(s, "MaxConcurrency", v)), { type: "number" }), "0 or empty: as many at once as possible."),
      labelled("Processing mode", select(stableId("map-mode"), [["INLINE", "Inline: iterations run in this execution"], ["DISTRIBUTED", "Distributed: each iteration is a child execution"]], config.Mode || "INLINE", setMode)),
      fieldsEditor(ctx, "ItemSelector", ["ItemSelector"], state.ItemSelector));
  }

  // -- Choice rules --------------------------------------------------------------------------

  function choiceSection(ctx, state) {
    const rules = Array.isArray(state.Choices) ? state.Choices : [];
    return section("Choice rules",
      h("p", { class: "hint", text: "The first rule that matches decides the next state; when none does, the default does." }),
      ...rules.map((rule, index) => ruleEditor(ctx, rule, index)),
      button("Add rule", () => ctx.edit("add-rule", (s) => { if (!Array.isArray(s.Choices)) s.Choices = []; s.Choices.push({ Variable: "$" }); }, { rerender: true })),
      labelled("Default state", targetSelect(stableId("default"), ctx, state.Default, "None (fail when no rule matches)",
        (v) => ctx.edit("default", (s) => textOrAbsent(s, "Default", v), { rerender: true }))));
  }

  const operatorOf = (rule) => OPERATORS.find((op) => op in rule);

  function operatorLabel(operator) {
    const path = operator.endsWith("Path") && operator !== "IsPresent";
    const base = path ? operator.slice(0, -4) : operator;
    // The longest ending that names a comparison ("GreaterThanEquals" also ends with "Equals").
    const comparison = [...COMPARISONS].sort((a, b) => b.length - a.length).find((c) => base.endsWith(c) && !base.startsWith("Is"));
    const symbol = comparison && base !== "StringMatches" ? ` (${SYMBOLS[comparison]}${path ? " a path" : ""})` : "";
    return `${operator}${symbol}`;
  }

  function ruleEditor(ctx, rule, index) {
    const id = (part) => stableId("rule", index, part);
    const at = (s) => s.Choices[index];
    const remove = button("Remove rule", () => ctx.edit("remove-rule", (s) => s.Choices.splice(index, 1), { rerender: true }), { class: "danger small" });
    const next = labelled("Then go to", targetSelect(id("next"), ctx, rule.Next, "Choose a state…", (v) => ctx.edit(`rule-${index}-next`, (s) => textOrAbsent(at(s), "Next", v), { rerender: true })));
    if (!("Variable" in rule)) {
      // And, Or, Not and JSONata conditions are shown, and edited in the code view.
      const text = "Condition" in rule ? String(rule.Condition) : JSON.stringify(rule);
      return group(`Rule ${index + 1}`, h("p", { class: "hint", text: "This rule combines conditions (And, Or, Not) or is JSONata: edit it in the code view." }), h("code", { class: "rule-text", text }), next, remove);
    }
    const operator = operatorOf(rule) || "";
    return group(`Rule ${index + 1}`,
      h("div", { class: "row" },
        labelled("Variable", input(id("variable"), rule.Variable, (v) => ctx.edit(`rule-${index}-variable`, (s) => { at(s).Variable = v; }), { placeholder: "$.credit.limit" })),
        labelled("Operator", select(id("operator"), [["", "Choose an operator…"], ...OPERATORS.map((op) => [op, operatorLabel(op)])], operator,
          (v) => ctx.edit(`rule-${index}-operator`, (s) => changeOperator(at(s), operator, v), { rerender: true })))),
      h("div", { class: "row" }, operator ? valueControl(ctx, rule, index, operator) : null, next),
      remove);
  }

  function changeOperator(rule, from, to) {
    const old = from ? rule[from] : undefined;
    if (from) delete rule[from];
    if (!to) return;
    rule[to] = convertedOperand(to, old);
    // Keep the rule's keys in the usual order: Variable, the comparison, Next.
    if ("Next" in rule) { const next = rule.Next; delete rule.Next; rule.Next = next; }
  }

  function convertedOperand(operator, old) {
    if (operator.endsWith("Path") && operator !== "IsPresent") return typeof old === "string" && old.startsWith("$") ? old : "$";
    if (operator.startsWith("Is") || operator === "BooleanEquals") return typeof old === "boolean" ? old : true;
    if (operator.startsWith("Numeric")) return Number.isFinite(Number(old)) && old !== "" && old !== null && typeof old !== "boolean" ? Number(old) : 0;
    return old === undefined || typeof old === "boolean" ? "" : String(old);
  }

  function valueControl(ctx, rule, index, operator) {
    const id = stableId("rule", index, "value");
    const set = (parse) => (v, element) => ctx.edit(`rule-${index}-value`, (s) => {
      const parsed = parse(v);
      if (parsed === undefined) { element.setAttribute("aria-invalid", "true"); return; }
      element.removeAttribute("aria-invalid");
      s.Choices[index][operator] = parsed;
    });
    if (operator.startsWith("Is") || operator === "BooleanEquals") {
      const words = operator === "BooleanEquals" ? [["true", "true"], ["false", "false"]] : [["true", "yes"], ["false", "no"]];
      return labelled("Value", select(id, words, String(rule[operator]), (v) => set((x) => x === "true")(v, document.getElementById(id))));
    }
    const numeric = operator.startsWith("Numeric") && !operator.endsWith("Path");
    const parse = numeric ? (v) => (v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : undefined) : (v) => v;
    return labelled("Value", input(id, String(rule[operator] ?? ""), set(parse), { type: numeric ? "number" : "text", placeholder: operator.endsWith("Path") ? "$.other" : "" }));
  }

  // -- transitions and data flow -------------------------------------------------------------

  function transitionSection(ctx, state) {
    if (!M.CHAINABLE.has(state.Type)) return null;
    const value = state.End === true ? "" : state.Next;
    return section("Next",
      labelled("Next state", targetSelect(stableId("next"), ctx, value, "End (no next state)",
        (v) => ctx.edit("next", (s) => M.setNext(s, v || null), { rerender: true }))));
  }

  function dataFlowSection(ctx, state) {
    if (state.Type === "Fail") return null;
    if (usesJsonata(ctx, state)) {
      return section("Data flow (JSONata)",
        labelled("Output", input(stableId("output"), typeof state.Output === "string" ? state.Output : state.Output === undefined ? "" : JSON.stringify(state.Output),
          (v) => ctx.edit("output", (s) => textOrAbsent(s, "Output", v)), { placeholder: "{% $states.result %}" })),
        fieldsEditor(ctx, "Assign", ["Assign"], state.Assign, { jsonata: true }));
    }
    const children = [pathField(ctx, state, "InputPath", "Selects part of the input: $.data. Empty: all of it.")];
    if (["Task", "Parallel", "Map"].includes(state.Type)) children.push(fieldsEditor(ctx, "ResultSelector", ["ResultSelector"], state.ResultSelector));
    if (["Task", "Parallel", "Map", "Pass"].includes(state.Type)) children.push(resultPathField(ctx, state));
    children.push(pathField(ctx, state, "OutputPath", "Selects part of the output: $.Payload. Empty: all of it."));
    return section("Data flow", ...children);
  }

  function pathField(ctx, state, key, hint) {
    return labelled(key, input(stableId(key), typeof state[key] === "string" ? state[key] : "", (v) => ctx.edit(key, (s) => textOrAbsent(s, key, v)), { placeholder: "$" }), hint);
  }

  function resultPathField(ctx, state) {
    const discarded = state.ResultPath === null;
    const path = input(stableId("ResultPath"), typeof state.ResultPath === "string" ? state.ResultPath : "", (v) => ctx.edit("ResultPath", (s) => textOrAbsent(s, "ResultPath", v)), { placeholder: "$.result" });
    path.disabled = discarded;
    return h("div", {},
      labelled("ResultPath", path, "Where the result goes in the input: $.credit. Empty: the result replaces the input."),
      checkbox(stableId("discard"), "Discard the result and keep the input (ResultPath: null)", discarded,
        (on) => ctx.edit("discard", (s) => { if (on) s.ResultPath = null; else delete s.ResultPath; }, { rerender: true })));
  }

  // -- Retry and Catch -----------------------------------------------------------------------

  function errorSections(ctx, state) {
    if (!["Task", "Parallel", "Map"].includes(state.Type)) return null;
    const retry = Array.isArray(state.Retry) ? state.Retry : [];
    const catchers = Array.isArray(state.Catch) ? state.Catch : [];
    return section("Errors",
      group("Retry", ...retry.map((retrier, index) => retrierEditor(ctx, retrier, index)),
        button("Add retrier", () => ctx.edit("add-retrier", (s) => {
          if (!Array.isArray(s.Retry)) s.Retry = [];
          s.Retry.push({ ErrorEquals: ["States.ALL"], IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 });
        }, { rerender: true }))),
      group("Catch", ...catchers.map((catcher, index) => catcherEditor(ctx, catcher, index)),
        button("Add catcher", () => ctx.edit("add-catcher", (s) => {
          if (!Array.isArray(s.Catch)) s.Catch = [];
          s.Catch.push({ ErrorEquals: ["States.ALL"] });
        }, { rerender: true }))));
  }

  // Remove one retrier or catcher; an empty list is removed too.
  function removeAt(state, key, index) {
    state[key].splice(index, 1);
    if (state[key].length === 0) delete state[key];
  }

  function retrierEditor(ctx, retrier, index) {
    const id = (part) => stableId("retry", index, part);
    const number = (key, label) => labelled(label, input(id(key), retrier[key], (v) => ctx.edit(`retry-${index}-${key}`, (s) => numberOrAbsent(s.Retry[index], key, v)), { type: "number" }));
    return group(`Retrier ${index + 1}`,
      labelled("Errors", input(id("errors"), errorsText(retrier.ErrorEquals), (v) => ctx.edit(`retry-${index}-errors`, (s) => { s.Retry[index].ErrorEquals = errorsList(v); }), { placeholder: "States.ALL" }), "Error names, separated by commas."),
      h("div", { class: "row" }, number("IntervalSeconds", "Interval (seconds)"), number("MaxAttempts", "Max attempts"), number("BackoffRate", "Backoff rate")),
      h("div", { class: "row" }, number("MaxDelaySeconds", "Max delay (seconds)"),
        labelled("Jitter", select(id("jitter"), [["", "None"], ["FULL", "Full"]], retrier.JitterStrategy === "FULL" ? "FULL" : "",
          (v) => ctx.edit(`retry-${index}-jitter`, (s) => textOrAbsent(s.Retry[index], "JitterStrategy", v))))),
      button("Remove retrier", () => ctx.edit("remove-retrier", (s) => removeAt(s, "Retry", index), { rerender: true }), { class: "danger small" }));
  }

  function catcherEditor(ctx, catcher, index) {
    const id = (part) => stableId("catch", index, part);
    return group(`Catcher ${index + 1}`,
      labelled("Errors", input(id("errors"), errorsText(catcher.ErrorEquals), (v) => ctx.edit(`catch-${index}-errors`, (s) => { s.Catch[index].ErrorEquals = errorsList(v); }), { placeholder: "States.ALL" }), "Error names, separated by commas."),
      labelled("Result path", input(id("result-path"), typeof catcher.ResultPath === "string" ? catcher.ResultPath : "", (v) => ctx.edit(`catch-${index}-path`, (s) => textOrAbsent(s.Catch[index], "ResultPath", v)), { placeholder: "$.error" }),
        "Where the error goes in the input. Empty: the error replaces it."),
      labelled("Then go to", targetSelect(id("next"), ctx, catcher.Next, "Choose a state…", (v) => ctx.edit(`catch-${index}-next`, (s) => textOrAbsent(s.Catch[index], "Next", v), { rerender: true }))),
      button("Remove catcher", () => ctx.edit("remove-catcher", (s) => removeAt(s, "Catch", index), { rerender: true }), { class: "danger small" }));
  }

  // -- fields: Parameters, ResultSelector, a message ... without writing JSON ---------------------

  function getIn(state, path) {
    return path.reduce((value, key) => (M.isObject(value) ? value[key] : undefined), state);
  }

  // The object at `path` in the state, made if missing (its parents too).
  function objectIn(state, path) {
    let holder = state;
    for (const key of path) {
      if (!M.isObject(holder[key])) holder[key] = {};
      holder = holder[key];
    }
    return holder;
  }

  function dropIfEmpty(state, path) {
    const holder = getIn(state, path.slice(0, -1));
    const last = path[path.length - 1];
    if (M.isObject(holder) && M.isObject(holder[last]) && Object.keys(holder[last]).length === 0) delete holder[last];
  }

  function kindOf(key, value, jsonata) {
    if (!jsonata && key.endsWith(".$")) return "path";
    if (M.isObject(value)) return "fields";
    return typeof value === "string" ? "text" : "json";
  }

  function fieldsEditor(ctx, title, path, object, { skip = [], jsonata = false } = {}) {
    const rows = Object.entries(M.isObject(object) ? object : {}).filter(([key]) => !skip.includes(key));
    const add = button("Add field", () => ctx.edit(`add-${path.join("/")}`, (s) => {
      const holder = objectIn(s, path);
      let n = 1;
      while (`field${n}` in holder || `field${n}.$` in holder) n += 1;
      holder[`field${n}`] = "";
    }, { rerender: true }), { class: "small" });
    const hint = h("p", { class: "hint", text: rows.length ? (jsonata ? "" : "A Path is read from the input ($.name) or the context ($$.Execution.Id).") : "No field." });
    return h("fieldset", { class: "group fields" }, h("legend", { text: title }), hint,
      ...rows.map(([key, value], index) => fieldRow(ctx, path, key, value, index, jsonata)), add);
  }

  function fieldRow(ctx, path, key, value, index, jsonata) {
    const kind = kindOf(key, value, jsonata);
    const name = kind === "path" ? key.slice(0, -2) : key;
    const id = (part) => stableId("f", ...path, index, part);
    const keyInput = input(id("key"), name, (v, element) => renameField(ctx, path, key, kind, v, element), { event: "change" });
    const kinds = FIELD_KINDS.filter(([k]) => !(jsonata && k === "path"));
    const kindSelect = select(id("kind"), kinds, kind, (k) => ctx.edit(`kind-${path.join("/")}`, (s) => changeKind(objectIn(s, path), key, kind, k), { rerender: true }));
    const remove = button("Remove", () => ctx.edit(`remove-${path.join("/")}`, (s) => { delete objectIn(s, path)[key]; dropIfEmpty(s, path); }, { rerender: true }),
      { class: "danger small", "aria-label": `Remove the field ${name}` });
    const row = h("div", { class: "field-row", role: "group", "aria-label": `Field ${name}` },
      labelled("Key", keyInput), labelled("Kind", kindSelect), remove);
    if (kind === "fields") {
      row.append(fieldsEditor(ctx, name, [...path, key], value, { jsonata }));
    } else {
      const shown = kind === "json" ? JSON.stringify(value) : String(value ?? "");
      row.append(labelled("Value", input(id("value"), shown, (v, element) => setField(ctx, path, key, kind, v, element), { placeholder: kind === "path" ? "$.field" : "" })));
    }
    return row;
  }

  function setField(ctx, path, key, kind, text, element) {
    let value = text;
    if (kind === "json") {
      try { value = JSON.parse(text); } catch { element.setAttribute("aria-invalid", "true"); return; }
    }
    element.removeAttribute("aria-invalid");
    ctx.edit(`value-${path.join("/")}-${key}`, (s) => { objectIn(s, path)[key] = value; });
  }

  function renameField(ctx, path, key, kind, text, element) {
    const name = text.trim().replace(/\.\$$/, "");
    const wanted = kind === "path" ? `${name}.$` : name;
    const holder = getIn(M.stateAt(ctx.definition, ctx.selection), path) || {};
    if (!name || (wanted !== key && (wanted in holder))) {
      element.setAttribute("aria-invalid", "true");
      return;
    }
    ctx.edit(`key-${path.join("/")}`, (s) => {
      const object = objectIn(s, path);
      const pairs = Object.entries(object).map(([k, v]) => [k === key ? wanted : k, v]);
      for (const k of Object.keys(object)) delete object[k];
      Object.assign(object, Object.fromEntries(pairs));
    }, { rerender: true });
  }

  function changeKind(object, key, from, to) {
    const name = from === "path" ? key.slice(0, -2) : key;
    const old = object[key];
    const pairs = Object.entries(object).map(([k, v]) => {
      if (k !== key) return [k, v];
      if (to === "path") return [`${name}.$`, typeof old === "string" && old.startsWith("$") ? old : "$"];
      if (to === "fields") return [name, {}];
      if (to === "json") return [name, typeof old === "string" && Number.isFinite(Number(old)) && old.trim() !== "" ? Number(old) : null];
      return [name, M.isObject(old) || Array.isArray(old) ? JSON.stringify(old) : String(old ?? "")];
    });
    for (const k of Object.keys(object)) delete object[k];
    Object.assign(object, Object.fromEntries(pairs));
  }

  // -- Test state ----------------------------------------------------------------------------

  function testSection(ctx) {
    const area = h("textarea", { id: stableId("test-input"), rows: "5", spellcheck: "false" });
    area.value = ctx.testInput;
    area.addEventListener("input", () => { ctx.testInput = area.value; ctx.act.rememberTestInput(area.value); });
    const result = h("div", { class: "test-result", id: "test-result", role: "status", "aria-live": "polite" }, ctx.testReport ? report(ctx.testReport) : null);
    return section("Test state",
      h("p", { class: "hint", text: "Runs this state alone, as TestState does (a Task calls its handler for real), and shows the data after each stage." }),
      labelled("Test input (JSON)", area),
      button("Test state", () => ctx.act.test(area.value, result), { class: "primary" }),
      result);
  }

  // TestState's statuses, as the console's badges show them: [colour, icon].
  const TEST_STATUSES = { SUCCEEDED: ["succeeded", "✓"], FAILED: ["failed", "✕"], CAUGHT_ERROR: ["caught-error", "!"], RETRIABLE: ["waiting", "↻"] };
  const STAGES = [
    ["input", "Input"], ["afterInputPath", "After InputPath"], ["afterParameters", "After Parameters"],
    ["afterArguments", "After Arguments"], ["afterItemsPath", "After ItemsPath"], ["afterItemSelector", "After ItemSelector"],
    ["result", "Result"], ["afterResultSelector", "After ResultSelector"], ["afterResultPath", "After ResultPath"],
  ];

  // TestState's answer: how the state ended, then the data after each stage of its data flow.
  function report(answer) {
    const inspection = answer.inspectionData || {};
    const failed = answer.status === "FAILED";
    const [kind, icon] = TEST_STATUSES[answer.status] || ["running", "?"];
    const parts = [h("p", {}, h("span", { class: `status status-${kind}`, "data-test-status": answer.status },
      h("span", { class: "icon", "aria-hidden": "true", text: icon }), ` ${answer.status.replace("_", " ").toLowerCase()}`),
    answer.nextState ? ` then “${answer.nextState}”` : "")];
    if (answer.error) parts.push(h("p", { class: failed ? "banner banner-failed" : "banner" }, h("strong", { text: answer.error }), answer.cause ? `: ${answer.cause}` : ""));
    const stages = STAGES.filter(([key]) => inspection[key] !== undefined).map(([key, label]) => [label, inspection[key]]);
    if (answer.output !== undefined) stages.push(["Output (after OutputPath)", answer.output]);
    parts.push(h("dl", { class: "stages" }, stages.flatMap(([label, data]) => [h("dt", { text: label }), h("dd", {}, h("pre", { class: "code", text: pretty(data) }))])));
    return parts;
  }

  function pretty(data) {
    try { return JSON.stringify(JSON.parse(data), null, 2); } catch { return String(data); }
  }

  return { render, report, h, OPERATORS };
})();
