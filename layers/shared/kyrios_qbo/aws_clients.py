"""Every AWS client of the layer: one per service per container, with timeouts and standard retries.

boto3's defaults wait up to 60 s for an answer and retry in the "legacy" mode; a function with a
10–29 s budget must give up sooner and retry the documented way ("standard": exponential backoff
with jitter, also on throttling). ``AWS_ENDPOINT_URL`` (the local stack) is honoured by botocore.
boto3 is imported on first use, so cold starts of paths that never call AWS stay fast.
"""

from __future__ import annotations

from functools import cache
from typing import Any

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 3
"""First call included (botocore's ``total_max_attempts``)."""


@cache
def client(service: str) -> Any:
    """The container's client for ``service`` ("dynamodb", "sqs", "kms", "events", ...)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client(service, config=config)
