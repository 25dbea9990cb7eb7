"""Status-change events for Python code: ``@subscriber`` functions, and checking a webhook's signature.

Every time an execution's status changes (RUNNING on start and on redrive; SUCCEEDED, FAILED,
TIMED_OUT, ABORTED at its end) the engine writes an event in the shape of EventBridge's "Step
Functions Execution Status Change" event and delivers it, at least once, to the webhooks of
ORCHESTRATOR_EVENTS_FILE and to the ``@subscriber`` functions of the handler modules. See
docs/events.md.

A subscriber, in ``tasks/`` (or a module of ORCHESTRATOR_HANDLER_MODULES)::

    from orchestrator.events import subscriber

    @subscriber(state_machines=["CreditApplication"], statuses=["FAILED", "TIMED_OUT"])
    def page_on_call(event):
        notify(event["detail"]["executionArn"], event["detail"]["error"])

A webhook's receiver checks the signature on the raw body before it trusts the event::

    from orchestrator.events import SIGNATURE_HEADER, verify_signature

    verify_signature(secret, request.headers.get(SIGNATURE_HEADER), raw_body)  # raises SignatureError
"""

from __future__ import annotations

from orchestrator.runtime.event_signing import SIGNATURE_HEADER, SignatureError, sign, verify_signature
from orchestrator.runtime.event_subscribers import subscriber

__all__ = ["SIGNATURE_HEADER", "SignatureError", "sign", "subscriber", "verify_signature"]
