"""The Intuit app's credentials, from Secrets Manager through Powertools Parameters.

The secret (``INTUIT_APP_SECRET_ID``) is a JSON object ``{client_id, client_secret,
webhook_verifier_token}``. Powertools keeps it for ``SECRET_MAX_AGE_SECONDS``: a warm container
calls Secrets Manager at most once per that time, and a rotated secret (a new client secret, a new
webhook verifier token) is picked up within it without a redeploy.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from kyrios_qbo import aws_clients
from kyrios_qbo.config import ConfigError, get_settings

SECRET_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class IntuitApp:
    """Credentials of the Intuit app. ``repr`` hides the secret values so they never reach a log."""

    client_id: str
    client_secret: str = field(repr=False)
    webhook_verifier_token: str = field(repr=False)


_lock = threading.Lock()
_provider: tuple[Any, Any] | None = None  # (the boto3 client it was built on, the SecretsProvider)
_parsed: dict[str, IntuitApp] = {}  # secret text -> its parsed form (the text changes on rotation)


def _secrets() -> Any:
    """The provider over the container's current Secrets Manager client (a new client, e.g. after the
    local stack re-pointed the layer at another endpoint, gets a new provider)."""
    global _provider
    client = aws_clients.client("secretsmanager")
    with _lock:
        if _provider is None or _provider[0] is not client:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            _provider = (client, SecretsProvider(boto3_client=client))
        return _provider[1]


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
    """The app credentials of this deployment (at most ``SECRET_MAX_AGE_SECONDS`` old)."""
    secret_id = get_settings().require("intuit_app_secret_id")
    text = _secrets().get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    if not isinstance(text, str):
        raise ConfigError("the Intuit app secret must be a SecretString")
    app = _parsed.get(text)
    if app is None:
        app = parse_app_secret(text)
        with _lock:
            _parsed.clear()  # only the current value is worth keeping
            _parsed[text] = app
    return app


def forget_cached() -> None:
    """Drop cached credentials (tests that change the secret's value; a rotation to pick up now)."""
    with _lock:
        if _provider is not None:
            _provider[1].clear_cache()
        _parsed.clear()
