"""Every fault code the client must handle, answered in Intuit's shapes.

Client-facing: these run against the emulator and, when configured, a real sandbox company (``target``).
"""

from __future__ import annotations

import pytest
import requests

from local.qbo_emulator import CA_REALM, EmulatorServer

from .conftest import Target, realm_target, sample


def fault(resp: requests.Response) -> dict[str, str]:
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body["Fault"]) == {"Error", "type"}
    return dict(body["Fault"]["Error"][0]) | {"type": body["Fault"]["type"]}


def test_401_lowercase_fault_with_www_authenticate(target: Target) -> None:
    resp = target.get(f"companyinfo/{target.realm}", token="not-a-token")
    assert resp.status_code == 401
    body = resp.json()
    assert set(body) == set(sample("fault-401-3200.json"))
    err = body["fault"]["error"][0]
    assert err["code"] == "3200" and body["fault"]["type"] == "AUTHENTICATION"
    assert "AuthenticationFailed" in err["message"]
    assert "Bearer" in resp.headers["WWW-Authenticate"]


def test_5010_stale_synctoken(target: Target) -> None:
    created = target.post("customer", {"DisplayName": target.unique("Stale")}).json()["Customer"]
    ok = target.post(
        "customer",
        {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True, "CompanyName": "First"},
    )
    assert ok.status_code == 200 and ok.json()["Customer"]["SyncToken"] == "1"
    stale = target.post(
        "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "CompanyName": "Late"}
    )
    assert stale.status_code == 400
    err = fault(stale)
    assert (
        err["code"] == "5010" and err["Message"] == "Stale Object Error" and err["type"] == "ValidationFault"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [("Customer", "Vendor"), ("Vendor", "Employee"), ("Employee", "Customer"), ("Customer", "Customer")],
)
def test_6240_display_name_unique_across_names(target: Target, first: str, second: str) -> None:
    name = target.unique("Clash")
    given, family = name.split()

    def body(entity: str) -> dict[str, str]:
        if entity == "Employee":
            return {"GivenName": given, "FamilyName": family}
        return {"DisplayName": name}

    assert target.post(first.lower(), body(first)).status_code == 200
    resp = target.post(second.lower(), body(second))
    assert resp.status_code == 400
    err = fault(resp)
    real = sample("fault-6240-duplicate-name.json")["Fault"]["Error"][0]
    assert err["code"] == "6240" and err["Message"] == real["Message"]
    assert "element" not in err  # as captured


def test_6240_inactive_customer_still_holds_the_name(target: Target) -> None:
    name = target.unique("Sleeping")
    cust = target.post("customer", {"DisplayName": name}).json()["Customer"]
    off = target.post(
        "customer", {"Id": cust["Id"], "SyncToken": cust["SyncToken"], "sparse": True, "Active": False}
    )
    assert off.status_code == 200 and off.json()["Customer"]["Active"] is False
    assert fault(target.post("customer", {"DisplayName": name}))["code"] == "6240"
    # name comparison ignores case, as QBO does
    assert fault(target.post("vendor", {"DisplayName": name.upper()}))["code"] == "6240"


def test_610_object_not_found_and_2030_invalid_id(target: Target) -> None:
    missing = target.get("invoice/987654321")
    assert missing.status_code == 400
    err = fault(missing)
    assert err["code"] == "610" and err["Message"] == "Object Not Found"
    bad = target.get("customer/1.5")
    assert bad.status_code == 400
    assert bad.json() == sample("fault-2030-invalid-id.json")  # same text, element "Id", no time


def test_2010_unknown_property(target: Target) -> None:
    resp = target.post("invoice", {"BadJson": True})
    assert resp.status_code == 400
    err = fault(resp)
    assert err["code"] == "2010" and err["Message"] == "Request has invalid or unsupported property"
    assert 'Unrecognized field "BadJson"' in err["Detail"]


def test_malformed_json_is_a_400_fault(target: Target) -> None:
    resp = target.post("customer", '{"DisplayName": "half')
    assert resp.status_code == 400
    assert fault(resp)["code"] == "2010"
    empty = target.post("customer", "")
    assert empty.status_code == 400 and fault(empty)["type"] == "ValidationFault"


def test_4001_unknown_entity_and_4000_syntax(target: Target) -> None:
    resp = target.query("SELECT * FROM Custmoer")
    assert resp.status_code == 400
    assert (
        resp.json()["Fault"]["Error"][0] | {} == sample("fault-4001-invalid-query.json")["Fault"]["Error"][0]
    )
    syntax = target.query("SELECT * FROM Customer WHERE DisplayName = 'Cutlery 'R Us'")
    assert syntax.status_code == 400
    err = fault(syntax)
    assert err["code"] == "4000" and err["Detail"].startswith("QueryParserError: Encountered")


