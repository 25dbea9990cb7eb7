"""Tests of orchestrator.console.graph: an ASL definition as a Graphviz DOT graph.

No Graphviz runs here (CI has none): `parse_dot` reads back the DOT the module writes, checking that
it is well formed (quoted strings closed, braces balanced, every edge's ends declared), and
`label_text` undoes the escaping the way Graphviz does, so a test can see the text the SVG shows.
"""

from __future__ import annotations

import copy
import html
import itertools
import json
import re
from dataclasses import FrozenInstanceError, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orchestrator.console.graph import CATCH_COLOUR, Graph, build_graph, choice_rule_text
from tests.shared import shared_folder

CHECKOUT = Path(__file__).resolve().parents[2]
CREDIT = CHECKOUT / "examples" / "credit-application" / "statemachine.asl.json"

# -- reading the DOT back -------------------------------------------------------------------------

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|->|[{}\[\];=,]|[A-Za-z0-9_.]+')


@dataclass
class Dot:
    """What a DOT text declares: nodes and clusters with their attributes and enclosing clusters."""

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    node_clusters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)
    cluster_parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def edges_between(self, tail: str, head: str) -> list[dict[str, str]]:
        return [attrs for t, h, attrs in self.edges if (t, h) == (tail, head)]


def _unquote(token: str) -> str:
    """An attribute value as DOT's scanner reads it: only ``\\"`` is an escape there."""
    return token[1:-1].replace('\\"', '"') if token.startswith('"') else token


def label_text(value: str) -> str:
    """A plain label as Graphviz shows it: ``\\\\`` -> ``\\``, ``\\n`` -> a line break, entities decoded."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append("\n" if value[i + 1] in "nlr" else value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return html.unescape("".join(out))


def parse_dot(text: str) -> Dot:
    """Read the subset of DOT the module writes, failing on anything malformed."""
    assert not _TOKEN.sub(" ", text).strip(), "stray characters (an unclosed string?)"
    tokens = _TOKEN.findall(text)
    assert tokens[:3] == ["digraph", '"state machine"', "{"] and tokens[-1] == "}"
    dot = Dot()
    end = _statements(tokens, 3, (), dot)
    assert end == len(tokens) - 1, "braces are not balanced"
    for tail, head, _ in dot.edges:
        assert tail in dot.nodes and head in dot.nodes, f"edge {tail} -> {head} has an undeclared end"
    return dot


def _statements(tokens: list[str], i: int, clusters: tuple[str, ...], dot: Dot) -> int:
    """Read statements from ``tokens[i]`` up to the closing brace; returns the brace's index."""
    while tokens[i] != "}":
        if tokens[i] == "subgraph":
            name = tokens[i + 1]
            assert tokens[i + 2] == "{" and name not in dot.clusters
            dot.clusters[name], dot.cluster_parents[name] = {}, clusters
            i = _statements(tokens, i + 3, (*clusters, name), dot) + 1
        elif tokens[i + 1] == "=":
            assert tokens[i + 3] == ";"
            dot.clusters[clusters[-1]][tokens[i]] = _unquote(tokens[i + 2])
            i += 4
        elif tokens[i + 1] == "->":
            tail, head = tokens[i], tokens[i + 2]
            attrs, i = _attributes(tokens, i + 3)
            dot.edges.append((tail, head, attrs))
        else:
            name = tokens[i]
            attrs, i = _attributes(tokens, i + 1)
            if name not in ("graph", "node", "edge"):
                assert name not in dot.nodes, f"node {name} declared twice"
                dot.nodes[name], dot.node_clusters[name] = attrs, clusters
    return i


