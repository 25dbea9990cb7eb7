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

import json
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
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write the result files and the manifest; returns the Map state's result."""
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
    try:
        for status in ("SUCCEEDED", "FAILED"):
            records = [r for r in results if r["Status"] == status]
            if records or status == "SUCCEEDED":
                key = f"{folder}/{status}_0.json"
                body = _encode(_transformed(records, transformation), output_type)
                store.put_object(bucket, key, body)
                files[status].append({"Key": key, "Size": len(body)})
        manifest_key = f"{folder}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        store.put_object(bucket, manifest_key, json.dumps(manifest).encode())
    except S3Error as exc:
        raise IntegrationError(RESULT_WRITER_FAILED, f"{exc.code}: {exc.message}") from None
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


def _transformed(records: list[dict[str, Any]], transformation: str) -> list[Any]:
    if transformation == "NONE":
        return records
    outputs = [r["Output"] for r in records]
    if transformation == "COMPACT":
        return outputs
    return [item for output in outputs for item in (output if isinstance(output, list) else [output])]


def _encode(records: list[Any], output_type: str) -> bytes:
    if output_type == "JSONL":
        return "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
    return json.dumps(records, separators=(",", ":")).encode()
