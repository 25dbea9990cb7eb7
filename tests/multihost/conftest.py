"""The multi-host test's figures, printed in the terminal summary of the pytest run."""

from __future__ import annotations

from typing import Any

FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("multi-host figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
