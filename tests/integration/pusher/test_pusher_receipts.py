"""Completed Kyrios payments of every source → exactly one QBO SalesReceipt each."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kyrios_qbo import store
from tests.integration.pusher.conftest import customer, line, money, payment_event, qbo_objects, sync_log, tax

SOURCES = {
    # source: (customer, lines)
    "order_form": (
        customer("Marc Tremblay", "marc@example.co.uk"),
        [line("o1", "prod_workshop", "Spring workshop", "2", "49.00", tax("vat20", "VAT", "20"))],
    ),
    "calendar": (
        customer("Olivia Nguyen", "olivia@example.co.uk"),
        [
            line(
                "c1",
                "prod_massage",
                "Massage (90 min)",
                "1",
                "65.00",
                tax("vat20", "VAT", "20"),
                discount={"type": "amount", "amount": "5.00"},
            )
        ],
    ),
    "subscription": (
        customer("Sam Patel", "sam@example.co.uk"),
        [
            line("s1", "prod_monthly", "Monthly plan", "1", "29.99", tax("vat20", "VAT", "20")),
            line("s2", "prod_ebook", "E-book", "1", "4.99"),
        ],
    ),
    "membership": (
        customer("Kim Lee", "kim@example.co.uk"),
        [line("m1", "prod_gold", "Gold membership", "1", "120.00", tax("vat5", "VAT", "5"))],
    ),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_payment_source_becomes_one_sales_receipt(source, connect, run_pusher, ctl) -> None:
    account = connect("GB")
    who, lines = SOURCES[source]
    event = payment_event(
        account.account_id, source=source, currency="GBP", lines=lines, customer_=who, method="card"
    )
    payment = event["detail"]["payment"]

    responses = run_pusher(event)

    assert [r["batchItemFailures"] for r in responses] == [[]]
    [receipt] = qbo_objects(ctl, account.realm_id, "SalesReceipt")
    assert money(receipt["TotalAmt"]) == Decimal(payment["totals"]["total"])
    assert money(receipt["TxnTaxDetail"]["TotalTax"]) == Decimal(payment["totals"]["tax_total"])
    assert source.replace("_", " ") in receipt["PrivateNote"] and payment["id"] in receipt["PrivateNote"]
    buyer = ctl.entity(account.realm_id, "Customer", receipt["CustomerRef"]["value"])
    assert buyer["PrimaryEmailAddr"]["Address"] == who["email"]
    assert buyer["DisplayName"] == who["full_name"]
    sales = [x for x in receipt["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert len(sales) == len(lines)
    codes = {c["Id"]: c for c in qbo_objects(ctl, account.realm_id, "TaxCode")}
    rates = {r["Id"]: Decimal(str(r["RateValue"])) for r in qbo_objects(ctl, account.realm_id, "TaxRate")}
    for kyrios_line, qbo_line in zip(lines, sales, strict=True):
        detail = qbo_line["SalesItemLineDetail"]
        item = ctl.entity(account.realm_id, "Item", detail["ItemRef"]["value"])
        assert item["Name"] == kyrios_line["product"]["name"]
        code = codes[detail["TaxCodeRef"]["value"]]
        code_rates = [rates[d["TaxRateRef"]["value"]] for d in code["SalesTaxRateList"]["TaxRateDetail"]]
        assert sum(code_rates, Decimal(0)) == sum(
            (Decimal(t["rate_percent"]) for t in kyrios_line["taxes"]), Decimal(0)
        )
    assert qbo_objects(ctl, account.realm_id, "Invoice") == []
    mapping = store.get_mapping(account.realm_id, "sales_receipt", payment["id"])
    assert mapping is not None and mapping.qbo_id == receipt["Id"] and mapping.applied_version == 1
    assert sync_log(account.account_id)[0].outcome == "ok"