def _attributes(tokens: list[str], i: int) -> tuple[dict[str, str], int]:
    """``[k=v, ...];`` from ``tokens[i]``; returns the attributes and the index after the ``;``."""
    assert tokens[i] == "[", f"expected attributes at {tokens[i - 2 : i + 2]}"
    attrs: dict[str, str] = {}
    i += 1
    while tokens[i] != "]":
        assert tokens[i + 1] == "=", tokens[i : i + 3]
        attrs[tokens[i]] = _unquote(tokens[i + 2])
        i += 3
        if tokens[i] == ",":
            i += 1
    assert tokens[i + 1] == ";"
    return attrs, i + 2


# -- the definitions ----------------------------------------------------------------------------


def declared_states(body: dict[str, Any], path: str = "") -> list[tuple[str, str, str]]:
    """(name, type, path) of every state in a definition, nested ones included, in definition order."""
    found = []
    states = body.get("States")
    for name, state in states.items() if isinstance(states, dict) else ():
        if not isinstance(state, dict):
            continue
        found.append((name, state.get("Type"), path))
        inner = f"{path}/{name}" if path else name
        for index, branch in enumerate(state.get("Branches") or ()):
            found += declared_states(branch, f"{inner}/{index}")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found += declared_states(processor, inner)
    return found


def credit() -> dict[str, Any]:
    return json.loads(CREDIT.read_text())


def sample_files() -> list[Path]:
    """The sample definitions that are ASL as they stand: those that still hold CloudFormation
    intrinsics (Fn::Sub, Ref) are templates, not definitions, and are left out by name here."""
    folder = shared_folder("ORCHESTRATOR_SAMPLES_DIR", "samples", "definitions")
    paths = sorted((folder / "definitions").glob("*.json"))
    return [p for p in paths if not json.loads(p.read_text()).get("has_cfn_intrinsics")]


def element_for(dot: Dot, graph: Graph, name: str) -> dict[str, str]:
    """The attributes of the DOT element carrying a state's id: its node, or its cluster."""
    node = graph.node_for(name)
    assert node is not None, name
    if node.type in ("Parallel", "Map"):
        return dot.clusters[f"cluster_{node.id}"]
    return dot.nodes[node.id]


def head_of(graph: Graph, name: str) -> str:
    """The DOT node an edge into the state points at (a cluster's entry anchor)."""
    node = graph.node_for(name)
    assert node is not None, name
    return f"{node.id}_in" if node.type in ("Parallel", "Map") else node.id


def tail_of(graph: Graph, name: str) -> str:
    node = graph.node_for(name)
    assert node is not None, name
    return f"{node.id}_out" if node.type in ("Parallel", "Map") else node.id


# -- the credit application -----------------------------------------------------------------------


def test_credit_application_has_a_node_of_the_right_type_for_each_state() -> None:
    # Given the credit-application example
    definition = credit()

    # When it is drawn
    graph = build_graph(CREDIT.read_text())
    dot = parse_dot(graph.dot)

    # Then each declared state is a node of its type, at its place, with its element in the DOT
    expected = declared_states(definition)
    assert [(n.name, n.type, n.path) for n in graph.nodes] == expected
    assert len(expected) == 12
    assert [n.id for n in graph.nodes] == [f"s{i}" for i in range(12)]
    for node in graph.nodes:
        attrs = element_for(dot, graph, node.name)
        assert attrs["id"] == node.id
        assert attrs["class"] == f"state state-{node.type.lower()}"
        assert label_text(attrs["label"]).split("\n")[0] == node.name
    verify = graph.node_for("Verify identity")
    assert verify is not None and verify.path == "Verify applicant's identity and address/0"
    scores = graph.node_for("Get all scores")
    assert scores is not None and scores.path == "Get scores from all credit bureaus"
    assert scores.resource == "arn:aws:states:::lambda:invoke"
    assert graph.node_for("Credit limit approved").resource is None  # type: ignore[union-attr]
    assert graph.node_for("No such state") is None


