"""The AWS services that the corpus's service-needing cases call, emulated for `run_local`.

The corpus (ORCHESTRATOR_CONFORMANCE_DIR) recorded executions on AWS that call Lambda functions, SNS
topics, DynamoDB tables and other state machines. The LocalStack tests that deployed those functions
are not in the corpus, so each function here is inferred from what the recorded history shows it
received and returned (LambdaFunctionScheduled / TaskScheduled, then ...Succeeded or ...Failed):
most return their event unchanged; some raise; one returns a fixed string; one answers with more
than Step Functions' 256 KiB; one runs past the TimeoutSeconds of its Task.

`select` says which cases run here and why the others do not; `setup_for` says what one case needs:
its handlers by function name, the state machines its nested executions start, and the topics and
tables that must exist.
"""

from __future__ import annotations

import datetime as dt
import json
import linecache
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.engine.local import VirtualClock
from orchestrator.engine.outcomes import TaskContext, TaskRequest
from orchestrator.engine.resources import parse_resource
from orchestrator.integrations import services as integrations
from orchestrator.integrations.registry import Handler

# The services a selected case may need: Lambda, SNS, DynamoDB, Step Functions (nested executions), S3
# (local buckets seeded by `s3_seeds`),
# and the test driver answering a task token (here, SNS carries the token).
# SQS (a local queue, read back by the test driver), EventBridge (events, put to nobody under run_local),
SUPPORTED_NEEDS = frozenset(
    {"lambda", "sns", "dynamodb", "states", "s3", "sqs", "events", "test-driver:task-token-callback"}
)

# Cases whose `needs` fit SUPPORTED_NEEDS but which call a service outside it anyway.
LEFT_OUT: Mapping[str, str] = {
    "v2.callback.test_callback.TestCallback.test_sync_with_task_token__2825ae50": (
        "the started state machine sends the parent's task token through SQS (sqs:sendMessage), and the "
        "recorded test answered it from the queue"
    ),
}

TOPICS = ("topic-00000001", "topic-00000001.fifo")
QUEUE = "queue-00000001"
TABLE = "sfn_test_table_00000001"
TABLE_KEY = [{"AttributeName": "id", "KeyType": "HASH"}]
TABLE_ATTRIBUTES = [{"AttributeName": "id", "AttributeType": "S"}]


