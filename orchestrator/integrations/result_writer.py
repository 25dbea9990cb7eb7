"""A Distributed Map's ResultWriter: the iterations' results written to S3 in AWS's layout.

Under ``<Prefix>/<map run id>/`` (the id is the last part of the Map Run's ARN):

- ``SUCCEEDED_0.json``, ``FAILED_0.json``: the iterations that succeeded and those that failed
  within the tolerated failures, in item order (``PENDING_0.json`` would hold those never run: a Map
  that writes its results has run them all, so the engine writes none);
- ``manifest.json``: ``{"DestinationBucket", "MapRunArn", "ResultFiles": {"FAILED": [...],
  "PENDING": [], "SUCCEEDED": [{"Key", "Size"}]}}``.

With ``WriterConfig.Transformation`` NONE (the default) each record is AWS's record of a child
execution (`execution_record`: its ARN and name, input and output as JSON text, dates, status,
redrive status; a failed one's error and cause instead of an output); COMPACT keeps only the
outputs, and FLATTEN the outputs with arrays spread out, while a failed child's record stays whole,
as AWS writes it. ``WriterConfig.OutputType`` JSONL writes a record per line instead of a JSON
array. The Map state's result is ``{"MapRunArn", "ResultWriterDetails":
{"Bucket", "Key"}}``, the Key being the manifest's. Any failure is ``States.ResultWriterFailed``.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from orchestrator.asl.errors import RESULT_WRITER_FAILED
from orchestrator.integrations.s3 import ObjectStore, S3Error
from orchestrator.integrations.services import IntegrationError

PUT_OBJECT = "arn:aws:states:::s3:putObject"
TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")
OUTPUT_TYPES = ("JSON", "JSONL")
CHUNK = 1024 * 1024  # a result file is stored in pieces of about this many bytes


def write_results(
    store: ObjectStore,
    parameters: dict[str, Any],
    config: dict[str, Any],
    map_run_arn: str,
    results: Callable[[str], Iterable[dict[str, Any]]],
) -> dict[str, Any]:
    """Write the result files and the manifest; returns the Map state's result.

    ``results(status)`` gives the records of that status ("SUCCEEDED", "FAILED") in item order: from
    a list (the engine's, run in memory), or read from the database a page at a time
    (`integrations.s3_tasks`). Each file is encoded and stored a chunk at a time as they come.
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
    try:
        for status in ("SUCCEEDED", "FAILED"):
            records = iter(results(status))
            first = next(records, None)
            if first is None and status == "FAILED":
                continue  # (written only when some failed)
            key = f"{folder}/{status}_0.json"
            every = records if first is None else itertools.chain([first], records)
            info = store.put_stream(bucket, key, _encoded(every, transformation, output_type))
            files[status].append({"Key": key, "Size": info.size})
        manifest_key = f"{folder}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        store.put_object(bucket, manifest_key, json.dumps(manifest).encode())
    except S3Error as exc:
        raise IntegrationError(RESULT_WRITER_FAILED, f"{exc.code}: {exc.message}") from None
    return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


def _encoded(records: Iterable[dict[str, Any]], transformation: str, output_type: str) -> Iterator[bytes]:
    """A result file's bytes, in chunks of about CHUNK bytes, encoded a record at a time."""
    lines = output_type == "JSONL"
    out = io.BytesIO()
    count = 0
    for record in records:
        for value in _transformed([record], transformation):
            text = json.dumps(value, separators=(",", ":"))
            out.write(f"{text}\n".encode() if lines else f"{',' if count else '['}{text}".encode())
            count += 1
        if out.tell() >= CHUNK:
            yield out.getvalue()
            out = io.BytesIO()
    if not lines:
        out.write(b"]" if count else b"[]")
    yield out.getvalue()


def _transformed(records: list[dict[str, Any]], transformation: str) -> list[Any]:
    if transformation == "NONE":
        return records
    found: list[Any] = []
    for record in records:
        if record.get("Status") != "SUCCEEDED":
            found.append(record)  # AWS: a failed child's result is written unchanged, as with NONE
            continue
        output = json.loads(record["Output"])
        spread = transformation == "FLATTEN" and isinstance(output, list)
        found.extend(output if spread else [output])
    return found


def execution_record(
    *,
    arn: str,
    status: str,
    execution_input: Any,
    output: Any,
    error: str | None,
    cause: str | None,
    start_date: dt.datetime,
    stop_date: dt.datetime | None,
    redrive_count: int,
) -> dict[str, Any]:
    """AWS's record of one child execution in a result file, keys in AWS's (alphabetical) order, as
    its documentation's examples and the files users parse show them."""
    record: dict[str, Any] = {}
    if cause is not None:
        record["Cause"] = cause
    if error is not None:
        record["Error"] = error
    record["ExecutionArn"] = arn
    record["Input"] = compact_json(execution_input)
    record["InputDetails"] = {"Included": True}
    record["Name"] = arn.rsplit(":", 1)[1]
    if status == "SUCCEEDED":
        record["Output"] = compact_json(output)
    record["OutputDetails"] = {"Included": True}
    record["RedriveCount"] = redrive_count
    if status == "SUCCEEDED":
        record["RedriveStatus"] = "NOT_REDRIVABLE"
        record["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    else:
        record["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN"  # (a child is redriven with its Map Run)
    record["StartDate"] = _date(start_date)
    record["StateMachineArn"] = _state_machine_arn(arn)
    record["Status"] = status
    if stop_date is not None:
        record["StopDate"] = _date(stop_date)
    return record


def compact_json(value: Any) -> str:
    """A record's Input or Output: JSON text without spaces, as AWS writes them."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _date(moment: dt.datetime) -> str:
    """``2025-02-04T01:49:50.099Z``: UTC, to the millisecond."""
    utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _state_machine_arn(execution_arn: str) -> str:
    """A child's ``...:execution:<machine>/<Map label>:<name>`` (or ``:express:``) -> its state
    machine's ``...:stateMachine:<machine>/<Map label>``, as AWS names it in the records."""
    prefix, _, rest = execution_arn.replace(":express:", ":execution:", 1).partition(":execution:")
    return f"{prefix}:stateMachine:{rest.rsplit(':', 1)[0]}"
