"""What the contact poller remembers about the QBO customers it has seen, read and written in batches.

One poll can see thousands of customers (a CSV import in QBO, a first poll after an outage), and a
DynamoDB call per customer and purpose would dominate its run time, so everything here is batched
(``_dynamo.batch_get``/``batch_put``).

Per customer (``REALM#<realm>`` / ``PULLED#<customer id>``): the email the poller last indexed for
it — needed to remove the old index entry when the email changes or the customer is deleted, since
QBO only tells us the new state — and whether its ``contact.created`` went out (the once-marker,
written only after a successful publish). The email index and the id mappings themselves are the
store's (``store.index_customer_emails``, ``store.mapped_qbo_ids``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kyrios_qbo.store import _dynamo as db


@dataclass(frozen=True)
class PulledCustomer:
    customer_id: str
    email: str | None
    """Normalised email indexed for this customer (None: none indexed)."""
    contact_published: bool


def _pulled_key(realm_id: str, customer_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"PULLED#{db.key_part(customer_id, 'QBO customer id')}")


# ------------------------------------------------------------------------------------ pulled records


def load(realm_id: str, customer_ids: Iterable[str]) -> dict[str, PulledCustomer]:
    """The records of the customers that have one."""
    items = db.batch_get([_pulled_key(realm_id, cid) for cid in customer_ids], what="pulled customers")
    records: dict[str, PulledCustomer] = {}
    for item in items:
        customer_id = db.get_s(item, "customer_id")
        records[customer_id] = PulledCustomer(
            customer_id=customer_id,
            email=db.opt_s(item, "email"),
            contact_published=bool(item.get("contact_published", {}).get("BOOL", False)),
        )
    return records


def save(realm_id: str, records: Iterable[PulledCustomer]) -> None:
    now = db.iso_now()
    puts = []
    for record in records:
        item: db.Item = {
            **_pulled_key(realm_id, record.customer_id),
            "customer_id": db.s(record.customer_id),
            "contact_published": {"BOOL": record.contact_published},
            "updated_at": db.s(now),
        }
        if record.email:
            item["email"] = db.s(record.email)
        puts.append(item)
    db.batch_put(puts, what="pulled customers")
