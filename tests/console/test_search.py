"""The executions search behind the console's list, on SQLite and on PostgreSQL: filters, the input
search evaluated in the database, and keyset pages that neither repeat nor skip."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from orchestrator import config
from orchestrator.service import Service, ServiceError
from orchestrator.service.browse import parse_input_query
from orchestrator.store.browse import ExecutionSearch
from orchestrator.store.migrate import upgrade
from tests.runtime.conftest import ROLE, database_url  # noqa: F401 - a fixture

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture(params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Service:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'search.sqlite'}"
    else:
        url = request.getfixturevalue("database_url")
    upgrade(url)
    # No broker is given: the executions are started (rows and outbox), not run; the list is what counts.
    return Service(config.load({"ORCHESTRATOR_DATABASE_URL": url, "ORCHESTRATOR_HOME": str(tmp_path)}))


def _names(service: Service, search: ExecutionSearch, **options: object) -> list[str]:
    return [item["name"] for item in service.search_executions(search, **options).items]  # type: ignore[arg-type]


def test_filters_and_input_search(service: Service, tmp_path: Path) -> None:
    tag = tmp_path.name[-6:].replace("_", "")
    machine = service.create_state_machine(name=f"search-{tag}", definition=PASS, role_arn=ROLE)["stateMachineArn"]
    other = service.create_state_machine(name=f"other-{tag}", definition=PASS, role_arn=ROLE)["stateMachineArn"]
    inputs = {
        "ada": {"applicant": {"id": 42, "country": "FR", "vip": True}, "amount": 1.5},
        "bob": {"applicant": {"id": 7, "country": "DE", "vip": False}, "tags": ["a", "b"]},
        "cy": {"applicant": {"id": 42, "country": "DE", "note": None}},
    }
    for name, given in inputs.items():
        service.start_execution(machine, name=f"{name}-{tag}", input=json.dumps(given))
    service.start_execution(other, name=f"ada-other-{tag}", input=json.dumps(inputs["ada"]))
    machine_id = service.machine_id(f"search-{tag}")

    def find(query: str) -> set[str]:
        search = ExecutionSearch(machine_id=machine_id, input_matches=parse_input_query(query))
        return {n.removesuffix(f"-{tag}") for n in _names(service, search)}

    assert find("applicant.id = 42") == {"ada", "cy"}
    assert find('applicant.country = "DE"') == {"bob", "cy"}
    assert find("applicant.country = DE and applicant.id = 42") == {"cy"}
    assert find("applicant.vip = true") == {"ada"}
    assert find("applicant.vip = false") == {"bob"}
    assert find("amount = 1.5") == {"ada"}
    assert find("applicant.note = null") == {"cy"}
    assert find('tags = ["a", "b"]') == {"bob"}
    assert find("applicant.id = 1000") == set()
    everywhere = ExecutionSearch(name_prefix="ada", input_matches=parse_input_query("applicant.id = 42"))
    assert set(_names(service, everywhere)) >= {f"ada-{tag}", f"ada-other-{tag}"}
    assert _names(service, ExecutionSearch(machine_id=machine_id, statuses=("FAILED",))) == []
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert _names(service, ExecutionSearch(machine_id=machine_id, started_after=later)) == []
    assert len(_names(service, ExecutionSearch(machine_id=machine_id, started_before=later))) == 3


def test_a_name_prefix_is_literal(service: Service, tmp_path: Path) -> None:
    machine = service.create_state_machine(name=f"lit-{tmp_path.name[-6:]}", definition=PASS, role_arn=ROLE)
    for name in ("a_b", "axb", "a%c"):
        service.start_execution(machine["stateMachineArn"], name=name.replace("%", "pct"), input="{}")
    machine_id = service.machine_id(machine["stateMachineArn"].rsplit(":", 1)[1])
    assert _names(service, ExecutionSearch(machine_id=machine_id, name_prefix="a_")) == ["a_b"]


def test_keyset_pages_cover_every_execution_once(service: Service, tmp_path: Path) -> None:
    machine = service.create_state_machine(name=f"pages-{tmp_path.name[-6:]}", definition=PASS, role_arn=ROLE)
    for index in range(23):
        service.start_execution(machine["stateMachineArn"], name=f"e{index:02d}", input="{}")
    search = ExecutionSearch(machine_id=service.machine_id(machine["stateMachineArn"].rsplit(":", 1)[1]))
    seen: list[str] = []
    token = None
    while True:
        page = service.search_executions(search, page_token=token, limit=5)
        seen += [item["name"] for item in page.items]
        token = page.next_token
        if token is None:
            break
    assert seen == [f"e{index:02d}" for index in reversed(range(23))]


@pytest.mark.parametrize("text", ["", "id", "= 3", "id == 3", "a..b = 1", "id = 3 and"])
def test_an_unreadable_input_search_is_a_clear_error(text: str) -> None:
    with pytest.raises(ServiceError, match="Cannot read the input search"):
        parse_input_query(text)
