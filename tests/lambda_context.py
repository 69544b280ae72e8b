"""A ``LambdaContext`` stand-in for invoking handlers in tests (what Powertools reads from it).

    from tests.lambda_context import lambda_context
    handler(event, lambda_context("api"))
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    function_name: str = "kyrios-quickbooks-test"
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    timeout_seconds: float = 29.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/kyrios-quickbooks-test"
    log_stream_name: str = "2026/01/01/[$LATEST]test"
    started_at: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started_at)
        return max(0, int(left * 1000))


def lambda_context(
    function_name: str = "kyrios-quickbooks-test", timeout_seconds: float = 29.0
) -> FakeLambdaContext:
    """A fresh context (new request id, full time budget) per invocation."""
    return FakeLambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
