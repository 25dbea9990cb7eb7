"""DynamoDB (arn:aws:states:::dynamodb:* and arn:aws:states:::aws-sdk:dynamodb:*) on local tables.

Through `run_local` on an embedded SQLite home of each test's own: results in AWS's shapes (the
optimized integration's SdkHttpMetadata, the SDK integration's bare response), every error by the
name Step Functions gives it, queries and scans with paging; AWS's recorded DynamoDB executions from
the conformance corpus. Then on PostgreSQL: concurrent conditional writes and counters, and a
workflow run by the durable runtime (a real worker, Redis).
"""

from __future__ import annotations

import json
import shutil
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator import config, run_local
from orchestrator.engine.local import ExecutionResult
from orchestrator.service import Service, ServiceError
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from tests.conformance import corpus
from tests.runtime.conftest import REDIS_URL, close_clusters, database_url, new_cluster  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
ID = [{"AttributeName": "id", "KeyType": "HASH"}]
ID_S = [{"AttributeName": "id", "AttributeType": "S"}]
EVENTS = [{"AttributeName": "device", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}]
EVENTS_TYPES = [{"AttributeName": "device", "AttributeType": "S"}, {"AttributeName": "at", "AttributeType": "N"}]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the schema, made once: each test starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "orchestrator.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()  # closing the last connection moves SQLite's write-ahead log into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture()
def service(migrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Service:
    """An embedded home of this test's own (a fresh SQLite database), and a Service on it."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(migrated, home / "orchestrator.sqlite")
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(home))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_REGION", "ORCHESTRATOR_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    return Service(config.load())


@pytest.fixture()
def orders(service: Service) -> Service:
    """A table ``Orders`` keyed by ``id`` (S), with two items."""
    service.create_table("Orders", ID, ID_S)
    service.put_item("Orders", {"id": {"S": "o-1"}, "amount": {"N": "10"}, "state": {"S": "OPEN"}})
    service.put_item("Orders", {"id": {"S": "o-2"}, "amount": {"N": "250"}, "state": {"S": "SHIPPED"}})
    return service


@pytest.fixture()
def events(service: Service) -> Service:
    """A table ``Events`` keyed by ``device`` (S) and ``at`` (N): 12 events of d-1, 3 of d-2."""
    d1 = [
        {"device": {"S": "d-1"}, "at": {"N": str(n)}, "kind": {"S": "odd" if n % 2 else "even"}} for n in range(1, 13)
    ]
    d2 = [{"device": {"S": "d-2"}, "at": {"N": str(n)}, "kind": {"S": "big"}} for n in (5, 50, 500)]
    service.load_tables(
        {"TableName": "Events", "KeySchema": EVENTS, "AttributeDefinitions": EVENTS_TYPES, "Items": d1 + d2}
    )
    return service


def machine(resource: str, parameters: dict[str, Any], **state: Any) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True, **state}},
    }


def call(action: str, parameters: dict[str, Any], *, optimized: bool = False, input: Any = None) -> ExecutionResult:
    resource = f"arn:aws:states:::{'dynamodb' if optimized else 'aws-sdk:dynamodb'}:{action}"
    return run_local(machine(resource, parameters), input, handlers={})


def ok(action: str, parameters: dict[str, Any], **options: Any) -> Any:
    result = call(action, parameters, **options)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return result.output


def fails(action: str, parameters: dict[str, Any], **options: Any) -> tuple[str | None, str | None]:
    result = call(action, parameters, **options)
    assert result.status == "FAILED", result.output
    return result.error, result.cause


def message(cause: str | None) -> str:
    """The DynamoDB message in a cause, without the SDK's "(Service: ...)" suffix."""
    assert cause is not None
    return cause.rsplit(" (Service: ", 1)[0]


# -- the optimized integration -----------------------------------------------------------------------------


def test_optimized_results_carry_the_java_sdk_http_metadata(orders: Service) -> None:
    put = ok("putItem", {"TableName": "Orders", "Item": {"id": {"S": "o-3"}, "amount": {"N": "01.50"}}}, optimized=True)
    assert set(put) == {"SdkHttpMetadata", "SdkResponseMetadata"}
    metadata = put["SdkHttpMetadata"]
    assert metadata["HttpStatusCode"] == 200
    headers = metadata["HttpHeaders"]
    assert headers["Content-Length"] == "2" and headers["x-amz-crc32"] == str(zlib.crc32(b"{}"))
    assert headers["Content-Type"] == "application/x-amz-json-1.0" and headers["Server"] == "Server"
    assert headers["x-amzn-RequestId"] == put["SdkResponseMetadata"]["RequestId"]
    assert len(headers["x-amzn-RequestId"]) == 52
    assert metadata["AllHttpHeaders"]["Content-Length"] == ["2"]

    got = ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-3"}}}, optimized=True)
    assert got["Item"] == {"id": {"S": "o-3"}, "amount": {"N": "1.5"}}  # the number in canonical form
    body = json.dumps({"Item": got["Item"]}, separators=(",", ":"))
    assert got["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == str(len(body))
    assert "x-amzn-requestid" in got["SdkHttpMetadata"]["HttpHeaders"]  # GetItem's spelling, as AWS recorded it

    updated = ok(
        "updateItem",
        {
            "TableName": "Orders",
            "Key": {"id": {"S": "o-3"}},
            "UpdateExpression": "SET amount = amount + :inc",
            "ExpressionAttributeValues": {":inc": {"N": "1"}},
            "ReturnValues": "UPDATED_NEW",
        },
        optimized=True,
    )
    assert updated["Attributes"] == {"amount": {"N": "2.5"}}
    deleted = ok(
        "deleteItem", {"TableName": "Orders", "Key": {"id": {"S": "o-3"}}, "ReturnValues": "ALL_OLD"}, optimized=True
    )
    assert deleted["Attributes"] == {"id": {"S": "o-3"}, "amount": {"N": "2.5"}}
    assert "Item" not in ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-3"}}}, optimized=True)


def test_optimized_errors_are_named_as_the_java_sdk_v1_names_them(orders: Service) -> None:
    error, cause = fails(
        "putItem",
        {"TableName": "Orders", "Item": {"id": {"S": "o-1"}}, "ConditionExpression": "attribute_not_exists(id)"},
        optimized=True,
    )
    assert error == "DynamoDB.ConditionalCheckFailedException"
    assert cause is not None and cause.startswith(
        "The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; "
        "Error Code: ConditionalCheckFailedException; Request ID: "
    )
    assert cause.endswith("; Proxy: null)")
    error, cause = fails("getItem", {"TableName": "Nowhere", "Key": {"id": {"S": "x"}}}, optimized=True)
    assert error == "DynamoDB.ResourceNotFoundException"
    assert message(cause) == "Requested resource not found"
    error, cause = fails("getItem", {"TableName": "Orders", "Key": {"nope": {"S": "x"}}}, optimized=True)
    assert error == "DynamoDB.AmazonDynamoDBException"  # a ValidationException has no class of its own in SDK v1
    assert "Error Code: ValidationException;" in str(cause)
    assert message(cause) == "The provided key element does not match the schema"


def test_optimized_integration_has_only_four_actions_and_no_callbacks(orders: Service) -> None:
    for resource in ("arn:aws:states:::dynamodb:scan", "arn:aws:states:::dynamodb:getItem.waitForTaskToken"):
        result = run_local(machine(resource, {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}}), handlers={})
        assert result.status == "FAILED"
        assert result.error == "States.Runtime"
        assert resource in str(result.cause)


def test_a_condition_failure_is_caught_by_name(orders: Service) -> None:
    definition = machine(
        "arn:aws:states:::dynamodb:putItem",
        {"TableName": "Orders", "Item": {"id": {"S": "o-1"}}, "ConditionExpression": "attribute_not_exists(id)"},
        Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "Next": "Taken", "ResultPath": "$.error"}],
    )
    definition["States"]["Call"].pop("End")
    definition["States"]["Call"]["Next"] = "Unreachable"
    definition["States"]["Unreachable"] = {"Type": "Fail", "Error": "NotCaught"}
    definition["States"]["Taken"] = {"Type": "Succeed"}
    result = run_local(definition, {"order": "o-1"}, handlers={})
    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == "DynamoDB.ConditionalCheckFailedException"


