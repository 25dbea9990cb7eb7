"""deploy/grafana/orchestrator.json and deploy/prometheus/alerts.yml: well-formed, and about our metrics.

Every query is parsed as PromQL (promql-parser, the Rust parser's Python binding), every metric it
names is one Orchestrator exposes (read from the metric objects themselves, so a renamed metric fails
here), and the dashboard shows every metric there is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

import orchestrator.api.metrics
import orchestrator.runtime.metrics  # noqa: F401 - registers the executions' and Tasks' metrics
from orchestrator.runtime.scrape import BACKLOG_GAUGES

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "orchestrator.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Grafana's variables, replaced by what they stand for when a panel runs
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$state_machine": ".*"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exposed() -> dict[str, str]:
    """Every series name Orchestrator exposes, mapped to its metric's name."""
    names: dict[str, str] = {}
    for family in REGISTRY.collect():
        if family.name.startswith("orchestrator_"):
            for suffix in SUFFIXES[family.type]:
                names[family.name + suffix] = family.name
    for name, _, _ in BACKLOG_GAUGES:
        names[name] = name
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects (it must parse)."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.add(node.name)
            return
        if isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector)
            return
        for attribute in ("expr", "lhs", "rhs", "param"):
            child = getattr(node, attribute, None)
            if child is not None:
                visit(child)
        for argument in getattr(node, "args", None) or ():
            visit(argument)

    visit(promql_parser.parse(expression))
    return found


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expression = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expression = expression.replace(variable, value)
            queries.append(expression)
    return queries


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_alert_rules_have_prometheus_rule_file_structure() -> None:
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"} and group["name"] and group["rules"]
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))
    for rule in alert_rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_the_obvious_failures_have_an_alert() -> None:
    watched = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    assert {
        "orchestrator_executions_failed_total",  # executions failing
        "orchestrator_outbox_messages",  # backlog growing
        "orchestrator_outbox_oldest_message_age_seconds",  # backlog old
        "orchestrator_state_transitions_total",  # no worker progress
        "orchestrator_leases_expired",  # leases expiring
        "orchestrator_api_requests_total",  # API 5xx
        "orchestrator_timers_due",  # scheduler down
    } <= watched


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_query_parses_and_names_only_metrics_that_exist(source: str) -> None:
    queries = dashboard_queries() if source == "dashboard" else [rule["expr"] for rule in alert_rules()]
    assert queries
    known = exposed()
    for query in queries:
        unknown = metric_names(query) - set(known) - {"up"}
        assert not unknown, f"{query} names {unknown}"


def test_the_dashboard_shows_every_metric() -> None:
    shown = {exposed()[name] for query in dashboard_queries() for name in metric_names(query)}
    assert shown == set(exposed().values())


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] == "orchestrator" and dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["title"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] >= 0 and position["x"] + position["w"] <= 24
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
