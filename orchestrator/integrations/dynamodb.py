"""DynamoDB on local tables kept in the orchestrator's database, for Task states and the CLI.

Resources handled:

- ``arn:aws:states:::dynamodb:getItem|putItem|updateItem|deleteItem``: the optimized integration.
  Its result is the API response plus ``SdkHttpMetadata`` and ``SdkResponseMetadata`` (as AWS
  records them); its errors are ``DynamoDB.<Code>`` for the exceptions the AWS SDK for Java v1
  models (``DynamoDB.ConditionalCheckFailedException``, ``DynamoDB.ResourceNotFoundException``)
  and ``DynamoDB.AmazonDynamoDBException`` for the rest (a ValidationException), with a cause in
  that SDK's words ("... (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ...)").
- ``arn:aws:states:::aws-sdk:dynamodb:<action>`` for the actions in `SDK_ACTIONS`: the result is
  the bare API response (``Items``, ``Count``, ``LastEvaluatedKey``, ...); errors are
  ``DynamoDb.<Code>`` (SDK v2's names: ``DynamoDb.DynamoDbException`` for a ValidationException).
  Other aws-sdk:dynamodb actions are left to the generic aws-sdk integration.

Each action is a function ``(session, params) -> response`` over DynamoDB's request shape, so the
service (``orchestrator tables ...``) runs the very same code. The rules and messages are
DynamoDB's; the expression language lives in `dynamodb_expressions`. Items of a partition come
back in sort-key order (numbers numerically); a scan returns partitions in key order.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import random
import string
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import Resource, parse_resource
from orchestrator.integrations import dynamodb_expressions as ex
from orchestrator.integrations import services
from orchestrator.integrations.dynamodb_expressions import DynamoDBError, constraint, invalid
from orchestrator.store import dynamodb as store
from orchestrator.store.db import session_scope
from orchestrator.store.models import Table

OPTIMIZED_ACTIONS = ("getItem", "putItem", "updateItem", "deleteItem")
NOT_FOUND = "Requested resource not found"
CONDITION_FAILED = "The conditional request failed"
MAX_PAGE_BYTES = 1024 * 1024


class Unsupported(Exception):
    """A request DynamoDB would take that local tables do not implement (legacy parameters, indexes)."""


# -- tables and keys -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schema:
    """A table's identity and key schema."""

    table_id: int
    name: str
    arn: str
    partition: str
    partition_type: str
    sort: str | None = None
    sort_type: str | None = None

    @classmethod
    def of(cls, table: Table) -> Schema:
        types = {d["AttributeName"]: d["AttributeType"] for d in table.attribute_definitions}
        hash_key = next(k["AttributeName"] for k in table.key_schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in table.key_schema if k["KeyType"] == "RANGE"), None)
        return cls(
            table.id,
            table.name,
            table.arn,
            hash_key,
            types[hash_key],
            range_key,
            types[range_key] if range_key else None,
        )

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        pairs = [(self.partition, self.partition_type)]
        if self.sort and self.sort_type:
            pairs.append((self.sort, self.sort_type))
        return tuple(pairs)

    def row_key(self, item: Mapping[str, ex.AttributeValue]) -> tuple[str, str]:
        """The (partition_key, sort_key) columns of an item whose key attributes are valid."""
        sort = ex.key_text(item[self.sort]) if self.sort else ""
        return ex.key_text(item[self.partition]), sort

    def key_of(self, item: Mapping[str, ex.AttributeValue]) -> ex.Item:
        return {name: item[name] for name, _ in self.keys}

    def order(self, item: Mapping[str, ex.AttributeValue]) -> tuple[Any, ...]:
        """Where an item sorts in a scan: by partition key, then sort key (each by its type's order)."""
        return tuple(ex.order_key(item[name]) for name, _ in self.keys)

    def check_key(self, key: Any, what: str = "key", message: str = "") -> ex.Item:
        """A Key parameter: exactly the key attributes, each of its declared type."""
        mismatch = message or "The provided key element does not match the schema"
        if key is None:
            raise constraint(None, what, "Member must not be null")
        try:
            checked = ex.check_item(key, what)
        except DynamoDBError:
            raise invalid(mismatch) from None
        if set(checked) != {name for name, _ in self.keys}:
            raise invalid(mismatch)
        for name, kind in self.keys:
            if ex.value_type(checked[name]) != kind:
                raise invalid(mismatch)
            _check_key_value(name, checked[name], name == self.partition)
        return checked

    def check_item_keys(self, item: ex.Item) -> None:
        """An item to put: it has every key attribute, each of its declared type."""
        for name, kind in self.keys:
            if name not in item:
                raise invalid(f"One or more parameter values were invalid: Missing the key {name} in the item")
            actual = ex.value_type(item[name])
            if actual != kind:
                raise invalid(
                    f"One or more parameter values were invalid: Type mismatch for key {name} expected: {kind} "
                    f"actual: {actual}"
                )
            _check_key_value(name, item[name], name == self.partition)


