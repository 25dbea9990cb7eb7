"""Every ``--help`` of the ``orchestrator`` command is product (issue 16, item 14): each command and
each group of commands shows an example, and every option with a default value says what it is.
``db upgrade`` says what it did."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for sub in action.choices.values():
                if id(sub) not in seen:  # an alias names the same parser
                    seen.add(id(sub))
                    yield from _parsers(sub)


def test_every_help_has_an_example() -> None:
    missing = [p.prog for p in _parsers(build_parser()) if "example:\n  " not in p.format_help()]
    assert missing == []


def test_every_default_is_stated() -> None:
    silent = []
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
                continue
            if "default" not in (action.help or "") and f"({action.default})" not in (action.help or ""):
                silent.append(f"{parser.prog} {action.option_strings[0]}")
    assert silent == []


def test_the_ones_the_issue_named(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv, expected in (
        (["scheduler", "--help"], "(default 0.25)"),
        (["health", "--help"], "(default 2.0)"),
        (["db", "--help"], "orchestrator db upgrade"),
        (["executions", "--help"], "orchestrator executions describe"),
        (["tokens", "--help"], "orchestrator tokens list"),
    ):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert expected in capsys.readouterr().out


def test_db_upgrade_says_what_it_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert main(["db", "upgrade"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0].startswith("applied ") and "migration(s) to sqlite:///" in first[0]
    assert first[1].split()[0:3] == ["716f157a3da2", "initial", "schema"]
    assert len(first) - 1 == int(first[0].split()[1])
    assert main(["db", "upgrade"]) == 0
    again = capsys.readouterr().out
    assert again.startswith(f"already up to date (revision {first[-1].split()[0]}): sqlite:///")
