"""Which QBO invoices were already imported (and by which import), and which came from Kyrios.

A page of the historical import touches up to 1000 invoices: one ``GetItem``/``PutItem`` each would
cost thousands of DynamoDB round trips per page, so this module reads and writes the same items in
batches (``_dynamo.batch_get``/``batch_put``). It uses the store's key layout
(:mod:`kyrios_qbo.store`): the once-marker ``REALM#<realm>`` / ``ONCE#invoice-imported:<qbo id>``
(so ``store.is_marked`` sees it too) with the id of the import that published it, and the reverse
id mapping ``QMAP#invoice#<qbo id>`` that the pusher writes for invoices it created from Kyrios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.errors import StoreBusy

__all__ = ["ImportedState", "StoreBusy", "lookup", "marker_name", "record"]


def marker_name(qbo_invoice_id: str) -> str:
    """The once-marker of an imported invoice (``store.is_marked(realm, marker_name(id))``)."""
    return f"invoice-imported:{qbo_invoice_id}"


def _marker_sk(qbo_invoice_id: str) -> str:
    return f"ONCE#{db.key_part(marker_name(qbo_invoice_id), 'marker')}"


def _pushed_sk(qbo_invoice_id: str) -> str:
    return f"QMAP#invoice#{db.key_part(qbo_invoice_id, 'QBO id')}"


@dataclass(frozen=True)
class ImportedState:
    """What the store knows about a page of invoices."""

    imported_by: dict[str, str] = field(default_factory=dict)
    """QBO invoice id → id of the import that published it."""
    from_kyrios: frozenset[str] = frozenset()
    """QBO invoice ids the pusher created from Kyrios invoices (Kyrios has them already)."""


def lookup(realm_id: str, qbo_invoice_ids: Sequence[str]) -> ImportedState:
    """Markers and Kyrios mappings of ``qbo_invoice_ids`` (consistent reads, batched)."""
    pk = db.realm_pk(realm_id)
    keys = [db.key(pk, _marker_sk(i)) for i in qbo_invoice_ids]
    keys += [db.key(pk, _pushed_sk(i)) for i in qbo_invoice_ids]
    imported_by: dict[str, str] = {}
    from_kyrios: set[str] = set()
    for item in db.batch_get(keys, what="import markers"):
        sk = db.get_s(item, "sk")
        if sk.startswith("ONCE#"):
            invoice_id = sk.removeprefix("ONCE#").removeprefix("invoice-imported:")
            imported_by[invoice_id] = db.opt_s(item, "import_id") or ""
        else:
            from_kyrios.add(sk.removeprefix("QMAP#invoice#"))
    return ImportedState(imported_by=imported_by, from_kyrios=frozenset(from_kyrios))


def record(realm_id: str, qbo_invoice_ids: Sequence[str], import_id: str) -> None:
    """Mark invoices as published by ``import_id`` (after publishing: a crash before this only
    republishes with the same event ids, which Kyrios drops)."""
    pk = db.realm_pk(realm_id)
    now, job = db.s(db.iso_now()), db.s(import_id)
    db.batch_put(
        [{**db.key(pk, _marker_sk(i)), "marked_at": now, "import_id": job} for i in qbo_invoice_ids],
        what="import markers",
    )
