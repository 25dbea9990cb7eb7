"""ItemBatcher: a Distributed Map's items grouped into batches, by count and by bytes.

A batch is ``{"Items": [...]}`` (with ``"BatchInput"`` when the batcher has one). A new batch starts
when the current one holds ``MaxItemsPerBatch`` items, or when one more item would take its JSON
text past ``MaxInputBytesPerBatch`` bytes (an item bigger than that on its own gets a batch of its
own). Items are taken as they come, so a reader's stream is batched without being held whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def json_size(value: Any) -> int:
    """The bytes of ``value`` as compact JSON text in UTF-8."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def batches(
    items: Iterable[Any], max_items: int | None, max_bytes: int | None, batch_input: Any = None
) -> Iterator[dict[str, Any]]:
    """Group ``items`` into batches of at most ``max_items`` items and ``max_bytes`` bytes (None: no limit)."""
    empty: dict[str, Any] = {"Items": []}
    if batch_input is not None:
        empty["BatchInput"] = batch_input
    base = json_size(empty)
    current: list[Any] = []
    size = base
    for item in items:
        grows = json_size(item) + (1 if current else 0) if max_bytes else 0
        full = (max_items is not None and len(current) >= max_items) or (
            max_bytes is not None and current and size + grows > max_bytes
        )
        if full:
            yield _batch(current, batch_input)
            current, size = [], base
            grows = grows - 1 if max_bytes else 0
        current.append(item)
        size += grows
    if current:
        yield _batch(current, batch_input)


def cut(
    items: Iterable[Any], max_items: int | None, max_bytes: int | None, batch_input: Any, *, final: bool
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The batches of ``items``; unless ``final``, the last one, which more items might still fill,
    comes back as its items instead, to go before the next page's."""
    made = list(batches(items, max_items, max_bytes, batch_input))
    if final or not made or len(made[-1]["Items"]) == max_items:  # (one holding MaxItemsPerBatch is done)
        return made, []
    return made[:-1], made[-1]["Items"]


def _batch(items: list[Any], batch_input: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {"Items": items}
    if batch_input is not None:
        batch["BatchInput"] = batch_input
    return batch
