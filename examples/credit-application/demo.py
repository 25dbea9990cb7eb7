"""The credit application, end to end, on the embedded default: ``python examples/credit-application/demo.py``.

It sets up what the workflow calls (the SNS topic the approval request goes to, the DynamoDB table of
credit bureaus), then runs two applications through the durable runtime, inside this process:

1. 3,500 requested: approved automatically;
2. 7,500 requested: the workflow publishes an approval request carrying a task token and waits. The
   demo reads the token from the message, as an approver's service would, and grants it with the
   same SendTaskSuccess call such a service makes.

Then it shows an SQL query over the history the two executions left in the database.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import text

from orchestrator import config
from orchestrator.follow import Printer, follow
from orchestrator.integrations import registry
from orchestrator.runtime.app import app
from orchestrator.runtime.embedded import EmbeddedRuntime
from orchestrator.service import Service, ServiceError
from orchestrator.store.db import session_scope
from orchestrator.store.migrate import upgrade

HERE = Path(__file__).resolve().parent
MACHINE = "credit-application"
ROLE = "arn:aws:iam::123456789012:role/credit-application"

HISTORY_QUERY = """
SELECT x.name                                AS execution,
       e.id,
       e.type,
       json_extract(e.details, '$.name')     AS state
FROM history_events e
JOIN executions x ON x.id = e.execution_id
JOIN state_machines m ON m.id = x.state_machine_id
WHERE m.name = 'credit-application' AND x.name IN (:first, :second)
  AND (e.type LIKE '%StateEntered' OR e.type LIKE 'Execution%')
ORDER BY x.start_date, e.id
"""


def main() -> int:
    warnings.filterwarnings("ignore", module="celery.platforms")
    for noisy in ("celery", "kombu"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    settings = config.load()
    if not settings.embedded_broker or not settings.is_sqlite:
        print("This demo runs on the embedded default: unset ORCHESTRATOR_DATABASE_URL and ORCHESTRATOR_BROKER_URL.")
        return 2
    # tasks/credit.py, the four Lambda functions: from the checkout, wherever the demo is run from.
    sys.path.append(str(HERE.parents[1]))
    registry.load_modules(settings.handler_modules)
    upgrade(settings.database_url)
    service = Service(settings, app)
    machine = set_up(service)
    with EmbeddedRuntime(app, settings):
        first = run(service, machine, "input-auto-approve.json", approve=False)
        second = run(service, machine, "input-needs-approval.json", approve=True)
    show_history(settings.database_url, first, second)
    return 0 if first["status"] == second["status"] == "SUCCEEDED" else 1


def set_up(service: Service) -> str:
    """The topic, the bureaus table, and the state machine (created, or updated to this definition)."""
    service.create_topic("TaskTokenTopic")
    service.load_tables(json.loads((HERE / "bureaus.json").read_text()))
    definition = (HERE / "statemachine.asl.json").read_text()
    arn = service.state_machine_arn(MACHINE)
    try:
        service.describe_state_machine(arn)
        service.update_state_machine(arn, definition=definition)
    except ServiceError:  # the first run: it does not exist yet
        service.create_state_machine(name=MACHINE, definition=definition, role_arn=ROLE)
    print(f"State machine {arn}\n  topic TaskTokenTopic, table GetCreditBureau (3 bureaus)\n")
    return arn


def run(service: Service, machine: str, input_file: str, *, approve: bool) -> dict[str, Any]:
    application = json.loads((HERE / input_file).read_text())
    name = f"{input_file.removesuffix('.json')}-{int(time.time())}"
    print(
        f"=== Application of {application['data']['firstname']}: {application['creditRequested']} requested "
        f"({input_file})"
    )
    started = service.start_execution(machine, name=name, input=json.dumps(application))
    if approve:
        threading.Thread(target=grant_when_asked, args=(service, started["executionArn"]), daemon=True).start()
    result = follow(service, started["executionArn"], Printer(sys.stdout, tokens=lambda: []))
    print(f"{result['status']}: {json.dumps(json.loads(result.get('output') or 'null'))}\n")
    return {"name": name, "status": result["status"]}


def grant_when_asked(service: Service, execution_arn: str) -> None:
    """The approver: reads the approval request published on TaskTokenTopic and answers its token."""
    while True:
        for message in service.list_messages("TaskTokenTopic"):
            body = json.loads(message["Message"])
            if body.get("ExecutionId") == execution_arn:
                print(f"   approval request on TaskTokenTopic: {body['Applicant']} asks for {body['CreditLimit']}")
                print("   approving it: SendTaskSuccess with the message's TaskToken")
                service.send_task_success(body["TaskToken"], json.dumps({"approved": True, "by": "demo"}))
                return
        time.sleep(0.2)


def show_history(database_url: str, first: dict[str, Any], second: dict[str, Any]) -> None:
    print("=== The history they left, in SQL (docs/schema.md describes the tables):")
    print(HISTORY_QUERY)
    with session_scope(database_url) as session:
        rows = session.execute(text(HISTORY_QUERY), {"first": first["name"], "second": second["name"]}).all()
    for execution, event_id, event_type, state in rows:
        print(f"  {execution:<40} {event_id:>3}  {event_type:<28} {state or ''}")


if __name__ == "__main__":
    sys.exit(main())
