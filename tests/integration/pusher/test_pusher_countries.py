"""Invoices with mixed taxes and discounts in US, CA and AU companies: QBO's totals (computed by the
emulator from the lines we send) equal Kyrios' totals to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kyrios_qbo import store
from tests.integration.pusher.conftest import (
    invoice_event,
    line,
    money,
    paid,
    qbo_objects,
    reissue,
    retotal,
    sync_log,
    tax,
)


def _pushed_invoice(ctl: Any, account: Any, event: dict[str, Any]) -> dict[str, Any]:
    invoices = qbo_objects(ctl, account.realm_id, "Invoice")
    assert len(invoices) == 1, invoices
    entry = sync_log(account.account_id)[0]
    assert entry.outcome == "ok", entry
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.qbo_id == invoices[0]["Id"] and mapping.applied_version == 1
    return invoices[0]


def test_us_invoice_with_line_and_invoice_discounts_uses_automated_sales_tax(
    connect, run_pusher, ctl
) -> None:
    account = connect("US")
    sales_tax = tax("tax_us_sales", "Sales tax", "8.25")
    event = invoice_event(
        account.account_id,
        currency="USD",
        discount={"type": "percent", "percent": "5"},
        lines=[
            line(
                "l1",
                "prod_yoga_class",
                "Yoga class",
                "2",
                "40.00",
                sales_tax,
                discount={"type": "percent", "percent": "10"},
            ),
            line("l2", "prod_mat_rental", "Mat rental", "1", "15.00"),
        ],
    )
    # 80.00 - 8.00 = 72.00 taxable, 15.00 not; 5 % off 87.00 = 4.35 (3.60 / 0.75); 68.40 × 8.25 % = 5.64.
    assert event["detail"]["invoice"]["totals"]["total"] == "88.29"

    assert run_pusher(event)[0]["batchItemFailures"] == []

    invoice = _pushed_invoice(ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal("88.29")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("5.64")
    sales = [x for x in invoice["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert [x["SalesItemLineDetail"]["TaxCodeRef"]["value"] for x in sales] == ["TAX", "NON"]
    assert [money(x["Amount"]) for x in sales] == [Decimal("72.00"), Decimal("15.00")]
    discount = next(x for x in invoice["Line"] if x["DetailType"] == "DiscountLineDetail")
    assert money(discount["Amount"]) == Decimal("4.35")
    assert money(invoice["Balance"]) == Decimal("88.29")


def test_ca_invoice_gst_pst_combined_and_gst_only_lines(connect, run_pusher, ctl) -> None:
    account = connect("CA")
    gst, pst = tax("tax_ca_gst", "GST", "5"), tax("tax_bc_pst", "PST", "7")
    event = invoice_event(
        account.account_id,
        currency="CAD",
        discount={"type": "percent", "percent": "10"},
        lines=[
            line("l1", "prod_tune_up", "Bike tune-up", "3", "33.45", gst, pst),
            line("l2", "prod_lesson", "Riding lesson", "1", "49.99", gst),
            line("l3", "prod_gift_card", "Gift card", "1", "25.00"),
        ],
    )
    # subtotal 100.35 + 49.99 + 25.00 = 175.34, 10 % = 17.53; GST on both taxed lines, PST on the first.
    totals = event["detail"]["invoice"]["totals"]
    assert (totals["subtotal"], totals["discount_total"]) == ("175.34", "17.53")

    assert run_pusher(event)[0]["batchItemFailures"] == []

    invoice = _pushed_invoice(ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal(totals["total"])
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal(totals["tax_total"])
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    taxed: dict[Decimal, Decimal] = {}
    for tax_line in invoice["TxnTaxDetail"]["TaxLine"]:
        percent = Decimal(str(tax_line["TaxLineDetail"]["TaxPercent"]))
        if percent:
            base = money(tax_line["TaxLineDetail"]["NetAmountTaxable"])
            taxed[percent] = taxed.get(percent, Decimal(0)) + base
    # After the 10 % discount (allocated 10.03 / 5.00 / 2.50): GST on 90.32 + 44.99, PST on 90.32 only
    # (the combined code is built on the company's GST rate, so GST is one tax line).
    assert taxed == {Decimal(5): Decimal("135.31"), Decimal(7): Decimal("90.32")}
    codes = {
        x["SalesItemLineDetail"]["TaxCodeRef"]["value"]
        for x in invoice["Line"]
        if x["DetailType"] == "SalesItemLineDetail"
    }
    assert len(codes) == 3  # GST+PST (created), GST, a zero code for the untaxed line


def test_au_invoice_tax_inclusive_gst_with_amount_discount(connect, run_pusher, ctl) -> None:
    account = connect("AU")
    gst = tax("tax_au_gst", "GST", "10")
    event = invoice_event(
        account.account_id,
        currency="AUD",
        prices_include_tax=True,
        discount={"type": "amount", "amount": "13.00"},
        lines=[
            line("l1", "prod_flat_white", "Flat white beans 1kg", "2", "55.00", gst),
            line("l2", "prod_milk", "Fresh milk", "4", "5.00"),
        ],
    )
    # Inclusive: the total is what the customer pays, 130.00 - 13.00; GST is 1/11 of the taxed 99.00.
    totals = event["detail"]["invoice"]["totals"]
    assert (totals["total"], totals["tax_total"]) == ("117.00", "9.00")

    assert run_pusher(event)[0]["batchItemFailures"] == []

    invoice = _pushed_invoice(ctl, account, event)
    assert invoice["GlobalTaxCalculation"] == "TaxInclusive"
    assert money(invoice["TotalAmt"]) == Decimal("117.00")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("9.00")


def test_us_invoice_lifecycle_update_partial_and_full_payment_then_void(connect, run_pusher, ctl) -> None:
    account = connect("US")
    sales_tax = tax("tax_us_sales", "Sales tax", "8.25")
    lines = [
        line("l1", "prod_class_pack", "Class pack", "1", "100.00", sales_tax),
        line("l2", "prod_towel", "Towel", "2", "10.00"),
    ]
    sent = invoice_event(account.account_id, currency="USD", lines=lines)
    run_pusher(sent)
    [created] = qbo_objects(ctl, account.realm_id, "Invoice")
    assert money(created["TotalAmt"]) == Decimal("128.25")  # 120.00 + 8.25

    # v2: a line changed and an invoice discount added → one sparse update of the same QBO invoice.
    changed = [line("l1", "prod_class_pack", "Class pack", "2", "100.00", sales_tax), lines[1]]
    updated = reissue(
        sent, "invoice.updated", version=2, lines=changed, discount={"type": "amount", "amount": "22.00"}
    )
    retotal(updated)
    ctl.clear_requests()
    run_pusher(updated)
    update_calls = [r for r in ctl.requests(realm=account.realm_id) if r["endpoint"] == "POST invoice"]
    assert len(update_calls) == 1
    qbo = ctl.entity(account.realm_id, "Invoice", created["Id"])
    # 220.00 - 22.00 (20.00 on the taxed line, 2.00 on the towels) + 8.25 % of 180.00 = 14.85.
    assert (
        money(qbo["TotalAmt"])
        == Decimal("212.85")
        == Decimal(updated["detail"]["invoice"]["totals"]["total"])
    )
    assert int(qbo["SyncToken"]) == int(created["SyncToken"]) + 1
    assert len(qbo_objects(ctl, account.realm_id, "Invoice")) == 1

    # v3: partially paid; v4: a second payment. Balance reaches 0 only with Kyrios' last payment.
    first = paid("pay_1", "100.00")
    run_pusher(reissue(updated, "invoice.updated", version=3, status="partially_paid", payments=[first]))
    qbo = ctl.entity(account.realm_id, "Invoice", created["Id"])
    assert money(qbo["Balance"]) == Decimal("112.85")
    second = paid("pay_2", "60.00", "bank_transfer")
    run_pusher(
        reissue(updated, "invoice.updated", version=4, status="partially_paid", payments=[first, second])
    )
    assert money(ctl.entity(account.realm_id, "Invoice", created["Id"])["Balance"]) == Decimal("52.85")
    last = paid("pay_3", "52.85")
    run_pusher(reissue(updated, "invoice.paid", version=5, status="paid", payments=[first, second, last]))
    qbo = ctl.entity(account.realm_id, "Invoice", created["Id"])
    assert money(qbo["Balance"]) == 0
    payments = qbo_objects(ctl, account.realm_id, "Payment")
    assert sorted(money(p["TotalAmt"]) for p in payments) == [
        Decimal("52.85"),
        Decimal("60.00"),
        Decimal("100.00"),
    ]
    assert {p["Line"][0]["LinkedTxn"][0]["TxnId"] for p in payments} == {created["Id"]}

    # v6: voided in Kyrios → voided in QBO (zeroed, "Voided"), still one invoice.
    run_pusher(reissue(updated, "invoice.voided", version=6, status="void", payments=[]))
    qbo = ctl.entity(account.realm_id, "Invoice", created["Id"])
    assert money(qbo["TotalAmt"]) == 0 and "Voided" in (qbo.get("PrivateNote") or "")
    assert len(qbo_objects(ctl, account.realm_id, "Invoice")) == 1
    mapping = store.get_mapping(account.realm_id, "invoice", sent["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 6
    assert [e.outcome for e in sync_log(account.account_id)] == ["ok"] * 6
