"""The credit application's handlers (tasks/credit.py) on their own, then the workflow through `run_local`.

The handlers: each validates its input and fails by a name a state machine can Catch; the credit
limit and the scores are deterministic. The workflow: in memory, on an embedded home of this module's
own (a SQLite database holding the GetCreditBureau table); the SNS publish that waits for a person is
answered by a handler override, as run_local's callers do.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator import TaskContext, config, run_local
from orchestrator.engine.local import ExecutionResult
from orchestrator.integrations import dynamodb, registry
from orchestrator.service import Service
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from tasks import credit
from tests.examples.conftest import (
    ASK,
    BRANCHES,
    TABLE,
    UNAVAILABLE,
    application,
    assert_inside,
    bureau_names,
    bureaus,
    definition,
    expected_scores,
    iteration,
    root_sequence,
    split,
    state_output,
    unavailable_iteration,
)

FUNCTIONS = {
    "RandomNumberforCredit": credit.credit_limit,
    "check-identity": credit.check_identity,
    "check-address": credit.check_address,
    "get-credit-score": credit.credit_score,
}
CONTEXT = TaskContext(
    "arn:aws:states:us-east-1:123456789012:execution:credit-application:first",
    "Get all scores",
    "arn:aws:states:::lambda:invoke",
    0,
)
IDENTITY = {"email": "jane.doe@example.com", "ssn": "123-45-6789"}
# Settings of the environment the tests run in that would point the workflow elsewhere.
NOT_INHERITED = (
    "ORCHESTRATOR_DATABASE_URL",
    "ORCHESTRATOR_BROKER_URL",
    "ORCHESTRATOR_REGION",
    "ORCHESTRATOR_ACCOUNT",
    "CREDIT_SEED",
)
ADDRESS = {"street": "123 Main St", "city": "Columbus", "state": "OH", "zip": "43219"}


def context(execution: str = "first") -> TaskContext:
    return TaskContext(f"arn:aws:states:us-east-1:123456789012:execution:credit-application:{execution}", "S", "R", 0)


def error_of(call: Any, *args: Any) -> str:
    """The name the task fails with when ``call`` raises (what the runtime reads: the ``error`` attribute)."""
    with pytest.raises(Exception) as raised:
        call(*args)
    return str(raised.value.error)  # type: ignore[attr-defined]


def test_the_four_lambda_functions_are_registered_by_name() -> None:
    registered = registry.handlers()
    assert {name: registered.get(name) for name in FUNCTIONS} == FUNCTIONS


# -- RandomNumberforCredit ------------------------------------------------------------------------------


def test_the_credit_limit_is_the_amount_requested() -> None:
    assert credit.credit_limit(application("input-auto-approve.json"), CONTEXT) == 3500
    assert credit.credit_limit(application("input-needs-approval.json"), CONTEXT) == 7500
    assert credit.credit_limit({"data": {}, "creditRequested": 1.9e3}, CONTEXT) == 1900


@pytest.mark.parametrize("requested", [0, 10_001, -5, "5000", True, [5000]])
def test_a_credit_request_out_of_range_or_not_a_number_is_refused_by_name(requested: Any) -> None:
    payload = {"data": {"firstname": "Jane"}, "creditRequested": requested}
    assert error_of(credit.credit_limit, payload, CONTEXT) == "Applicant.InvalidCreditRequested"


@pytest.mark.parametrize("payload", [{}, {"data": None}, {"data": ""}, "not an application"])
def test_an_application_without_data_is_refused(payload: Any) -> None:
    assert error_of(credit.credit_limit, payload, CONTEXT) == "Applicant.MissingData"


def test_a_random_credit_limit_is_repeatable_with_a_seed_from_the_input() -> None:
    limits = [credit.credit_limit({"data": {}, "seed": seed}, CONTEXT) for seed in range(20)]
    again = [credit.credit_limit({"data": {}, "seed": seed}, CONTEXT) for seed in range(20)]
    assert limits == again
    assert all(1 <= limit <= 10_000 for limit in limits)
    assert len(set(limits)) > 10  # the seed chooses: not one constant


def test_credit_seed_seeds_it_when_the_input_has_no_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    for seed in ("alpha", "beta", "gamma", "alpha"):
        monkeypatch.setenv("CREDIT_SEED", seed)
        seen.append(credit.credit_limit({"data": {}}, CONTEXT))
    assert seen[0] == seen[3]
    assert len(set(seen)) > 1
    # the input's seed wins over the environment's
    assert credit.credit_limit({"data": {}, "seed": 7}, CONTEXT) == random.Random(7).randint(1, 10_000)


# -- check-identity and check-address -----------------------------------------------------------------


def test_a_valid_identity_and_address_pass() -> None:
    assert credit.check_identity(IDENTITY, CONTEXT) == {"approved": True, "message": "identity validation passed"}
    assert credit.check_address(ADDRESS, CONTEXT) == {"approved": True, "message": "address validation passed"}
    assert credit.check_address({**ADDRESS, "zip": "43219-1234"}, CONTEXT)["approved"] is True


@pytest.mark.parametrize(
    ("identity", "error"),
    [
        ({**IDENTITY, "email": "jane.doe-at-example.com"}, "Applicant.InvalidEmail"),
        ({**IDENTITY, "email": "jane doe@example.com"}, "Applicant.InvalidEmail"),
        ({**IDENTITY, "email": "jane@localhost"}, "Applicant.InvalidEmail"),
        ({**IDENTITY, "ssn": "123456789"}, "Applicant.InvalidSSN"),
        ({**IDENTITY, "ssn": "12-345-6789"}, "Applicant.InvalidSSN"),
        ({"ssn": "123-45-6789"}, "Applicant.MissingEmail"),
        ({**IDENTITY, "email": ""}, "Applicant.MissingEmail"),
        ({"email": "jane.doe@example.com"}, "Applicant.MissingSSN"),
        (None, "Applicant.MissingEmail"),
    ],
)
def test_an_invalid_identity_fails_by_name(identity: Any, error: str) -> None:
    assert error_of(credit.check_identity, identity, CONTEXT) == error


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ({**ADDRESS, "state": "Ohio"}, "Applicant.InvalidAddress"),
        ({**ADDRESS, "state": "oh"}, "Applicant.InvalidAddress"),
        ({**ADDRESS, "zip": "4321"}, "Applicant.InvalidAddress"),
        ({**ADDRESS, "zip": "ABCDE"}, "Applicant.InvalidAddress"),
        ({k: v for k, v in ADDRESS.items() if k != "street"}, "Applicant.MissingStreet"),
        ({k: v for k, v in ADDRESS.items() if k != "city"}, "Applicant.MissingCity"),
        ({**ADDRESS, "state": None}, "Applicant.MissingState"),
        ({**ADDRESS, "zip": ""}, "Applicant.MissingZip"),
    ],
)
def test_an_invalid_address_fails_by_name(address: dict[str, Any], error: str) -> None:
    assert error_of(credit.check_address, address, CONTEXT) == error


# -- get-credit-score ------------------------------------------------------------------------------------


def test_a_score_is_deterministic_per_bureau_and_execution_and_in_range() -> None:
    names = ["Experian", "Equifax", "TransUnion"]
    executions = [f"exec-{n}" for n in range(12)]
    scores = {(b, x): credit.credit_score({"Name": {"S": b}}, context(x))["score"] for b in names for x in executions}
    again = {(b, x): credit.credit_score({"Name": {"S": b}}, context(x))["score"] for b in names for x in executions}
    assert scores == again
    assert all(300 <= s <= 850 for s in scores.values())
    assert len({scores[("Experian", x)] for x in executions}) > 1  # the applicant's execution matters
    assert len({scores[(b, "exec-0")] for b in names}) > 1  # and so does the bureau
    assert credit.credit_score({"Name": {"S": "Experian"}}, CONTEXT)["bureau"] == "Experian"


def test_an_unavailable_bureau_fails_as_bureau_unavailable() -> None:
    with pytest.raises(credit.BureauUnavailable, match="Unreachable Bureau is not answering") as raised:
        credit.credit_score(UNAVAILABLE, CONTEXT)
    assert raised.value.error == "Bureau.Unavailable"
    # an explicit "Available": true is available
    assert credit.credit_score({"Name": {"S": "Experian"}, "Available": {"BOOL": True}}, CONTEXT)["score"] >= 300


@pytest.mark.parametrize(
    "item", [{}, {"Name": {"S": ""}}, {"Name": {"N": "1"}}, {"Name": "Experian"}, {"Name": {"S": 7}}, "Experian"]
)
def test_a_bureau_item_without_a_string_name_is_refused(item: Any) -> None:
    assert error_of(credit.credit_score, item, CONTEXT) == "Bureau.InvalidItem"


# -- the workflow through run_local -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[config.Settings]:
    """An embedded home of this module's own: its SQLite database holds the bureaus table."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ORCHESTRATOR_HOME", str(tmp_path_factory.mktemp("credit-home")))
        for name in NOT_INHERITED:
            patch.delenv(name, raising=False)
        settings = config.load()
        upgrade(settings.database_url)
        Service(settings).load_tables(bureaus())
        yield settings
        get_engine(settings.database_url).dispose()


