"""Shared test configuration.

Before the first test, PostgreSQL, Redis and RabbitMQ are started if they are installed and not
running (`tests.services`, the script .ci/run uses too), so the README's test command works on a
fresh machine.
"""

from __future__ import annotations

import pytest

from tests.services import ensure_services


def pytest_sessionstart(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist test process: the process that started it has done this already
    said = ensure_services()
    if said:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in said.splitlines():
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line)
