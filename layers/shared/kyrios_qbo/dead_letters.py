"""Parked pushes: park a Kyrios event with the reason it could not be pushed, and redrive one account's
parked events back to the push queue (after a reconnect, or once the data is fixed). The one module
that parks and redrives.

Parking (:func:`send`) records the message for its account in the store (:mod:`kyrios_qbo.store.parked`:
body, reason, event id, document, time) and puts a copy on the push DLQ with the reason as message
attributes (``failure_reason``, ``failure_message``, ``account_id``, ``event_id``, ``failed_at``) for
operators and the DLQ alarm. :func:`redrive` works from the account's record only: it never reads the
shared queue, so it can neither move nor count another account's messages. The DLQ copy of a
redriven message stays until the queue's retention drops it (an operator's redrive of it is harmless:
the pusher is state-based and idempotent). Messages SQS moved on its own (a crash on the last
receive), EventBridge could not deliver, or that name no account have no record: they are the
operators' (the console's DLQ redrive).

:func:`because_of_connection` tells messages parked because of the QuickBooks connection (they can
go as soon as it is reconnected) from those parked for a reason that stays until the document or the
data changes; ``redrive(account, only=because_of_connection)`` sends only the former.

Queues come from ``PUSH_QUEUE_URL`` / ``PUSH_DLQ_URL`` and the push queue's ``maxReceiveCount`` from
``PUSH_MAX_RECEIVES`` (template.yaml sets them to the resources' values).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from kyrios_qbo import aws_clients
from kyrios_qbo.config import ConfigError
from kyrios_qbo.observability import logger
from kyrios_qbo.store import parked as parked_store
from kyrios_qbo.store.parked import ParkedMessage

MAX_MESSAGE_TEXT = 1000  # attribute values can be 256 KiB; a reason a person reads needs far less
DEFAULT_MAX_RECEIVES = 5
AUTH_CAUSE = "auth"
"""``cause`` of a retryable failure that came from Intuit's token side (refresh unavailable, timed out)."""


class FailureReason(StrEnum):
    """Why a message is parked; stable values that the UI and runbooks rely on."""

    MALFORMED_EVENT = "malformed_event"
    """The event does not match the Kyrios schema (or is not an EventBridge event at all)."""
    REJECTED = "rejected_by_quickbooks"
    """QBO refused the data (validation fault); fix the data, then redrive."""
    INVALID_DOCUMENT = "invalid_document"
    """The Kyrios document cannot become a QBO document (no email, totals that do not add up, …)."""
    NEEDS_RECONNECT = "needs_reconnect"
    """The QBO connection must be re-authorised; redrive after reconnecting."""
    RETRIES_EXHAUSTED = "retries_exhausted"
    """A retryable failure (throttling, outage) persisted through the last allowed receive."""


@dataclass(frozen=True)
class DeadLetter:
    """What the pusher knows about a message it parks."""

    body: str
    reason: FailureReason
    message: str
    account_id: str | None = None
    event_id: str | None = None
    document_kind: str | None = None
    document_id: str | None = None
    """The Kyrios document (``invoice`` / ``sales_receipt`` and its Kyrios id), when the event named one."""
    cause: str | None = None
    """:data:`AUTH_CAUSE` when a retryable failure came from Intuit's token side."""


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    """The account's parked messages sent back to the push queue."""
    left: int
    """The account's parked messages still parked (not selected by ``only``)."""


def because_of_connection(parked: ParkedMessage | DeadLetter) -> bool:
    """Parked because of the QuickBooks connection, so a successful reconnect is enough to send it
    again: ``needs_reconnect``, or retries exhausted on Intuit's token side. Every other reason is
    permanent for this message (malformed, invalid document, rejected by QuickBooks) or a QBO outage
    that outlived the retries: those wait for the document to change or the user's *Retry*."""
    reason = parked.reason.value if isinstance(parked.reason, FailureReason) else parked.reason
    if reason == FailureReason.NEEDS_RECONNECT.value:
        return True
    return reason == FailureReason.RETRIES_EXHAUSTED.value and parked.cause == AUTH_CAUSE


def _sqs() -> Any:
    return aws_clients.client("sqs")


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} is not set for this function")
    return value


def max_receives() -> int:
    """The push queue's ``maxReceiveCount`` (``PUSH_MAX_RECEIVES``, default 5 as in template.yaml)."""
    raw = os.environ.get("PUSH_MAX_RECEIVES") or str(DEFAULT_MAX_RECEIVES)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"PUSH_MAX_RECEIVES must be an integer, not {raw!r}") from None
    if value < 1:
        raise ConfigError("PUSH_MAX_RECEIVES must be at least 1")
    return value


def is_last_receive(receive_count: int) -> bool:
    """True when SQS would move the message to the DLQ itself if this attempt fails."""
    return receive_count >= max_receives()


def _string_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value[:MAX_MESSAGE_TEXT] or "-"}


def send(letter: DeadLetter) -> None:
    """Park ``letter``: the account's record (when it names an account), then the DLQ copy with its
    reason as message attributes. Either write failing raises, so SQS redelivers the message."""
    if letter.account_id:
        parked_store.park_message(
            letter.account_id,
            body=letter.body,
            reason=letter.reason.value,
            message=letter.message[:MAX_MESSAGE_TEXT],
            event_id=letter.event_id,
            document_kind=letter.document_kind,
            document_id=letter.document_id,
            cause=letter.cause,
        )
    attributes = {
        "failure_reason": _string_attribute(letter.reason.value),
        "failure_message": _string_attribute(letter.message),
        "failed_at": _string_attribute(datetime.now(UTC).isoformat(timespec="seconds")),
    }
    if letter.account_id:
        attributes["account_id"] = _string_attribute(letter.account_id)
    if letter.event_id:
        attributes["event_id"] = _string_attribute(letter.event_id)
    _sqs().send_message(
        QueueUrl=_required_env("PUSH_DLQ_URL"), MessageBody=letter.body, MessageAttributes=attributes
    )


def account_of(body: str) -> str | None:
    """The Kyrios account of an EventBridge event body (``detail.account_id``), if it has one."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    account = detail.get("account_id") if isinstance(detail, dict) else None
    return account.strip() if isinstance(account, str) and account.strip() else None


def redrive(
    account_id: str, *, only: Callable[[ParkedMessage], bool] | None = None
) -> RedriveResult:
    """Send the account's parked messages (those ``only`` selects, all by default) back to the push
    queue, oldest first; each record is forgotten only after its message was sent, so a crash can
    duplicate a message but never lose one (duplicates are harmless: the pusher is state-based and
    idempotent). Only the account's own record is read."""
    push_url = _required_env("PUSH_QUEUE_URL")
    moved = left = 0
    for parked in parked_store.list_parked(account_id):
        if only is not None and not only(parked):
            left += 1
            continue
        _sqs().send_message(QueueUrl=push_url, MessageBody=parked.body)
        parked_store.forget_parked(account_id, parked.parked_id)
        moved += 1
    logger.info("parked pushes redriven", extra={"account_id": account_id, "moved": moved, "left": left})
    return RedriveResult(moved=moved, left=left)
