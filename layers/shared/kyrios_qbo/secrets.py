"""The Intuit app's credentials, read from Secrets Manager once per container.

The secret (``INTUIT_APP_SECRET_ID``) is a JSON object ``{client_id, client_secret,
webhook_verifier_token}``. It is cached per secret id, so a warm container never calls Secrets
Manager again; a rotated secret reaches new containers (and this one after :func:`forget_cached`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3

from kyrios_qbo.config import ConfigError, get_settings


@dataclass(frozen=True)
class IntuitApp:
    """Credentials of the Intuit app. ``repr`` hides the secret values so they never reach a log."""

    client_id: str
    client_secret: str = field(repr=False)
    webhook_verifier_token: str = field(repr=False)


_lock = threading.Lock()
_cache: dict[str, IntuitApp] = {}
_client: Any = None


def _secrets_client() -> Any:
    global _client
    if _client is None:
        # AWS_ENDPOINT_URL (local stack) is honoured by botocore itself.
        _client = boto3.client("secretsmanager")
    return _client


def parse_app_secret(secret_string: str) -> IntuitApp:
    """Validate the secret's JSON; a broken secret is a deployment error (ConfigError), named by key."""
    try:
        raw = json.loads(secret_string)
    except ValueError:
        # "from None": the decoder's message quotes the secret's text.
        raise ConfigError("the Intuit app secret is not valid JSON") from None
    if not isinstance(raw, dict):
        raise ConfigError("the Intuit app secret must be a JSON object")
    values: dict[str, str] = {}
    for key in ("client_id", "client_secret", "webhook_verifier_token"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"the Intuit app secret lacks a non-empty string {key!r}")
        values[key] = value.strip()
    return IntuitApp(**values)


def get_intuit_app() -> IntuitApp:
    """The app credentials of this deployment (Secrets Manager, cached per secret id)."""
    secret_id = get_settings().require("intuit_app_secret_id")
    cached = _cache.get(secret_id)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(secret_id)
        if cached is None:
            answer = _secrets_client().get_secret_value(SecretId=secret_id)
            cached = parse_app_secret(answer["SecretString"])
            _cache[secret_id] = cached
    return cached


def forget_cached() -> None:
    """Drop cached credentials (after a rotation; tests that change the secret's value)."""
    with _lock:
        _cache.clear()