# -- AWS's recorded executions ----------------------------------------------------------------------------------


def _dynamodb_cases() -> list[dict[str, Any]]:
    folder = corpus.corpus_dir()
    cases = [json.loads(p.read_text()) for p in sorted((folder / "cases").glob("*.json"))]
    # local_mocking cases record LocalStack's mocked responses, not AWS's.
    return [c for c in cases if c.get("needs") == ["dynamodb"] and not c["id"].startswith("v2.local_mocking")]


CASES = _dynamodb_cases()


def _mask_metadata(value: Any) -> Any:
    """Mask what the recording masked: the date, checksum and request id of each SdkHttpMetadata."""
    if isinstance(value, dict):
        masked = {k: _mask_metadata(v) for k, v in value.items()}
        if "SdkResponseMetadata" in masked:
            masked["SdkResponseMetadata"] = {"RequestId": "RequestId"}
            for group in ("AllHttpHeaders", "HttpHeaders"):
                headers = masked["SdkHttpMetadata"][group]
                for name in headers:
                    if name.lower() in ("x-amzn-requestid", "x-amz-crc32"):
                        headers[name] = name
                headers["Date"] = "date"
        return masked
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_recorded_aws_execution(case: dict[str, Any], service: Service) -> None:
    service.create_table("sfn_test_table_00000001", ID, ID_S)
    result = run_local(case["definition"], case["input"], handlers={})
    actual = {"phase": "run", "status": result.status, "error": result.error, "cause": result.cause}
    actual["output"] = json.dumps(_mask_metadata(result.output)) if result.output is not None else None
    verdict, category, details = corpus._runner().judge(case, actual)
    assert verdict == "pass", (category, details)