def test_500_unsupported_operation_for_bad_paths(target: Target) -> None:
    resp = target.get("customer/1/5")
    assert resp.status_code == 400
    err = fault(resp)
    real = sample("fault-500-unsupported-operation.json")["Fault"]["Error"][0]
    assert err["code"] == "500" and err["Message"] == real["Message"]
    assert err["Detail"].startswith(
        f"Operation Could not find resource for relative : /v3/company/{target.realm}/"
    )
    unknown = target.post("frobnicator", {"Name": "x"})
    assert unknown.status_code == 400 and fault(unknown)["code"] == "500"


def test_missing_required_fields_are_400(target: Target) -> None:
    resp = target.post(
        "invoice",
        {
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ]
        },
    )
    assert resp.status_code == 400 and fault(resp)["type"] == "ValidationFault"
    item = target.post("item", {"Name": target.unique("NoAccount"), "Type": "Service"})
    assert item.status_code == 400 and fault(item)["code"] == "2020"


def test_6240_item_names_unique(target: Target) -> None:
    acct = target.query("SELECT * FROM Account WHERE AccountType = 'Income' MAXRESULTS 1").json()
    ref = {"value": acct["QueryResponse"]["Account"][0]["Id"]}
    name = target.unique("Widget")
    assert target.post("item", {"Name": name, "Type": "Service", "IncomeAccountRef": ref}).status_code == 200
    resp = target.post("item", {"Name": name, "Type": "Service", "IncomeAccountRef": ref})
    assert resp.status_code == 400 and fault(resp)["code"] == "6240"


def test_620_payment_for_another_customers_invoice(target: Target) -> None:
    a = target.post("customer", {"DisplayName": target.unique("Payer A")}).json()["Customer"]
    b = target.post("customer", {"DisplayName": target.unique("Payer B")}).json()["Customer"]
    inv = target.post(
        "invoice",
        {
            "CustomerRef": {"value": a["Id"]},
            "Line": [
                {
                    "Amount": 50,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ],
        },
    )
    inv_id = inv.json()["Invoice"]["Id"]
    resp = target.post(
        "payment",
        {
            "CustomerRef": {"value": b["Id"]},
            "TotalAmt": 50,
            "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]}],
        },
    )
    assert resp.status_code == 400
    assert fault(resp)["code"] == "620"


def test_6000_non_us_line_without_tax_code(emulator: EmulatorServer) -> None:
    ca = realm_target(emulator, CA_REALM, "CA")
    cust = ca.post("customer", {"DisplayName": "Tax Less"}).json()["Customer"]
    resp = ca.post(
        "invoice",
        {
            "CustomerRef": {"value": cust["Id"]},
            "Line": [
                {
                    "Amount": 95,
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                }
            ],
        },
    )
    assert resp.status_code == 400
    err = fault(resp)
    assert err["code"] == "6000"
    assert err["Message"] == "A business validation error has occurred while processing your request"
    assert (
        err["Detail"]
        == "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save."
    )


def test_429_is_xml_even_when_json_was_asked() -> None:
    srv = EmulatorServer.start(port=0, rate_limits=True, per_second=3, retry_after=60)
    try:
        tokens = srv.control.issue_tokens("9341450000000001")
        url = f"{srv.api_base}9341450000000001/companyinfo/9341450000000001"
        headers = {"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"}
        statuses = [requests.get(url, headers=headers, timeout=10) for _ in range(4)]
        assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
        throttled = statuses[3]
        assert throttled.status_code == 429
        assert throttled.headers["Content-Type"].startswith("application/xml")
        assert throttled.headers["Retry-After"] == "60"
        text = throttled.text
        real = sample("throttle-429.xml")
        for fragment in (
            '<Fault type="SERVICE">',
            '<Error code="3001">',
            "<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>",
            "<Detail>The request limit was reached.  Try again later</Detail>",
        ):
            assert fragment in real and fragment in text
        assert throttled.headers["intuit_tid"]
    finally:
        srv.stop()


def test_every_answer_has_a_unique_intuit_tid(target: Target) -> None:
    tids = {target.get(f"companyinfo/{target.realm}").headers["intuit_tid"] for _ in range(3)}
    tids.add(target.get("customer/1.5").headers["intuit_tid"])
    assert len(tids) == 4 and all(t for t in tids)
