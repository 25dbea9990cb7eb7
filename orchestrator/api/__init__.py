"""The HTTP API: AWS Step Functions' JSON 1.0 protocol, so boto3, the AWS CLI and every AWS SDK work.

- `app`: the ASGI application (``POST /`` with ``X-Amz-Target: AWSStepFunctions.<Action>``, ``GET /health``);
- `actions`: each action's parameters, checked as AWS checks them, handed to `orchestrator.service`;
- `auth`: AWS Signature Version 4, checked against the keys the server is configured with;
- `wire`: how values and errors look on the wire.
"""
