"""Bad request bodies through the API handler: a clear 4xx JSON answer that names the rule, and nothing
changes (no setting flipped, no import started, no disconnect). The one body rule is
``functions.api.app.BODY_RULES``."""

# Fixtures are imported from connect_support, so test parameters "redefine" them:
# ruff: noqa: F811

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from kyrios_qbo import store
from local.lambda_context import lambda_context
from tests.integration.connect_support import (  # noqa: F401 - fixtures
    api_event,
    call_api,
    company,
    connect,
    connect_env,
    emulator,
)

pytestmark = pytest.mark.usefixtures("connect_env")
SETTINGS = "/integrations/quickbooks/settings"
IMPORTS = "/integrations/quickbooks/imports"
ARRAY_WRAPPED = '[{"send_review_requests": false}, {"bogus": 1}]'
BODILESS = [
    ("POST", "/integrations/quickbooks/connect"),
    ("POST", "/integrations/quickbooks/dead-letters/redrive"),
    ("GET", "/integrations/quickbooks/sync-log"),
    ("GET", "/integrations/quickbooks"),
    ("DELETE", "/integrations/quickbooks"),
    ("GET", "/integrations/quickbooks/imports/job-1"),
    ("DELETE", "/integrations/quickbooks/imports/job-1"),
]


def _send(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from functions.api.app import lambda_handler

    answer = lambda_handler(event, lambda_context("api"))
    assert answer["headers"]["Content-Type"].startswith("application/json"), answer
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def connected(account_id: str, company: str) -> str:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    return account_id


def test_an_array_wrapping_a_valid_settings_object_is_refused(connected: str) -> None:
    before = store.get_connection(connected)

    code, body = call_api("PATCH", SETTINGS, connected, raw_body=ARRAY_WRAPPED)

    assert (code, body["error"]) == (400, "invalid_request"), body
    assert "object" in body["message"]
    assert store.get_connection(connected) == before


def test_an_array_wrapping_a_valid_import_request_is_refused(connected: str) -> None:
    good = {"start_date": "2024-01-01", "end_date": "2024-01-31", "send_review_requests": True}

    code, body = call_api("POST", IMPORTS, connected, raw_body=json.dumps([good, {"bogus": 1}]))

    assert (code, body["error"]) == (400, "invalid_request"), body
    assert store.get_running_import_id(connected) is None


@pytest.mark.parametrize(("method", "path"), BODILESS)
@pytest.mark.parametrize("raw", ["{bad json", '{"send_review_requests": false}', "[]"])
def test_a_body_on_a_route_that_takes_none_is_refused(
    connected: str, method: str, path: str, raw: str
) -> None:
    before = store.get_connection(connected)

    code, body = call_api(method, path, connected, raw_body=raw)

    assert (code, body["error"]) == (400, "body_not_allowed"), body
    after = store.get_connection(connected)
    assert after is not None and after.status == "connected"  # the DELETE did not disconnect
    assert after == before


def test_a_body_on_a_bodiless_route_is_refused_without_content_type_too(connected: str) -> None:
    event = api_event("DELETE", "/integrations/quickbooks", connected, raw_body="{bad json")
    del event["headers"]["content-type"]

    code, body = _send(event)

    assert (code, body["error"]) == (400, "body_not_allowed"), body
    connection = store.get_connection(connected)
    assert connection is not None and connection.status == "connected"


def test_bodiless_routes_still_answer_without_a_body(connected: str) -> None:
    code, body = call_api("GET", "/integrations/quickbooks/sync-log", connected)
    assert code == 200, body
    code, body = call_api("DELETE", "/integrations/quickbooks", connected)
    assert (code, body["status"]) == (200, "not_connected"), body


@pytest.mark.parametrize(("method", "path"), [("PATCH", SETTINGS), ("POST", IMPORTS)])
def test_a_json_body_without_content_type_is_415(connected: str, method: str, path: str) -> None:
    before = store.get_connection(connected)
    body_of = {
        SETTINGS: {"send_review_requests": False},
        IMPORTS: {"start_date": "2024-01-01", "end_date": "2024-01-31", "send_review_requests": True},
    }
    event = api_event(method, path, connected, body=body_of[path])
    del event["headers"]["content-type"]

    code, body = _send(event)

    assert (code, body["error"]) == (415, "unsupported_media_type"), body
    assert store.get_connection(connected) == before
    assert store.get_running_import_id(connected) is None


def test_a_base64_encoded_json_body_is_read_like_a_plain_one(connected: str) -> None:
    event = api_event("PATCH", SETTINGS, connected, body={"send_review_requests": False})
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True

    code, body = _send(event)

    assert code == 200, body
    assert body["settings"]["send_review_requests"] is False


def test_a_body_nested_thousands_deep_is_400_not_500(connected: str) -> None:
    before = store.get_connection(connected)

    code, body = call_api("PATCH", SETTINGS, connected, raw_body="[" * 5000 + "]" * 5000)

    assert (code, body["error"]) == (400, "malformed_json"), body
    assert store.get_connection(connected) == before


@pytest.mark.parametrize("start", ["0001-01-01", "1753-01-01", "1999-12-31"])
def test_imports_before_the_earliest_date_are_400_naming_start_date(account_id: str, start: str) -> None:
    end = start[:4] + "-12-31"
    request = {"start_date": start, "end_date": end, "send_review_requests": True}

    code, body = call_api("POST", IMPORTS, account_id, body=request)

    assert (code, body["error"], body["field"]) == (400, "invalid_request", "start_date"), body
    assert "2000-01-01" in body["message"]
    assert store.get_running_import_id(account_id) is None
