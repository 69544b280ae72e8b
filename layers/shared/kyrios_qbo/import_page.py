"""One page of the historical import: publish what Kyrios has not seen, apply the review rule, and
record progress as it goes (each progress update is also the cancel check).

A page holds up to 1000 invoices. They are published in batches of at most 10 events (one PutEvents
call), each followed by its once-markers and review requests; after a batch, progress is recorded if
100 invoices passed or 2 s went by since the last update (whichever comes first), with one
conditional ``UpdateItem`` carrying the running figures. That update fails once the job was cancelled:
the step then records the figures of what it really did (the batch in flight included) and stops, so
a cancel stops publishing within 100 invoices and the job's figures match the events on the bus.

The event's contact (QBO customer id, display name, email) comes from the invoice where it carries it
(``CustomerRef.name`` and a usable ``BillEmail``, the address the invoice was sent to); otherwise from
the customer, read from QBO once per import (:mod:`kyrios_qbo.store.import_customers`) in ``Id IN (...)``
queries of at most 200 ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from kyrios_qbo import store
from kyrios_qbo.import_errors import ImportCancelled, ImportStepFailed
from kyrios_qbo.models.published import ContactIdentity, ImportedLine, InvoiceImported
from kyrios_qbo.models.qbo import Customer, Invoice
from kyrios_qbo.qbo_query import MAX_PAGE_SIZE, Select
from kyrios_qbo.store import import_customers, imported_invoices

PROGRESS_EVERY_INVOICES = 100
PROGRESS_EVERY_SECONDS = 2.0
EVENTS_PER_BATCH = 10  # one PutEvents call
CUSTOMERS_PER_QUERY = 200  # keeps the GET query URL a few KB long
COUNTERS = ("published", "already_imported", "from_kyrios", "paid", "review_requests_sent")


@dataclass
class _Progress:
    """The job's figures (before this page + this page so far) and when they were last recorded."""

    job: store.ImportJob
    processed_before: int
    before: Mapping[str, int]
    total: int
    clock: Callable[[], float]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    written: int = 0
    written_at: float = 0.0

    def __post_init__(self) -> None:
        self.written_at = self.clock()

    def after_batch(self, done: int) -> None:
        """Record at every 100th invoice of the job (batches end there) and 2 s after the last record."""
        every = PROGRESS_EVERY_INVOICES
        crossed = (self.processed_before + done) // every > (self.processed_before + self.written) // every
        if crossed or (done > self.written and self.clock() - self.written_at >= PROGRESS_EVERY_SECONDS):
            self.record(done)

    def record(self, done: int) -> None:
        processed = self.processed_before + done
        summary = {name: self.before.get(name, 0) + self.counts[name] for name in COUNTERS}
        job = self.job
        try:
            store.update_import_progress(
                job.account_id, job.job_id, processed, max(self.total, processed), summary
            )
        except store.ImportNotRunning as exc:
            if exc.status == "cancelled":
                store.settle_cancelled_import(job.account_id, job.job_id, processed, summary)
            raise ImportCancelled(str(exc)) from exc
        self.written, self.written_at = done, self.clock()


