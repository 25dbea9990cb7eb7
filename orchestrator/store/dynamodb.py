"""Queries on the local DynamoDB tables (``dynamodb_tables``) and their items (``dynamodb_items``).

An item's row is keyed by the canonical text of its key values (`dynamodb_expressions.key_text`);
ordering by key *type* (numbers numerically) is the caller's, since the text does not sort that way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, inspect, select
from sqlalchemy.orm import Session

from orchestrator.store.models import Item, Table


def has_schema(session: Session) -> bool:
    """Whether the database has the tables of local DynamoDB tables (``orchestrator db upgrade`` ran)."""
    return inspect(session.connection()).has_table(Table.__tablename__)


def table_by_name(session: Session, name: str) -> Table | None:
    return session.scalar(select(Table).where(Table.name == name))


def tables(session: Session) -> list[Table]:
    return list(session.scalars(select(Table).order_by(Table.name)))


def add_table(session: Session, table: Table) -> Table:
    session.add(table)
    session.flush()
    return table


def remove_table(session: Session, table_id: int) -> None:
    session.execute(delete(Item).where(Item.table_id == table_id))
    session.execute(delete(Table).where(Table.id == table_id))


def item(
    session: Session, table_id: int, partition_key: str, sort_key: str, *, for_update: bool = False
) -> Item | None:
    """One item's row; ``for_update`` locks it (PostgreSQL) until the transaction ends."""
    query = select(Item).where(
        Item.table_id == table_id, Item.partition_key == partition_key, Item.sort_key == sort_key
    )
    return session.scalar(query.with_for_update() if for_update else query)


def save_item(
    session: Session, table_id: int, partition_key: str, sort_key: str, value: dict[str, Any], row: Item | None
) -> None:
    """Store ``value`` as the item with that key: in ``row`` if it exists already, else in a new row."""
    if row is None:
        session.add(Item(table_id=table_id, partition_key=partition_key, sort_key=sort_key, item=value))
    else:
        row.item = value
        row.updated_at = func.current_timestamp()
    session.flush()


def remove_item(session: Session, row: Item) -> None:
    session.delete(row)
    session.flush()


def partition(session: Session, table_id: int, partition_key: str) -> list[Item]:
    return list(session.scalars(select(Item).where(Item.table_id == table_id, Item.partition_key == partition_key)))


def all_items(session: Session, table_id: int) -> list[Item]:
    return list(session.scalars(select(Item).where(Item.table_id == table_id)))
