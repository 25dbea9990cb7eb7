// The workflow studio's edits of a definition: plain functions from a definition (a parsed ASL
// object) to a new one. The page (studio.js) keeps one definition and re-draws every view from it;
// nothing here touches the page.
//
// Where a state is: a "scope" lists the Parallel branches and Map processors around it, outermost
// first, each as [the Parallel or Map state's name, its branch index or "items"]; with the state's
// name that makes a selection, {scope, name}. A Parallel branch itself is selected as {scope: the
// branch's scope, name: null}.
"use strict";

const StudioModel = (() => {
  const CHAINABLE = new Set(["Task", "Pass", "Wait", "Parallel", "Map"]);  // the types that have Next or End
  // AWS's Workflow Studio gives every new Lambda Invoke this retrier for Lambda's transient errors.
  const LAMBDA_RETRY = {
    ErrorEquals: ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"],
    IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: "FULL",
  };
  const TOKEN = "$$.Task.Token";
  const CALLBACK = ".waitForTaskToken";

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const clone = (value) => structuredClone(value);

  // -- finding things ------------------------------------------------------------------------

  function blockAt(definition, scope) {
    let block = definition;
    for (const [name, branch] of scope || []) {
      const state = block && isObject(block.States) ? block.States[name] : undefined;
      if (!isObject(state)) return undefined;
      block = branch === "items" ? (state.ItemProcessor || state.Iterator) : (state.Branches || [])[branch];
      if (!isObject(block)) return undefined;
    }
    return block;
  }

  function stateAt(definition, selection) {
    if (!selection || selection.name == null) return undefined;
    const block = blockAt(definition, selection.scope);
    const state = block && isObject(block.States) ? block.States[selection.name] : undefined;
    return isObject(state) ? state : undefined;
  }

  function exists(definition, selection) {
    if (!selection) return false;
    return selection.name == null ? isObject(blockAt(definition, selection.scope)) : Boolean(stateAt(definition, selection));
  }

  function sameSelection(a, b) {
    return Boolean(a && b) && a.name === b.name && JSON.stringify(a.scope) === JSON.stringify(b.scope);
  }

  // Every name in the machine: AWS wants them unique across the whole definition, nested ones too.
  function allNames(block, into = new Set()) {
    for (const [name, state] of Object.entries(isObject(block.States) ? block.States : {})) {
      into.add(name);
      if (!isObject(state)) continue;
      for (const inner of innerBlocks(state)) allNames(inner, into);
    }
    return into;
  }

  function innerBlocks(state) {
    if (state.Type === "Parallel") return (Array.isArray(state.Branches) ? state.Branches : []).filter(isObject);
    if (state.Type === "Map") return [state.ItemProcessor || state.Iterator].filter(isObject);
    return [];
  }

  function uniqueName(definition, base) {
    const taken = allNames(definition);
    if (!taken.has(base)) return base;
    let n = 1;
    while (taken.has(`${base} (${n})`)) n += 1;
    return `${base} (${n})`;
  }

  // The fields of a block that name one of its states: [holder, key, who] (who: the state holding
  // the field, or null for the block's StartAt).
  function references(block) {
    const found = [[block, "StartAt", null]];
    for (const [name, state] of Object.entries(isObject(block.States) ? block.States : {})) {
      if (!isObject(state)) continue;
      for (const key of ["Next", "Default"]) if (typeof state[key] === "string") found.push([state, key, name]);
      for (const list of [state.Choices, state.Catch]) {
        for (const item of Array.isArray(list) ? list : []) {
          if (isObject(item) && typeof item.Next === "string") found.push([item, "Next", name]);
        }
      }
    }
    return found;
  }

  // The states of a block in order, as [name, state] pairs.
  const entries = (block) => Object.entries(isObject(block.States) ? block.States : {});

  // States is an object whose key order is the order the code shows; rebuild it to reorder or rename.
  function rebuild(block, pairs) { block.States = Object.fromEntries(pairs); }

  // -- adding a state -----------------------------------------------------------------------

  // Where the palette puts a new state, given the selection and the "inside" choice.
  function placementOf(definition, selection, inside) {
    if (!selection) return { kind: "append", scope: [] };
    if (selection.name == null) return { kind: "append", scope: selection.scope };
    const state = stateAt(definition, selection);
    if (inside && state && state.Type === "Parallel") return { kind: "branch", selection };
    if (inside && state && state.Type === "Map") return { kind: "append", scope: [...selection.scope, [selection.name, "items"]], map: selection };
    return { kind: "after", selection };
  }

  // Insert `template` (a state without its transition) named after `base`; returns the new
  // definition, the new state's selection and a note saying what was connected.
  function insert(definition, selection, inside, base, template) {
    const next = clone(definition);
    const name = uniqueName(next, base);
    const state = clone(template);
    const where = placementOf(next, selection, inside);
    if (where.kind === "branch") {
      const parallel = stateAt(next, where.selection);
      if (!Array.isArray(parallel.Branches)) parallel.Branches = [];
      parallel.Branches.push({ StartAt: name, States: { [name]: ending(state) } });
      const scope = [...where.selection.scope, [where.selection.name, parallel.Branches.length - 1]];
      return { definition: next, selection: { scope, name }, note: `Added “${name}” as branch ${parallel.Branches.length} of “${where.selection.name}”.` };
    }
    if (where.map) ensureProcessor(stateAt(next, where.map));
    const block = where.kind === "after" ? blockAt(next, where.selection.scope) : blockAt(next, where.scope);
    const scope = where.kind === "after" ? where.selection.scope : where.scope;
    const container = scope.length ? `“${scope[scope.length - 1][0]}”` : "the workflow";
    const note = where.kind === "after" ? insertAfter(block, where.selection.name, name, state) : append(block, name, state, container);
    return { definition: next, selection: { scope, name }, note };
  }

  function ensureProcessor(map) {
    if (!isObject(map.ItemProcessor) && !isObject(map.Iterator)) {
      map.ItemProcessor = { ProcessorConfig: { Mode: "INLINE" }, StartAt: "", States: {} };
    }
  }

  function ending(state) {
    if (CHAINABLE.has(state.Type)) state.End = true;
    return state;
  }

  // At the end of a block: after its last state that ends it, or first if none does.
  function append(block, name, state, inside) {
    if (!isObject(block.States)) block.States = {};
    const pairs = entries(block);
    if (pairs.length === 0) {
      block.StartAt = name;
      block.States[name] = ending(state);
      return `Added “${name}”: ${inside} starts with it.`;
    }
    const last = [...pairs].reverse().find(([, s]) => isObject(s) && s.End === true);
    if (last) return insertAfter(block, last[0], name, state);
    // Nothing ends with End: true (the block ends in Succeed or Fail): the new state goes first.
    const first = block.StartAt;
    linkTo(state, first);
    block.StartAt = name;
    rebuild(block, [[name, state], ...pairs]);
    return `Added “${name}” at the start, before “${first}”.`;
  }

  // Make `state` go on to `target` (a Choice: by default), or end there when target is absent.
  function linkTo(state, target) {
    if (state.Type === "Choice") { if (target) state.Default = target; return; }
    if (!CHAINABLE.has(state.Type)) return;
    if (target) state.Next = target; else state.End = true;
  }

  function insertAfter(block, after, name, state) {
    const previous = block.States[after];
    let note;
    if (previous.Type === "Choice") {
      note = joinChoice(previous, after, name);
      ending(state);
    } else if (CHAINABLE.has(previous.Type)) {
      const target = previous.End === true ? null : previous.Next;
      if (CHAINABLE.has(state.Type) || state.Type === "Choice") linkTo(state, target);
      delete previous.End;
      previous.Next = name;
      note = target ? `Added “${name}” between “${after}” and “${target}”.` : `Added “${name}” after “${after}”.`;
      if (target && !CHAINABLE.has(state.Type) && state.Type !== "Choice") {
        note += ` It ends the workflow, so nothing leads to “${target}” any more.`;
      }
    } else {
      ending(state);
      note = `Added “${name}”. “${after}” ends the workflow, so choose which state leads to “${name}”.`;
    }
    const pairs = entries(block);
    const at = pairs.findIndex(([n]) => n === after) + 1;
    pairs.splice(at, 0, [name, state]);
    rebuild(block, pairs);
    return note;
  }

  // After a Choice: the new state is its default, or (if it has one) the target of a new rule
  // whose condition the form asks for.
  function joinChoice(choice, choiceName, name) {
    if (typeof choice.Default !== "string") {
      choice.Default = name;
      return `Added “${name}” as the default of “${choiceName}”.`;
    }
    if (!Array.isArray(choice.Choices)) choice.Choices = [];
    choice.Choices.push({ Variable: "$", Next: name });
    return `Added “${name}” after a new rule of “${choiceName}”: give the rule its condition.`;
  }

  function addBranch(definition, selection) {
    const next = clone(definition);
    const parallel = stateAt(next, selection);
    if (!Array.isArray(parallel.Branches)) parallel.Branches = [];
    parallel.Branches.push({ StartAt: "", States: {} });
    const scope = [...selection.scope, [selection.name, parallel.Branches.length - 1]];
    return { definition: next, selection: { scope, name: null } };
  }

  function removeBranch(definition, selection) {
    const next = clone(definition);
    const [parallelName, index] = selection.scope[selection.scope.length - 1];
    const parallelAt = { scope: selection.scope.slice(0, -1), name: parallelName };
    stateAt(next, parallelAt).Branches.splice(index, 1);
    return { definition: next, selection: parallelAt };
  }

  // -- renaming, deleting, moving ------------------------------------------------------------

  // Rename a state and every field of its block that names it. Throws when the name cannot be used.
  function rename(definition, selection, newName) {
    const name = newName.trim();
    if (!name) throw new Error("A state needs a name.");
    if (name.length > 80) throw new Error("A state name is 80 characters at most.");
    if (name === selection.name) return { definition, selection };
    if (allNames(definition).has(name)) throw new Error(`There is already a state named “${name}”.`);
    const next = clone(definition);
    const block = blockAt(next, selection.scope);
    for (const [holder, key] of references(block)) if (holder[key] === selection.name) holder[key] = name;
    rebuild(block, entries(block).map(([n, s]) => [n === selection.name ? name : n, s]));
    return { definition: next, selection: { scope: selection.scope, name } };
  }

  // Delete a state; what pointed at it now points where it went. Returns a note of what was
  // repaired and what is left for the person to choose (the validator marks those).
  function remove(definition, selection) {
    const next = clone(definition);
    const block = blockAt(next, selection.scope);
    const gone = block.States[selection.name];
    const target = gone.Type === "Choice" ? gone.Default : gone.Next;
    const ended = gone.End === true;
    const repaired = [], endNow = [], broken = [];
    for (const [holder, key, who] of references(block)) {
      if (who === selection.name || holder[key] !== selection.name) continue;
      const label = who === null ? "the start" : `“${who}”`;
      if (typeof target === "string" && target !== selection.name) { holder[key] = target; repaired.push(label); }
      else if (ended && key === "Next" && holder === block.States[who]) { delete holder.Next; holder.End = true; endNow.push(label); }
      else broken.push(label);
    }
    rebuild(block, entries(block).filter(([n]) => n !== selection.name));
    return { definition: next, note: deletionNote(selection.name, target, repaired, endNow, broken) };
  }

  function deletionNote(name, target, repaired, endNow, broken) {
    const parts = [`Deleted “${name}”.`];
    if (repaired.length) parts.push(`${listed(repaired)} now ${repaired.length > 1 ? "go" : "goes"} to “${target}”.`);
    if (endNow.length) parts.push(`${listed(endNow)} now ${endNow.length > 1 ? "end" : "ends"} the workflow.`);
    if (broken.length) parts.push(`${listed(broken)} pointed at it and ${broken.length > 1 ? "have" : "has"} nowhere to go: choose ${broken.length > 1 ? "their" : "its"} next state (marked as a problem).`);
    return parts.join(" ");
  }

  function listed(items) {
    const text = items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}` : items[0];
    return capitalised(text);
  }
  const capitalised = (text) => text.charAt(0).toUpperCase() + text.slice(1);

  // Move a state up or down in its block's States (the order the code lists them in).
  function move(definition, selection, delta) {
    const next = clone(definition);
    const block = blockAt(next, selection.scope);
    const pairs = entries(block);
    const at = pairs.findIndex(([n]) => n === selection.name);
    const to = at + delta;
    if (at < 0 || to < 0 || to >= pairs.length) return null;
    [pairs[at], pairs[to]] = [pairs[to], pairs[at]];
    rebuild(block, pairs);
    return next;
  }

  // Point a state's Next at `target`, or make it end the workflow (target null).
  function setNext(state, target) {
    if (target) { delete state.End; state.Next = target; } else { delete state.Next; state.End = true; }
  }

  // -- Task resources ----------------------------------------------------------------------------

  const isCallback = (state) => typeof state.Resource === "string" && state.Resource.endsWith(CALLBACK);
  const baseResource = (resource) => (typeof resource === "string" && resource.endsWith(CALLBACK) ? resource.slice(0, -CALLBACK.length) : resource || "");

  // "Wait for callback": the resource's .waitForTaskToken, and the token in what the task sends
  // (an SNS message, a Lambda payload, or the parameters themselves).
  function setCallback(state, on, jsonata = false) {
    const base = baseResource(state.Resource);
    state.Resource = on ? base + CALLBACK : base;
    const holder = jsonata ? "Arguments" : "Parameters";
    if (!isObject(state[holder])) state[holder] = {};
    const parameters = state[holder];
    // JSONPath names a path with ".$"; JSONata writes an expression in {% %}.
    const [tokenKey, token] = jsonata ? ["TaskToken", "{% $states.context.Task.Token %}"] : ["TaskToken.$", TOKEN];
    const field = base.endsWith(":sns:publish") ? "Message" : base.endsWith(":lambda:invoke") ? "Payload" : null;
    if (on) {
      if (field === null) { parameters[tokenKey] = token; return; }
      if (!isObject(parameters[field])) parameters[field] = carried(parameters, field);
      parameters[field][tokenKey] = token;
    } else {
      delete parameters[tokenKey];
      for (const key of ["Message", "Payload"]) if (isObject(parameters[key])) delete parameters[key][tokenKey];
    }
  }

  // What a field sent before it became an object carrying the token: kept inside it.
  function carried(parameters, field) {
    const object = {};
    if (typeof parameters[`${field}.$`] === "string") object["Input.$"] = parameters[`${field}.$`];
    else if (field in parameters) object.Input = parameters[field];
    delete parameters[`${field}.$`];
    delete parameters[field];
    return object;
  }

  // -- what each palette button adds ---------------------------------------------------------

  // The state a palette button adds, with the resources and parameters AWS's Workflow Studio uses
  // (and its first function, topic, table or state machine, changed in the form).
  function template(kind, palette, jsonata = false) {
    const made = jsonPathTemplate(kind, palette);
    return made && jsonata ? forJsonata(made) : made;
  }

  // A JSONata state takes Arguments and Output instead of Parameters and the paths.
  function forJsonata(state) {
    const out = { ...state };
    if (isObject(out.Parameters)) {
      out.Arguments = Object.fromEntries(Object.entries(out.Parameters).map(([key, value]) =>
        (key.endsWith(".$") ? [key.slice(0, -2), `{% ${value === "$" ? "$states.input" : value} %}`] : [key, value])));
      delete out.Parameters;
    }
    if (out.OutputPath === "$.Payload") out.Output = "{% $states.result.Payload %}";
    delete out.OutputPath;
    return out;
  }

  function jsonPathTemplate(kind, palette) {
    const first = (items, pick) => (items && items.length ? pick(items[0]) : "");
    const task = (resource, parameters) => ({ Type: "Task", Resource: `arn:aws:states:::${resource}`, Parameters: parameters });
    switch (kind) {
      case "Pass": return { Type: "Pass" };
      case "Choice": return { Type: "Choice", Choices: [] };
      case "Parallel": return { Type: "Parallel", Branches: [] };
      case "Map": return { Type: "Map", ItemProcessor: { ProcessorConfig: { Mode: "INLINE" }, StartAt: "", States: {} } };
      case "Wait": return { Type: "Wait", Seconds: 5 };
      case "Succeed": return { Type: "Succeed" };
      case "Fail": return { Type: "Fail" };
      case "Lambda Invoke": return {
        ...task("lambda:invoke", { FunctionName: first(palette.functions, (f) => f.arn), "Payload.$": "$" }),
        Retry: [clone(LAMBDA_RETRY)], OutputPath: "$.Payload",
      };
      case "SNS Publish": return task("sns:publish", { TopicArn: first(palette.topics, (t) => t.arn), "Message.$": "$" });
      case "DynamoDB GetItem": return task("dynamodb:getItem", { TableName: first(palette.tables, (t) => t), Key: {} });
      case "DynamoDB PutItem": return task("dynamodb:putItem", { TableName: first(palette.tables, (t) => t), Item: {} });
      case "DynamoDB Scan": return task("aws-sdk:dynamodb:scan", { TableName: first(palette.tables, (t) => t) });
      case "Step Functions StartExecution": return task("states:startExecution", { StateMachineArn: first(palette.machines, (m) => m.arn), "Input.$": "$" });
      case "HTTP Task": return task("http:invoke", { ApiEndpoint: "https://example.com", Method: "GET" });
      default: return null;
    }
  }

  return {
    CHAINABLE, LAMBDA_RETRY, template, TOKEN, isObject, clone, blockAt, stateAt, exists, sameSelection, uniqueName,
    placementOf, insert, addBranch, removeBranch, rename, remove, move, setNext, isCallback, baseResource,
    setCallback,
  };
})();

// Where each part of a definition's text is: the line of every JSON pointer, so a problem the
// validator reports at /States/Fetch/Next can be marked at its line in the code.
const StudioJson = (() => {
  function lines(source) {
    const found = new Map();
    let at = 0;
    let line = 0;
    const note = (pointer) => { if (!found.has(pointer)) found.set(pointer, line); };
    function blank() {
      while (at < source.length && " \t\r\n".includes(source[at])) { if (source[at] === "\n") line += 1; at += 1; }
    }
    function string() {
      const begin = at;
      at += 1;
      while (at < source.length && source[at] !== '"') at += source[at] === "\\" ? 2 : 1;
      at += 1;
      return JSON.parse(source.slice(begin, at));
    }
    function members(pointer, close, key) {
      at += 1;
      for (let index = 0; ; index += 1) {
        blank();
        if (source[at] === close) { at += 1; return; }
        const child = `${pointer}/${key(index)}`;
        note(child);
        value(child);
        blank();
        if (source[at] === ",") at += 1;
      }
    }
    function value(pointer) {
      blank();
      note(pointer);
      const c = source[at];
      if (c === "{") {
        members(pointer, "}", () => {
          const name = string().replace(/~/g, "~0").replace(/\//g, "~1");
          blank();
          at += 1;  // the colon
          return name;
        });
      } else if (c === "[") members(pointer, "]", (index) => index);
      else if (c === '"') string();
      else { while (at < source.length && !",]} \t\r\n".includes(source[at])) at += 1; }
    }
    try { value(""); } catch { /* broken JSON: what was found so far */ }
    return found;
  }

  // The line of a pointer, or of the nearest part of it that is in the text (null: none).
  function lineOf(found, pointer) {
    for (let p = pointer || ""; p; p = p.slice(0, p.lastIndexOf("/"))) if (found.has(p)) return found.get(p);
    return null;
  }

  return { lines, lineOf };
})();
