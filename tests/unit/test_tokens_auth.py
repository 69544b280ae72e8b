"""Pure parts of the token modules: error translation, secret parsing, secrets kept out of reprs."""

from __future__ import annotations

import json

import pytest
import requests
from intuitlib.exceptions import AuthClientError

from kyrios_qbo.config import ConfigError
from kyrios_qbo.intuit_app import IntuitApp, parse_app_secret
from kyrios_qbo.intuit_auth import (
    IntuitAuthError,
    IntuitUnavailable,
    InvalidGrant,
    IssuedTokens,
    translate_error,
)
from tests.fixtures import QBO_SAMPLES


def _auth_client_error(status: int, body: bytes, headers: dict[str, str] | None = None) -> AuthClientError:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    return AuthClientError(response)


def test_invalid_grant_sample_becomes_invalid_grant_with_tid() -> None:
    body = (QBO_SAMPLES / "oauth-token-error-invalid-grant.json").read_bytes()
    error = translate_error(_auth_client_error(400, body, {"intuit_tid": "1-abc-2"}), what="refresh")
    assert isinstance(error, InvalidGrant)
    assert (error.status, error.error, error.intuit_tid) == (400, "invalid_grant", "1-abc-2")
    assert error.retryable is False
    assert "Token invalid" not in str(error)  # the body is never echoed


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttle_and_server_errors_are_retryable(status: int) -> None:
    error = translate_error(_auth_client_error(status, b"<html>oops</html>"), what="refresh")
    assert isinstance(error, IntuitUnavailable) and error.retryable
    assert error.status == status and error.error is None


def test_other_oauth_errors_are_permanent() -> None:
    error = translate_error(_auth_client_error(401, json.dumps({"error": "invalid_client"}).encode()),
                            what="exchange_code")
    assert type(error) is IntuitAuthError
    assert error.error == "invalid_client" and not error.retryable


@pytest.mark.parametrize("exc", [requests.Timeout("t"), requests.ConnectionError("reset")])
def test_transport_errors_are_unavailable(exc: Exception) -> None:
    error = translate_error(exc, what="refresh")
    assert isinstance(error, IntuitUnavailable)
    assert error.status is None


def test_issued_tokens_repr_hides_values() -> None:
    tokens = IssuedTokens("access-SECRET", "refresh-SECRET", access_expires_at=1.0)
    assert "SECRET" not in repr(tokens)


def test_app_secret_parsing() -> None:
    app = parse_app_secret(json.dumps({"client_id": "id", "client_secret": "s3cr3t",
                                       "webhook_verifier_token": "v3r1f13r"}))
    assert app == IntuitApp("id", "s3cr3t", "v3r1f13r")
    assert "s3cr3t" not in repr(app) and "v3r1f13r" not in repr(app)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("not json s3cr3t", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"client_id": "id", "client_secret": ""}', "client_secret"),
        ('{"client_id": "id", "client_secret": "x"}', "webhook_verifier_token"),
    ],
)
def test_broken_app_secret_is_a_config_error_that_never_quotes_it(raw: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_app_secret(raw)
    assert named in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert caught.value.__cause__ is None