def import_page(
    job: store.ImportJob,
    client: Any,
    invoices: Sequence[Invoice],
    *,
    processed_before: int,
    before: Mapping[str, int],
    total: int,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, int]:
    """Import one page; the counters of this page. Raises ``ImportCancelled`` at the first progress
    update after the job was cancelled (the figures of what was done are recorded first)."""
    from kyrios_qbo import events, reviews  # lazily: the API side never publishes

    progress = _Progress(job, processed_before, before, total, clock)
    counts = progress.counts
    if not invoices:
        return counts
    realm_id = client.realm_id
    known = imported_invoices.lookup(realm_id, [invoice.id for invoice in invoices])
    wanted: list[Invoice] = []
    for invoice in invoices:
        if invoice.id in known.from_kyrios or known.imported_by.get(invoice.id, job.job_id) != job.job_id:
            continue
        wanted.append(invoice)  # new, or published by this job's earlier attempt at this page
    contacts = _contacts(job, client, wanted)
    occurred_at = datetime.now(UTC)
    home_currency = _home_currency(job.account_id)
    out = {
        inv.id: _invoice_event(job, realm_id, inv, contacts[inv.id], home_currency, occurred_at)
        for inv in wanted
    }
    send_enabled = bool(job.params.get("send_review_requests"))
    reviewed_customers: set[str] = set()
    done = 0

    def sends(invoice: Invoice) -> bool:
        return invoice.id in out and invoice.id not in known.imported_by

    for batch in _batches(invoices, processed_before, sends):
        to_publish = [out[i.id] for i in batch if sends(i)]
        if to_publish:
            events.publish(to_publish)
            imported_invoices.record(realm_id, [e.qbo_invoice_id for e in to_publish], job.job_id)
        for invoice in batch:
            if invoice.id in known.from_kyrios:
                counts["from_kyrios"] += 1
            elif invoice.id not in out:
                counts["already_imported"] += 1
            else:
                counts["published"] += 1
                event = out[invoice.id]
                if event.paid_state == "paid":
                    counts["paid"] += 1
                    if event.customer.qbo_customer_id not in reviewed_customers:
                        # The page's first paid invoice of this contact decides.
                        reviewed_customers.add(event.customer.qbo_customer_id)
                        if _review(job, realm_id, invoice, event, send_enabled, reviews):
                            counts["review_requests_sent"] += 1
        done += len(batch)
        progress.after_batch(done)
    if progress.written < done:
        progress.record(done)
    return counts


def _batches(
    invoices: Sequence[Invoice], processed_before: int, sends: Callable[[Invoice], bool]
) -> Iterator[list[Invoice]]:
    """Consecutive invoices holding at most 10 events to send, cut at every 100th invoice of the job."""
    batch: list[Invoice] = []
    sending = 0
    for position, invoice in enumerate(invoices, start=processed_before + 1):
        batch.append(invoice)
        sending += sends(invoice)
        if sending == EVENTS_PER_BATCH or position % PROGRESS_EVERY_INVOICES == 0:
            yield batch
            batch, sending = [], 0
    if batch:
        yield batch


def _review(
    job: store.ImportJob, realm_id: str, invoice: Invoice, event: InvoiceImported, send: bool, reviews: Any
) -> bool:
    # When it became paid is not on the invoice; its last change is the closest QBO tells.
    meta = invoice.meta_data
    paid_at = meta.last_updated_time if meta and meta.last_updated_time else event.txn_date
    sent: bool = reviews.request_review_if_first_paid(
        account_id=job.account_id,
        realm_id=realm_id,
        customer=event.customer,
        invoice_id=event.qbo_invoice_id,
        amount=event.total,
        currency=event.currency,
        paid_at=paid_at,
        origin="import",
        send_enabled=send,
    )
    return sent


# ------------------------------------------------------------------------------------------ contacts
def _valid_email(address: str | None) -> str | None:
    """QBO keeps whatever was typed; an address Kyrios cannot use is left out, not an error."""
    if not address:
        return None
    try:
        return ContactIdentity(qbo_customer_id="x", display_name="x", email=address).email
    except ValidationError:
        return None


def _bill_email(invoice: Invoice) -> str | None:
    return _valid_email(invoice.bill_email.address if invoice.bill_email else None)


