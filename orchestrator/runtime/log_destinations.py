"""Where execution log records go: a stream, a file of JSON lines, or an HTTP endpoint.

- ``stdout`` / ``stderr``: one JSON object per line.
- ``file:///var/log/orchestrator/executions.jsonl``: appended, one JSON object per line; each batch is
  one ``write`` on a file opened with O_APPEND, so the processes of a machine can share the file.
- ``http://...`` / ``https://...``: a POST of a JSON array of records per batch, from a thread of its
  own (the execution never waits for it); a failed POST is logged and its records are lost.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any, TextIO

import httpx

log = logging.getLogger(__name__)


class Destination:
    """Takes batches of records; ``url`` is what ORCHESTRATOR_EXECUTION_LOG said."""

    url: str = ""

    def write(self, records: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish what was handed over (the HTTP thread's queue); the default has nothing to finish."""


def _lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)


class Stream(Destination):
    def __init__(self, url: str, stream: TextIO) -> None:
        self.url, self.stream = url, stream

    def write(self, records: list[dict[str, Any]]) -> None:
        try:
            self.stream.write(_lines(records))
            self.stream.flush()
        except (OSError, ValueError) as exc:
            log.warning("execution logs: could not write %d record(s) to %s: %s", len(records), self.url, exc)


class File(Destination):
    def __init__(self, url: str, path: Path) -> None:
        self.url, self.path = url, path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, records: list[dict[str, Any]]) -> None:
        data = _lines(records).encode()
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(descriptor, data)
            finally:
                os.close(descriptor)
        except OSError as exc:
            log.warning("execution logs: could not append %d record(s) to %s: %s", len(records), self.path, exc)


class Http(Destination):
    TIMEOUT = 10.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.pid = 0  # the process whose thread sends; a forked worker process starts its own
        self.batches: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=10_000)
        self.thread: threading.Thread | None = None

    def write(self, records: list[dict[str, Any]]) -> None:
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.batches = queue.Queue(maxsize=10_000)
            self.thread = threading.Thread(target=self._send_all, args=(self.batches,), daemon=True)
            self.thread.start()
        try:
            self.batches.put_nowait(records)
        except queue.Full:
            log.warning("execution logs: %s is too far behind; %d record(s) dropped", self.url, len(records))

    def _send_all(self, batches: queue.Queue[list[dict[str, Any]] | None]) -> None:
        with httpx.Client(timeout=self.TIMEOUT) as client:
            while (batch := batches.get()) is not None:
                try:
                    response = client.post(self.url, json=batch)
                    response.raise_for_status()
                except httpx.HTTPError as exc:
                    log.warning("execution logs: POST of %d record(s) to %s failed: %s", len(batch), self.url, exc)

    def close(self) -> None:
        if self.thread is not None and self.pid == os.getpid():
            self.batches.put(None)
            self.thread.join(timeout=self.TIMEOUT)


def open_destination(url: str) -> Destination:
    """The destination ORCHESTRATOR_EXECUTION_LOG names; raises ValueError for one it cannot be."""
    if url in ("stdout", "-"):
        return Stream(url, sys.stdout)
    if url == "stderr":
        return Stream(url, sys.stderr)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "file" and parsed.path:
        return File(url, Path(urllib.parse.unquote(parsed.path)))
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return Http(url)
    raise ValueError(
        f"ORCHESTRATOR_EXECUTION_LOG={url!r}: say stdout, stderr, file:///path/to/executions.jsonl or an http(s):// URL"
    )
