"""schemathesis against the UI API's OpenAPI description, on the local stack's front door with a
development token: no 5xx, and every answer the description covers matches its schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from local.runner import LocalStack
from local.template import REPO_ROOT
from tests.reliability.harness import Company, Counts, connect_company, disconnect, profile

OPENAPI = REPO_ROOT / "openapi.json"


@pytest.fixture(scope="module")
def api_company(stack: LocalStack) -> Iterator[Company]:
    connected = connect_company(stack, "GB", "schema")
    yield connected
    disconnect(connected)


# Loaded at collection (the front door's URL is given per call): schemathesis' lazy
# ``pytest.from_fixture`` sets ``node._nodeid``, which pytest 9 no longer has.
schema = schemathesis.openapi.from_path(str(OPENAPI))


@schema.parametrize()
@settings(
    max_examples=profile().api_examples,
    deadline=None,
    derandomize=profile().name == "short",  # soak rounds explore new examples
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_description(
    case: Any, stack: LocalStack, api_company: Company, counts: Counts
) -> None:
    token = stack.dev_token(api_company.account_id)
    response = case.call(base_url=stack.api_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    counts.add("bad_inputs")
    counts.add("http_5xx", 1 if response.status_code >= 500 else 0)
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
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
    stack: LocalStack, api_company: Company, method: str, path: str, body: str
) -> None:
    import requests

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
