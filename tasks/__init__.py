"""Your task handlers: every module here is imported by workers, `orchestrator run` and `serve`.

Register a function with ``@handler("Name")`` (a Lambda function name, or a resource ARN).
"""

from tasks import credit  # noqa: F401 - registers the credit application's handlers
