"""Demo step: the books equal Kyrios to the cent in the awkward cases of issue 16.

Four Kyrios invoices, published on the bus as Kyrios core does, each compared with what QuickBooks
recorded (``TotalAmt`` and ``TxnTaxDetail.TotalTax``):

- GB, prices including VAT, with an invoice-level discount;
- CA, GST 5 % + PST 7 % on one line and GST only on another (a CA company is connected first);
- US, Kyrios charging 8.875 % while QuickBooks' automated sales tax says 8.25 %;
- EUR on the GB company after its QuickBooks user turned multi-currency on (customer in EUR, Kyrios's
  exchange rate).

Kyrios's figures are worked out here by hand (tax rounded once per rate per document), independently
of the bundle's layer: they are what a Kyrios invoice would carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from local.demo_steps.actors import KyriosUi, QboUser, new_event_id, now_iso
from local.demo_steps.report import StepResult
from local.qbo_emulator import CA_REALM

if TYPE_CHECKING:
    from local.demo_steps.story import Company, Story

CA_ACCOUNT = "acct-demo-ca"
CENT = Decimal("0.01")
EUR_RATE = Decimal("0.8612")
"""GBP per EUR as Kyrios knows it (QBO's ``ExchangeRate``: home-currency units per foreign unit)."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Case:
    label: str
    company: Company
    number: str
    currency: str
    lines: list[dict[str, Any]]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    inclusive: bool = False
    exchange_rate: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.subtotal - self.discount + (Decimal(0) if self.inclusive else self.tax)


def _line(line_id: str, name: str, quantity: str, price: str, *taxes: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "product": {"id": f"prod_{line_id}", "name": name},
        "quantity": quantity,
        "unit_price": price,
        "taxes": [{"tax_id": t, "name": n, "rate_percent": r} for t, n, r in taxes],
    }


def _cases(story: Story, ca: Company) -> list[Case]:
    vat = ("tax_gb_vat20", "VAT", "20")
    # GB, VAT-inclusive prices: 3 × 33.33 + 45.00 = 144.99, less 10.00 → 134.99 of which VAT is
    # 134.99 − round(134.99 / 1.2) = 22.50.
    gross = Decimal("144.99") - Decimal("10.00")
    gb_vat = gross - _cents(gross * 100 / 120)
    # CA: GST 5 % on 99.98 + 120.00 = 11.00 (10.999), PST 7 % on 99.98 = 7.00 (6.9986).
    gst, pst = ("tax_ca_gst", "GST", "5"), ("tax_ca_pst_bc", "PST BC", "7")
    ca_tax = _cents(Decimal("219.98") * 5 / 100) + _cents(Decimal("99.98") * 7 / 100)
    ny = ("tax_us_nyc", "Sales tax NYC", "8.875")
    return [
        Case("GB, VAT-inclusive prices, 10.00 off the invoice", story.gb, "K-BOOKS-GB", "GBP",
             [_line("gb1", "Mug", "3", "33.33", vat), _line("gb2", "Teapot", "1", "45.00", vat)],
             Decimal("144.99"), Decimal("10.00"), gb_vat, inclusive=True),
        Case("CA, GST 5% + PST 7% (and a GST-only line)", ca, "K-BOOKS-CA", "CAD",
             [_line("ca1", "Helmet", "2", "49.99", gst, pst), _line("ca2", "Tune-up", "1", "120.00", gst)],
             Decimal("219.98"), Decimal(0), ca_tax),
        Case("US, Kyrios charges 8.875% where QuickBooks' automated sales tax says 8.25%", story.us,
             "K-BOOKS-US", "USD", [_line("us1", "Retreat day", "1", "200.00", ny)],
             Decimal("200.00"), Decimal(0), _cents(Decimal("200.00") * Decimal("8.875") / 100)),
        Case("EUR on the GB company with multi-currency, Kyrios rate 0.8612", story.gb, "K-BOOKS-EUR", "EUR",
             [_line("eu1", "Glaze workshop", "2", "80.00", vat)],
             Decimal("160.00"), Decimal(0), Decimal("32.00"), exchange_rate=EUR_RATE),
    ]


def _detail(case: Case) -> dict[str, Any]:
    slug = case.number.lower().replace("-", "_")
    invoice: dict[str, Any] = {
        "id": f"inv_{slug}",
        "number": case.number,
        "version": 1,
        "status": "sent",
        "created_at": now_iso(),
        "issue_date": date.today().isoformat(),
        "due_date": date.today().isoformat(),
        "currency": case.currency,
        "prices_include_tax": case.inclusive,
        "customer": {"given_name": "Maria", "family_name": "Garcia", "email": "maria.garcia@example.com"},
        "lines": case.lines,
        "payments": [],
        "source": {"kind": "kyrios"},
        "totals": {"subtotal": str(case.subtotal), "discount_total": str(case.discount),
                   "tax_total": str(case.tax), "total": str(case.total)},
    }
    if case.discount:
        invoice["discount"] = {"type": "amount", "amount": str(case.discount)}
    if case.exchange_rate is not None:
        invoice["exchange_rate"] = str(case.exchange_rate)
    return {"event_id": new_event_id(), "account_id": case.company.account_id, "occurred_at": now_iso(),
            "invoice": invoice}


def _connect_ca(story: Story, result: StepResult) -> Company:
    from local.demo_steps.story import Company  # story imports this module

    control = story.stack.emulator.control
    name = next(c["name"] for c in control.companies() if c["realm_id"] == CA_REALM)
    ca = Company(CA_ACCOUNT, CA_REALM, name, "CAD", {},
                 KyriosUi(story.stack.api_url, story.stack.dev_token(CA_ACCOUNT)), QboUser(control, CA_REALM))
    outcome = ca.ui.finish_connect(ca.user.approve(ca.ui.connect()).url)
    story.check(result, outcome.get("quickbooks") == "connected",
                f"{CA_ACCOUNT}: connected to {name} (CA, CAD) → {outcome}")
    story.companies[CA_ACCOUNT] = ca  # disconnected with the others in the last step
    return ca


def step_books(story: Story, result: StepResult) -> None:
    assert story.core is not None
    ca = _connect_ca(story, result)
    # The GB company's QuickBooks user turns multi-currency on (it was off when it connected).
    story.stack.emulator.control.company_settings(story.gb.realm_id, multi_currency=True)
    cases = _cases(story, ca)
    for case in cases:
        story.core.publish("invoice.sent", _detail(case))
    for case in cases:
        qbo = story._wait_invoice(case.company, case.number, lambda _i: True)
        total = _cents(Decimal(str(qbo["TotalAmt"]))) if qbo else None
        tax = _cents(Decimal(str((qbo.get("TxnTaxDetail") or {}).get("TotalTax", 0)))) if qbo else None
        currency = (qbo.get("CurrencyRef") or {}).get("value", case.company.currency) if qbo else None
        extra, ok = "", True
        if case.exchange_rate is not None and qbo:
            buyer = next((c for c in case.company.user.entities("Customer")
                          if c["Id"] == qbo["CustomerRef"]["value"]), {})
            buyer_currency = (buyer.get("CurrencyRef") or {}).get("value")
            rate = Decimal(str(qbo.get("ExchangeRate", 0)))
            ok = buyer_currency == case.currency and rate == case.exchange_rate
            extra = (f"; customer {buyer.get('DisplayName')!r} in {buyer_currency}, ExchangeRate {rate}, "
                     f"HomeTotalAmt {qbo.get('HomeTotalAmt')} GBP")
        story.check(
            result,
            ok and currency == case.currency and total == case.total and tax == case.tax,
            f"{case.label} ({case.number}): Kyrios total {case.total} / tax {case.tax} {case.currency} "
            f"→ QBO TotalAmt {total} / TotalTax {tax} {currency}{extra}",
        )
    note = _sync_note(story.us, "inv_k_books_us")
    if note:
        story.report.note(f"sync log for K-BOOKS-US: {note}")


def _sync_note(company: Company, kyrios_id: str) -> str | None:
    answer = company.ui.call("GET", "/integrations/quickbooks/sync-log")
    if answer.status_code != 200:
        return None
    for entry in answer.json().get("entries", []):
        if entry.get("kyrios_id") == kyrios_id:
            return str(entry.get("message"))
    return None
