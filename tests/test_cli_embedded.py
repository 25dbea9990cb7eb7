"""The command line on the embedded default, as a newcomer meets it (issue 16, items 7, 9 and 15).

Each test runs the real ``orchestrator`` command in a fresh directory with a fresh HOME and no
ORCHESTRATOR_* setting: handler modules beside the definition are found without PYTHONPATH, a
missing one is one line, the worker and the scheduler refuse to start without a broker, and
``--help`` says where the state lives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HANDLERS = """
from orchestrator import handler


@handler("Greet")
def greet(payload, context):
    return {"greeting": f"Hello, {payload['name']}!"}
"""

DEFINITION = {
    "StartAt": "Greet",
    "States": {
        "Greet": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Greet", "End": True}
    },
}


def orchestrator(where: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed command, run in ``where`` with HOME there and nothing else configured."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCHESTRATOR_") and k != "PYTHONPATH"}
    environ.update(HOME=str(where / "home"), **env)
    command = shutil.which("orchestrator", path=str(Path(sys.executable).parent)) or "orchestrator"
    return subprocess.run(
        [command, *args], cwd=where, env=environ, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's folder: a definition, and the module of its handler beside it."""
    (tmp_path / "greet.asl.json").write_text(json.dumps(DEFINITION))
    (tmp_path / "myhandlers.py").write_text(HANDLERS)
    return tmp_path


def test_a_handler_module_in_the_current_directory_is_found(project: Path) -> None:
    run = orchestrator(
        project,
        "run",
        "greet.asl.json",
        "--input",
        '{"name": "Ada"}',
        "--json",
        ORCHESTRATOR_HANDLER_MODULES="myhandlers",
    )

    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"greeting": "Hello, Ada!"}


def test_a_missing_handler_module_is_one_line_not_a_traceback(project: Path) -> None:
    run = orchestrator(project, "run", "greet.asl.json", ORCHESTRATOR_HANDLER_MODULES="myhandler")

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        "orchestrator run: cannot import handler module 'myhandler' (ORCHESTRATOR_HANDLER_MODULES): no module "
        f"named 'myhandler' in the current directory ({project}) nor on the Python path"
    ]


def test_a_handler_module_whose_own_import_fails_shows_where(project: Path) -> None:
    """Not the user's typo but a missing dependency of theirs: the traceback names their line."""
    (project / "myhandlers.py").write_text("import not_installed_anywhere\n" + HANDLERS)

    run = orchestrator(project, "run", "greet.asl.json", ORCHESTRATOR_HANDLER_MODULES="myhandlers")

    assert run.returncode == 1
    assert "myhandlers.py" in run.stderr
    assert "No module named 'not_installed_anywhere'" in run.stderr


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_worker_and_scheduler_refuse_the_embedded_broker(tmp_path: Path, command: str) -> None:
    run = orchestrator(tmp_path, command)

    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"orchestrator {command}: no broker is configured (ORCHESTRATOR_BROKER_URL is not set)")
    assert "`orchestrator run` and `orchestrator serve` already run a worker and the scheduler" in run.stderr
    assert "export ORCHESTRATOR_BROKER_URL=redis://" in run.stderr
    assert "export ORCHESTRATOR_DATABASE_URL=postgresql+psycopg://" in run.stderr
    # It refused before touching anything: no database was created.
    assert not (tmp_path / "home" / ".orchestrator" / "orchestrator.sqlite").exists()


def test_help_says_where_the_state_lives_and_how_to_start_afresh(tmp_path: Path) -> None:
    run = orchestrator(tmp_path, "--help")

    assert run.returncode == 0, run.stderr
    assert "~/.orchestrator/orchestrator.sqlite" in run.stdout
    assert f"Here: {tmp_path / 'home' / '.orchestrator' / 'orchestrator.sqlite'}" in run.stdout
    assert "rm -r ~/.orchestrator" in run.stdout


def test_help_names_the_configured_database_without_its_password(tmp_path: Path) -> None:
    run = orchestrator(tmp_path, "--help", ORCHESTRATOR_DATABASE_URL="postgresql+psycopg://ada:secret@db/orchestrator")

    assert "Here: postgresql+psycopg://ada:***@db/orchestrator" in run.stdout
    assert "secret" not in run.stdout


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1/no_such_database_for_this_test", 'database "no_such_database'),
        ("postgresql+psycopg://postgres@127.0.0.1:1/orchestrator", "Connection refused"),
    ],
    ids=["no-such-database", "nothing-listening"],
)
def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path, url: str, says: str) -> None:
    """The newcomer's first try of ORCHESTRATOR_DATABASE_URL: a database never created, a server not running."""
    run = orchestrator(tmp_path, "db", "upgrade", ORCHESTRATOR_DATABASE_URL=url)

    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("orchestrator db upgrade: cannot connect to the database (ORCHESTRATOR_DATABASE_URL): ")
    assert says in line
