"""Fixtures and helpers of the connect/token tests (no tests here).

The QBO emulator runs in-process on a free port; local AWS is the session's moto server. The Intuit
app secret (emulator credentials) is stored in Secrets Manager under a name unique to the module,
and the environment points the bundle at the emulator exactly as a deployment would point it at
Intuit. Handlers are invoked with API Gateway HTTP API v2 events built from ``events/`` samples.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from local.lambda_context import lambda_context
from tests.conftest import bundle_on_emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "events"
REDIRECT_URI = "https://api.kyrios.test/integrations/quickbooks/callback"
UI_RETURN_URL = "https://app.kyrios.test/settings/integrations/quickbooks"
CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
VERIFIER = "emulator-verifier-token"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    from local.qbo_emulator import EmulatorServer

    server = EmulatorServer.start(port=0, rate_limits=False, default_seed="minimal")
    try:
        server.control.register_app(CLIENT_ID, redirect_uris=[REDIRECT_URI])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def connect_env(local_aws: Any, emulator: Any) -> Iterator[Any]:
    """Environment of the api / oauth_callback functions, wired to the emulator."""
    env = {"OAUTH_REDIRECT_URI": REDIRECT_URI, "UI_RETURN_URL": UI_RETURN_URL, "HTTP_TIMEOUT_SECONDS": "10"}
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ACCOUNT_ID_CLAIM", raising=False)
        with bundle_on_emulator(emulator, env=env):
            yield emulator


@pytest.fixture
def company(emulator: Any, realm_id: str) -> str:
    """A fresh GB company at the emulator (unique realm: no realm ownership shared between tests)."""
    emulator.control.add_company(realm_id, f"Test Company {realm_id[-4:]}", "GB", "GBP")
    return realm_id


# ---------------------------------------------------------------------------------------- events
def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def api_event(
    method: str,
    path: str,
    account_id: str | None,
    *,
    body: Any = None,
    raw_body: str | None = None,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API v2 event for the API function, from events/api-status.json."""
    event = copy.deepcopy(_sample("api-status.json"))
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    jwt_claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    jwt_claims.pop("kyrios:account_id")
    if account_id is not None:
        jwt_claims["kyrios:account_id"] = account_id
    jwt_claims.update(claims or {})
    if raw_body is not None or body is not None:
        event["body"] = raw_body if raw_body is not None else json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


def callback_event(params: dict[str, str]) -> dict[str, Any]:
    """An HTTP API v2 event for the public callback, from events/oauth-callback-approved.json."""
    event = copy.deepcopy(_sample("oauth-callback-approved.json"))
    event["rawQueryString"] = urlencode(params)
    if params:
        event["queryStringParameters"] = dict(params)
    else:
        event.pop("queryStringParameters", None)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    return event


def call_api(method: str, path: str, account_id: str | None, **kwargs: Any) -> tuple[int, Any]:
    from functions.api.app import lambda_handler

    answer = lambda_handler(api_event(method, path, account_id, **kwargs), lambda_context("api"))
    body = answer.get("body")
    return answer["statusCode"], json.loads(body) if body else None


def call_callback(params: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    """(status, Location, the Location's query parameters)."""
    from functions.oauth_callback.app import lambda_handler

    answer = lambda_handler(callback_event(params), lambda_context("oauth_callback"))
    location = answer["headers"]["Location"]
    return answer["statusCode"], location, dict(parse_qsl(urlsplit(location).query))


def consent(authorize_url: str, realm_id: str, decision: str = "approve") -> dict[str, str]:
    """What Intuit's redirect carries after the user decides at the (emulated) consent page."""
    response = requests.get(
        authorize_url,
        params={"emulator_auto": decision, "realm": realm_id},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:300]
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return dict(parse_qsl(urlsplit(location).query))


def start_connect(account_id: str, *, claims: dict[str, Any] | None = None) -> str:
    status, body = call_api("POST", "/integrations/quickbooks/connect", account_id, claims=claims)
    assert status == 200, body
    return str(body["authorize_url"])


COMPLETE = "/integrations/quickbooks/connect/complete"


def complete(account_id: str | None, ref: str, *, claims: dict[str, Any] | None = None) -> tuple[int, Any]:
    """What the Kyrios page does when it loads with ``?quickbooks=approved&ref=…``."""
    return call_api("POST", COMPLETE, account_id, body={"ref": ref}, claims=claims)


def finish(params: dict[str, str], account_id: str, *,
           claims: dict[str, Any] | None = None) -> tuple[int, str, dict[str, str]]:
    """Intuit's redirect reaches the callback, then the Kyrios page of ``account_id`` completes.

    The outcome reads as the page would say it: ``{"quickbooks": "connected"}`` or
    ``{"quickbooks": "error", "reason": <code>}`` (from the callback's redirect or the completion).
    """
    status, location, outcome = call_callback(params)
    if outcome.get("quickbooks") != "approved":
        return status, location, outcome
    assert set(outcome) == {"quickbooks", "ref"}, outcome
    code, body = complete(account_id, outcome["ref"], claims=claims)
    if code == 200:
        assert body["status"] == "connected", body
        return code, location, {"quickbooks": "connected"}
    return code, location, {"quickbooks": "error", "reason": body["error"]}


def connect(account_id: str, realm_id: str) -> tuple[int, str, dict[str, str]]:
    """The whole browser round trip: connect → Intuit consent (approve) → callback → completion."""
    params = consent(start_connect(account_id), realm_id)
    return finish(params, account_id)


def environment_secret_values() -> list[str]:
    return [CLIENT_SECRET, VERIFIER]
