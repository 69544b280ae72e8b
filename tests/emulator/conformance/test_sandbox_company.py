"""Conformance: a sandbox_co company looks like a sandbox_co Intuit sandbox company (issue 20, "Seed data").

Against the emulator the company is created with ``seed="sandbox"``; against a real sandbox the
configured company is used as it is (a sandbox_co sandbox company has all of this). Sources: the
sandbox company described in local/qbo_emulator/sandbox_seed.py (Intuit's Preferences reference
sample as reproduced in python-quickbooks tests/unit/objects/test_preferences.py; item/customer names
from captured sandbox payloads); account subtypes from Intuit's Account reference.
"""

from __future__ import annotations

import pytest

from local.qbo_emulator import EmulatorServer
from tests.emulator.conftest import Target, _sandbox_target, realm_target

SANDBOX_REALM = "9341450000000777"


@pytest.fixture(params=["emulator", "sandbox"])
def sandbox_co(request: pytest.FixtureRequest, emulator: EmulatorServer) -> Target:
    if request.param == "sandbox":
        return _sandbox_target()
    srv = emulator  # reset before each test by the autouse fixture of tests/emulator/conftest.py
    srv.control.add_company(SANDBOX_REALM, "Sandbox Company_US", "US", seed="sandbox")
    return realm_target(srv, SANDBOX_REALM, "US")


def _rows(t: Target, q: str, entity: str) -> list[dict]:
    r = t.query(q)
    assert r.status_code == 200, r.text
    return list(r.json()["QueryResponse"].get(entity, []))


def test_customers_have_invoices_and_payments(sandbox_co: Target) -> None:
    customers = _rows(sandbox_co, "SELECT * FROM Customer", "Customer")
    invoices = _rows(sandbox_co, "SELECT * FROM Invoice", "Invoice")
    payments = _rows(sandbox_co, "SELECT * FROM Payment", "Payment")
    assert len(customers) >= 5 and invoices and payments
    paid = {lt["TxnId"] for p in payments for ln in p["Line"] for lt in ln.get("LinkedTxn", [])}
    assert paid <= {i["Id"] for i in invoices}
    assert any(i["Balance"] < i["TotalAmt"] for i in invoices if i["Id"] in paid)


def test_items_of_each_type_with_their_accounts(sandbox_co: Target) -> None:
    items = _rows(sandbox_co, "SELECT * FROM Item MAXRESULTS 1000", "Item")
    types = {i["Type"] for i in items}
    assert {"Service", "NonInventory", "Inventory"} <= types
    inv = next(i for i in items if i["Type"] == "Inventory")
    assert inv["IncomeAccountRef"] and inv["ExpenseAccountRef"] and inv["AssetAccountRef"]
    assert inv["TrackQtyOnHand"] is True
    accounts = {a["Id"]: a for a in _rows(sandbox_co, "SELECT * FROM Account MAXRESULTS 1000", "Account")}
    assert accounts[inv["AssetAccountRef"]["value"]]["AccountSubType"] == "Inventory"
    subtypes = {a["AccountSubType"] for a in accounts.values()}
    assert {"SalesOfProductIncome", "SuppliesMaterialsCogs", "Inventory"} <= subtypes


def test_payment_methods_terms_and_full_preferences(sandbox_co: Target) -> None:
    assert _rows(sandbox_co, "SELECT * FROM PaymentMethod", "PaymentMethod")
    assert _rows(sandbox_co, "SELECT * FROM Term", "Term")
    r = sandbox_co.get("preferences")
    assert r.status_code == 200, r.text
    prefs = r.json()["Preferences"]
    for key in ("AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs", "EmailMessagesPrefs",
                "VendorAndPurchasesPrefs", "TimeTrackingPrefs", "TaxPrefs", "CurrencyPrefs", "OtherPrefs"):
        assert prefs.get(key), key
