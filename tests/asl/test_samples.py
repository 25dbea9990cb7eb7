"""Real-world definitions (../shared/samples) through the validator.

AWS accepts every sample that its README calls valid, so the validator must report no ERROR for any
of them (warnings are fine); the sample flagged with ``structural_issues`` must be refused. Samples
with ``has_template_placeholders`` hold ``${Name}`` placeholders that a deployment tool replaces
before AWS sees the definition: `substitute` does that job here (an ARN of the right service where
an ARN is expected, a number where a number is expected, a plausible string elsewhere).

The folder comes from ORCHESTRATOR_SAMPLES_DIR, or is ../shared/samples beside the checkout; without
either, collecting this module fails (the samples are never silently left out).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from orchestrator.asl.parse import validate
from tests.shared import shared_folder

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")

REGION = "us-east-1"
ACCOUNT = "123456789012"

# Fields whose value is a number (DynamoDB's "N" is a number written as a string).
NUMBER_FIELDS = {
    "Seconds",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "IntervalSeconds",
    "MaxAttempts",
    "MaxDelaySeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "MaxItemsPerBatch",
    "MaxInputBytesPerBatch",
    "MaxItems",
}

# An ARN per service, chosen by a word in the field's name, else in the placeholder's name; the
# first match wins, so the specific words come first.
_ARNS = (
    (("activity",), f"arn:aws:states:{REGION}:{ACCOUNT}:activity:{{name}}"),
    (("statemachine", "state_machine"), f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{{name}}"),
    (("role",), f"arn:aws:iam::{ACCOUNT}:role/{{name}}"),
    (("topic", "sns"), f"arn:aws:sns:{REGION}:{ACCOUNT}:{{name}}"),
    (("jobqueue",), f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/{{name}}"),
    (("queue", "sqs"), f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{name}}"),
    (("jobdefinition",), f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{{name}}:1"),
    (("table", "dynamodb"), f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{{name}}"),
    (("bucket", "s3"), "arn:aws:s3:::{name}"),
    (("collection",), f"arn:aws:aoss:{REGION}:{ACCOUNT}:collection/{{name}}"),
    (("model",), f"arn:aws:bedrock:{REGION}::foundation-model/{{name}}"),
    (("lambda", "function"), f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{name}}"),
)
_DEFAULT_RESOURCE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{name}}"


def _plausible_name(placeholder: str) -> str:
    """``SendApprovalEmailFunctionArn`` -> ``send-approval-email-function``: a name AWS would accept."""
    words = re.sub(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])", r"\1\3-\2\4", placeholder)
    name = re.sub(r"[^A-Za-z0-9]+", "-", words).strip("-").lower()
    return name.removesuffix("-arn") or "placeholder"


def _wants_arn(key: str | None, placeholder: str) -> bool:
    return key == "Resource" or any(text is not None and text.lower().endswith("arn") for text in (key, placeholder))


def _arn(key: str | None, placeholder: str) -> str:
    name = _plausible_name(placeholder)
    # A Task's Resource names something to run: an activity, or else a Lambda function.
    candidates = _ARNS[:1] + _ARNS[-1:] if key == "Resource" else _ARNS
    for words in (key or "", placeholder):
        for tokens, template in candidates:
            if any(token in words.lower().replace("_", "") for token in tokens):
                return template.format(name=name)
    return _DEFAULT_RESOURCE.format(name=name)


def _part(placeholder: str) -> str:
    """A value for a placeholder inside a longer string (an ARN, a URL, an S3 path, SQL)."""
    low = placeholder.lower()
    if "partition" in low:
        return "aws"
    if "region" in low:
        return REGION
    if "account" in low:
        return ACCOUNT
    return _plausible_name(placeholder)


def _whole(key: str | None, placeholder: str) -> Any:
    """A value for a field that is nothing but one placeholder."""
    if key in NUMBER_FIELDS:
        return 60
    if key == "N":
        return "5"
    if _wants_arn(key, placeholder):
        return _arn(key, placeholder)
    if key is not None and key.endswith("Url"):
        return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{_plausible_name(placeholder)}"
    return _part(placeholder)


def _string(value: str, key: str | None) -> Any:
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        return _whole(key, whole.group(1))
    return _PLACEHOLDER.sub(lambda m: _part(m.group(1)), value)


def substitute(value: Any, key: str | None = None) -> Any:
    """``value`` with every ``${Name}`` placeholder (in keys and values) replaced; ``key`` is the
    field that holds ``value``, which says what kind of value is expected."""
    if isinstance(value, dict):
        return {_PLACEHOLDER.sub(lambda m: _part(m.group(1)), k): substitute(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(item, key) for item in value]
    if isinstance(value, str):
        return _string(value, key)
    return value


def _load_samples() -> list[dict[str, Any]]:
    folder = shared_folder("ORCHESTRATOR_SAMPLES_DIR", "samples", "definitions")
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(Path(folder, "definitions").glob("*.json"))]


SAMPLES = _load_samples()
# Samples with has_cfn_intrinsics are left out: they still hold CloudFormation Fn::Sub/Ref objects,
# which are not ASL until CloudFormation resolves them, so no verdict of the validator means anything.
VALID = [s for s in SAMPLES if not s["structural_issues"] and not s["has_cfn_intrinsics"]]
BROKEN = [s for s in SAMPLES if s["structural_issues"]]


def _definition(sample: dict[str, Any]) -> Any:
    definition = sample["definition"]
    return substitute(definition) if sample["has_template_placeholders"] else definition


def _errors(sample: dict[str, Any]) -> list[str]:
    return [
        f"{d.location or '/'}: {d.message} [{d.code}]"
        for d in validate(json.dumps(_definition(sample)))
        if d.severity == "ERROR"
    ]


def test_samples_folder_holds_samples() -> None:
    # A folder without definitions must not pass as "no samples".
    assert VALID, "the samples folder holds no valid sample definition"
    assert BROKEN, "the samples folder holds no sample with a structural issue"


@pytest.mark.parametrize("sample", VALID, ids=[s["id"] for s in VALID])
def test_valid_sample_has_no_error(sample: dict[str, Any]) -> None:
    if sample["has_template_placeholders"]:
        assert not _PLACEHOLDER.search(json.dumps(_definition(sample)))
    assert _errors(sample) == []


@pytest.mark.parametrize("sample", BROKEN, ids=[s["id"] for s in BROKEN])
def test_structural_issue_is_reported(sample: dict[str, Any]) -> None:
    errors = _errors(sample)
    assert errors
    # Each issue is written "<the field at fault>: <what is wrong>"; an error must point at it.
    for issue in sample["structural_issues"]:
        field = issue.split(":")[0]
        assert any(e.startswith(f"/States/{field}:") for e in errors), errors


# -- the substitution itself ---------------------------------------------------------------------


def test_substitute_puts_an_arn_of_the_right_service() -> None:
    definition = {
        "States": {
            "Call": {"Type": "Task", "Resource": "${ProcessOrderFunctionArn}"},
            "Work": {"Type": "Task", "Resource": "${ReviewActivity}"},
            "Notify": {"Parameters": {"TopicArn": "${StateMachineAlerts}", "QueueUrl": "${SQSJobsUrl}"}},
            "Start": {"Parameters": {"StateMachineArn": "${ChildArn}", "JobQueue": "${BatchQueueArn}"}},
        }
    }
    states = substitute(definition)["States"]
    # A Resource placeholder is a Lambda function unless its name says activity.
    lambda_arn = "arn:aws:lambda:us-east-1:123456789012:function:process-order-function"
    assert states["Call"]["Resource"] == lambda_arn
    assert states["Work"]["Resource"] == "arn:aws:states:us-east-1:123456789012:activity:review-activity"
    assert states["Notify"]["Parameters"] == {
        # The field says what the ARN is for, whatever the placeholder is called.
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:state-machine-alerts",
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/sqs-jobs-url",
    }
    assert states["Start"]["Parameters"] == {
        "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child",
        "JobQueue": "arn:aws:batch:us-east-1:123456789012:job-queue/batch-queue",
    }


def test_substitute_numbers_parts_and_keys() -> None:
    definition = {
        "Wait": {"Seconds": "${ReminderTimeout}"},
        "Sdk": {"Resource": "arn:${AWS::Partition}:states:${AWS::Region}:${AccountId}:activity:x"},
        "Item": {"${TableKey}.$": "$.id", "N": "${Limit}", "Uri": "s3://${Bucket}/data"},
    }
    assert substitute(definition) == {
        "Wait": {"Seconds": 60},
        "Sdk": {"Resource": "arn:aws:states:us-east-1:123456789012:activity:x"},
        "Item": {"table-key.$": "$.id", "N": "5", "Uri": "s3://bucket/data"},
    }
