"""Sync log entries per account: what was pushed or pulled and how it went, kept 30 days."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

from kyrios_qbo.store import _dynamo as db

Direction = Literal["push", "pull"]
Outcome = Literal["ok", "failed", "skipped"]
RETENTION_SECONDS = 30 * 86_400
PREFIX = "LOG#"


@dataclass(frozen=True)
class SyncLogEntry:
    account_id: str
    entry_id: str
    at: str
    kind: str
    """What happened, e.g. ``invoice.push``, ``contact.pull``, ``import``."""
    direction: Direction
    entity: str
    """What it happened to, in words a bookkeeper recognises (``Invoice INV-1042``)."""
    outcome: Outcome
    message: str
    """Plain-language explanation, including what to do on failure."""
    qbo_detail: str | None = None
    intuit_tid: str | None = None
    kyrios_id: str | None = None
    qbo_id: str | None = None


_OPTIONAL = ("qbo_detail", "intuit_tid", "kyrios_id", "qbo_id")


def append_sync_log(
    account_id: str,
    *,
    kind: str,
    direction: Direction,
    entity: str,
    outcome: Outcome,
    message: str,
    qbo_detail: str | None = None,
    intuit_tid: str | None = None,
    kyrios_id: str | None = None,
    qbo_id: str | None = None,
) -> SyncLogEntry:
    if direction not in ("push", "pull"):
        raise ValueError(f"direction must be push or pull, not {direction!r}")
    if outcome not in ("ok", "failed", "skipped"):
        raise ValueError(f"outcome must be ok, failed or skipped, not {outcome!r}")
    at = db.iso_now()
    entry_id = f"{at}#{secrets.token_hex(4)}"  # time-ordered; the suffix keeps same-instant entries apart
    entry = SyncLogEntry(
        account_id,
        entry_id,
        at,
        kind,
        direction,
        entity,
        outcome,
        message,
        qbo_detail,
        intuit_tid,
        kyrios_id,
        qbo_id,
    )
    item: db.Item = {
        **db.key(db.account_pk(account_id), PREFIX + entry_id),
        "account_id": db.s(account_id),
        "entry_id": db.s(entry_id),
        "at": db.s(at),
        "kind": db.s(db.key_part(kind, "kind")),
        "direction": db.s(direction),
        "entity": db.s(entity or "-"),
        "outcome": db.s(outcome),
        "message": db.s(message or "-"),
        "expires_at": db.n(int(db.now()) + RETENTION_SECONDS),
    }
    for name in _OPTIONAL:
        value = getattr(entry, name)
        if value:
            item[name] = db.s(value)
    db.client().put_item(TableName=db.table_name(), Item=item)
    return entry


def _to_entry(item: db.Item) -> SyncLogEntry:
    optional: dict[str, Any] = {name: db.opt_s(item, name) for name in _OPTIONAL}
    return SyncLogEntry(
        account_id=db.get_s(item, "account_id"),
        entry_id=db.get_s(item, "entry_id"),
        at=db.get_s(item, "at"),
        kind=db.get_s(item, "kind"),
        direction=db.get_s(item, "direction"),  # type: ignore[arg-type]  # written from the Literal
        entity=db.get_s(item, "entity"),
        outcome=db.get_s(item, "outcome"),  # type: ignore[arg-type]
        message=db.get_s(item, "message"),
        **optional,
    )


def list_sync_log(account_id: str, limit: int = 50, cursor: str | None = None) -> db.Page[SyncLogEntry]:
    """Newest first; pass the returned cursor for the next (older) page."""
    pk = db.account_pk(account_id)
    kwargs: dict[str, Any] = {
        "TableName": db.table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": db.s(pk), ":prefix": db.s(PREFIX)},
        "ScanIndexForward": False,
        "Limit": db.check_limit(limit, 200),
    }
    start = db.decode_cursor(cursor, {"pk": pk}, sk_prefix=PREFIX)
    if start:
        kwargs["ExclusiveStartKey"] = start
    answer = db.client().query(**kwargs)
    now = db.now()
    entries = [
        _to_entry(item)
        for item in answer.get("Items", [])
        if db.get_float(item, "expires_at") >= now  # TTL deletes late
    ]
    return db.Page(entries, db.encode_cursor(answer.get("LastEvaluatedKey")))