def test_credit_application_labels_say_the_type_the_resource_and_retry() -> None:
    graph = build_graph(credit())
    dot = parse_dot(graph.dot)

    def lines(name: str) -> list[str]:
        return label_text(element_for(dot, graph, name)["label"]).split("\n")

    assert lines("Get credit limit") == ["Get credit limit", "Task (lambda:invoke)", "↻ retry"]
    assert lines("Wait for human approval") == ["Wait for human approval", "Task (sns:publish.waitForTaskToken)"]
    assert lines("Get list of credit bureaus") == ["Get list of credit bureaus", "Task (dynamodb:scan)"]
    assert lines("Credit applied >= 5000?") == ["Credit applied >= 5000?", "Choice"]
    assert lines("Verify applicant's identity and address")[1] == "Parallel"
    assert lines("Get scores from all credit bureaus") == ["Get scores from all credit bureaus", "Map"]


def test_credit_application_choice_edges_carry_their_rules_and_the_default_is_dashed() -> None:
    graph = build_graph(credit())
    dot = parse_dot(graph.dot)
    choice = tail_of(graph, "Credit applied >= 5000?")

    (low,) = dot.edges_between(choice, head_of(graph, "Auto-approve limit"))
    assert (low["label"], low["class"]) == ("$.credit.limit < 5000", "choice")
    high, default = dot.edges_between(choice, head_of(graph, "Wait for human approval"))
    assert (high["label"], high["class"]) == ("$.credit.limit >= 5000", "choice")
    assert "style" not in high
    assert (default["label"], default["class"], default["style"]) == ("Default", "default", "dashed")


def test_credit_application_catch_edge_is_dashed_orange_and_names_the_errors() -> None:
    graph = build_graph(credit())
    dot = parse_dot(graph.dot)

    (catch,) = dot.edges_between(tail_of(graph, "Get all scores"), head_of(graph, "Score unavailable"))
    assert catch["label"] == "Catch: States.ALL"
    assert (catch["style"], catch["color"], catch["class"]) == ("dashed", CATCH_COLOUR, "catch")
    assert CATCH_COLOUR == "#eb5f07"
    nexts = [attrs for _, _, attrs in dot.edges if attrs["class"] == "next"]
    assert nexts and all("style" not in attrs and "color" not in attrs for attrs in nexts)


def test_credit_application_start_end_and_cluster_edges() -> None:
    graph = build_graph(credit())
    dot = parse_dot(graph.dot)

    # Start and End are synthetic nodes
    assert dot.nodes["start"]["id"] == "start" and label_text(dot.nodes["start"]["label"]) == "Start"
    assert dot.nodes["end"]["id"] == "end" and label_text(dot.nodes["end"]["label"]) == "End"
    assert dot.edges_between("start", head_of(graph, "Get credit limit"))
    # the last state is a Map with End: true: its edge leaves the cluster
    (last,) = dot.edges_between("s9_out", "end")
    assert last["ltail"] == "cluster_s9" and "lhead" not in last
    # an edge into the Parallel stops at the cluster's border, its Next edge leaves from it
    (into,) = dot.edges_between(tail_of(graph, "Credit limit approved"), "s5_in")
    assert into["lhead"] == "cluster_s5"
    (out,) = dot.edges_between("s5_out", tail_of(graph, "Get list of credit bureaus"))
    assert out["ltail"] == "cluster_s5"
    # inside, the entry anchor feeds each branch and each branch's end reaches the exit anchor
    assert dot.edges_between("s5_in", "s6") and dot.edges_between("s5_in", "s7")
    assert dot.edges_between("s6", "s5_out") and dot.edges_between("s7", "s5_out")
    assert re.search(r'^  graph \[rankdir="TB", compound="true"', graph.dot, re.M)


