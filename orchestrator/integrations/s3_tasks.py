"""The S3 work of a state machine, on the engine's `ObjectStore` (local buckets, or boto3's S3).

- A Distributed Map's ItemReader (``arn:aws:states:::s3:getObject``, ``s3:listObjectsV2``) and
  ResultWriter (``arn:aws:states:::s3:putObject``): the engine asks for them as Tasks of its own,
  with the reader's or writer's settings as payload (`item_reader`, `result_writer`); a reader's
  payload with a ``Page`` asks for one page of the items (`item_reader.read_page`).
- ``aws-sdk:s3:getObject``, ``putObject``, ``headObject`` and ``listObjectsV2`` Task states, with
  AWS's response shapes: getObject's Body is the object's text; putObject's Body may be any JSON
  value (an object or array is stored as compact JSON). Errors are ``S3.<Code>Exception``
  (``S3.NoSuchKeyException``), with S3's message and the status, as Step Functions reports them.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import secrets
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource
from orchestrator.integrations import item_reader, result_writer
from orchestrator.integrations.s3 import LIST_PAGE, ObjectInfo, S3Error, iter_objects, object_store
from orchestrator.integrations.services import IntegrationError, register, sdk_error_name
from orchestrator.store import map_runs
from orchestrator.store.db import session_scope

ENGINE_RESOURCES = (item_reader.GET_OBJECT, item_reader.LIST_OBJECTS, result_writer.PUT_OBJECT)
SDK_ACTIONS = ("getObject", "putObject", "headObject", "listObjects", "listObjectsV2")
RESULTS_PAGE = 1_000  # iterations' results read from the database at a time, for a ResultWriter
STATUS = {"NoSuchKey": 404, "NoSuchBucket": 404, "InvalidBucketName": 400, "InvalidArgument": 400}


class S3Integration:
    name = "s3"

    def __init__(self) -> None:
        self.runtime_settings: Callable[[], config.Settings | None] = lambda: None

    def settings_from(self, settings: Callable[[], config.Settings | None]) -> None:
        """``settings()``: those of the runtime whose worker runs the call (the ResultWriter reads
        its Map Run from that runtime's database, whatever the environment says), else None."""
        self.runtime_settings = settings

    def handles(self, resource: Resource) -> bool:
        if resource.arn in ENGINE_RESOURCES:
            return True
        return resource.service == "aws-sdk:s3" and resource.action in SDK_ACTIONS

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        payload = request.payload if isinstance(request.payload, dict) else {}
        if request.resource == result_writer.PUT_OBJECT:
            results = payload.get("Results")
            arn = payload["MapRunArn"]
            return result_writer.write_results(
                object_store(),
                payload.get("Parameters") or {},
                payload.get("WriterConfig") or {},
                arn,
                functools.partial(_stored_results, self._database_url(), arn)
                if results is None
                else functools.partial(_given_results, results),
            )
        if request.resource in ENGINE_RESOURCES:
            reader = payload.get("ReaderConfig") or {}
            parameters = payload.get("Parameters") or {}
            if payload.get("Page"):  # the durable runtime reads a page at a time
                return item_reader.read_page(object_store(), request.resource, parameters, reader, payload["Page"])
            return item_reader.items_as_json(
                item_reader.read_items(object_store(), request.resource, parameters, reader)
            )
        action = request.resource.rsplit(":", 1)[1].split(".", 1)[0]
        try:
            return _SDK[action](payload)
        except S3Error as exc:
            raise IntegrationError(sdk_error_name("S3", exc.code), _cause(exc)) from None

    def _database_url(self) -> str:
        settings = self.runtime_settings()
        return (settings or config.load()).database_url


def _stored_results(database_url: str, map_run_arn: str, status: str) -> Iterator[dict[str, Any]]:
    """The records of a Map Run's iterations of ``status`` (SUCCEEDED, or FAILED for any other end),
    read from the database RESULTS_PAGE at a time.

    The durable runtime hands the ResultWriter no results (a Map Run's may be millions): this
    process holds a page of them and a chunk of the file, never every output.
    """
    succeeded = status == "SUCCEEDED"
    after = -1
    while True:
        with session_scope(database_url) as session:
            page = map_runs.results_page(session, map_run_arn, after, RESULTS_PAGE, succeeded=succeeded)
        for row in page:
            yield result_writer.execution_record(
                arn=row.arn,
                status=row.status,
                execution_input=row.input,
                output=row.output,
                error=row.error,
                cause=row.cause,
                start_date=row.start_date,
                stop_date=row.stop_date,
                redrive_count=row.redrive_count,
            )
        if len(page) < RESULTS_PAGE:
            return
        after = page[-1].child_index


def _given_results(results: list[dict[str, Any]], status: str) -> Iterator[dict[str, Any]]:
    """The records of iterations run in memory (`run_local`, an Express execution), which keep no
    execution row: their status, and a succeeded one's output, as AWS's records hold them."""
    for result in results:
        if result["Status"] != status:
            continue
        if status != "SUCCEEDED":
            yield {"Status": status}
            continue
        yield {
            "Output": result_writer.compact_json(result["Output"]),
            "OutputDetails": {"Included": True},
            "Status": status,
        }


def _cause(exc: S3Error) -> str:
    """S3's message as the Java SDK behind Step Functions words it: service, status, request ids."""
    request_id = secrets.token_hex(8).upper()
    extended = base64.b64encode(secrets.token_bytes(48)).decode()
    status = STATUS.get(exc.code, 400)
    return (
        f"{exc.message} (Service: S3, Status Code: {status}, Request ID: {request_id}, Extended Request ID: {extended})"
    )


def _bucket_and_key(payload: dict[str, Any]) -> tuple[str, str]:
    bucket, key = payload.get("Bucket"), payload.get("Key")
    if not isinstance(bucket, str) or not isinstance(key, str):
        raise IntegrationError("S3.ValidationException", "Bucket and Key are required strings")
    return bucket, key


def get_object(payload: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _bucket_and_key(payload)
    store = object_store()
    stream = store.get_object(bucket, key)  # first: its error names the missing key or bucket
    info = store.head_object(bucket, key)
    try:
        body = stream.read()
    finally:
        stream.close()
    return {
        "AcceptRanges": "bytes",
        "ContentLength": info.size,
        "ContentType": "binary/octet-stream",
        "ETag": info.etag,
        "LastModified": _date(info),
        "Metadata": {},
        "ServerSideEncryption": "AES256",
        "Body": body.decode("utf-8", errors="replace"),
    }


def put_object(payload: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _bucket_and_key(payload)
    body = payload.get("Body", "")
    data = body.encode() if isinstance(body, str) else json.dumps(body, separators=(",", ":")).encode()
    info = object_store().put_object(bucket, key, data)
    return {
        "ChecksumCRC32": base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode(),
        "ChecksumType": "FULL_OBJECT",
        "ETag": info.etag,
        "ServerSideEncryption": "AES256",
    }


def head_object(payload: dict[str, Any]) -> dict[str, Any]:
    bucket, key = _bucket_and_key(payload)
    info = object_store().head_object(bucket, key)
    return {
        "AcceptRanges": "bytes",
        "ContentLength": info.size,
        "ContentType": "binary/octet-stream",
        "ETag": info.etag,
        "LastModified": _date(info),
        "Metadata": {},
        "ServerSideEncryption": "AES256",
    }


def list_objects_v2(payload: dict[str, Any]) -> dict[str, Any]:
    bucket = payload.get("Bucket")
    if not isinstance(bucket, str):
        raise IntegrationError("S3.ValidationException", "Bucket is a required string")
    prefix = str(payload.get("Prefix") or "")
    max_keys = int(payload.get("MaxKeys") or LIST_PAGE)
    page = object_store().list_objects(bucket, prefix, payload.get("ContinuationToken"), max_keys)
    answer: dict[str, Any] = {
        "Contents": [
            {"ETag": o.etag, "Key": o.key, "LastModified": _date(o), "Size": o.size, "StorageClass": o.storage_class}
            for o in page.objects
        ],
        "IsTruncated": page.next_token is not None,
        "KeyCount": len(page.objects),
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": prefix,
    }
    if page.next_token is not None:
        answer["NextContinuationToken"] = page.next_token
    if not page.objects:
        del answer["Contents"]  # S3 leaves it out of an empty page
    return answer


def list_objects(payload: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (version 1): keys after ``Marker``, ``MaxKeys`` of them at most."""
    bucket = payload.get("Bucket")
    if not isinstance(bucket, str):
        raise IntegrationError("S3.ValidationException", "Bucket is a required string")
    prefix, marker = str(payload.get("Prefix") or ""), str(payload.get("Marker") or "")
    max_keys = int(payload.get("MaxKeys") or LIST_PAGE)
    found = itertools.islice((o for o in iter_objects(object_store(), bucket, prefix) if o.key > marker), max_keys + 1)
    objects = list(found)
    answer: dict[str, Any] = {
        "Contents": [
            {"ETag": o.etag, "Key": o.key, "LastModified": _date(o), "Size": o.size, "StorageClass": o.storage_class}
            for o in objects[:max_keys]
        ],
        "IsTruncated": len(objects) > max_keys,
        "Marker": marker,
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": prefix,
    }
    if not objects:
        del answer["Contents"]
    return answer


def _date(info: ObjectInfo) -> str:
    return info.last_modified.strftime("%Y-%m-%dT%H:%M:%SZ")


_SDK = {
    "getObject": get_object,
    "putObject": put_object,
    "headObject": head_object,
    "listObjects": list_objects,
    "listObjectsV2": list_objects_v2,
}

INTEGRATION = S3Integration()
register(INTEGRATION)
