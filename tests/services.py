"""The servers the tests talk to, started before the first test when they are installed and down.

`python -m pytest` on a fresh machine: PostgreSQL, Redis and RabbitMQ may be installed and stopped.
`ensure_services` checks their ports and, if one is closed, runs ``scripts/services.sh`` (which
``.ci/run`` runs too) to start what it can and name what to install. A server still down fails the
tests that need it, with the script's words in the run's header.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]
SCRIPT = CHECKOUT / "scripts" / "services.sh"
PORTS = {"PostgreSQL": 5432, "Redis": 6379, "RabbitMQ": 5672}


def closed(ports: dict[str, int] = PORTS) -> list[str]:
    """The servers nothing answers for on 127.0.0.1."""
    down = []
    for name, port in ports.items():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            down.append(name)
    return down


def ensure_services() -> str | None:
    """Start what is down; what the script said, or None when all were already running."""
    if not closed():
        return None
    run = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=180, check=False)
    return (run.stdout + run.stderr).strip() or f"{SCRIPT.name} exited with status {run.returncode}"
