"""Conformance: includes and quirks (issue 20, "Includes", "Quirks", "6070", "Malformed JSON").

Sources: D-invoice = Intuit's Invoice reference (InvoiceLink, minorversion 36+: generated only for
invoices with online payment enabled and a valid customer email; ``include=invoiceLink``);
GH376 = intuit/QuickBooks-V3-DotNET-SDK#376, a captured 2010 fault for a body QBO could not parse;
I20 = issue 20 (Qty 0 / UnitPrice 0 lines with an Amount are accepted by real QBO).
"""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Target


def _invoice_body(t: Target, **extra: Any) -> dict[str, Any]:
    cust = t.post("customer", {"DisplayName": t.unique("Link")}).json()["Customer"]["Id"]
    item = t.query("SELECT * FROM Item WHERE Type = 'Service'").json()["QueryResponse"]["Item"][0]["Id"]
    line = {"Amount": 100, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": 100,
                                    "TaxCodeRef": {"value": "NON"}}}
    return {"CustomerRef": {"value": cust}, "Line": [line], **extra}


def test_invoice_link_for_an_online_payable_invoice_with_a_bill_email(target: Target) -> None:
    """D-invoice: ``?include=invoiceLink`` answers an https InvoiceLink when online payment is on and
    BillEmail is set, on create and on read."""
    body = _invoice_body(target, AllowOnlineCreditCardPayment=True, AllowOnlineACHPayment=True,
                         BillEmail={"Address": "buyer@example.com"})
    r = target.post("invoice", body, include="invoiceLink")
    assert r.status_code == 200, r.text
    inv = r.json()["Invoice"]
    assert inv["InvoiceLink"].startswith("https://")
    read = target.get(f"invoice/{inv['Id']}", include="invoiceLink").json()["Invoice"]
    assert read["InvoiceLink"].startswith("https://")


def test_no_invoice_link_without_online_payment_or_email(target: Target) -> None:
    """D-invoice: the link is generated only for online-payable invoices with a customer email."""
    r = target.post("invoice", _invoice_body(target, BillEmail={"Address": "buyer@example.com"}),
                    include="invoiceLink")
    assert r.status_code == 200, r.text
    assert "InvoiceLink" not in r.json()["Invoice"]


def test_qty_zero_unit_price_zero_line_keeps_its_amount(target: Target) -> None:
    """I20: a line sent with the client defaults Qty 0 / UnitPrice 0 and an Amount is accepted (no 6070)."""
    body = _invoice_body(target)
    body["Line"][0]["SalesItemLineDetail"] |= {"Qty": 0, "UnitPrice": 0}
    body["Line"][0]["Amount"] = 42.5
    r = target.post("invoice", body)
    assert r.status_code == 200, r.text
    assert r.json()["Invoice"]["Line"][0]["Amount"] == 42.5
    assert r.json()["Invoice"]["TotalAmt"] == 42.5


def test_mismatched_amount_is_still_6070(target: Target) -> None:
    """I (docs/qbo-facts.md): Amount ≠ Qty × UnitPrice with real Qty/UnitPrice is a 6070."""
    body = _invoice_body(target)
    body["Line"][0]["SalesItemLineDetail"] |= {"Qty": 2, "UnitPrice": 10}
    r = target.post("invoice", body)
    assert r.status_code == 400 and r.json()["Fault"]["Error"][0]["code"] == "6070"


def test_malformed_json_answers_the_captured_2010(target: Target) -> None:
    """GH376: a body QBO cannot parse → 400 ValidationFault 2010 "Property Name:failed to parse json
    object; a property specified is unsupported or invalid"."""
    r = target.post("customer", '{"DisplayName": "half')
    assert r.status_code == 400
    err = r.json()["Fault"]["Error"][0]
    assert r.json()["Fault"]["type"] == "ValidationFault"
    assert err["code"] == "2010" and err["Message"] == "Request has invalid or unsupported property"
    assert err["Detail"] == (
        "Property Name:failed to parse json object; a property specified is unsupported or invalid"
    )
