"""The push dead-letter queue: park a Kyrios event with the reason it could not be pushed, and redrive
one account's parked events back to the push queue (after a reconnect, or once the data is fixed).

The pusher sends permanent failures here itself, instead of letting SQS move them after
``maxReceiveCount`` receives, so the reason travels with the message as message attributes
(``failure_reason``, ``failure_message``, ``account_id``, ``event_id``, ``failed_at``). Messages that
SQS moved on its own (a crash on the last receive) or that EventBridge could not deliver carry no
reason; their account is read from the EventBridge body instead.

Queues come from ``PUSH_QUEUE_URL`` / ``PUSH_DLQ_URL`` and the push queue's ``maxReceiveCount`` from
``PUSH_MAX_RECEIVES`` (template.yaml sets them to the resources' values).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any

from kyrios_qbo.config import ConfigError

MAX_MESSAGE_TEXT = 1000  # attribute values can be 256 KiB; a reason a person reads needs far less
DEFAULT_MAX_RECEIVES = 5
_RECEIVE_BATCH = 10
_MAX_RECEIVE_ROUNDS = 100  # bounds one redrive call (≤ 1000 messages looked at); call again for more


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


@dataclass(frozen=True)
class RedriveResult:
    moved: int
    """Messages of the account sent back to the push queue (and removed from the DLQ)."""
    examined: int
    """Messages looked at, including other accounts' messages left in place."""


@cache
def _sqs() -> Any:
    import boto3  # lazily: the API function imports this module for one rarely used route

    return boto3.client("sqs")


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
    """Put ``letter`` on the push DLQ with its reason as message attributes."""
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


def _message_account(message: dict[str, Any]) -> str | None:
    attribute = message.get("MessageAttributes", {}).get("account_id", {})
    return attribute.get("StringValue") or account_of(message.get("Body", ""))


def redrive(account_id: str) -> RedriveResult:
    """Move the account's parked messages back to the push queue; leave everyone else's in place.

    Other accounts' messages are made visible again at once (visibility 0) after the scan. A message is
    deleted from the DLQ only after it was sent to the push queue, so a crash can duplicate a message
    but never lose one (duplicates are harmless: the pusher is state-based and idempotent).
    """
    dlq_url, push_url = _required_env("PUSH_DLQ_URL"), _required_env("PUSH_QUEUE_URL")
    sqs = _sqs()
    moved = examined = 0
    others: list[str] = []
    try:
        for _ in range(_MAX_RECEIVE_ROUNDS):
            answer = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=_RECEIVE_BATCH,
                MessageAttributeNames=["All"],
                VisibilityTimeout=60,
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                examined += 1
                if _message_account(message) != account_id:
                    others.append(message["ReceiptHandle"])
                    continue
                sqs.send_message(QueueUrl=push_url, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
    finally:
        for handle in others:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return RedriveResult(moved=moved, examined=examined)
