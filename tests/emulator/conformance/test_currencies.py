"""Conformance: CompanyCurrency and ExchangeRate, the multi-currency lists (issue 20).

Sources: D = Intuit's API reference pages (developer.intuit.com/app/developer/qbo/docs/api/accounting/
all-entities/companycurrency and /exchangerate: "applicable only for those companies that enable
multicurrency"; query and set exchange rates); PQ = python-quickbooks 0.9.12 tests/integration
test_companycurrency.py and test_exchangerate.py, written against its maintainer's multi-currency
sandbox (CompanyCurrency 1 is "Canadian Dollar"; the EUR rate is to USD; a POST of the read rate + 1
reads back the new rate). E: the fault for a company with multi-currency off is the emulator's guess
(6000). Against a real sandbox the cases need multi-currency on already (skipped otherwise).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def _multi_currency(t: Target) -> None:
    """The emulator's company starts with multi-currency off, as a fresh sandbox company does."""
    if t.ctl is not None:
        assert t.post("companycurrency", {"Code": "CAD"}).json()["Fault"]["Error"][0]["code"] == "6000"
        t.ctl.company_settings(t.realm, multi_currency=True)
        return
    prefs = _ok(t.get("preferences"))["Preferences"]
    if not prefs["CurrencyPrefs"]["MultiCurrencyEnabled"]:
        pytest.skip("the sandbox company has multi-currency off")


def test_company_currency_is_listed_by_code_with_its_name(target: Target) -> None:
    """D + PQ: adding a currency lists it with its name; a currency cannot be added twice (E: 6240)."""
    _multi_currency(target)
    listed = _ok(target.query("SELECT * FROM CompanyCurrency")).get("QueryResponse", {})
    have = {c["Code"]: c for c in listed.get("CompanyCurrency", [])}
    if "CAD" not in have:
        have["CAD"] = _ok(target.post("companycurrency", {"Code": "CAD"}))["CompanyCurrency"]
    read = _ok(target.get(f"companycurrency/{have['CAD']['Id']}"))["CompanyCurrency"]
    assert (read["Code"], read["Name"], read["Active"]) == ("CAD", "Canadian Dollar", True)
    again = target.post("companycurrency", {"Code": "CAD"})
    assert again.status_code == 400
    if target.ctl is not None:
        assert again.json()["Fault"]["Error"][0]["code"] == "6240"


def test_exchange_rate_query_and_set(target: Target) -> None:
    """PQ test_exchangerate.py: WHERE SourceCurrencyCode = 'EUR' answers EUR -> USD; posting the read
    object with Rate + 1 reads back the new rate; D: the rate is what new transactions use."""
    _multi_currency(target)
    listed = _ok(target.query("SELECT * FROM CompanyCurrency WHERE Code = 'EUR'")).get("QueryResponse", {})
    if not listed.get("CompanyCurrency"):
        _ok(target.post("companycurrency", {"Code": "EUR"}))
    q = "SELECT * FROM ExchangeRate WHERE SourceCurrencyCode = 'EUR'"
    rate = _ok(target.query(q))["QueryResponse"]["ExchangeRate"][0]
    assert (rate["SourceCurrencyCode"], rate["TargetCurrencyCode"]) == ("EUR", "USD")
    rate["Rate"] = rate["Rate"] + 1
    _ok(target.post("exchangerate", rate))
    assert _ok(target.query(q))["QueryResponse"]["ExchangeRate"][0]["Rate"] == rate["Rate"]
    if target.ctl is not None:
        euro = {"DisplayName": target.unique("Euro"), "CurrencyRef": {"value": "EUR"}}
        cust = _ok(target.post("customer", euro))
        item = _ok(target.query("SELECT * FROM Item"))["QueryResponse"]["Item"][0]["Id"]
        line = {"Amount": 10, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": 10}}
        body = {"CustomerRef": {"value": cust["Customer"]["Id"]}, "Line": [line]}
        inv = _ok(target.post("invoice", body))["Invoice"]
        assert inv["ExchangeRate"] == rate["Rate"]
