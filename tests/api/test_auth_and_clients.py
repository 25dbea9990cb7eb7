"""Signature Version 4 with configured keys, the AWS CLI, and the conformance runner through HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Server, client
from tests.conformance.corpus import corpus_dir
from tests.runtime.conftest import Cluster

KEY, SECRET = "AKIDORCHESTRATORTEST", "s3cr3t/with+chars"
ROLE = "arn:aws:iam::123456789012:role/test"


@pytest.fixture(scope="module")
def signed_server(cluster: Cluster) -> Iterator[Server]:
    with Server(cluster, ORCHESTRATOR_API_KEYS=f"{KEY}={SECRET}") as running:
        yield running


def test_a_correctly_signed_request_is_served(signed_server: Server) -> None:
    sfn = client(signed_server.url, key=KEY, secret=SECRET)
    assert "stateMachines" in sfn.list_state_machines()


@pytest.mark.parametrize(
    ("key", "secret", "expected"),
    [
        ("AKIDUNKNOWN", SECRET, "UnrecognizedClientException"),
        (KEY, "wrong-secret", "InvalidSignatureException"),
    ],
)
def test_unknown_keys_and_wrong_signatures_are_refused_and_change_nothing(
    signed_server: Server, key: str, secret: str, expected: str
) -> None:
    sfn = client(signed_server.url, key=key, secret=secret)
    name = f"refused-{expected}"
    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(
            name=name, roleArn=ROLE, definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
        )
    assert raised.value.response["Error"]["Code"] == expected
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    good = client(signed_server.url, key=KEY, secret=SECRET)
    assert name not in [m["name"] for m in good.list_state_machines()["stateMachines"]]


def test_an_unsigned_request_is_refused(signed_server: Server) -> None:
    response = httpx.post(
        signed_server.url,
        content=b"{}",
        headers={"X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0"},
    )
    assert response.status_code == 403
    # AWS's answer to a request without credentials (its Common Errors: MissingAuthenticationToken, 403)
    assert response.json() == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }


def test_a_tampered_body_fails_the_signature(signed_server: Server) -> None:
    sfn = client(signed_server.url, key=KEY, secret=SECRET)

    def tamper(request: Any, **_: Any) -> None:
        request.body = request.body.replace(b"maxResults", b"maxResultz") if request.body else request.body

    sfn.meta.events.register_first("before-send.stepfunctions.ListStateMachines", tamper)
    with pytest.raises(ClientError) as raised:
        sfn.list_state_machines(maxResults=5)
    assert raised.value.response["Error"]["Code"] == "InvalidSignatureException"


def aws_run(
    server: Server, *args: str, key: str = "x", secret: str = "y", region: str = "us-east-1"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    command = [sys.executable, "-m", "awscli", "stepfunctions", *args, "--endpoint-url", server.url, "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def aws(server: Server, *args: str, **credentials: str) -> Any:
    done = aws_run(server, *args, **credentials)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_the_aws_cli_signs_with_the_configured_key(signed_server: Server) -> None:
    # boto3 creates two activities; the CLI, signing with the same key, pages through them one at a time
    sfn = client(signed_server.url, key=KEY, secret=SECRET)
    names = {f"cli-signed-{time.monotonic_ns()}-{i}" for i in range(2)}
    for activity in names:
        sfn.create_activity(name=activity)
    listed = aws(signed_server, "list-activities", "--page-size", "1", key=KEY, secret=SECRET)
    assert names <= {a["name"] for a in listed["activities"]}


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        ({"key": KEY, "secret": SECRET, "region": "eu-west-1"}, "Credential should be scoped to a valid region"),
        ({"key": KEY, "secret": "wrong"}, "InvalidSignatureException"),
        ({"key": "AKIDUNKNOWN", "secret": SECRET}, "UnrecognizedClientException"),
    ],
)
def test_the_aws_cli_with_the_wrong_region_or_key_is_refused(
    signed_server: Server, credentials: dict[str, str], expected: str
) -> None:
    done = aws_run(signed_server, "list-state-machines", **credentials)
    assert done.returncode != 0
    assert expected in done.stderr


def test_the_aws_cli_creates_starts_describes_reads_history_and_answers_a_token(server: Server) -> None:
    definition = json.dumps(
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                    "Parameters": {"Message": {"token.$": "$$.Task.Token"}},
                    "ResultPath": "$.answer",
                    "End": True,
                }
            },
        }
    )
    machine = aws(
        server,
        "create-state-machine",
        "--name",
        f"cli-{time.monotonic_ns()}",
        "--definition",
        definition,
        "--role-arn",
        ROLE,
    )["stateMachineArn"]
    execution = aws(server, "start-execution", "--state-machine-arn", machine, "--input", '{"amount": 9000}')
    arn = execution["executionArn"]
    token = None
    deadline = time.monotonic() + 30
    while token is None:
        assert time.monotonic() < deadline
        events = aws(server, "get-execution-history", "--execution-arn", arn)["events"]
        if any(e["type"] == "TaskSubmitted" for e in events):
            scheduled = next(e for e in events if e["type"] == "TaskScheduled")
            token = json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Message"]["token"]
        time.sleep(0.1)
    aws(server, "send-task-success", "--task-token", token, "--task-output", '{"approved": true}')
    while (described := aws(server, "describe-execution", "--execution-arn", arn))["status"] == "RUNNING":
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"amount": 9000, "answer": {"approved": True}}


def test_the_conformance_runner_through_http(server: Server) -> None:
    folder = corpus_dir()
    report = Path(server.url.replace("http://", "").replace(":", "_") + ".json")
    report = Path("/tmp") / f"conformance-http-{report.name}"
    done = subprocess.run(
        [
            sys.executable,
            str(Path(folder) / "run.py"),
            "--engine",
            server.url,
            "--jobs",
            "2",
            "--timeout",
            "30",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(report.read_text())
    print(f"conformance through HTTP: {results['passed']}/{results['total']} passed")
    failing = [r["id"] for r in results["results"] if r["verdict"] != "pass"]
    assert results["passed"] == results["total"], failing[:20]