class Approver:
    """Stands in for the person who answers the SNS message: records what it was sent, then decides."""

    def __init__(self, *, reject: bool = False) -> None:
        self.reject = reject
        self.calls: list[tuple[dict[str, Any], TaskContext]] = []

    def __call__(self, payload: dict[str, Any], task: TaskContext) -> dict[str, Any]:
        self.calls.append((payload, task))
        if self.reject:
            raise Rejected("the applicant's income does not support 7500")
        return {"approved": True, "by": "unit test"}


class Rejected(Exception):
    error = "Credit.Rejected"


def run(execution_input: dict[str, Any], **handlers: Any) -> ExecutionResult:
    return run_local(definition(), execution_input, handlers={**FUNCTIONS, **handlers}, name="application")


def scanned(result: ExecutionResult) -> list[dict[str, Any]]:
    return list(state_output(result.history, "Get list of credit bureaus")["Items"])


def test_an_application_under_5000_is_approved_automatically(home: config.Settings) -> None:
    result = run(application("input-auto-approve.json"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    items = scanned(result)
    assert {item["Name"]["S"] for item in items} == bureau_names()
    assert result.output == expected_scores(result.execution_arn, items)

    pieces = split(result.history)
    assert pieces.root == root_sequence(approved_by_a_person=False)
    assert pieces.branches == BRANCHES
    assert pieces.iterations == {i: iteration(i) for i in range(3)}
    assert_inside(result.history, pieces)


def test_an_application_of_5000_or_more_waits_for_the_approval_sns_carries(home: config.Settings) -> None:
    approver = Approver()
    result = run(application("input-needs-approval.json"), **{ASK: approver})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output == expected_scores(result.execution_arn, scanned(result))

    ((published, task),) = approver.calls
    assert published == {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:TaskTokenTopic",
        "Subject": "A credit limit needs your approval",
        "Message": {
            "TaskToken": task.token,
            "Applicant": "John",
            "CreditLimit": 7500,
            "ExecutionId": task.execution_arn,
        },
    }
    assert task.token and task.execution_arn == result.execution_arn
    approved = state_output(result.history, "Wait for human approval")
    assert approved["approval"] == {"approved": True, "by": "unit test"}
    assert approved["credit"] == {"limit": 7500}

    pieces = split(result.history)
    expected = root_sequence(approved_by_a_person=True)
    # The root up to the approval task, and from its exit on. (run_local's override answers for the
    # token at once, so TaskSubmitted is not recorded between TaskStarted and TaskSucceeded.)
    entered = expected.index("TaskStateEntered Wait for human approval")
    exited = expected.index("TaskStateExited Wait for human approval")
    assert pieces.root[: entered + 1] == expected[: entered + 1]
    assert pieces.root[-(len(expected) - exited) :] == expected[exited:]
    assert pieces.branches == BRANCHES
    assert pieces.iterations == {i: iteration(i) for i in range(3)}


def test_a_rejection_fails_the_execution_with_its_error_and_cause(home: config.Settings) -> None:
    approver = Approver(reject=True)
    result = run(application("input-needs-approval.json"), **{ASK: approver})
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "Credit.Rejected",
        "the applicant's income does not support 7500",
    )
    assert len(approver.calls) == 1
    assert [e["type"] for e in result.history][-2:] == ["TaskFailed", "ExecutionFailed"]
    assert not any(e["type"] == "ParallelStateEntered" for e in result.history)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (("identity", "email", "jane.doe-at-example.com"), "Applicant.InvalidEmail", "is not an email address"),
        (("identity", "ssn", "123-456-789"), "Applicant.InvalidSSN", "an SSN is written 123-45-6789"),
        (("address", "zip", "4321"), "Applicant.InvalidAddress", "zip must be a ZIP code"),
        (("address", "state", "Ohio"), "Applicant.InvalidAddress", "state must be a two-letter code"),
    ],
)
def test_invalid_applicant_data_fails_the_verification_by_name(
    home: config.Settings, change: tuple[str, str, str], error: str, message: str
) -> None:
    execution_input = application("input-auto-approve.json")
    part, field, value = change
    execution_input["data"][part][field] = value
    result = run(execution_input)
    assert (result.status, result.error) == ("FAILED", error)
    cause = json.loads(result.cause or "{}")  # Lambda's cause: a JSON document
    assert cause["errorType"] == error and message in cause["errorMessage"]
    assert [e["type"] for e in result.history][-2:] == ["ParallelStateFailed", "ExecutionFailed"]


