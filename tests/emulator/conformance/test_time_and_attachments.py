"""Conformance: TimeActivity and Attachable (notes; no file upload) (issue 20, "the other entities a
general client uses").

Sources: D = Intuit's API reference page of each entity (developer.intuit.com/app/developer/qbo/docs/
api/accounting/all-entities/timeactivity and /attachable: required attributes); PQ = python-quickbooks
0.9.12 tests/integration (test_timeactivity.py, test_attachable.py), written against Intuit's sandbox:
the bodies they send and what they read back. Faults: 2020 = a required parameter is missing
(tests/fixtures/qbo).
"""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def _fault_code(r: Any) -> str:
    assert r.status_code == 400, r.text
    return str(r.json()["Fault"]["Error"][0]["code"])


def test_time_activity_of_an_employee_create_and_full_update(target: Target) -> None:
    """PQ test_timeactivity.py: NameOf Employee, EmployeeRef, Description, StartTime / EndTime one hour
    apart at -07:00 and CostRate 50 read back; a full update of Description and CostRate 75 reads back.
    D: NameOf and the matching EmployeeRef are required (2020)."""
    emp = _ok(target.post("employee", {"GivenName": "Tim", "FamilyName": target.unique("Sheet")}))["Employee"]
    body: dict[str, Any] = {"NameOf": "Employee", "Description": "Test description", "CostRate": 50.0,
                            "StartTime": "2016-07-22T10:00:00-07:00", "EndTime": "2016-07-22T11:00:00-07:00"}
    assert _fault_code(target.post("timeactivity", body)) == "2020"
    body["EmployeeRef"] = {"value": emp["Id"], "type": "Employee"}
    made = _ok(target.post("timeactivity", body))["TimeActivity"]
    read = _ok(target.get(f"timeactivity/{made['Id']}"))["TimeActivity"]
    assert (read["NameOf"], read["Description"], read["CostRate"]) == ("Employee", "Test description", 50)
    assert read["EmployeeRef"]["value"] == emp["Id"]
    read["Description"], read["CostRate"] = "Updated test description", 75.0
    _ok(target.post("timeactivity", read))
    again = _ok(target.get(f"timeactivity/{made['Id']}"))["TimeActivity"]
    assert (again["Description"], again["CostRate"]) == ("Updated test description", 75)


def test_attachable_note_on_a_vendor(target: Target) -> None:
    """PQ test_attachable.py: a Note attached to a vendor (AttachableRef[].EntityRef) reads back with
    the vendor's Id and the note; updating the note reads back the new note. D: notes are created
    with the create attachable endpoint; E: an EntityRef to an object that does not exist is a 400
    (the invalid-reference fault the emulator gives every ref; the code QBO answers is not captured)."""
    vendor = _ok(target.post("vendor", {"DisplayName": target.unique("Vendor")}))["Vendor"]
    ref = {"EntityRef": {"type": "Vendor", "value": vendor["Id"]}}
    made = _ok(target.post("attachable", {"AttachableRef": [ref], "Note": "Test note"}))["Attachable"]
    read = _ok(target.get(f"attachable/{made['Id']}"))["Attachable"]
    assert read["AttachableRef"][0]["EntityRef"]["value"] == vendor["Id"] and read["Note"] == "Test note"
    read["Note"] = "Note updated"
    _ok(target.post("attachable", read))
    assert _ok(target.get(f"attachable/{made['Id']}"))["Attachable"]["Note"] == "Note updated"
    missing = {"EntityRef": {"type": "Vendor", "value": "999999"}}
    assert target.post("attachable", {"AttachableRef": [missing], "Note": "x"}).status_code == 400


def test_bad_numbers_and_times_get_a_400(target: Target) -> None:
    """Bad input is a 400 with a reason, never a 500 (the module fixture counts unexpected errors):
    NaN amounts, a non-number CostRate, an EndTime without the StartTime's offset (E: QBO's exact
    answers are not captured)."""
    bank = _ok(target.post("account", {"Name": target.unique("Bank"), "AccountType": "Bank"}))["Account"]
    other = _ok(target.post("account", {"Name": target.unique("Bank"), "AccountType": "Bank"}))["Account"]
    nan = {"Amount": "NaN", "FromAccountRef": {"value": bank["Id"]}, "ToAccountRef": {"value": other["Id"]}}
    assert target.post("transfer", nan).status_code == 400
    emp = _ok(target.post("employee", {"GivenName": "Bad", "FamilyName": target.unique("Input")}))["Employee"]
    base = {"NameOf": "Employee", "EmployeeRef": {"value": emp["Id"]}}
    assert target.post("timeactivity", base | {"Hours": 1, "CostRate": "NaN"}).status_code == 400
    mixed = {"StartTime": "2016-07-22T10:00:00-07:00", "EndTime": "2016-07-22T11:00:00"}
    assert target.post("timeactivity", base | mixed).status_code == 400
