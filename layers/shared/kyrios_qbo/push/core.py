"""One Kyrios event → QBO: parse, check the connection, apply (under the document's hold), report.

Outcomes, and who hears about them:

- applied, skipped (imported, draft, older than the connection, already applied) → sync log, acked;
- applied but QBO's total differs from Kyrios' → sync log (failed) + ``sync.failed``, acked (retrying
  would write the same thing again);
- not connected → sync log (skipped), acked: there is nothing to push to;
- permanent (malformed event, no email, inconsistent totals, QBO validation fault) and needs-reconnect →
  sync log + ``sync.failed`` + :class:`PushFailure` (the caller parks the message with the reason);
- retryable (throttled, QBO down, stale object after refetches, document or customer busy) → raised as
  is so SQS redelivers; on the final allowed attempt it becomes a :class:`PushFailure` too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kyrios_qbo import catalog, events, qbo_access, store, synclog
from kyrios_qbo.dead_letters import AUTH_CAUSE, FailureReason
from kyrios_qbo.intuit_auth import IntuitAuthError
from kyrios_qbo.mapping import MappingError
from kyrios_qbo.models.kyrios import (
    INVOICE_DETAIL_TYPES,
    PAYMENT_DETAIL_TYPE,
    InvalidEvent,
    InvoiceSnapshotEvent,
    KyriosEvent,
    PaymentCompletedEvent,
    parse_kyrios_event,
)
from kyrios_qbo.models.published import SyncFailed
from kyrios_qbo.observability import logger
from kyrios_qbo.push.invoices import push_invoice
from kyrios_qbo.push.outcomes import PushContext, PushFailure, PushResult, Subject
from kyrios_qbo.push.receipts import push_sales_receipt
from kyrios_qbo.qbo_client import Deadline, QboClient
from kyrios_qbo.qbo_errors import QboAuthError, QboCurrencyError, QboError
from kyrios_qbo.tax import TaxSetupError
from kyrios_qbo.tokens import TokenRefreshTimeout


def push_event(
    detail_type: str,
    detail: Any,
    *,
    deadline: Deadline = None,
    final_attempt: bool = False,
    owner: str | None = None,
) -> PushResult:
    """Make QBO match the document in this Kyrios event (see module docstring for outcomes)."""
    owner = owner or uuid.uuid4().hex
    seconds_left = _seconds_left(deadline)
    try:
        event = parse_kyrios_event(detail_type, detail)
    except InvalidEvent as exc:
        account_id = _field(detail, "account_id")
        if account_id:
            kind, kyrios_id, label = _raw_subject(detail_type, detail)
            synclog.record(account_id, direction="push", kind=kind, kyrios_id=kyrios_id, outcome="failed",
                           message=f"Kyrios sent an event we cannot read: {exc}", label=label)
        raise PushFailure(FailureReason.MALFORMED_EVENT, str(exc), account_id=account_id,
                          event_id=_field(detail, "event_id")) from exc
    subject = _subject(event)
    connection = store.get_connection(event.account_id)
    if connection is None or connection.status == "disconnected":
        return _report(event, subject, PushResult("skipped", "QuickBooks is not connected", subject.kind,
                                                  subject.kyrios_id))
    client: QboClient | None = None
    try:
        client = qbo_access.client_for(connection, deadline=deadline)
        ctx = PushContext(event.account_id, connection, client, owner, seconds_left)
        result = _apply(ctx, event)
    except qbo_access.NotConnected:
        return _report(event, subject, PushResult("skipped", "QuickBooks is not connected", subject.kind,
                                                  subject.kyrios_id))
    except (qbo_access.NeedsReconnect, QboAuthError) as exc:
        error = exc if isinstance(exc, QboError) else None
        raise _permanent(event, subject, FailureReason.NEEDS_RECONNECT,
                         "QuickBooks needs to be reconnected; this change is kept and sent after "
                         "reconnecting (redrive).", error) from exc
    except (MappingError, TaxSetupError) as exc:
        raise _permanent(event, subject, FailureReason.INVALID_DOCUMENT, str(exc), None) from exc
    except QboError as exc:
        if isinstance(exc, QboCurrencyError) and client is not None:
            catalog.forget_company(client)  # QBO disagrees with what we knew of its currencies: re-read
        if exc.retryable:
            raise _retry_or_give_up(event, subject, exc, final_attempt) from exc
        raise _permanent(event, subject, FailureReason.REJECTED, "QuickBooks refused this change.",
                         exc) from exc
    except Exception as exc:
        if getattr(exc, "retryable", False) or isinstance(exc, store.ConcurrentModification):
            raise _retry_or_give_up(event, subject, exc, final_attempt) from exc
        raise
    if result.outcome == "ok":
        _mark_pushed(connection)
    return _report(event, subject, result)


def _apply(ctx: PushContext, event: KyriosEvent) -> PushResult:
    if isinstance(event, InvoiceSnapshotEvent):
        return push_invoice(ctx, event)
    return push_sales_receipt(ctx, event)


def _subject(event: KyriosEvent) -> Subject:
    if isinstance(event, PaymentCompletedEvent):
        payment = event.payment
        label = f"{payment.source.replace('_', ' ')} payment {payment.id}"
        return Subject("sales_receipt", payment.id, payment.version, label)
    invoice = event.invoice
    return Subject("invoice", invoice.id, invoice.version, invoice.number)


def _raw_subject(detail_type: str, detail: Any) -> tuple[str, str | None, str]:
    """Kind, Kyrios id and label of the document an unreadable event is about, read best-effort from the
    raw detail (only bounded, non-blank strings are trusted): the sync log must name it whenever it can."""
    documents = detail if isinstance(detail, dict) else {}
    payment = detail_type == PAYMENT_DETAIL_TYPE
    if payment or (detail_type not in INVOICE_DETAIL_TYPES and "payment" in documents):
        kind, document = "sales_receipt", documents.get("payment")
    else:
        kind, document = "invoice", documents.get("invoice")
    kyrios_id = _field(document, "id")
    number = _field(document, "number") if kind == "invoice" else None
    if kyrios_id is None and number is None:
        return kind, None, "(unknown document)"
    if kind == "sales_receipt":  # labelled as _subject labels readable events
        source = _field(document, "source")
        return kind, kyrios_id, f"{source.replace('_', ' ') + ' ' if source else ''}payment {kyrios_id}"
    return kind, kyrios_id, number or kyrios_id or ""


def _mark_pushed(connection: store.Connection) -> None:
    """``last_sync_at`` follows successful pushes (cheaply, see ``store.mark_pushed``); bookkeeping that
    fails must not turn a push that reached QBO into a retried one."""
    try:
        store.mark_pushed(connection.account_id, connection.realm_id, connection.last_push_at)
    except Exception:
        logger.exception("could not record the push time", extra={"account_id": connection.account_id})


# ------------------------------------------------------------------------------------ reporting


def _report(event: KyriosEvent, subject: Subject, result: PushResult) -> PushResult:
    synclog.record(event.account_id, direction="push", kind=subject.kind, kyrios_id=subject.kyrios_id,
                   qbo_id=result.qbo_id, outcome=result.outcome, message=result.message, label=subject.label)
    if result.outcome == "failed":
        _publish_failure(event, subject, result.message, None, retryable=False)
    logger.info("push done", extra={"account_id": event.account_id, "kind": subject.kind,
                                    "kyrios_id": subject.kyrios_id, "version": subject.version,
                                    "outcome": result.outcome, "qbo_writes": result.qbo_writes})
    return result


def _permanent(
    event: KyriosEvent,
    subject: Subject,
    reason: FailureReason,
    message: str,
    error: QboError | None,
    cause: str | None = None,
) -> PushFailure:
    synclog.record(event.account_id, direction="push", kind=subject.kind, kyrios_id=subject.kyrios_id,
                   outcome="failed", message=message, error=error, label=subject.label)
    text = f"{message} {error.explain()}" if error is not None else message
    _publish_failure(event, subject, text, error, retryable=reason is FailureReason.NEEDS_RECONNECT)
    return PushFailure(reason, text, account_id=event.account_id, event_id=event.event_id, error=error,
                       document=(subject.kind, subject.kyrios_id), cause=cause)


def _retry_or_give_up(event: KyriosEvent, subject: Subject, exc: Exception, final_attempt: bool) -> Exception:
    error = exc if isinstance(exc, QboError) else None
    if not final_attempt:
        logger.warning("push will be retried", extra={"account_id": event.account_id, "kind": subject.kind,
                                                      "kyrios_id": subject.kyrios_id, "error": str(exc)})
        return exc
    message = "Sending to QuickBooks kept failing, so this change was set aside; retry it with a redrive."
    if error is None:
        message = f"{message} ({exc})"
    cause = AUTH_CAUSE if isinstance(exc, IntuitAuthError | TokenRefreshTimeout) else None
    return _permanent(event, subject, FailureReason.RETRIES_EXHAUSTED, message, error, cause)


def _publish_failure(
    event: KyriosEvent, subject: Subject, reason: str, error: QboError | None, *, retryable: bool
) -> None:
    connection = store.get_connection(event.account_id)
    if connection is None:
        return  # no company to speak of; the sync log has it
    failed = SyncFailed(
        account_id=event.account_id,
        realm_id=connection.realm_id,
        occurred_at=datetime.now(UTC),
        document_kind=subject.kind,
        document_id=subject.kyrios_id,
        document_version=subject.version,
        reason=reason[:1000],
        qbo_error_code=error.code if error else None,
        qbo_error_detail=(error.qbo_said() or None) if error else None,
        intuit_tid=error.intuit_tid if error else None,
        retryable=retryable,
    )
    events.publish_one(SyncFailed.DETAIL_TYPE, failed)


# ------------------------------------------------------------------------------------ helpers


def _seconds_left(deadline: Deadline) -> Callable[[], float]:
    if deadline is None:
        return lambda: 60.0
    if callable(deadline):
        remaining_ms = deadline
        return lambda: remaining_ms() / 1000.0
    until = float(deadline)
    return lambda: until - time.time()


_FIELD_LIMIT = 128
"""Longest raw string taken from an unreadable event (Kyrios ids are at most 128 characters)."""


def _field(detail: Any, name: str) -> str | None:
    """A non-blank, printable string of at most :data:`_FIELD_LIMIT` characters, else None."""
    value = detail.get(name) if isinstance(detail, dict) else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > _FIELD_LIMIT or not value.isprintable():
        return None
    return value
