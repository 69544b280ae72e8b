"""QBO entity models against the real payloads in tests/fixtures/qbo (read in place)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from kyrios_qbo.models.qbo import (
    Account,
    CompanyInfo,
    Customer,
    Estimate,
    Invoice,
    Item,
    Line,
    Payment,
    QboEntity,
    Ref,
    SalesReceipt,
    TaxAgency,
    TaxCode,
    TaxRate,
    country_alpha2,
)
from kyrios_qbo.money import LineInput, compute_amounts
from tests.fixtures import QBO_SAMPLES

# The models by QBO entity name, as the samples name them (the layer parses each by its own model).
ENTITY_MODELS: dict[str, type[QboEntity]] = {
    model.ENTITY: model
    for model in (Customer, Invoice, SalesReceipt, Estimate, Payment, TaxCode, TaxRate, TaxAgency, Item,
                  Account, CompanyInfo)
}


def sample(name: str) -> Any:
    return json.loads((QBO_SAMPLES / name).read_text())


ENTITY_SAMPLES = sorted(
    path.name
    for pattern in (
        "customer-*.json",
        "invoice-*.json",
        "payment-*.json",
        "salesreceipt-*.json",
        "taxcode-*.json",
    )
    for path in QBO_SAMPLES.glob(pattern)
    if "request" not in path.name
)


def test_samples_are_there() -> None:
    assert len(ENTITY_SAMPLES) >= 14, ENTITY_SAMPLES


@pytest.mark.parametrize("name", ENTITY_SAMPLES)
def test_every_entity_response_parses(name: str) -> None:
    body = sample(name)
    if "QueryResponse" in body:
        entities = [
            (kind, item)
            for kind, items in body["QueryResponse"].items()
            if isinstance(items, list)
            for item in items
        ]
    else:
        entities = [(kind, value) for kind, value in body.items() if kind != "time"]
    assert entities
    for kind, data in entities:
        entity = ENTITY_MODELS[kind].model_validate(data)
        assert entity.id == str(data["Id"])
        # Unknown fields are kept, not dropped: nothing QBO sent is lost.
        dumped = entity.model_dump(by_alias=True, exclude_none=True)
        assert set(data) <= set(dumped), set(data) - set(dumped)


@pytest.mark.parametrize(
    "name",
    ["customer-update-request.json", "salesreceipt-update-request.json", "invoice-create-request.json"],
)
def test_request_samples_parse_line_by_line(name: str) -> None:
    body = sample(name)
    for line in body.get("Line", []):
        assert Line.model_validate(line).detail_type == "SalesItemLineDetail"
    if "CustomerRef" in body:
        assert Ref.model_validate(body["CustomerRef"]).value == "1"
    if "Id" in body:
        model = Customer if "customer" in name else SalesReceipt
        assert model.model_validate(body).sync_token is not None


def test_invoice_read_values_and_paid_state() -> None:
    invoice = Invoice.model_validate(sample("invoice-read-response.json")["Invoice"])
    assert invoice.id == "264" and invoice.sync_token == "0" and invoice.doc_number == "1041"
    assert invoice.total_amt == Decimal("100.00") and invoice.balance == Decimal("100.00")
    assert invoice.customer_ref == Ref(value="1", name="Amy's Bird Sanctuary")
    assert [
        line.sales_item_line_detail.tax_code_ref.value
        for line in invoice.sales_lines  # type: ignore[union-attr]
    ] == ["NON"]
    assert invoice.is_paid is False and invoice.paid_state == "unpaid"
    assert invoice.is_voided is False
    assert invoice.meta_data is not None and invoice.meta_data.create_time is not None
    assert invoice.meta_data.create_time.utcoffset() is not None


def test_voided_and_deleted_invoices() -> None:
    voided = Invoice.model_validate(sample("invoice-void-response.json")["Invoice"])
    assert voided.is_voided and not voided.is_paid  # Balance 0 but TotalAmt 0: not "paid"
    assert voided.sync_token == "1"
    deleted = Invoice.model_validate(sample("invoice-delete-response.json")["Invoice"])
    assert deleted.is_deleted and deleted.id == "266" and deleted.total_amt is None


def test_paid_and_partially_paid_invoices() -> None:
    data = dict(sample("invoice-read-response.json")["Invoice"])
    assert Invoice.model_validate({**data, "Balance": 0}).is_paid
    assert Invoice.model_validate({**data, "Balance": 0}).paid_state == "paid"
    assert Invoice.model_validate({**data, "Balance": 40.5}).paid_state == "partially_paid"


def test_customers_from_query_have_normalised_emails() -> None:
    customers = [
        Customer.model_validate(c)
        for c in sample("query-customer-response.json")["QueryResponse"]["Customer"]
    ]
    assert len(customers) == 41
    amy = next(c for c in customers if c.id == "1")
    assert amy.email == "birds@intuit.com"
    assert amy.display_name == "Amy's Bird Sanctuary" and amy.given_name == "Amy"
    assert amy.primary_phone is not None and amy.primary_phone.free_form_number == "(650) 555-3311"
    no_email = Customer.model_validate(sample("customer-create-response.json")["Customer"])
    assert no_email.email is None and no_email.display_name == "Doe5, Jane"


def test_payments() -> None:
    applied = Payment.model_validate(sample("payment-response.json")["Payment"])
    assert applied.invoice_ids == ["70"]
    assert applied.total_amt == Decimal("65.0") and applied.unapplied_amt == Decimal("10.0")
    assert Payment.model_validate(sample("payment-void-response.json")["Payment"]).private_note == "Voided"
    assert Payment.model_validate(sample("payment-delete-response.json")["Payment"]).is_deleted


def test_sales_receipt() -> None:
    receipt = SalesReceipt.model_validate(sample("salesreceipt-read-response.json")["SalesReceipt"])
    assert receipt.deposit_to_account_ref == Ref(value="4", name="Undeposited Funds")
    detail = receipt.sales_lines[0].sales_item_line_detail
    assert detail is not None and detail.qty == Decimal("4.5") and detail.unit_price == Decimal("75")


def test_tax_codes() -> None:
    codes = [
        TaxCode.model_validate(c) for c in sample("taxcode-query-response.json")["QueryResponse"]["TaxCode"]
    ]
    assert [c.id for c in codes if c.is_us_pseudo_code] == ["TAX", "NON", "CustomSalesTax"]
    tucson = next(c for c in codes if c.name == "Tucson")
    assert tucson.sales_rate_ids == ["1", "2"]
    california = TaxCode.model_validate(sample("taxcode-response.json")["TaxCode"])
    assert california.sales_rate_ids == ["3"] and california.active is True


def test_company_info() -> None:
    info = CompanyInfo.model_validate(sample("companyinfo-response.json")["CompanyInfo"])
    assert info.country_alpha2 == "US" and info.is_us
    assert info.company_name == "Larry's Bakery"
    assert info.setting("OfferingSku") == "QuickBooks Online Plus"
    data = sample("companyinfo-response.json")["CompanyInfo"]
    gb = CompanyInfo.model_validate({**data, "Country": "GBR"})
    assert gb.country_alpha2 == "GB" and not gb.is_us
    assert CompanyInfo.model_validate({**data, "Country": "USA"}).is_us
    # No Country at all: fall back to the company address.
    without = {k: v for k, v in data.items() if k != "Country"}
    assert CompanyInfo.model_validate(without).country_alpha2 == "US"


@pytest.mark.parametrize(
    ("raw", "alpha2"),
    [
        ("GBR", "GB"),
        ("USA", "US"),
        ("CAN", "CA"),
        ("AUS", "AU"),
        ("gb", "GB"),
        (" ca ", "CA"),
        ("United Kingdom", "GB"),
        ("", None),
        (None, None),
        ("ZZZ", None),
    ],
)
def test_country_alpha2(raw: str | None, alpha2: str | None) -> None:
    assert country_alpha2(raw) == alpha2


def _sales_total(entity: Estimate | Invoice | SalesReceipt) -> Decimal:
    """Our amount rule applied to a real QBO document's lines (tax on the rate of its TaxLine)."""
    tax_lines = entity.txn_tax_detail.tax_line if entity.txn_tax_detail else []
    rates = tuple(
        (line.tax_line_detail.tax_rate_ref.value, line.tax_line_detail.tax_percent)  # type: ignore[union-attr]
        for line in tax_lines
    )
    inputs = [
        LineInput(
            key=str(index),
            quantity=line.sales_item_line_detail.qty or Decimal(1),  # type: ignore[union-attr]
            unit_price=line.sales_item_line_detail.unit_price  # type: ignore[union-attr]
            if line.sales_item_line_detail.unit_price is not None  # type: ignore[union-attr]
            else line.amount,  # type: ignore[arg-type]
            rates=rates if line.sales_item_line_detail.tax_code_ref.value == "TAX" else (),  # type: ignore[union-attr]
        )
        for index, line in enumerate(entity.sales_lines)
    ]
    return compute_amounts(inputs).total


def test_cdc_estimates_parse_and_our_amount_rule_reproduces_qbo_totals() -> None:
    body = sample("cdc-response.json")
    estimates = [
        ENTITY_MODELS[kind].model_validate(item)
        for response in body["CDCResponse"]
        for query in response["QueryResponse"]
        for kind, items in query.items()
        if isinstance(items, list)
        for item in items
    ]
    assert [e.id for e in estimates] == ["48", "46", "41", "100"]
    for estimate in estimates:
        assert isinstance(estimate, Estimate)
        assert _sales_total(estimate) == estimate.total_amt  # 1005.00, 70.00, 582.50, 351.81 (8 % on 325.75)


@pytest.mark.parametrize("name", ["invoice-read-response.json", "salesreceipt-read-response.json"])
def test_our_amount_rule_reproduces_sample_document_totals(name: str) -> None:
    kind, data = next((k, v) for k, v in sample(name).items() if k != "time")
    entity = ENTITY_MODELS[kind].model_validate(data)
    assert isinstance(entity, Invoice | SalesReceipt)
    assert _sales_total(entity) == entity.total_amt
