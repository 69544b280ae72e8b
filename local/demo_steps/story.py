"""The product story, step by step, against a running :class:`local.runner.LocalBundle`.

Two companies: a US one (automated sales tax) and a GB one (VAT codes). Everything goes through
public surfaces: the front door (as the Kyrios UI), the emulator's consent page and control API
(as a QuickBooks user), the bus (as Kyrios core, and the listener for what the bundle publishes).
Each check prints what it compared and the figure it measured; a failed check fails its step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from local.demo_steps.actors import (
    BusListener,
    KyriosCore,
    KyriosUi,
    QboUser,
    new_event_id,
    now_iso,
)
from local.demo_steps.books import step_books
from local.demo_steps.report import Report, StepFailed, StepResult, wait_until
from local.qbo_emulator import GB_REALM, US_REALM
from local.runner import LocalBundle

US_ACCOUNT = "acct-demo-us"
GB_ACCOUNT = "acct-demo-gb"
CENT = Decimal("0.01")


@dataclass
class Company:
    account_id: str
    realm_id: str
    name: str
    currency: str
    tax: dict[str, str]
    ui: KyriosUi
    user: QboUser


@dataclass
class Story:
    stack: LocalBundle
    report: Report
    companies: dict[str, Company] = field(default_factory=dict)
    core: KyriosCore | None = None
    bus: BusListener | None = None
    known_customer: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ set-up
    def prepare(self) -> None:
        stack = self.stack
        control = stack.emulator.control
        names = {c["realm_id"]: c["name"] for c in control.companies()}
        for account_id, realm_id, currency, tax in (
            (
                US_ACCOUNT,
                US_REALM,
                "USD",
                {"tax_id": "tax_us_sales", "name": "Sales tax", "rate_percent": "8.25"},
            ),
            (GB_ACCOUNT, GB_REALM, "GBP", {"tax_id": "tax_gb_vat20", "name": "VAT", "rate_percent": "20"}),
        ):
            self.companies[account_id] = Company(
                account_id,
                realm_id,
                names[realm_id],
                currency,
                tax,
                KyriosUi(stack.api_url, stack.dev_token(account_id)),
                QboUser(control, realm_id),
            )
        events = stack.client("events")
        bus = stack.resources.event_bus_name
        self.core = KyriosCore(events, bus)
        self.bus = BusListener(stack.client("sqs"), events, bus)

    @property
    def us(self) -> Company:
        return self.companies[US_ACCOUNT]

    @property
    def gb(self) -> Company:
        return self.companies[GB_ACCOUNT]

    def run(self) -> bool:
        self.prepare()
        steps = [
            (1, "Connect a US and a GB company", self.step_connect),
            (2, "A customer created in QuickBooks becomes a Kyrios contact", self.step_contact),
            (3, "Paid QuickBooks invoices ask for one review per contact", self.step_reviews),
            (4, "Kyrios payments become QuickBooks sales receipts", self.step_receipts),
            (5, "Kyrios invoices land in QuickBooks with equal totals", self.step_invoices),
            (6, "Import last year's invoices, twice, without duplicates", self.step_import),
            (7, "QuickBooks outage and throttling while pushing", self.step_outage),
            (8, "Books equal to Kyrios to the cent in every regime", self.step_books),
            (9, "Disconnect", self.step_disconnect),
        ]
        for number, title, body in steps:
            with self.report.step(number, title) as result:
                body(result)
        if self.bus is not None:
            self.bus.close()
        return self.report.summary()

    def settle(self, timeout: float = 30.0) -> None:
        """Webhooks sent, queues drained: what follows from the last action has happened."""
        self.stack.emulator.control.wait_webhooks(timeout=10)
        self.stack.wait_idle(timeout=timeout)

    def check(self, result: StepResult, ok: bool, text: str) -> None:
        if not ok:
            self.explain_dead_letters()
        self.report.check(result, ok, text)

    def explain_dead_letters(self) -> None:
        """Why pushes were parked: the reasons the pusher wrote on the DLQ messages (peeked, not taken)."""
        sqs = self.stack.client("sqs")
        url = self.stack.resources.queues["PushDeadLetterQueue"].url
        reasons: dict[str, int] = {}
        for _ in range(5):
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
            )
            for message in answer.get("Messages", []):
                attributes = message.get("MessageAttributes", {})
                reason = attributes.get("failure_reason", {}).get("StringValue", "?")
                text = attributes.get("failure_message", {}).get("StringValue", "")
                key = f"{reason}: {text}"[:160]
                reasons[key] = reasons.get(key, 0) + 1
            if not answer.get("Messages"):
                break
        for reason, count in sorted(reasons.items()):
            self.report.note(f"push DLQ holds (seen {count}×) {reason}")

    # ------------------------------------------------------------------ 1
    def step_connect(self, result: StepResult) -> None:
        for company in (self.us, self.gb):
            started = time.monotonic()
            authorize_url = company.ui.connect()
            landing = company.user.approve(authorize_url)
            outcome = company.ui.finish_connect(landing.url)
            seconds = time.monotonic() - started
            self.check(
                result,
                outcome.get("quickbooks") == "connected",
                f"{company.account_id}: Intuit consent for {company.name} → callback → Kyrios page completes "
                f"as its user → {outcome} ({seconds:.2f} s, {len(landing.history)} redirects)",
            )
            status = company.ui.status()
            self.check(
                result,
                status.get("status") == "connected" and status.get("company_name") == company.name,
                f"status shows {status.get('status')} with company {status.get('company_name')!r} "
                f"({status.get('country')}, {status.get('currency')})",
            )
        # The attack the flow is built against: the US account's sign-in link, approved by the admin of
        # another business who is signed in to their own Kyrios account (here: the GB account).
        control = self.us.user.control
        stranger = "9130349999999999"
        control.add_company(stranger, "Stranger Florist LLC", "US")
        landing = QboUser(control, stranger).approve(self.us.ui.connect())
        outcome = self.gb.ui.finish_connect(landing.url)
        grants = [g for g in control.grants() if g["realm"] == stranger and not g["revoked"]]
        self.check(
            result,
            outcome.get("reason") == "wrong_account" and not grants,
            f"{self.us.account_id}'s sign-in link approved for Stranger Florist LLC by another business → "
            f"{outcome}, {len(grants)} live grants at Intuit",
        )

    # ------------------------------------------------------------------ 2
    def step_contact(self, result: StepResult) -> None:
        assert self.bus is not None
        email = "ana.lima@example.com"
        started = time.monotonic()
        customer = self.us.user.create_customer("Ana Lima", email)
        detail, arrived = self.bus.wait_for(
            "contact.created", lambda d: d.get("qbo_customer_id") == customer["Id"], timeout=30, since=started
        )
        self.known_customer = customer
        self.check(
            result,
            detail is not None,
            f"QBO customer {customer['Id']} 'Ana Lima' → contact.created on the Kyrios bus "
            f"(email {detail.get('email') if detail else '-'}), latency {arrived - started:.2f} s",
        )

    # ------------------------------------------------------------------ 3
    def _pay_and_watch(
        self, customer: dict[str, Any], doc_number: str, amount: str
    ) -> tuple[list[Any], float]:
        assert self.bus is not None
        user = self.us.user
        invoice = user.create_invoice(customer["Id"], amount, doc_number)
        started = time.monotonic()
        user.pay(invoice["Id"])
        self.settle()
        # The paid invoice reaches the poller by webhook; a short grace covers one more poll round.
        reviews = wait_until(
            lambda: self.bus.events_of(  # type: ignore[union-attr]
                "review.requested", lambda d: d["contact"]["qbo_customer_id"] == customer["Id"], since=started
            ),
            timeout=6,
        )
        return reviews or [], time.monotonic() - started

    def step_reviews(self, result: StepResult) -> None:
        if not self.known_customer:
            raise StepFailed("needs the customer of step 2")
        customer = self.known_customer
        first, seconds = self._pay_and_watch(customer, "QB-1001", "120.00")
        self.check(
            result,
            len(first) == 1,
            f"first invoice of {customer['DisplayName']} paid in QBO → {len(first)} review.requested "
            f"({seconds:.2f} s)",
        )
        second, _ = self._pay_and_watch(customer, "QB-1002", "80.00")
        self.check(
            result,
            len(second) == 0,
            f"second invoice of the same customer paid → {len(second)} more review requests",
        )
        answer = self.us.ui.settings(send_review_requests=False)
        self.check(
            result,
            answer.status_code == 200,
            f"setting 'send review requests' switched off (HTTP {answer.status_code})",
        )
        other = self.us.user.create_customer("Ben Okafor", "ben.okafor@example.com")
        third, _ = self._pay_and_watch(other, "QB-1003", "60.00")
        self.check(
            result,
            len(third) == 0,
            f"first invoice of another customer paid with the setting off → {len(third)} review requests",
        )
        self.us.ui.settings(send_review_requests=True)

    # ------------------------------------------------------------------ 4
    def _payment(
        self, company: Company, payment_id: str, source: str, name: str, email: str, amount: str
    ) -> dict[str, Any]:
        return {
            "event_id": new_event_id(),
            "account_id": company.account_id,
            "occurred_at": now_iso(),
            "payment": {
                "id": payment_id,
                "source": source,
                "source_id": f"{source}_demo",
                "version": 1,
                "paid_at": now_iso(),
                "currency": company.currency,
                "amount": amount,
                "method": "card",
                "customer": {"full_name": name, "email": email},
                "lines": [
                    {
                        "line_id": "pl_1",
                        "product": {"id": f"prod_{source}", "name": f"Demo {source} item"},
                        "quantity": "1",
                        "unit_price": amount,
                        "taxes": [],
                    }
                ],
                "prices_include_tax": False,
                "totals": {
                    "subtotal": amount,
                    "discount_total": "0.00",
                    "tax_total": "0.00",
                    "total": amount,
                },
            },
        }

    def _receipts_for(self, company: Company, customer_id: str) -> list[dict[str, Any]]:
        return [r for r in company.user.entities("SalesReceipt") if r["CustomerRef"]["value"] == customer_id]

    def step_receipts(self, result: StepResult) -> None:
        assert self.core is not None
        us = self.us
        if not self.known_customer:
            raise StepFailed("needs the customer of step 2")
        known = self.known_customer
        email = known["PrimaryEmailAddr"]["Address"]
        self.core.publish(
            "payment.completed",
            self._payment(us, "kp_demo_order_1", "order_form", "Ana Lima", email.upper(), "90.00"),
        )
        receipts = wait_until(lambda: self._receipts_for(us, known["Id"]), timeout=30)
        self.check(
            result,
            len(receipts or []) == 1,
            f"order-form payment for {email.upper()} → {len(receipts or [])} SalesReceipt on the existing "
            f"QBO customer {known['Id']} (total {receipts[0]['TotalAmt'] if receipts else '-'})",
        )
        before = len(us.user.entities("Customer"))
        new_email = "chloe.martin@example.com"
        self.core.publish(
            "payment.completed",
            self._payment(us, "kp_demo_cal_1", "calendar", "Chloé Martin", new_email, "65.00"),
        )

        def created() -> list[dict[str, Any]]:
            return [
                c
                for c in us.user.entities("Customer")
                if (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() == new_email
            ]

        customers = wait_until(created, timeout=30) or []
        receipts = self._receipts_for(us, customers[0]["Id"]) if customers else []
        receipts = receipts or (
            wait_until(lambda: self._receipts_for(us, customers[0]["Id"]), 10) or [] if customers else []
        )
        self.check(
            result,
            len(customers) == 1 and len(receipts) == 1,
            f"calendar payment for a new email → {len(customers)} new QBO customer "
            f"({len(us.user.entities('Customer')) - before} customers added) and {len(receipts)} receipt",
        )

    # ------------------------------------------------------------------ 5
    def _invoice(
        self,
        company: Company,
        invoice_id: str,
        number: str,
        version: int,
        status: str,
        discount: str,
        payments: list[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], Decimal]:
        tax = company.tax
        lines = [
            {
                "line_id": "li_1",
                "product": {"id": "prod_coaching", "name": "Coaching session"},
                "quantity": "2",
                "unit_price": "100.00",
                "discount": {"type": "percent", "percent": "10"},
                "taxes": [tax],
            },
            {
                "line_id": "li_2",
                "product": {"id": "prod_workbook", "name": "Workbook"},
                "quantity": "1",
                "unit_price": "50.00",
                "taxes": [tax],
            },
        ]
        subtotal = Decimal("180.00") + Decimal("50.00")
        off = Decimal(discount)
        tax_total = ((subtotal - off) * Decimal(tax["rate_percent"]) / 100).quantize(CENT, ROUND_HALF_UP)
        total = subtotal - off + tax_total
        detail = {
            "event_id": new_event_id(),
            "account_id": company.account_id,
            "occurred_at": now_iso(),
            "invoice": {
                "id": invoice_id,
                "number": number,
                "version": version,
                "status": status,
                "created_at": now_iso(),
                "issue_date": date.today().isoformat(),
                "due_date": date.today().isoformat(),
                "currency": company.currency,
                "prices_include_tax": False,
                "customer": {
                    "given_name": "Maria",
                    "family_name": "Garcia",
                    "email": "maria.garcia@example.com",
                },
                "lines": lines,
                "payments": payments or [],
                "source": {"kind": "kyrios"},
                "totals": {
                    "subtotal": str(subtotal),
                    "discount_total": discount,
                    "tax_total": str(tax_total),
                    "total": str(total),
                },
            },
        }
        if off:
            detail["invoice"]["discount"] = {"type": "amount", "amount": discount}  # type: ignore[index]
        return detail, total

    def _qbo_invoice(self, company: Company, number: str) -> dict[str, Any] | None:
        found = [i for i in company.user.entities("Invoice") if i.get("DocNumber") == number]
        return found[0] if len(found) == 1 else None

    def _wait_invoice(
        self, company: Company, number: str, ok: Any, timeout: float = 30
    ) -> dict[str, Any] | None:
        def probe() -> dict[str, Any] | None:
            invoice = self._qbo_invoice(company, number)
            return invoice if invoice is not None and ok(invoice) else None

        return wait_until(probe, timeout)  # type: ignore[no-any-return]

    def step_invoices(self, result: StepResult) -> None:
        assert self.core is not None
        for company in (self.us, self.gb):
            number = f"K-{company.currency}-0001"
            detail, total = self._invoice(company, f"inv_demo_{company.currency}", number, 1, "sent", "10.00")
            self.core.publish("invoice.sent", detail)
            invoice = self._wait_invoice(company, number, lambda _i: True)
            seen = Decimal(str(invoice["TotalAmt"])) if invoice else None
            self.check(
                result,
                seen == total,
                f"{company.currency} invoice {number} (10% line discount, 10.00 off, "
                f"{company.tax['name']} {company.tax['rate_percent']}%) → QBO total {seen} = Kyrios {total}",
            )
        us = self.us
        number = "K-USD-0001"
        detail, total = self._invoice(us, "inv_demo_USD", number, 2, "sent", "25.00")
        self.core.publish("invoice.updated", detail)
        invoice = self._wait_invoice(us, number, lambda i: Decimal(str(i["TotalAmt"])) == total)
        self.check(
            result,
            invoice is not None,
            f"discount changed to 25.00 (v2) → QBO invoice updated to {total}"
            + ("" if invoice else f", but QBO still shows {self._total_of(us, number)}"),
        )
        paid = [{"payment_id": "pay_demo_1", "amount": str(total), "paid_at": now_iso(), "method": "card"}]
        detail, _ = self._invoice(us, "inv_demo_USD", number, 3, "paid", "25.00", paid)
        self.core.publish("invoice.paid", detail)
        invoice = self._wait_invoice(us, number, lambda i: Decimal(str(i["Balance"])) == 0)
        self.check(
            result,
            invoice is not None,
            f"paid in Kyrios (v3) → QBO balance "
            f"{invoice['Balance'] if invoice else self._balance_of(us, number)}",
        )
        number = "K-USD-0002"
        detail, _ = self._invoice(us, "inv_demo_USD_2", number, 1, "sent", "0.00")
        self.core.publish("invoice.sent", detail)
        created = self._wait_invoice(us, number, lambda _i: True)
        detail, _ = self._invoice(us, "inv_demo_USD_2", number, 2, "void", "0.00")
        self.core.publish("invoice.voided", detail)
        voided = self._wait_invoice(
            us,
            number,
            lambda i: Decimal(str(i["TotalAmt"])) == 0 and "Voided" in str(i.get("PrivateNote", "")),
        )
        self.check(
            result,
            created is not None and voided is not None,
            f"another invoice sent then voided in Kyrios → QBO invoice "
            f"{'voided (total 0, PrivateNote Voided)' if voided else 'not voided'}",
        )

    def _total_of(self, company: Company, number: str) -> Any:
        invoice = self._qbo_invoice(company, number)
        return invoice["TotalAmt"] if invoice else "no invoice"

    def _balance_of(self, company: Company, number: str) -> Any:
        invoice = self._qbo_invoice(company, number)
        return invoice["Balance"] if invoice else "no invoice"

    # ------------------------------------------------------------------ 6
    def step_import(self, result: StepResult) -> None:
        assert self.bus is not None
        us = self.us
        year = datetime.now(UTC).year - 1
        control = self.stack.emulator.control
        seeded = control.seed(
            us.realm_id,
            customers=[
                {
                    "DisplayName": f"Archive Client {n}",
                    "PrimaryEmailAddr": {"Address": f"archive{n}@example.com"},
                    "MetaData": {"CreateTime": f"{year}-01-0{n}T10:00:00Z"},
                }
                for n in range(1, 6)
            ],
        )
        invoices = [
            {
                "CustomerRef": {"value": seeded["customers"][n % 5]},
                "TxnDate": f"{year}-{1 + n % 12:02d}-15",
                "DocNumber": f"OLD-{n:03d}",
                "Line": [
                    {
                        "Amount": f"{100 + n}.00",
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": "1"},
                            "Qty": 1,
                            "UnitPrice": f"{100 + n}.00",
                        },
                    }
                ],
                "MetaData": {"CreateTime": f"{year}-{1 + n % 12:02d}-15T10:00:00Z"},
            }
            for n in range(24)
        ]
        old_ids = set(control.seed(us.realm_id, invoices=invoices)["invoices"])
        qbo_invoices_before = len(us.user.entities("Invoice"))
        body = {"start_date": f"{year}-01-01", "end_date": f"{year}-12-31", "send_review_requests": False}
        runs: list[set[str]] = []
        summaries: list[dict[str, Any]] = []
        for attempt in (1, 2):
            started = time.monotonic()
            answer = us.ui.call("POST", "/integrations/quickbooks/imports", body)
            if answer.status_code not in (200, 201, 202):
                raise StepFailed(f"starting the import answered {answer.status_code}: {answer.text[:200]}")
            job = answer.json()
            progress = self._follow_import(job["id"])
            published = int(progress.get("summary", {}).get("published") or 0)
            events = self._imported_events(job["id"], since=started, expected=published)
            ids = {d["qbo_invoice_id"] for d in events}
            runs.append(ids)
            summary = progress.get("summary", {})
            summaries.append(summary)
            self.check(
                result,
                progress.get("state") == "succeeded",
                f"import #{attempt} {progress.get('state')} in {time.monotonic() - started:.1f} s: "
                f"{progress.get('processed')}/{progress.get('total')} processed, "
                f"{len(events)} invoice.imported events, "
                f"{summary.get('already_imported')} skipped as already imported",
            )
        self.check(
            result,
            runs[0] == old_ids,
            f"first import published each of last year's {len(old_ids)} QBO invoices "
            f"({len(runs[0] & old_ids)} matched, {len(runs[0] - old_ids)} unexpected)",
        )
        self.check(
            result,
            not (runs[1] - runs[0]) and summaries[1].get("already_imported") == len(old_ids),
            f"re-run: {len(runs[1] - runs[0])} invoices Kyrios had not seen, "
            f"{summaries[1].get('already_imported')} recognised as already imported",
        )
        self.check(
            result,
            len(us.user.entities("Invoice")) == qbo_invoices_before,
            f"QuickBooks still holds {qbo_invoices_before} invoices (the import never writes back)",
        )

    def _imported_events(self, job_id: str, since: float, expected: int) -> list[dict[str, Any]]:
        """The job's ``invoice.imported`` events, once as many as it says it published have arrived."""
        assert self.bus is not None
        bus = self.bus

        def of_job() -> list[dict[str, Any]]:
            return bus.events_of("invoice.imported", lambda d: d.get("import_id") == job_id, since=since)

        wait_until(lambda: len(of_job()) >= expected, timeout=15)
        time.sleep(0.5)  # and nothing more after that
        return of_job()

    def _follow_import(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        shown = None
        progress: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self.us.ui.call("GET", f"/integrations/quickbooks/imports/{job_id}")
            if answer.status_code != 200:
                raise StepFailed(
                    f"reading import progress answered {answer.status_code}: {answer.text[:200]}"
                )
            progress = answer.json()
            total = progress.get("total")
            line = (
                f"{progress.get('state')} {progress.get('processed')}/{total} {progress.get('percent')}%"
                if total is not None
                else f"{progress.get('state')}: counting the invoices in the range"
            )
            if line != shown:
                bar = "#" * (int(progress.get("percent") or 0) // 5)
                self.report.note(f"[{bar:<20}] {line}")
                shown = line
            if progress.get("state") != "running":
                return progress
            time.sleep(0.2)
        return progress

    # ------------------------------------------------------------------ 7
    def step_outage(self, result: StepResult) -> None:
        assert self.core is not None
        us = self.us
        control = self.stack.emulator.control
        control.inject_fault("503", count=3, method="POST", path="/invoice", realm=us.realm_id)
        control.inject_fault("429", count=4, method="POST", path="/invoice", realm=us.realm_id)
        control.inject_fault(
            "reset", count=1, method="POST", path="/invoice", realm=us.realm_id, after_write=True
        )
        numbers = [f"K-OUT-{n:03d}" for n in range(1, 11)]
        dlq_before = self.stack.queue_depth("PushDeadLetterQueue")
        started = time.monotonic()
        for n, number in enumerate(numbers, start=1):
            detail, _ = self._invoice(us, f"inv_outage_{n}", number, 1, "sent", "0.00")
            self.core.publish("invoice.sent", detail)
        self.stack.wait_idle(timeout=120)
        counts = {number: 0 for number in numbers}
        for invoice in us.user.entities("Invoice"):
            if invoice.get("DocNumber") in counts:
                counts[invoice["DocNumber"]] += 1
        arrived = sum(1 for count in counts.values() if count >= 1)
        duplicates = sum(count - 1 for count in counts.values() if count > 1)
        dlq = self.stack.queue_depth("PushDeadLetterQueue") - dlq_before
        waiting = sum(int(rule["count"]) for rule in control.faults())
        self.report.note("injected on POST invoice: 3× 503, 4× 429, 1× connection reset after QBO wrote")
        self.check(result, waiting == 0, f"every injected fault was hit ({waiting} still waiting)")
        self.check(
            result,
            arrived == len(numbers) and duplicates == 0 and dlq == 0,
            f"{arrived}/{len(numbers)} invoices in QBO, {duplicates} duplicates, {dlq} parked in the DLQ "
            f"({time.monotonic() - started:.1f} s)",
        )
        control.clear_faults()

    # ------------------------------------------------------------------ 8
    def step_books(self, result: StepResult) -> None:
        step_books(self, result)  # local/demo_steps/books.py

    # ------------------------------------------------------------------ 9
    def step_disconnect(self, result: StepResult) -> None:
        control = self.stack.emulator.control
        for company in list(self.companies.values()):
            answer = company.ui.disconnect()
            body = (
                answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
            )
            live = [g for g in control.grants() if g["realm"] == company.realm_id and not g["revoked"]]
            self.check(
                result,
                answer.status_code == 200 and body.get("revoked") is True and not live,
                f"{company.account_id}: disconnect → HTTP {answer.status_code}, "
                f"revoked={body.get('revoked')}, "
                f"{len(live)} live grants left at Intuit",
            )
            status = company.ui.status()
            self.check(result, status.get("status") == "not_connected", f"status now {status.get('status')}")
