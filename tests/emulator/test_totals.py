"""Server-side totals, hand-computed to the cent, plus payments, void, delete and the tax service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests

from local.qbo_emulator import AU_REALM, CA_REALM, GB_REALM, EmulatorServer

from .conftest import Target, realm_target, sample


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def line(qty: Any, price: Any, code: str | None, item: str = "1") -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item}, "Qty": qty, "UnitPrice": price}
    if code is not None:
        detail["TaxCodeRef"] = {"value": code}
    return {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def pct_discount(p: Any) -> dict[str, Any]:
    return {
        "DetailType": "DiscountLineDetail",
        "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": p},
    }


def amt_discount(a: Any) -> dict[str, Any]:
    return {"DetailType": "DiscountLineDetail", "Amount": a, "DiscountLineDetail": {"PercentBased": False}}


def tax_code(t: Target, name: str) -> str:
    rows = t.query(f"SELECT * FROM TaxCode WHERE Name = '{name}'").json()["QueryResponse"]["TaxCode"]
    return str(rows[0]["Id"])


def customer(t: Target, **extra: Any) -> str:
    return str(t.post("customer", {"DisplayName": t.unique("Buyer"), **extra}).json()["Customer"]["Id"])


def invoice(t: Target, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    resp = t.post(
        "invoice", {"CustomerRef": {"value": extra.pop("cust", None) or customer(t)}, "Line": lines, **extra}
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["Invoice"])


def test_us_automated_sales_tax_with_discount_before_tax(us: Target) -> None:
    inv = invoice(us, [line(3, "19.99", "TAX"), line(2, "12.50", "NON"), pct_discount(10)])
    amounts = [ln["Amount"] for ln in inv["Line"]]
    assert amounts == [59.97, 25.0, 84.97, 8.5]  # lines, SubTotalLine, discount
    assert inv["Line"][2]["DetailType"] == "SubTotalLineDetail"
    detail = inv["TxnTaxDetail"]
    # tax on the undiscounted taxable line: 59.97 * 8.25% = 4.947525 -> 4.95
    assert D(detail["TotalTax"]) == D("4.95")
    assert detail["TxnTaxCodeRef"]["value"] == tax_code(us, "Automated Sales Tax")
    assert detail["TaxLine"][0]["TaxLineDetail"]["NetAmountTaxable"] == 59.97
    assert detail["TaxLine"][0]["TaxLineDetail"]["TaxPercent"] == 8.25
    assert D(inv["TotalAmt"]) == D("81.42")  # 84.97 - 8.50 + 4.95
    assert D(inv["Balance"]) == D("81.42")
    assert "GlobalTaxCalculation" not in inv


def test_us_tax_after_discount(us: Target) -> None:
    inv = invoice(
        us, [line(3, "19.99", "TAX"), line(2, "12.50", "NON"), pct_discount(10)], ApplyTaxAfterDiscount=True
    )
    # discount 8.50 shared 59.97:25.00 -> TAX share 6.00, base 53.97, tax 4.452525 -> 4.45
    assert inv["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["NetAmountTaxable"] == 53.97
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("4.45")
    assert D(inv["TotalAmt"]) == D("80.92")


def test_us_non_taxable_customer_pays_no_tax(us: Target) -> None:
    inv = invoice(us, [line(1, 100, "TAX")], cust=customer(us, Taxable=False))
    assert inv["TxnTaxDetail"] == {"TotalTax": 0}
    assert inv["TotalAmt"] == 100.0


def test_gb_vat_three_rates_and_amount_discount(gb: Target) -> None:
    s, r, z = tax_code(gb, "20.0% S"), tax_code(gb, "5.0% R"), tax_code(gb, "0.0% Z")
    inv = invoice(gb, [line(2, 45, s), line(1, "12.34", r), line(3, "3.33", z), amt_discount(10)])
    assert inv["GlobalTaxCalculation"] == "TaxExcluded"
    assert inv["Line"][3] == {"Amount": 112.33, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    lines = {tl["TaxLineDetail"]["TaxPercent"]: tl for tl in inv["TxnTaxDetail"]["TaxLine"]}
    # discount 10.00 allocated 8.01 / 1.10 / 0.89 -> bases 81.99 / 11.24 / 9.10
    assert (lines[20]["TaxLineDetail"]["NetAmountTaxable"], lines[20]["Amount"]) == (81.99, 16.40)
    assert (lines[5]["TaxLineDetail"]["NetAmountTaxable"], lines[5]["Amount"]) == (11.24, 0.56)
    assert (lines[0]["TaxLineDetail"]["NetAmountTaxable"], lines[0]["Amount"]) == (9.10, 0)
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("16.96")
    assert D(inv["TotalAmt"]) == D("119.29")
    assert inv["CurrencyRef"] == {"value": "GBP", "name": "British Pound Sterling"}


def test_ca_hst_and_not_applicable(emulator: EmulatorServer) -> None:
    ca = realm_target(emulator, CA_REALM, "CA")
    hst = tax_code(ca, "HST ON")
    inv = invoice(ca, [line(4, "24.99", hst)])
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("12.99")  # 99.96 * 13% = 12.9948
    assert D(inv["TotalAmt"]) == D("112.95")
    none = invoice(ca, [line(4, "24.99", None)], GlobalTaxCalculation="NotApplicable")
    assert none["TxnTaxDetail"] == {"TotalTax": 0} and none["TotalAmt"] == 99.96


def test_au_tax_inclusive(emulator: EmulatorServer) -> None:
    au = realm_target(emulator, AU_REALM, "AU")
    gst, free = tax_code(au, "GST"), tax_code(au, "GST free")
    inv = invoice(au, [line(3, "9.99", gst), line(1, 11, free)], GlobalTaxCalculation="TaxInclusive")
    first = inv["Line"][0]
    assert first["SalesItemLineDetail"]["TaxInclusiveAmt"] == 29.97
    assert first["Amount"] == 27.25  # 29.97 * 100/110
    by_rate = {tl["TaxLineDetail"]["TaxPercent"]: tl for tl in inv["TxnTaxDetail"]["TaxLine"]}
    assert by_rate[10]["Amount"] == 2.72 and by_rate[10]["TaxLineDetail"]["NetAmountTaxable"] == 27.25
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("2.72")
    assert D(inv["TotalAmt"]) == D("40.97")  # gross lines, tax included


def test_au_tax_inclusive_line_sent_net_with_gross_tax_inclusive_amt(emulator: EmulatorServer) -> None:
    """API clients send a tax-inclusive line as net Qty x UnitPrice = Amount plus the gross."""
    au = realm_target(emulator, AU_REALM, "AU")
    gst = tax_code(au, "GST")
    sent = line(3, "9.08182", gst)  # 29.97 gross at 10 %: net 27.245..., Amount 27.25 as QBO stores it
    sent["Amount"] = "27.25"
    sent["SalesItemLineDetail"]["TaxInclusiveAmt"] = "29.97"
    inv = invoice(au, [sent], GlobalTaxCalculation="TaxInclusive")
    first = inv["Line"][0]
    assert (first["Amount"], first["SalesItemLineDetail"]["TaxInclusiveAmt"]) == (27.25, 29.97)
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("2.72")
    assert D(inv["TotalAmt"]) == D("29.97")
    wrong = line(3, "9.08182", gst)
    wrong["Amount"] = "29.97"  # the gross where the net belongs: Qty x UnitPrice disagrees
    wrong["SalesItemLineDetail"]["TaxInclusiveAmt"] = "29.97"
    resp = au.post("invoice", {"CustomerRef": {"value": customer(au)}, "Line": [wrong],
                               "GlobalTaxCalculation": "TaxInclusive"})
    assert resp.status_code == 400 and resp.json()["Fault"]["Error"][0]["code"] == "6070"


def test_amount_must_equal_qty_times_price(us: Target) -> None:
    resp = us.post(
        "invoice",
        {
            "CustomerRef": {"value": customer(us)},
            "Line": [
                {
                    "Amount": 100,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 3, "UnitPrice": 30},
                }
            ],
        },
    )
    assert resp.status_code == 400
    assert resp.json()["Fault"]["Error"][0]["code"] == "6070"


def test_payment_lowers_balance_bumps_synctoken_and_refuses_over_application(gb: Target) -> None:
    s = tax_code(gb, "20.0% S")
    cust = customer(gb)
    inv = invoice(gb, [line(1, 100, s)], cust=cust)  # 120.00
    assert inv["SyncToken"] == "0"
    pay = gb.post(
        "payment",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": 50,
            "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert pay.status_code == 200, pay.text
    payment = pay.json()["Payment"]
    assert payment["UnappliedAmt"] == 0 and payment["TotalAmt"] == 50.0
    after = gb.get(f"invoice/{inv['Id']}").json()["Invoice"]
    assert after["Balance"] == 70.0 and after["SyncToken"] == "1"
    assert {"TxnId": payment["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
    assert gb.get(f"customer/{cust}").json()["Customer"]["Balance"] == 70.0
    # the old SyncToken is now stale
    stale = gb.post("invoice", {"Id": inv["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"})
    assert stale.json()["Fault"]["Error"][0]["code"] == "5010"
    over = gb.post(
        "payment",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": 80,
            "Line": [{"Amount": 80, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}],
        },
    )
    assert over.status_code == 400 and over.json()["Fault"]["Error"][0]["code"] == "6000"
    # voiding the payment gives the balance back
    void = gb.post("payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]}, operation="void")
    assert void.status_code == 200
    assert void.json()["Payment"]["PrivateNote"] == "Voided" and void.json()["Payment"]["TotalAmt"] == 0
    assert gb.get(f"invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 120.0


def test_void_and_delete_invoice_shapes(us: Target) -> None:
    inv = invoice(us, [line(2, 50, "NON")])
    void = us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void")
    assert void.status_code == 200
    voided = void.json()["Invoice"]
    real = sample("invoice-void-response.json")["Invoice"]
    assert voided["PrivateNote"] == real["PrivateNote"] == "Voided"
    assert voided["SyncToken"] == "1"
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert [ln["Amount"] for ln in voided["Line"]] == [0, 0]
    assert voided["TxnTaxDetail"] == real["TxnTaxDetail"] == {"TotalTax": 0}
    deleted = us.post("invoice", {"Id": inv["Id"], "SyncToken": "1"}, operation="delete")
    body = deleted.json()
    real_del = sample("invoice-delete-response.json")
    assert set(body) == set(real_del) and body["Invoice"] == {
        "domain": "QBO",
        "status": "Deleted",
        "Id": inv["Id"],
    }
    gone = us.get(f"invoice/{inv['Id']}")
    assert gone.status_code == 400 and gone.json()["Fault"]["Error"][0]["code"] == "610"


def test_sales_receipt_is_paid_at_once(us: Target) -> None:
    resp = us.post("salesreceipt", {"CustomerRef": {"value": customer(us)}, "Line": [line("4.5", 75, "NON")]})
    sr = resp.json()["SalesReceipt"]
    assert sr["TotalAmt"] == 337.5 and sr["Balance"] == 0
    assert sr["DepositToAccountRef"]["name"] == "Undeposited Funds"
    assert sr["Line"][0]["SalesItemLineDetail"]["Qty"] == 4.5
    # full update with lines renumbers new lines (salesreceipt-update-request.json)
    upd = us.post(
        "salesreceipt",
        {
            "Id": sr["Id"],
            "SyncToken": sr["SyncToken"],
            "CustomerRef": sr["CustomerRef"],
            "Line": [line(1, 10, "NON")],
        },
    )
    assert upd.status_code == 200, upd.text
    assert upd.json()["SalesReceipt"]["Line"][0]["Id"] == "2"
    assert upd.json()["SalesReceipt"]["TotalAmt"] == 10.0


def test_multicurrency_switch(emulator: EmulatorServer, gb: Target) -> None:
    resp = gb.post("customer", {"DisplayName": "Yankee Buyer", "CurrencyRef": {"value": "USD"}})
    assert resp.status_code == 400 and resp.json()["Fault"]["Error"][0]["code"] == "6000"
    emulator.control.company_settings(GB_REALM, multi_currency=True, exchange_rates={"USD": "0.8"})
    prefs = gb.get("preferences").json()["Preferences"]
    assert prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] is True
    cust = gb.post("customer", {"DisplayName": "Yankee Buyer", "CurrencyRef": {"value": "USD"}}).json()[
        "Customer"
    ]
    inv = invoice(gb, [line(1, 100, tax_code(gb, "0.0% Z"))], cust=cust["Id"])
    assert inv["CurrencyRef"]["value"] == "USD" and inv["ExchangeRate"] == 0.8 and inv["HomeTotalAmt"] == 80.0
    mismatch = gb.post(
        "invoice",
        {
            "CustomerRef": {"value": cust["Id"]},
            "CurrencyRef": {"value": "GBP"},
            "Line": [line(1, 1, tax_code(gb, "0.0% Z"))],
        },
    )
    assert mismatch.status_code == 400


def test_tax_service_creates_rates_and_code(gb: Target) -> None:
    agency = gb.query("SELECT * FROM TaxAgency").json()["QueryResponse"]["TaxAgency"][0]["Id"]
    body = {
        "TaxCode": "Eco levy",
        "TaxRateDetails": [
            {"TaxRateName": "Eco 7", "RateValue": 7, "TaxAgencyId": agency, "TaxApplicableOn": "Sales"},
            {"TaxRateName": "Eco 3", "RateValue": "3", "TaxAgencyId": agency, "TaxApplicableOn": "Sales"},
        ],
    }
    resp = gb.post("taxservice/taxcode", body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert out["TaxCode"] == "Eco levy" and out["TaxCodeId"]
    assert [d["TaxRateName"] for d in out["TaxRateDetails"]] == ["Eco 7", "Eco 3"]
    inv = invoice(gb, [line(1, 200, out["TaxCodeId"])])
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("20.00")  # 14.00 + 6.00
    assert len(inv["TxnTaxDetail"]["TaxLine"]) == 2
    rate = gb.query("SELECT * FROM TaxRate WHERE Name = 'Eco 7'").json()["QueryResponse"]["TaxRate"][0]
    assert rate["RateValue"] == 7
    dup = gb.post(
        "taxservice/taxcode",
        {
            "TaxCode": "Eco levy 2",
            "TaxRateDetails": [
                {"TaxRateName": "Eco 7", "RateValue": 7, "TaxAgencyId": agency, "TaxApplicableOn": "Sales"}
            ],
        },
    )
    assert dup.status_code == 400
    assert dup.json()["Fault"] == sample("fault-6240-taxservice-duplicate-taxrate.json")["Fault"]


def test_customer_balance_changes_move_last_updated_not_synctoken(
    emulator: EmulatorServer, us: Target
) -> None:
    cust = customer(us)
    before = us.get(f"customer/{cust}").json()["Customer"]
    emulator.control.advance_clock(5)
    invoice(us, [line(1, 10, "NON")], cust=cust)
    after = us.get(f"customer/{cust}").json()["Customer"]
    assert after["Balance"] == 10.0 and after["SyncToken"] == before["SyncToken"] == "0"
    assert after["MetaData"]["LastUpdatedTime"] != before["MetaData"]["LastUpdatedTime"]


def test_money_is_serialised_like_qbo(us: Target) -> None:
    raw = requests.post(
        us.base + "invoice",
        headers=us.headers(),
        timeout=10,
        json={"CustomerRef": {"value": customer(us)}, "Line": [line(4, 25, "NON")]},
    ).text
    assert '"TotalAmt":100.00' in raw and '"UnitPrice":25' in raw and '"TotalTax":0' in raw
