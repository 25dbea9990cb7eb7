"""Local DynamoDB tables: create, describe, list, delete, put, get, scan, and load a file of items.

The item actions run the DynamoDB integration's own code (`integrations.dynamodb`), so an item
the CLI accepts is one a Task state would accept, with the same validation and errors.
A refused request raises `ServiceError` with DynamoDB's error code (``ResourceNotFoundException``,
``ResourceInUseException``, ``ValidationException``).

`load_tables` takes one of these documents (``plain``: items as plain JSON instead of DynamoDB JSON):

- a table: ``{"TableName": ..., "KeySchema": [...], "AttributeDefinitions": [...], "Items": [...]}``;
  the table is created if it does not exist (KeySchema is needed then; AttributeDefinitions
  default to the types the first item's key attributes have, else ``S``), and the items are put;
- a list of such tables;
- BatchWriteItem's request (what ``aws dynamodb batch-write-item --request-items`` reads):
  ``{"TableName": [{"PutRequest": {"Item": ...}}, ...]}``, with or without ``{"RequestItems": ...}``
  around it; its tables must exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from orchestrator.integrations import dynamodb
from orchestrator.integrations.dynamodb_expressions import DynamoDBError, from_plain
from orchestrator.service.base import ServiceBase, ServiceError


class TableActions(ServiceBase):
    @property
    def _dynamodb_prefix(self) -> str:
        return f"arn:aws:dynamodb:{self.settings.region}:{self.settings.account}"

    @contextmanager
    def _tables(self) -> Iterator[Session]:
        """A transaction in which DynamoDB's refusals become ServiceErrors."""
        try:
            with self._transaction() as session:
                yield session
        except DynamoDBError as exc:
            raise ServiceError(exc.code, exc.message) from None
        except dynamodb.Unsupported as exc:
            raise ServiceError("ValidationException", str(exc)) from None

    def create_table(
        self, name: str, key_schema: list[dict[str, str]], attribute_definitions: list[dict[str, str]]
    ) -> dict[str, Any]:
        """CreateTable: ``key_schema`` and ``attribute_definitions`` in DynamoDB's shape."""
        params = {"TableName": name, "KeySchema": key_schema, "AttributeDefinitions": attribute_definitions}
        with self._tables() as session:
            return {"TableDescription": dynamodb.create_table(session, params, self._dynamodb_prefix)}

    def describe_table(self, name: str) -> dict[str, Any]:
        with self._tables() as session:
            return {"Table": dynamodb.describe_table(session, name)}

    def list_tables(self) -> dict[str, Any]:
        with self._tables() as session:
            return {"TableNames": dynamodb.table_names(session)}

    def delete_table(self, name: str) -> dict[str, Any]:
        with self._tables() as session:
            return {"TableDescription": dynamodb.delete_table(session, name)}

    def put_item(self, name: str, item: Any) -> dict[str, Any]:
        return self._item_action(dynamodb.put_item, {"TableName": name, "Item": item})

    def get_item(self, name: str, key: Any) -> dict[str, Any]:
        return self._item_action(dynamodb.get_item, {"TableName": name, "Key": key})

    def scan_table(self, name: str, *, limit: int | None = None, start_key: Any = None) -> dict[str, Any]:
        """One page of Scan (``limit`` items at most, after ``start_key``)."""
        return self._item_action(dynamodb.scan, {"TableName": name, "Limit": limit, "ExclusiveStartKey": start_key})

    def scan_all(self, name: str) -> dict[str, Any]:
        """Every item of a table, page after page: ``{"Items", "Count", "ScannedCount"}``."""
        items: list[Any] = []
        start = None
        while True:
            page = self.scan_table(name, start_key=start)
            items.extend(page["Items"])
            start = page.get("LastEvaluatedKey")
            if start is None:
                return {"Items": items, "Count": len(items), "ScannedCount": len(items)}

    def _item_action(self, action: Callable[[Session, Any], dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        try:
            with self._tables() as session:
                return action(session, params)
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException" and exc.message == dynamodb.NOT_FOUND:
                # DynamoDB's item actions do not say which table; a person at a terminal wants to know.
                raise ServiceError(exc.code, f"{exc.message}: Table: {params['TableName']} not found") from None
            raise

    def load_tables(self, document: Any, *, plain: bool = False) -> list[dict[str, Any]]:
        """Create tables and put items from a document (see the module's docstring), all or nothing.

        Returns, per table: its name, whether it was created, and how many items were put.
        """
        with self._tables() as session:
            return [self._load_one(session, name, entry, plain) for name, entry in _table_entries(document)]

    def _load_one(self, session: Session, name: str, entry: dict[str, Any], plain: bool) -> dict[str, Any]:
        items = [_item(raw, plain) for raw in entry["Items"]]
        created = False
        if name not in dynamodb.table_names(session):
            if entry.get("KeySchema") is None:
                raise ServiceError(
                    "ResourceNotFoundException",
                    f"Requested resource not found: Table: {name} not found (give its KeySchema to create it)",
                )
            definitions = entry.get("AttributeDefinitions") or _definitions(entry["KeySchema"], items)
            params = {"TableName": name, "KeySchema": entry["KeySchema"], "AttributeDefinitions": definitions}
            dynamodb.create_table(session, params, self._dynamodb_prefix)
            created = True
        for item in items:
            dynamodb.put_item(session, {"TableName": name, "Item": item})
        return {"TableName": name, "Created": created, "Items": len(items)}


def _item(raw: Any, plain: bool) -> Any:
    if not plain:
        return raw
    if not isinstance(raw, dict):
        raise ServiceError("ValidationException", "An item is a JSON object")
    return {name: from_plain(value) for name, value in raw.items()}


def _definitions(key_schema: Any, items: list[Any]) -> list[dict[str, str]]:
    """AttributeDefinitions for a key schema: each key attribute typed as the first item has it, else S."""
    first = items[0] if items and isinstance(items[0], dict) else {}
    definitions = []
    for element in key_schema if isinstance(key_schema, list) else []:
        name = element.get("AttributeName") if isinstance(element, dict) else None
        value = first.get(name)
        kind = next(iter(value)) if isinstance(value, dict) and len(value) == 1 else "S"
        definitions.append({"AttributeName": name, "AttributeType": kind if kind in ("S", "N", "B") else "S"})
    return definitions


def _table_entries(document: Any) -> list[tuple[str, dict[str, Any]]]:
    """(table name, {"Items", "KeySchema"?, "AttributeDefinitions"?}) for each table a load document names."""
    if isinstance(document, list):
        return [entry for part in document for entry in _table_entries(part)]
    if not isinstance(document, dict):
        raise ServiceError("ValidationException", "A load document is a JSON object or an array of them")
    if "TableName" in document:
        name, items = document["TableName"], document.get("Items", [])
        if not isinstance(name, str) or not isinstance(items, list):
            raise ServiceError("ValidationException", "A table's TableName is a string and its Items an array")
        return [(name, {**document, "Items": items})]
    requests = document.get("RequestItems", document)
    entries = []
    for name, writes in requests.items():
        if not isinstance(writes, list):
            raise ServiceError("ValidationException", f"The requests for table {name} must be an array")
        entries.append((name, {"Items": [_put_request_item(name, w) for w in writes]}))
    if not entries:
        raise ServiceError("ValidationException", "The load document names no table")
    return entries


def _put_request_item(name: str, write: Any) -> Any:
    if not isinstance(write, dict) or set(write) != {"PutRequest"} or not isinstance(write["PutRequest"], dict):
        raise ServiceError("ValidationException", f"Each request for table {name} must be a PutRequest with an Item")
    return write["PutRequest"].get("Item")
