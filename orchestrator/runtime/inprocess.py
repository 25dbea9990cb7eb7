"""The embedded default's broker: kombu's in-process (``memory://``) transport, stopping promptly.

Celery consumes a transport that cannot be watched by an event loop, as this one, with a blocking
loop that waits up to 2 s for a message before it looks whether its worker was told to stop; and
kombu's memory transport keeps polling for those 2 s even after the worker has closed its
connection. Every embedded ``orchestrator run`` therefore waited about 2 s after its execution had
ended (issue 16, item 11). This transport ends the wait as soon as its connection is closed.
"""

from __future__ import annotations

import time
from typing import Any

from kombu.transport import memory

# `config` and the Celery app name the transport by this path (``broker_transport``).
TRANSPORT = "orchestrator.runtime.inprocess:Transport"


class Transport(memory.Transport):  # type: ignore[misc]
    """The memory transport (same queues, same global state), whose wait ends when it is closed."""

    def drain_events(self, connection: Any, timeout: float | None = None) -> Any:
        started = time.monotonic()
        # One poll of the queues at a time, so a closed connection is seen within one poll interval.
        step = self.polling_interval or 0.005
        while True:
            if not self.channels:
                # Closed: raising the timeout the consumer expects lets its loop see its worker stopped.
                raise TimeoutError()
            try:
                return super().drain_events(connection, timeout=step)
            except TimeoutError:
                if timeout is not None and time.monotonic() - started >= timeout:
                    raise
