"""The credit application's handlers, as the Lambda functions of AWS's tutorial would be written.

Each validates its input and fails the task by name when it is wrong (``Applicant.InvalidEmail``,
...), so a state machine can Catch it. Results are deterministic: a random choice uses a seed taken
from the input (``seed``) or from ``CREDIT_SEED``, and credit scores are derived from the bureau's
name and the applicant.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from typing import Any

from orchestrator import TaskContext, handler

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
STATE = re.compile(r"^[A-Z]{2}$")
MIN_LIMIT, MAX_LIMIT = 1, 10_000


class ApplicationError(Exception):
    """A problem with the application; ``error`` is the name the Task fails with."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


# How a field is written in an error name, where that is not just capitalized: Applicant.MissingSSN
# goes with Applicant.InvalidSSN.
_ERROR_SPELLING = {"ssn": "SSN"}


def _require(payload: Any, field: str, where: str) -> Any:
    if not isinstance(payload, dict) or payload.get(field) in (None, ""):
        spelled = _ERROR_SPELLING.get(field, field[:1].upper() + field[1:])
        raise ApplicationError(f"Applicant.Missing{spelled}", f"{where}: '{field}' is required")
    return payload[field]


@handler("RandomNumberforCredit")
def credit_limit(payload: dict[str, Any], context: TaskContext) -> int:
    """The credit limit to decide on: the amount requested, or a (seeded) random one."""
    _require(payload, "data", "the application")
    requested = payload.get("creditRequested")
    if requested is not None:
        if (
            isinstance(requested, bool)
            or not isinstance(requested, int | float)
            or not MIN_LIMIT <= requested <= MAX_LIMIT
        ):
            raise ApplicationError(
                "Applicant.InvalidCreditRequested",
                f"creditRequested must be a number from {MIN_LIMIT} to {MAX_LIMIT}, not {requested!r}",
            )
        return int(requested)
    seed = payload.get("seed", os.environ.get("CREDIT_SEED"))
    return random.Random(seed).randint(MIN_LIMIT, MAX_LIMIT)


@handler("check-identity")
def check_identity(identity: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    email = _require(identity, "email", "identity")
    ssn = _require(identity, "ssn", "identity")
    if not EMAIL.match(str(email)):
        raise ApplicationError("Applicant.InvalidEmail", f"'{email}' is not an email address")
    if not SSN.match(str(ssn)):
        raise ApplicationError("Applicant.InvalidSSN", "an SSN is written 123-45-6789")
    return {"approved": True, "message": "identity validation passed"}


@handler("check-address")
def check_address(address: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    for field in ("street", "city", "state", "zip"):
        _require(address, field, "address")
    if not STATE.match(str(address["state"])):
        raise ApplicationError("Applicant.InvalidAddress", f"state must be a two-letter code, not {address['state']!r}")
    if not ZIP.match(str(address["zip"])):
        raise ApplicationError("Applicant.InvalidAddress", f"zip must be a ZIP code, not {address['zip']!r}")
    return {"approved": True, "message": "address validation passed"}


class BureauUnavailable(Exception):
    error = "Bureau.Unavailable"


@handler("get-credit-score")
def credit_score(bureau: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """A bureau's score for the applicant (a DynamoDB item: ``{"Name": {"S": ...}}``), 300 to 850."""
    name = _attribute(bureau, "Name", "S")
    if not isinstance(name, str) or not name:
        raise ApplicationError("Bureau.InvalidItem", f"a bureau item needs Name (a string attribute), got {bureau!r}")
    if _attribute(bureau, "Available", "BOOL") is False:
        raise BureauUnavailable(f"{name} is not answering")
    digest = hashlib.sha256(f"{name}:{context.execution_arn.rsplit(':', 1)[-1]}".encode()).digest()
    return {"bureau": name, "score": 300 + int.from_bytes(digest[:4], "big") % 551}


def _attribute(item: Any, name: str, kind: str) -> Any:
    """One typed attribute of a DynamoDB item (``{"Name": {"S": "Experian"}}``), None when it is not one."""
    value = item.get(name) if isinstance(item, dict) else None
    return value.get(kind) if isinstance(value, dict) else None