def test_credit_application_clusters_nest_branches_and_the_map_processor() -> None:
    graph = build_graph(credit())
    dot = parse_dot(graph.dot)

    parallel = dot.clusters["cluster_s5"]
    assert (parallel["id"], parallel["class"]) == ("s5", "state state-parallel")
    assert label_text(parallel["label"]) == "Verify applicant's identity and address\nParallel"
    assert dot.cluster_parents["cluster_s5_b0"] == ("cluster_s5",)
    assert label_text(dot.clusters["cluster_s5_b0"]["label"]) == "Branch 1"
    assert label_text(dot.clusters["cluster_s5_b1"]["label"]) == "Branch 2"
    assert dot.node_clusters["s6"] == ("cluster_s5", "cluster_s5_b0")
    assert dot.node_clusters["s7"] == ("cluster_s5", "cluster_s5_b1")
    assert dot.node_clusters["s5_in"] == dot.node_clusters["s5_out"] == ("cluster_s5",)
    map_cluster = dot.clusters["cluster_s9"]
    assert (map_cluster["id"], map_cluster["class"]) == ("s9", "state state-map")
    assert dot.node_clusters["s10"] == dot.node_clusters["s11"] == ("cluster_s9",)
    assert dot.node_clusters["s8"] == ()


# -- choice rules ---------------------------------------------------------------------------------

COMPARISONS = [
    ("StringEquals", "x", '$.v == "x"'),
    ("StringLessThan", "b", '$.v < "b"'),
    ("StringGreaterThan", "b", '$.v > "b"'),
    ("StringLessThanEquals", "b", '$.v <= "b"'),
    ("StringGreaterThanEquals", "b", '$.v >= "b"'),
    ("NumericEquals", 3, "$.v == 3"),
    ("NumericLessThan", 2.5, "$.v < 2.5"),
    ("NumericGreaterThan", -1, "$.v > -1"),
    ("NumericLessThanEquals", 0, "$.v <= 0"),
    ("NumericGreaterThanEquals", 5000, "$.v >= 5000"),
    ("BooleanEquals", True, "$.v == true"),
    ("TimestampEquals", "2024-01-01T00:00:00Z", '$.v == "2024-01-01T00:00:00Z"'),
    ("TimestampLessThan", "2024-01-01T00:00:00Z", '$.v < "2024-01-01T00:00:00Z"'),
    ("TimestampGreaterThan", "2024-01-01T00:00:00Z", '$.v > "2024-01-01T00:00:00Z"'),
    ("TimestampLessThanEquals", "2024-01-01T00:00:00Z", '$.v <= "2024-01-01T00:00:00Z"'),
    ("TimestampGreaterThanEquals", "2024-01-01T00:00:00Z", '$.v >= "2024-01-01T00:00:00Z"'),
    ("StringEqualsPath", "$.w", "$.v == $.w"),
    ("StringLessThanPath", "$.w", "$.v < $.w"),
    ("StringGreaterThanPath", "$.w", "$.v > $.w"),
    ("StringLessThanEqualsPath", "$.w", "$.v <= $.w"),
    ("StringGreaterThanEqualsPath", "$.w", "$.v >= $.w"),
    ("NumericEqualsPath", "$.w", "$.v == $.w"),
    ("NumericLessThanPath", "$.w", "$.v < $.w"),
    ("NumericGreaterThanPath", "$.w", "$.v > $.w"),
    ("NumericLessThanEqualsPath", "$.w", "$.v <= $.w"),
    ("NumericGreaterThanEqualsPath", "$$.Execution.Input.quorum", "$.v >= $$.Execution.Input.quorum"),
    ("BooleanEqualsPath", "$.w", "$.v == $.w"),
    ("TimestampEqualsPath", "$.w", "$.v == $.w"),
    ("TimestampLessThanPath", "$.w", "$.v < $.w"),
    ("TimestampGreaterThanPath", "$.w", "$.v > $.w"),
    ("TimestampLessThanEqualsPath", "$.w", "$.v <= $.w"),
    ("TimestampGreaterThanEqualsPath", "$.w", "$.v >= $.w"),
    ("StringMatches", "x*", '$.v matches "x*"'),
    ("IsNull", True, "$.v is null"),
    ("IsNull", False, "$.v is not null"),
    ("IsPresent", True, "$.v is present"),
    ("IsPresent", False, "$.v is not present"),
    ("IsNumeric", True, "$.v is numeric"),
    ("IsNumeric", False, "$.v is not numeric"),
    ("IsString", True, "$.v is a string"),
    ("IsString", False, "$.v is not a string"),
    ("IsBoolean", True, "$.v is boolean"),
    ("IsBoolean", False, "$.v is not boolean"),
    ("IsTimestamp", True, "$.v is a timestamp"),
    ("IsTimestamp", False, "$.v is not a timestamp"),
]