# -- the SDK integration: items --------------------------------------------------------------------------------


def test_sdk_results_are_the_bare_api_response(orders: Service) -> None:
    assert ok("putItem", {"TableName": "Orders", "Item": {"id": {"S": "o-9"}}}) == {}
    assert ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-9"}}}) == {"Item": {"id": {"S": "o-9"}}}
    assert ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "none"}}}) == {}
    projected = ok(
        "getItem",
        {
            "TableName": "Orders",
            "Key": {"id": {"S": "o-1"}},
            "ProjectionExpression": "#s",
            "ExpressionAttributeNames": {"#s": "state"},
        },
    )
    assert projected == {"Item": {"state": {"S": "OPEN"}}}
    assert ok("deleteItem", {"TableName": "Orders", "Key": {"id": {"S": "o-9"}}, "ReturnValues": "ALL_OLD"}) == {
        "Attributes": {"id": {"S": "o-9"}}
    }
    assert ok("deleteItem", {"TableName": "Orders", "Key": {"id": {"S": "o-9"}}, "ReturnValues": "ALL_OLD"}) == {}


def test_sdk_errors_are_named_as_the_sdk_v2_names_them(orders: Service) -> None:
    error, cause = fails(
        "deleteItem",
        {
            "TableName": "Orders",
            "Key": {"id": {"S": "o-1"}},
            "ConditionExpression": "amount > :n",
            "ExpressionAttributeValues": {":n": {"N": "99"}},
        },
    )
    assert error == "DynamoDb.ConditionalCheckFailedException"
    assert cause is not None and cause.startswith(
        "The conditional request failed (Service: DynamoDb, Status Code: 400, Request ID: "
    )
    assert ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}})["Item"]["amount"] == {"N": "10"}
    error, cause = fails("scan", {"TableName": "Nowhere"})
    assert (error, message(cause)) == ("DynamoDb.ResourceNotFoundException", "Requested resource not found")
    error, cause = fails("putItem", {"TableName": "Orders", "Item": None})
    assert error == "DynamoDb.DynamoDbException"
    assert (
        message(cause)
        == "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null"
    )


