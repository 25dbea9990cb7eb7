"""A state machine definition as a Graphviz DOT graph, for the console to lay out in the browser.

The server only writes DOT text; the browser lays it out with a WebAssembly Graphviz (@viz-js/viz),
so this module is pure: no I/O, and it reads the definition as plain JSON, which keeps it working
for odd but valid definitions (and for invalid ones: an unknown ``Next`` is skipped, not an error).

The shape of the graph (``rankdir=TB``, ``compound=true``):

- Synthetic ``start`` and ``end`` nodes, as in the AWS console: ``start -> StartAt``, and every
  top-level terminal state (``End: true``, Succeed, Fail) ``-> end``.
- Each state gets the id ``s0``, ``s1``, ... in depth-first definition order. Task, Pass, Wait,
  Choice, Succeed and Fail states are nodes; the label is the name, then the type (a Task adds a
  short form of its resource, ``Task (lambda:invoke)``), then ``↻ retry`` if it has a Retry.
- A Parallel state is ``subgraph cluster_sN`` holding one ``subgraph cluster_sN_b<i>`` per branch
  (labelled "Branch i+1"); a Map state is ``subgraph cluster_sN`` holding its ItemProcessor (or the
  legacy Iterator). Each such cluster holds two small point nodes, ``sN_in`` and ``sN_out``. Edges
  into the state end at ``sN_in`` with ``lhead=cluster_sN`` (so they stop at the cluster's border),
  edges out of it leave ``sN_out`` with ``ltail=cluster_sN``. Inside, ``sN_in`` points at each
  branch's StartAt, and each End or Succeed state of a branch points at ``sN_out``. A nested Fail
  state fails the enclosing state rather than leading on, so its edge to ``sN_out`` is invisible:
  it is there only to keep ``sN_out`` below the branch.
- Edges: ``Next`` solid; a Choice rule labelled with `choice_rule_text`; ``Default`` dashed and
  labelled "Default"; a Catch dashed, orange and labelled ``Catch: <errors>``.

Which SVG element carries which id (Graphviz copies ``id`` to the element and appends ``class`` to
its own class):

- Task, Pass, Wait, Choice, Succeed, Fail: ``<g id="sN" class="node state state-task">`` (the type
  lowercased).
- Parallel, Map: the cluster, ``<g id="sN" class="cluster state state-parallel">`` (or
  ``state-map``); its anchors are ``<g id="sN_in" class="node anchor">`` and ``sN_out``; a
  branch is ``<g id="sN_b0" class="cluster branch">``.
- Start and End: ``<g id="start" class="node endpoint endpoint-start">`` and ``id="end"``.
- Edges carry ``class="edge <kind>"``, the kind one of start, next, choice, default, catch, end,
  branch (anchor to StartAt, branch end to anchor) and layout (invisible).

Text is escaped for DOT's quoted strings and for Graphviz's label processing: a backslash is
doubled (so ``\\N`` or ``\\l`` in a name stays literal), a double quote escaped, ``&`` written
``&amp;`` (Graphviz decodes HTML entities in plain labels), and a newline becomes ``\\n``. The SVG
then shows the name exactly, after Graphviz's own XML escaping (which also writes ``-`` as
``&#45;``). Labels are never HTML-like.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Graphviz in the browser has no fonts to measure: it estimates text widths from built-in metrics,
# found by this exact name ("Helvetica,Arial,sans-serif" has none, so it would measure Times and
# cramp the text). For Helvetica the SVG says font-family="Helvetica,sans-Serif".
FONT = "Helvetica"
CATCH_COLOUR = "#eb5f07"
MAX_LABEL = 60  # characters in an edge label before it is cut with an ellipsis
MAX_RESOURCE = 40  # characters of a Task's short resource on its node

_INK = "#16191f"  # text
_LINE = "#7d8998"  # borders and edges
_MUTED = "#5f6b7a"

_GRAPH_DEFAULTS = (
    f'graph [rankdir="TB", compound="true", nodesep="0.5", ranksep="0.4", fontname="{FONT}", '
    f'fontsize="11", fontcolor="{_INK}", bgcolor="transparent", pad="0.2"];',
    f'node [shape="box", style="rounded,filled", fillcolor="#ffffff", color="{_LINE}", '
    f'fontcolor="{_INK}", fontname="{FONT}", fontsize="11", margin="0.16,0.06", height="0.4"];',
    f'edge [color="{_LINE}", fontcolor="#414d5c", fontname="{FONT}", fontsize="10", arrowsize="0.7"];',
)

# How each kind of state looks, on top of the node defaults above.
_NODE_STYLES: dict[str, dict[str, str]] = {
    "Task": {},
    "Pass": {"fillcolor": "#fafafa", "color": "#9ba7b6"},
    "Wait": {"fillcolor": "#fffcf2", "color": "#b08d1f"},
    "Choice": {"shape": "hexagon", "style": "filled", "fillcolor": "#f2f8fe", "color": "#0972d3"},
    "Succeed": {"fillcolor": "#f3fcf4", "color": "#037f0c", "penwidth": "1.3"},
    "Fail": {"fillcolor": "#fff6f6", "color": "#d91515", "penwidth": "1.3"},
}
# A subgraph inherits its parent's attributes, so every cluster sets all of its own (a Map in a
# branch would otherwise take the branch's small grey label).
_CLUSTER_TEXT = {"fontsize": "11", "fontcolor": _INK, "margin": "12"}
_CLUSTER_STYLES: dict[str, dict[str, str]] = {
    "Parallel": {"style": "rounded,filled", "fillcolor": "#fbfbfc", "color": "#414d5c"} | _CLUSTER_TEXT,
    "Map": {"style": "rounded,filled", "fillcolor": "#faf9ff", "color": "#6b5fd3"} | _CLUSTER_TEXT,
}
_BRANCH_STYLE = {"style": "rounded,dashed,filled", "fillcolor": "#ffffff", "color": "#b6bec9"}
_BRANCH_STYLE |= {"fontsize": "10", "fontcolor": _MUTED, "margin": "10"}
_ANCHOR_STYLE = {"shape": "point", "width": "0.07", "height": "0.07", "color": _LINE, "fillcolor": _LINE}
_ENDPOINT_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f4f4f4", "color": "#8c8c94"}
_ENDPOINT_STYLE |= {"fontsize": "10", "width": "0.6", "height": "0.3", "margin": "0.06,0.02"}

_COMPARISON_SYMBOLS = {"Equals": "==", "LessThan": "<", "GreaterThan": ">"}
_COMPARISON_SYMBOLS |= {"LessThanEquals": "<=", "GreaterThanEquals": ">="}
# Every comparison operator of the States Language (its ...Path twin reads the right side from the input).
_COMPARISONS = {
    f"{kind}{name}": symbol
    for kind in ("String", "Numeric", "Timestamp")
    for name, symbol in _COMPARISON_SYMBOLS.items()
} | {"BooleanEquals": "=="}
# Type tests: what true reads as, and what false reads as.
_TYPE_TESTS = {
    "IsNull": ("is null", "is not null"),
    "IsPresent": ("is present", "is not present"),
    "IsNumeric": ("is numeric", "is not numeric"),
    "IsString": ("is a string", "is not a string"),
    "IsBoolean": ("is boolean", "is not boolean"),
    "IsTimestamp": ("is a timestamp", "is not a timestamp"),
}
_STATES_ARN = re.compile(r"^arn:[^:]+:states:::(?:aws-sdk:)?(.+)$")
_LAMBDA_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)")
_ACTIVITY_ARN = re.compile(r"^arn:[^:]+:states:[^:]*:[^:]*:activity:(.+)$")
_UNSAFE_CLASS = re.compile(r"[^a-z0-9-]+")
_NEEDS_ESCAPE = re.compile(r'[\\"\r\n]')
_CONTROLS = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # Unicode's Cc, less CR and LF


@dataclass(frozen=True)
class GraphNode:
    """One state of the definition, as drawn."""

    id: str  # the DOT id ("s0", "s1", ...): a node, or for Parallel/Map the cluster's SVG id
    name: str  # the state's name as written in the definition
    type: str  # "Task", "Choice", "Pass", "Wait", "Succeed", "Fail", "Parallel" or "Map"
    path: str  # "" at top level, else the enclosing states and branches: "Parallel 1/0", "Process items"
    resource: str | None  # a Task's Resource, else None


@dataclass(frozen=True)
class Graph:
    """The DOT text of a state machine and the states it draws, in id order."""

    dot: str
    nodes: tuple[GraphNode, ...]

    def node_for(self, name: str) -> GraphNode | None:
        """The first node (in id order) of the state called ``name``, or None."""
        return next((node for node in self.nodes if node.name == name), None)


def build_graph(definition: str | dict[str, Any]) -> Graph:
    """Draw a state machine definition as DOT.

    Parameters:
      definition: the ASL, as JSON text or already parsed.

    Returns:
      The Graph: its DOT text (byte-identical for the same definition) and a GraphNode per state.

    Raises:
      ValueError: the text is not JSON, or the definition is not a JSON object.
    """
    document = json.loads(definition) if isinstance(definition, str) else definition
    if not isinstance(document, dict):
        raise ValueError("a state machine definition must be a JSON object")
    writer = _Writer()
    writer.scope(document, path="", indent=1, entry="start", finish="end")
    return Graph(dot=writer.render(), nodes=tuple(writer.nodes))


def choice_rule_text(rule: dict[str, Any]) -> str:
    """A Choice rule as a short label: ``$.credit >= 5000``, ``not ($.a == "x")``, a JSONata condition."""
    return _shorten(_rule_text(rule))


# -- choice rules -------------------------------------------------------------------------------


def _rule_text(rule: Any) -> str:
    if not isinstance(rule, dict):
        return "?"
    if "Condition" in rule:
        return _condition_text(rule["Condition"])
    for joiner in ("And", "Or"):
        if isinstance(rule.get(joiner), list):
            return f" {joiner.lower()} ".join(f"({_rule_text(part)})" for part in rule[joiner])
    if "Not" in rule:
        return f"not ({_rule_text(rule['Not'])})"
    variable = str(rule.get("Variable", "?"))
    for operator, operand in rule.items():
        test = _test_text(operator, operand)
        if test is not None:
            return f"{variable} {test}"
    return variable


def _test_text(operator: str, operand: Any) -> str | None:
    """The right-hand half of a comparison (``>= 5000``), or None if ``operator`` is not one."""
    if operator in _COMPARISONS:
        return f"{_COMPARISONS[operator]} {_literal(operand)}"
    if operator.endswith("Path") and operator[:-4] in _COMPARISONS:
        path = operand if isinstance(operand, str) else _literal(operand)
        return f"{_COMPARISONS[operator[:-4]]} {path}"
    if operator == "StringMatches":
        return f"matches {_literal(operand)}"
    if operator in _TYPE_TESTS:
        when_true, when_false = _TYPE_TESTS[operator]
        return when_true if operand else when_false
    return None


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _condition_text(condition: Any) -> str:
    """A JSONata Condition without its ``{% %}`` markers, on one line."""
    if not isinstance(condition, str):
        return _literal(condition)
    text = condition.strip()
    if text.startswith("{%") and text.endswith("%}"):
        text = text[2:-2]
    return " ".join(text.split())


def _shorten(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _short_resource(resource: str) -> str:
    """``arn:aws:states:::lambda:invoke`` -> ``lambda:invoke``; a function ARN -> ``lambda:<name>``."""
    for pattern, prefix in ((_STATES_ARN, ""), (_LAMBDA_ARN, "lambda:"), (_ACTIVITY_ARN, "activity:")):
        match = pattern.match(resource)
        if match:
            return _shorten(prefix + match.group(1), MAX_RESOURCE)
    return _shorten(resource, MAX_RESOURCE)


# -- DOT text -----------------------------------------------------------------------------------


def _quote(value: str) -> str:
    """A DOT quoted string; a newline becomes the two characters ``\\n`` (a label line break)."""
    if _NEEDS_ESCAPE.search(value) is None:  # most values: skip four passes over the text
        return f'"{value}"'
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n") + '"'


def _label(*lines: str) -> str:
    """Label text for `_quote`: Graphviz decodes HTML entities in labels, so ``&`` must be ``&amp;``."""
    return "\n".join(_printable(line).replace("&", "&amp;") for line in lines)


def _printable(text: str) -> str:
    # Controls other than line breaks would make the SVG ill-formed XML (the browser refuses it).
    return _CONTROLS.sub("\ufffd", text)


def _attributes(values: dict[str, str]) -> str:
    return "[" + ", ".join(f"{key}={_quote(value)}" for key, value in values.items()) + "]"


def _css_class(kind: str) -> str:
    return "state state-" + (_UNSAFE_CLASS.sub("-", kind.lower()).strip("-") or "unknown")


@dataclass(frozen=True)
class _Endpoint:
    """Where edges attach: a node, plus the cluster they clip at if the state is a Parallel or Map."""

    node: str
    cluster: str | None = None


@dataclass(frozen=True)
class _Placed:
    """A state as drawn: its edges come in at ``head`` and go out from ``tail``."""

    head: _Endpoint
    tail: _Endpoint


@dataclass
class _Writer:
    """Accumulates the DOT lines; edges are written last, at the top level, because an edge
    statement inside a subgraph would pull both its ends into that subgraph."""

    nodes: list[GraphNode] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)

    def render(self) -> str:
        start = _attributes({"id": "start", "class": "endpoint endpoint-start", "label": "Start"} | _ENDPOINT_STYLE)
        end = _attributes({"id": "end", "class": "endpoint endpoint-end", "label": "End"} | _ENDPOINT_STYLE)
        head = ['digraph "state machine" {', *(f"  {line}" for line in _GRAPH_DEFAULTS)]
        body = [f"  start {start};", f"  end {end};", *self.lines, *(f"  {edge}" for edge in self.edges)]
        return "\n".join([*head, *body, "}", ""])

    def line(self, indent: int, text: str) -> None:
        self.lines.append("  " * indent + text)

    def edge(self, tail: _Endpoint, head: _Endpoint, values: dict[str, str]) -> None:
        values = dict(values)
        # An edge from a cluster back into itself cannot be clipped at it (Graphviz would warn).
        if tail.cluster is not None and tail.cluster != head.cluster:
            values["ltail"] = tail.cluster
        if head.cluster is not None and head.cluster != tail.cluster:
            values["lhead"] = head.cluster
        self.edges.append(f"{tail.node} -> {head.node} {_attributes(values)};")

    # -- scopes: the top level, a branch, a Map's processor ----------------------------------------

    def scope(self, body: dict[str, Any], path: str, indent: int, entry: str, finish: str) -> None:
        """Draw the states of one scope; ``entry`` points at StartAt, terminal states at ``finish``."""
        states = body.get("States")
        placed: dict[str, _Placed] = {}
        for name, state in states.items() if isinstance(states, dict) else ():
            if isinstance(state, dict):
                placed[name] = self.state(str(name), state, path, indent)
        start = _find(placed, body.get("StartAt"))
        if start is not None:
            self.edge(_Endpoint(entry), start.head, {"class": "start" if entry == "start" else "branch"})
        for name, here in placed.items():
            self.transitions(here, states[name], placed, finish)

    def state(self, name: str, state: dict[str, Any], path: str, indent: int) -> _Placed:
        kind = state.get("Type") if isinstance(state.get("Type"), str) else "Unknown"
        resource = state.get("Resource") if kind == "Task" and isinstance(state.get("Resource"), str) else None
        node = GraphNode(id=f"s{len(self.nodes)}", name=name, type=kind, path=path, resource=resource)
        self.nodes.append(node)
        if kind in _CLUSTER_STYLES:
            return self.cluster(node, state, indent)
        values = {"id": node.id, "class": _css_class(kind), "label": _label(*_node_lines(node, state))}
        self.line(indent, f"{node.id} {_attributes(values | _NODE_STYLES.get(kind, {}))};")
        return _Placed(head=_Endpoint(node.id), tail=_Endpoint(node.id))

    def cluster(self, node: GraphNode, state: dict[str, Any], indent: int) -> _Placed:
        """A Parallel or a Map: a cluster with an entry and an exit anchor around its scopes."""
        cluster, entry, finish = f"cluster_{node.id}", f"{node.id}_in", f"{node.id}_out"
        self.line(indent, f"subgraph {cluster} {{")
        values = {"id": node.id, "class": _css_class(node.type), "label": _label(*_node_lines(node, state))}
        for key, value in (values | _CLUSTER_STYLES[node.type]).items():
            self.line(indent + 1, f"{key}={_quote(value)};")
        for anchor in (entry, finish):
            self.line(indent + 1, f"{anchor} {_attributes({'id': anchor, 'class': 'anchor'} | _ANCHOR_STYLE)};")
        inner = f"{node.path}/{node.name}" if node.path else node.name
        if node.type == "Parallel":
            self.branches(node, state.get("Branches"), inner, indent + 1)
        else:
            processor = state.get("ItemProcessor", state.get("Iterator"))
            if isinstance(processor, dict):
                self.scope(processor, inner, indent + 1, entry, finish)
        self.line(indent, "}")
        return _Placed(head=_Endpoint(entry, cluster), tail=_Endpoint(finish, cluster))

    def branches(self, node: GraphNode, branches: Any, path: str, indent: int) -> None:
        for index, branch in enumerate(branches if isinstance(branches, list) else ()):
            if not isinstance(branch, dict):
                continue
            name = f"{node.id}_b{index}"
            self.line(indent, f"subgraph cluster_{name} {{")
            values = {"id": name, "class": "branch", "label": f"Branch {index + 1}"} | _BRANCH_STYLE
            for key, value in values.items():
                self.line(indent + 1, f"{key}={_quote(value)};")
            self.scope(branch, f"{path}/{index}", indent + 1, f"{node.id}_in", f"{node.id}_out")
            self.line(indent, "}")

    # -- edges --------------------------------------------------------------------------------

    def transitions(self, here: _Placed, state: dict[str, Any], placed: dict[str, _Placed], finish: str) -> None:
        """The edges leaving one state: Next or Choice rules, the way out of its scope, its catchers."""
        kind = state.get("Type")
        if kind == "Choice":
            self.choices(here, state, placed)
        target = _find(placed, state.get("Next"))
        if target is not None:
            self.edge(here.tail, target.head, {"class": "next"})
        if state.get("End") is True or kind in ("Succeed", "Fail"):
            self.ending(here, kind, finish)
        catchers = state.get("Catch")
        for catcher in catchers if isinstance(catchers, list) else ():
            target = _find(placed, catcher.get("Next")) if isinstance(catcher, dict) else None
            if target is not None:
                self.edge(here.tail, target.head, _catch_edge(catcher.get("ErrorEquals")))

    def choices(self, here: _Placed, state: dict[str, Any], placed: dict[str, _Placed]) -> None:
        rules = state.get("Choices")
        for rule in rules if isinstance(rules, list) else ():
            target = _find(placed, rule.get("Next")) if isinstance(rule, dict) else None
            if target is not None:
                self.edge(here.tail, target.head, {"class": "choice", "label": _label(choice_rule_text(rule))})
        default = _find(placed, state.get("Default"))
        if default is not None:
            self.edge(here.tail, default.head, {"class": "default", "label": "Default", "style": "dashed"})

    def ending(self, here: _Placed, kind: Any, finish: str) -> None:
        """The edge from a terminal state to the End node, or to the exit anchor of its cluster."""
        if finish == "end":
            self.edge(here.tail, _Endpoint("end"), {"class": "end"})
        elif kind == "Fail":
            # A Fail inside a branch or a Map fails the enclosing state: nothing follows it there.
            self.edge(here.tail, _Endpoint(finish), {"class": "layout", "style": "invis"})
        else:
            self.edge(here.tail, _Endpoint(finish), {"class": "branch"})


def _find(placed: dict[str, _Placed], name: Any) -> _Placed | None:
    return placed.get(name) if isinstance(name, str) else None


def _node_lines(node: GraphNode, state: dict[str, Any]) -> list[str]:
    kind = node.type if node.resource is None else f"{node.type} ({_short_resource(node.resource)})"
    lines = [node.name, kind]
    if isinstance(state.get("Retry"), list) and state["Retry"]:
        lines.append("↻ retry")
    return lines


def _catch_edge(errors: Any) -> dict[str, str]:
    names = ", ".join(str(error) for error in errors) if isinstance(errors, list) else ""
    label = _label(_shorten(f"Catch: {names}"))
    return {"class": "catch", "label": label, "style": "dashed", "color": CATCH_COLOUR, "fontcolor": CATCH_COLOUR}
