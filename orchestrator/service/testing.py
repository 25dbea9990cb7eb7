"""TestState: run one state, in memory, and answer with its output and ``inspectionData``.

The request is checked here (its JSON fields, the mock, the state configuration), the state runs in
`engine.testing`, and an unmocked Task calls its handler from the registry, in this process, as
StartSyncExecution does. Nothing is stored.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from orchestrator.asl.errors import DefinitionError
from orchestrator.asl.model import ABSENT
from orchestrator.engine import testing
from orchestrator.engine.outcomes import Delivery, TaskContext, TaskRequest
from orchestrator.integrations import registry
from orchestrator.integrations.invoke import invoke
from orchestrator.service.base import ServiceBase, ServiceError, json_text, parse_input, utcnow

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
FIELD_VALIDATION_MODES = ("STRICT", "PRESENT", "NONE")


class TestStateActions(ServiceBase):
    def test_state(
        self,
        definition: str,
        *,
        role_arn: str | None = None,
        input: str | None = None,
        inspection_level: str | None = None,
        reveal_secrets: bool = False,
        variables: str | None = None,
        state_name: str | None = None,
        mock: dict[str, Any] | None = None,
        context: str | None = None,
        state_configuration: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run the state ``definition`` is (or, with ``state_name``, the state of that name in the
        machine ``definition`` is) on ``input``, and report how it went (TestState)."""
        level = _inspection_level(inspection_level)
        target = _target(definition, state_name)
        mocked = _mock(mock)
        configuration = _configuration(state_configuration)
        given_context = _json_field(context, "context") if context is not None else None
        _refusing(
            testing.check,
            target.state,
            mocked,
            role_arn=role_arn,
            reveal_secrets=reveal_secrets,
            context=given_context,
            configuration=configuration,
        )
        state_input = parse_input("{}" if input is None else input)
        now = utcnow()
        case = testing.Case(
            target=target,
            input=state_input,
            now=now,
            execution=testing.default_execution(
                state_input,
                role_arn=role_arn,
                machine_name=str(uuid.uuid4()),
                execution_name=str(uuid.uuid4()),
                now=now,
                region=self.settings.region,
                account=self.settings.account,
            ),
            variables=_variables(variables),
            context=given_context,
            mock=mocked,
            configuration=configuration,
            seed=random.SystemRandom().getrandbits(64),
        )
        return _response(testing.run(case, _invoke_handler), level)


def _invoke_handler(request: TaskRequest, context: TaskContext) -> Delivery:
    """An unmocked Task's work: the handler its resource names, called here."""
    return invoke(request, context, registry.handlers(), callback_answers=True)


# -- the request -----------------------------------------------------------------------------------


def _refusing(check: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return check(*args, **kwargs)
    except testing.Refused as refusal:
        raise ServiceError(refusal.code, refusal.message) from None


def _inspection_level(value: str | None) -> str:
    if value is None:
        return "INFO"
    if value not in INSPECTION_LEVELS:
        raise _invalid(
            "inspectionLevel", value, f"Member must satisfy enum value set: [{', '.join(INSPECTION_LEVELS)}]"
        )
    return value


def _invalid(name: str, value: Any, constraint: str) -> ServiceError:
    return ServiceError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: {constraint}",
    )


def _target(definition: str, state_name: str | None) -> testing.Target:
    try:
        return _refusing(testing.load, definition, state_name)
    except DefinitionError as exc:
        problems = "; ".join(f"{d.code}: {d.message} at {d.location or '/'}" for d in exc.diagnostics[:10])
        raise ServiceError("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'") from None


def _json_field(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError("ValidationException", f"The {name} is not valid JSON: {exc.msg}") from None


def _mock(mock: dict[str, Any] | None) -> testing.Mock | None:
    if mock is None:
        return None
    mode = mock.get("fieldValidationMode")
    if mode is not None and mode not in FIELD_VALIDATION_MODES:
        raise _invalid(
            "mock.fieldValidationMode",
            mode,
            f"Member must satisfy enum value set: [{', '.join(FIELD_VALIDATION_MODES)}]",
        )
    result, error_output = mock.get("result"), mock.get("errorOutput")
    if (result is None) == (error_output is None):
        raise ServiceError(
            "ValidationException", "A test mock should have only one of the following fields: [result, errorOutput]."
        )
    if result is not None:
        if not isinstance(result, str):
            raise ServiceError("SerializationException", "Unexpected value type for 'mock.result': expected a string")
        return testing.Mock(result=_json_field(result, "mocked result"))
    return _error_output(error_output)


def _error_output(error_output: Any) -> testing.Mock:
    if not isinstance(error_output, dict):
        raise ServiceError("SerializationException", "Unexpected value type for 'mock.errorOutput': expected an object")
    error, cause = error_output.get("error"), error_output.get("cause")
    if not isinstance(error, str):
        raise ServiceError("ValidationException", "The error of a mocked errorOutput is required and must be a string")
    if cause is not None and not isinstance(cause, str):
        raise ServiceError(
            "SerializationException", "Unexpected value type for 'mock.errorOutput.cause': expected a string"
        )
    return testing.Mock(error=error, cause=cause)


def _configuration(configuration: dict[str, Any] | None) -> testing.Configuration:
    if not configuration:
        return testing.Configuration()
    counts = {}
    for key in ("retrierRetryCount", "mapIterationFailureCount"):
        value = configuration.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ServiceError("SerializationException", f"Unexpected value type for '{key}': expected an integer")
        if value < 0:
            raise _invalid(f"stateConfiguration.{key}", value, "Member must have value greater than or equal to 0")
        counts[key] = value
    caused_by = configuration.get("errorCausedByState")
    if caused_by is not None and (not isinstance(caused_by, str) or not 1 <= len(caused_by) <= 80):
        raise _invalid("stateConfiguration.errorCausedByState", caused_by, "Member must have length between 1 and 80")
    reader_data = configuration.get("mapItemReaderData")
    return testing.Configuration(
        retrier_retry_count=counts["retrierRetryCount"],
        error_caused_by_state=caused_by,
        map_iteration_failure_count=counts["mapIterationFailureCount"],
        map_item_reader_data=ABSENT if reader_data is None else _read_data(reader_data),
    )


def _read_data(text: Any) -> Any:
    """What a Distributed Map's ItemReader read: JSON when it is (a CSV file, say, stays text)."""
    if not isinstance(text, str):
        raise ServiceError("SerializationException", "Unexpected value type for 'mapItemReaderData': expected a string")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _variables(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    variables = _json_field(text, "variables")
    if not isinstance(variables, dict):
        raise ServiceError("ValidationException", "The variables must be a JSON object of variable names and values")
    return variables


# -- the response ----------------------------------------------------------------------------------


def _response(report: testing.Report, level: str) -> dict[str, Any]:
    """TestState's response: data as JSON text, and ``inspectionData`` above the INFO level."""
    out: dict[str, Any] = {"status": report.status}
    if report.output is not ABSENT:
        out["output"] = json_text(report.output)
    if report.error is not None:
        out["error"] = report.error
    if report.cause is not None:
        out["cause"] = report.cause
    if report.next_state is not None:
        out["nextState"] = report.next_state
    if level != "INFO":
        out["inspectionData"] = {
            key: json_text(value) if key in testing.DATA_FIELDS else value for key, value in report.inspection.items()
        }
    return out
