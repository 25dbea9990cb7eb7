"""Loaded by the tracing tests' workers (ORCHESTRATOR_HANDLER_MODULES): every span the worker exports
is also written to TEST_SPANS_FILE, one JSON object a line (the SDK's console exporter, pointed at a
file), and the ``traced`` handler writes the trace context it runs in to TEST_TRACEPARENT_FILE."""

from __future__ import annotations

import json
import os
from typing import Any

from opentelemetry import propagate
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from orchestrator import handler
from orchestrator.runtime import tracing

_spans = open(os.environ["TEST_SPANS_FILE"], "a", buffering=1)  # noqa: SIM115 - open for the process's life
tracing.tracer_provider().add_span_processor(
    SimpleSpanProcessor(ConsoleSpanExporter(out=_spans, formatter=lambda span: span.to_json(indent=None) + "\n"))
)


@handler("traced")
def traced(payload: Any, context: Any) -> dict[str, Any]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)  # what a handler would send on to the services it calls
    with open(os.environ["TEST_TRACEPARENT_FILE"], "a") as sink:
        sink.write(json.dumps({"executionArn": context.execution_arn, **carrier}) + "\n")
    return {"score": 700}
