"""Per-company coordination: leases, claims, once-markers, sync cursors and the QBO rate budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store import _holds
from kyrios_qbo.store.errors import ClaimHeld, LeaseHeld, LeaseLost

HOUSEKEEPING_SECONDS = 86_400
"""Expired leases/claims linger this long before DynamoDB TTL removes them (TTL is lazy anyway)."""


@dataclass(frozen=True)
class Lease:
    name: str
    owner: str
    expires_at: float


@dataclass(frozen=True)
class Claim:
    key: str
    owner: str
    expires_at: float


# ---------------------------------------------------------------------------------------- leases
def _lease_key(realm_id: str, name: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"LEASE#{db.key_part(name, 'lease name')}")


def acquire_lease(realm_id: str, name: str, owner: str, duration_seconds: float) -> Lease:
    """Take the named lease (e.g. ``token-refresh``, ``poller``) of a company for a while.

    Succeeds when it is free, expired, or already ours (then it is extended). Raises :class:`LeaseHeld`.
    """
    if duration_seconds <= 0:
        raise ValueError("duration_seconds must be positive")
    now = db.now()
    expires_at = now + duration_seconds
    try:
        db.client().put_item(
            TableName=db.table_name(),
            Item={
                **_lease_key(realm_id, name),
                "owner": db.s(db.key_part(owner, "lease owner")),
                "lease_expires_at": db.n(expires_at),
                "expires_at": db.n(int(expires_at) + HOUSEKEEPING_SECONDS),
            },
            ConditionExpression="attribute_not_exists(pk) OR lease_expires_at < :now OR #owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":now": db.n(now), ":owner": db.s(owner)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        old = db.old_item(exc) or {}
        raise LeaseHeld(name, db.opt_s(old, "owner") or "?", db.get_float(old, "lease_expires_at")) from exc
    return Lease(name, owner, expires_at)


def renew_lease(realm_id: str, name: str, owner: str, duration_seconds: float) -> Lease:
    """Extend a lease we hold. Raises :class:`LeaseLost` if someone else has it now or it is gone."""
    if duration_seconds <= 0:
        raise ValueError("duration_seconds must be positive")
    expires_at = db.now() + duration_seconds
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_lease_key(realm_id, name),
            UpdateExpression="SET lease_expires_at = :exp, expires_at = :ttl",
            # Still ours even if it ran out: nobody else took it in between.
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={
                ":owner": db.s(owner),
                ":exp": db.n(expires_at),
                ":ttl": db.n(int(expires_at) + HOUSEKEEPING_SECONDS),
            },
        )
    except Exception as exc:
        if db.is_condition_failure(exc):
            raise LeaseLost(f"lease {name} of realm {realm_id} is no longer held by {owner}") from exc
        raise
    return Lease(name, owner, expires_at)


def release_lease(realm_id: str, name: str, owner: str) -> bool:
    """Give the lease back; False if it was not ours (any more)."""
    return _delete_if_owner(_lease_key(realm_id, name), owner)


def _delete_if_owner(key: db.Item, owner: str) -> bool:
    return db.conditional_write(
        "delete_item",
        TableName=db.table_name(),
        Key=key,
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":owner": db.s(owner)},
    )


# ---------------------------------------------------------------------------------------- claims
def _claim_key(realm_id: str, claim_key: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"CLAIM#{db.key_part(claim_key, 'claim key')}")


def claim(realm_id: str, claim_key: str, owner: str, ttl_seconds: float = 120) -> Claim:
    """Claim ``claim_key`` (e.g. ``customer-email:ann@example.com``) before doing the work it names.

    Idempotent for the same owner (a redelivered message keeps its claim); raises :class:`ClaimHeld`
    while another owner's claim is live. An expired claim can be taken over.
    """
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    now = db.now()
    expires_at = now + ttl_seconds
    try:
        db.client().put_item(
            TableName=db.table_name(),
            Item={
                **_claim_key(realm_id, claim_key),
                "owner": db.s(db.key_part(owner, "claim owner")),
                "claim_expires_at": db.n(expires_at),
                "expires_at": db.n(int(expires_at) + HOUSEKEEPING_SECONDS),
            },
            ConditionExpression="attribute_not_exists(pk) OR #owner = :owner OR claim_expires_at < :now",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":now": db.n(now), ":owner": db.s(owner)},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        old = db.old_item(exc) or {}
        raise ClaimHeld(
            claim_key, db.opt_s(old, "owner") or "?", db.get_float(old, "claim_expires_at")
        ) from exc
    return Claim(claim_key, owner, expires_at)


def get_claim(realm_id: str, claim_key: str) -> Claim | None:
    """The live claim on the key, if any."""
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_claim_key(realm_id, claim_key), ConsistentRead=True
    )
    item = answer.get("Item")
    if item is None or db.get_float(item, "claim_expires_at") < db.now():
        return None
    return Claim(claim_key, db.get_s(item, "owner"), db.get_float(item, "claim_expires_at"))


def release_claim(realm_id: str, claim_key: str, owner: str) -> bool:
    """Drop our claim once the work is recorded; False if it was not ours."""
    return _delete_if_owner(_claim_key(realm_id, claim_key), owner)


# ---------------------------------------------------------------------------------------- once-markers
def _marker_key(realm_id: str, marker: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"ONCE#{db.key_part(marker, 'marker')}")


def mark_once(realm_id: str, marker: str) -> bool:
    """True the first time ``marker`` (e.g. ``contact-published:58``) is set for the company, then False."""
    return db.conditional_write(
        "put_item",
        TableName=db.table_name(),
        Item={**_marker_key(realm_id, marker), "marked_at": db.s(db.iso_now())},
        ConditionExpression="attribute_not_exists(pk)",
    )


def is_marked(realm_id: str, marker: str) -> bool:
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_marker_key(realm_id, marker), ConsistentRead=True
    )
    return "Item" in answer


def unmark(realm_id: str, marker: str) -> None:
    """Remove a marker when the work it recorded has to be done again (e.g. publishing failed)."""
    db.client().delete_item(TableName=db.table_name(), Key=_marker_key(realm_id, marker))


# ---------------------------------------------------------------------------------------- cursors
POLL_CURSOR = "poll"
"""The contact poller's cursor: where it got to, and (``cursor_moved_at``) when it last completed."""


