"""What every group of actions shares: the transaction, publishing after commit, ARNs, validation.

`ServiceError` carries AWS's error code; the validation helpers raise it with AWS's wording.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from sqlalchemy.orm import Session

from orchestrator import config
from orchestrator.asl import json_values
from orchestrator.asl.errors import DefinitionError, Diagnostic
from orchestrator.asl.parse import parse, validate
from orchestrator.runtime.publish import publish
from orchestrator.store.db import session_scope

MAX_PAYLOAD = 262_144
# Characters AWS refuses in names: whitespace, brackets, wildcards, punctuation and controls.
_BAD_NAME = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f\ufffe\uffff]")


class ServiceError(Exception):
    """An action refused: ``code`` is AWS's error name (``ExecutionDoesNotExist``, ...)."""

    def __init__(self, code: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason  # ValidationException's reason, e.g. API_DOES_NOT_SUPPORT_LABELED_ARNS

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ServiceBase:
    """The configuration, the Celery app to publish with, and one transaction per action."""

    def __init__(self, settings: config.Settings | None = None, app: Celery | None = None) -> None:
        self.settings = settings or config.load()
        if app is None:
            from orchestrator.runtime.app import app as default_app

            app = default_app
        self.app = app

    @property
    def publishing(self) -> bool:
        """Whether this process can publish: a real broker, or the embedded runtime running here.

        Otherwise the messages stay in the outbox for the scheduler of the process that runs
        the embedded runtime (``orchestrator run`` in another terminal).
        """
        from orchestrator.runtime import embedded

        return not self.settings.embedded_broker or embedded.is_running()

    def _publish_after_commit(self, messages: list[Any]) -> None:
        if self.publishing:
            publish(self.app, messages)

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with session_scope(self.settings.database_url) as session:
            yield session

    def health(self) -> dict[str, Any]:
        """Whether the database and the broker answer, with details (for ``GET /health``)."""
        from sqlalchemy import text

        report: dict[str, Any] = {"status": "ok"}
        try:
            with self._transaction() as session:
                session.execute(text("SELECT 1"))
            report["database"] = {"status": "ok"}
        except Exception as exc:
            report["database"] = {"status": "unavailable", "error": str(exc).splitlines()[0]}
            report["status"] = "degraded"
        if self.settings.embedded_broker:
            report["broker"] = {"status": "ok", "transport": "in-process"}
            return report
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
            report["broker"] = {"status": "ok", "transport": connection.transport_cls}
        except Exception as exc:
            report["broker"] = {"status": "unavailable", "error": str(exc).splitlines()[0]}
            report["status"] = "degraded"
        return report

    # -- ARNs ------------------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        return f"arn:aws:states:{self.settings.region}:{self.settings.account}"

    def state_machine_arn(self, name: str) -> str:
        return f"{self._prefix}:stateMachine:{name}"

    def execution_arn(self, machine_name: str, name: str) -> str:
        return f"{self._prefix}:execution:{machine_name}:{name}"


# -- validation ----------------------------------------------------------------------------------------


def map_run_machine_arn(map_run_arn: str) -> str:
    """The state machine ARN AWS gives a Map Run's child executions: ``...:mapRun:<machine>/<label>:<id>``
    -> ``...:stateMachine:<machine>/<label>``."""
    prefix, _, rest = map_run_arn.partition(":mapRun:")
    return f"{prefix}:stateMachine:{rest.split(':')[0]}"


def check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or _BAD_NAME.search(name):
        raise ServiceError(
            "InvalidName",
            f"Invalid Name: '{name}' (a {what} name is 1 to 80 characters, without "
            'spaces, brackets, wildcards or the characters " # % \\ ^ | ~ ` $ & , ; : /)',
        )


def check_definition(text: str, state_machine_type: str = "STANDARD") -> None:
    """InvalidDefinition, with AWS's wording, for a definition a machine of this type cannot run."""
    try:
        parse(text)
    except DefinitionError as exc:
        raise _invalid_definition(exc.diagnostics) from None
    if state_machine_type == "EXPRESS":
        errors = [d for d in validate(text, state_machine_type="EXPRESS") if d.severity == "ERROR"]
        if errors:
            raise _invalid_definition(errors)


def _invalid_definition(diagnostics: list[Diagnostic]) -> ServiceError:
    problems = "; ".join(f"{d.code}: {d.message} at {d.location or '/'}" for d in diagnostics[:10])
    return ServiceError("InvalidDefinition", f"Invalid State Machine Definition: '{problems}'")


def check_arn(arn: str, service: str, field: str) -> None:
    parts = arn.split(":") if isinstance(arn, str) else []
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != service:
        raise ServiceError(
            "InvalidArn",
            f"Invalid Arn: 'Resource type not valid in this context: {arn}'"
            if parts[:1] == ["arn"]
            else f"Invalid Arn: '{arn}' (the {field} must be an ARN)",
        )


# The engine's task tokens are URL-safe base64 of random bytes (43 characters from run_local and
# Express, 64 from the durable runtime): anything else was never issued, which AWS calls invalid.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43,64}")


def check_token(token: str) -> None:
    """InvalidToken for a token the engine could not have issued (checked before anything else, as AWS does)."""
    if not isinstance(token, str) or not 1 <= len(token) <= 2048:
        raise ServiceError("InvalidToken", "Invalid Token: a task token is 1 to 2048 characters")
    if not _TOKEN_SHAPE.fullmatch(token):
        raise ServiceError("InvalidToken", "Invalid Token: 'Invalid token'")


def parse_input(text: str) -> Any:
    if len(text.encode()) > MAX_PAYLOAD:
        raise ServiceError("InvalidExecutionInput", "The input exceeds the maximum size of 262144 bytes")
    try:
        return json_values.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError(
            "InvalidExecutionInput",
            f"Invalid State Machine Execution Input: '{exc.msg} at line {exc.lineno} column {exc.colno}'",
        ) from None
    except json_values.NotJsonError as exc:
        raise ServiceError("InvalidExecutionInput", f"Invalid State Machine Execution Input: '{exc}'") from None


def page_size(max_results: int) -> int:
    if not 0 <= max_results <= 1000:
        raise ServiceError("ValidationException", "maxResults must be between 0 and 1000")
    return max_results or 100


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
