"""The client's HTTP transport: AWS's JSON protocol to ``orchestrator serve``, signed with SigV4 by botocore.

A boto3 ``stepfunctions`` client does the wire work (signing, serializing, parsing timestamps);
its errors become `ServiceError`, as the in-process transport raises them.
"""

from __future__ import annotations

import os
import re
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from orchestrator.service import ServiceError

# StartSyncExecution runs an Express execution for up to five minutes before it answers.
READ_TIMEOUT_SECONDS = 330


# What requests are signed with when no key is given nor in the environment: a server without
# access keys (ORCHESTRATOR_API_KEYS) accepts any.
ANONYMOUS_KEY = "orchestrator"


class HttpTransport:
    def __init__(self, endpoint_url: str, *, access_key: str | None, secret_key: str | None, region: str) -> None:
        if access_key is None:
            # AWS's environment variables, not boto3's whole search: that would ask the EC2 metadata
            # service, which costs seconds of timeouts on a machine outside AWS.
            access_key = os.environ.get("AWS_ACCESS_KEY_ID") or ANONYMOUS_KEY
            secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY") or ANONYMOUS_KEY
        self.boto = boto3.session.Session().client(
            "stepfunctions",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            # the SDK prepends "sync-" to the host of StartSyncExecution (AWS's endpoint for it); ours is one host
            config=Config(inject_host_prefix=False, read_timeout=READ_TIMEOUT_SECONDS),
        )

    def call(self, action: str, params: dict[str, Any], session: Any) -> dict[str, Any]:
        if session is not None:
            raise TypeError(
                "session= joins a database transaction, and this Client talks HTTP to a server: "
                "create the Client without endpoint_url to use the database in this process"
            )
        try:
            answer: dict[str, Any] = getattr(self.boto, _snake(action))(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise ServiceError(error.get("Code", "InternalFailure"), error.get("Message", str(exc))) from None
        except ParamValidationError as exc:
            raise ServiceError("ValidationException", str(exc)) from None
        answer.pop("ResponseMetadata", None)
        return answer


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
