"""Invoice snapshots (sent / updated / paid / voided) → the QBO Invoice, its Payments, its void.

Applied under the document's hold (``documents.held``). Order of writes, each idempotent on its own:

1. nothing if the mapping already reflects this version or a newer one;
2. the Invoice: created (requestid from the document) or sparse-updated (document + version);
3. one QBO Payment per Kyrios payment id not mapped yet (requestid from the payment id; mapping kind
   ``payment``): partial payments add up, and a "paid" snapshot that arrives first still ends paid;
4. the void, if Kyrios voided it (a voided invoice never pushed before is created, then voided, so the
   books show what Kyrios shows);
5. the mapping with the new applied version (conditional newer-only), before the message is acked (with
   step 2 when steps 3 and 4 have nothing to do).
"""

from __future__ import annotations

from typing import Any

from kyrios_qbo import mapping, store
from kyrios_qbo.models.kyrios import InvoiceSnapshotEvent, KyriosInvoice
from kyrios_qbo.models.qbo import Invoice
from kyrios_qbo.push import documents
from kyrios_qbo.push.outcomes import PushContext, PushResult


def push_invoice(ctx: PushContext, event: InvoiceSnapshotEvent) -> PushResult:
    invoice = event.invoice
    skipped = _reason_to_skip(ctx, invoice)
    if skipped:
        return PushResult("skipped", skipped, "invoice", invoice.id)
    with documents.held(ctx, "invoice", invoice.id) as hold:
        return _apply(ctx, invoice, hold)


def _apply(ctx: PushContext, invoice: KyriosInvoice, hold: documents.Hold) -> PushResult:
    applied = documents.already_applied(hold, invoice.version, "invoice")
    if applied is not None:
        return applied
    prepared = documents.prepare(ctx, invoice)
    body = mapping.invoice_payload(
        invoice, prepared.refs, prepared.plan, prepared.company.profile, prepared.settlement
    )
    final = invoice.status != "void" and not invoice.payments  # no Payment or void to write after it
    created = hold.current is None
    answer = documents.write_document(
        ctx, hold, entity="Invoice", version=invoice.version, body=body, final=final
    )
    writes = 1
    qbo_id, sync_token = str(answer["Id"]), _token(answer)
    mismatch = documents.total_mismatch(invoice, answer)

    if invoice.status != "void":
        recorded = _record_payments(ctx, invoice, qbo_id, prepared)
        writes += recorded
        if recorded:
            sync_token = None  # each payment bumped the invoice's SyncToken: read it before the next update
    else:
        sync_token = _void(ctx, invoice, qbo_id, sync_token)
        writes += 1
        mismatch = None  # a voided invoice is zeroed in QBO by design

    if not final:
        documents.save_state(ctx, hold, qbo_id, sync_token, invoice.version)
    if mismatch:
        return PushResult("failed", mismatch, "invoice", invoice.id, qbo_id, writes)
    said = documents.notes(invoice, prepared, answer)
    summary = _summary(invoice, created) + (f"; {said}" if said else "")
    return PushResult("ok", summary, "invoice", invoice.id, qbo_id, writes)


def _reason_to_skip(ctx: PushContext, invoice: KyriosInvoice) -> str | None:
    if invoice.is_imported:
        return "imported from QuickBooks, so it is never sent back"
    if invoice.status == "draft":
        return "still a draft in Kyrios; it is sent to QuickBooks once it is sent to the customer"
    if ctx.before_connecting(invoice.created_at):
        return (
            "created in Kyrios before QuickBooks was connected; use the import or enter it in QuickBooks "
            "if it belongs there"
        )
    return None


def _record_payments(
    ctx: PushContext, invoice: KyriosInvoice, qbo_invoice_id: str, prepared: documents.Prepared
) -> int:
    created = 0
    for payment in invoice.payments:
        if store.get_mapping(ctx.realm_id, "payment", payment.payment_id) is not None:
            continue
        body = mapping.payment_payload(
            invoice, payment, qbo_invoice_id, prepared.refs.customer_id, prepared.company.profile
        )
        answer = ctx.client.create(
            "Payment", body, request_id=mapping.request_id("payment", ctx.realm_id, payment.payment_id)
        )
        store.put_mapping_if_absent(
            ctx.realm_id, "payment", payment.payment_id, qbo_id=str(answer["Id"]), sync_token=_token(answer)
        )
        created += 1
    return created


def _void(ctx: PushContext, invoice: KyriosInvoice, qbo_id: str, sync_token: str | None) -> str | None:
    current = Invoice.model_validate(ctx.client.read("Invoice", qbo_id))
    if current.is_voided:
        return current.sync_token
    answer = ctx.client.void(
        "Invoice",
        qbo_id,
        current.sync_token or sync_token or "0",
        request_id=mapping.request_id("invoice-void", ctx.realm_id, invoice.id),
    )
    return _token(answer)


def _token(answer: dict[str, Any]) -> str | None:
    token = answer.get("SyncToken")
    return str(token) if token is not None else None


def _summary(invoice: KyriosInvoice, created: bool) -> str:
    action = "created" if created else "updated"
    if invoice.status == "void":
        return f"Invoice {invoice.number} voided in QuickBooks (version {invoice.version})"
    paid = f", {len(invoice.payments)} payment(s) recorded" if invoice.payments else ""
    return f"Invoice {invoice.number} {action} in QuickBooks (version {invoice.version}){paid}"
