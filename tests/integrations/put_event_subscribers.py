"""A ``@subscriber`` the putEvents tests' workers load (ORCHESTRATOR_HANDLER_MODULES): it takes the
events of one detail-type and appends each to the file TEST_PUT_EVENTS_FILE names, one JSON line each."""

from __future__ import annotations

import json
import os
from typing import Any

from orchestrator.events import subscriber


@subscriber(name="shipped-to-file", detail_types=["OrderShipped"], retry_delay=0.2)
def shipped_to_file(event: dict[str, Any]) -> None:
    with open(os.environ["TEST_PUT_EVENTS_FILE"], "a") as sink:
        sink.write(json.dumps(event) + "\n")