def test_a_request_out_of_range_fails_the_first_task(home: config.Settings) -> None:
    result = run({**application("input-auto-approve.json"), "creditRequested": 20_000})
    assert (result.status, result.error) == ("FAILED", "Applicant.InvalidCreditRequested")
    assert [e["type"] for e in result.history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskFailed",
        "ExecutionFailed",
    ]


def test_a_seeded_random_limit_takes_the_same_path_every_time(home: config.Settings) -> None:
    unrequested = {k: v for k, v in application("input-auto-approve.json").items() if k != "creditRequested"}
    paths = set()
    for seed in range(6):
        runs = [run({**unrequested, "seed": seed}, **{ASK: Approver()}) for _ in range(2)]
        limits = [state_output(r.history, "Get credit limit")["credit"]["limit"] for r in runs]
        chosen = [next(e for e in r.history if e["type"] == "PassStateEntered") for r in runs]
        names = [c["stateEnteredEventDetails"]["name"] for c in chosen]
        assert limits[0] == limits[1] == random.Random(seed).randint(1, 10_000)
        assert names[0] == names[1] == ("Auto-approve limit" if limits[0] < 5000 else "Credit limit approved")
        assert all(r.status == "SUCCEEDED" for r in runs)
        paths.add(names[0])
    assert paths == {"Auto-approve limit", "Credit limit approved"}  # these seeds take both paths


