"""Lines keep Kyrios's quantity in QuickBooks wherever a line discount or a tax-inclusive price applies:
``Qty`` as in Kyrios, ``UnitPrice`` the net unit price (more than two decimals where needed), ``Amount``
= round(Qty × UnitPrice) (QBO's 6070 check, enforced by the emulator), the discount named in the line's
description, and the totals still equal to Kyrios's to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.integration.pusher.conftest import (
    invoice_event,
    line,
    money,
    payment_event,
    qbo_objects,
    sync_log,
    tax,
)


def _sales_lines(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in document["Line"] if x["DetailType"] == "SalesItemLineDetail"]


def _quantities(document: dict[str, Any]) -> list[Decimal]:
    return [Decimal(str(x["SalesItemLineDetail"]["Qty"])) for x in _sales_lines(document)]


def _check_amounts(document: dict[str, Any]) -> None:
    for sales in _sales_lines(document):
        detail = sales["SalesItemLineDetail"]
        product = Decimal(str(detail["Qty"])) * Decimal(str(detail["UnitPrice"]))
        assert product.quantize(Decimal("0.01"), ROUND_HALF_UP) == money(sales["Amount"]), sales


def test_discounted_lines_keep_their_quantity_and_show_the_discount(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    vat = tax("tax_gb_vat20", "VAT", "20")
    event = invoice_event(
        account.account_id,
        currency="GBP",
        discount={"type": "percent", "percent": "5"},
        lines=[
            line("l1", "prod_mug", "Mug", "3", "33.33", vat, discount={"type": "percent", "percent": "12.5"}),
            line("l2", "prod_plate", "Plate", "7", "12.99", vat,
                 discount={"type": "amount", "amount": "5.00"}),
            line("l3", "prod_glaze", "Glaze class", "2.5", "19.99", vat),
        ],
    )
    assert run_pusher(event)[0]["batchItemFailures"] == []

    [invoice] = qbo_objects(ctl, account.realm_id, "Invoice")
    assert sync_log(account.account_id)[0].outcome == "ok"
    assert _quantities(invoice) == [Decimal(3), Decimal(7), Decimal("2.5")]
    mug, plate, glaze = _sales_lines(invoice)
    # 3 × 33.33 = 99.99 less 12.5 % (12.50) = 87.49 = 3 × 29.163 rounded
    assert money(mug["Amount"]) == Decimal("87.49")
    assert Decimal(str(mug["SalesItemLineDetail"]["UnitPrice"])) == Decimal("29.163")
    assert "12.5% discount" in mug["Description"]
    assert money(plate["Amount"]) == Decimal("85.93")  # 90.93 − 5.00
    assert "discount of 5.00" in plate["Description"]
    assert Decimal(str(glaze["SalesItemLineDetail"]["UnitPrice"])) == Decimal("19.99")
    assert "discount" not in glaze["Description"]
    _check_amounts(invoice)
    assert money(invoice["TotalAmt"]) == Decimal(event["detail"]["invoice"]["totals"]["total"])


def test_tax_inclusive_lines_keep_their_quantity(connect, run_pusher, ctl) -> None:
    account = connect("AU")
    gst = tax("tax_au_gst", "GST", "10")
    event = invoice_event(
        account.account_id,
        currency="AUD",
        prices_include_tax=True,
        lines=[
            line("l1", "prod_beans", "Beans 1kg", "3", "33.33", gst,
                 discount={"type": "percent", "percent": "12.5"}),
            line("l2", "prod_cup", "Keep cup", "6", "17.95", gst),
            line("l3", "prod_milk", "Fresh milk", "4", "5.00"),
        ],
    )
    receipt = payment_event(
        account.account_id, source="order_form", currency="AUD", prices_include_tax=True,
        lines=[line("l1", "prod_cup", "Keep cup", "7", "17.95", gst)],
    )
    assert all(r["batchItemFailures"] == [] for r in run_pusher(event, receipt))

    [invoice] = qbo_objects(ctl, account.realm_id, "Invoice")
    [sales_receipt] = qbo_objects(ctl, account.realm_id, "SalesReceipt")
    assert all(e.outcome == "ok" for e in sync_log(account.account_id))
    assert _quantities(invoice) == [Decimal(3), Decimal(6), Decimal(4)]
    assert _quantities(sales_receipt) == [Decimal(7)]
    _check_amounts(invoice)
    _check_amounts(sales_receipt)
    beans, cups, _milk = _sales_lines(invoice)
    assert money(beans["SalesItemLineDetail"]["TaxInclusiveAmt"]) == Decimal("87.49")
    assert "12.5% discount" in beans["Description"]
    assert money(cups["SalesItemLineDetail"]["TaxInclusiveAmt"]) == Decimal("107.70")  # 6 × 17.95
    totals = event["detail"]["invoice"]["totals"]
    assert money(invoice["TotalAmt"]) == Decimal(totals["total"])
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal(totals["tax_total"])
    assert money(sales_receipt["TotalAmt"]) == Decimal(receipt["detail"]["payment"]["totals"]["total"])
