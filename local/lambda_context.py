"""The one stand-in for Lambda's context object: what the handlers and Powertools read from it.

Used by the local stack (local.stepfunctions, the runner), the tests and the bench:

    from local.lambda_context import lambda_context
    handler(event, lambda_context("api"))
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from local.identity import ACCOUNT_ID, REGION  # not local.aws: the bench's RSS probe must not load moto


@dataclass
class LocalLambdaContext:
    function_name: str = "kyrios-quickbooks-test"
    timeout_seconds: float = 29.0
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def lambda_context(
    function_name: str = "kyrios-quickbooks-test",
    timeout_seconds: float = 29.0,
    memory_limit_in_mb: int = 256,
) -> LocalLambdaContext:
    """A fresh context (new request id, full time budget) per invocation."""
    return LocalLambdaContext(function_name, timeout_seconds, memory_limit_in_mb)


__all__ = ["LocalLambdaContext", "lambda_context"]
