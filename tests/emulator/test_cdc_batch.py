"""Change data capture, batch, requestid replays and injected faults."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from local.qbo_emulator import US_REALM, EmulatorServer

from .conftest import Target, sample

LINE = {"Amount": 25, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def emu_now(emulator: EmulatorServer) -> datetime:
    return datetime.fromisoformat(emulator.control.now())


def cdc(t: Target, entities: str, since: str) -> requests.Response:
    return t.get("cdc", entities=entities, changedSince=since)


def test_cdc_shape_changes_and_deleted(emulator: EmulatorServer, us: Target) -> None:
    start = emu_now(emulator) - timedelta(seconds=2)
    cust = us.post("customer", {"DisplayName": "Changed"}).json()["Customer"]
    inv = us.post("invoice", {"CustomerRef": {"value": cust["Id"]}, "Line": [LINE]}).json()["Invoice"]
    us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="delete")
    body = cdc(us, "Customer,Invoice", iso(start)).json()
    real = sample("cdc-response.json")
    assert set(body) == set(real)
    responses = body["CDCResponse"][0]["QueryResponse"]
    assert set(responses[0]) == {"Customer", "startPosition", "maxResults"}
    assert [c["DisplayName"] for c in responses[0]["Customer"]] == ["Changed"]
    deleted = responses[1]["Invoice"]
    assert len(deleted) == 1
    assert deleted[0]["status"] == "Deleted" and deleted[0]["Id"] == inv["Id"]
    # nothing changed after now
    later = cdc(us, "Customer", iso(emu_now(emulator) + timedelta(seconds=5))).json()
    assert later["CDCResponse"][0]["QueryResponse"] == [{}]


def test_cdc_refuses_more_than_30_days(emulator: EmulatorServer, us: Target) -> None:
    old = cdc(us, "Customer", iso(emu_now(emulator) - timedelta(days=31)))
    assert old.status_code == 400
    assert old.json()["Fault"]["type"] == "ValidationFault"
    ok = cdc(us, "Customer", iso(emu_now(emulator) - timedelta(days=29)))
    assert ok.status_code == 200
    unknown = cdc(us, "Custmoer", iso(emu_now(emulator)))
    assert unknown.status_code == 400 and unknown.json()["Fault"]["Error"][0]["code"] == "4001"


def test_cdc_caps_at_1000_oldest_first_and_pages_by_last_updated(
    emulator: EmulatorServer, us: Target
) -> None:
    base = emu_now(emulator).astimezone(UTC).replace(microsecond=0) - timedelta(days=2)
    emulator.control.seed(
        US_REALM,
        customers=[
            {"DisplayName": f"Bulk {i:04d}", "MetaData": {"CreateTime": iso(base + timedelta(seconds=i))}}
            for i in range(1005)
        ],
    )
    first = cdc(us, "Customer", iso(base)).json()["CDCResponse"][0]["QueryResponse"][0]
    assert first["maxResults"] == 1000 and len(first["Customer"]) == 1000
    names = [c["DisplayName"] for c in first["Customer"]]
    assert names[0] == "Bulk 0000" and names[-1] == "Bulk 0999"
    cursor = first["Customer"][-1]["MetaData"]["LastUpdatedTime"]
    rest = cdc(us, "Customer", cursor).json()["CDCResponse"][0]["QueryResponse"][0]["Customer"]
    assert [c["DisplayName"] for c in rest] == [f"Bulk {i:04d}" for i in range(999, 1005)]


def test_batch_mixed_items_like_the_sample(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Batchy"}).json()["Customer"]["Id"]
    big = {
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 4.5, "UnitPrice": 75},
    }
    sr = us.post("salesreceipt", {"CustomerRef": {"value": cust}, "Line": [big]}).json()["SalesReceipt"]
    us.post(
        "salesreceipt", {"Id": sr["Id"], "SyncToken": sr["SyncToken"], "sparse": True, "PrivateNote": "v2"}
    )
    request = sample("batch-request.json")
    request["BatchItemRequest"][2]["SalesReceipt"]["Id"] = sr["Id"]  # stale SyncToken "0"
    resp = us.post("batch", request)
    assert resp.status_code == 200
    items = resp.json()["BatchItemResponse"]
    real = sample("batch-response.json")["BatchItemResponse"]
    assert [set(i) for i in items] == [set(r) for r in real]
    assert items[0]["Vendor"]["DisplayName"] == "Boraski Family Store"
    assert items[1]["Fault"]["Error"][0]["code"] == "610"
    assert items[2]["Fault"]["Error"][0]["code"] == "5010"
    assert items[1]["Fault"] | {} == {"Error": items[1]["Fault"]["Error"], "type": "ValidationFault"}
    assert [s["TotalAmt"] for s in items[3]["QueryResponse"]["SalesReceipt"]] == [337.5]
    assert [i["bId"] for i in items] == ["bid1", "bid2", "bid3", "bid4"]


def test_batch_limits(us: Target) -> None:
    too_many = {"BatchItemRequest": [{"bId": str(i), "Query": "SELECT * FROM Item"} for i in range(31)]}
    resp = us.post("batch", too_many)
    assert resp.status_code == 400 and resp.json()["Fault"]["type"] == "ValidationFault"
    ok = us.post("batch", {"BatchItemRequest": too_many["BatchItemRequest"][:30]})
    assert ok.status_code == 200 and len(ok.json()["BatchItemResponse"]) == 30


def test_requestid_replays_original_response_without_writing(emulator: EmulatorServer, us: Target) -> None:
    rid = uuid.uuid4().hex
    first = us.post("customer", {"DisplayName": "Once"}, requestid=rid)
    second = us.post("customer", {"DisplayName": "Once"}, requestid=rid)
    assert first.status_code == second.status_code == 200
    assert first.text == second.text
    assert [c["DisplayName"] for c in emulator.control.entities(US_REALM, "Customer")] == ["Once"]
    # requestids are per company
    other = us.post("customer", {"DisplayName": "Twice"}, requestid=uuid.uuid4().hex)
    assert other.json()["Customer"]["Id"] != first.json()["Customer"]["Id"]


def test_requestid_on_batch(emulator: EmulatorServer, us: Target) -> None:
    rid = uuid.uuid4().hex
    body = {
        "BatchItemRequest": [{"bId": "a", "operation": "create", "Customer": {"DisplayName": "Batch Once"}}]
    }
    first = us.post("batch", body, requestid=rid)
    again = us.post("batch", body, requestid=rid)
    assert first.text == again.text
    assert len(emulator.control.entities(US_REALM, "Customer")) == 1


@pytest.mark.parametrize("kind", ["reset", "timeout"])
def test_lost_answer_after_write_then_retry_with_same_requestid(
    emulator: EmulatorServer, us: Target, kind: str
) -> None:
    emulator.control.inject_fault(kind, path="/customer$", method="POST", after_write=True, seconds=1.0)
    rid = uuid.uuid4().hex
    with pytest.raises(requests.exceptions.RequestException):
        requests.post(
            us.base + "customer",
            params={"requestid": rid},
            json={"DisplayName": "Lost"},
            headers=us.headers(),
            timeout=0.5,
        )
    assert len(emulator.control.entities(US_REALM, "Customer")) == 1  # QBO did write
    retry = us.post("customer", {"DisplayName": "Lost"}, requestid=rid)
    assert retry.status_code == 200 and retry.json()["Customer"]["DisplayName"] == "Lost"
    assert len(emulator.control.entities(US_REALM, "Customer")) == 1


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503), ("429", 429)])
def test_injected_failures_before_write(emulator: EmulatorServer, us: Target, kind: str, status: int) -> None:
    emulator.control.inject_fault(kind, count=2, path="/invoice", method="POST", realm=US_REALM)
    cust = us.post("customer", {"DisplayName": "Retry Me"}).json()["Customer"]["Id"]
    body = {"CustomerRef": {"value": cust}, "Line": [LINE]}
    assert [us.post("invoice", body).status_code for _ in range(3)] == [status, status, 200]
    assert len(emulator.control.entities(US_REALM, "Invoice")) == 1
    assert emulator.control.faults() == []


def test_injected_reset_before_write_writes_nothing(emulator: EmulatorServer, us: Target) -> None:
    emulator.control.inject_fault("reset", path="/customer")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(us.base + "customer", json={"DisplayName": "Never"}, headers=us.headers(), timeout=5)
    assert emulator.control.entities(US_REALM, "Customer") == []


def test_request_log_counts_and_minorversion(emulator: EmulatorServer, us: Target) -> None:
    emulator.control.clear_requests()
    us.post("customer", {"DisplayName": "Counted"})
    us.query("SELECT * FROM Customer")
    us.query("SELECT * FROM Customer")
    counts = emulator.control.request_counts()[US_REALM]
    assert counts == {"POST customer": 1, "GET query": 2}
    log = emulator.control.requests(realm=US_REALM, endpoint="GET query")
    assert [e["minorversion"] for e in log] == ["75", "75"]
    assert log[0]["query"] == "SELECT * FROM Customer" and log[0]["intuit_tid"]


@pytest.mark.parametrize(("kind", "status"), [("500", 500), ("503", 503), ("429", 429), ("timeout", 504)])
def test_calls_failed_before_write_are_logged_with_realm_and_endpoint(
    emulator: EmulatorServer, us: Target, kind: str, status: int
) -> None:
    cust = us.post("customer", {"DisplayName": "Logged"}).json()["Customer"]["Id"]
    emulator.control.inject_fault(kind, path="/invoice", method="POST", realm=US_REALM, seconds=0.1)
    emulator.control.clear_requests()
    body = {"CustomerRef": {"value": cust}, "Line": [LINE]}
    assert [us.post("invoice", body, requestid="log-1").status_code for _ in range(2)] == [status, 200]
    log = emulator.control.requests(realm=US_REALM, endpoint="POST invoice")
    assert [(e["status"], e["realm"], e["requestid"], e["minorversion"]) for e in log] == [
        (status, US_REALM, "log-1", "75"),
        (200, US_REALM, "log-1", "75"),
    ]
    assert emulator.control.request_counts() == {US_REALM: {"POST invoice": 2}}


def test_reset_before_write_is_logged_with_realm_and_endpoint(emulator: EmulatorServer, us: Target) -> None:
    emulator.control.inject_fault("reset", path="/customer", realm=US_REALM)
    emulator.control.clear_requests()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(us.base + "customer", json={"DisplayName": "Never"}, headers=us.headers(), timeout=5)
    assert emulator.control.request_counts() == {US_REALM: {"POST customer": 1}}
