"""The corpus's recorded AWS executions that call services, run through `run_local` on emulated services.

A case runs here when all it needs is Lambda, SNS, DynamoDB, SQS, EventBridge, nested executions
(``states``) or a test driver answering a task token that SNS or SQS carried (`services.select`; the
others need IAM, activities or Secrets Manager; S3 runs on local buckets that `s3_seeds` fills as the
recorded tests did). Each runs on an embedded home of its own (a fresh SQLite
database) holding the topics and table the recorded tests created, with Lambda functions that behave as
the recorded ones did (`services.FUNCTIONS`) and the state machines its nested executions start.

The result is judged by the corpus's own judge (run.py), after masking what the recording masked by
its key's name (request ids, trace ids) or as an HTTP date, which the judge does not know. Cases known
to fail are listed, with the reason, in known_service_failures.json: an unlisted failure fails the
build, and so does a listed case that passes (the list only shrinks).

The corpus path comes from ORCHESTRATOR_CONFORMANCE_DIR, or is ../shared/conformance beside the checkout.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import traceback
from pathlib import Path
from typing import Any

import pytest

from orchestrator import config, run_local
from orchestrator.engine.local import ExecutionResult, VirtualClock
from orchestrator.engine.outcomes import TaskContext
from orchestrator.service import Service
from orchestrator.store.db import get_engine
from orchestrator.store.migrate import upgrade
from tests.conformance import corpus, s3_seeds, services

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES: dict[str, str] = json.loads((HERE / "known_service_failures.json").read_text())


def _service_cases() -> tuple[list[dict[str, Any]], dict[str, str]]:
    folder = corpus.corpus_dir()
    return services.select([json.loads(p.read_text()) for p in sorted((folder / "cases").glob("*.json"))])


CASES, LEFT_OUT = _service_cases()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the schema, made once: each case starts from a copy."""
    path = tmp_path_factory.mktemp("template") / "orchestrator.sqlite"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()  # closing the last connection moves SQLite's write-ahead log into the file
    return path


@pytest.fixture()
def service(migrated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Service:
    """An embedded home of this test's own, which run_local's SNS and DynamoDB integrations use."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(migrated, home / "orchestrator.sqlite")
    monkeypatch.setenv("ORCHESTRATOR_HOME", str(home))
    for name in ("ORCHESTRATOR_DATABASE_URL", "ORCHESTRATOR_BROKER_URL", "ORCHESTRATOR_REGION", "ORCHESTRATOR_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    services.INBOX.clear()
    return Service(config.load())


# -- judging ----------------------------------------------------------------------------------------------

HTTP_DATE = re.compile(r"^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def masked_like_the_recording(expected: Any, actual: Any) -> Any:
    """``actual`` with what the recording masked in ``expected`` masked the same way.

    The snapshot replaced some values by their key's name (``"x-amzn-RequestId": "x-amzn-RequestId"``,
    ``"Server": ["Server"]``) and HTTP dates by ``date``; the judge knows neither mask. A key the
    recording has and ``actual`` lacks stays missing, so the judge still reports it.
    """
    if not isinstance(expected, dict) or not isinstance(actual, dict):
        if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
            return [masked_like_the_recording(e, a) for e, a in zip(expected, actual, strict=True)]
        return actual
    masked = dict(actual)
    for key, value in expected.items():
        if key not in actual:
            continue
        if value in (key, [key]) or (value == "date" and _is_http_date(actual[key])):
            masked[key] = value
        else:
            masked[key] = masked_like_the_recording(value, actual[key])
    return masked


def _is_http_date(value: Any) -> bool:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return isinstance(value, str) and bool(HTTP_DATE.match(value))


def run_case(case: dict[str, Any], service: Service) -> tuple[str, str, Any]:
    """Create what ``case`` needs, run it, and judge it; returns the judge's (verdict, category, details)."""
    result = execute_case(case, service)
    output = masked_like_the_recording(case["expected"]["output"], result.output)
    actual = {
        "phase": "run",
        "status": result.status,
        "output": json.dumps(output) if result.status == "SUCCEEDED" else None,
        "error": result.error,
        "cause": result.cause,
    }
    return corpus._runner().judge(case, actual)


def execute_case(case: dict[str, Any], service: Service) -> ExecutionResult:
    """Create what ``case`` needs and run it."""
    clock = corpus.clock_for(case)
    setup = services.setup_for(case, clock)
    for topic in setup.topics:
        service.create_topic(topic)
    for table in setup.tables:
        service.create_table(table, services.TABLE_KEY, services.TABLE_ATTRIBUTES)
    for queue in setup.queues:
        service.create_queue(queue)
    if setup.subscribe_inbox:
        service.subscribe(services.TOPICS[0], protocol="python", endpoint=f"{services.__name__}:remember")
    services.show_sources(setup.sources)
    if "s3" in case["needs"]:
        s3_seeds.seed(case)
    return run_local(
        case["definition"],
        case["input"],
        handlers=setup.handlers,
        state_machines=setup.state_machines,
        clock=clock,
        state_machine_type=case.get("state_machine_type", "STANDARD"),
    )


# -- the recorded cases -------------------------------------------------------------------------------------


def test_known_failures_are_selected_cases() -> None:
    # A listed id that names no selected case would hide nothing and never shrink.
    assert CASES, "the corpus holds no case this module selects"
    assert not set(KNOWN_FAILURES) - {c["id"] for c in CASES}


def test_every_lambda_case_has_its_functions() -> None:
    # A case whose test FUNCTIONS does not describe would run with no functions at all.
    missing = {services.test_of(c) for c in CASES if "lambda" in c["needs"]} - set(services.FUNCTIONS)
    assert not missing


