"""The mixed workload of the fault, outage and token tests, and its audit.

Kyrios core (the bus) sends invoices through their lives (sent, updated, paid, voided — some versions
out of order) and completed payments; a QuickBooks user creates customers; an import of last year's
invoices runs. :class:`Ledger` remembers what was sent; :func:`audit` compares it with what QuickBooks
and the Kyrios bus hold at the end: every document exactly once and in its newest state, every contact
exactly once, every import invoice exactly once, and every message either processed or parked with a
reason.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from local.demo_steps.actors import BusListener, KyriosCore
from local.runner import LocalBundle
from tests.integration.pusher.conftest import (
    invoice_event,
    line,
    paid,
    payment_event,
    reissue,
    retotal,
    tax,
)
from tests.reliability.harness import Company, Counts, detail_of, drain_dead_letters, reason_of

VAT20 = tax("vat20", "VAT", "20")
CENT = Decimal("0.01")


def _lines(quantity: int) -> list[dict[str, Any]]:
    return [
        line("l1", "prod_vase", "Vase", str(quantity), "30.00", VAT20),
        line("l2", "prod_card", "Gift card", "1", "5.00", VAT20),
    ]


@dataclass
class InvoiceStory:
    invoice_id: str
    number: str
    events: list[dict[str, Any]]
    final: str  # "sent" | "paid" | "void"
    total: Decimal
    payment_ids: list[str]


@dataclass
class Ledger:
    """What the workload asked for."""

    company: Company
    invoices: list[InvoiceStory] = field(default_factory=list)
    receipts: dict[str, Decimal] = field(default_factory=dict)  # Kyrios payment id → amount
    emails: set[str] = field(default_factory=set)  # Kyrios customers pushed to QBO
    qbo_user_customers: set[str] = field(default_factory=set)  # QBO ids created by the QBO user
    imported: set[str] = field(default_factory=set)  # QBO invoice ids the import must publish
    import_job: str | None = None
    import_started: float = 0.0
    sent: int = 0


class Workload:
    """Builds and sends the workload for one connected company (GB: VAT on every line)."""

    def __init__(self, stack: LocalBundle, company: Company, rng: random.Random, counts: Counts) -> None:
        events = stack.client("events")
        self.stack = stack
        self.core = KyriosCore(events, stack.resources.event_bus_name)
        self.rng = rng
        self.counts = counts
        self.ledger = Ledger(company)
        self.tag = uuid.uuid4().hex[:6]

    def _customer(self) -> dict[str, Any]:
        n = self.rng.randint(1, 3)
        email = f"buyer{n}-{self.tag}@example.com"
        self.ledger.emails.add(email)
        return {"full_name": f"Buyer {n} {self.tag}", "email": email}

    def send(self, event: dict[str, Any]) -> None:
        self.core.publish(event["detail-type"], event["detail"])
        self.ledger.sent += 1
        self.counts.add("messages_sent")

    # -- Kyrios documents
    def invoice_story(self, index: int) -> InvoiceStory:
        account = self.ledger.company.account_id
        invoice_id = f"inv_{self.tag}_{index}"
        number = f"R{self.tag}-{index}"
        customer = self._customer()
        v1 = invoice_event(
            account, currency="GBP", lines=_lines(1), invoice_id=invoice_id, number=number, customer_=customer
        )
        plot = self.rng.choice(("sent", "updated", "paid", "void", "updated_paid"))
        events = [v1]
        final, last = "sent", v1
        if plot in ("updated", "updated_paid"):
            last = retotal(reissue(v1, "invoice.updated", version=2, lines=_lines(2)))
            events.append(last)
        payment_ids: list[str] = []
        if plot in ("paid", "updated_paid"):
            total = last["detail"]["invoice"]["totals"]["total"]
            payment_id = f"pay_{self.tag}_{index}"
            payment_ids.append(payment_id)
            last = reissue(
                last,
                "invoice.paid",
                version=len(events) + 1,
                status="paid",
                payments=[paid(payment_id, total)],
            )
            events.append(last)
            final = "paid"
        if plot == "void":
            last = reissue(v1, "invoice.voided", version=2, status="void")
            events.append(last)
            final = "void"
        story = InvoiceStory(
            invoice_id,
            number,
            events,
            final,
            Decimal(last["detail"]["invoice"]["totals"]["total"]),
            payment_ids,
        )
        self.ledger.invoices.append(story)
        return story

    def send_invoices(self, count: int) -> None:
        first = len(self.ledger.invoices)
        stories = [self.invoice_story(first + i) for i in range(count)]
        queue = [event for story in stories for event in story.events]
        # Kyrios' events arrive in any order: shuffle a third of them (state-based sync must not care).
        for _ in range(len(queue) // 3):
            i, j = self.rng.randrange(len(queue)), self.rng.randrange(len(queue))
            queue[i], queue[j] = queue[j], queue[i]
        for event in queue:
            self.send(event)

    def send_payments(self, count: int) -> None:
        account = self.ledger.company.account_id
        for _ in range(count):
            payment_id = f"kp_{self.tag}_{len(self.ledger.receipts)}"
            event = payment_event(
                account,
                source=self.rng.choice(("order_form", "calendar")),
                currency="GBP",
                lines=_lines(self.rng.randint(1, 3)),
                customer_=self._customer(),
                payment_id=payment_id,
            )
            self.ledger.receipts[payment_id] = Decimal(event["detail"]["payment"]["totals"]["total"])
            self.send(event)
            if self.rng.random() < 0.3:  # Kyrios re-publishes now and then: a second event, same document
                self.send(reissue(event))
                self.counts.add("republished_documents")

    # -- the QuickBooks side
    def create_qbo_customers(self, count: int) -> None:
        user = self.ledger.company.user
        for _ in range(count):
            n = len(self.ledger.qbo_user_customers)
            customer = user.create_customer(f"Walk In {self.tag} {n}", f"walkin{n}-{self.tag}@example.com")
            self.ledger.qbo_user_customers.add(str(customer["Id"]))
            self.counts.add("contacts_expected")

    def seed_history(self, count: int) -> None:
        """Last year's invoices in QBO (no webhooks), for the import."""
        control = self.stack.emulator.control
        realm = self.ledger.company.realm_id
        year = datetime.now(UTC).year - 1
        vat = next(c["Id"] for c in control.entities(realm, "TaxCode") if c.get("Name") == "20.0% S")
        customers = control.seed(
            realm,
            customers=[
                {
                    "DisplayName": f"Archive {self.tag} {n}",
                    "PrimaryEmailAddr": {"Address": f"old{n}-{self.tag}@example.com"},
                    "MetaData": {"CreateTime": f"{year}-01-0{n + 1}T10:00:00Z"},
                }
                for n in range(2)
            ],
        )["customers"]
        invoices = [
            {
                "CustomerRef": {"value": customers[n % 2]},
                "TxnDate": f"{year}-{1 + n % 12:02d}-10",
                "DocNumber": f"OLD-{self.tag}-{n}",
                "Line": [
                    {
                        "Amount": "40.00",
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": "1"},
                            "Qty": 1,
                            "UnitPrice": "40.00",
                            "TaxCodeRef": {"value": vat},
                        },
                    }
                ],
                "MetaData": {"CreateTime": f"{year}-{1 + n % 12:02d}-10T10:00:00Z"},
            }
            for n in range(count)
        ]
        self.ledger.imported = set(control.seed(realm, invoices=invoices)["invoices"])

    def start_import(self) -> None:
        year = datetime.now(UTC).year - 1
        body = {"start_date": f"{year}-01-01", "end_date": f"{year}-12-31", "send_review_requests": False}
        self.ledger.import_started = time.monotonic()
        answer = self.ledger.company.ui.call("POST", "/integrations/quickbooks/imports", body)
        assert answer.status_code == 202, answer.text
        self.ledger.import_job = answer.json()["id"]


