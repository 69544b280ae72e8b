"""schemathesis against the UI API's OpenAPI description, on the local stack's front door with a
development token: no 5xx, and every answer the description covers matches its schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from local.runner import LocalBundle
from local.template import REPO_ROOT
from tests.reliability.harness import Company, Counts, connect_company, disconnect, profile

OPENAPI = REPO_ROOT / "openapi.json"


@pytest.fixture(scope="module")
def api_company(stack: LocalBundle) -> Iterator[Company]:
    connected = connect_company(stack, "GB", "schema")
    yield connected
    disconnect(connected)


# Loaded at collection (the front door's URL is given per call): schemathesis' lazy
# ``pytest.from_fixture`` sets ``node._nodeid``, which pytest 9 no longer has.
schema = schemathesis.openapi.from_path(str(OPENAPI))
# Valid and invalid cases alike (negative: wrong types, unknown fields, bad query values...): every
# answer is documented and none is a 5xx.
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(
    max_examples=profile().api_examples,
    deadline=None,
    derandomize=profile().name == "short",  # soak rounds explore new examples
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_description(
    case: Any, stack: LocalBundle, api_company: Company, counts: Counts
) -> None:
    token = stack.dev_token(api_company.account_id)
    response = case.call(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    counts.add("bad_inputs")
    counts.add("http_5xx", 1 if response.status_code >= 500 else 0)
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )


def test_api_workflows_never_fail_the_server(
    stack: LocalBundle, api_company: Company, counts: Counts
) -> None:
    """Stateful: sequences of calls where an answer feeds a later call (an import started, then read
    and cancelled by its id: links schemathesis infers from the description), valid and invalid
    alike. Generated import bodies rarely pass the date rules the schema cannot express (2000 floor,
    start before end), so most sequences stop at that refusal; none may end in a 5xx."""
    token = stack.dev_token(api_company.account_id)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": stack.api_url, "headers": {"Authorization": f"Bearer {token}"}, "timeout": 30}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            counts.add("bad_inputs")
            counts.add("http_5xx", 1 if response.status_code >= 500 else 0)
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
            )

    Workflow.run(
        settings=settings(
            max_examples=profile().api_examples,
            stateful_step_count=4,
            deadline=None,
            derandomize=profile().name == "short",
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_operation_documents_its_success_answer() -> None:
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if not any(code.startswith("2") for code in operation.get("responses", {}))
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/integrations/quickbooks/imports",
            '{"start_date": "2025-01-01", "end_date": "2025-01-31"}',
        ),
        ("PATCH", "/integrations/quickbooks/settings", '{"send_review_requests": true}'),
    ],
)
def test_a_multipart_body_without_boundary_is_refused_not_a_500(
    stack: LocalBundle, api_company: Company, method: str, path: str, body: str
) -> None:
    answer = requests.request(
        method,
        stack.api_url + path,
        data=body,
        headers={
            "Authorization": f"Bearer {stack.dev_token(api_company.account_id)}",
            "Content-Type": "multipart/form-data",
        },
        timeout=30,
    )
    assert answer.status_code == 415, (answer.status_code, answer.text)
    assert answer.json()["error"] == "unsupported_media_type"


SETTINGS = "/integrations/quickbooks/settings"
IMPORTS = "/integrations/quickbooks/imports"
IMPORT_2025 = b'{"start_date": "2025-01-01", "end_date": "2025-01-31", "send_review_requests": true}'
BODILESS = [
    ("POST", "/integrations/quickbooks/connect"),
    ("POST", "/integrations/quickbooks/dead-letters/redrive"),
    ("GET", "/integrations/quickbooks/sync-log"),
    ("GET", "/integrations/quickbooks"),
    ("DELETE", "/integrations/quickbooks"),
    ("DELETE", "/integrations/quickbooks/imports/some-job"),
]


def _call(stack: LocalBundle, company: Company, method: str, path: str, data: bytes | None,
          headers: dict[str, str] | None = None) -> requests.Response:
    token = stack.dev_token(company.account_id)
    return requests.request(method, stack.api_url + path, data=data, timeout=30,
                            headers={"Authorization": f"Bearer {token}", **(headers or {})})


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", SETTINGS, b'[{"send_review_requests": false}, {"bogus": 1}]'),
        ("POST", IMPORTS, b"[" + IMPORT_2025 + b', {"bogus": 1}]'),
        ("PATCH", SETTINGS, b"[" * 5000 + b"]" * 5000),
        ("POST", IMPORTS, IMPORT_2025.replace(b"2025-", b"1753-")),
    ],
)
def test_a_body_is_exactly_the_documented_object(
    stack: LocalBundle, api_company: Company, counts: Counts, method: str, path: str, body: bytes
) -> None:
    answer = _call(stack, api_company, method, path, body, {"Content-Type": "application/json"})
    counts.add("bad_inputs")
    counts.add("http_5xx", 1 if answer.status_code >= 500 else 0)
    assert answer.status_code == 400, (answer.status_code, answer.text)
    assert answer.json()["error"] in ("invalid_request", "malformed_json")


@pytest.fixture(scope="module")
def bodies_company(stack: LocalBundle) -> Iterator[Company]:
    """Its own company: schemathesis' DELETE disconnects ``api_company``."""
    connected = connect_company(stack, "GB", "bodies")
    yield connected
    disconnect(connected)


@pytest.mark.parametrize(("method", "path"), BODILESS)
def test_a_body_on_a_route_that_takes_none_is_refused_and_does_nothing(
    stack: LocalBundle, bodies_company: Company, counts: Counts, method: str, path: str
) -> None:
    answer = _call(stack, bodies_company, method, path, b"{bad json", {"Content-Type": "application/json"})
    counts.add("bad_inputs")
    assert (answer.status_code, answer.json()["error"]) == (400, "body_not_allowed"), answer.text
    status = _call(stack, bodies_company, "GET", "/integrations/quickbooks", None).json()
    assert status["status"] == "connected"  # the DELETE did not disconnect


@pytest.mark.parametrize(("method", "path"), [("PATCH", SETTINGS), ("POST", IMPORTS)])
def test_a_json_body_without_content_type_is_415(
    stack: LocalBundle, api_company: Company, counts: Counts, method: str, path: str
) -> None:
    prepared = requests.Request(
        method, stack.api_url + path, data=b'{"send_review_requests": false}',
        headers={"Authorization": f"Bearer {stack.dev_token(api_company.account_id)}"},
    ).prepare()
    prepared.headers.pop("Content-Type", None)
    answer = requests.Session().send(prepared, timeout=30)
    counts.add("bad_inputs")
    assert (answer.status_code, answer.json()["error"]) == (415, "unsupported_media_type"), answer.text


@pytest.mark.parametrize(
    "token",
    ["not.a.jwt", "/w.e30.AAAA", "e30.w8g.AAAA", "a.b.c.d", "W1tbW1tbW1td.e30.AAAA", ""],
)
def test_a_malformed_bearer_token_is_401_json_like_api_gateway(
    stack: LocalBundle, counts: Counts, token: str
) -> None:
    answer = requests.get(stack.api_url + "/integrations/quickbooks",
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    counts.add("bad_inputs")
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
