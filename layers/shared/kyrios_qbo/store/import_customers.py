"""The QBO customers one import has read, remembered for the rest of that import (read each once).

A page of the historical import needs a customer only for invoices that do not carry what the
``invoice.imported`` event says about its contact (a name and a billing email): those customers are
read from QBO in ``Id IN (...)`` queries, and what was read is kept here so that later pages of the
same import (other Lambda invocations) do not read them again. Keyed by import (``REALM#<realm>`` /
``IMPCUST#<import>#<customer id>``): a new import reads fresh data; the items expire after 7 days.
Read and written in batches (``_dynamo.batch_get``/``batch_put``), like
:mod:`kyrios_qbo.store.imported_invoices`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kyrios_qbo.store import _dynamo as db

KEEP_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class KnownCustomer:
    qbo_customer_id: str
    display_name: str | None
    email: str | None
    """The customer's primary email as QBO holds it (None: none, or the customer was not found)."""


def _key(realm_id: str, import_id: str, customer_id: str) -> db.Item:
    job = db.key_part(import_id, "import id")
    return db.key(db.realm_pk(realm_id), f"IMPCUST#{job}#{db.key_part(customer_id, 'QBO customer id')}")


def recall(realm_id: str, import_id: str, customer_ids: Iterable[str]) -> dict[str, KnownCustomer]:
    """What this import already read about these customers (those it has not read are absent)."""
    items = db.batch_get([_key(realm_id, import_id, cid) for cid in customer_ids], what="import customers")
    found: dict[str, KnownCustomer] = {}
    for item in items:
        customer_id = db.get_s(item, "customer_id")
        name, email = db.opt_s(item, "display_name"), db.opt_s(item, "email")
        found[customer_id] = KnownCustomer(customer_id, name, email)
    return found


def remember(realm_id: str, import_id: str, customers: Iterable[KnownCustomer]) -> None:
    expires_at = db.n(int(db.now()) + KEEP_SECONDS)
    items: list[db.Item] = []
    for customer in customers:
        item: db.Item = {
            **_key(realm_id, import_id, customer.qbo_customer_id),
            "customer_id": db.s(customer.qbo_customer_id),
            "expires_at": expires_at,
        }
        if customer.display_name:
            item["display_name"] = db.s(customer.display_name)
        if customer.email:
            item["email"] = db.s(customer.email)
        items.append(item)
    db.batch_put(items, what="import customers")