def test_selection_takes_the_supported_services_and_says_why_it_leaves_others() -> None:
    def case(case_id: str, *needs: str) -> dict[str, Any]:
        return {"id": case_id, "needs": list(needs)}

    sync_via_sqs = next(iter(services.LEFT_OUT))
    selected, left_out = services.select(
        [
            case("pure"),
            case("lambda", "lambda"),
            case("sns-callback", "sns", "test-driver:task-token-callback"),
            case("nested", "states"),
            case("sqs-callback", "sqs", "test-driver:task-token-callback"),
            case("put-events", "events"),
            case("cross-account", "iam", "lambda"),
            case(sync_via_sqs, "states"),
        ]
    )
    assert [c["id"] for c in selected] == ["lambda", "sns-callback", "nested", "sqs-callback", "put-events"]
    assert left_out == {
        "cross-account": "needs iam",
        sync_via_sqs: services.LEFT_OUT[sync_via_sqs],
    }


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_matches_aws(case: dict[str, Any], service: Service) -> None:
    verdict, category, details = run_case(case, service)
    reason = KNOWN_FAILURES.get(case["id"])
    if reason is None:
        assert verdict == "pass", f"{category}: {json.dumps(details, default=str)[:1500]}"
    else:
        assert verdict != "pass", f"listed as a known failure ({reason}) but passes: remove it from the list"


@pytest.mark.parametrize(
    "case", [c for c in CASES if corpus.recorded_history(c)], ids=[c["id"] for c in CASES if corpus.recorded_history(c)]
)
def test_case_history_matches_aws(case: dict[str, Any], service: Service) -> None:
    corpus.check_history(case, execute_case(case, service).history)


def test_values_masked_by_their_key_name_or_as_a_date_are_masked_in_the_actual_value_too() -> None:
    expected = {
        "Headers": {"x-amzn-RequestId": "x-amzn-RequestId", "Server": ["Server"], "Date": "date", "Length": "2"},
        "Items": [{"RequestId": "RequestId"}],
    }
    actual = {
        "Headers": {"x-amzn-RequestId": ["r-1"], "Server": ["s"], "Date": "Tue, 03 Dec 2024 10:00:00 GMT"},
        "Items": [{"RequestId": "r-2", "More": 1}],
    }
    assert masked_like_the_recording(expected, actual) == {
        "Headers": {"x-amzn-RequestId": "x-amzn-RequestId", "Server": ["Server"], "Date": "date"},
        "Items": [{"RequestId": "RequestId", "More": 1}],
    }
    # Anything else is left for the judge: a value that is not an HTTP date, a missing key.
    assert masked_like_the_recording({"Date": "date", "Length": "2"}, {"Date": "yesterday"}) == {"Date": "yesterday"}


# -- the emulated functions themselves ------------------------------------------------------------------------

CONTEXT = TaskContext("arn:aws:states:us-east-1:123456789012:execution:local:x", "Task", "arn", 0)


def _raised(function: services.LambdaSource) -> Exception:
    services.show_sources([function])
    try:
        function.handler({}, CONTEXT)
    except Exception as exc:
        return exc
    raise AssertionError("the function did not raise")


def test_the_raising_function_fails_where_lambda_said_it_did() -> None:
    exc = _raised(services.RAISE_EXCEPTION)
    assert (type(exc).__name__, str(exc)) == ("Exception", "Some exception was raised.")
    # The function's own frame, as Lambda's recorded stackTrace shows it.
    assert traceback.format_tb(exc.__traceback__)[-1] == (
        '  File "/var/task/handler.py", line 2, in handler\n    raise Exception("Some exception was raised.")\n'
    )


def test_the_custom_exception_has_no_message_and_its_own_name() -> None:
    exc = _raised(services.RAISE_CUSTOM_EXCEPTION)
    assert (type(exc).__name__, str(exc)) == ("CustomException", "")
    assert traceback.format_tb(exc.__traceback__)[-1] == (
        '  File "/var/task/handler.py", line 9, in handler\n    raise CustomException()\n'
    )


def test_the_large_response_is_over_the_limit_in_bytes_only() -> None:
    response = services.large_utf8_response(None, CONTEXT)
    assert len(response) < 256 * 1024 < len(json.dumps(response, ensure_ascii=False).encode())


def test_the_slow_function_takes_virtual_time() -> None:
    clock = VirtualClock()
    start = clock.now()
    assert services.slow(clock, 20)({"a": 1}, CONTEXT) == {"a": 1}
    assert (clock.now() - start).total_seconds() == 20


def test_the_callback_answers_only_a_token_the_topic_carried(service: Service) -> None:
    service.create_topic(services.TOPICS[0])
    service.subscribe(services.TOPICS[0], protocol="python", endpoint=f"{services.__name__}:remember")
    topic = "arn:aws:sns:us-east-1:123456789012:topic-00000001"
    carried = TaskContext(CONTEXT.execution_arn, "Publish", services.PUBLISH_AND_WAIT, 0, token="t-1")
    assert services.publish_and_answer({"TopicArn": topic, "Message": {"TaskToken": "t-1"}}, carried) == {}
    unanswered = dataclasses.replace(carried, token="t-2")
    with pytest.raises(RuntimeError, match="no message on the topic carried the task token"):
        services.publish_and_answer({"TopicArn": topic, "Message": {"TaskToken": "other"}}, unanswered)
    assert [json.loads(n["Message"]) for n in services.INBOX] == [{"TaskToken": "t-1"}, {"TaskToken": "other"}]
