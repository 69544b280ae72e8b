"""openapi.json at the repo root is exactly what the API's resolver describes (regenerate with
``python -m functions.api.app > openapi.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from functions.api.app import ROUTE_MODULES, openapi_document, render_openapi

REPO_ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = REPO_ROOT / "openapi.json"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for inner in value.values() for ref in _refs(inner)]
    if isinstance(value, list):
        return [ref for inner in value for ref in _refs(inner)]
    return []


def test_openapi_json_matches_the_resolver() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == render_openapi(), (
        "openapi.json is out of date: run `python -m functions.api.app > openapi.json`"
    )


def test_connection_routes_are_described_with_their_error_shape() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert set(paths["/integrations/quickbooks"]) == {"get", "delete"}
    assert set(paths["/integrations/quickbooks/connect"]) == {"post"}
    assert set(paths["/integrations/quickbooks/settings"]) == {"patch"}
    patch = paths["/integrations/quickbooks/settings"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SettingsPatch")
    assert {"400", "401", "409"} <= set(patch["responses"])
    assert "422" not in patch["responses"]  # the API answers 400, not Powertools' 422
    error_schema = document["components"]["schemas"]["ApiError"]
    assert set(error_schema["required"]) == {"error", "message"}
    settings = document["components"]["schemas"]["SettingsPatch"]
    assert settings.get("additionalProperties") is False
    assert set(settings["properties"]) == {"send_review_requests", "sync_contacts", "push_invoices",
                                           "push_payments"}


def test_every_reference_resolves() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_route_modules_listed_once() -> None:
    assert len(set(ROUTE_MODULES)) == len(ROUTE_MODULES)
    assert "connection" in ROUTE_MODULES
    assert json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))["info"]["title"]
