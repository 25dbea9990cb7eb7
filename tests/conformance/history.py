"""Comparing a history we recorded with the one AWS recorded for the same case.

AWS's recordings hold every event's type and, where the events' order was deterministic, its id and
previousEventId. Where the recording tool could not fix the order (concurrent branches), it replaced
the ids by placeholders such as ``"[0]"``; there only the events' types can be compared, as a multiset.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any


def difference(recorded: Sequence[dict[str, Any]], ours: Sequence[dict[str, Any]]) -> str | None:
    """How ``ours`` differs from ``recorded`` (None when it does not), for a test's message."""
    theirs_types = [e["type"] for e in recorded]
    our_types = [e["type"] for e in ours]
    if not all(isinstance(e.get("id"), int) for e in recorded):
        missing = collections.Counter(theirs_types) - collections.Counter(our_types)
        extra = collections.Counter(our_types) - collections.Counter(theirs_types)
        if missing or extra:
            return f"event types differ: missing {dict(missing)}, extra {dict(extra)}"
        return None
    if our_types != theirs_types:
        return f"event types differ:\n  AWS  {theirs_types}\n  ours {our_types}"
    if all(isinstance(e.get("previousEventId"), int) for e in recorded):
        theirs_links = [e["previousEventId"] for e in recorded]
        our_links = [e["previousEventId"] for e in ours]
        if our_links != theirs_links:
            return f"previousEventIds differ:\n  AWS  {theirs_links}\n  ours {our_links}"
    return None
