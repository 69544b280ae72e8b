"""UI API (authorized HTTP API routes under /integrations/quickbooks).

A thin adapter: routers under ``routes/`` parse requests and call the layer; this module assembles
them and turns every refusal into ``{"error": code, "message": ...}`` with a 4xx status.
"""

from __future__ import annotations

import base64
import binascii
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


BODY_RULES = (
    "A route without a request body refuses any non-empty body (400 `body_not_allowed`), so a client "
    "bug never triggers an action such as a disconnect. A route with a body takes exactly the "
    "documented JSON object, sent as `Content-Type: application/json` (415 otherwise, also when the "
    "header is missing); anything else, e.g. an array wrapping the object, is a 400."
)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _takes_body(method: str, path: str) -> bool | None:
    """Whether the route serving ``method path`` declares a request body; None for no such route."""
    for route in (*app._static_routes, *app._dynamic_routes):
        if route.method == method and route.rule.match(path):
            return route.body_field is not None
    return None


def _body_problem(event: dict[str, Any]) -> Any:
    """The one body rule of every route (see :data:`BODY_RULES`), checked before the resolver.

    Powertools' validation would take a missing Content-Type for JSON and unwrap an array to its first
    element (it normalises list values for non-list fields, meant for query strings), and a JSON
    document nested thousands deep makes ``json.loads`` raise RecursionError: all answered here.
    """
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        return routes.ApiProblem(400, "malformed_json", "The request body is not valid JSON.")
    if raw and event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return routes.ApiProblem(400, "malformed_json", "The request body is not UTF-8 JSON.")
    http = (event.get("requestContext") or {}).get("http") or {}
    path = str(event.get("rawPath") or http.get("path", ""))
    takes_body = _takes_body(str(http.get("method", "")).upper(), path)
    if takes_body is None or not raw:
        return None  # no such route (the resolver answers 404), or no body (its validation answers)
    if not takes_body:
        return routes.ApiProblem(400, "body_not_allowed", "This route takes no request body: send none.")
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    if not _is_json(headers.get("content-type")):
        # Also refused before the resolver because its request validation raises on some media types
        # (a multipart type without a boundary), which would otherwise be a 500.
        return routes.ApiProblem(415, "unsupported_media_type", "Send the request body as application/json.")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return routes.ApiProblem(400, "malformed_json", "The request body is not valid JSON.")
    if not isinstance(document, dict):
        return routes.ApiProblem(400, "invalid_request", "The request body must be one JSON object.")
    return None


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
    so the 422 entries and their schemas are dropped. Operations without a request body document the
    ``body_not_allowed`` refusal of :data:`BODY_RULES`.
    """
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=OPENAPI_TITLE,
            version=OPENAPI_VERSION,
            description="Settings → Integrations → QuickBooks. Every route needs the Kyrios JWT; the "
            'account comes from its claims. Errors answer {"error", "message", "field"?}. ' + BODY_RULES,
        )
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            if "requestBody" not in operation and "400" in responses:
                responses["400"] = {
                    **responses["400"],
                    "description": "Malformed request, or a request body on this route, which takes "
                    "none (`body_not_allowed`).",
                }
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
    problem = _body_problem(event)
    if problem is not None:
        return {
            "statusCode": problem.status,
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": problem.body().model_dump_json(exclude_none=True),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)


if __name__ == "__main__":  # python -m functions.api.app > openapi.json
    sys.stdout.write(render_openapi())
