"""UI API (authorized HTTP API routes under /integrations/quickbooks).

A thin adapter: routers under ``routes/`` parse requests and call the layer; this module assembles
them and turns every refusal into ``{"error": code, "message": ...}`` with a 4xx status.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyrios_qbo.intuit_auth import IntuitAuthError
from kyrios_qbo.observability import logger, metrics, tracer
from kyrios_qbo.store.errors import NotConnected
from kyrios_qbo.tokens import NeedsReconnect

ROUTE_MODULES = ("connection", "imports", "sync_log", "dead_letters")
"""Every router module of ``routes/``."""

# Lambda imports this file as ``app`` next to the ``routes`` package; tests import ``functions.api.app``.
_PACKAGE = f"{__package__}.routes" if __package__ else "routes"

routes: Any = importlib.import_module(_PACKAGE)
app = APIGatewayHttpResolver(enable_validation=True)
for _name in ROUTE_MODULES:
    app.include_router(importlib.import_module(f"{_PACKAGE}.{_name}").router)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _problem(status: int, error: str, message: str, field: str | None = None) -> Response[str]:
    body = routes.ApiProblem(status, error, message, field).body()
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


@app.exception_handler(routes.ApiProblem)
def _api_problem(exc: Any) -> Response[str]:
    return _problem(exc.status, exc.error, exc.message, exc.field)


def _field_of(location: tuple[Any, ...]) -> str | None:
    parts = [str(part) for part in location[1:] if not isinstance(part, int)]
    return ".".join(parts) or None


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return _problem(400, "malformed_json", "The request body is not valid JSON.")
    location = tuple(first.get("loc", ()))
    field = _field_of(location)
    if first.get("type") == "extra_forbidden":
        return _problem(400, "unknown_field", f"Unknown field {field!r}.", field)
    if first.get("type") == "missing" and field is None:
        return _problem(400, "missing_body", "The request needs a JSON body.")
    where = f"{field}: " if field else ""
    return _problem(400, "invalid_request", f"{where}{first.get('msg', 'invalid value')}.", field)


@app.exception_handler(NotConnected)
def _not_connected(_exc: NotConnected) -> Response[str]:
    return _problem(409, "not_connected", "QuickBooks is not connected for this account.")


@app.exception_handler(NeedsReconnect)
def _needs_reconnect(_exc: NeedsReconnect) -> Response[str]:
    return _problem(409, "needs_reconnect", "Reconnect QuickBooks in Kyrios settings.")


@app.exception_handler(IntuitAuthError)
def _intuit_unavailable(exc: IntuitAuthError) -> Response[str]:
    logger.warning("intuit call failed", extra={"status": exc.status, "intuit_tid": exc.intuit_tid})
    return _problem(503, "intuit_unavailable", "Intuit could not be reached. Try again in a moment.")


@app.not_found
def _not_found(_exc: Exception) -> Response[str]:
    return _problem(404, "not_found", "No such route.")


OPENAPI_TITLE = "Kyrios QuickBooks integration API"
OPENAPI_VERSION = "1.0.0"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 description of the routes above (``openapi.json`` at the repo root is this).

    Powertools documents a 422 for request validation; this API answers 400 (see ``_invalid_request``),
    so the 422 entries and their schemas are dropped.
    """
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=OPENAPI_TITLE,
            version=OPENAPI_VERSION,
            description="Settings → Integrations → QuickBooks. Every route needs the Kyrios JWT; the "
            'account comes from its claims. Errors answer {"error", "message", "field"?}.',
        )
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)  # only the dropped 422 entries referred to it
    return document


def render_openapi() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# capture_response=False: the connect answer carries the OAuth state, which must not reach traces.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if event.get("body") and not _is_json(headers.get("content-type")):
        # Refused before the resolver: its request validation raises on some media types (a multipart
        # type without a boundary), which would otherwise be a 500.
        problem = routes.ApiProblem(
            415, "unsupported_media_type", "Send the request body as application/json."
        )
        return {
            "statusCode": 415,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": problem.body().model_dump_json(exclude_none=True),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)


if __name__ == "__main__":  # python -m functions.api.app > openapi.json
    sys.stdout.write(render_openapi())
