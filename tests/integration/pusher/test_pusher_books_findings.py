"""Issue 16's findings, one named test each, through the push queue and the real pusher into the
emulator: QuickBooks ends with Kyrios's figures to the cent, and nothing is refused for rounding.

The property test (``test_pusher_taxes_property.py``) covers the space; these pin the cases an
accountant reported, so a regression names the one that broke."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.integration.pusher.conftest import invoice_event, line, money, qbo_objects, sync_log, tax


def _push_one(run_pusher: Any, ctl: Any, account: Any, event: dict[str, Any]) -> dict[str, Any]:
    assert run_pusher(event)[0]["batchItemFailures"] == []
    [entry] = sync_log(account.account_id)
    assert entry.outcome == "ok", entry.message
    [invoice] = qbo_objects(ctl, account.realm_id, "Invoice")
    return dict(invoice)


def _set_totals(event: dict[str, Any], *, tax_total: str, total: str) -> dict[str, Any]:
    """Kyrios's own figures where its rounding is not the pusher's (per line, not per document)."""
    totals = event["detail"]["invoice"]["totals"]
    totals["tax_total"], totals["total"] = tax_total, total
    return event


def test_us_tax_inclusive_prices_with_an_invoice_amount_discount(connect, run_pusher, ctl) -> None:
    """Was 0.41 below Kyrios: lines converted to net, the gross discount taken off the net subtotal."""
    account = connect("US")
    sales_tax = tax("t_us", "Sales tax", "8.25")
    event = invoice_event(
        account.account_id, currency="USD", prices_include_tax=True,
        discount={"type": "amount", "amount": "5.00"},
        lines=[line("l1", "p1", "Yoga class", "3", "27.06", sales_tax),
               line("l2", "p2", "Mat rental", "1", "10.83", sales_tax)],
    )
    kyrios = event["detail"]["invoice"]["totals"]
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal(kyrios["total"])
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal(kyrios["tax_total"])


def test_kyrios_totals_rounded_per_line_are_not_refused(connect, run_pusher, ctl) -> None:
    """3 lines of 1.03 at 20 % VAT: 0.21 per line = 0.63 (Kyrios), 0.62 on the document total."""
    account = connect("GB")
    vat = tax("tax_gb_vat20", "VAT", "20")
    event = invoice_event(
        account.account_id, currency="GBP",
        lines=[line(f"l{i}", f"p{i}", f"Sticker {i}", "1", "1.03", vat) for i in range(3)],
    )
    event = _set_totals(event, tax_total="0.63", total="3.72")
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal("3.72")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("0.63")


def test_tax_inclusive_gb_invoice_whose_vat_split_differs_by_a_cent(connect, run_pusher, ctl) -> None:
    """Three lines of 10.00 including 20 % VAT: 1.67 per line = 5.01 (Kyrios) against 5.00 on the
    document; the total 30.00 is right either way and was refused."""
    account = connect("GB")
    vat = tax("tax_gb_vat20", "VAT", "20")
    event = invoice_event(
        account.account_id, currency="GBP", prices_include_tax=True,
        lines=[line(f"l{i}", f"p{i}", f"Workshop {i}", "1", "10.00", vat) for i in range(3)],
    )
    event = _set_totals(event, tax_total="5.01", total="30.00")
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal("30.00")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("5.01")


def test_us_invoice_keeps_kyrios_tax_when_automated_sales_tax_uses_another_rate(
    connect, run_pusher, ctl
) -> None:
    """Kyrios charged 8.875 %; QBO's automated sales tax would take its own rate: the invoice carries
    what the customer was billed, and the sync log says the rates differ."""
    account = connect("US")
    event = invoice_event(
        account.account_id, currency="USD",
        lines=[line("l1", "p1", "Consultation", "2", "120.00", tax("t_ny", "NYC sales tax", "8.875"))],
    )
    kyrios = event["detail"]["invoice"]["totals"]
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal(kyrios["total"]) == Decimal("261.30")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("21.30")
    [entry] = sync_log(account.account_id)
    assert "8.875" in entry.message, entry.message


def _rates_by_id(ctl: Any, realm_id: str) -> dict[str, dict[str, Any]]:
    return {rate["Id"]: rate for rate in qbo_objects(ctl, realm_id, "TaxRate")}


def test_ca_gst_pst_reuses_the_company_gst_rate_and_files_pst_under_the_province(
    connect, run_pusher, ctl
) -> None:
    """A BC company has GST 5 % under the Canada Revenue Agency and no PST yet: the GST+PST code is built
    on that GST rate (never a second "Kyrios GST 5%"), PST goes to the province's agency (created), and
    GST is one tax line rounded once (5.00, not 4.62 + 0.37)."""
    account = connect("CA", region="BC")
    gst, pst = tax("t_gst", "GST", "5"), tax("t_pst", "PST", "7")
    event = invoice_event(
        account.account_id, currency="CAD",
        lines=[
            line("l1", "p1", "Bike tune-up", "1", "92.35", gst, pst),
            line("l2", "p2", "Riding lesson", "1", "7.65", gst),
        ],
    )
    kyrios = event["detail"]["invoice"]["totals"]
    assert (kyrios["tax_total"], kyrios["total"]) == ("11.46", "111.46")
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal("111.46")

    rates = _rates_by_id(ctl, account.realm_id)
    assert not [r["Name"] for r in rates.values() if "GST" in r["Name"] and r["Name"] != "GST"]
    [gst_rate] = [r for r in rates.values() if r["Name"] == "GST"]
    assert gst_rate["AgencyRef"]["name"] == "Canada Revenue Agency"
    [pst_rate] = [r for r in rates.values() if Decimal(str(r["RateValue"])) == 7]
    agencies = {a["Id"]: a["DisplayName"] for a in qbo_objects(ctl, account.realm_id, "TaxAgency")}
    assert agencies[pst_rate["AgencyRef"]["value"]] == "Minister of Finance (BC)"

    per_rate = {
        t["TaxLineDetail"]["TaxRateRef"]["value"]: money(t["Amount"])
        for t in invoice["TxnTaxDetail"]["TaxLine"]
        if money(t["Amount"])
    }
    assert per_rate == {gst_rate["Id"]: Decimal("5.00"), pst_rate["Id"]: Decimal("6.46")}
    first = next(x for x in invoice["Line"] if x.get("DetailType") == "SalesItemLineDetail")
    code_id = first["SalesItemLineDetail"]["TaxCodeRef"]["value"]
    code = next(c for c in qbo_objects(ctl, account.realm_id, "TaxCode") if c["Id"] == code_id)
    combined = {d["TaxRateRef"]["value"] for d in code["SalesTaxRateList"]["TaxRateDetail"]}
    assert combined == {gst_rate["Id"], pst_rate["Id"]}


def test_us_company_without_automated_sales_tax_gets_its_tax_code_and_kyrios_tax(
    connect, run_pusher, ctl
) -> None:
    """An older US company on manual sales tax computes no tax unless the invoice names one of its codes:
    the invoice names the code of Kyrios's rate (State 6.25 % + City 2 %) and carries Kyrios's tax."""
    account = connect("US", automated_sales_tax=False)
    event = invoice_event(
        account.account_id, currency="USD",
        lines=[
            line("l1", "p1", "Consultation", "2", "120.00", tax("t_sp", "Sales tax", "8.25")),
            line("l2", "p2", "Gift card", "1", "15.00"),
        ],
    )
    kyrios = event["detail"]["invoice"]["totals"]
    assert (kyrios["tax_total"], kyrios["total"]) == ("19.80", "274.80")
    invoice = _push_one(run_pusher, ctl, account, event)
    codes = {c["Name"]: c["Id"] for c in qbo_objects(ctl, account.realm_id, "TaxCode")}
    assert invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["value"] == codes["Springfield"]
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("19.80")
    assert money(invoice["TotalAmt"]) == Decimal("274.80")
    sales = [x for x in invoice["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert [x["SalesItemLineDetail"]["TaxCodeRef"]["value"] for x in sales] == ["TAX", "NON"]


def test_us_manual_sales_tax_at_a_rate_the_company_lacks_keeps_kyrios_tax_and_says_so(
    connect, run_pusher, ctl
) -> None:
    account = connect("US", automated_sales_tax=False)
    event = invoice_event(
        account.account_id, currency="USD",
        lines=[line("l1", "p1", "Consultation", "2", "120.00", tax("t_ny", "NYC sales tax", "8.875"))],
    )
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal("261.30")
    assert money(invoice["TxnTaxDetail"]["TotalTax"]) == Decimal("21.30")
    [entry] = sync_log(account.account_id)
    assert "8.875" in entry.message, entry.message


def test_us_manual_sales_tax_setup_is_read_once_not_per_push(connect, run_pusher, ctl) -> None:
    """The company's codes and rates are read with its other facts, once: a second invoice costs no
    TaxCode or TaxRate query (Intuit meters every read)."""
    account = connect("US", automated_sales_tax=False)

    def tax_setup_queries() -> int:
        return sum(1 for r in ctl.requests(realm=account.realm_id)
                   if r["endpoint"] == "GET query" and "FROM Tax" in (r.get("query") or ""))

    def push() -> None:
        event = invoice_event(
            account.account_id, currency="USD",
            lines=[line("l1", "p1", "Consultation", "2", "120.00", tax("t_sp", "Sales tax", "8.25"))],
        )
        assert run_pusher(event)[0]["batchItemFailures"] == []

    push()
    assert tax_setup_queries() == 2  # TaxCode and TaxRate
    push()
    assert tax_setup_queries() == 2
    assert all(entry.outcome == "ok" for entry in sync_log(account.account_id))


def test_two_kyrios_taxes_at_the_same_rate_share_the_company_vat_code(connect, run_pusher, ctl) -> None:
    """Kyrios's "VAT" and "Standard rate" are both 20 %: both lines go to the company's one 20 % code.
    A QBO tax code may serve many Kyrios taxes (unlike a customer or an invoice, which belongs to one
    Kyrios document), so remembering the second choice must not be refused as a mapping conflict."""
    account = connect("GB")
    event = invoice_event(
        account.account_id, currency="GBP",
        lines=[line("l1", "p1", "Coaching", "1", "100.00", tax("t_vat", "VAT", "20")),
               line("l2", "p2", "Workbook", "2", "12.50", tax("t_standard", "Standard rate", "20"))],
    )
    kyrios = event["detail"]["invoice"]["totals"]
    invoice = _push_one(run_pusher, ctl, account, event)
    assert money(invoice["TotalAmt"]) == Decimal(kyrios["total"])
    codes = {line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
             for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"}
    assert len(codes) == 1
    assert not [code for code in qbo_objects(ctl, account.realm_id, "TaxCode") if "Kyrios" in code["Name"]]
