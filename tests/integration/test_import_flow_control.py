"""Historical import (issue 15 §4): a cancel stops publishing, progress moves inside a page, and the
QBO queries stay at the floor. Same stack as ``test_import.py`` (its fixtures and helpers): the API
handler, moto executing the real ASL, the QBO emulator, the local bus.

To act at an exact point of a page, a :class:`PublishGate` is subscribed to the bus as an EventBridge
API destination: moto delivers each matching event to it by HTTP *inside* PutEvents, so holding the
N-th delivery holds the publishing step right after its N-th ``invoice.imported`` event, deterministically.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.qbo_emulator import EmulatorServer
from local.stepfunctions import LocalStepFunctions
from tests.integration import test_import as base
from tests.integration.test_import import (
    BusLog,
    by_type,
    call_api,
    progress,
    query_calls,
    seed_books,
    spread,
    start,
    wait_finished,
)

# The import tests' fixtures (module-scoped ones get their own instance in this module).
emulator, fast_event_delivery, sfn = base.emulator, base.fast_event_delivery, base.sfn
connected, bus = base.connected, base.bus

HOLD_LIMIT = 60.0  # a forgotten release must not hang the run


class PublishGate:
    """Counts the ``invoice.imported`` events of one account as the bus delivers them, and holds the
    delivery of the chosen ones until :meth:`release` (the publishing step waits inside PutEvents)."""

    def __init__(self, resources: Any, account_id: str, hold_at: set[int]) -> None:
        import boto3

        self.hold_at = hold_at
        self.delivered = 0
        self._lock = threading.Lock()
        self._held = threading.Event()
        self._go = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                with gate._lock:
                    gate.delivered += 1
                    hold = gate.delivered in gate.hold_at
                if hold:
                    gate._go.clear()
                    gate._held.set()
                    gate._go.wait(HOLD_LIMIT)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        suffix = uuid.uuid4().hex[:10]
        self.events = boto3.client("events")
        self.bus, self.rule = resources.event_bus_name, f"test-import-gate-{suffix}"
        connection = self.events.create_connection(
            Name=f"gate-{suffix}", AuthorizationType="API_KEY",
            AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-gate", "ApiKeyValue": "local"}},
        )
        destination = self.events.create_api_destination(
            Name=f"gate-{suffix}", ConnectionArn=connection["ConnectionArn"], HttpMethod="POST",
            InvocationEndpoint=f"http://127.0.0.1:{self.server.server_address[1]}/delivered",
        )
        self.events.put_rule(
            Name=self.rule, EventBusName=self.bus, State="ENABLED",
            EventPattern=json.dumps({
                "source": ["kyrios.quickbooks"], "detail-type": ["invoice.imported"],
                "detail": {"account_id": [account_id]},
            }),
        )
        self.events.put_targets(Rule=self.rule, EventBusName=self.bus, Targets=[{
            "Id": "gate", "Arn": destination["ApiDestinationArn"],
            "RoleArn": "arn:aws:iam::123456789012:role/gate",
        }])

    def wait_held(self, timeout: float = 120) -> int:
        """Until a chosen delivery is being held; how many events were delivered by then."""
        assert self._held.wait(timeout), f"no held delivery; {self.delivered} delivered"
        self._held.clear()
        return self.delivered

    def release(self) -> None:
        self._go.set()

    def close(self) -> None:
        self.hold_at = set()
        self._go.set()
        self.events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["gate"])
        self.events.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gate_factory(local_aws: Any) -> Iterator[Any]:
    saved = os.environ.get("MOTO_EVENTS_INVOKE_HTTP")
    os.environ["MOTO_EVENTS_INVOKE_HTTP"] = "true"  # the in-process moto server reads it per delivery
    gates: list[PublishGate] = []

    def make(account_id: str, hold_at: set[int]) -> PublishGate:
        gates.append(PublishGate(local_aws, account_id, hold_at))
        return gates[-1]

    try:
        yield make
    finally:
        for gate in gates:
            gate.close()
        if saved is None:
            os.environ.pop("MOTO_EVENTS_INVOKE_HTTP", None)
        else:
            os.environ["MOTO_EVENTS_INVOKE_HTTP"] = saved


def customer_ids_asked(calls: list[dict[str, Any]]) -> list[str]:
    """Every customer id named in the ``Id IN (...)`` of the customer queries, repeats kept."""
    ids: list[str] = []
    for call in calls:
        text = call["query"] or ""
        if "from customer" in text.lower():
            ids += re.findall(r"'(\d+)'", text.split(" IN ", 1)[1].split(")", 1)[0])
    return ids


# ---------------------------------------------------------------------------- cancel
def test_cancel_mid_page_stops_publishing_and_the_figures_match_the_bus(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog,
    gate_factory: Any,
) -> None:
    books = seed_books(emulator, realm_id, spread(3000), customers=30)
    gate = gate_factory(connected, {1450})  # halfway through the second page
    job_id = start(connected)

    delivered_at_cancel = gate.wait_held()
    status, body = call_api("DELETE", f"/integrations/quickbooks/imports/{job_id}", connected)
    queries_at_cancel = len(query_calls(emulator, realm_id))
    gate.release()

    assert status == 200, body
    assert body["state"] == "cancelled"
    final = wait_finished(sfn, connected, job_id)
    events = by_type(bus.take(at_least=delivered_at_cancel))
    imported = events["invoice.imported"]
    # Publishing stops at the next check (every 100 invoices), not at the end of the 1,000-invoice page.
    assert delivered_at_cancel == 1450
    assert 1450 <= len(imported) <= 1450 + 100, len(imported)
    assert Counter(e["qbo_invoice_id"] for e in imported) == Counter(
        {i: 1 for i in books["invoice_ids"][: len(imported)]}
    )
    assert len(query_calls(emulator, realm_id)) == queries_at_cancel  # no QBO read after the cancel
    # The job's figures are what happened: exactly the events on the bus.
    assert final["state"] == "cancelled"
    assert final["processed"] == len(imported)
    assert final["summary"]["published"] == len(imported)
    assert final["summary"]["paid"] == sum(e["paid_state"] == "paid" for e in imported)
    assert final["summary"]["review_requests_sent"] == len(events.get("review.requested", []))
    assert final["percent"] == len(imported) * 100 // 3000
    assert bus.take() == []


# ---------------------------------------------------------------------------- progress
def test_progress_moves_every_100_invoices_or_2_seconds_inside_a_page(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog,
    gate_factory: Any,
) -> None:
    import time

    seed_books(emulator, realm_id, spread(2500), customers=20)
    gate = gate_factory(connected, {450, 1405, 1425})
    job_id = start(connected)

    seen: list[dict[str, Any]] = []
    for hold in (450, 1405, 1425):
        assert gate.wait_held() == hold
        seen.append(progress(connected, job_id))
        if hold == 1405:
            time.sleep(2.2)  # a slow PutEvents: more than 2 s without a progress update
        gate.release()
    final = wait_finished(sfn, connected, job_id)

    # Held at event 450 (first page): at least the update after invoice 400 is visible (a slow machine
    # may add one after a batch of 10 that took over 2 s), with its figures.
    assert seen[0]["state"] == "running"
    assert 400 <= seen[0]["processed"] < 450
    assert seen[0]["total"] == 2500 and seen[0]["percent"] == seen[0]["processed"] * 100 // 2500
    assert seen[0]["summary"]["published"] == seen[0]["processed"]
    # Held at 1405 (second page): the update after invoice 1400; batch 1401-1410 is in flight.
    assert seen[1]["processed"] == 1400
    # That batch took over 2 s: its end was recorded although 100 invoices had not passed.
    assert 1410 <= seen[2]["processed"] < 1425
    assert final["state"] == "succeeded"
    assert (final["processed"], final["percent"], final["summary"]["published"]) == (2500, 100, 2500)
    assert len(by_type(bus.take(at_least=2500))["invoice.imported"]) == 2500


# ---------------------------------------------------------------------------- QBO queries
def test_invoices_carrying_name_and_bill_email_cost_no_customer_query(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    n = 2500
    books = seed_books(emulator, realm_id, spread(n), customers=40, bill_email=True)
    emulator.control.clear_requests()

    final = wait_finished(sfn, connected, start(connected, reviews=False))

    assert final["state"] == "succeeded" and final["summary"]["published"] == n
    calls = query_calls(emulator, realm_id)
    assert len(calls) <= math.ceil(n / 1000) + 1, [c["query"] for c in calls]
    assert customer_ids_asked(calls) == []
    customers = {c["Id"]: c for c in emulator.control.entities(realm_id, "Customer")}
    imported = by_type(bus.take(at_least=n))["invoice.imported"]
    assert len(imported) == n
    for event in imported:
        customer = customers[books["customer_of"][event["qbo_invoice_id"]]]
        assert event["customer"] == {
            "qbo_customer_id": customer["Id"],
            "display_name": customer["DisplayName"],
            "email": customer["PrimaryEmailAddr"]["Address"],
        }
