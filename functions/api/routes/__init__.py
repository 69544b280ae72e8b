"""Routers of the UI API, one module per area, and what they share.

Every route module exposes ``router`` (a Powertools ``Router``); ``app.py`` includes each module
listed in its ``ROUTE_MODULES``. Inside this package use relative imports (``from . import
current_account_id``): the package is ``routes`` on Lambda and ``functions.api.routes`` in tests.

- :func:`current_account_id`: the caller's Kyrios account, from the JWT authorizer's claims only
  (claim name from ``ACCOUNT_ID_CLAIM``, default ``kyrios:account_id``) — never from body or path.
- :func:`current_user_id`: the caller's Kyrios user (the token's ``sub``), for what is bound to a person.
- :class:`ApiProblem`: raise it to answer ``{"error", "message", "field"?}`` with a 4xx status.
- :data:`ERROR_RESPONSES`: OpenAPI descriptions of those answers for route decorators.
"""

from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from kyrios_qbo.models.api import ApiError

DEFAULT_ACCOUNT_ID_CLAIM = "kyrios:account_id"
_ACCOUNT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


class ApiProblem(Exception):
    """A refusal the API answers as ``{"error": code, "message": ...}`` with ``status``."""

    def __init__(self, status: int, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.field = field

    def body(self) -> ApiError:
        return ApiError(error=self.error, message=self.message, field=self.field)


def current_account_id(event: BaseProxyEvent) -> str:
    """The Kyrios account id from the verified JWT claims; 401 when absent or malformed."""
    claim = os.environ.get("ACCOUNT_ID_CLAIM") or DEFAULT_ACCOUNT_ID_CLAIM
    try:
        # HTTP API v2: requestContext.authorizer.jwt.claims (read raw: no assumption on the event class).
        claims: Any = event.raw_event["requestContext"]["authorizer"]["jwt"]["claims"]
    except (AttributeError, KeyError, TypeError):
        claims = {}
    value = claims.get(claim) if isinstance(claims, dict) else None
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise ApiProblem(401, "unauthorized", "The request carries no Kyrios account.")
    return value


def current_user_id(event: BaseProxyEvent) -> str:
    """The Kyrios user from the verified JWT's ``sub`` claim ("" when the token carries none)."""
    try:
        claims: Any = event.raw_event["requestContext"]["authorizer"]["jwt"]["claims"]
    except (AttributeError, KeyError, TypeError):
        return ""
    value = claims.get("sub") if isinstance(claims, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 256 else ""


def success_response(description: str, model: Any = None, status: int = 200) -> dict[int, OpenAPIResponse]:
    """The documented success answer of a route. Powertools only derives it from the return
    annotation when a route passes no ``responses=``, and every route here passes its errors."""
    if model is None:
        return {status: {"description": description}}
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


def error_response(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ApiError}}}


ERROR_RESPONSES: dict[int, OpenAPIResponse] = {
    400: error_response("Malformed request: the body is not JSON, a field is unknown or has the wrong type."),
    401: error_response("No Kyrios account in the caller's token."),
}
JSON_BODY_RESPONSE: dict[int, OpenAPIResponse] = {
    415: error_response("The body is not sent as application/json (or has no Content-Type)."),
}
CONFLICT_RESPONSE: dict[int, OpenAPIResponse] = {
    409: error_response("QuickBooks is not connected (or must be reconnected) for this account."),
}
