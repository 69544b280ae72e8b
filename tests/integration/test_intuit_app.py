"""The Intuit app's credentials come from Secrets Manager and follow a rotation within max_age."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from kyrios_qbo import intuit_app
from kyrios_qbo.config import ConfigError, get_settings


def _value(client_id: str) -> str:
    return json.dumps({"client_id": client_id, "client_secret": "s3cret", "webhook_verifier_token": "vt"})


@pytest.fixture
def secret_id(local_aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"test/intuit-app-rotation/{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=_value("first"))
    monkeypatch.setenv("INTUIT_APP_SECRET_ID", name)
    get_settings.cache_clear()
    intuit_app.forget_cached()
    yield name
    get_settings.cache_clear()
    intuit_app.forget_cached()


def test_a_rotated_secret_is_picked_up_once_max_age_passed(secret_id: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intuit_app, "SECRET_MAX_AGE_SECONDS", 1)
    assert intuit_app.get_intuit_app().client_id == "first"
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=_value("second"))
    assert intuit_app.get_intuit_app().client_id == "first"  # a warm container does not ask again
    time.sleep(1.1)
    assert intuit_app.get_intuit_app().client_id == "second"  # no redeploy, no restart


def test_a_broken_secret_is_a_named_configuration_error(secret_id: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString='{"client_id": "x"}')
    intuit_app.forget_cached()
    with pytest.raises(ConfigError, match="client_secret"):
        intuit_app.get_intuit_app()
