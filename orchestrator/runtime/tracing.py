"""Tracing (docs/tracing.md): OpenTelemetry spans for the executions of state machines whose
``tracingConfiguration`` is enabled: one for the execution, one for each state entered, one for
each Task's work, made from the execution's history when it ends.

An execution runs in many transactions on many processes, so its spans are not held open while it
runs: the transaction that ends it (or that ends a redriven run of it) reads its history and,
once it has committed, exports its spans with the times the history records. Their ids are derived
from the execution's ARN and event ids, so the trace context a Task's handler is given while the
execution runs (W3C ``traceparent``; the current OpenTelemetry context in the worker, and the
header of an HTTP Task) names the very span exported at the end. The trace is the one a
StartExecution ``traceHeader`` names (W3C ``traceparent`` or AWS X-Ray ``Root=1-...;Parent=...``),
else one derived from the ARN.

Spans go where the standard OpenTelemetry variables say: ``OTEL_TRACES_EXPORTER`` (``otlp``, the
default, ``console`` or ``none``), ``OTEL_EXPORTER_OTLP_ENDPOINT`` and its friends,
``OTEL_SERVICE_NAME`` (``orchestrator``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from orchestrator.engine.history import Event
from orchestrator.store.models import HistoryEvent, StateMachine

log = logging.getLogger(__name__)

END_EVENTS = frozenset({"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_TASK_FAMILIES = ("LambdaFunction", "Activity", "Task")
_TASK_ENDS = ("Succeeded", "Failed", "TimedOut", "StartFailed", "ScheduleFailed", "SubmitFailed")
_PENDING = "orchestrator.tracing_pending"
_ENDING = "orchestrator.tracing_ending"
_W3C = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$", re.IGNORECASE)
_XRAY_ROOT = re.compile(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})", re.IGNORECASE)
_XRAY_PARENT = re.compile(r"Parent=([0-9a-f]{16})", re.IGNORECASE)


# -- ids -------------------------------------------------------------------------------------------


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def span_id(execution_arn: str, *parts: str) -> int:
    """The id of an execution's span (``execution``, ``state <event id>``, ``task <event id>``)."""
    return int.from_bytes(_digest(execution_arn, *parts)[:8], "big") or 1


def trace_context(execution_arn: str, trace_header: str | None) -> tuple[int, int | None]:
    """The trace id and the parent span id (if any) of an execution: those its ``traceHeader`` names
    (W3C traceparent, or X-Ray's Root and Parent), else a trace id derived from its ARN."""
    header = (trace_header or "").strip()
    if (w3c := _W3C.match(header)) and int(w3c[1], 16):
        return int(w3c[1], 16), int(w3c[2], 16) or None
    if root := _XRAY_ROOT.search(header.replace(" ", "")):
        parent = _XRAY_PARENT.search(header)
        return int(root[1] + root[2], 16), int(parent[1], 16) if parent else None
    return int.from_bytes(_digest(execution_arn)[:16], "big") or 1, None


def traceparent(execution_arn: str, trace_header: str | None, *span_parts: str) -> str:
    """The W3C ``traceparent`` of one of an execution's spans."""
    trace_id, _ = trace_context(execution_arn, trace_header)
    return f"00-{trace_id:032x}-{span_id(execution_arn, *span_parts):016x}-01"


# -- the spans an execution's history describes -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpanPlan:
    """A span to export: its ids, name, times (epoch ns), parent and what it says."""

    span_id: int
    parent_id: int | None
    name: str
    start: int
    end: int
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _ns(moment: dt.datetime) -> int:
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def plan_spans(
    events: Sequence[Event], execution_arn: str, state_machine_name: str, trace_header: str | None
) -> list[SpanPlan]:
    """The spans of an execution's last run (since its last ExecutionRedriven, if any), from its
    history: the execution's, each state's (entered to exited, or to the end) under it, and each
    Task's (scheduled to its end) under its state's."""
    since = max((i for i, e in enumerate(events) if e.type == "ExecutionRedriven"), default=0)
    run = list(events[since:])
    if not run or run[-1].type not in END_EVENTS:
        return []
    _, parent = trace_context(execution_arn, trace_header)
    end = _ns(run[-1].timestamp)
    root = span_id(execution_arn, "execution", str(run[0].id))
    status = run[-1].type.removeprefix("Execution")
    plans = [
        SpanPlan(
            root, parent, state_machine_name, _ns(run[0].timestamp), end,
            {"aws.step_functions.execution.arn": execution_arn, "aws.step_functions.status": status},
            None if run[-1].type == "ExecutionSucceeded" else _error(run[-1]),
        )
    ]  # fmt: skip
    open_states: list[tuple[str, int, Event]] = []  # (state name, span id, entered event)
    open_tasks: list[tuple[str, int, int, Event]] = []  # (family, span id, parent span id, scheduled event)
    for e in run:
        if e.type.endswith("StateEntered"):
            name = (e.details or {}).get("name", "")
            open_states.append((name, span_id(execution_arn, "state", str(e.id)), e))
        elif e.type.endswith("StateExited"):
            name = (e.details or {}).get("name", "")
            found = next((s for s in open_states if s[0] == name), None)
            if found is not None:
                open_states.remove(found)
                plans.append(_state_plan(found, root, _ns(e.timestamp)))
        elif (family := _family(e.type)) and e.type == f"{family}Scheduled":
            parent_state = open_states[-1][1] if open_states else root
            open_tasks.append((family, span_id(execution_arn, "task", str(e.id)), parent_state, e))
        elif family and e.type.removeprefix(family) in _TASK_ENDS:
            found_task = next((t for t in open_tasks if t[0] == family), None)
            if found_task is not None:
                open_tasks.remove(found_task)
                plans.append(_task_plan(found_task, e))
    plans += [_state_plan(s, root, end, error="the execution ended in it") for s in open_states]
    return plans


