"""What the contact poller remembers about the QBO customers it has seen, read and written in batches.

One poll can see thousands of customers (a CSV import in QBO, a first poll after an outage), and a
DynamoDB call per customer and purpose would dominate its run time, so everything here is batched
(BatchGetItem of 100 keys, BatchWriteItem of 25 items, unprocessed items retried).

Per customer (``REALM#<realm>`` / ``PULLED#<customer id>``): the email the poller last indexed for
it — needed to remove the old index entry when the email changes or the customer is deleted, since
QBO only tells us the new state — and whether its ``contact.created`` went out (the once-marker,
written only after a successful publish).

The email index entries and reverse id mappings themselves belong to :mod:`kyrios_qbo.store`; the
batched reads and writes here use the store's key layout through its key builders.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store import mappings
from kyrios_qbo.store.mappings import MappingKind

BATCH_GET_SIZE = 100
BATCH_WRITE_SIZE = 25
_MAX_UNPROCESSED_ROUNDS = 8


@dataclass(frozen=True)
class PulledCustomer:
    customer_id: str
    email: str | None
    """Normalised email indexed for this customer (None: none indexed)."""
    contact_published: bool


def _pulled_key(realm_id: str, customer_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"PULLED#{db.key_part(customer_id, 'QBO customer id')}")


def _batch_get(keys: Sequence[db.Item]) -> list[db.Item]:
    table = db.table_name()
    found: list[db.Item] = []
    unique = list({(k["pk"]["S"], k["sk"]["S"]): k for k in keys}.values())
    for start in range(0, len(unique), BATCH_GET_SIZE):
        request: dict[str, Any] = {
            table: {"Keys": unique[start : start + BATCH_GET_SIZE], "ConsistentRead": True}
        }
        for round_ in range(_MAX_UNPROCESSED_ROUNDS):
            answer = db.client().batch_get_item(RequestItems=request)
            found.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.05 * 2**round_, 1.0))  # DynamoDB throttled part of the batch
        else:
            raise db_unprocessed("read")
    return found


def _batch_write(requests: Sequence[dict[str, Any]]) -> None:
    table = db.table_name()
    for start in range(0, len(requests), BATCH_WRITE_SIZE):
        pending: dict[str, Any] = {table: list(requests[start : start + BATCH_WRITE_SIZE])}
        for round_ in range(_MAX_UNPROCESSED_ROUNDS):
            answer = db.client().batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**round_, 1.0))
        else:
            raise db_unprocessed("write")


def db_unprocessed(what: str) -> RuntimeError:
    return RuntimeError(f"DynamoDB kept part of a batch {what} unprocessed; the poll will be retried")


# ------------------------------------------------------------------------------------ pulled records


def load(realm_id: str, customer_ids: Iterable[str]) -> dict[str, PulledCustomer]:
    """The records of the customers that have one."""
    items = _batch_get([_pulled_key(realm_id, cid) for cid in customer_ids])
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
        puts.append({"PutRequest": {"Item": item}})
    _batch_write(puts)


# ------------------------------------------------------------------------------------ store data in bulk


def mapped_qbo_ids(realm_id: str, kind: MappingKind, qbo_ids: Iterable[str]) -> set[str]:
    """Which of these QBO ids have an id mapping of ``kind`` (i.e. were created or pushed by us)."""
    keys = [mappings._reverse_key(realm_id, kind, qbo_id) for qbo_id in qbo_ids]
    prefix = f"QMAP#{kind}#"
    return {db.get_s(item, "sk")[len(prefix) :] for item in _batch_get(keys)}


def index_emails(realm_id: str, emails_by_customer: dict[str, str]) -> None:
    """``store.index_customer_email`` for many customers at once (overwrites, as it does).

    Two customers with one email: the one later in the mapping wins (callers pass them oldest change
    first), as it would with one put after the other.
    """
    now = db.iso_now()
    latest = {
        mappings.normalize_email(email): customer_id for customer_id, email in emails_by_customer.items()
    }
    puts = [
        {
            "PutRequest": {
                "Item": {
                    **mappings._email_key(realm_id, email),
                    "qbo_customer_id": db.s(db.key_part(customer_id, "QBO customer id")),
                    "updated_at": db.s(now),
                }
            }
        }
        for email, customer_id in latest.items()
    ]
    _batch_write(puts)