@pytest.mark.parametrize(
    ("action", "parameters", "expected"),
    [
        (
            "putItem",
            {"Item": {"amount": {"N": "1"}}},
            "One or more parameter values were invalid: Missing the key id in the item",
        ),
        (
            "putItem",
            {"Item": {"id": {"N": "1"}}},
            "One or more parameter values were invalid: Type mismatch for key id expected: S actual: N",
        ),
        (
            "putItem",
            {"Item": {"id": {"S": ""}}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an "
            "empty string value. Key: id",
        ),
        (
            "putItem",
            {"Item": {"id": {"S": "x"}, "n": {"N": "twelve"}}},
            "A value provided cannot be converted into a number",
        ),
        (
            "putItem",
            {"Item": {"id": {"S": "x"}, "big": {"S": "x" * 410_000}}},
            "Item size has exceeded the maximum allowed size",
        ),
        (
            "putItem",
            {"Item": {"id": {"S": "x"}}, "ReturnValues": "ALL_NEW"},
            "ReturnValues can only be ALL_OLD or NONE",
        ),
        (
            "getItem",
            {"Key": {"id": {"S": "x"}, "other": {"S": "y"}}},
            "The provided key element does not match the schema",
        ),
        ("getItem", {"Key": {"id": {"N": "1"}}}, "The provided key element does not match the schema"),
        (
            "getItem",
            {"Key": {"id": {"S": "o-1"}}, "ProjectionExpression": "state"},
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: state",
        ),
        (
            "getItem",
            {"Key": {"id": {"S": "o-1"}}, "ExpressionAttributeNames": {"#s": "state"}},
            "ExpressionAttributeNames can only be specified when using expressions",
        ),
        (
            "updateItem",
            {
                "Key": {"id": {"S": "o-1"}},
                "UpdateExpression": "SET id = :v",
                "ExpressionAttributeValues": {":v": {"S": "z"}},
            },
            "One or more parameter values were invalid: Cannot update attribute id. This attribute is part of the key",
        ),
        (
            "updateItem",
            {
                "Key": {"id": {"S": "o-1"}},
                "UpdateExpression": "SET amount = :v",
                "ExpressionAttributeValues": {":v": {"N": "1"}, ":w": {"N": "2"}},
            },
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        ),
        (
            "updateItem",
            {"Key": {"id": {"S": "o-1"}}, "UpdateExpression": "SET amount = amount +", "ExpressionAttributeValues": {}},
            'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "+"',
        ),
        (
            "updateItem",
            {
                "Key": {"id": {"S": "o-1"}},
                "UpdateExpression": "SET #s = #s + :one",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            },
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "updateItem",
            {"Key": {"id": {"S": "o-1"}}, "ReturnValues": "EVERYTHING"},
            "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy constraint: "
            "Member must satisfy enum value set: [NONE, ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATED_NEW]",
        ),
    ],
)
def test_validation_errors(orders: Service, action: str, parameters: dict[str, Any], expected: str) -> None:
    error, cause = fails(action, {"TableName": "Orders", **parameters})
    assert error == "DynamoDb.DynamoDbException"
    assert message(cause) == expected


def test_table_names_are_validated_before_the_table_is_looked_up(service: Service) -> None:
    error, cause = fails("getItem", {"TableName": "ab", "Key": {"id": {"S": "x"}}})
    assert error == "DynamoDb.DynamoDbException"
    assert message(cause) == (
        "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3"
    )
    error, _ = fails(
        "getItem", {"TableName": "arn:aws:dynamodb:us-east-1:123456789012:table/Nowhere", "Key": {"id": {"S": "x"}}}
    )
    assert error == "DynamoDb.ResourceNotFoundException"


def test_update_item_return_values_and_upsert(orders: Service) -> None:
    base = {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}}
    change = {
        "UpdateExpression": "SET amount = amount + :n, notes = list_append(if_not_exists(notes, :none), :note) "
        "REMOVE #s",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":n": {"N": "5"}, ":none": {"L": []}, ":note": {"L": [{"S": "rush"}]}},
    }
    assert ok("updateItem", {**base, **change, "ReturnValues": "UPDATED_OLD"}) == {
        "Attributes": {"amount": {"N": "10"}, "state": {"S": "OPEN"}}
    }
    assert ok("updateItem", {**base, **change, "ReturnValues": "UPDATED_NEW"}) == {
        "Attributes": {"amount": {"N": "20"}, "notes": {"L": [{"S": "rush"}, {"S": "rush"}]}}
    }
    assert ok("updateItem", {**base, **change, "ReturnValues": "ALL_NEW"})["Attributes"]["amount"] == {"N": "25"}
    assert ok("updateItem", {**base, **change, "ReturnValues": "ALL_OLD"})["Attributes"]["amount"] == {"N": "25"}
    assert ok("updateItem", {**base, **change}) == {}  # NONE
    # An update of an item that does not exist creates it, with its key.
    created = ok(
        "updateItem",
        {
            "TableName": "Orders",
            "Key": {"id": {"S": "o-new"}},
            "UpdateExpression": "ADD visits :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
            "ReturnValues": "ALL_NEW",
        },
    )
    assert created == {"Attributes": {"id": {"S": "o-new"}, "visits": {"N": "1"}}}
    # ... unless its condition says otherwise.
    error, _ = fails(
        "updateItem",
        {
            "TableName": "Orders",
            "Key": {"id": {"S": "o-other"}},
            "UpdateExpression": "ADD visits :one",
            "ConditionExpression": "attribute_exists(id)",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        },
    )
    assert error == "DynamoDb.ConditionalCheckFailedException"
    assert ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-other"}}}) == {}