@pytest.mark.parametrize(("operator", "operand", "text"), COMPARISONS)
def test_choice_rule_text_of_each_comparison(operator: str, operand: Any, text: str) -> None:
    assert choice_rule_text({"Variable": "$.v", operator: operand, "Next": "X"}) == text


def test_choice_rule_text_of_and_or_not() -> None:
    a = {"Variable": "$.a", "StringEquals": "x"}
    one = {"Variable": "$.a", "NumericGreaterThan": 1}
    two = {"Variable": "$.b", "NumericLessThan": 2}
    assert choice_rule_text({"Not": a, "Next": "X"}) == 'not ($.a == "x")'
    assert choice_rule_text({"And": [one, two], "Next": "X"}) == "($.a > 1) and ($.b < 2)"
    assert choice_rule_text({"Or": [one, {"Not": two}], "Next": "X"}) == "($.a > 1) or (not ($.b < 2))"


def test_choice_rule_text_of_a_jsonata_condition() -> None:
    assert choice_rule_text({"Condition": "{% $states.input.n > 3 %}", "Next": "X"}) == "$states.input.n > 3"
    multi_line = {"Condition": "{%\n  $a = 1\n  and $b = 2\n%}", "Next": "X"}
    assert choice_rule_text(multi_line) == "$a = 1 and $b = 2"
    assert choice_rule_text({"Condition": True, "Next": "X"}) == "true"


def test_choice_rule_text_is_cut_with_an_ellipsis_past_sixty_characters() -> None:
    rule = {"Variable": "$.detail.requestParameters.bucketName", "StringEquals": "a-rather-long-bucket-name"}
    text = choice_rule_text(rule)
    assert len(text) == 60 and text.endswith("…")
    assert text.startswith('$.detail.requestParameters.bucketName == "a-rather')
    assert choice_rule_text({"Variable": "$.a", "IsPresent": True}) == "$.a is present"


def test_catch_labels_join_several_errors_and_are_cut() -> None:
    errors = ["States.Timeout", "States.TaskFailed", "Lambda.ServiceException", "Lambda.TooManyRequestsException"]
    catchers = [{"ErrorEquals": errors[:2], "Next": "H"}, {"ErrorEquals": errors, "Next": "H"}]
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Catch": catchers}
    definition = {"StartAt": "T", "States": {"T": task, "H": {"Type": "Pass", "End": True}}}
    dot = parse_dot(build_graph(definition).dot)
    short, long = dot.edges_between("s0", "s1")
    assert short["label"] == "Catch: States.Timeout, States.TaskFailed"
    assert len(long["label"]) == 60 and long["label"].startswith("Catch: States.Timeout, States.TaskFailed, Lambda")
    assert long["label"].endswith("…")


# -- escaping -------------------------------------------------------------------------------------

HOSTILE = [
    'A "quoted" name',
    "back\\slash and \\N and \\l and \\G",
    "trailing backslash\\",
    "line\nbreak",
    "<script>alert('x')</script>",
    "&amp; &lt; & &#65; entities",
    "Ünïcödé ✓ 状態 🚀",
    "a{b}c[d]e;f->g=h",
]


