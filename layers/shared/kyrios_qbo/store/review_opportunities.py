"""The contact's one review opportunity (``REALM#<realm>`` / ``REVIEW#<qbo customer id>``).

The rule that uses it lives in :mod:`kyrios_qbo.reviews`; this module only reads and writes the item:
a claim (``pending``) taken with one conditional put, then ``sent``; or ``skipped`` while the
setting is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kyrios_qbo.store import _dynamo as db

ReviewOrigin = Literal["live", "import"]
ReviewState = Literal["pending", "sent", "skipped"]
ABANDONED_CLAIM_SECONDS = 3600.0


@dataclass(frozen=True)
class ReviewMarker:
    """What was decided for a contact (read-only view for the poller, the import and support)."""

    customer_id: str
    state: ReviewState
    invoice_id: str
    origin: ReviewOrigin
    decided_at: str


def _marker_key(realm_id: str, customer_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"REVIEW#{db.key_part(customer_id, 'QBO customer id')}")


def get_review_marker(realm_id: str, customer_id: str) -> ReviewMarker | None:
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_marker_key(realm_id, customer_id), ConsistentRead=True
    )
    item = answer.get("Item")
    if item is None:
        return None
    return ReviewMarker(
        customer_id=customer_id,
        state=db.get_s(item, "state"),  # type: ignore[arg-type]  # written only by this module
        invoice_id=db.get_s(item, "invoice_id"),
        origin=db.get_s(item, "origin"),  # type: ignore[arg-type]
        decided_at=db.get_s(item, "decided_at"),
    )


def review_decided(realm_id: str, customer_id: str) -> bool:
    """True when the contact's opportunity is already used (sent or skipped): callers can skip
    reading the customer from QBO. A ``pending`` claim is not decided (its retry must run)."""
    marker = get_review_marker(realm_id, customer_id)
    return marker is not None and marker.state != "pending"


def claim_review(
    realm_id: str, customer_id: str, *, state: ReviewState, invoice_id: str, origin: ReviewOrigin
) -> bool:
    """Claim (or re-claim) the contact's marker; False if another invoice's decision stands."""
    now = db.now()
    return db.conditional_write(
        "put_item",
        TableName=db.table_name(),
        Item={
            **_marker_key(realm_id, customer_id),
            "state": db.s(state),
            "invoice_id": db.s(db.key_part(invoice_id, "QBO invoice id")),
            "origin": db.s(origin),
            "decided_at": db.s(db.iso_now()),
            "claimed_epoch": db.n(now),
        },
        # Free; or our own pending claim (a retry); or someone's pending claim left for an hour.
        ConditionExpression="attribute_not_exists(pk) OR (#state = :pending AND "
        "(invoice_id = :invoice OR claimed_epoch < :abandoned))",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={
            ":pending": db.s("pending"),
            ":invoice": db.s(invoice_id),
            ":abandoned": db.n(now - ABANDONED_CLAIM_SECONDS),
        },
    )


def mark_review_sent(realm_id: str, customer_id: str, invoice_id: str) -> None:
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_marker_key(realm_id, customer_id),
            UpdateExpression="SET #state = :sent, decided_at = :now",
            ConditionExpression="invoice_id = :invoice",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":sent": db.s("sent"),
                ":invoice": db.s(invoice_id),
                ":now": db.s(db.iso_now()),
            },
        )
    except Exception as exc:
        # Taken over after an hour by another invoice: the event went out with the same id anyway.
        if not db.is_condition_failure(exc):
            raise
