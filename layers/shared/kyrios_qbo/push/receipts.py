"""Completed Kyrios payments (order form, calendar booking, subscription, membership) → QBO SalesReceipt.

Same state-based rule as invoices: the SalesReceipt is created with a requestid keyed by the Kyrios
payment id (mapping kind ``sales_receipt``), a newer version sparse-updates it, an older or repeated one
changes nothing. The payment method and date travel as ``TxnDate``, ``PaymentRefNum`` and the note.
"""

from __future__ import annotations

from kyrios_qbo import mapping
from kyrios_qbo.models.kyrios import PaymentCompletedEvent
from kyrios_qbo.push import documents
from kyrios_qbo.push.outcomes import PushContext, PushResult


def push_sales_receipt(ctx: PushContext, event: PaymentCompletedEvent) -> PushResult:
    payment = event.payment
    if payment.paid_at < ctx.connected_at:
        return PushResult(
            "skipped", "paid before QuickBooks was connected", "sales_receipt", payment.id
        )
    current, applied = documents.already_applied(
        ctx, "sales_receipt", payment.id, payment.version, "payment"
    )
    if applied is not None:
        return applied
    documents.check_totals(payment)
    prepared = documents.prepare(ctx, payment)
    body = mapping.sales_receipt_payload(payment, prepared.refs, prepared.plan, prepared.company.profile)
    answer = documents.write_document(
        ctx, entity="SalesReceipt", kind="sales_receipt", kyrios_id=payment.id, version=payment.version,
        body=body, current=current, final=True,
    )
    qbo_id = str(answer["Id"])
    mismatch = documents.total_mismatch(payment, answer)
    if mismatch:
        return PushResult("failed", mismatch, "sales_receipt", payment.id, qbo_id, 1)
    source = payment.source.replace("_", " ")
    return PushResult(
        "ok",
        f"Sales receipt for {source} payment {payment.id} ({payment.method}) "
        f"{'created' if current is None else 'updated'} in QuickBooks",
        "sales_receipt",
        payment.id,
        qbo_id,
        1,
    )
