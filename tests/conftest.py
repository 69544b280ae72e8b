"""Fixtures shared by all test levels.

- ``local_aws`` (session): a moto server on 127.0.0.1 provisioned from template.yaml; the process
  environment then looks like a deployed function's (every function's variables merged), with
  ``AWS_ENDPOINT_URL`` pointing at moto and dummy credentials. One per pytest-xdist worker.
- ``account_id`` / ``realm_id``: unique per test, so tests share tables without sharing data.
- ``bus_events_queue``: a fresh SQS queue receiving everything published with Source
  ``kyrios.quickbooks`` on the bus; ``drain(queue_url, n, timeout)`` reads events back.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# The reliability suite's counts are printed at the end of every run (xdist's controller only loads
# plugins named here, not a subfolder's conftest).
pytest_plugins = ["tests.reliability.report"]

REPO_ROOT = Path(__file__).resolve().parent.parent

# Set before anything imports boto3 or Powertools: no test may reach the internet or real AWS.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "KyriosQuickBooks")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "kyrios-quickbooks")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

# Generated cases: `make test` draws the same examples on every run, so what CI finds a developer
# replays and CI never fails on a draw nobody saw before; HYPOTHESIS_PROFILE=explore (and `make soak`)
# draws new ones each run to look further.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _reset_cached_clients() -> None:
    """Drop clients/settings cached per container so they pick up the local environment."""
    from kyrios_qbo import aws_clients
    from kyrios_qbo.config import get_settings

    get_settings.cache_clear()
    aws_clients.client.cache_clear()


@pytest.fixture(scope="session")
def local_aws() -> Iterator[Any]:
    """Local AWS from template.yaml; yields ``local.aws.LocalResources``."""
    from local.aws import provision, start_moto, union_environment, use_local_aws
    from local.template import load_template

    server = start_moto()
    saved = dict(os.environ)
    try:
        use_local_aws(server.endpoint_url)
        resources = provision(load_template(), server.endpoint_url, stage="test")
        os.environ.update(union_environment(resources))
        _reset_cached_clients()
        yield resources
    finally:
        os.environ.clear()
        os.environ.update(saved)
        _reset_cached_clients()
        server.stop()


@pytest.fixture
def account_id() -> str:
    return f"acct-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def realm_id() -> str:
    # QBO realm ids are long decimal numbers.
    return str(9_000_000_000_000_000 + uuid.uuid4().int % 1_000_000_000_000_000)


@pytest.fixture
def sqs(local_aws: Any) -> Any:
    import boto3

    return boto3.client("sqs")


@pytest.fixture
def bus_events_queue(local_aws: Any, sqs: Any) -> Iterator[str]:
    """URL of a new queue that receives every ``kyrios.quickbooks`` event put on the bus."""
    import boto3

    events = boto3.client("events")
    suffix = uuid.uuid4().hex[:12]
    queue_url = sqs.create_queue(QueueName=f"test-bus-events-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"test-bus-events-{suffix}"
    events.put_rule(
        Name=rule,
        EventBusName=local_aws.event_bus_name,
        EventPattern=json.dumps({"source": ["kyrios.quickbooks"]}),
        State="ENABLED",
    )
    events.put_targets(
        Rule=rule, EventBusName=local_aws.event_bus_name, Targets=[{"Id": "q", "Arn": queue_arn}]
    )
    try:
        yield queue_url
    finally:
        events.remove_targets(Rule=rule, EventBusName=local_aws.event_bus_name, Ids=["q"])
        events.delete_rule(Name=rule, EventBusName=local_aws.event_bus_name)
        sqs.delete_queue(QueueUrl=queue_url)


def drain_queue(sqs: Any, queue_url: str, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Receive and delete up to ``n`` messages (JSON bodies), waiting at most ``timeout`` seconds.

    Returns early once ``n`` arrived, so asserting ``len(...) == n`` also catches too few; call it
    again with a short timeout to check that nothing more arrives.
    """
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(received) < n and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, n - len(received)),
            WaitTimeSeconds=max(0, min(1, int(deadline - time.monotonic()))),
        )
        for message in answer.get("Messages", []):
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


@pytest.fixture
def drain(sqs: Any) -> Callable[..., list[dict[str, Any]]]:
    """``drain(queue_url, n, timeout=5.0)`` → up to n message bodies (EventBridge envelopes)."""

    def _drain(queue_url: str, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return drain_queue(sqs, queue_url, n, timeout)

    return _drain


# ------------------------------------------------------------------------------ the QBO emulator
def reset_bundle_caches() -> None:
    """Forget what the layer caches per container (settings, app secret, tokens, company details):
    tests change the configuration between modules, as a new deployment would."""
    from kyrios_qbo import catalog, intuit_app, tokens
    from kyrios_qbo.config import get_settings

    get_settings.cache_clear()
    intuit_app.forget_cached()
    tokens.forget_cached()
    catalog.forget_companies()


@contextmanager
def bundle_on_emulator(
    server: Any, *, env: Mapping[str, str] | None = None, redirect_uris: Sequence[str] = ()
) -> Iterator[Any]:
    """Point the bundle at a running QBO emulator exactly as a deployment points it at Intuit: a
    Secrets Manager secret with the emulator app's credentials, INTUIT_ENVIRONMENT = its discovery
    document, QBO_API_BASE_URL = its API, plus ``env``; everything is restored afterwards."""
    import boto3

    from local.qbo_emulator import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REDIRECT_URIS,
        DEFAULT_VERIFIER_TOKEN,
    )

    secret_name = f"test/intuit-app/{uuid.uuid4().hex[:10]}"
    boto3.client("secretsmanager").create_secret(
        Name=secret_name,
        SecretString=json.dumps({
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "webhook_verifier_token": DEFAULT_VERIFIER_TOKEN,
        }),
    )
    settings = dict(env or {})
    callback = settings.get("OAUTH_REDIRECT_URI", os.environ.get("OAUTH_REDIRECT_URI"))
    server.control.register_app(
        DEFAULT_CLIENT_ID,
        redirect_uris=[*DEFAULT_REDIRECT_URIS, *redirect_uris, *([callback] if callback else [])],
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INTUIT_APP_SECRET_ID", secret_name)
        patch.setenv("INTUIT_ENVIRONMENT", server.discovery_url)
        patch.setenv("QBO_API_BASE_URL", server.api_base)
        for name, value in settings.items():
            patch.setenv(name, value)
        reset_bundle_caches()
        try:
            yield server
        finally:
            reset_bundle_caches()