def _family(event_type: str) -> str | None:
    return next(
        (f for f in _TASK_FAMILIES if event_type.startswith(f) and not event_type.endswith("StateEntered")), None
    )


def _state_plan(state: tuple[str, int, Event], root: int, end: int, error: str | None = None) -> SpanPlan:
    name, state_span, entered = state
    kind = entered.type.removesuffix("StateEntered")
    attributes = {"aws.step_functions.state.name": name, "aws.step_functions.state.type": kind}
    return SpanPlan(state_span, root, name, _ns(entered.timestamp), end, attributes, error)


def _task_plan(task: tuple[str, int, int, Event], ended: Event) -> SpanPlan:
    family, task_span, parent, scheduled = task
    resource = (scheduled.details or {}).get("resource", "")
    if family == "Task":
        resource = f"{(scheduled.details or {}).get('resourceType', '')}:{resource}"
    attributes = {"aws.step_functions.task.resource": resource, "aws.step_functions.task.outcome": ended.type}
    error = None if ended.type.endswith("Succeeded") else _error(ended)
    return SpanPlan(
        task_span, parent, f"Task {resource}", _ns(scheduled.timestamp), _ns(ended.timestamp), attributes, error
    )


def _error(ended: Event) -> str:
    details = ended.details or {}
    return ": ".join(str(part) for part in (details.get("error"), details.get("cause")) if part) or ended.type


# -- exporting ---------------------------------------------------------------------------------------------

_planned_span: contextvars.ContextVar[int | None] = contextvars.ContextVar("orchestrator_span_id", default=None)
_planned_trace: contextvars.ContextVar[int | None] = contextvars.ContextVar("orchestrator_trace_id", default=None)
_provider: Any = None


def tracer_provider() -> Any:
    """This process's provider of execution spans (an SDK TracerProvider), with the exporters the
    OTEL_* variables name; made once (the SDK is imported only then). A test may add span
    processors to it."""
    global _provider
    if _provider is None:  # (a forked worker process keeps it: the SDK's batch processor restarts its thread)
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import IdGenerator

        class PlannedIds(IdGenerator):
            """Trace and span ids as planned (derived from the ARN and the history), random otherwise."""

            def generate_span_id(self) -> int:
                return _planned_span.get() or random.getrandbits(64) or 1

            def generate_trace_id(self) -> int:
                return _planned_trace.get() or random.getrandbits(128) or 1

        attributes = {"service.name": os.environ.get("OTEL_SERVICE_NAME") or "orchestrator"}
        _provider = TracerProvider(resource=Resource.create(attributes), id_generator=PlannedIds())
        for exporter in _exporters(os.environ.get("OTEL_TRACES_EXPORTER") or "otlp"):
            _provider.add_span_processor(BatchSpanProcessor(exporter))
    return _provider


def _exporters(names: str) -> list[Any]:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    found: list[Any] = []
    for name in (n.strip().lower() for n in names.split(",") if n.strip()):
        if name == "console":
            found.append(ConsoleSpanExporter())
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append(OTLPSpanExporter())  # reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, HEADERS, ...
        elif name != "none":
            log.warning("OTEL_TRACES_EXPORTER=%s: %r is not an exporter here (otlp, console, none)", names, name)
    return found