def test_hostile_names_are_escaped_and_read_back_exactly() -> None:
    # Given states whose names hold quotes, backslashes, newlines, markup and entities
    names = HOSTILE
    states: dict[str, Any] = {
        name: {"Type": "Pass", "Next": following} for name, following in itertools.pairwise(names)
    }
    states[names[-1]] = {"Type": "Succeed"}
    inner = {"StartAt": "in " + names[0], "States": {"in " + names[0]: {"Type": "Pass", "End": True}}}
    states[names[-2]] = {"Type": "Parallel", "Branches": [inner], "Next": names[-1]}

    # When drawn
    graph = build_graph({"StartAt": names[0], "States": states})
    dot = parse_dot(graph.dot)

    # Then the DOT is well formed and each label shows the name exactly, as Graphviz reads it
    for name in names:
        assert label_text(element_for(dot, graph, name)["label"]).startswith(name + "\n")
    assert label_text(element_for(dot, graph, "in " + names[0])["label"]) == 'in A "quoted" name\nPass'
    # a newline in a name is the two characters \n, never a raw newline inside a string
    assert all(line.count('"') % 2 == 0 for line in graph.dot.replace('\\"', "").splitlines())
    # and no label is HTML-like
    assert "=<" not in graph.dot.replace(" ", "")


def test_hostile_text_in_rules_and_errors_is_escaped() -> None:
    definition = {
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.a", "StringEquals": 'say "hi" \\ & <b>', "Next": "T"}],
                "Default": "T",
            },
            "T": {"Type": "Task", "Resource": "r", "End": True, "Catch": [{"ErrorEquals": ['E"&\\'], "Next": "T"}]},
        },
    }
    dot = parse_dot(build_graph(definition).dot)
    rule, _ = dot.edges_between("s0", "s1")
    assert label_text(rule["label"]) == '$.a == "say \\"hi\\" \\\\ & <b>"'
    (catch,) = dot.edges_between("s1", "s1")
    assert label_text(catch["label"]) == 'Catch: E"&\\'


def test_control_characters_become_replacement_characters() -> None:
    # XML 1.0 cannot hold them, so the browser would refuse the SVG
    graph = build_graph({"StartAt": "a\x00b\x1bc", "States": {"a\x00b\x1bc": {"Type": "Succeed"}}})
    dot = parse_dot(graph.dot)
    assert label_text(dot.nodes["s0"]["label"]) == "a\ufffdb\ufffdc\nSucceed"
    assert graph.nodes[0].name == "a\x00b\x1bc"


# -- nesting, odd definitions, JSONata ------------------------------------------------------------


def nested_definition() -> dict[str, Any]:
    """A Map inside a Parallel branch inside a Map (legacy Iterator)."""
    inner_map = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    parallel = {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Inner map", "States": {"Inner map": inner_map}},
            {"StartAt": "Wait a bit", "States": {"Wait a bit": {"Type": "Wait", "Seconds": 1, "End": True}}},
        ],
        "End": True,
    }
    iterator = {"StartAt": "Fan out", "States": {"Fan out": parallel}}
    return {"StartAt": "Outer map", "States": {"Outer map": {"Type": "Map", "Iterator": iterator, "End": True}}}


