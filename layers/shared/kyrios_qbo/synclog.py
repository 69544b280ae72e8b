"""A readable record of every push and pull and how it went, for the sync-log screen.

One call per outcome: ``record(account_id, direction="push", kind="invoice", kyrios_id=..., qbo_id=...,
outcome="failed", message=..., error=exc)``. With a QBO error the entry carries the error's plain-language
:meth:`~kyrios_qbo.qbo_errors.QboError.explain` (what QBO said, what to do), QBO's raw words and its
``intuit_tid`` for support. Recording never raises: a sync log that cannot be written must not turn a
successful push into a failed (and retried) one; the failure is logged instead.
"""

from __future__ import annotations

from typing import Literal

from kyrios_qbo import store
from kyrios_qbo.observability import logger
from kyrios_qbo.qbo_errors import QboError

Direction = Literal["push", "pull"]
Outcome = Literal["ok", "failed", "skipped"]

_ENTITY_WORDS = {
    "invoice": "Invoice",
    "payment": "Payment",
    "sales_receipt": "Sales receipt",
    "customer": "Customer",
    "contact": "Contact",
    "item": "Product/service",
    "tax_code": "Tax code",
}


def describe_entity(kind: str, label: str | None) -> str:
    """``("invoice", "INV-7")`` → ``"Invoice INV-7"``: how a bookkeeper names the record."""
    noun = _ENTITY_WORDS.get(kind, kind.replace("_", " ").capitalize())
    return f"{noun} {label}" if label else noun


def record(
    account_id: str,
    *,
    direction: Direction,
    kind: str,
    kyrios_id: str | None,
    qbo_id: str | None = None,
    outcome: Outcome,
    message: str,
    error: QboError | None = None,
    label: str | None = None,
) -> store.SyncLogEntry | None:
    """Append one entry. ``kind`` is what was synced (``invoice``, ``payment``, ``sales_receipt``,
    ``customer``, ``contact``…); ``label`` the number or name people know it by (defaults to the Kyrios
    id). With ``error`` its explanation follows ``message``. Returns None if the entry could not be
    written (logged, never raised)."""
    text = message.strip()
    if error is not None:
        text = f"{text} {error.explain()}".strip()
    try:
        return store.append_sync_log(
            account_id,
            kind=f"{kind}.{direction}",
            direction=direction,
            entity=describe_entity(kind, label or kyrios_id),
            outcome=outcome,
            message=text or outcome,
            qbo_detail=error.qbo_said() or None if error is not None else None,
            intuit_tid=error.intuit_tid if error is not None else None,
            kyrios_id=kyrios_id,
            qbo_id=qbo_id,
        )
    except Exception:  # a broken log write must not fail (and repeat) the sync it describes
        logger.exception("could not write the sync log", extra={"account_id": account_id, "kind": kind})
        return None
