"""Every fenced code block of README.md, run as a newcomer would run it (issue 16).

The blocks run in the README's order, in one session on a fresh HOME with nothing configured (the
embedded default: a SQLite file in that HOME), from the checkout: ``sh`` blocks with bash,
``python`` blocks in a fresh interpreter, ``sql`` on the database the blocks before it wrote,
``text`` (the layout) by checking each path it names exists. `tests.readme.newcomer` says what is
filled in for a newcomer (free ports, this machine's servers, a real task token) and how servers
are run. A block that cannot be a test says why in the README (``<!-- not run: why -->`` above it);
`test_the_blocks_not_run_are_few_and_named` names them, and fails if another one appears.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.readme.blocks import Block, read_blocks
from tests.readme.newcomer import (
    CHECK_CLUSTER,
    CHECKOUT,
    PG_ADMIN,
    SERVER,
    Background,
    Newcomer,
    free_port,
    servers_in,
    wait_for_http,
    with_servers_in_background,
)

# The blocks build on each other (a server started by one is used by the next): one test process runs them all.
pytestmark = pytest.mark.xdist_group("readme")

README = CHECKOUT / "README.md"
BLOCKS = read_blocks(README)
TO_RUN = [block for block in BLOCKS if block.not_run is None]
# The only blocks that are not tests, by their first line; a new one must be added here on purpose.
NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate     # Debian's python3 needs its python3-venv package": (
        "creates a virtual environment and installs the package in it"
    ),
    "pip install -e '.[test]' && python -m pytest": "runs the whole suite",
}


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    person = Newcomer(tmp_path_factory.mktemp("newcomer"))
    yield person
    person.close()


@pytest.fixture(scope="module")
def api_port(newcomer: Newcomer) -> int:
    """The server the Quick start leaves running, started by its own block on a free port."""
    block = next(block for block in TO_RUN if is_server_block(block))
    port = free_port()
    server = newcomer.start("serve", block.text.strip().replace("8083", str(port)))
    answer = wait_for_http(f"http://127.0.0.1:{port}/console/", server)
    assert answer.status_code == 200, f"{block.label()}: the console answered {answer.status_code}"
    return port


def is_server_block(block: Block) -> bool:
    commands = [line for line in block.text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return block.lang == "sh" and bool(commands) and all(SERVER.match(line) for line in commands)


def test_the_blocks_not_run_are_few_and_named() -> None:
    marked = {block.first_line.strip(): block for block in BLOCKS if block.not_run}
    for block in marked.values():
        print(f"not run: {block.label()}: {block.not_run}")
    assert set(marked) == set(NOT_RUN), "README blocks marked 'not run' changed: " + ", ".join(
        block.label() for block in marked.values()
    )
    assert len(TO_RUN) + len(marked) == len(BLOCKS)


@pytest.mark.parametrize("block", TO_RUN, ids=[f"line{block.line}-{block.lang or 'plain'}" for block in TO_RUN])
def test_readme_block(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    runner = RUNNERS.get(block.lang)
    if runner is None:
        pytest.fail(
            f"{block.label()}: no way to run a block of language {block.lang!r}: give it one of "
            f"{', '.join(sorted(RUNNERS))}, or mark it <!-- not run: why --> in the README"
        )
    runner(block, newcomer, request)


# -- the runners, by language --------------------------------------------------------------------------


def run_sh(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    if is_server_block(block):
        assert_server_block(block, newcomer, request.getfixturevalue("api_port"))
        return
    text = block.text
    extra: dict[str, str] = {}
    if servers_in(text):
        text, extra = with_a_cluster(text, newcomer)
    elif "8083" in text:
        text = text.replace("8083", str(request.getfixturevalue("api_port")))
    waiting = None
    if re.search(r"\bTOKEN\b", text):
        waiting, token = an_execution_waiting_for_a_token(newcomer)
        text = re.sub(r"\bTOKEN\b", token, text)
    result = newcomer.sh(text, **extra)
    assert result.returncode == 0, failure(block, result)
    if waiting is not None:
        status = waiting.process.wait(60)
        assert status == 0 and "SUCCEEDED" in waiting.output(), f"{block.label()}: {waiting.output()}"


def run_python(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    text = block.text
    if "8083" in text:
        text = text.replace("8083", str(request.getfixturevalue("api_port")))
    result = newcomer.python(text)
    assert result.returncode == 0, failure(block, result)


def run_sql(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    """On the embedded database the blocks before it wrote, for an execution that is there."""
    with sqlite3.connect(newcomer.database) as db:
        (name,) = db.execute(
            "SELECT x.name FROM executions x JOIN history_events e ON e.execution_id = x.id "
            "WHERE e.type LIKE '%StateEntered' ORDER BY x.id LIMIT 1"
        ).fetchone()
        query = block.text.replace("'my-execution'", f"'{name}'")
        try:
            rows = db.execute(query).fetchall()
        except sqlite3.Error as exc:
            pytest.fail(f"{block.label()}: {exc}")
    assert rows, f"{block.label()}: no rows for execution {name!r}"
    assert any(row[2] is not None for row in rows), f"{block.label()}: no state names in {rows}"
    for database in newcomer.databases:  # and on PostgreSQL, where a block ran the hello example
        with psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}") as db:
            found = db.execute("SELECT name FROM executions LIMIT 1").fetchone()
            if found:
                assert db.execute(block.text.replace("'my-execution'", f"'{found[0]}'")).fetchall(), block.label()


def run_text(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    """A layout: each line names paths (``a/b/, c/``: a/b and a/c) before its description."""
    missing = []
    for line in block.text.splitlines():
        if not line.strip():
            continue
        names = re.split(r",\s*", re.split(r"\s{2,}", line.strip())[0])
        parent = Path(names[0]).parent
        paths = [CHECKOUT / names[0]] + [CHECKOUT / parent / name for name in names[1:]]
        missing += [str(path.relative_to(CHECKOUT)) for path in paths if not path.exists()]
    assert not missing, f"{block.label()}: no such path: {', '.join(missing)}"


def run_json(block: Block, newcomer: Newcomer, request: pytest.FixtureRequest) -> None:
    try:
        json.loads(block.text)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{block.label()}: not JSON: {exc}")


RUNNERS: dict[str, Callable[[Block, Newcomer, pytest.FixtureRequest], None]] = {
    "sh": run_sh,
    "python": run_python,
    "sql": run_sql,
    "text": run_text,
    "json": run_json,
}


# -- what some blocks need first ------------------------------------------------------------------------


def assert_server_block(block: Block, newcomer: Newcomer, port: int) -> None:
    """The Quick start's server: it serves the console, and the API sees what the demo wrote."""
    import httpx

    console = httpx.get(f"http://127.0.0.1:{port}/console/", timeout=30, follow_redirects=True)
    assert console.status_code == 200, f"{block.label()}: {console.status_code}"
    machines = httpx.post(
        f"http://127.0.0.1:{port}/",
        headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"},
        content="{}",
        timeout=30,
    ).json()
    names = {machine["name"] for machine in machines["stateMachines"]}
    assert "credit-application" in names, f"{block.label()}: the demo's machine is not served: {names}"