def export(plans: Iterable[SpanPlan], trace_id: int) -> int:
    """Export planned spans (of one trace) through `tracer_provider`; returns how many."""
    tracer = tracer_provider().get_tracer("orchestrator")
    count = 0
    for plan in plans:
        if plan.parent_id is None:
            parent = otel_context.Context()  # a root span: its trace id is the planned one
        else:
            remote = SpanContext(trace_id, plan.parent_id, True, TraceFlags(TraceFlags.SAMPLED))
            parent = trace.set_span_in_context(NonRecordingSpan(remote))
        span_token, trace_token = _planned_span.set(plan.span_id), _planned_trace.set(trace_id)
        try:
            span = tracer.start_span(plan.name, parent, SpanKind.INTERNAL, plan.attributes, start_time=plan.start)
        finally:
            _planned_span.reset(span_token)
            _planned_trace.reset(trace_token)
        if plan.error is not None:
            span.set_status(Status(StatusCode.ERROR, plan.error))
        span.end(end_time=plan.end)
        count += 1
    return count


def export_execution(
    events: Sequence[Event], execution_arn: str, state_machine_name: str, trace_header: str | None
) -> int:
    trace_id, _ = trace_context(execution_arn, trace_header)
    return export(plan_spans(events, execution_arn, state_machine_name, trace_header), trace_id)


# -- Standard executions: exported once the transaction that ends them commits ----------------------


@dataclass(frozen=True, slots=True)
class _Ended:
    events: tuple[Event, ...]
    execution_arn: str
    state_machine_name: str
    trace_header: str | None


def install() -> None:
    """Export the spans of every traced execution that ends in a transaction of this process."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)


def note_end(session: Session, execution: Mapping[str, Any]) -> None:
    """The transaction of ``session`` ends this execution (its ``executions`` columns): if its state
    machine is traced, its spans are exported once the transaction commits."""
    if execution.get("root_id") is None and ":express:" not in (execution.get("arn") or ""):
        session.info.setdefault(_ENDING, []).append(execution)


def _before_commit(session: Session) -> None:
    ending = session.info.pop(_ENDING, None)
    if not ending or session.in_nested_transaction():
        return
    try:
        traced = [e for e in ending if machine_traced(session, e["state_machine_id"])]
        session.info.setdefault(_PENDING, []).extend(_read(session, e) for e in traced)
    except Exception:
        log.exception("tracing: could not read the ended executions' histories; their spans are not exported")


def _read(session: Session, execution: Mapping[str, Any]) -> _Ended:
    H = HistoryEvent.__table__
    rows = session.execute(select(H).where(H.c.execution_id == execution["id"]).order_by(H.c.id))
    events = tuple(Event(h.id, h.previous_event_id, h.timestamp, h.type, h.details) for h in rows)
    arn = execution["arn"]
    machine_name = arn.split(":execution:", 1)[1].rsplit(":", 1)[0]
    return _Ended(events, arn, machine_name, execution.get("trace_header"))


def _after_commit(session: Session) -> None:
    for ended in session.info.pop(_PENDING, ()):
        try:
            export_execution(ended.events, ended.execution_arn, ended.state_machine_name, ended.trace_header)
        except Exception:
            log.exception("tracing: could not export the spans of %s", ended.execution_arn)


def _after_rollback(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_ENDING, None)
        session.info.pop(_PENDING, None)


def enabled(configuration: Mapping[str, Any] | None) -> bool:
    return bool((configuration or {}).get("enabled"))


# -- which state machines are traced ---------------------------------------------------------------------

# An UpdateStateMachine of tracingConfiguration reaches the running executions within this.
ENABLED_CACHE_SECONDS = 10.0
_traced_machines: dict[int, tuple[float, bool]] = {}


def machine_traced(session: Session, state_machine_id: int) -> bool:
    """Whether the state machine's tracing is enabled, read at most every `ENABLED_CACHE_SECONDS`
    by this process (one primary-key probe)."""
    cached = _traced_machines.get(state_machine_id)
    if cached is not None and time.monotonic() - cached[0] < ENABLED_CACHE_SECONDS:
        return cached[1]
    M = StateMachine.__table__
    configuration = session.scalar(select(M.c.tracing_configuration).where(M.c.id == state_machine_id))
    _traced_machines[state_machine_id] = (time.monotonic(), enabled(configuration))
    return _traced_machines[state_machine_id][1]


@contextlib.contextmanager
def activated(traceparent_header: str | None) -> Iterator[None]:
    """Make the Task's span (its W3C ``traceparent``) the current OpenTelemetry context while its
    handler runs: ``opentelemetry.propagate.inject`` and ``trace.get_current_span()`` see it, and an
    HTTP Task sends it. Nothing happens without one."""
    if not traceparent_header:
        yield
        return
    token = otel_context.attach(propagate.extract({"traceparent": traceparent_header}))
    try:
        yield
    finally:
        otel_context.detach(token)
