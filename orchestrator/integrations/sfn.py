"""``arn:aws:states:::aws-sdk:sfn:<action>``: Step Functions' own API from a Task, served by this engine.

A workflow that calls ``aws-sdk:sfn`` means the Step Functions it runs on, which here is this engine:
the call goes to our own actions (`orchestrator.service.Service`), as AWS's SDK integration calls AWS.
Only ``ORCHESTRATOR_AWS_SDK_SFN=boto3`` sends it to AWS Step Functions instead, through the generic
aws-sdk integration (configured as usual: ``ORCHESTRATOR_AWS_SDK=boto3`` or
``ORCHESTRATOR_AWS_ENDPOINT_URL``). ``ORCHESTRATOR_AWS_SDK`` alone does not: it is for the services this
engine does not provide, and calling S3 on AWS should not move a workflow's children there.

The actions are those of `ACTIONS`: startExecution, startSyncExecution, describeExecution,
stopExecution, listExecutions, getExecutionHistory, describeStateMachine, listStateMachines,
sendTaskSuccess, sendTaskFailure and sendTaskHeartbeat. Another action fails the task with ``States.Runtime``, naming
it. As AWS's integration does, it takes the API's parameters in PascalCase (``StateMachineArn``,
``Input``, ``TaskToken``, ...) and gives back the API's response in PascalCase (``ExecutionArn``,
``StartDate``), with timestamps as ISO-8601 text the way the SDK integration writes them
(``2025-11-06T12:20:37.123Z``). ``Input`` and ``Output`` are JSON text; a JSON value given instead is
serialised, as AWS does implicitly. A refusal is ``Sfn.<Code>Exception`` (``Sfn.InvalidTokenException``,
``Sfn.ExecutionDoesNotExistException``) with the SDK's cause: ``<message> (Service: Sfn, Status Code:
400, Request ID: <uuid>) (SDK Attempt Count: 1)``.

The durable runtime calls the Service: startExecution starts a real execution, which workers run
(the Task does not wait for it), and sendTaskSuccess resumes whichever execution waits on the token.
The Service sits above this layer, so it reaches it as a `StepFunctions`, which the service layer
lends `INTEGRATION` when it is imported (`orchestrator.service`; every process that runs the durable
runtime imports it).
``.waitForTaskToken`` works as for any service: the response is recorded and the task waits.

`run_local` has no database: `LocalStepFunctions` is Step Functions as one run_local call sees it.

- startExecution (and startSyncExecution) run the child in memory, to its end, before the Task goes
  on (as ``states:startExecution`` does there); its definition comes from run_local's
  ``state_machines=``, and an unknown one fails with ``Sfn.StateMachineDoesNotExistException``.
- describeExecution, stopExecution, listExecutions and getExecutionHistory see the executions this
  run_local started (all ended by then: stopExecution changes nothing); describeStateMachine and listStateMachines see
  the ``state_machines`` given.
- The task tokens that can be answered are those of the tasks waiting while a child runs: a parent's
  ``aws-sdk:sfn:startExecution.waitForTaskToken`` (or ``states:startExecution.waitForTaskToken``)
  whose child sends SendTaskSuccess or SendTaskFailure with ``$$.Task.Token`` gets that answer when
  the child ends. Any other token is one AWS never issued: ``Sfn.InvalidTokenException``, "Invalid
  Token: 'Invalid token'", as AWS answers; a token already answered or no longer waiting is
  ``Sfn.TaskDoesNotExistException``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestrator.engine.history import to_text
from orchestrator.engine.local import ROLE_ARN, ExecutionResult
from orchestrator.engine.outcomes import Delivery, TaskContext, TaskFailed, TaskRequest, TaskSubmitted, TaskSucceeded
from orchestrator.engine.resources import DEFAULT_ACCOUNT, DEFAULT_REGION, Resource, parse_resource
from orchestrator.integrations import services

SERVICE = "aws-sdk:sfn"
TO_AWS = "ORCHESTRATOR_AWS_SDK_SFN"
# AWS's answer to a token it did not issue, word for word (the recorded SendTaskSuccess/Failure cases).
INVALID_TOKEN = "Invalid Token: 'Invalid token'"
TASK_DOES_NOT_EXIST = "Task Token does not exist"
INVALID_PAGE_TOKEN = "Invalid Token: 'The nextToken is not one this service issued'"  # as the API's


@dataclass(frozen=True)
class Action:
    """One API action: the Service method doing it, its parameters and their keyword arguments.

    ``required``: groups of parameters of which at least one must be given. ``serialised``: string
    parameters that may be given as a JSON value instead (AWS serialises it). ``integers`` and
    ``booleans``: the parameters of those types (the others are strings). ``defaults``: keyword
    arguments always passed.
    """

    method: str
    parameters: Mapping[str, str]
    required: tuple[tuple[str, ...], ...] = ()
    serialised: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    booleans: frozenset[str] = frozenset()


_START = {"StateMachineArn": "state_machine_arn", "Name": "name", "Input": "input", "TraceHeader": "trace_header"}
_PAGE = {"MaxResults": "max_results", "NextToken": "next_token"}

ACTIONS: Mapping[str, Action] = {
    "startExecution": Action("start_execution", _START, (("StateMachineArn",),), frozenset({"Input"})),
    "startSyncExecution": Action("start_sync_execution", _START, (("StateMachineArn",),), frozenset({"Input"})),
    "describeExecution": Action("describe_execution", {"ExecutionArn": "arn"}, (("ExecutionArn",),)),
    "stopExecution": Action(
        "stop_execution", {"ExecutionArn": "arn", "Error": "error", "Cause": "cause"}, (("ExecutionArn",),)
    ),
    "listExecutions": Action(
        "list_executions",
        {"StateMachineArn": "state_machine_arn", "StatusFilter": "status_filter", "MapRunArn": "map_run_arn", **_PAGE},
        (("StateMachineArn", "MapRunArn"),),
        integers=frozenset({"MaxResults"}),
        defaults={"state_machine_arn": None},
    ),
    "getExecutionHistory": Action(
        "get_execution_history",
        {
            "ExecutionArn": "arn",
            "ReverseOrder": "reverse_order",
            "IncludeExecutionData": "include_execution_data",
            **_PAGE,
        },
        (("ExecutionArn",),),
        integers=frozenset({"MaxResults"}),
        booleans=frozenset({"ReverseOrder", "IncludeExecutionData"}),
    ),
    "describeStateMachine": Action("describe_state_machine", {"StateMachineArn": "arn"}, (("StateMachineArn",),)),
    "listStateMachines": Action("list_state_machines", _PAGE, integers=frozenset({"MaxResults"})),
    "sendTaskSuccess": Action(
        "send_task_success",
        {"TaskToken": "token", "Output": "output"},
        (("TaskToken",), ("Output",)),
        frozenset({"Output"}),
    ),
    "sendTaskFailure": Action(
        "send_task_failure", {"TaskToken": "token", "Error": "error", "Cause": "cause"}, (("TaskToken",),)
    ),
    "sendTaskHeartbeat": Action("send_task_heartbeat", {"TaskToken": "token"}, (("TaskToken",),)),
}


# -- requests and responses ------------------------------------------------------------------------------------


def action_of(resource: Resource) -> str:
    """The action a resource calls; States.Runtime for one this integration does not serve."""
    if resource.action not in ACTIONS:
        raise services.IntegrationError(
            "States.Runtime",
            f"The resource {resource.arn} is not served: aws-sdk:sfn supports {', '.join(ACTIONS)}",
        )
    if resource.pattern not in ("request-response", "callback"):
        raise services.IntegrationError(
            "States.Runtime", f"The resource {resource.arn} is not recognized: aws-sdk integrations have no .sync"
        )
    return resource.action


def perform(api: Any, action: str, parameters: Any) -> dict[str, Any]:
    """Call ``action`` on ``api`` (a Service, or a `LocalStepFunctions`) with the Task's parameters.

    Returns the response in the SDK integration's shape. Raises IntegrationError for parameters the
    action does not take or that lack a required one; ``api``'s own refusals propagate.
    """
    spec = ACTIONS[action]
    given = parameters if isinstance(parameters, dict) else {}
    unknown = sorted(set(given) - set(spec.parameters))
    if unknown:
        raise services.IntegrationError(
            "States.Runtime",
            f"The field '{unknown[0]}' is not supported by Step Functions for aws-sdk:sfn:{action} "
            f"(it takes {', '.join(spec.parameters)})",
        )
    for group in spec.required:
        if all(given.get(name) is None for name in group):
            raise refused(
                "ValidationException",
                f"1 validation error detected: Value null at '{_camel(group[0])}' failed to satisfy constraint: "
                "Member must not be null",
            )
    arguments = dict(spec.defaults)
    for name, value in given.items():
        if value is not None:
            arguments[spec.parameters[name]] = _argument(action, spec, name, value)
    return sdk_shape(getattr(api, spec.method)(**arguments))


def _argument(action: str, spec: Action, name: str, value: Any) -> Any:
    if name in spec.serialised and not isinstance(value, str):
        return to_text(value)  # AWS serialises a JSON value given for a string parameter
    if name in spec.booleans:
        wanted, described = bool, "a boolean"
    else:
        wanted, described = (int, "an integer") if name in spec.integers else (str, "a string")
    if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
        raise services.IntegrationError(
            "States.Runtime", f"aws-sdk:sfn:{action}: {name} must be {described}, not {json.dumps(value)}"
        )
    return value


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def sdk_shape(value: Any) -> Any:
    """An API response as the SDK integration gives it: keys in PascalCase, timestamps as ISO-8601 text.

    (The responses of these actions have no maps keyed by user data, so every key is converted.)
    """
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: sdk_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [sdk_shape(item) for item in value]
    if isinstance(value, dt.datetime):
        return instant_text(value)
    return value


def instant_text(moment: dt.datetime) -> str:
    """A timestamp as the SDK integration writes it (Java's Instant): UTC, milliseconds unless 0, ``Z``."""
    utc = (moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment).astimezone(dt.UTC)
    millis = utc.microsecond // 1000
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{millis:03d}Z" if millis else "Z")


def refused(code: str, message: str) -> services.IntegrationError:
    """A refusal of Step Functions' API as the SDK integration reports it (code as the Service names it)."""
    return services.IntegrationError(
        services.sdk_error_name("Sfn", code),
        f"{message} (Service: Sfn, Status Code: 400, Request ID: {uuid.uuid4()}) (SDK Attempt Count: 1)",
    )


# -- the durable runtime: our own Service ------------------------------------------------------------------------


class StepFunctions(Protocol):
    """Step Functions' API as the service layer serves it to ``aws-sdk:sfn`` Tasks."""

    def perform(self, action: str, parameters: Any) -> dict[str, Any]:
        """`perform` ``action`` on the Service; a refusal is raised as `refused` makes it."""
        ...


class SfnIntegration:
    """``aws-sdk:sfn:<action>`` on this engine's Service (unless ORCHESTRATOR_AWS_SDK_SFN=boto3)."""

    name = "sfn"

    def __init__(self) -> None:
        self.api: Callable[[], StepFunctions] | None = None

    def serve_with(self, api: Callable[[], StepFunctions]) -> None:
        """Lend the integration the Service (called by the service layer: it sits above this one)."""
        self.api = api

    def handles(self, resource: Resource) -> bool:
        return resource.service == SERVICE and os.environ.get(TO_AWS) != "boto3"

    def call(self, request: TaskRequest, context: TaskContext) -> Any:
        action = action_of(parse_resource(request.resource))
        if self.api is None:
            raise services.IntegrationError(
                "States.Runtime",
                "aws-sdk:sfn is served by the engine's service layer, which this process has not loaded "
                "(import orchestrator.service)",
            )
        return self.api().perform(action, request.payload)


INTEGRATION = SfnIntegration()
services.register(INTEGRATION)


# -- run_local: Step Functions in memory ---------------------------------------------------------------------------

# Runs a child to its end: (definition, input, execution name, state machine name, type) -> how it ended.
Runner = Callable[[str | dict[str, Any], Any, str, str, str], ExecutionResult]


@dataclass(frozen=True)
class Started:
    """An execution a run_local started, and how it ended."""

    machine_arn: str
    name: str
    input: Any
    trace_header: str | None
    result: ExecutionResult


class LocalStepFunctions:
    """Step Functions as one `run_local` call sees it: the state machines it was given, the executions
    it started (in memory, each to its end), and the task tokens waiting while a child runs.

    Its methods are the Service's (same names, arguments and camelCase results), so that `perform`
    calls either; refusals are raised as the SDK integration reports them.
    """

    def __init__(self, machines: Mapping[str, str | dict[str, Any]], run: Runner, now: Callable[[], dt.datetime]):
        self.machines = dict(machines)
        self._run = run
        self._now = now
        self._created = now()
        self.executions: dict[str, Started] = {}
        self._waiting: dict[str, list[Delivery]] = {}
        self._closed: set[str] = set()
        # Signs this run's page tokens: a token no page of this run issued is InvalidToken, as the
        # durable API's are (orchestrator.service.pages; this layer cannot import it).
        self._page_key = secrets.token_bytes(32)

    # -- what run_local asks -----------------------------------------------------------------------------

    def task(self, request: TaskRequest, context: TaskContext) -> Delivery | tuple[Delivery, ...]:
        """An ``aws-sdk:sfn`` Task of run_local: its answer, or TaskSubmitted and then the token's answer."""
        resource = parse_resource(request.resource)
        token = context.token if resource.pattern == "callback" else None
        try:
            action = action_of(resource)
            with self.waiting(token) as answers:
                response = perform(self, action, request.payload)
        except services.IntegrationError as exc:
            return TaskFailed(exc.error, exc.cause)
        if resource.pattern != "callback":
            return TaskSucceeded(response)
        return (TaskSubmitted(response), answers[0]) if answers else TaskSubmitted(response)

    def definition(self, machine_arn: str) -> str | dict[str, Any] | None:
        """The definition run_local was given for a state machine, by its ARN or its name."""
        return self.machines.get(machine_arn, self.machines.get(machine_arn.rsplit(":", 1)[-1]))

    def run_child(
        self, machine_arn: str, name: str, child_input: Any, *, trace_header: str | None = None, kind: str = "STANDARD"
    ) -> Started | None:
        """Run an execution of a known state machine to its end and remember it; None if it is unknown."""
        definition = self.definition(machine_arn)
        if definition is None:
            return None
        result = self._run(definition, child_input, name, machine_arn.rsplit(":", 1)[-1], kind)
        started = Started(machine_arn, name, child_input, trace_header, result)
        self.executions[result.execution_arn] = started
        return started

    @contextmanager
    def waiting(self, token: str | None) -> Iterator[list[Delivery]]:
        """While the block runs, ``token`` can be answered; the answer (if any) lands in the list."""
        answers: list[Delivery] = []
        if token is None:
            yield answers
            return
        self._waiting[token] = answers
        try:
            yield answers
        finally:
            del self._waiting[token]
            self._closed.add(token)

    # -- executions ------------------------------------------------------------------------------------------

    def start_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str | None = None,
        trace_header: str | None = None,
    ) -> dict[str, Any]:
        started = self._start(state_machine_arn, name, input, trace_header, "STANDARD")
        return {"executionArn": started.result.execution_arn, "startDate": started.result.start_date}

    def start_sync_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str | None = None,
        trace_header: str | None = None,
    ) -> dict[str, Any]:
        started = self._start(state_machine_arn, name, input, trace_header, "EXPRESS")
        described = self._described(started)
        for key in ("redriveCount", "redriveStatus"):
            del described[key]
        elapsed = (started.result.stop_date - started.result.start_date).total_seconds() * 1000
        billed = max(100, int(-(-elapsed // 100) * 100))
        described["billingDetails"] = {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": billed}
        return described

    def _start(
        self, machine_arn: str, name: str | None, text: str | None, trace_header: str | None, kind: str
    ) -> Started:
        name = name if name is not None else str(uuid.uuid4())
        if self.definition(machine_arn) is None:
            raise refused("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{machine_arn}'")
        try:
            child_input = json.loads("{}" if text is None else text)
        except json.JSONDecodeError as exc:
            raise refused(
                "InvalidExecutionInput",
                f"Invalid State Machine Execution Input: '{exc.msg} at line {exc.lineno} column {exc.colno}'",
            ) from None
        machine_name = machine_arn.rsplit(":", 1)[-1]
        if kind == "STANDARD":
            for arn, other in self.executions.items():
                if other.name == name and other.machine_arn.rsplit(":", 1)[-1] == machine_name:
                    # Every execution here has ended: a name cannot be used again.
                    raise refused("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        started = self.run_child(machine_arn, name, child_input, trace_header=trace_header, kind=kind)
        assert started is not None
        return started

    def describe_execution(self, arn: str) -> dict[str, Any]:
        return self._described(self._execution(arn))

    def _described(self, started: Started) -> dict[str, Any]:
        result = started.result
        out: dict[str, Any] = {
            "executionArn": result.execution_arn,
            "stateMachineArn": started.machine_arn,
            "name": started.name,
            "status": result.status,
            "startDate": result.start_date,
            "stopDate": result.stop_date,
            "input": to_text(started.input),
            "inputDetails": {"included": True},
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE" if result.status == "SUCCEEDED" else "REDRIVABLE",
        }
        if result.status == "SUCCEEDED":
            out["output"] = to_text(result.output)
            out["outputDetails"] = {"included": True}
        if result.error is not None:
            out["error"] = result.error
        if result.cause is not None:
            out["cause"] = result.cause
        if started.trace_header:
            out["traceHeader"] = started.trace_header
        return out

    def stop_execution(self, arn: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        self._execution(arn)  # it has ended: stopping it changes nothing, as on the runtime
        return {"stopDate": self._now()}

    def list_executions(
        self,
        state_machine_arn: str | None,
        *,
        status_filter: str | None = None,
        max_results: int = 0,
        next_token: str | None = None,
        map_run_arn: str | None = None,
    ) -> dict[str, Any]:
        if map_run_arn is not None:
            raise refused("ResourceNotFound", f"Resource not found: '{map_run_arn}'")
        assert state_machine_arn is not None
        self._machine(state_machine_arn)
        name = state_machine_arn.rsplit(":", 1)[-1]
        found = [
            {
                "executionArn": arn,
                "stateMachineArn": started.machine_arn,
                "name": started.name,
                "status": started.result.status,
                "startDate": started.result.start_date,
                "stopDate": started.result.stop_date,
            }
            for arn, started in reversed(self.executions.items())  # newest first
            if started.machine_arn.rsplit(":", 1)[-1] == name and status_filter in (None, started.result.status)
        ]
        scope = f"listExecutions\n{state_machine_arn}\n{status_filter}"
        return self._page("executions", found, max_results, next_token, scope)

    def get_execution_history(
        self,
        arn: str,
        *,
        max_results: int = 0,
        reverse_order: bool = False,
        next_token: str | None = None,
        include_execution_data: bool = True,
    ) -> dict[str, Any]:
        events = [event.to_api(include_execution_data) for event in self._execution(arn).result.events]
        scope = f"getExecutionHistory\n{arn}\n{reverse_order}"
        return self._page("events", events[::-1] if reverse_order else events, max_results, next_token, scope)

    def _page(
        self, key: str, items: list[dict[str, Any]], max_results: int, next_token: str | None, scope: str
    ) -> dict[str, Any]:
        """One page of ``items``, with a nextToken when more follow: the next offset and an HMAC over it
        and ``scope`` (the action and the arguments choosing the items), so a token this run did not
        issue for this very list is InvalidToken, never an offset nobody checked."""
        if not 0 <= max_results <= 1000:
            raise refused("ValidationException", "maxResults must be between 0 and 1000")
        limit = max_results or 100
        start = self._offset(next_token, scope) if next_token else 0
        out: dict[str, Any] = {key: items[start : start + limit]}
        if start + limit < len(items):
            offset = str(start + limit)
            out["nextToken"] = f"{offset}.{self._page_mac(scope, offset)}"
        return out

    def _offset(self, token: str, scope: str) -> int:
        offset, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode("utf-8", "surrogatepass"), self._page_mac(scope, offset).encode()):
            raise refused("InvalidToken", INVALID_PAGE_TOKEN)
        return int(offset)  # signed by this run: the decimal digits it wrote

    def _page_mac(self, scope: str, offset: str) -> str:
        message = f"{scope}\n{offset}".encode("utf-8", "surrogatepass")
        return hmac.new(self._page_key, message, hashlib.sha256).hexdigest()[:32]

    def _execution(self, arn: str) -> Started:
        started = self.executions.get(arn)
        if started is None:
            raise refused("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return started

    # -- state machines ------------------------------------------------------------------------------------

    def describe_state_machine(self, arn: str) -> dict[str, Any]:
        definition = self._machine(arn)
        return {
            "stateMachineArn": arn,
            "name": arn.rsplit(":", 1)[-1],
            "status": "ACTIVE",
            "definition": definition if isinstance(definition, str) else json.dumps(definition),
            "roleArn": ROLE_ARN,
            "type": "STANDARD",
            "creationDate": self._created,
            "loggingConfiguration": {"level": "OFF", "includeExecutionData": False},
            "tracingConfiguration": {"enabled": False},
        }

    def list_state_machines(self, *, max_results: int = 0, next_token: str | None = None) -> dict[str, Any]:
        machines = [
            {"stateMachineArn": arn, "name": arn.rsplit(":", 1)[-1], "type": "STANDARD", "creationDate": self._created}
            for arn in map(_machine_arn, self.machines)
        ]
        return self._page("stateMachines", machines, max_results, next_token, "listStateMachines")

    def _machine(self, arn: str) -> str | dict[str, Any]:
        definition = self.definition(arn)
        if definition is None:
            raise refused("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return definition

    # -- task tokens ----------------------------------------------------------------------------------------

    def send_task_success(self, token: str, output: str) -> dict[str, Any]:
        answers = self._answerable(token)
        try:
            value = json.loads(output)
        except json.JSONDecodeError as exc:
            raise refused("InvalidOutput", f"Invalid Output: '{exc}'") from None
        answers.append(TaskSucceeded(value))
        return {}

    def send_task_failure(self, token: str, *, error: str | None = None, cause: str | None = None) -> dict[str, Any]:
        self._answerable(token).append(TaskFailed(error, cause))
        return {}

    def send_task_heartbeat(self, token: str) -> dict[str, Any]:
        self._answerable(token)  # no heartbeat clock runs here (HeartbeatSeconds is a deadline)
        return {}

    def _answerable(self, token: str) -> list[Delivery]:
        answers = self._waiting.get(token)
        if answers is not None and not answers:
            return answers
        if answers is not None or token in self._closed:
            raise refused("TaskDoesNotExist", TASK_DOES_NOT_EXIST)
        raise refused("InvalidToken", INVALID_TOKEN)


def _machine_arn(key: str) -> str:
    """A state machine given to run_local by ARN or by name, as an ARN (run_local's region and account)."""
    return key if key.startswith("arn:") else f"arn:aws:states:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:stateMachine:{key}"
