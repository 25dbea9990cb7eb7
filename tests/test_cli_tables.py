"""`orchestrator tables create|put|get|scan|load|describe|list|delete`: output, errors and exit statuses.

Every test calls `orchestrator.cli.main` in-process on an embedded home of its own; one runs a workflow
on the table the CLI loaded, as the credit-application example does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import run_local
from orchestrator.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(tmp_path / "home"))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_REGION", "ORCHESTRATOR_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["tables", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def write(folder: Path, name: str, content: Any) -> str:
    path = folder / name
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def test_create_put_get_scan_describe_list_delete(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "create", "Orders", "--key", "Customer:S", "--sort-key", "Number:N") == (
        0,
        "created table Orders (partition key Customer:S, sort key Number:N)\n",
        "",
    )
    status, out, _ = run(
        capsys, "put", "Orders", '{"Customer": {"S": "ann"}, "Number": {"N": "10"}, "Total": {"N": "5.50"}}'
    )
    assert (status, out) == (0, "put 1 item(s) in Orders\n")
    status, out, _ = run(
        capsys,
        "put",
        "Orders",
        "--plain",
        '[{"Customer": "ann", "Number": 9, "Tags": ["x"]}, {"Customer": "bob", "Number": 1}]',
    )
    assert (status, out) == (0, "put 2 item(s) in Orders\n")

    status, out, _ = run(capsys, "scan", "Orders")
    assert status == 0
    assert out.splitlines() == [
        '{"Customer": "ann", "Number": 9, "Tags": ["x"]}',  # 9 before 10: sort keys compare as numbers
        '{"Customer": "ann", "Number": 10, "Total": 5.5}',
        '{"Customer": "bob", "Number": 1}',
        "3 item(s)",
    ]
    status, out, _ = run(capsys, "scan", "Orders", "--json", "--limit", "1")
    page = json.loads(out)
    assert page["Items"] == [{"Customer": {"S": "ann"}, "Number": {"N": "9"}, "Tags": {"L": [{"S": "x"}]}}]
    assert page["LastEvaluatedKey"] == {"Customer": {"S": "ann"}, "Number": {"N": "9"}}

    status, out, _ = run(capsys, "get", "Orders", "--plain", '{"Customer": "ann", "Number": 10}')
    assert (status, json.loads(out)) == (0, {"Customer": "ann", "Number": 10, "Total": 5.5})
    status, out, _ = run(capsys, "get", "Orders", '{"Customer": {"S": "ann"}, "Number": {"N": "10"}}', "--json")
    assert json.loads(out)["Item"]["Total"] == {"N": "5.5"}

    status, out, _ = run(capsys, "describe", "Orders")
    assert status == 0
    assert out.splitlines()[0] == "Orders: partition key Customer:S, sort key Number:N"
    assert "  arn: arn:aws:dynamodb:us-east-1:123456789012:table/Orders" in out
    assert "  items: 3 " in out
    status, out, _ = run(capsys, "describe", "Orders", "--json")
    assert json.loads(out)["Table"]["KeySchema"] == [
        {"AttributeName": "Customer", "KeyType": "HASH"},
        {"AttributeName": "Number", "KeyType": "RANGE"},
    ]
    assert run(capsys, "list") == (0, "Orders\n", "")
    assert run(capsys, "delete", "Orders") == (0, "deleted table Orders and its 3 item(s)\n", "")
    assert run(capsys, "list") == (0, "no tables\n", "")
    status, out, _ = run(capsys, "list", "--json")
    assert json.loads(out) == {"TableNames": []}


def test_load_creates_the_table_and_a_workflow_scans_it(capsys: pytest.CaptureFixture[str]) -> None:
    bureaus = str(ROOT / "examples/credit-application/bureaus.json")
    assert run(capsys, "load", bureaus) == (0, "created table GetCreditBureau: put 3 item(s)\n", "")
    assert run(capsys, "load", bureaus) == (0, "updated table GetCreditBureau: put 3 item(s)\n", "")
    definition = {
        "StartAt": "Scan",
        "States": {
            "Scan": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:scan",
                "Parameters": {"TableName": "GetCreditBureau"},
                "End": True,
            }
        },
    }
    result = run_local(definition, handlers={})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Count"] == 3
    assert {i["Name"]["S"] for i in result.output["Items"]} == {"Equifax", "Experian", "TransUnion"}


def test_load_takes_batch_write_requests_lists_and_plain_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = write(
        tmp_path,
        "tables.json",
        [
            {
                "TableName": "People",
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "Items": [{"id": 7, "name": "Ann"}],
            },
            {
                "TableName": "Empty",
                "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "B"}],
            },
        ],
    )
    status, out, err = run(capsys, "load", tables, "--plain")
    assert (status, err) == (0, "")
    assert out.splitlines() == ["created table People: put 1 item(s)", "created table Empty: put 0 item(s)"]
    status, out, _ = run(capsys, "describe", "People", "--json")
    assert json.loads(out)["Table"]["AttributeDefinitions"] == [
        {"AttributeName": "id", "AttributeType": "N"}
    ]  # from the item

    requests = write(
        tmp_path,
        "requests.json",
        {"RequestItems": {"People": [{"PutRequest": {"Item": {"id": {"N": "8"}, "name": {"S": "Bob"}}}}]}},
    )
    assert run(capsys, "load", requests) == (0, "updated table People: put 1 item(s)\n", "")
    status, out, _ = run(capsys, "scan", "People")
    assert out.splitlines() == ['{"id": 7, "name": "Ann"}', '{"id": 8, "name": "Bob"}', "2 item(s)"]


def test_load_is_all_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(
        tmp_path,
        "broken.json",
        {
            "TableName": "Things",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "Items": [{"id": {"S": "a"}}, {"other": {"S": "b"}}],
        },
    )
    status, out, err = run(capsys, "load", broken)
    assert (status, out) == (1, "")
    assert err == (
        "orchestrator tables load: ValidationException: "
        "One or more parameter values were invalid: Missing the key id in the item\n"
    )
    assert run(capsys, "list") == (0, "no tables\n", "")


@pytest.mark.parametrize(
    ("argv", "status", "error"),
    [
        (["scan", "Nowhere"], 1, "ResourceNotFoundException: Requested resource not found: Table: Nowhere not found"),
        (
            ["describe", "Nowhere"],
            1,
            "ResourceNotFoundException: Requested resource not found: Table: Nowhere not found",
        ),
        (["delete", "Nowhere"], 1, "ResourceNotFoundException: Requested resource not found: Table: Nowhere not found"),
        (["create", "Orders", "--key", "id:S"], 1, "ResourceInUseException: Table already exists: Orders"),
        (
            ["create", "ab", "--key", "id:S"],
            1,
            "ValidationException: 1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
            "Member must have length greater than or equal to 3",
        ),
        (
            ["create", "Other", "--key", "id:X"],
            2,
            "--key takes NAME:TYPE with TYPE S, N or B (such as Name:S), not 'id:X'",
        ),
        (
            ["put", "Orders", '{"id": {"N": "1"}}'],
            1,
            "ValidationException: One or more parameter values were invalid: Type mismatch for key id "
            "expected: S actual: N",
        ),
        (
            ["put", "Orders", '{"id": {"S": "a"}, "n": {"N": "x"}}'],
            1,
            "ValidationException: A value provided cannot be converted into a number",
        ),
        (
            ["put", "Orders", "{not json"],
            2,
            "ITEM is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)",
        ),
        (["put", "Orders", '"text"'], 2, "ITEM must be a JSON object (or an array of them)"),
        (["put", "Orders", "@missing.json"], 2, "missing.json: no such file"),
        (["get", "Orders", "--plain", '{"id": "nobody"}'], 1, 'no item in Orders has the key {"id": {"S": "nobody"}}'),
        (
            ["get", "Orders", '{"name": {"S": "a"}}'],
            1,
            "ValidationException: The provided key element does not match the schema",
        ),
        (["load", "missing.json"], 2, "missing.json: no such file"),
    ],
)
def test_errors_are_one_line_with_a_nonzero_status(
    capsys: pytest.CaptureFixture[str], argv: list[str], status: int, error: str
) -> None:
    assert run(capsys, "create", "Orders", "--key", "id:S")[0] == 0
    assert run(capsys, *argv) == (status, "", f"orchestrator tables {argv[0]}: {error}\n")


@pytest.mark.parametrize("command", ["create", "put", "get", "scan", "load", "describe", "list", "delete"])
def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tables", command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: orchestrator tables {command}" in out
    assert f"example:\n  orchestrator tables {command}" in out


def test_python_dash_m_reports_errors_without_a_traceback(home: Path) -> None:
    # The cluster starts workers with `python -m orchestrator.cli`; its errors must read as the command's do.
    env = {**os.environ, "ORCHESTRATOR_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "tables", "scan", "Nowhere"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "orchestrator tables scan: ResourceNotFoundException: Requested resource not found: Table: Nowhere not found\n"
    )