def _cursor_key(realm_id: str, name: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"CURSOR#{db.key_part(name, 'cursor name')}")


def get_cursor(realm_id: str, name: str) -> datetime | None:
    """Where the named sync (e.g. ``cdc``) of the company got to."""
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_cursor_key(realm_id, name), ConsistentRead=True
    )
    return _position(answer.get("Item"))


def cursor_moved_at(realm_id: str, name: str) -> datetime | None:
    """When the named sync last moved its cursor (its last successful run)."""
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_cursor_key(realm_id, name), ConsistentRead=True
    )
    moved = db.opt_s(answer.get("Item") or {}, "updated_at")
    return db.parse_iso(moved) if moved else None


def _position(item: db.Item | None) -> datetime | None:
    position = db.opt_s(item or {}, "position")
    return db.parse_iso(position) if position else None


def hold_cursor(realm_id: str, name: str, owner: str, duration_seconds: float) -> datetime | None:
    """Hold the named sync of the company (one run at a time) and read where it got to, in one write.

    The hold lives on the cursor item: free, expired or already ``owner``'s, else :class:`LeaseHeld`.
    Let go with ``advance_cursor(..., release=owner)`` or :func:`release_cursor`.
    """
    return _position(_holds.take(_cursor_key(realm_id, name), owner, duration_seconds, f"sync {name}"))


def release_cursor(realm_id: str, name: str, owner: str) -> bool:
    """Let go of ``owner``'s hold on the named sync; False if it was not ``owner``'s (any more)."""
    return _holds.let_go(_cursor_key(realm_id, name), owner)


def advance_cursor(realm_id: str, name: str, position: datetime, *, release: str | None = None) -> bool:
    """Move the cursor forward to ``position``; False (and unchanged) if it is already there or beyond.

    ``release``: the owner of the sync's hold (:func:`hold_cursor`), let go in the same write (or, when
    the cursor does not move, in a second one)."""
    value = db.iso(position)
    expression = "SET #position = :position, updated_at = :now"
    condition = "(attribute_not_exists(#position) OR #position < :position)"
    values = {":position": db.s(value), ":now": db.s(db.iso_now())}
    if release is not None:
        expression += f" REMOVE {_holds.ATTRIBUTES}"
        condition += f" AND {_holds.HELD_BY_HOLDER}"
        values[":holder"] = db.s(release)
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_cursor_key(realm_id, name),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#position": "position"},
            ExpressionAttributeValues=values,
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        if release is not None:
            release_cursor(realm_id, name, release)
        return False
    return True