def test_conditions_compare_numbers_as_numbers(orders: Service) -> None:
    # "250" < "99" as text, but not as numbers
    parameters = {
        "TableName": "Orders",
        "Key": {"id": {"S": "o-2"}},
        "UpdateExpression": "SET #s = :big",
        "ConditionExpression": "amount > :limit AND #s IN (:shipped, :open)",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {
            ":big": {"S": "BIG"},
            ":limit": {"N": "99"},
            ":shipped": {"S": "SHIPPED"},
            ":open": {"S": "OPEN"},
        },
    }
    assert ok("updateItem", {**parameters, "ReturnValues": "UPDATED_NEW"}) == {"Attributes": {"state": {"S": "BIG"}}}
    error, _ = fails("updateItem", {**parameters, "Key": {"id": {"S": "o-1"}}})
    assert error == "DynamoDb.ConditionalCheckFailedException"


# -- query and scan --------------------------------------------------------------------------------------------


def query(**parameters: Any) -> dict[str, Any]:
    return ok("query", {"TableName": "Events", **parameters})


def ats(response: dict[str, Any]) -> list[int]:
    return [int(item["at"]["N"]) for item in response["Items"]]


def test_query_orders_by_sort_key_numerically_and_applies_key_conditions(events: Service) -> None:
    d1 = {":d": {"S": "d-1"}}
    assert ats(query(KeyConditionExpression="device = :d", ExpressionAttributeValues=d1)) == list(range(1, 13))
    backwards = query(KeyConditionExpression="device = :d", ExpressionAttributeValues=d1, ScanIndexForward=False)
    assert ats(backwards) == list(range(12, 0, -1))
    between = query(
        KeyConditionExpression="device = :d AND #at BETWEEN :lo AND :hi",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={**d1, ":lo": {"N": "2"}, ":hi": {"N": "10"}},
    )
    assert ats(between) == list(range(2, 11))
    assert (between["Count"], between["ScannedCount"]) == (9, 9)
    above = query(
        KeyConditionExpression="device = :d AND #at > :n",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":d": {"S": "d-2"}, ":n": {"N": "9"}},
    )
    assert ats(above) == [50, 500]


def test_query_filter_projection_and_count(events: Service) -> None:
    filtered = query(
        KeyConditionExpression="device = :d",
        FilterExpression="kind = :even",
        ProjectionExpression="#at",
        ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":d": {"S": "d-1"}, ":even": {"S": "even"}},
    )
    assert filtered["Items"] == [{"at": {"N": str(n)}} for n in range(2, 13, 2)]
    assert (filtered["Count"], filtered["ScannedCount"]) == (6, 12)
    counted = query(
        KeyConditionExpression="device = :d", Select="COUNT", ExpressionAttributeValues={":d": {"S": "d-2"}}
    )
    assert counted == {"Count": 3, "ScannedCount": 3}


def test_query_pages_with_limit_and_exclusive_start_key(events: Service) -> None:
    definition = machine(
        "arn:aws:states:::aws-sdk:dynamodb:query",
        {
            "TableName": "Events",
            "KeyConditionExpression": "device = :d",
            "ExpressionAttributeValues": {":d": {"S": "d-1"}},
            "Limit": 5,
            "ExclusiveStartKey.$": "$.start",
        },
    )
    pages, start = [], None
    while True:
        result = run_local(definition, {"start": start}, handlers={})
        assert result.status == "SUCCEEDED", result.cause
        pages.append(ats(result.output))
        start = result.output.get("LastEvaluatedKey")
        if start is None:
            break
        assert start == {"device": {"S": "d-1"}, "at": {"N": str(pages[-1][-1])}}
    # As on AWS, a page that ends at its Limit has a LastEvaluatedKey, even when it took the last item.
    assert pages == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]