def _check_key_value(name: str, value: ex.AttributeValue, is_partition: bool) -> None:
    kind = ex.value_type(value)
    raw = value[kind]
    if kind in ("S", "B") and raw == "":
        what = "string" if kind == "S" else "binary"
        raise invalid(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
            f"an empty {what} value. Key: {name}"
        )
    size = len(ex.binary(raw)) if kind == "B" else len(str(raw).encode("utf-8", "surrogatepass"))
    if is_partition and size > 2048:
        raise invalid(
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit "
            "of2048 bytes"
        )
    if not is_partition and size > 1024:
        raise invalid(
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the "
            "size limit of 1024 bytes"
        )


def table_name(value: Any, what: str = "tableName") -> str:
    """A TableName parameter (a name, or a table ARN) as the table's name."""
    if value is None:
        raise constraint(None, what, "Member must not be null")
    if not isinstance(value, str):
        raise constraint(value, what, "Member must be a string")
    name = value.split(":table/", 1)[1] if value.startswith("arn:") and ":table/" in value else value
    if len(name) < 3:
        raise constraint(value, what, "Member must have length greater than or equal to 3")
    if len(name) > 255:
        raise constraint(value, what, "Member must have length less than or equal to 255")
    if not all(c.isascii() and (c.isalnum() or c in "_.-") for c in name):
        raise constraint(value, what, "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    return name


def find_table(session: Session, name: str) -> Schema:
    table = store.table_by_name(session, name) if store.has_schema(session) else None
    if table is None:
        raise DynamoDBError("ResourceNotFoundException", NOT_FOUND)
    return Schema.of(table)


# -- request parameters -----------------------------------------------------------------------------

_COMMON = frozenset({"TableName", "ReturnConsumedCapacity"})
_LEGACY = frozenset(
    {
        "AttributesToGet",
        "Expected",
        "ConditionalOperator",
        "AttributeUpdates",
        "KeyConditions",
        "QueryFilter",
        "ScanFilter",
    }
)
_ALLOWED = {
    "getItem": {"Key", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"},
    "putItem": {
        "Item",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
        "ReturnItemCollectionMetrics",
        "ReturnValuesOnConditionCheckFailure",
    },
    "updateItem": {
        "Key",
        "UpdateExpression",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
        "ReturnItemCollectionMetrics",
        "ReturnValuesOnConditionCheckFailure",
    },
    "deleteItem": {
        "Key",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
        "ReturnItemCollectionMetrics",
        "ReturnValuesOnConditionCheckFailure",
    },
    "query": {
        "IndexName",
        "Select",
        "Limit",
        "ConsistentRead",
        "KeyConditionExpression",
        "FilterExpression",
        "ProjectionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ScanIndexForward",
        "ExclusiveStartKey",
    },
    "scan": {
        "IndexName",
        "Select",
        "Limit",
        "ConsistentRead",
        "FilterExpression",
        "ProjectionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ExclusiveStartKey",
        "Segment",
        "TotalSegments",
    },
}
_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
_SELECT = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")


def _params(action: str, params: Any, allowed: set[str] | frozenset[str] | None = None) -> dict[str, Any]:
    """The request, checked for fields the action does not have; a null field counts as absent."""
    if not isinstance(params, dict):
        raise invalid(f"The parameters of {action} must be an object")
    fields = _COMMON | (allowed if allowed is not None else _ALLOWED[action])
    for name in params:
        if name in _LEGACY:
            raise Unsupported(
                f"The parameter '{name}' of {action} is a legacy DynamoDB parameter that Orchestrator's local tables "
                "do not support: use the expression parameters (ProjectionExpression, ConditionExpression, ...)"
            )
        if name not in fields:
            raise Unsupported(f"The field '{name}' is not supported by Step Functions for {action}")
    return {k: v for k, v in params.items() if v is not None}


def _enum(params: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(name, default)
    if value not in allowed:
        member = name[0].lower() + name[1:]
        raise constraint(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return str(value)


def _return_values(params: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
    value = _enum(params, "ReturnValues", _RETURN_VALUES, "NONE")
    if value not in allowed:
        raise invalid(f"ReturnValues can only be {' or '.join(allowed[::-1])}")
    return value


def _expressions(params: Mapping[str, Any], *names: str) -> ex.Placeholders:
    """The request's placeholders, refused when no expression of the request uses them (as DynamoDB does)."""
    refs = ex.placeholders(params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))
    if not any(params.get(n) is not None for n in names):
        if "ExpressionAttributeNames" in params:
            raise invalid("ExpressionAttributeNames can only be specified when using expressions")
        if "ExpressionAttributeValues" in params:
            raise invalid("ExpressionAttributeValues can only be specified when using expressions")
    return refs


def _condition(params: Mapping[str, Any], refs: ex.Placeholders) -> Any:
    text = params.get("ConditionExpression")
    return ex.parse_condition(text, refs) if text is not None else None


def _projection(params: Mapping[str, Any], refs: ex.Placeholders) -> list[ex.Path] | None:
    text = params.get("ProjectionExpression")
    return ex.parse_projection(text, refs) if text is not None else None


def _check_size(item: ex.Item) -> None:
    if ex.item_size(item) > ex.MAX_ITEM_BYTES:
        raise invalid("Item size has exceeded the maximum allowed size")


# -- writes: planned (conditions checked), then committed ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Write:
    """One item write decided but not yet stored: ``new`` None deletes the item."""

    schema: Schema
    row_key: tuple[str, str]
    row: Any
    old: ex.Item | None
    new: ex.Item | None


def _plan(
    session: Session, schema: Schema, key: ex.Item, condition: Any, change: Callable[[ex.Item | None], ex.Item | None]
) -> Write:
    """Read the item (locked), check ``condition`` on it, and work out what it becomes."""
    row_key = schema.row_key(key)
    row = store.item(session, schema.table_id, *row_key, for_update=True)
    old = row.item if row is not None else None
    if condition is not None and not ex.evaluate(condition, old or {}):
        raise DynamoDBError("ConditionalCheckFailedException", CONDITION_FAILED)
    return Write(schema, row_key, row, old, change(old))


def _commit(session: Session, write: Write) -> None:
    if write.new is None:
        if write.row is not None:
            store.remove_item(session, write.row)
        return
    if write.old == write.new and write.row is not None:
        return
    store.save_item(session, write.schema.table_id, *write.row_key, write.new, write.row)


@dataclass(frozen=True, slots=True)
class _PutRequest:
    schema: Schema
    item: ex.Item
    condition: Any


def _put_request(session: Session, params: dict[str, Any]) -> _PutRequest:
    item = ex.check_item(params.get("Item"))
    refs = _expressions(params, "ConditionExpression")
    condition = _condition(params, refs)
    refs.check_all_used()
    schema = find_table(session, table_name(params.get("TableName")))
    schema.check_item_keys(item)
    _check_size(item)
    return _PutRequest(schema, item, condition)


def put_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("putItem", params)
    returns = _return_values(params, ("NONE", "ALL_OLD"))
    request = _put_request(session, params)
    write = _plan(
        session, request.schema, request.schema.key_of(request.item), request.condition, lambda _: request.item
    )
    _commit(session, write)
    return {"Attributes": write.old} if returns == "ALL_OLD" and write.old else {}


@dataclass(frozen=True, slots=True)
class _UpdateRequest:
    schema: Schema
    key: ex.Item
    update: ex.Update | None
    condition: Any


def _update_request(session: Session, params: dict[str, Any]) -> _UpdateRequest:
    refs = _expressions(params, "ConditionExpression", "UpdateExpression")
    text = params.get("UpdateExpression")
    update = ex.parse_update(text, refs) if text is not None else None
    condition = _condition(params, refs)
    refs.check_all_used()
    schema = find_table(session, table_name(params.get("TableName")))
    key = schema.check_key(params.get("Key"))
    for path in update.paths() if update else []:
        if path.elements[0] in key:
            raise invalid(
                f"One or more parameter values were invalid: Cannot update attribute {path.elements[0]}. "
                "This attribute is part of the key"
            )
    return _UpdateRequest(schema, key, update, condition)


def _updated(request: _UpdateRequest) -> Callable[[ex.Item | None], ex.Item]:
    def change(old: ex.Item | None) -> ex.Item:
        base = old if old is not None else dict(request.key)
        new = ex.apply_update(base, request.update) if request.update else dict(base)
        _check_size(new)
        return new

    return change


def update_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("updateItem", params)
    returns = _return_values(params, _RETURN_VALUES)
    request = _update_request(session, params)
    write = _plan(session, request.schema, request.key, request.condition, _updated(request))
    _commit(session, write)
    paths = request.update.paths() if request.update else []
    attributes: ex.Item | None = {
        "ALL_OLD": write.old,
        "ALL_NEW": write.new,
        "UPDATED_OLD": ex.project(write.old, paths) if write.old else None,
        "UPDATED_NEW": ex.project(write.new or {}, paths),
        "NONE": None,
    }[returns]
    return {"Attributes": attributes} if attributes else {}


@dataclass(frozen=True, slots=True)
class _KeyedRequest:
    schema: Schema
    key: ex.Item
    condition: Any


def _keyed_request(session: Session, params: dict[str, Any], condition_required: bool = False) -> _KeyedRequest:
    if condition_required and params.get("ConditionExpression") is None:
        raise constraint(None, "conditionExpression", "Member must not be null")
    refs = _expressions(params, "ConditionExpression")
    condition = _condition(params, refs)
    refs.check_all_used()
    schema = find_table(session, table_name(params.get("TableName")))
    return _KeyedRequest(schema, schema.check_key(params.get("Key")), condition)


def delete_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("deleteItem", params)
    returns = _return_values(params, ("NONE", "ALL_OLD"))
    request = _keyed_request(session, params)
    write = _plan(session, request.schema, request.key, request.condition, lambda _: None)
    _commit(session, write)
    return {"Attributes": write.old} if returns == "ALL_OLD" and write.old else {}


# -- reads ---------------------------------------------------------------------------------------------


def get_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("getItem", params)
    refs = _expressions(params, "ProjectionExpression")
    projection = _projection(params, refs)
    refs.check_all_used()
    schema = find_table(session, table_name(params.get("TableName")))
    return _get(session, schema, schema.check_key(params.get("Key")), projection)


def _get(session: Session, schema: Schema, key: ex.Item, projection: list[ex.Path] | None) -> dict[str, Any]:
    row = store.item(session, schema.table_id, *schema.row_key(key))
    if row is None:
        return {}
    return {"Item": ex.project(row.item, projection) if projection else row.item}


@dataclass(frozen=True, slots=True)
class _Read:
    """What query and scan share: which items to return, how many to look at, where to start."""

    select: str
    limit: int | None
    start: ex.Item | None
    filter: Any
    projection: list[ex.Path] | None


def _read_options(action: str, params: dict[str, Any], refs: ex.Placeholders) -> _Read:
    # Without a Select, a ProjectionExpression means SPECIFIC_ATTRIBUTES.
    default = "SPECIFIC_ATTRIBUTES" if params.get("ProjectionExpression") is not None else "ALL_ATTRIBUTES"
    select = _enum(params, "Select", _SELECT, default)
    limit = params.get("Limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise constraint(limit, "limit", "Member must have value greater than or equal to 1")
    what = "FilterExpression"
    filter_text = params.get(what)
    condition = ex.parse_condition(filter_text, refs, what) if filter_text is not None else None
    projection = _projection(params, refs)
    if projection and select in ("ALL_ATTRIBUTES", "COUNT"):
        raise invalid(f"Cannot specify the ProjectionExpression when choosing to get {select}")
    if select == "SPECIFIC_ATTRIBUTES" and not projection:
        raise invalid(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES":
        raise invalid("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    return _Read(select, limit, params.get("ExclusiveStartKey"), condition, projection)


def _no_index(params: Mapping[str, Any], schema: Schema) -> None:
    if "IndexName" in params:
        raise invalid(f"The table does not have the specified index: {params['IndexName']}")


def _page(schema: Schema, items: list[ex.Item], read: _Read) -> dict[str, Any]:
    """One page of a query or scan over ``items`` (already in order, after ExclusiveStartKey).

    Limit counts the items looked at, before the filter; a page also ends past 1 MB. As on AWS,
    a page that ends at its Limit has a LastEvaluatedKey even when no item is left.
    """
    found: list[ex.Item] = []
    scanned = size = 0
    for item in items:
        if (read.limit is not None and scanned >= read.limit) or size >= MAX_PAGE_BYTES:
            break
        scanned += 1
        size += ex.item_size(item)
        if read.filter is None or ex.evaluate(read.filter, item):
            found.append(ex.project(item, read.projection) if read.projection else item)
    response: dict[str, Any] = {} if read.select == "COUNT" else {"Items": found}
    response["Count"] = len(found)
    response["ScannedCount"] = scanned
    if scanned and (scanned < len(items) or scanned == read.limit):
        response["LastEvaluatedKey"] = schema.key_of(items[scanned - 1])
    return response


def _after(schema: Schema, items: list[ex.Item], start: ex.Item | None, reverse: bool = False) -> list[ex.Item]:
    if start is None:
        return items
    position = schema.order(start)
    if reverse:
        return [i for i in items if schema.order(i) < position]
    return [i for i in items if schema.order(i) > position]


def query(session: Session, params: Any) -> dict[str, Any]:
    params = _params("query", params)
    if params.get("KeyConditionExpression") is None:
        raise invalid("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    refs = _expressions(params, "KeyConditionExpression", "FilterExpression", "ProjectionExpression")
    conditions = ex.parse_key_condition(params["KeyConditionExpression"], refs)
    read = _read_options("query", params, refs)
    refs.check_all_used()
    forward = params.get("ScanIndexForward", True)
    schema = find_table(session, table_name(params.get("TableName")))
    _no_index(params, schema)
    partition, sort = _key_conditions(schema, conditions)
    if read.filter is not None:
        for path in ex.condition_paths(read.filter):
            if path.elements[0] in (schema.partition, schema.sort):
                raise invalid(
                    "Filter Expression can only contain non-primary key attributes: Primary key attribute: "
                    f"{path.elements[0]}"
                )
    start = _start_key(schema, read.start, "query")
    rows = store.partition(session, schema.table_id, ex.key_text(partition.values[0]))
    items = sorted((r.item for r in rows), key=schema.order, reverse=not forward)
    if sort is not None:
        items = [i for i in items if ex.key_condition_matches(sort, i.get(sort.attribute))]
    return _page(schema, _after(schema, items, start, reverse=not forward), read)


def _key_conditions(
    schema: Schema, conditions: list[ex.KeyCondition]
) -> tuple[ex.KeyCondition, ex.KeyCondition | None]:
    """The partition key's condition and the sort key's (if any), checked against the key schema."""
    if len(conditions) > 2:
        raise invalid("Conditions can be of length 1 or 2 only")
    by_name: dict[str, ex.KeyCondition] = {}
    for condition in conditions:
        if condition.attribute in by_name:
            raise invalid("KeyConditionExpressions must only contain one condition per key")
        by_name[condition.attribute] = condition
    partition = by_name.pop(schema.partition, None)
    if partition is None:
        raise invalid(f"Query condition missed key schema element: {schema.partition}")
    sort = by_name.pop(schema.sort, None) if schema.sort else None
    if by_name:
        missing = schema.sort or schema.partition
        raise invalid(f"Query condition missed key schema element: {missing}")
    if partition.op != "=":
        raise invalid("Query key condition not supported")
    for condition, kind in ((partition, schema.partition_type), (sort, schema.sort_type)):
        if condition is not None and any(ex.value_type(v) != kind for v in condition.values):
            raise invalid(
                "One or more parameter values were invalid: Condition parameter type does not match schema type"
            )
    return partition, sort


def _start_key(schema: Schema, start: Any, action: str) -> ex.Item | None:
    if start is None:
        return None
    # Query says less than Scan about a start key that does not fit the table.
    message = "The provided starting key is invalid"
    if action == "scan":
        message += ": The provided key element does not match the schema"
    return schema.check_key(start, "exclusiveStartKey", message)


def scan(session: Session, params: Any) -> dict[str, Any]:
    params = _params("scan", params)
    refs = _expressions(params, "FilterExpression", "ProjectionExpression")
    read = _read_options("scan", params, refs)
    refs.check_all_used()
    segment = _segment(params)
    schema = find_table(session, table_name(params.get("TableName")))
    _no_index(params, schema)
    start = _start_key(schema, read.start, "scan")
    rows = store.all_items(session, schema.table_id)
    if segment is not None:
        rows = [r for r in rows if zlib.crc32(r.partition_key.encode()) % segment[1] == segment[0]]
    items = sorted((r.item for r in rows), key=schema.order)
    return _page(schema, _after(schema, items, start), read)


def _segment(params: Mapping[str, Any]) -> tuple[int, int] | None:
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if segment is None and total is None:
        return None
    if total is None:
        raise invalid(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter "
            "is present"
        )
    if segment is None:
        raise invalid(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments "
            "is present"
        )
    if not isinstance(total, int) or not 1 <= total <= 1_000_000:
        raise constraint(total, "totalSegments", "Member must have value between 1 and 1000000")
    if not isinstance(segment, int) or not 0 <= segment < total:
        raise invalid(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: "
            f"{segment} is not less than TotalSegments: {total}"
        )
    return segment, total


# -- batches and transactions -------------------------------------------------------------------------------


def _request_items(params: Mapping[str, Any]) -> dict[str, Any]:
    requests = params.get("RequestItems")
    if requests is None:
        raise constraint(None, "requestItems", "Member must not be null")
    if not isinstance(requests, dict) or not requests:
        raise constraint("{}", "requestItems", "Member must have length greater than or equal to 1")
    return requests


def batch_get_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("batchGetItem", params, {"RequestItems"})
    requests = _request_items(params)
    if sum(len(r.get("Keys") or []) for r in requests.values() if isinstance(r, dict)) > 100:
        raise invalid("Too many items requested for the BatchGetItem call")
    responses: dict[str, list[ex.Item]] = {}
    for name, request in requests.items():
        request = _params(
            "batchGetItem", request, {"Keys", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"}
        )
        refs = _expressions(request, "ProjectionExpression")
        projection = _projection(request, refs)
        refs.check_all_used()
        schema = find_table(session, table_name(name))
        keys = [schema.check_key(k) for k in request.get("Keys") or []]
        if len({schema.row_key(k) for k in keys}) != len(keys):
            raise invalid("Provided list of item keys contains duplicates")
        found = [_get(session, schema, k, projection).get("Item") for k in keys]
        responses[name] = [item for item in found if item is not None]
    return {"Responses": responses, "UnprocessedKeys": {}}


def batch_write_item(session: Session, params: Any) -> dict[str, Any]:
    params = _params("batchWriteItem", params, {"RequestItems", "ReturnItemCollectionMetrics"})
    requests = _request_items(params)
    if sum(len(r) for r in requests.values() if isinstance(r, list)) > 25:
        raise invalid("Too many items requested for the BatchWriteItem call")
    writes: list[Write] = []
    for name, entries in requests.items():
        schema = find_table(session, table_name(name))
        seen: set[tuple[str, str]] = set()
        for entry in entries if isinstance(entries, list) else []:
            write = _batch_write(session, schema, entry)
            if write.row_key in seen:
                raise invalid("Provided list of item keys contains duplicates")
            seen.add(write.row_key)
            writes.append(write)
    for write in writes:
        _commit(session, write)
    return {"UnprocessedItems": {}}


def _batch_write(session: Session, schema: Schema, entry: Any) -> Write:
    if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in ("PutRequest", "DeleteRequest"):
        raise invalid("Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest")
    kind, body = next(iter(entry.items()))
    if kind == "PutRequest":
        item = ex.check_item((body or {}).get("Item"))
        schema.check_item_keys(item)
        _check_size(item)
        return _plan(session, schema, schema.key_of(item), None, lambda _: item)
    key = schema.check_key((body or {}).get("Key"))
    return _plan(session, schema, key, None, lambda _: None)


_TRANSACT_WRITE = {
    "Put": {
        "Item",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValuesOnConditionCheckFailure",
    },
    "Update": {
        "Key",
        "UpdateExpression",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValuesOnConditionCheckFailure",
    },
    "Delete": {
        "Key",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValuesOnConditionCheckFailure",
    },
    "ConditionCheck": {
        "Key",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValuesOnConditionCheckFailure",
    },
}


def _transact_items(params: Mapping[str, Any]) -> list[Any]:
    items = params.get("TransactItems")
    if items is None:
        raise constraint(None, "transactItems", "Member must not be null")
    if not isinstance(items, list) or not 1 <= len(items) <= 100:
        raise constraint(items, "transactItems", "Member must have length less than or equal to 100")
    return items


def transact_write_items(session: Session, params: Any) -> dict[str, Any]:
    params = _params(
        "transactWriteItems", params, {"TransactItems", "ClientRequestToken", "ReturnItemCollectionMetrics"}
    )
    plans: list[tuple[Schema, ex.Item, Any, Callable[[ex.Item | None], ex.Item | None] | None]] = []
    for entry in _transact_items(params):
        if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in _TRANSACT_WRITE:
            raise invalid("TransactItems can only contain one of Check, Put, Update or Delete")
        kind, body = next(iter(entry.items()))
        plans.append(_transact_plan(session, kind, _params("transactWriteItems", body, _TRANSACT_WRITE[kind])))
    keys = [(schema.table_id, schema.row_key(key)) for schema, key, _, _ in plans]
    if len(set(keys)) != len(keys):
        raise invalid("Transaction request cannot include multiple operations on one item")
    writes: list[Write | None] = []
    reasons: list[str] = []
    for schema, key, condition, change in plans:
        try:
            write = _plan(session, schema, key, condition, change or (lambda old: old))
        except DynamoDBError as exc:
            if exc.code != "ConditionalCheckFailedException":
                raise
            writes.append(None)
            reasons.append("ConditionalCheckFailed")
        else:
            writes.append(write if change is not None else None)
            reasons.append("None")
    if "ConditionalCheckFailed" in reasons:
        raise DynamoDBError(
            "TransactionCanceledException",
            f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(reasons)}]",
        )
    for write in writes:
        if write is not None:
            _commit(session, write)
    return {}


def _transact_plan(
    session: Session, kind: str, body: dict[str, Any]
) -> tuple[Schema, ex.Item, Any, Callable[[ex.Item | None], ex.Item | None] | None]:
    if kind == "Put":
        put = _put_request(session, body)
        return put.schema, put.schema.key_of(put.item), put.condition, lambda _: put.item
    if kind == "Update":
        if body.get("UpdateExpression") is None:
            raise constraint(None, "updateExpression", "Member must not be null")
        update = _update_request(session, body)
        return update.schema, update.key, update.condition, _updated(update)
    keyed = _keyed_request(session, body, condition_required=kind == "ConditionCheck")
    return keyed.schema, keyed.key, keyed.condition, (lambda _: None) if kind == "Delete" else None


def transact_get_items(session: Session, params: Any) -> dict[str, Any]:
    params = _params("transactGetItems", params, {"TransactItems"})
    responses = []
    for entry in _transact_items(params):
        if not isinstance(entry, dict) or set(entry) != {"Get"}:
            raise invalid("TransactItems can only contain Get")
        body = _params("transactGetItems", entry["Get"], {"Key", "ProjectionExpression", "ExpressionAttributeNames"})
        refs = _expressions(body, "ProjectionExpression")
        projection = _projection(body, refs)
        refs.check_all_used()
        schema = find_table(session, table_name(body.get("TableName")))
        responses.append(_get(session, schema, schema.check_key(body.get("Key")), projection))
    return {"Responses": responses}


ACTIONS: dict[str, Callable[[Session, Any], dict[str, Any]]] = {
    "getItem": get_item,
    "putItem": put_item,
    "updateItem": update_item,
    "deleteItem": delete_item,
    "query": query,
    "scan": scan,
    "batchGetItem": batch_get_item,
    "batchWriteItem": batch_write_item,
    "transactGetItems": transact_get_items,
    "transactWriteItems": transact_write_items,
}
SDK_ACTIONS = tuple(ACTIONS)


def execute(action: str, params: Any, database_url: str) -> dict[str, Any]:
    """Run one action in its own transaction (again if a concurrent insert of the same item won)."""
    for attempt in range(3):
        try:
            with session_scope(database_url) as session:
                return ACTIONS[action](session, params)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


# -- managing tables (the CLI and the service) ----------------------------------------------------------------


def create_table(session: Session, params: Mapping[str, Any], arn_prefix: str) -> dict[str, Any]:
    """CreateTable with a KeySchema and AttributeDefinitions; returns DescribeTable's ``Table``."""
    name = table_name(params.get("TableName"))
    key_schema = _key_schema(params.get("KeySchema"))
    definitions = _attribute_definitions(params.get("AttributeDefinitions"), key_schema)
    if store.table_by_name(session, name) is not None:
        raise DynamoDBError("ResourceInUseException", f"Table already exists: {name}")
    table = store.add_table(
        session,
        Table(
            name=name,
            arn=f"{arn_prefix}:table/{name}",
            key_schema=key_schema,
            attribute_definitions=definitions,
            created_at=dt.datetime.now(dt.UTC),
        ),
    )
    return describe(session, table)


def _key_schema(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not 1 <= len(value) <= 2:
        raise constraint(value, "keySchema", "Member must have length between 1 and 2")
    elements = []
    for element in value:
        if (
            not isinstance(element, dict)
            or not isinstance(element.get("AttributeName"), str)
            or not element["AttributeName"]
        ):
            raise invalid("Invalid KeySchema: every element needs an AttributeName and a KeyType")
        if element.get("KeyType") not in ("HASH", "RANGE"):
            raise constraint(
                element.get("KeyType"),
                "keySchema.1.member.keyType",
                "Member must satisfy enum value set: [HASH, RANGE]",
            )
        elements.append({"AttributeName": element["AttributeName"], "KeyType": element["KeyType"]})
    if elements[0]["KeyType"] != "HASH":
        raise invalid("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(elements) == 2 and elements[1]["KeyType"] != "RANGE":
        raise invalid("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
    if len(elements) == 2 and elements[0]["AttributeName"] == elements[1]["AttributeName"]:
        raise invalid("Both the Hash Key and the Range Key element in the KeySchema have the same name")
    return elements


def _attribute_definitions(value: Any, key_schema: list[dict[str, str]]) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise constraint(None, "attributeDefinitions", "Member must not be null")
    definitions = []
    for definition in value:
        kind = definition.get("AttributeType") if isinstance(definition, dict) else None
        if kind not in ("S", "N", "B"):
            raise constraint(
                kind, "attributeDefinitions.1.member.attributeType", "Member must satisfy enum value set: [B, N, S]"
            )
        definitions.append({"AttributeName": str(definition.get("AttributeName")), "AttributeType": kind})
    keys = [k["AttributeName"] for k in key_schema]
    defined = [d["AttributeName"] for d in definitions]
    if not set(keys) <= set(defined):
        raise invalid(
            "One or more parameter values were invalid: Some index key attributes are not defined in "
            f"AttributeDefinitions. Keys: [{', '.join(keys)}], AttributeDefinitions: [{', '.join(defined)}]"
        )
    if len(defined) != len(keys):
        raise invalid(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
            "number of attributes defined in AttributeDefinitions"
        )
    return definitions


def describe(session: Session, table: Table, status: str = "ACTIVE") -> dict[str, Any]:
    """DescribeTable's ``Table`` (creation time as a datetime)."""
    rows = store.all_items(session, table.id)
    return {
        "TableName": table.name,
        "TableArn": table.arn,
        "TableStatus": status,
        "KeySchema": table.key_schema,
        "AttributeDefinitions": table.attribute_definitions,
        "CreationDateTime": table.created_at,
        "ItemCount": len(rows),
        "TableSizeBytes": sum(ex.item_size(r.item) for r in rows),
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
    }


def describe_table(session: Session, name: str) -> dict[str, Any]:
    table = store.table_by_name(session, table_name(name)) if store.has_schema(session) else None
    if table is None:
        raise DynamoDBError("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
    return describe(session, table)


def delete_table(session: Session, name: str) -> dict[str, Any]:
    table = store.table_by_name(session, table_name(name)) if store.has_schema(session) else None
    if table is None:
        raise DynamoDBError("ResourceNotFoundException", f"Requested resource not found: Table: {name} not found")
    description = describe(session, table, status="DELETING")
    store.remove_table(session, table.id)
    return description


def table_names(session: Session) -> list[str]:
    return [t.name for t in store.tables(session)] if store.has_schema(session) else []


# -- the integration ------------------------------------------------------------------------------------------

# Exceptions the AWS SDKs model as classes of their own; any other error (a ValidationException)
# reaches Step Functions as the SDK's base class.
_MODELED = frozenset(
    {
        "ConditionalCheckFailedException",
        "ResourceNotFoundException",
        "ResourceInUseException",
        "ProvisionedThroughputExceededException",
        "ItemCollectionSizeLimitExceededException",
        "TransactionCanceledException",
        "TransactionConflictException",
        "TransactionInProgressException",
        "IdempotentParameterMismatchException",
        "RequestLimitExceeded",
        "InternalServerErrorException",
        "LimitExceededException",
    }
)


def _request_id() -> str:
    return "".join(random.choices(string.ascii_uppercase + string.digits, k=52))


def optimized_error(error: DynamoDBError, request_id: str) -> services.IntegrationError:
    name = error.code if error.code in _MODELED else "AmazonDynamoDBException"
    cause = (
        f"{error.message} (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: {error.code}; "
        f"Request ID: {request_id}; Proxy: null)"
    )
    return services.IntegrationError(f"DynamoDB.{name}", cause)


def sdk_error(error: DynamoDBError, request_id: str) -> services.IntegrationError:
    name = error.code if error.code in _MODELED else "DynamoDbException"
    cause = f"{error.message} (Service: DynamoDb, Status Code: 400, Request ID: {request_id})"
    return services.IntegrationError(f"DynamoDb.{name}", cause)


def optimized_result(action: str, body: dict[str, Any], request_id: str, now: dt.datetime) -> dict[str, Any]:
    """The optimized integration's result: the response, with the HTTP metadata the Java SDK adds."""
    text = json.dumps(body, separators=(",", ":"))
    crc = str(zlib.crc32(text.encode()))
    date = email.utils.format_datetime(now.astimezone(dt.UTC), usegmt=True)
    # AWS's GetItem responses spell the request id header in lower case; the others do not.
    request_header = "x-amzn-requestid" if action == "getItem" else "x-amzn-RequestId"
    headers = {
        "Connection": "keep-alive",
        "Content-Length": str(len(text.encode())),
        "Content-Type": "application/x-amz-json-1.0",
        "Date": date,
        "Server": "Server",
        "x-amz-crc32": crc,
        request_header: request_id,
    }
    return {
        **body,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {name: [value] for name, value in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
    }


class DynamoDBIntegration:
    """The ``dynamodb:`` and ``aws-sdk:dynamodb:`` integrations on the orchestrator's database."""

    name = "dynamodb"

    def handles(self, resource: Resource) -> bool:
        return resource.service == "dynamodb" or (resource.service == "aws-sdk:dynamodb" and resource.action in ACTIONS)

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        resource = parse_resource(request.resource)
        optimized = resource.service == "dynamodb"
        if optimized and (resource.action not in OPTIMIZED_ACTIONS or resource.pattern != "request-response"):
            raise services.IntegrationError(
                "States.Runtime",
                f"The resource provided {request.resource} is not recognized: the optimized DynamoDB integration "
                f"supports {', '.join(OPTIMIZED_ACTIONS)} with the Request Response pattern only",
            )
        request_id = _request_id()
        try:
            body = execute(resource.action, request.payload, config.load().database_url)
        except DynamoDBError as exc:
            raise (optimized_error if optimized else sdk_error)(exc, request_id) from None
        except Unsupported as exc:
            raise services.IntegrationError("States.Runtime", str(exc)) from None
        if optimized:
            return optimized_result(resource.action, body, request_id, dt.datetime.now(dt.UTC))
        return body


INTEGRATION = services.register(DynamoDBIntegration())