def select(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The cases to run here, and the service-needing cases that are not, each with the reason."""
    selected, left_out = [], {}
    for case in cases:
        needs = set(case.get("needs") or ())
        if not needs:
            continue
        if case["id"] in LEFT_OUT:
            left_out[case["id"]] = LEFT_OUT[case["id"]]
        elif needs <= SUPPORTED_NEEDS:
            selected.append(case)
        else:
            left_out[case["id"]] = f"needs {', '.join(sorted(needs - SUPPORTED_NEEDS))}"
    return selected, left_out


# -- the Lambda functions -------------------------------------------------------------------------------

# Lambda's stackTrace names the function's own file, /var/task/handler.py, its line and its source
# text. The raising functions are compiled under that name; `show_sources` puts their text where
# Python's traceback module looks for it (there is no such file here).
HANDLER_FILE = "/var/task/handler.py"

RAISES_EXCEPTION = """\
def handler(event, context):
    raise Exception("Some exception was raised.")
"""

RAISES_CUSTOM_EXCEPTION = """\
class CustomException(Exception):
    \"\"\"The function's own exception: Lambda reports its class name as errorType.\"\"\"


def handler(event, context):
    # Raised without arguments: errorMessage is the empty string, as recorded.
    del event, context
    # The raise is on line 9, the line Lambda's stackTrace names.
    raise CustomException()
"""


@dataclass(frozen=True)
class LambdaSource:
    """A function's code, as Lambda would run it from /var/task/handler.py."""

    text: str
    handler: Handler = field(init=False, repr=False)

    def __post_init__(self) -> None:
        namespace: dict[str, Any] = {"__name__": "handler"}
        exec(compile(self.text, HANDLER_FILE, "exec"), namespace)
        object.__setattr__(self, "handler", namespace["handler"])


RAISE_EXCEPTION = LambdaSource(RAISES_EXCEPTION)
RAISE_CUSTOM_EXCEPTION = LambdaSource(RAISES_CUSTOM_EXCEPTION)


def show_sources(sources: list[LambdaSource]) -> None:
    """Make ``sources`` the text of /var/task/handler.py for tracebacks (a case deploys at most one)."""
    assert len({s.text for s in sources}) <= 1, "two functions of one case would share /var/task/handler.py"
    linecache.cache.pop(HANDLER_FILE, None)
    for source in sources:
        # An mtime of None tells linecache the text has no file to check against.
        linecache.cache[HANDLER_FILE] = (len(source.text), None, source.text.splitlines(True), HANDLER_FILE)


def echo(event: Any, context: TaskContext) -> Any:
    """Returns its event: what most recorded functions did (input and output are the same)."""
    return event


def hello_world(event: Any, context: TaskContext) -> Any:
    """Returns the string "HelloWorld!" whatever it is given (test_invoke_bytes_payload)."""
    return "HelloWorld!"


def return_hello_world_object(event: Any, context: TaskContext) -> Any:
    """Returns {"Return": "HelloWorld"} whatever it is given (the first function of test_invoke_pipe)."""
    return {"Return": "HelloWorld"}


# More than 256 KiB once encoded as UTF-8, yet fewer characters than that: Step Functions' limit is
# on bytes (the recorded function answered with such a "large UTF-8 response").
LARGE_UTF8_RESPONSE = "\u00e9" * 140_000


def large_utf8_response(event: Any, context: TaskContext) -> Any:
    """Returns a string of 140,000 two-byte characters: 280,000 bytes of UTF-8."""
    return LARGE_UTF8_RESPONSE


def slow(clock: VirtualClock, seconds: float) -> Handler:
    """A function that takes ``seconds`` of the execution's (virtual) time, then returns its event."""

    def run(event: Any, context: TaskContext) -> Any:
        clock.sleep_until(clock.now() + dt.timedelta(seconds=seconds))
        return event

    return run


# The recorded Task of test_fixed_timeout_* gives the function 5 seconds; the recording shows it timed out.
SLOW_SECONDS = 20.0

Behaviour = Callable[[VirtualClock], Handler | LambdaSource]


def _always(function: Handler | LambdaSource) -> Behaviour:
    return lambda clock: function


ECHO = _always(echo)
RAISES = _always(RAISE_EXCEPTION)


def SLOW(clock: VirtualClock) -> Handler:
    """Runs longer than the 5-second TimeoutSeconds its recorded Task allowed."""
    return slow(clock, SLOW_SECONDS)


# The functions each LocalStack test deployed, by the name the case's definition or input calls.
# Keyed by the test (the case's `source` without its parameters); a function left out of a test's
# entry does not exist there (test_no_such_function calls `no_such_lambda_func_00000001`).
FUNCTIONS: Mapping[str, Mapping[str, Behaviour]] = {
    "v2/arguments/test_arguments.py::TestArgumentsBase::test_base_cases": {"lambda_func_00000001": ECHO},
    "v2/assign/test_assign_reference_variables.py::TestAssignReferenceVariables::test_undefined_reference": {},
    "v2/callback/test_callback.py::TestCallback::test_start_execution_sync_delegate_timeout": {
        "lambda_1_func_00000001": SLOW
    },
    "v2/context_object/test_context_object.py::TestSnfBase::test_result_selector": {"lambda_func_00000001": ECHO},
    **{
        f"v2/error_handling/test_states_errors.py::TestStatesErrors::{test}": {
            "lambda_func_00000001": _always(large_utf8_response)
        }
        for test in (
            "test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response",
            "test_service_task_lambada_data_limit_exceeded_on_large_utf8_response",
            "test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response",
        )
    },
    "v2/error_handling/test_task_lambda.py::TestTaskLambda::test_no_such_function": {"lambda_func_00000001": RAISES},
    "v2/error_handling/test_task_lambda.py::TestTaskLambda::test_raise_custom_exception": {
        "lambda_func_00000001": _always(RAISE_CUSTOM_EXCEPTION)
    },
    "v2/error_handling/test_task_lambda.py::TestTaskLambda::test_raise_exception_catch": {
        "lambda_func_00000001": RAISES
    },
    "v2/error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_no_such_function": {},
    "v2/error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_no_such_function_catch": {},
    "v2/error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_raise_exception": {
        "lambda_func_00000001": RAISES
    },
    "v2/error_handling/test_task_service_lambda.py::TestTaskServiceLambda::test_raise_exception_catch_output_path": {
        "function_name_00000001": RAISES
    },
    "v2/evaluate_jsonata/test_base_evaluate_expressions.py::TestBaseEvaluateJsonata::test_base_task_from_input": {
        "fn-eval-00000001": ECHO
    },
    "v2/express/test_express_async.py::TestExpressAsync::test_catch": {"lambda_func_00000001": RAISES},
    "v2/express/test_express_async.py::TestExpressAsync::test_retry": {"lambda_func_00000001": RAISES},
    "v2/express/test_express_sync.py::TestExpressSync::test_retry": {"lambda_func_00000001": RAISES},
    "v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_lambda_service_invoke": {"lambda_00000001": ECHO},
    "v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_lambda_service_invoke_sync_execution": {
        "lambda_00000001": ECHO
    },
    "v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_map_state_lambda": {"sfn_lambda_00000001": ECHO},
    "v2/local_mocking/test_base_scenarios.py::TestBaseScenarios::test_numbered_mock_responses_multiple_success_"
    "invocations": {"lambda_00000001": ECHO},
    "v2/outputdecl/test_output.py::TestArgumentsBase::test_base_lambda": {"lambda_func_00000001": ECHO},
    "v2/query_language/test_mixed_query_language.py::TestMixedQueryLanguageFlow::test_lambda_task_resource_data_flow": {
        "fn-data-flow-00000001": ECHO
    },
    "v2/query_language/test_mixed_query_language.py::TestMixedQueryLanguageFlow::test_task_dataflow_to_state": {
        "fn-data-flow-00000001": ECHO
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_catch_empty": {"lambda_func_00000001": ECHO},
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_catch_states_runtime": {"lambda_func_00000001": ECHO},
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_lambda_invoke_with_retry_base": {
        "lambda_1_func_00000001": RAISES
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_lambda_service_invoke_with_retry_extended_input": {
        "lambda_1_func_00000001": RAISES
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_config_distributed_reentrant_lambda": {
        "sfn_lambda_00000001": ECHO
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_map_state_nested_config_distributed_no_max_max_"
    "concurrency": {"lambda_func_00000001": ECHO},
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_retry_interval_features": {
        "lambda_func_00000001": RAISES
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_retry_interval_features_jitter_none": {
        "lambda_func_00000001": RAISES
    },
    "v2/scenarios/test_base_scenarios.py::TestBaseScenarios::test_retry_interval_features_max_attempts_zero": {
        "lambda_func_00000001": RAISES
    },
    "v2/services/test_lambda_task.py::TestTaskLambda::test_invoke_bytes_payload": {
        "lambda_1_func_00000001": _always(hello_world)
    },
    "v2/services/test_lambda_task.py::TestTaskLambda::test_invoke_json_values": {"lambda_1_func_00000001": ECHO},
    "v2/services/test_lambda_task.py::TestTaskLambda::test_invoke_pipe": {
        "lambda_1_func_00000001": _always(return_hello_world_object),
        "lambda_2_func_00000002": ECHO,
    },
    "v2/services/test_lambda_task.py::TestTaskLambda::test_invoke_string_payload": {"lambda_1_func_00000001": ECHO},
    "v2/services/test_lambda_task.py::TestTaskLambda::test_lambda_task_filter_parameters_input": {
        "lambda_func_00000001": ECHO
    },
    "v2/services/test_lambda_task_service.py::TestTaskServiceLambda::test_invoke_bytes_payload": {
        "lambda_func_00000001": _always(hello_world)
    },
    "v2/services/test_lambda_task_service.py::TestTaskServiceLambda::test_invoke_json_values": {
        "lambda_func_00000001": ECHO
    },
    "v2/services/test_lambda_task_service.py::TestTaskServiceLambda::test_invoke_unsupported_param": {
        "lambda_func_00000001": ECHO
    },
    **{
        f"v2/states_variables/test_error_output.py::TestStateVariablesTemplate::{test}": {
            "fn-exception-00000001": RAISES
        }
        for test in (
            "test_catch_error_variable_sampling",
            "test_map_catch_error",
            "test_parallel_catch_error",
            "test_task_catch_error_output",
            "test_task_catch_error_with_retry",
        )
    },
    "v2/timeouts/test_timeouts.py::TestTimeouts::test_fixed_timeout_lambda": {"lambda_1_func_00000001": SLOW},
    "v2/timeouts/test_timeouts.py::TestTimeouts::test_fixed_timeout_service_lambda_with_path": {
        "lambda_1_func_00000001": SLOW
    },
}


def test_of(case: dict[str, Any]) -> str:
    """The LocalStack test a case comes from, without its parameters: the key of FUNCTIONS."""
    return case["source"].removeprefix("tests/aws/services/stepfunctions/").split("[", 1)[0]


# -- the task-token callback over SNS ------------------------------------------------------------------

PUBLISH = "arn:aws:states:::sns:publish"
PUBLISH_AND_WAIT = "arn:aws:states:::sns:publish.waitForTaskToken"

# What the Python subscriber of a case's topic received (the test subscribes it, `remember`).
INBOX: list[dict[str, Any]] = []


def remember(notification: dict[str, Any]) -> None:
    """A Python subscriber of the local topic: keeps each notification, as the recorded test's queue did."""
    INBOX.append(notification)


def publish_and_answer(payload: Any, context: TaskContext) -> Any:
    """``sns:publish.waitForTaskToken`` under run_local, where the handler answers for the token's holder.

    The message is published to the local topic by the SNS integration itself; then, as the recorded
    test did, the token is read from the message its subscriber received and answered with
    SendTaskSuccess's output ``{}``. A message without the task's token fails the task.
    """
    sns = integrations.find(parse_resource(PUBLISH))
    assert sns is not None
    request = TaskRequest(context.state_name, PUBLISH, "service", "request-response", payload)
    sns.call(request, context)
    tokens = [_token_in(n.get("Message")) for n in INBOX]
    if context.token is None or context.token not in tokens:
        raise RuntimeError(f"no message on the topic carried the task token (received {len(INBOX)})")
    return {}


def _token_in(message: Any) -> Any:
    try:
        return json.loads(message).get("TaskToken")
    except (TypeError, ValueError, AttributeError):
        return None


# -- the task-token callback over SQS ------------------------------------------------------------------

SEND_AND_WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


class TaskFailure(Exception):
    """SendTaskFailure as a recorded test sent it: ``error`` is the name Catch sees, the message the cause."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error = error


def _answer_with_message(body: dict[str, Any]) -> Any:
    return body["Message"]  # SendTaskSuccess(output=json.dumps(message)), as the recorded test sent it


def _answer_with_body(body: dict[str, Any]) -> Any:
    return body  # SendTaskHeartbeat, then SendTaskSuccess with the message it received


def _fail(body: dict[str, Any]) -> Any:
    raise TaskFailure("Failure error", "Failure cause")


def _fail_without_error(body: dict[str, Any]) -> Any:
    # The recorded test sent SendTaskFailure with neither error nor cause; a stand-in handler's
    # exception always has a name (known_service_failures.json).
    raise TaskFailure("", "")


# How each recorded test answered the message its queue received (by `test_of`); a test not listed
# never answered, and its task runs out of time.
SQS_ANSWERS: Mapping[str, Callable[[dict[str, Any]], Any]] = {
    "v2/local_mocking/test_base_callbacks.py::TestBaseScenarios::test_sqs_wait_for_task_token": _answer_with_message,
    "v2/callback/test_callback.py::TestCallback::test_sqs_wait_for_task_token_call_chain": _answer_with_message,
    "v2/callback/test_callback.py::TestCallback::test_multiple_heartbeat_notifications": _answer_with_body,
    "v2/callback/test_callback.py::TestCallback::test_multiple_executions_and_heartbeat_notifications": (
        _answer_with_body
    ),
    "v2/error_handling/test_task_service_sqs.py::TestTaskServiceSqs::test_sqs_failure_in_wait_for_task_tok": _fail,
    "v2/callback/test_callback.py::TestCallback::test_sqs_failure_in_wait_for_task_tok_no_error_field": (
        _fail_without_error
    ),
}
# Past every TimeoutSeconds and HeartbeatSeconds of the recorded Tasks that nobody answered.
UNANSWERED_SECONDS = 3600.0


def send_and_answer(answer: Callable[[dict[str, Any]], Any] | None, clock: VirtualClock) -> Handler:
    """``sqs:sendMessage.waitForTaskToken`` under run_local: the SQS integration sends the message to the
    local queue; then, as the recorded test did, the message is received from the queue and its token
    answered (``answer``), or, for a test that never answered, the task's time runs out."""

    def run(payload: Any, context: TaskContext) -> Any:
        from orchestrator import config
        from orchestrator.service import Service

        sqs = integrations.find(parse_resource(SEND))
        assert sqs is not None
        sqs.call(TaskRequest(context.state_name, SEND, "service", "request-response", payload), context)
        messages = Service(config.load()).receive_messages(QUEUE, max_messages=10)["Messages"]
        bodies = [json.loads(m["Body"]) for m in messages]
        mine = [b for b in bodies if isinstance(b, dict) and b.get("TaskToken") == context.token]
        if answer is None or not mine:
            clock.sleep_until(clock.now() + dt.timedelta(seconds=UNANSWERED_SECONDS))
            return {}
        return answer(mine[0])

    return run


SEND = "arn:aws:states:::sqs:sendMessage"


# -- one case's setup -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseSetup:
    """What run_local needs for one case, and what must exist before it runs."""

    handlers: dict[str, Handler]
    sources: list[LambdaSource]
    state_machines: dict[str, Any]
    topics: tuple[str, ...]
    tables: tuple[str, ...]
    subscribe_inbox: bool
    queues: tuple[str, ...] = ()


def setup_for(case: dict[str, Any], clock: VirtualClock) -> CaseSetup:
    """The handlers, state machines, topics and tables of ``case``; its functions run on ``clock``.

    Raises KeyError for a Lambda case whose functions FUNCTIONS does not describe.
    """
    needs = set(case["needs"])
    behaviours = FUNCTIONS[test_of(case)] if "lambda" in needs or _calls_lambda(case) else {}
    handlers: dict[str, Handler] = {}
    sources: list[LambdaSource] = []
    for name, behaviour in behaviours.items():
        function = behaviour(clock)
        if isinstance(function, LambdaSource):
            sources.append(function)
            handlers[name] = function.handler
        else:
            handlers[name] = function
    callback = "test-driver:task-token-callback" in needs
    by_sqs = callback and "sqs" in needs  # the recorded test answered the token it read from its queue
    if callback and not by_sqs:
        handlers[PUBLISH_AND_WAIT] = publish_and_answer
    if by_sqs:
        # A test that ran several executions names each (``#execution-3``): they all answered alike.
        handlers[SEND_AND_WAIT] = send_and_answer(SQS_ANSWERS.get(test_of(case).split("#", 1)[0]), clock)
    machines = {m["arn_in_case"]: m["definition"] for m in case.get("related_state_machines") or ()}
    return CaseSetup(
        handlers=handlers,
        sources=sources,
        state_machines=machines,
        topics=TOPICS if "sns" in needs or (callback and not by_sqs) else (),  # else the token travels by SNS
        tables=(TABLE,) if "dynamodb" in needs else (),
        subscribe_inbox=callback and not by_sqs,
        queues=(QUEUE,) if "sqs" in needs else (),
    )


def _calls_lambda(case: dict[str, Any]) -> bool:
    """A nested execution's state machine may call a function although the case needs only ``states``."""
    return "arn:aws:lambda:" in json.dumps(case.get("related_state_machines") or [])
