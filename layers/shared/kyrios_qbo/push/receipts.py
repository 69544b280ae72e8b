"""Completed Kyrios payments (order form, calendar booking, subscription, membership) → QBO SalesReceipt.

Same state-based rule as invoices: the SalesReceipt is created with a requestid keyed by the Kyrios
payment id (mapping kind ``sales_receipt``), a newer version sparse-updates it, an older or repeated one
changes nothing. The payment method and date travel as ``TxnDate``, ``PaymentRefNum`` and the note.
"""

from __future__ import annotations

from kyrios_qbo import mapping
from kyrios_qbo.models.kyrios import KyriosPaymentDocument, PaymentCompletedEvent
from kyrios_qbo.push import documents
from kyrios_qbo.push.outcomes import PushContext, PushResult


def push_sales_receipt(ctx: PushContext, event: PaymentCompletedEvent) -> PushResult:
    payment = event.payment
    if ctx.before_connecting(payment.paid_at):
        return PushResult(
            "skipped", "paid before QuickBooks was connected", "sales_receipt", payment.id
        )
    with documents.held(ctx, "sales_receipt", payment.id) as hold:
        return _apply(ctx, payment, hold)


def _apply(ctx: PushContext, payment: KyriosPaymentDocument, hold: documents.Hold) -> PushResult:
    applied = documents.already_applied(hold, payment.version, "payment")
    if applied is not None:
        return applied
    prepared = documents.prepare(ctx, payment)
    body = mapping.sales_receipt_payload(
        payment, prepared.refs, prepared.plan, prepared.company.profile, settlement=prepared.settlement
    )
    created = hold.current is None
    answer = documents.write_document(
        ctx, hold, entity="SalesReceipt", version=payment.version, body=body, final=True
    )
    qbo_id = str(answer["Id"])
    mismatch = documents.total_mismatch(payment, answer)
    if mismatch:
        return PushResult("failed", mismatch, "sales_receipt", payment.id, qbo_id, 1)
    source = payment.source.replace("_", " ")
    said = documents.notes(payment, prepared, answer)
    return PushResult(
        "ok",
        f"Sales receipt for {source} payment {payment.id} ({payment.method}) "
        f"{'created' if created else 'updated'} in QuickBooks" + (f"; {said}" if said else ""),
        "sales_receipt",
        payment.id,
        qbo_id,
        1,
    )
