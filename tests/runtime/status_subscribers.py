"""A ``@subscriber`` function the status-event tests' workers load (ORCHESTRATOR_HANDLER_MODULES)."""

from __future__ import annotations

import json
import os
from typing import Any

from orchestrator.events import subscriber


@subscriber(name="failures-to-file", statuses=["FAILED"], retry_delay=0.2)
def failures_to_file(event: dict[str, Any]) -> None:
    """Appends each event it gets to the file TEST_STATUS_EVENTS_FILE names, one JSON line each."""
    with open(os.environ["TEST_STATUS_EVENTS_FILE"], "a") as sink:
        sink.write(json.dumps(event) + "\n")