def test_clusters_nest_to_any_depth() -> None:
    graph = build_graph(nested_definition())
    dot = parse_dot(graph.dot)

    assert [(n.id, n.name, n.type, n.path) for n in graph.nodes] == [
        ("s0", "Outer map", "Map", ""),
        ("s1", "Fan out", "Parallel", "Outer map"),
        ("s2", "Inner map", "Map", "Outer map/Fan out/0"),
        ("s3", "Leaf", "Pass", "Outer map/Fan out/0/Inner map"),
        ("s4", "Wait a bit", "Wait", "Outer map/Fan out/1"),
    ]
    assert dot.node_clusters["s3"] == ("cluster_s0", "cluster_s1", "cluster_s1_b0", "cluster_s2")
    assert dot.node_clusters["s4"] == ("cluster_s0", "cluster_s1", "cluster_s1_b1")
    assert dot.cluster_parents["cluster_s2"] == ("cluster_s0", "cluster_s1", "cluster_s1_b0")
    # a cluster inside a cluster is entered and left at its own border
    (enter,) = dot.edges_between("s0_in", "s1_in")
    assert enter["lhead"] == "cluster_s1" and "ltail" not in enter
    (leave,) = dot.edges_between("s1_out", "s0_out")
    assert leave["ltail"] == "cluster_s1" and "lhead" not in leave
    assert dot.edges_between("s2_out", "s1_out")[0]["ltail"] == "cluster_s2"
    # a nested cluster sets its own label style instead of inheriting the branch's
    assert dot.clusters["cluster_s2"]["fontsize"] == dot.clusters["cluster_s0"]["fontsize"]


def test_a_nested_fail_state_does_not_lead_on_but_a_top_level_one_ends() -> None:
    branch = {"StartAt": "Oops", "States": {"Oops": {"Type": "Fail", "Error": "E"}}}
    definition = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [branch], "Next": "No"}, "No": {"Type": "Fail"}},
    }
    dot = parse_dot(build_graph(definition).dot)
    (inner,) = dot.edges_between("s1", "s0_out")
    assert inner["style"] == "invis"
    (outer,) = dot.edges_between("s2", "end")
    assert "style" not in outer


def test_odd_but_valid_definitions_do_not_crash() -> None:
    # A Choice with only a Default, a Next to an unknown state, a loop back into a Map
    again = {"Variable": "$.n", "NumericLessThan": 3, "Next": "M"}
    definition = {
        "StartAt": "Only default",
        "States": {
            "Only default": {"Type": "Choice", "Choices": [], "Default": "M"},
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "Next": "Nowhere"}}},
                "Next": "Again",
            },
            "Again": {"Type": "Choice", "Choices": [again], "Default": "Elsewhere"},
            "Dangling": {"Type": "Task", "Resource": "r", "Next": "Missing", "Catch": [{"ErrorEquals": ["E"]}]},
        },
    }
    graph = build_graph(definition)
    dot = parse_dot(graph.dot)
    (default,) = dot.edges_between("s0", "s1_in")
    assert default["label"] == "Default"
    assert not [e for e in dot.edges if e[0] in ("s2", "s4")]  # X -> Nowhere and Dangling -> Missing are skipped
    assert dot.edges_between("s3", "s1_in")[0]["label"] == "$.n < 3"
    assert [n.name for n in graph.nodes] == ["Only default", "M", "X", "Again", "Dangling"]


def test_a_self_loop_on_a_cluster_is_not_clipped() -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": True}}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "M"}],
                "End": True,
            }
        },
    }
    dot = parse_dot(build_graph(definition).dot)
    (loop,) = dot.edges_between("s0_out", "s0_in")
    assert "ltail" not in loop and "lhead" not in loop


def test_malformed_parts_are_skipped_and_non_objects_refused() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}, "QueryLanguage": "JSONata"}}
    assert [n.name for n in build_graph(definition).nodes] == ["A"]
    assert build_graph({}).nodes == ()
    parse_dot(build_graph({}).dot)
    with pytest.raises(ValueError):
        build_graph("[1, 2]")
    with pytest.raises(ValueError):
        build_graph("{not json")


def test_jsonata_definitions() -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Check",
        "States": {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.amount > 100 %}", "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Arguments": {}, "End": True},
            "Small": {"Type": "Succeed"},
        },
    }
    graph = build_graph(json.dumps(definition))
    dot = parse_dot(graph.dot)
    (rule,) = dot.edges_between("s0", "s1")
    assert rule["label"] == "$states.input.amount > 100"
    assert label_text(dot.nodes["s1"]["label"]) == "Big\nTask (http:invoke)"
    assert dot.edges_between("s2", "end")