def test_an_unavailable_bureau_is_retried_then_caught(home: config.Settings) -> None:
    Service(home).put_item(TABLE, UNAVAILABLE)
    try:
        result = run(application("input-auto-approve.json"))
    finally:
        dynamodb.execute("deleteItem", {"TableName": TABLE, "Key": {"Name": UNAVAILABLE["Name"]}}, home.database_url)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    items = scanned(result)
    down = next(i for i, item in enumerate(items) if item == UNAVAILABLE)
    answering = [item for item in items if item != UNAVAILABLE]
    assert [entry for i, entry in enumerate(result.output) if i != down] == expected_scores(
        result.execution_arn, answering
    )
    assert result.output[down] == {"bureau": "Unreachable Bureau", "score": None, "error": "Bureau.Unavailable"}

    pieces = split(result.history)
    assert pieces.root == root_sequence(approved_by_a_person=False, bureaus=4)
    assert pieces.iterations == {i: unavailable_iteration(i) if i == down else iteration(i) for i in range(4)}
    # the retrier's backoff: 1 s, then 2 s (IntervalSeconds 1, BackoffRate 2), on the virtual clock
    attempts = _iteration_events(result.history, down)
    failed = [e for e in attempts if e["type"] == "TaskFailed"]
    scheduled = [e for e in attempts if e["type"] == "TaskScheduled"]
    assert all(e["taskFailedEventDetails"]["error"] == "Bureau.Unavailable" for e in failed)
    gaps = [scheduled[n + 1]["timestamp"] - failed[n]["timestamp"] for n in range(2)]
    assert gaps == [dt.timedelta(seconds=1), dt.timedelta(seconds=2)]


def _iteration_events(events: list[dict[str, Any]], index: int) -> list[dict[str, Any]]:
    pieces = split(events)
    by_id = {e["id"]: e for e in events}
    return [by_id[i] for i in pieces.ids[index]]
