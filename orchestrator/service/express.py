"""Express executions: StartSyncExecution (here, now) and StartExecution (on a worker)."""

from __future__ import annotations

import uuid
from typing import Any

from orchestrator.runtime import execution_logs, tracing
from orchestrator.runtime.driver import queue_messages
from orchestrator.runtime.express import run_express
from orchestrator.runtime.messages import EXPRESS, Message
from orchestrator.service.base import ServiceBase, ServiceError, check_name, json_text, parse_input, utcnow
from orchestrator.service.versions import Target
from orchestrator.store import runs
from orchestrator.store import state_machines as catalog


class ExpressActions(ServiceBase):
    def express_arn(self, machine_name: str, name: str) -> str:
        return f"{self._prefix}:express:{machine_name}:{name}:{uuid.uuid4()}"

    def start_sync_execution(
        self,
        state_machine_arn: str,
        *,
        name: str | None = None,
        input: str | None = None,
        trace_header: str | None = None,
    ) -> dict[str, Any]:
        """Run an Express execution here and return how it ended (HTTP 200 even when it failed)."""
        name = name if name is not None else str(uuid.uuid4())
        check_name(name, "execution")
        text = "{}" if input is None else input
        execution_input = parse_input(text)
        with self._transaction() as session:
            # a state machine, version or alias ARN: it runs that version's definition
            target = self.resolve_target(session, state_machine_arn)  # type: ignore[attr-defined]
            machine = target.machine
            if machine.status == "DELETING":
                raise ServiceError("StateMachineDeleting", f"State machine is being deleted: '{state_machine_arn}'")
            if machine.type != "EXPRESS":
                raise ServiceError(
                    "StateMachineTypeNotSupported",
                    "This operation is only supported for state machines of type EXPRESS",
                )
            definition = catalog.definition_text(session, target.definition_hash)
            machine_name = machine.name
            logging_configuration = machine.logging_configuration
            traced = tracing.enabled(machine.tracing_configuration)
        arn = self.express_arn(machine_name, name)
        result = run_express(definition, execution_input, name=name, state_machine_name=machine_name)
        execution_logs.log_result(logging_configuration, result.events, arn)
        if traced:
            tracing.export_execution(result.events, arn, machine_name, trace_header)
        out: dict[str, Any] = {
            "executionArn": arn,
            "stateMachineArn": state_machine_arn,
            "name": name,
            "startDate": result.start_date,
            "stopDate": result.stop_date,
            "status": result.status,
            "input": text,
            "inputDetails": {"included": True},
            "billingDetails": {"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": _billed_ms(result)},
        }
        if result.status == "SUCCEEDED":
            out["output"] = json_text(result.output)
            out["outputDetails"] = {"included": True}
        if result.error is not None:
            out["error"] = result.error
        if result.cause is not None:
            out["cause"] = result.cause
        if trace_header:
            out["traceHeader"] = trace_header
        return out

    def _start_express(
        self, target: Target, name: str, execution_input: Any, trace_header: str | None
    ) -> dict[str, Any]:
        """StartExecution of an Express state machine: a row for its outcome, and a worker runs it
        (the definition of the version ``target`` names, recorded as StartExecution records it)."""
        machine = target.machine
        arn = self.express_arn(machine.name, name)
        now = utcnow()
        with self._transaction() as session:
            execution_id = runs.insert_execution(
                session,
                arn=arn,
                name=name,
                state_machine_id=machine.id,
                definition_hash=target.definition_hash,
                role_arn=target.role_arn,
                state_machine_version_arn=target.version_arn,
                state_machine_alias_arn=target.alias_arn,
                input=execution_input,
                status="RUNNING",
                start_date=now,
                trace_header=trace_header,
            )
            runs.update_run(session, execution_id, history_id=execution_id)
            messages = queue_messages(
                session, [Message(EXPRESS, [execution_id], self.settings.engine_queue)], now, published=self.publishing
            )
        self._publish_after_commit(messages)
        return {"executionArn": arn, "startDate": now}


def _billed_ms(result: Any) -> int:
    elapsed = (result.stop_date - result.start_date).total_seconds() * 1000
    return max(100, int(-(-elapsed // 100) * 100))
