"""The TestState action: its parameters (checked against AWS's model by ``api.shapes``) handed to the service.

Importing this module registers the action (``orchestrator.api.app`` imports it).
"""

from __future__ import annotations

from typing import Any

from orchestrator.api.actions import action
from orchestrator.service import Service


@action("TestState")
def test_state(service: Service, body: dict[str, Any]) -> dict[str, Any]:
    return service.test_state(
        body["definition"],
        role_arn=body.get("roleArn"),
        input=body.get("input"),
        inspection_level=body.get("inspectionLevel"),
        reveal_secrets=bool(body.get("revealSecrets")),
        variables=body.get("variables"),
        state_name=body.get("stateName"),
        mock=body.get("mock"),
        context=body.get("context"),
        state_configuration=body.get("stateConfiguration"),
    )