# ---------------------------------------------------------------------------- the audit
@dataclass
class Audit:
    problems: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    duplicates: int = 0
    missing: int = 0

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def import_progress(company: Company, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    progress: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = company.ui.call("GET", f"/integrations/quickbooks/imports/{job_id}")
        progress = answer.json() if answer.status_code == 200 else {"state": f"HTTP {answer.status_code}"}
        if progress.get("state") != "running":
            return progress
        time.sleep(0.2)
    return progress


def qbo_state_done(stack: LocalBundle, ledger: Ledger) -> bool:
    """Every document reached its newest state in QBO (used to wait for the end of the work)."""
    control = stack.emulator.control
    realm = ledger.company.realm_id
    invoices = Counter(i.get("DocNumber") for i in control.entities(realm, "Invoice"))
    receipts = {r.get("PaymentRefNum") for r in control.entities(realm, "SalesReceipt")}
    return all(invoices[s.number] >= 1 for s in ledger.invoices) and set(ledger.receipts) <= receipts


def audit(stack: LocalBundle, ledger: Ledger, bus: BusListener, counts: Counts, acknowledged: int) -> Audit:
    control = stack.emulator.control
    realm = ledger.company.realm_id
    result = Audit()

    # Messages: each one sent was acknowledged by the pusher (processed, or parked with its reason).
    parked = [
        m for m in drain_dead_letters(stack) if detail_of(m).get("account_id") == ledger.company.account_id
    ]
    without_reason = [m for m in parked if not reason_of(m)]
    parked_docs = {
        (detail_of(m).get("invoice") or detail_of(m).get("payment") or {}).get("id") for m in parked
    }
    counts.add("messages_acknowledged", acknowledged)
    counts.add("messages_dead_lettered", len(parked))
    lost = max(0, ledger.sent - acknowledged)
    counts.add("messages_lost", lost)
    result.check(lost == 0, f"{lost} of {ledger.sent} messages were never acknowledged")
    result.check(not without_reason, f"{len(without_reason)} parked messages carry no reason")
    for message in parked:
        counts.add(f"dead_letter_reason_{reason_of(message)}")
        text = message.get("MessageAttributes", {}).get("failure_message", {}).get("StringValue", "")
        result.parked.append(f"{reason_of(message)}: {text}"[:300])

    # Invoices: exactly once each, in the newest state.
    qbo_invoices = control.entities(realm, "Invoice")
    by_number: dict[str, list[dict[str, Any]]] = {}
    for invoice in qbo_invoices:
        by_number.setdefault(str(invoice.get("DocNumber")), []).append(invoice)
    payments = control.entities(realm, "Payment")
    payments_by_ref = Counter(str(p.get("PaymentRefNum")) for p in payments)
    for story in ledger.invoices:
        found = by_number.get(story.number, [])
        if story.invoice_id in parked_docs and not found:
            continue  # parked with a reason: accounted for
        result.duplicates += max(0, len(found) - 1)
        result.missing += 0 if found else 1
        result.check(len(found) == 1, f"invoice {story.number}: {len(found)} in QBO")
        if len(found) != 1:
            continue
        invoice = found[0]
        if story.final == "void":
            result.check(
                Decimal(str(invoice["TotalAmt"])) == 0 and "Voided" in str(invoice.get("PrivateNote")),
                f"invoice {story.number} is not voided in QBO: {invoice.get('TotalAmt')}",
            )
        else:
            result.check(
                Decimal(str(invoice["TotalAmt"])).quantize(CENT) == story.total,
                f"invoice {story.number}: QBO total {invoice['TotalAmt']} ≠ Kyrios {story.total}",
            )
        if story.final == "paid":
            result.check(
                Decimal(str(invoice["Balance"])) == 0,
                f"invoice {story.number} still owes {invoice['Balance']}",
            )
        for payment_id in story.payment_ids:
            result.duplicates += max(0, payments_by_ref[payment_id] - 1)
            result.check(
                payments_by_ref[payment_id] == 1,
                f"payment {payment_id}: {payments_by_ref[payment_id]} QBO payments",
            )

    # Completed payments: one sales receipt each.
    receipts = Counter(str(r.get("PaymentRefNum")) for r in control.entities(realm, "SalesReceipt"))
    for payment_id in ledger.receipts:
        if payment_id in parked_docs and not receipts[payment_id]:
            continue
        result.duplicates += max(0, receipts[payment_id] - 1)
        result.missing += 0 if receipts[payment_id] else 1
        result.check(
            receipts[payment_id] == 1, f"payment {payment_id}: {receipts[payment_id]} sales receipts"
        )

    # Customers: one per Kyrios email, however many documents and retries used it.
    customers = control.entities(realm, "Customer")
    emails = Counter(str((c.get("PrimaryEmailAddr") or {}).get("Address", "")).lower() for c in customers)
    for email in ledger.emails:
        result.duplicates += max(0, emails[email] - 1)
        result.check(emails[email] == 1, f"customer {email}: {emails[email]} in QBO")
    counts.add("qbo_duplicates", result.duplicates)

    # Contacts: every customer the QBO user created reached Kyrios once; none the bundle created did.
    contacts = Counter(
        str(d.get("qbo_customer_id"))
        for d in bus.events_of("contact.created", lambda d: d.get("realm_id") == realm)
    )
    bundle_made = {str(c["Id"]) for c in customers if "Created by Kyrios" in str(c.get("Notes", ""))}
    for customer_id in ledger.qbo_user_customers:
        result.check(
            contacts[customer_id] == 1, f"QBO customer {customer_id}: {contacts[customer_id]} contact.created"
        )
        counts.add("contacts_missing", 1 if contacts[customer_id] == 0 else 0)
        counts.add("contact_duplicates", max(0, contacts[customer_id] - 1))
    echoes = sum(contacts[c] for c in bundle_made)
    counts.add("contact_echoes", echoes)
    result.check(echoes == 0, f"{echoes} contact.created for customers the bundle itself created")

    # Import: every seeded invoice published once.
    if ledger.import_job:
        imported = Counter(
            str(d.get("qbo_invoice_id"))
            for d in bus.events_of("invoice.imported", lambda d: d.get("import_id") == ledger.import_job)
        )
        duplicates = sum(max(0, n - 1) for n in imported.values())
        counts.add("imported_duplicates", duplicates)
        counts.add("imported_invoices", len(imported))
        result.check(
            set(imported) == ledger.imported,
            f"import published {sorted(imported)} instead of {sorted(ledger.imported)}",
        )
        result.check(duplicates == 0, f"import published {duplicates} invoices twice")
    return result