def test_query_with_a_string_sort_key_and_begins_with(service: Service) -> None:
    service.create_table(
        "Files",
        [{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "path", "KeyType": "RANGE"}],
        [{"AttributeName": "owner", "AttributeType": "S"}, {"AttributeName": "path", "AttributeType": "S"}],
    )
    for path in ("docs/b", "docs/a", "img/x", "doc"):
        service.put_item("Files", {"owner": {"S": "ann"}, "path": {"S": path}})
    found = ok(
        "query",
        {
            "TableName": "Files",
            "KeyConditionExpression": "#o = :o AND begins_with(#p, :docs)",
            "ExpressionAttributeNames": {"#o": "owner", "#p": "path"},
            "ExpressionAttributeValues": {":o": {"S": "ann"}, ":docs": {"S": "docs/"}},
        },
    )
    assert [i["path"]["S"] for i in found["Items"]] == ["docs/a", "docs/b"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."),
        (
            {
                "KeyConditionExpression": "#at = :n",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":n": {"N": "1"}},
            },
            "Query condition missed key schema element: device",
        ),
        (
            {"KeyConditionExpression": "device > :d", "ExpressionAttributeValues": {":d": {"S": "d"}}},
            "Query key condition not supported",
        ),
        (
            {"KeyConditionExpression": "device = :d", "ExpressionAttributeValues": {":d": {"N": "1"}}},
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            {"KeyConditionExpression": "device = :d OR device = :d", "ExpressionAttributeValues": {":d": {"S": "d"}}},
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            {
                "KeyConditionExpression": "device = :d",
                "FilterExpression": "#at > :d",
                "ExpressionAttributeNames": {"#at": "at"},
                "ExpressionAttributeValues": {":d": {"S": "d"}},
            },
            "Filter Expression can only contain non-primary key attributes: Primary key attribute: at",
        ),
        (
            {
                "KeyConditionExpression": "device = :d",
                "IndexName": "ByKind",
                "ExpressionAttributeValues": {":d": {"S": "d"}},
            },
            "The table does not have the specified index: ByKind",
        ),
        (
            {"KeyConditionExpression": "device = :d", "Limit": 0, "ExpressionAttributeValues": {":d": {"S": "d"}}},
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have "
            "value greater than or equal to 1",
        ),
        (
            {
                "KeyConditionExpression": "device = :d",
                "ExclusiveStartKey": {"device": {"S": "d"}},
                "ExpressionAttributeValues": {":d": {"S": "d"}},
            },
            "The provided starting key is invalid",
        ),
    ],
)
def test_query_errors(events: Service, parameters: dict[str, Any], expected: str) -> None:
    error, cause = fails("query", {"TableName": "Events", **parameters})
    assert error == "DynamoDb.DynamoDbException"
    assert message(cause) == expected


def test_scan_filters_pages_and_segments(events: Service) -> None:
    everything = ok("scan", {"TableName": "Events"})
    assert everything["Count"] == everything["ScannedCount"] == 15
    assert [(i["device"]["S"], int(i["at"]["N"])) for i in everything["Items"]][:3] == [
        ("d-1", 1),
        ("d-1", 2),
        ("d-1", 3),
    ]
    big = ok(
        "scan",
        {"TableName": "Events", "FilterExpression": "kind = :big", "ExpressionAttributeValues": {":big": {"S": "big"}}},
    )
    assert (big["Count"], big["ScannedCount"]) == (3, 15)
    seen, start = [], None
    while True:
        page = ok("scan", {"TableName": "Events", "Limit": 4, "ExclusiveStartKey": start})
        assert page["ScannedCount"] <= 4
        seen += page["Items"]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == everything["Items"]
    segments = [ok("scan", {"TableName": "Events", "Segment": n, "TotalSegments": 3})["Items"] for n in range(3)]
    assert sorted(json.dumps(i, sort_keys=True) for s in segments for i in s) == sorted(
        json.dumps(i, sort_keys=True) for i in everything["Items"]
    )
    error, cause = fails("scan", {"TableName": "Events", "ExclusiveStartKey": {"device": {"S": "d-1"}}})
    assert message(cause) == "The provided starting key is invalid: The provided key element does not match the schema"
    error, cause = fails("scan", {"TableName": "Events", "Segment": 3, "TotalSegments": 3})
    assert error == "DynamoDb.DynamoDbException"
    assert message(cause) == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 3"
    )


def test_credit_bureaus_are_scanned_and_mapped_as_the_example_workflow_does(service: Service) -> None:
    service.load_tables(json.loads((ROOT / "examples/credit-application/bureaus.json").read_text()))
    definition = {
        "StartAt": "Get list of credit bureaus",
        "States": {
            "Get list of credit bureaus": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:scan",
                "Parameters": {"TableName": "GetCreditBureau"},
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.Items",
                "ItemProcessor": {
                    "StartAt": "Name",
                    "States": {"Name": {"Type": "Pass", "OutputPath": "$.Name.S", "End": True}},
                },
                "End": True,
            },
        },
    }
    result = run_local(definition, {}, handlers={})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == ["Equifax", "Experian", "TransUnion"]


# -- batches and transactions ------------------------------------------------------------------------------


