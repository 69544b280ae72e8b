"""Conformance: create / read / query / update / delete of the entities a general client uses
(issue 20, "Entities a client expects").

Sources: D = Intuit's API reference page of each entity (developer.intuit.com/app/developer/qbo/docs/
api/accounting/all-entities/<entity>); PQ = python-quickbooks' objects and its sandbox-written
tests/integration (test_term.py, test_bill.py, test_estimate.py: the shapes they send and read back);
fault shapes as in tests/fixtures/qbo (fault-6240-duplicate-name.json, fault-500-unsupported-operation.json).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def _fault_code(r: Any) -> str:
    assert r.status_code == 400, r.text
    return str(r.json()["Fault"]["Error"][0]["code"])


@pytest.mark.parametrize(
    ("entity", "extra"),
    [
        ("PaymentMethod", {"Type": "NON_CREDIT_CARD"}),
        ("Term", {"DueDays": 10}),
        ("Class", {}),
        ("Department", {}),
    ],
)
def test_name_lists_create_read_query_update_and_deactivate(target: Target, entity: str, extra: dict) -> None:
    """D + PQ test_term.py: Name required and unique; read back by id; sparse update; "delete is
    achieved by setting Active to false" (python-quickbooks paymentmethod.py quoting Intuit);
    ``operation=delete`` is refused; inactive rows leave the default query."""
    name = target.unique(entity)
    created = _ok(target.post(entity.lower(), {"Name": name, **extra}))[entity]
    assert created["Name"] == name and created["Active"] is True and created["SyncToken"] == "0"
    read = _ok(target.get(f"{entity.lower()}/{created['Id']}"))[entity]
    assert read["Id"] == created["Id"]
    q = _ok(target.query(f"SELECT * FROM {entity} WHERE Name = '{name}'"))
    assert [o["Id"] for o in q["QueryResponse"][entity]] == [created["Id"]]
    assert _fault_code(target.post(entity.lower(), {"Name": name, **extra})) == "6240"
    assert _fault_code(target.post(entity.lower(), {**extra})) == "2020"
    upd = _ok(target.post(entity.lower(), {"Id": created["Id"], "SyncToken": "0", "sparse": True,
                                            "Name": name + " x"}))[entity]
    assert upd["Name"] == name + " x" and upd["SyncToken"] == "1"
    assert _fault_code(target.post(entity.lower(), upd, operation="delete")) == "500"
    off = _ok(target.post(entity.lower(), {"Id": created["Id"], "SyncToken": "1", "sparse": True,
                                            "Active": False}))[entity]
    assert off["Active"] is False
    q = _ok(target.query(f"SELECT * FROM {entity} WHERE Name = '{name} x'"))
    assert entity not in q["QueryResponse"]


def test_term_full_update_keeps_what_is_sent(target: Target) -> None:
    """PQ test_term.py test_update: a full update of DueDays reads back the new value."""
    term = _ok(target.post("term", {"Name": target.unique("Term"), "DueDays": 10}))["Term"]
    term["DueDays"] = 60
    _ok(target.post("term", term))
    assert _ok(target.get(f"term/{term['Id']}"))["Term"]["DueDays"] == 60


def test_vendor_and_employee_crud(target: Target) -> None:
    """D: Vendor needs a DisplayName (or names), Employee GivenName or FamilyName (2020); both are
    deactivated, never deleted; DisplayName shared with customers (6240)."""
    vname = target.unique("Vendor")
    vendor = _ok(target.post("vendor", {"DisplayName": vname}))["Vendor"]
    assert _ok(target.get(f"vendor/{vendor['Id']}"))["Vendor"]["DisplayName"] == vname
    assert _fault_code(target.post("customer", {"DisplayName": vname})) == "6240"
    assert _fault_code(target.post("employee", {"DisplayName": target.unique("E")})) == "2020"
    emp = _ok(target.post("employee", {"GivenName": "Ada", "FamilyName": target.unique("L")}))["Employee"]
    emp2 = _ok(target.post("employee", {"Id": emp["Id"], "SyncToken": emp["SyncToken"], "sparse": True,
                                         "Active": False}))["Employee"]
    assert emp2["Active"] is False
    assert _fault_code(target.post("vendor", vendor, operation="delete")) == "500"


def _customer_and_item(t: Target) -> tuple[str, str]:
    cust = _ok(t.post("customer", {"DisplayName": t.unique("Cust")}))["Customer"]["Id"]
    items = _ok(t.query("SELECT * FROM Item WHERE Type = 'Service'"))["QueryResponse"]["Item"]
    return cust, items[0]["Id"]


def _sales_line(item: str, amount: str, us: bool) -> dict[str, Any]:
    detail: dict[str, Any] = {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount}
    detail["TaxCodeRef"] = {"value": "NON"}
    return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


@pytest.mark.parametrize("entity", ["Estimate", "CreditMemo"])
def test_sales_forms_create_update_delete(target: Target, entity: str) -> None:
    """D + PQ test_estimate.py: CustomerRef and Line required; totals as for invoices (SubTotalLine
    added); sparse update bumps SyncToken; delete answers status Deleted and the object is gone (610)."""
    cust, item = _customer_and_item(target)
    path = entity.lower()
    assert _fault_code(target.post(path, {"Line": [_sales_line(item, "35", True)]})) == "2020"
    body = {"CustomerRef": {"value": cust}, "Line": [_sales_line(item, "35", True)]}
    obj = _ok(target.post(path, body))[entity]
    assert obj["TotalAmt"] == 35 and obj["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    if entity == "Estimate":
        assert obj["TxnStatus"] == "Pending"
    else:
        assert obj["Balance"] == 35
    upd = _ok(target.post(path, {"Id": obj["Id"], "SyncToken": obj["SyncToken"], "sparse": True,
                                 "PrivateNote": "hello"}))[entity]
    assert upd["PrivateNote"] == "hello" and upd["SyncToken"] == "1"
    gone = _ok(target.post(path, {"Id": obj["Id"], "SyncToken": "1"}, operation="delete"))[entity]
    assert gone["status"] == "Deleted"
    assert target.get(f"{path}/{obj['Id']}").status_code == 400


def test_bill_create_read_update_delete(target: Target) -> None:
    """PQ test_bill.py: an AccountBasedExpenseLine of 200 against a vendor reads back one line of 200;
    D: VendorRef required (2020), Balance = TotalAmt, deletable."""
    vendor = _ok(target.post("vendor", {"DisplayName": target.unique("BillVendor")}))["Vendor"]["Id"]
    acct_body = {"Name": target.unique("Supplies"), "AccountType": "Expense"}
    acct = _ok(target.post("account", acct_body))["Account"]["Id"]
    line = {"Amount": 200, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": acct}}}
    assert _fault_code(target.post("bill", {"Line": [line]})) == "2020"
    bill = _ok(target.post("bill", {"VendorRef": {"value": vendor}, "Line": [line]}))["Bill"]
    read = _ok(target.get(f"bill/{bill['Id']}"))["Bill"]
    assert len(read["Line"]) == 1 and read["Line"][0]["Amount"] == 200
    assert read["TotalAmt"] == 200 and read["Balance"] == 200 and read["APAccountRef"]["value"]
    sparse = {"Id": bill["Id"], "SyncToken": "0", "sparse": True, "DocNumber": "B-1"}
    upd = _ok(target.post("bill", sparse))["Bill"]
    assert upd["DocNumber"] == "B-1" and upd["TotalAmt"] == 200
    gone = _ok(target.post("bill", {"Id": bill["Id"], "SyncToken": "1"}, operation="delete"))["Bill"]
    assert gone["status"] == "Deleted"
