"""POST /webhooks/intuit (public): verify Intuit's signature, nudge the poller for each company concerned.

The decision lives in :mod:`kyrios_qbo.webhook_intake`: 401 when the signature is missing or wrong
(nothing queued); 200 for every correctly signed delivery whatever its content (unreadable ones are
answered with a poll of the companies they name, or of all); 500 only when the nudges could not be
queued (Intuit retries). This stays small so a cold start is quick (no pydantic models are imported
on this path beyond the settings).
"""

from __future__ import annotations

from typing import Any

from kyrios_qbo import intuit_app, webhook_intake
from kyrios_qbo.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answer = webhook_intake.receive(
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded")),
        headers=event.get("headers"),
        verifier_token=intuit_app.get_intuit_app().webhook_verifier_token,
    )
    return answer.to_http()