def _contacts(job: store.ImportJob, client: Any, invoices: Sequence[Invoice]) -> dict[str, ContactIdentity]:
    """Invoice id → the contact of its event; reads only customers the invoices do not describe and
    this import has not read yet."""
    needed: set[str] = set()
    for invoice in invoices:
        ref = invoice.customer_ref
        if ref is None:
            raise ImportStepFailed(f"QuickBooks invoice {invoice.id} has no customer")
        if not ref.name or _bill_email(invoice) is None:
            needed.add(ref.value)
    known: dict[str, import_customers.KnownCustomer] = {}
    if needed:
        realm_id = client.realm_id
        known = import_customers.recall(realm_id, job.job_id, needed)
        missing = needed - set(known)
        if missing:
            read = _read_customers(client, missing)
            fresh = [
                import_customers.KnownCustomer(cid, read[cid].display_name, read[cid].email)
                if cid in read
                else import_customers.KnownCustomer(cid, None, None)  # not found: not asked again
                for cid in sorted(missing)
            ]
            import_customers.remember(realm_id, job.job_id, fresh)
            known.update({customer.qbo_customer_id: customer for customer in fresh})
    contacts: dict[str, ContactIdentity] = {}
    for invoice in invoices:
        ref = invoice.customer_ref
        assert ref is not None  # checked above
        customer = known.get(ref.value)
        name = ref.name or (customer.display_name if customer else None) or f"QuickBooks customer {ref.value}"
        email = _bill_email(invoice) or _valid_email(customer.email if customer else None)
        contacts[invoice.id] = ContactIdentity(qbo_customer_id=ref.value, display_name=name, email=email)
    return contacts


def _read_customers(client: Any, ids: set[str]) -> dict[str, Customer]:
    """The customers, inactive ones included (old invoices often name them), in few queries."""
    found: dict[str, Customer] = {}
    ordered = sorted(ids, key=lambda value: (len(value), value))
    for start in range(0, len(ordered), CUSTOMERS_PER_QUERY):
        chunk = ordered[start : start + CUSTOMERS_PER_QUERY]
        query = Select("Customer").where("Id", "IN", chunk).where("Active", "IN", [True, False])
        for row in client.query(query.max(MAX_PAGE_SIZE)):
            customer = Customer.model_validate(row)
            found[customer.id] = customer
    return found


def _home_currency(account_id: str) -> str:
    connection = store.get_connection(account_id)
    return (connection.company.currency if connection else None) or "USD"


# ------------------------------------------------------------------------------------------ events
def _lines(invoice: Invoice) -> list[ImportedLine]:
    lines: list[ImportedLine] = []
    for line in invoice.line:
        if line.detail_type == "SalesItemLineDetail":
            detail = line.sales_item_line_detail
            qty = detail.qty if detail and detail.qty and detail.qty > 0 else None
            lines.append(
                ImportedLine(
                    description=line.description,
                    item_name=detail.item_ref.name if detail and detail.item_ref else None,
                    quantity=qty,
                    unit_price=detail.unit_price if detail else None,
                    amount=line.amount or 0,
                    tax_code=detail.tax_code_ref.value if detail and detail.tax_code_ref else None,
                )
            )
        elif line.detail_type == "DiscountLineDetail" and line.amount:
            # A discount reduces the total: Kyrios sees it as a negative line.
            lines.append(ImportedLine(description=line.description or "Discount", amount=-abs(line.amount)))
    return lines


def _invoice_event(
    job: store.ImportJob,
    realm_id: str,
    invoice: Invoice,
    contact: ContactIdentity,
    home_currency: str,
    occurred_at: datetime,
) -> InvoiceImported:
    try:
        total = invoice.total_amt or 0
        return InvoiceImported(
            account_id=job.account_id,
            realm_id=realm_id,
            occurred_at=occurred_at,
            import_id=job.job_id,
            qbo_invoice_id=invoice.id,
            doc_number=invoice.doc_number,
            txn_date=invoice.txn_date,
            due_date=invoice.due_date,
            currency=invoice.currency_ref.value if invoice.currency_ref else home_currency,
            customer=contact,
            lines=_lines(invoice),
            total=total,
            balance=invoice.balance if invoice.balance is not None else total,
            paid_state=invoice.paid_state,
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ImportStepFailed(
            f"QuickBooks invoice {invoice.id} (number {invoice.doc_number or '-'}) could not be read: "
            f"{where} {problem['msg']}. Correct it in QuickBooks and run the import again."
        ) from None
