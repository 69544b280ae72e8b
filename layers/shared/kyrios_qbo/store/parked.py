"""Parked pushes per account: the record :mod:`kyrios_qbo.dead_letters` writes when the pusher parks
a message and reads to redrive one account's messages (no scan of the shared push DLQ).

Item ``ACCOUNT#<account>`` / ``PARKED#<failed_at>#<rand>``: the message ``body`` as it came (the
EventBridge event, ≤ 256 KiB, within DynamoDB's 400 KB item limit), ``reason`` (a
``FailureReason`` value), ``message`` (what went wrong, for people), ``failed_at``, and when known
``event_id``, ``document_kind`` + ``document_id`` (the Kyrios document) and ``cause`` (``auth`` when
a retryable failure came from Intuit's token side). Kept 14 days (``expires_at``), like the DLQ.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from kyrios_qbo.store import _dynamo as db

PREFIX = "PARKED#"
RETENTION_SECONDS = 14 * 86_400
MAX_LISTED = 1000
"""Bounds one listing (and so one redrive call); call again for more."""


@dataclass(frozen=True)
class ParkedMessage:
    account_id: str
    parked_id: str
    body: str
    reason: str
    message: str
    failed_at: str
    event_id: str | None = None
    document_kind: str | None = None
    document_id: str | None = None
    cause: str | None = None


_OPTIONAL = ("event_id", "document_kind", "document_id", "cause")


def park_message(
    account_id: str,
    *,
    body: str,
    reason: str,
    message: str,
    event_id: str | None = None,
    document_kind: str | None = None,
    document_id: str | None = None,
    cause: str | None = None,
) -> ParkedMessage:
    """Record one parked message of the account."""
    failed_at = db.iso_now()
    parked = ParkedMessage(
        account_id=db.key_part(account_id, "account_id"),
        parked_id=f"{failed_at}#{secrets.token_hex(6)}",
        body=body,
        reason=reason,
        message=message or "-",
        failed_at=failed_at,
        event_id=event_id,
        document_kind=document_kind,
        document_id=document_id,
        cause=cause,
    )
    item: db.Item = {
        **db.key(db.account_pk(account_id), PREFIX + parked.parked_id),
        "account_id": db.s(account_id),
        "parked_id": db.s(parked.parked_id),
        "body": db.s(body or "-"),
        "reason": db.s(reason),
        "message": db.s(parked.message),
        "failed_at": db.s(failed_at),
        "expires_at": db.n(int(db.now()) + RETENTION_SECONDS),
    }
    for name in _OPTIONAL:
        value = getattr(parked, name)
        if value:
            item[name] = db.s(value)
    db.client().put_item(TableName=db.table_name(), Item=item)
    return parked


def _to_parked(item: db.Item) -> ParkedMessage:
    optional: dict[str, Any] = {name: db.opt_s(item, name) for name in _OPTIONAL}
    return ParkedMessage(
        account_id=db.get_s(item, "account_id"),
        parked_id=db.get_s(item, "parked_id"),
        body=db.get_s(item, "body"),
        reason=db.get_s(item, "reason"),
        message=db.get_s(item, "message"),
        failed_at=db.get_s(item, "failed_at"),
        **optional,
    )


def list_parked(account_id: str, *, limit: int = MAX_LISTED) -> list[ParkedMessage]:
    """The account's parked messages, oldest first (at most ``limit``)."""
    pk = db.account_pk(account_id)
    kwargs: dict[str, Any] = {
        "TableName": db.table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": db.s(pk), ":prefix": db.s(PREFIX)},
        "ConsistentRead": True,
    }
    found: list[ParkedMessage] = []
    now = db.now()
    while len(found) < limit:
        answer = db.client().query(**kwargs, Limit=db.check_limit(limit - len(found), MAX_LISTED))
        found += [
            _to_parked(item)
            for item in answer.get("Items", [])
            if db.get_float(item, "expires_at") >= now  # TTL deletes late
        ]
        if not answer.get("LastEvaluatedKey"):
            break
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return found


def forget_parked(account_id: str, parked_id: str) -> None:
    """Remove one record (after its message went back to the push queue)."""
    db.client().delete_item(
        TableName=db.table_name(), Key=db.key(db.account_pk(account_id), PREFIX + parked_id)
    )