def test_batch_write_and_batch_get(orders: Service) -> None:
    written = ok(
        "batchWriteItem",
        {
            "RequestItems": {
                "Orders": [
                    {"PutRequest": {"Item": {"id": {"S": "b-1"}}}},
                    {"PutRequest": {"Item": {"id": {"S": "b-2"}}}},
                    {"DeleteRequest": {"Key": {"id": {"S": "o-2"}}}},
                ]
            }
        },
    )
    assert written == {"UnprocessedItems": {}}
    got = ok(
        "batchGetItem",
        {
            "RequestItems": {
                "Orders": {
                    "Keys": [{"id": {"S": "b-1"}}, {"id": {"S": "o-2"}}, {"id": {"S": "b-2"}}],
                    "ProjectionExpression": "id",
                }
            }
        },
    )
    assert got == {"Responses": {"Orders": [{"id": {"S": "b-1"}}, {"id": {"S": "b-2"}}]}, "UnprocessedKeys": {}}
    error, cause = fails(
        "batchWriteItem",
        {
            "RequestItems": {
                "Orders": [
                    {"PutRequest": {"Item": {"id": {"S": "b-3"}}}},
                    {"DeleteRequest": {"Key": {"id": {"S": "b-3"}}}},
                ]
            }
        },
    )
    assert (error, message(cause)) == ("DynamoDb.DynamoDbException", "Provided list of item keys contains duplicates")
    assert ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": "b-3"}}}) == {}


def test_transact_write_items_is_all_or_nothing(orders: Service) -> None:
    transfer = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": "Orders",
                    "Key": {"id": {"S": "o-1"}},
                    "UpdateExpression": "SET amount = amount - :n",
                    "ConditionExpression": "amount >= :n",
                    "ExpressionAttributeValues": {":n": {"N": "50"}},
                }
            },
            {
                "Update": {
                    "TableName": "Orders",
                    "Key": {"id": {"S": "o-2"}},
                    "UpdateExpression": "SET amount = amount + :n",
                    "ExpressionAttributeValues": {":n": {"N": "50"}},
                }
            },
        ]
    }
    error, cause = fails("transactWriteItems", transfer)
    assert error == "DynamoDb.TransactionCanceledException"
    assert message(cause) == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]"
    )
    got = ok(
        "transactGetItems",
        {
            "TransactItems": [
                {"Get": {"TableName": "Orders", "Key": {"id": {"S": k}}, "ProjectionExpression": "amount"}}
                for k in ("o-1", "o-2", "o-3")
            ]
        },
    )
    assert got == {"Responses": [{"Item": {"amount": {"N": "10"}}}, {"Item": {"amount": {"N": "250"}}}, {}]}
    transfer["TransactItems"][0]["Update"]["ExpressionAttributeValues"] = {":n": {"N": "5"}}
    transfer["TransactItems"][1]["Update"]["ExpressionAttributeValues"] = {":n": {"N": "5"}}
    transfer["TransactItems"].append(
        {
            "ConditionCheck": {
                "TableName": "Orders",
                "Key": {"id": {"S": "o-2"}},
                "ConditionExpression": "attribute_exists(id)",
            }
        }
    )
    error, cause = fails("transactWriteItems", transfer)
    assert (error, message(cause)) == (
        "DynamoDb.DynamoDbException",
        "Transaction request cannot include multiple operations on one item",
    )
    transfer["TransactItems"].pop()
    assert ok("transactWriteItems", transfer) == {}
    amounts = [
        ok("getItem", {"TableName": "Orders", "Key": {"id": {"S": k}}})["Item"]["amount"]["N"] for k in ("o-1", "o-2")
    ]
    assert amounts == ["5", "255"]