def with_a_cluster(text: str, newcomer: Newcomer) -> tuple[str, dict[str, str]]:
    """A block that starts servers: this machine's PostgreSQL (a fresh database) and Redis, queues
    of its own (other runs share the broker), its serve on a free port; then the hello example run
    through them, and the console of its serve asked."""
    port = free_port()
    database = newcomer.fresh_database()
    text = text.replace("user@db-host/orchestrator", f"postgres@127.0.0.1/{database}")
    text = text.replace("redis-host", "127.0.0.1").replace("8083", str(port))
    check = f"{CHECK_CLUSTER}\npython -m tests.readme.ready http://127.0.0.1:{port}/console/"
    logs = newcomer.root / f"cluster-{database}"
    logs.mkdir()
    queue = f"readme-{uuid.uuid4().hex[:8]}"
    extra = {
        "READMELOGS": str(logs),
        "ORCHESTRATOR_ENGINE_QUEUE": queue,
        "ORCHESTRATOR_HANDLER_QUEUE": f"{queue}.handlers",
    }
    return with_servers_in_background(text, check), extra


def waiting_command() -> str:
    """The command the README suggests for a workflow that waits on a token (inline, beside the block)."""
    found = re.search(r"`(orchestrator run [^`]*input-needs-approval\.json)`", README.read_text())
    assert found, "README.md no longer shows a command that waits on a task token, for its TOKEN block"
    return " ".join(found[1].split())


def an_execution_waiting_for_a_token(newcomer: Newcomer) -> tuple[Background, str]:
    """The README's ``orchestrator run`` of a workflow that waits for an approval, and the token it printed."""
    waiting = newcomer.start("approval", waiting_command())
    deadline = time.monotonic() + 60
    while not (found := re.search(r"orchestrator send-task-success (\S+)", waiting.output())):
        assert waiting.process.poll() is None, waiting.output()
        assert time.monotonic() < deadline, f"no token printed in 60 s:\n{waiting.output()}"
        time.sleep(0.2)
    return waiting, found[1]


def failure(block: Block, result: subprocess.CompletedProcess[str]) -> str:
    output = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return f"{block.label()} exited with status {result.returncode}\n{output}"
