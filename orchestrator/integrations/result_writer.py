"""A Distributed Map's ResultWriter: the iterations' results written to S3 in AWS's layout.

Under ``<Prefix>/<map run id>/`` (the id is the last part of the Map Run's ARN):

- ``SUCCEEDED_0.json``, ``FAILED_0.json``: the iterations that succeeded and those that failed
  within the tolerated failures, in item order (``PENDING_0.json`` would hold those never run: a Map
  that writes its results has run them all, so the engine writes none);
- ``manifest.json``: ``{"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED": [...],
  "PENDING": [], "SUCCEEDED": [{"Key", "Size"}]}}``.

Each record is ``{"Index", "Status", "Output"}`` (a failed one has ``Error`` and ``Cause`` for its
Output) with ``WriterConfig.Transformation`` NONE (the default); COMPACT keeps only the outputs, and
FLATTEN the outputs with arrays spread out. ``WriterConfig.OutputType`` JSONL writes a record per
line instead of a JSON array. The Map state's result is ``{"MapRunArn", "ResultWriterDetails":
{"Bucket", "Key"}}``, the Key being the manifest's. Any failure is ``States.ResultWriterFailed``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

from orchestrator.asl.errors import RESULT_WRITER_FAILED
from orchestrator.integrations.s3 import ObjectStore, S3Error
from orchestrator.integrations.services import IntegrationError

PUT_OBJECT = "arn:aws:states:::s3:putObject"
TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")
OUTPUT_TYPES = ("JSON", "JSONL")


def write_results(
    store: ObjectStore,
    parameters: dict[str, Any],
    config: dict[str, Any],
    map_run_arn: str,
    results: Iterable[dict[str, Any]],
) -> dict[str, Any]:
    """Write the result files and the manifest; returns the Map state's result.

    ``results`` are the records in item order: a list (the engine's, run in memory), or a stream
    of them read from the database a page at a time (`integrations.s3_tasks`).
    """
    bucket = parameters.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise IntegrationError(RESULT_WRITER_FAILED, "The ResultWriter needs a Bucket (a string) in its Parameters")
    transformation = config.get("Transformation", "NONE")
    output_type = config.get("OutputType", "JSON")
    if transformation not in TRANSFORMATIONS or output_type not in OUTPUT_TYPES:
        raise IntegrationError(
            RESULT_WRITER_FAILED,
            f"WriterConfig: OutputType must be one of {', '.join(OUTPUT_TYPES)} and Transformation one of "
            f"{', '.join(TRANSFORMATIONS)}",
        )
    prefix = str(parameters.get("Prefix") or "").strip("/")
    folder = f"{prefix}/{map_run_arn.rsplit(':', 1)[-1]}" if prefix else map_run_arn.rsplit(":", 1)[-1]
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    bodies = {status: _ResultFile(transformation, output_type) for status in ("SUCCEEDED", "FAILED")}
    for record in results:  # one pass: ``results`` may be a stream of the Map Run's rows
        bodies[record["Status"]].add(record)
    try:
        for status, body in bodies.items():
            if body.count or status == "SUCCEEDED":
                key = f"{folder}/{status}_0.json"
                data = body.bytes()
                store.put_object(bucket, key, data)
                files[status].append({"Key": key, "Size": len(data)})
        manifest_key = f"{folder}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        store.put_object(bucket, manifest_key, json.dumps(manifest).encode())
    except S3Error as exc:
        raise IntegrationError(RESULT_WRITER_FAILED, f"{exc.code}: {exc.message}") from None
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


class _ResultFile:
    """One result file's bytes, encoded a record at a time (the records are not kept as objects)."""

    def __init__(self, transformation: str, output_type: str) -> None:
        self.transformation = transformation
        self.lines = output_type == "JSONL"
        self.out = io.BytesIO()
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        for value in _transformed([record], self.transformation):
            text = json.dumps(value, separators=(",", ":"))
            if self.lines:
                self.out.write(f"{text}\n".encode())
            else:
                self.out.write(f"{',' if self.count else '['}{text}".encode())
            self.count += 1

    def bytes(self) -> bytes:
        if self.lines:
            return self.out.getvalue()
        return self.out.getvalue() + b"]" if self.count else b"[]"


def _transformed(records: list[dict[str, Any]], transformation: str) -> list[Any]:
    if transformation == "NONE":
        return records
    outputs = [r["Output"] for r in records]
    if transformation == "COMPACT":
        return outputs
    return [item for output in outputs for item in (output if isinstance(output, list) else [output])]
