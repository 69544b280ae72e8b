"""Conformance: bodies a general client sends that real QBO accepts (issue 20, found by running
python-quickbooks' own sandbox integration tests unchanged against the emulator; see
local/qbo_emulator/THIRD_PARTY.md).

Sources: PQ = python-quickbooks 0.9.12 (quickbooks/objects/taxservice.py sets ``Id = 0`` and sends it;
tests/integration/test_taxservice.py and test_estimate.py were written against Intuit's sandbox and
read back what they sent); PHP75 = intuit/QuickBooks-V3-PHP-SDK#75, where Intuit's engineer (hlu2) gives
a TaxService body carrying ``TaxCodeId`` / ``TaxRateId``; D-estimate = Intuit's Estimate and Invoice
reference samples, whose DiscountLineDetail carries the DiscountAccountRef the request named.
"""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_taxservice_accepts_the_id_python_quickbooks_sends(target: Target) -> None:
    """PQ + PHP75: ``{"Id": 0, "TaxCode", "TaxRateDetails"}`` creates the code (no 2010); the answer
    carries the agency id as a string and the rate as sent."""
    agency = _ok(target.query("SELECT * FROM TaxAgency"))["QueryResponse"]["TaxAgency"][0]["Id"]
    name = target.unique("TaxCode")
    body = {"Id": 0, "TaxCode": name, "TaxRateDetails": [
        {"TaxRateName": name, "RateValue": 10, "TaxAgencyId": int(agency), "TaxApplicableOn": "Sales"}]}
    out = _ok(target.post("taxservice/taxcode", body))
    assert out["TaxCode"] == name and out["TaxCodeId"]
    detail = out["TaxRateDetails"][0]
    assert detail["TaxRateName"] == name and detail["TaxAgencyId"] == agency
    assert float(detail["RateValue"]) == 10


def test_discount_line_keeps_the_account_the_request_names(target: Target) -> None:
    """D-estimate + PQ test_estimate.py: a DiscountLine's DiscountAccountRef is kept, not replaced by
    the company's default discount account."""
    accounts = _ok(target.query("SELECT * FROM Account WHERE AccountType = 'Income' MAXRESULTS 1000"))
    chosen = accounts["QueryResponse"]["Account"][-1]
    cust = _ok(target.post("customer", {"DisplayName": target.unique("Disc")}))["Customer"]["Id"]
    item = _ok(target.query("SELECT * FROM Item WHERE Type = 'Service'"))["QueryResponse"]["Item"][0]["Id"]
    body = {
        "CustomerRef": {"value": cust},
        "Line": [
            {"Amount": 35, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": 35,
                                     "TaxCodeRef": {"value": "NON"}}},
            {"Amount": 3.5, "DetailType": "DiscountLineDetail",
             "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10,
                                    "DiscountAccountRef": {"value": chosen["Id"], "name": chosen["Name"]}}},
        ],
    }
    est = _ok(target.post("estimate", body))["Estimate"]
    disc = next(ln for ln in est["Line"] if ln["DetailType"] == "DiscountLineDetail")
    assert disc["DiscountLineDetail"]["DiscountAccountRef"]["value"] == chosen["Id"]
    assert est["TotalAmt"] == 31.5