def test_fields_step_functions_would_not_pass_fail_the_task(orders: Service) -> None:
    error, cause = fails("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}, "Projection": "id"})
    assert error == "States.Runtime" and "'Projection'" in str(cause)
    error, cause = fails("getItem", {"TableName": "Orders", "Key": {"id": {"S": "o-1"}}, "AttributesToGet": ["id"]})
    assert error == "States.Runtime" and "legacy" in str(cause)


# -- the service ---------------------------------------------------------------------------------------------


def test_service_refusals_carry_dynamodb_codes(orders: Service) -> None:
    with pytest.raises(ServiceError) as caught:
        orders.create_table("Orders", ID, ID_S)
    assert (caught.value.code, caught.value.message) == ("ResourceInUseException", "Table already exists: Orders")
    with pytest.raises(ServiceError) as caught:
        orders.create_table("Other", ID, [{"AttributeName": "key", "AttributeType": "S"}])
    assert caught.value.code == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in caught.value.message
    with pytest.raises(ServiceError) as caught:
        orders.scan_table("Nowhere")
    assert (caught.value.code, caught.value.message) == (
        "ResourceNotFoundException",
        "Requested resource not found: Table: Nowhere not found",
    )
    assert orders.describe_table("Orders")["Table"]["ItemCount"] == 2
    orders.delete_table("Orders")
    assert orders.list_tables() == {"TableNames": []}


# -- PostgreSQL -------------------------------------------------------------------------------------------------


@pytest.fixture()
def on_postgresql(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Service]:  # noqa: F811
    """run_local and a Service on a fresh PostgreSQL database (its tables named uniquely per test)."""
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATOR_DATABASE_URL", database_url)
    yield Service(config.load())


def test_on_postgresql_concurrent_writes_stay_consistent(on_postgresql: Service) -> None:
    table = f"Counters-{uuid.uuid4().hex[:8]}"
    on_postgresql.create_table(table, ID, ID_S)
    claim = {"TableName": table, "Item": {"id": {"S": "lock"}}, "ConditionExpression": "attribute_not_exists(id)"}
    bump = {
        "TableName": table,
        "Key": {"id": {"S": "hits"}},
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    outcomes: list[str] = []

    def work() -> None:
        outcomes.append(call("putItem", claim).error or "claimed")
        for _ in range(5):
            assert call("updateItem", bump).status == "SUCCEEDED"

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One claim wins; the others see its item. No increment is lost.
    assert sorted(outcomes) == ["DynamoDb.ConditionalCheckFailedException"] * 7 + ["claimed"]
    assert ok("getItem", {"TableName": table, "Key": {"id": {"S": "hits"}}})["Item"]["n"] == {"N": "40"}
    numbers = {"TableName": table, "Item": {"id": {"S": "n"}, "v": {"N": "12345678901234567890.123456789"}}}
    assert ok("putItem", numbers) == {}
    assert ok("getItem", {"TableName": table, "Key": {"id": {"S": "n"}}})["Item"]["v"] == {
        "N": "12345678901234567890.123456789"
    }


def test_the_durable_runtime_runs_dynamodb_tasks(database_url: str, tmp_path: Path) -> None:  # noqa: F811
    table = f"Orders-{uuid.uuid4().hex[:8]}"
    # Queues of this test's own, so that no other test session's worker takes its messages.
    suffix = uuid.uuid4().hex[:8]
    queues = {"ORCHESTRATOR_ENGINE_QUEUE": f"orchestrator-{suffix}", "ORCHESTRATOR_HANDLER_QUEUE": f"handlers-{suffix}"}
    cluster = new_cluster(database_url, REDIS_URL, tmp_path / "cluster", extra_env=queues)
    try:
        cluster.service.create_table(table, ID, ID_S)
        cluster.start_worker(concurrency=2)
        cluster.start_scheduler()
        definition = {
            "StartAt": "Put",
            "States": {
                "Put": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": table,
                        "Item": {"id": {"S.$": "$.id"}, "amount": {"N.$": "States.Format('{}', $.amount)"}},
                    },
                    "ResultPath": None,
                    "Next": "Again",
                },
                "Again": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:putItem",
                    "Parameters": {
                        "TableName": table,
                        "Item": {"id": {"S.$": "$.id"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    },
                    "Catch": [
                        {
                            "ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                            "ResultPath": "$.duplicate",
                            "Next": "Query",
                        }
                    ],
                    "Next": "Query",
                },
                "Query": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:dynamodb:query",
                    "Parameters": {
                        "TableName": table,
                        "KeyConditionExpression": "id = :id",
                        "ExpressionAttributeValues": {":id": {"S.$": "$.id"}},
                    },
                    "ResultSelector": {"items.$": "$.Items", "count.$": "$.Count"},
                    "ResultPath": "$.found",
                    "End": True,
                },
            },
        }
        execution = cluster.start(cluster.state_machine(definition), {"id": "o-7", "amount": 42})
        described = cluster.wait(execution)
        assert described["status"] == "SUCCEEDED", described
        output = json.loads(described["output"])
        assert output["duplicate"]["Error"] == "DynamoDB.ConditionalCheckFailedException"
        assert output["found"] == {"items": [{"id": {"S": "o-7"}, "amount": {"N": "42"}}], "count": 1}
        assert cluster.service.scan_all(table)["Count"] == 1
    finally:
        close_clusters([cluster])
