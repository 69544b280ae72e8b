"""Intuit's OAuth redirect target (public): keep Intuit's answer, send the browser back to Kyrios.

Always answers 302 to ``UI_RETURN_URL`` with ``?quickbooks=approved&ref=<ref>`` (the Kyrios page
then completes the connection with its user's token: ``POST …/connect/complete``) or
``?quickbooks=error&reason=<code>`` — never a token, code or state, and never a 500 page for input
Intuit or a browser can produce. It connects nothing by itself: see ``kyrios_qbo.connect_flow``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyrios_qbo.config import get_settings
from kyrios_qbo.connect_flow import ConnectError, return_from_intuit
from kyrios_qbo.observability import logger, metrics, tracer


def return_url(outcome: dict[str, str]) -> str:
    """``UI_RETURN_URL`` with the outcome added to its query (existing parameters kept)."""
    base = urlsplit(get_settings().require("ui_return_url"))
    query = "&".join(part for part in (base.query, urlencode(outcome)) if part)
    return urlunsplit((base.scheme, base.netloc, base.path, query, ""))


def _redirect(outcome: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": 302,
        "headers": {
            "Location": return_url(outcome),
            "Cache-Control": "no-store",
            # The callback URL carries the code and state: never leak it to the next page.
            "Referrer-Policy": "no-referrer",
        },
        "body": "",
    }


def _param(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    return value if isinstance(value, str) else None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    params = event.get("queryStringParameters") if isinstance(event, dict) else None
    params = params if isinstance(params, dict) else {}
    try:
        ref = return_from_intuit(
            state=_param(params, "state"),
            code=_param(params, "code"),
            realm_id=_param(params, "realmId"),
            error=_param(params, "error"),
        )
    except ConnectError as exc:
        logger.info("quickbooks connect refused", extra={"reason": exc.code})
        metrics.add_metric(name="ConnectRefused", unit="Count", value=1)
        return _redirect({"quickbooks": "error", "reason": exc.code})
    except Exception:
        logger.exception("quickbooks connect failed")
        return _redirect({"quickbooks": "error", "reason": "internal_error"})
    logger.info("quickbooks consent returned")
    return _redirect({"quickbooks": "approved", "ref": ref})
