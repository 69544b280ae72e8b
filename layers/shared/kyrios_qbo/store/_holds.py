"""Holds: an owner and an expiry written onto an item that already means something (a document's
mapping, a sync's cursor), so taking the hold reads the item in the same write, and the write that
records the work can let go of it (``REMOVE`` :data:`ATTRIBUTES` on condition :data:`HELD_BY_HOLDER`).
"""

from __future__ import annotations

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.errors import LeaseHeld

ATTRIBUTES = "hold_owner, hold_until"
"""What letting go removes."""
HELD_BY_HOLDER = "hold_owner = :holder"
"""Condition of a write that lets go of ``:holder``'s hold."""


def take(key: db.Item, owner: str, duration_seconds: float, what: str) -> db.Item:
    """Hold the item for ``duration_seconds`` and return it as it now is. Succeeds when nobody holds
    it, the hold expired, or it is already ``owner``'s; raises :class:`LeaseHeld` (naming ``what``)."""
    if duration_seconds <= 0:
        raise ValueError("duration_seconds must be positive")
    now = db.now()
    try:
        answer = db.client().update_item(
            TableName=db.table_name(),
            Key=key,
            UpdateExpression="SET hold_owner = :holder, hold_until = :until",
            ConditionExpression=(
                "attribute_not_exists(hold_until) OR hold_until < :now OR hold_owner = :holder"
            ),
            ExpressionAttributeValues={
                ":holder": db.s(db.key_part(owner, "hold owner")),
                ":until": db.n(now + duration_seconds),
                ":now": db.n(now),
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        old = db.old_item(exc) or {}
        raise LeaseHeld(what, db.opt_s(old, "hold_owner") or "?", db.get_float(old, "hold_until")) from exc
    item: db.Item = answer.get("Attributes", {})
    return item


def let_go(key: db.Item, owner: str) -> bool:
    """Let go of ``owner``'s hold and keep the item; False if the hold was not ``owner``'s (any more)."""
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=key,
        UpdateExpression=f"REMOVE {ATTRIBUTES}",
        ConditionExpression=HELD_BY_HOLDER,
        ExpressionAttributeValues={":holder": db.s(owner)},
    )
