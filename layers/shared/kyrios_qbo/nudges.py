"""Poll nudges: the messages on the FIFO poll queue that make the contact poller look at one company.

Both the webhook receiver and the safety sweep send them. Each message names a company:

* ``MessageGroupId`` = the realm: SQS hands a group's messages out one at a time, so one company
  is never polled by two pollers at once through the queue (the store lease covers everything else);
* ``MessageDeduplicationId`` = realm + a :data:`DEDUP_WINDOW_SECONDS` time bucket: a burst of
  webhooks (Intuit sends one per change, often several per second, and retries) becomes one poll
  per company per bucket. A nudge that arrives while a poll runs is a new bucket, so it waits in
  the group and triggers one more poll afterwards: changes made during a poll are never missed.

Webhook and schedule nudges share the bucket on purpose: either way the poller reads everything
since the stored cursor, so two polls in the same bucket would find the same changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from kyrios_qbo import aws_clients
from kyrios_qbo.config import get_settings

DEDUP_WINDOW_SECONDS = 10
SEND_BATCH_SIZE = 10  # SQS SendMessageBatch limit
MESSAGE_VERSION = 1

NudgeReason = Literal["webhook", "schedule", "manual"]
_REASONS: frozenset[str] = frozenset({"webhook", "schedule", "manual"})


class InvalidNudge(ValueError):
    """A poll-queue message that is not a nudge this bundle wrote."""


@dataclass(frozen=True)
class PollNudge:
    """ "Look at this company": what a poll-queue message says."""

    account_id: str
    realm_id: str
    reason: NudgeReason
    requested_at: float
    """Epoch seconds when the nudge was sent (for the poll's latency metric and logs)."""

    def to_body(self) -> str:
        return json.dumps(
            {
                "v": MESSAGE_VERSION,
                "account_id": self.account_id,
                "realm_id": self.realm_id,
                "reason": self.reason,
                "requested_at": self.requested_at,
            },
            separators=(",", ":"),
        )


def dedup_id(realm_id: str, at: float, window: int = DEDUP_WINDOW_SECONDS) -> str:
    """Same realm and same ``window``-second bucket → same id (SQS drops the repeats)."""
    return f"{realm_id}-{int(at // window)}"


def to_entry(nudge: PollNudge, index: int) -> dict[str, str]:
    """One ``SendMessageBatch`` entry."""
    return {
        "Id": str(index),
        "MessageBody": nudge.to_body(),
        "MessageGroupId": nudge.realm_id,
        "MessageDeduplicationId": dedup_id(nudge.realm_id, nudge.requested_at),
    }


def parse_nudge(body: str) -> PollNudge:
    """The nudge in a poll-queue message body; :class:`InvalidNudge` if it is not one."""
    try:
        raw = json.loads(body)
    except (TypeError, ValueError):
        raise InvalidNudge("poll message is not JSON") from None
    if not isinstance(raw, dict):
        raise InvalidNudge("poll message is not a JSON object")
    account_id, realm_id, reason = raw.get("account_id"), raw.get("realm_id"), raw.get("reason")
    requested_at = raw.get("requested_at", 0)
    if not isinstance(account_id, str) or not account_id or len(account_id) > 128:
        raise InvalidNudge("poll message lacks account_id")
    if not isinstance(realm_id, str) or not realm_id or len(realm_id) > 64:
        raise InvalidNudge("poll message lacks realm_id")
    if reason not in _REASONS:
        raise InvalidNudge(f"poll message has unknown reason {reason!r}")
    if isinstance(requested_at, bool) or not isinstance(requested_at, int | float):
        raise InvalidNudge("poll message has a non-numeric requested_at")
    return PollNudge(
        account_id=account_id, realm_id=realm_id, reason=reason, requested_at=float(requested_at)
    )


# ------------------------------------------------------------------------------------- sending


def _sqs() -> Any:
    return aws_clients.client("sqs")


class NudgeNotSent(RuntimeError):
    """SQS refused some nudges (the caller answers with an error so the sender retries)."""


def _chunks(items: list[PollNudge], size: int) -> Iterator[list[PollNudge]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def send_nudges(nudges: Iterable[PollNudge], *, queue_url: str | None = None) -> int:
    """Put the nudges on the poll queue (batches of 10); returns how many SQS accepted.

    Raises :class:`NudgeNotSent` if SQS failed any entry: a webhook then answers 5xx and Intuit
    retries, a schedule tick fails and the next tick covers it.
    """
    url = queue_url or get_settings().require("poll_queue_url")
    pending = list(nudges)
    sent = 0
    for chunk in _chunks(pending, SEND_BATCH_SIZE):
        answer = _sqs().send_message_batch(
            QueueUrl=url, Entries=[to_entry(nudge, index) for index, nudge in enumerate(chunk)]
        )
        failed = answer.get("Failed") or []
        if failed:
            codes = sorted({str(f.get("Code")) for f in failed})
            raise NudgeNotSent(f"SQS refused {len(failed)} poll nudge(s): {', '.join(codes)}")
        sent += len(answer.get("Successful") or [])
    return sent


def send_raw(body: str, *, group: str, dedup: str, queue_url: str | None = None) -> None:
    """One message of ``group`` on the poll queue (the sweep's continuation)."""
    url = queue_url or get_settings().require("poll_queue_url")
    _sqs().send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedup)


def nudge(account_id: str, realm_id: str, reason: NudgeReason, *, now: float | None = None) -> PollNudge:
    return PollNudge(
        account_id=account_id,
        realm_id=realm_id,
        reason=reason,
        requested_at=time.time() if now is None else now,
    )
