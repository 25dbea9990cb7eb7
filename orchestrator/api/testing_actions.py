"""The TestState action: its parameters, checked as AWS's model declares them, handed to the service.

Importing this module registers the action (``orchestrator.api.app`` imports it).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.actions import Params, action
from orchestrator.service import Service


@action("TestState")
def test_state(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    p = Params(body)
    return service.test_state(
        p.required("definition", min_length=1, max_length=1_048_576),
        role_arn=p.string("roleArn", min_length=1, max_length=256),
        input=p.string("input", max_length=262_144),
        inspection_level=p.string("inspectionLevel"),
        reveal_secrets=p.boolean("revealSecrets"),
        variables=p.string("variables", max_length=262_144),
        state_name=p.string("stateName", min_length=1, max_length=80),
        mock=p.obj("mock"),
        context=p.string("context", max_length=262_144),
        state_configuration=p.obj("stateConfiguration"),
    )