@pytest.mark.parametrize(
    ("resource", "short"),
    [
        ("arn:aws:states:::lambda:invoke", "lambda:invoke"),
        ("arn:aws:states:::sns:publish.waitForTaskToken", "sns:publish.waitForTaskToken"),
        ("arn:aws:states:::aws-sdk:dynamodb:scan", "dynamodb:scan"),
        ("arn:aws:states:::states:startExecution.sync:2", "states:startExecution.sync:2"),
        ("arn:aws:lambda:us-east-1:123456789012:function:check-identity:$LATEST", "lambda:check-identity"),
        ("arn:aws:states:us-east-1:123456789012:activity:approve", "activity:approve"),
        ("${ProcessFunctionArn}", "${ProcessFunctionArn}"),
    ],
)
def test_task_labels_show_a_short_resource(resource: str, short: str) -> None:
    graph = build_graph({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": True}}})
    assert label_text(parse_dot(graph.dot).nodes["s0"]["label"]) == f"T\nTask ({short})"
    assert graph.nodes[0].resource == resource


# -- determinism, speed, the data types ------------------------------------------------------------


def test_the_same_definition_gives_byte_identical_dot() -> None:
    text = CREDIT.read_text()
    first = build_graph(text)
    assert build_graph(text) == first
    assert build_graph(json.loads(text)).dot == first.dot
    assert build_graph(copy.deepcopy(nested_definition())).dot == build_graph(nested_definition()).dot


def long_definition(count: int) -> dict[str, Any]:
    """``count`` states: Tasks with Retry and Catch, a Choice every tenth, a Parallel and a Map."""
    states: dict[str, Any] = {}
    for i in range(count - 3):  # and Fan out, its Leaf, Failed
        name, following = f"Step {i}", f"Step {i + 1}" if i < count - 4 else "Fan out"
        if i % 10 == 9:
            rule = {"And": [{"Variable": "$.n", "NumericGreaterThan": i}, {"Variable": "$.ok", "IsPresent": True}]}
            states[name] = {"Type": "Choice", "Choices": [rule | {"Next": following}], "Default": "Failed"}
        else:
            catch = [{"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"}]
            task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": following}
            states[name] = task | {"Retry": [{"ErrorEquals": ["States.ALL"]}], "Catch": catch}
    leaf = {"StartAt": "Leaf", "States": {"Leaf": {"Type": "Pass", "End": True}}}
    states["Fan out"] = {"Type": "Parallel", "Branches": [leaf], "Next": "Failed"}
    states["Failed"] = {"Type": "Fail"}
    return {"StartAt": "Step 0", "States": states}


def test_a_200_state_definition_has_its_200_nodes() -> None:
    # How long it takes is bench/console.py's to measure, not a test's.
    definition = json.dumps(long_definition(200))
    graph = build_graph(definition)
    assert len(graph.nodes) == 200
    assert len({node.id for node in graph.nodes}) == 200


def test_graph_types_are_frozen() -> None:
    graph = build_graph(credit())
    with pytest.raises(FrozenInstanceError):
        graph.dot = ""  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        graph.nodes[0].name = "x"  # type: ignore[misc]
    assert isinstance(graph.nodes, tuple)


# -- the shared samples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sample_files(), ids=lambda path: path.stem[:60])
def test_every_sample_builds_with_a_node_for_each_state(path: Path) -> None:
    definition = json.loads(path.read_text())["definition"]

    graph = build_graph(definition)
    dot = parse_dot(graph.dot)

    assert [(n.name, n.type, n.path) for n in graph.nodes] == declared_states(definition)
    for node in graph.nodes:
        attrs = element_for(dot, graph, node.name)
        assert attrs["id"] == node.id
        assert label_text(attrs["label"]).startswith(node.name + "\n")
    assert dot.edges_between("start", head_of(graph, definition["StartAt"]))
