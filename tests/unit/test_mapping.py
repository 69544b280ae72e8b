"""Kyrios → QBO bodies: amounts to the cent, tax codes, discounts, names and request ids."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyrios_qbo.mapping import (
    CompanyProfile,
    CurrencyNotEnabled,
    DocumentRefs,
    ImportedDocument,
    MissingCustomerEmail,
    MissingReference,
    customer_payload,
    display_name,
    doc_number,
    expected_amounts,
    invoice_payload,
    item_payload,
    payment_payload,
    request_id,
    sales_receipt_payload,
    totals_match,
)
from kyrios_qbo.models.kyrios import (
    InvoiceSnapshotEvent,
    KyriosInvoice,
    KyriosPaymentDocument,
    KyriosProduct,
    PaymentCompletedEvent,
    document_amounts,
    parse_kyrios_event,
)
from kyrios_qbo.models.qbo import CompanyInfo, TaxAgency, TaxCode, TaxRate
from kyrios_qbo.money import to_cents
from kyrios_qbo.tax import TaxPlan, plan_taxes
from tests.fixtures import QBO_SAMPLES

ROOT = Path(__file__).resolve().parents[2]
COMPANY = json.loads((QBO_SAMPLES / "companyinfo-response.json").read_text())["CompanyInfo"]
GB = CompanyProfile(is_us=False, home_currency="GBP")
US = CompanyProfile(is_us=True, home_currency="USD")


def event_detail(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text())["detail"]


def sample_invoice(name: str = "kyrios-invoice-sent.json") -> KyriosInvoice:
    event = parse_kyrios_event(
        name.removeprefix("kyrios-").removesuffix(".json").replace("-", "."), event_detail(name)
    )
    assert isinstance(event, InvoiceSnapshotEvent)
    return event.invoice


def sample_payment(name: str) -> KyriosPaymentDocument:
    event = parse_kyrios_event("payment.completed", event_detail(name))
    assert isinstance(event, PaymentCompletedEvent)
    return event.payment


def company_info(country: str) -> CompanyInfo:
    return CompanyInfo.model_validate({**COMPANY, "Country": country})


def gb_plan(invoice: KyriosInvoice | KyriosPaymentDocument, country: str = "GB") -> TaxPlan:
    rates = [
        TaxRate.model_validate({"Id": i, "Name": n, "RateValue": v})
        for i, n, v in [("1", "20.0% S", "20"), ("2", "5.0% R", "5"), ("3", "Exempt", "0")]
    ]
    codes = [
        TaxCode.model_validate(
            {
                "Id": str(10 + int(i)),
                "Name": r.name,
                "Active": True,
                "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": i}}]},
            }
        )
        for i, r in zip(["1", "2", "3"], rates, strict=True)
    ]
    plan = plan_taxes(
        company_info(country),
        invoice.lines,
        prices_include_tax=invoice.prices_include_tax,
        tax_codes=codes,
        tax_rates=rates,
        agencies=[TaxAgency.model_validate({"Id": "1", "DisplayName": "Tax office"})],
    )
    return plan.resolve({code.key: f"new-{n}" for n, code in enumerate(plan.to_create)})


def refs_for(document: KyriosInvoice | KyriosPaymentDocument) -> DocumentRefs:
    return DocumentRefs(
        customer_id="58", item_ids={line.product.id: f"item-{line.product.id}" for line in document.lines}
    )


def qbo_total(body: dict[str, Any], plan_amounts_tax: Decimal) -> Decimal:
    """What QBO shows as TotalAmt for an exclusive body: Σ sales Amount − discount + tax."""
    sales = sum(
        Decimal(str(line["Amount"])) for line in body["Line"] if line["DetailType"] == "SalesItemLineDetail"
    )
    discount = sum(
        Decimal(str(line["Amount"])) for line in body["Line"] if line["DetailType"] == "DiscountLineDetail"
    )
    return sales - discount + plan_amounts_tax


# ------------------------------------------------------------------------------------ invoices


def test_gb_invoice_payload() -> None:
    invoice = sample_invoice()
    plan = gb_plan(invoice)
    body = invoice_payload(invoice, refs_for(invoice), plan, GB)
    assert body["CustomerRef"] == {"value": "58"}
    assert body["DocNumber"] == "INV-2026-0042"
    assert (body["TxnDate"], body["DueDate"]) == ("2026-03-02", "2026-04-01")
    assert body["GlobalTaxCalculation"] == "TaxExcluded"
    assert "CurrencyRef" not in body and "ApplyTaxAfterDiscount" not in body
    assert "inv_01HZX4K9Q2" in body["PrivateNote"]
    assert body["BillEmail"] == {"Address": "jane.doe@example.com"}
    coaching, workbook, ebook, discount = body["Line"]
    # 3 × 85.00 less 10 % = 229.50 → 3 × 76.50 exactly
    assert coaching["Amount"] == 229.5
    assert coaching["SalesItemLineDetail"] == {
        "ItemRef": {"value": "item-prod_coaching"},
        "Qty": 3.0,
        "UnitPrice": 76.5,
        "TaxCodeRef": {"value": "11"},
    }
    assert "10% discount of 25.50" in coaching["Description"]
    assert workbook["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "12"}
    assert ebook["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "13"}  # no tax → Exempt
    assert discount == {
        "LineNum": 4,
        "Amount": 10.0,
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": False},
    }
    amounts = expected_amounts(invoice, plan)
    assert amounts.total == invoice.totals.total == Decimal("299.86")
    assert qbo_total(body, amounts.tax_total) == Decimal("299.86")
    assert json.loads(json.dumps(body)) == body  # plain JSON types only


def test_percent_invoice_discount_and_inexact_line_discount() -> None:
    data = event_detail("kyrios-invoice-sent.json")
    data["invoice"]["discount"] = {"type": "percent", "percent": "12.5"}
    data["invoice"]["lines"][1]["discount"] = {"type": "amount", "amount": "1.00"}
    data["invoice"]["lines"][1]["quantity"] = "3"  # 3 × 12.50 − 1.00 = 36.50, 36.50 / 3 is not exact
    invoice = KyriosInvoice.model_validate(data["invoice"] | {"totals": data["invoice"]["totals"]})
    plan = gb_plan(invoice)
    body = invoice_payload(invoice, refs_for(invoice), plan, GB)
    workbook = body["Line"][1]
    assert workbook["Amount"] == 36.5
    # Kyrios's quantity stays; the shortest unit price whose product rounds to the net: 3 × 12.166 = 36.498
    assert (workbook["SalesItemLineDetail"]["Qty"], workbook["SalesItemLineDetail"]["UnitPrice"]) == (
        3.0,
        12.166,
    )
    assert "discount of 1.00 on 3 × 12.50" in workbook["Description"]
    assert body["Line"][-1]["DiscountLineDetail"] == {"PercentBased": True, "DiscountPercent": 12.5}
    amounts = expected_amounts(invoice, plan)
    # subtotal 229.50 + 36.50 + 9.99 = 275.99; 12.5 % → 34.50 (34.49875)
    assert (amounts.subtotal, amounts.discount) == (Decimal("275.99"), Decimal("34.50"))
    assert body["Line"][-1]["Amount"] == 34.5
    assert qbo_total(body, amounts.tax_total) == amounts.total


def test_us_invoice_uses_tax_non_and_tells_the_tax_amount() -> None:
    data = event_detail("kyrios-invoice-sent.json")["invoice"] | {"currency": "USD"}
    invoice = KyriosInvoice.model_validate(data)
    plan = plan_taxes(company_info("USA"), invoice.lines, prices_include_tax=False)
    body = invoice_payload(invoice, refs_for(invoice), plan, US)
    assert [line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in body["Line"][:3]] == [
        "TAX",
        "TAX",
        "NON",
    ]
    assert "GlobalTaxCalculation" not in body
    # Kyrios's tax travels explicitly: automated sales tax honours an explicit amount (blog 2017-12-11).
    assert body["TxnTaxDetail"] == {"TotalTax": float(invoice.totals.tax_total)}
    assert body["ApplyTaxAfterDiscount"] is True


def test_foreign_currency() -> None:
    invoice = sample_invoice()
    plan = gb_plan(invoice)
    with pytest.raises(CurrencyNotEnabled, match="multi-currency"):
        invoice_payload(invoice, refs_for(invoice), plan, CompanyProfile(False, "EUR"))
    body = invoice_payload(
        invoice, refs_for(invoice), plan, CompanyProfile(False, "EUR", multicurrency_enabled=True)
    )
    assert body["CurrencyRef"] == {"value": "GBP"}


def test_imported_invoices_are_never_pushed_back() -> None:
    data = event_detail("kyrios-invoice-sent.json")["invoice"]
    data["source"] = {"kind": "quickbooks_import", "qbo_invoice_id": "264"}
    invoice = KyriosInvoice.model_validate(data)
    with pytest.raises(ImportedDocument) as caught:
        invoice_payload(invoice, refs_for(invoice), gb_plan(invoice), GB)
    assert caught.value.permanent and caught.value.code == "imported_from_quickbooks"


def test_missing_item_reference() -> None:
    invoice = sample_invoice()
    with pytest.raises(MissingReference, match="prod_coaching"):
        invoice_payload(invoice, DocumentRefs("58", {}), gb_plan(invoice), GB)


def test_long_doc_numbers_are_shortened_deterministically() -> None:
    assert doc_number("INV-0042") == "INV-0042"
    long = "KYRIOS-INVOICE-2026-000123"
    short = doc_number(long)
    assert len(short) == 21 and short.endswith("2026-000123") and short == doc_number(long)
    assert doc_number("KYRIOS-INVOICE-2026-000124") != short


# ------------------------------------------------------------------------------------ payments, receipts


def test_payment_payload() -> None:
    invoice = sample_invoice("kyrios-invoice-paid.json")
    payment = invoice.payments[1]
    body = payment_payload(invoice, payment, "264", "58", GB, deposit_account_id="35")
    assert body == {
        "CustomerRef": {"value": "58"},
        "TotalAmt": 176.22,
        "TxnDate": "2026-03-20",
        "PaymentRefNum": "pay_01J0C4D5E6",
        "PrivateNote": "Kyrios payment pay_01J0C4D5E6 (bank_transfer) for invoice INV-2026-0042",
        "Line": [{"Amount": 176.22, "LinkedTxn": [{"TxnId": "264", "TxnType": "Invoice"}]}],
        "DepositToAccountRef": {"value": "35"},
    }


def test_ca_sales_receipt_with_gst_and_pst() -> None:
    payment = sample_payment("kyrios-payment-completed-order-form.json")
    rates = [
        TaxRate.model_validate({"Id": "1", "Name": "GST", "RateValue": 5}),
        TaxRate.model_validate({"Id": "2", "Name": "PST (BC)", "RateValue": 7}),
    ]
    code = TaxCode.model_validate(
        {
            "Id": "5",
            "Name": "GST/PST BC",
            "SalesTaxRateList": {
                "TaxRateDetail": [{"TaxRateRef": {"value": "1"}}, {"TaxRateRef": {"value": "2"}}]
            },
        }
    )
    plan = plan_taxes(
        company_info("CA"), payment.lines, prices_include_tax=False, tax_codes=[code], tax_rates=rates
    )
    body = sales_receipt_payload(
        payment, refs_for(payment), plan, CompanyProfile(False, "CAD"), payment_method_id="3"
    )
    assert body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "5"}
    assert body["TxnDate"] == "2026-04-12"  # the payer's local date
    assert body["PaymentMethodRef"] == {"value": "3"}
    assert "order form form_spring_workshop" in body["PrivateNote"]
    amounts = expected_amounts(payment, plan)
    assert [(t.key, t.taxable, t.tax) for t in amounts.taxes] == [
        ("qbo:1", Decimal("98.00"), Decimal("4.90")),
        ("qbo:2", Decimal("98.00"), Decimal("6.86")),
    ]
    assert amounts.total == payment.amount == Decimal("109.76")


def test_au_inclusive_sales_receipt() -> None:
    payment = sample_payment("kyrios-payment-completed-calendar.json")
    plan = gb_plan(payment, country="AU")  # no 10 % code there: a new "Kyrios GST 10%" is planned
    body = sales_receipt_payload(payment, refs_for(payment), plan, CompanyProfile(False, "AUD"))
    line = body["Line"][0]
    assert body["GlobalTaxCalculation"] == "TaxInclusive"
    assert line["SalesItemLineDetail"]["TaxInclusiveAmt"] == 150.0
    assert line["Amount"] == 136.36  # 150 / 1.1
    assert line["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "new-0"}
    amounts = expected_amounts(payment, plan)
    assert (amounts.total, amounts.tax_total) == (Decimal("150.00"), Decimal("13.64"))


# ------------------------------------------------------------------------------------ customers, items, ids


def test_display_name_sequence() -> None:
    assert display_name("Jane Doe", "jane@example.com", 1) == "Jane Doe"
    # After a clash: a counter, never the email (the name is printed on every document).
    assert display_name("Jane Doe", "jane@example.com", 2) == "Jane Doe (2)"
    assert display_name("Jane Doe", "jane@example.com", 3) == "Jane Doe (3)"
    assert display_name("Jane Doe", None, 2) == "Jane Doe (2)"
    assert display_name("Acme: Sales\tTeam\n", None, 1) == "Acme- Sales Team"
    assert display_name("", "jo@example.com", 1) == "jo@example.com"  # no name at all: the email is all
    long = display_name("N" * 150, "someone.with.a.long.address@example.com", 3)
    assert long == "N" * 96 + " (3)"


def test_customer_payload_requires_an_email() -> None:
    with pytest.raises(MissingCustomerEmail) as caught:
        customer_payload("Jane Doe", None)
    assert caught.value.permanent
    body = customer_payload(
        "Jane Doe",
        "jane@example.com",
        given_name="Jane",
        family_name="Doe",
        company="Doe Ltd",
        phone="+44 20 7946 0958",
        attempt=2,
    )
    assert body == {
        "DisplayName": "Jane Doe (2)",
        "PrimaryEmailAddr": {"Address": "jane@example.com"},
        "GivenName": "Jane",
        "FamilyName": "Doe",
        "CompanyName": "Doe Ltd",
        "PrimaryPhone": {"FreeFormNumber": "+44 20 7946 0958"},
    }


def test_item_payload() -> None:
    product = KyriosProduct(id="prod_coaching", name="Coaching: 60 min", sku="COACH-60")
    body = item_payload(product, "79")
    assert body == {
        "Name": "Coaching- 60 min (COACH-60)",
        "Type": "Service",
        "IncomeAccountRef": {"value": "79"},
        "Sku": "COACH-60",
    }
    retry = item_payload(product, "79", attempt=2)["Name"]
    assert (
        retry.startswith("Coaching- 60 min (COACH-60) [")
        and retry == item_payload(product, "79", attempt=2)["Name"]
    )


def test_request_ids() -> None:
    create = request_id("invoice-create", "acct_1", "inv_1")
    assert create == request_id("invoice-create", "acct_1", "inv_1")
    assert create != request_id("invoice-update", "acct_1", "inv_1", 2)
    assert request_id("invoice-update", "acct_1", "inv_1", 2) != request_id(
        "invoice-update", "acct_1", "inv_1", 3
    )
    assert len(create) <= 50 and create.startswith("invoicecre-")


def test_totals_match() -> None:
    assert totals_match(Decimal("299.86"), 299.86)
    assert totals_match("100", "100.00")
    assert not totals_match(Decimal("299.86"), 299.85)
    assert not totals_match(Decimal("1"), None)


# ------------------------------------------------------------------------------------ properties

money = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2)
rates = st.sampled_from(["0", "5", "7", "8.25", "10", "13", "20"])
line_strategy = st.fixed_dictionaries(
    {
        "quantity": st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4),
        "unit_price": money,
        "discount": st.one_of(
            st.none(),
            st.builds(
                lambda p: {"type": "percent", "percent": str(p)},
                st.decimals(min_value=0, max_value=100, places=2),
            ),
            st.builds(
                lambda a: {"type": "amount", "amount": str(a)},
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999"), places=2),
            ),
        ),
        "taxes": st.lists(
            st.tuples(st.sampled_from(["VAT", "GST", "PST"]), rates), max_size=2, unique_by=lambda t: t[0]
        ),
    }
)


@st.composite
def invoices(draw: st.DrawFn) -> KyriosInvoice:
    lines = draw(st.lists(line_strategy, min_size=1, max_size=6))
    data = event_detail("kyrios-invoice-sent.json")["invoice"]
    data["prices_include_tax"] = draw(st.booleans())
    data["discount"] = draw(
        st.one_of(
            st.none(),
            st.builds(
                lambda p: {"type": "percent", "percent": str(p)},
                st.decimals(min_value=0, max_value=100, places=1),
            ),
            st.builds(
                lambda a: {"type": "amount", "amount": str(a)},
                st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2),
            ),
        )
    )
    data["lines"] = [
        {
            "line_id": f"l{i}",
            "product": {"id": f"p{i}", "name": f"Product {i}"},
            "quantity": str(line["quantity"]),
            "unit_price": str(line["unit_price"]),
            "discount": line["discount"],
            "taxes": [{"tax_id": f"{n}-{r}", "name": n, "rate_percent": r} for n, r in line["taxes"]],
        }
        for i, line in enumerate(lines)
    ]
    invoice = KyriosInvoice.model_validate(data)
    amounts = document_amounts(invoice)
    totals = {
        "subtotal": amounts.subtotal,
        "discount_total": amounts.discount,
        "tax_total": amounts.tax_total,
        "total": amounts.total,
    }
    return invoice.model_copy(update={"totals": invoice.totals.model_copy(update=totals)})


@settings(max_examples=150, deadline=None)
@given(invoices())
def test_properties_of_invoice_payloads(invoice: KyriosInvoice) -> None:
    plan = gb_plan(invoice)
    amounts = expected_amounts(invoice, plan)
    assert amounts.total >= 0 and amounts.tax_total >= 0 and amounts.discount <= amounts.subtotal
    body = invoice_payload(invoice, refs_for(invoice), plan, GB)
    sales = [line for line in body["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert len(sales) == len(invoice.lines)
    assert all(line["SalesItemLineDetail"]["TaxCodeRef"]["value"] for line in sales)
    for line, kyrios_line in zip(sales, invoice.lines, strict=True):  # QBO: Amount = round(Qty × UnitPrice)
        detail = line["SalesItemLineDetail"]
        product = Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"]))
        assert to_cents(product) == Decimal(str(line["Amount"])).quantize(Decimal("0.01"))
        if kyrios_line.quantity < 1000:  # a ≤ 5-decimal unit price always fits below 1,000 units
            assert Decimal(str(detail["Qty"])) == kyrios_line.quantity
    if not invoice.prices_include_tax:
        assert qbo_total(body, amounts.tax_total) == amounts.total
    else:
        inclusive = sum(
            Decimal(str(line["SalesItemLineDetail"].get("TaxInclusiveAmt", line["Amount"]))) for line in sales
        )
        assert inclusive - amounts.discount == amounts.total


@given(st.text(max_size=300), st.one_of(st.none(), st.emails()), st.integers(min_value=1, max_value=50))
def test_display_names_are_short_and_colon_free(name: str, email: str | None, attempt: int) -> None:
    result = display_name(name, email, attempt)
    assert 0 < len(result) <= 100
    assert ":" not in result and "\t" not in result and "\n" not in result
    assert result == display_name(name, email, attempt)


@given(st.text(min_size=1, max_size=40), st.lists(st.one_of(st.text(max_size=80), st.integers()), max_size=5))
def test_request_ids_are_short_and_deterministic(kind: str, parts: list[Any]) -> None:
    rid = request_id(kind, *parts)
    assert len(rid) <= 50 and rid == request_id(kind, *parts)
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in rid)
