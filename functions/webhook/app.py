"""POST /webhooks/intuit (public): verify Intuit's signature, nudge the poller for each known company.

Answers (Intuit wants one within 3 s and retries anything but 2xx):
200 accepted, including notifications about unknown or disconnected companies (ignored and logged,
so Intuit does not retry them forever) and echoes of our own writes (no nudge: ``echoes``);
400 malformed payload with a valid signature; 401 missing or wrong signature; 413 body over 256 KB;
500 the nudge could not be queued (Intuit retries).
Nothing is queued unless the signature is valid. The poller does the real work; this stays small so
a cold start is quick (no pydantic models are imported on this path beyond the settings).
"""

from __future__ import annotations

import json
from typing import Any

from kyrios_qbo import echoes, nudges, secrets, webhooks
from kyrios_qbo.observability import logger
from kyrios_qbo.store import connections


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        notification = webhooks.read_webhook(
            body=event.get("body"),
            is_base64_encoded=bool(event.get("isBase64Encoded")),
            headers=event.get("headers"),
            verifier_token=secrets.get_intuit_app().webhook_verifier_token,
        )
    except webhooks.WebhookRejected as exc:
        logger.warning("webhook refused", extra={"status": exc.status, "reason": exc.reason})
        return _answer(exc.status, {"message": exc.reason})

    to_send: list[nudges.PollNudge] = []
    ignored: list[str] = []
    echoes_only: list[str] = []
    for realm_id in notification.realms_to_poll:
        account_id = connections.get_account_for_realm(realm_id)
        if account_id is None:
            ignored.append(realm_id)
        elif _only_our_own_writes(notification, realm_id):
            echoes_only.append(realm_id)
        else:
            to_send.append(nudges.nudge(account_id, realm_id, "webhook"))
    if ignored:
        logger.info("webhook for companies not connected to any account", extra={"realm_ids": ignored})
    try:
        nudges.send_nudges(to_send)
    except nudges.NudgeNotSent as exc:
        logger.error("poll nudge not queued", extra={"error": str(exc)})
        return _answer(500, {"message": "temporarily unable to accept the notification"})
    logger.info(
        "webhook accepted",
        extra={
            "format": notification.format,
            "changes": len(notification.changes),
            "nudged_realms": [n.realm_id for n in to_send],
            "echo_realms": echoes_only,
        },
    )
    return _answer(200, {"nudged": len(to_send), "ignored": len(ignored), "echoes": len(echoes_only)})


def _only_our_own_writes(notification: webhooks.WebhookNotification, realm_id: str) -> bool:
    """Skipping an echo only spares a poll: when the lookup fails, nudge (the safe answer)."""
    try:
        return echoes.only_our_own_writes(notification, realm_id)
    except Exception as exc:  # any doubt means "poll", which is always correct
        logger.warning("echo check failed; nudging", extra={"realm_id": realm_id, "error": str(exc)})
        return False
