"""What ``POST /webhooks/intuit`` does with a delivery (the webhook function only calls :func:`receive`).

Intuit wants an answer within 3 s, retries anything but 2xx, and holds back later events until a
failed one is acknowledged. So:

* not correctly signed → 401, nothing queued (nothing in it may be believed);
* signed and readable → one poll nudge per connected company it names with a relevant change, except
  companies whose changes are only echoes of our own writes (``echoes``); unknown or disconnected
  companies are ignored and logged; 200;
* signed but unreadable (not JSON, nested too deep, neither format, any size API Gateway delivers) →
  logged, and answered with a poll of every company it could concern: the realm ids a bounded scan
  of its bytes finds (:func:`kyrios_qbo.webhooks.find_realm_ids`), or, when it names none (or too
  many), a sweep of every connected company handed to the safety sweep
  (:func:`kyrios_qbo.webhook_signals.sweep_everyone`: one write and one continuation message, so the
  answer takes the same time at 10 or 100,000 companies; the sweep's ticks do the paging); 200,
  never a 4xx;
* the nudges could not be queued → 500, so Intuit retries (nothing about the content).

A change to a company's ``Preferences`` (e.g. multi-currency turned on; Preferences/Update is a webhook
event, Intuit developer blog 2017-05-11) nudges nobody but marks the connection
(``store.mark_company_changed``), so the pusher reads the company's setup again.

Every correctly signed delivery also tells the sweep that webhooks arrive
(:func:`kyrios_qbo.webhook_signals.note_webhook`, at most one write a minute per container): a
silent stream makes the sweep tighten.

A poll reads everything since the company's cursor, so polling a company that did not change only
costs a CDC call: when in doubt, poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kyrios_qbo import echoes, nudges, webhook_signals, webhooks
from kyrios_qbo.observability import logger
from kyrios_qbo.store import connections


@dataclass(frozen=True)
class WebhookAnswer:
    """The HTTP answer to Intuit."""

    status: int
    body: dict[str, Any]

    def to_http(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(self.body),
        }


def receive(
    *, body: str | None, is_base64_encoded: bool, headers: Mapping[str, Any] | None, verifier_token: str
) -> WebhookAnswer:
    """Verify, read and nudge (see the module docstring for every answer)."""
    try:
        notification = webhooks.read_webhook(
            body=body, is_base64_encoded=is_base64_encoded, headers=headers, verifier_token=verifier_token
        )
    except webhooks.BadSignature as exc:
        logger.warning("webhook refused", extra={"status": exc.status, "reason": exc.reason})
        return WebhookAnswer(exc.status, {"message": exc.reason})
    except webhooks.MalformedPayload as exc:
        webhook_signals.note_webhook()
        return _unreadable(exc)
    webhook_signals.note_webhook()

    _mark_preferences_changed(notification)
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
    failed = _send(to_send)
    if failed is not None:
        return failed
    logger.info(
        "webhook accepted",
        extra={
            "format": notification.format,
            "changes": len(notification.changes),
            "nudged_realms": [n.realm_id for n in to_send],
            "echo_realms": echoes_only,
        },
    )
    return WebhookAnswer(200, {"nudged": len(to_send), "ignored": len(ignored), "echoes": len(echoes_only)})


def _unreadable(exc: webhooks.MalformedPayload) -> WebhookAnswer:
    """A signed delivery we cannot read: poll whoever it names, or everyone."""
    realm_ids = webhooks.find_realm_ids(exc.raw)
    logger.warning(
        "signed webhook unreadable; polling instead",
        extra={
            "reason": exc.reason,
            "bytes": len(exc.raw),
            "realm_ids": list(realm_ids) if realm_ids is not None else None,
            "sweep": not realm_ids,
        },
    )
    if not realm_ids:
        try:
            webhook_signals.sweep_everyone()
        except Exception as exc_sent:  # not stored or not queued: Intuit retries the delivery
            return _not_queued(exc_sent)
        return WebhookAnswer(200, {"nudged": 0, "ignored": 0, "echoes": 0, "unreadable": True, "swept": True})
    to_send: list[nudges.PollNudge] = []
    ignored = 0
    for realm_id in realm_ids:
        account_id = connections.get_account_for_realm(realm_id)
        if account_id is None:
            ignored += 1
        else:
            to_send.append(nudges.nudge(account_id, realm_id, "webhook"))
    failed = _send(to_send)
    if failed is not None:
        return failed
    return WebhookAnswer(200, {"nudged": len(to_send), "ignored": ignored, "echoes": 0, "unreadable": True})


def _send(to_send: list[nudges.PollNudge]) -> WebhookAnswer | None:
    try:
        nudges.send_nudges(to_send)
    except nudges.NudgeNotSent as exc:
        return _not_queued(exc)
    return None


def _not_queued(exc: Exception) -> WebhookAnswer:
    logger.error("poll nudge not queued", extra={"error": str(exc)})
    return WebhookAnswer(500, {"message": "temporarily unable to accept the notification"})


def _only_our_own_writes(notification: webhooks.WebhookNotification, realm_id: str) -> bool:
    """Skipping an echo only spares a poll: when the lookup fails, nudge (the safe answer)."""
    try:
        return echoes.only_our_own_writes(notification, realm_id)
    except Exception as exc:  # any doubt means "poll", which is always correct
        logger.warning("echo check failed; nudging", extra={"realm_id": realm_id, "error": str(exc)})
        return False


def _mark_preferences_changed(notification: webhooks.WebhookNotification) -> None:
    """Companies whose Preferences changed read their setup again at the next push. Best effort: the
    catalog's cache lifetime bounds what a lost mark costs, and a refused foreign-currency document
    reads Preferences again anyway."""
    for realm_id in sorted({c.realm_id for c in notification.changes if c.entity == "preferences"}):
        try:
            account_id = connections.get_account_for_realm(realm_id)
            if account_id is not None:
                connections.mark_company_changed(account_id, realm_id)
        except Exception as exc:
            logger.warning(
                "could not mark the company changed", extra={"realm_id": realm_id, "error": str(exc)}
            )
