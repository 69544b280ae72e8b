"""Signed webhooks delivered to a tiny receiver, verified with an independent HMAC computation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.qbo_emulator import GB_REALM, US_REALM, EmulatorServer
from local.qbo_emulator.state import EmulatorConfig
from local.qbo_emulator.webhooks import sign
from tests.fixtures import QBO_SAMPLES

from .conftest import sample

VERIFIER = "test-verifier-0f9e"


class Receiver:
    """Records every POST; answers with the next status of ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/qbo"

    def wait(self, n: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            return list(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def connect(
    emulator: EmulatorServer, receiver: Receiver, fmt: str, realms: tuple[str, ...] = (US_REALM,)
) -> None:
    ctl = emulator.control
    ctl.register_app(
        "webhook-app",
        client_secret="s3cret",
        redirect_uris=["http://localhost/cb"],
        webhook_url=receiver.url,
        verifier_token=VERIFIER,
        webhook_format=fmt,
    )
    ctl.config(webhook_batch_window_seconds=0.1, webhook_retry_schedule=[0.2, 0.2])
    for realm in realms:
        ctl.issue_tokens(realm, client_id="webhook-app")


def independent_signature(body: bytes, token: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


def test_signature_matches_intuits_vectors() -> None:
    for vector in sample("webhook-signature-vectors.json"):
        payload = (QBO_SAMPLES / vector["payload_file"]).read_bytes()
        assert payload == vector["payload"].encode()
        assert sign(payload, vector["verifier_token"]) == vector["intuit_signature"]
        if "negative_case" in vector:
            assert sign(payload, vector["verifier_token"]) != vector["negative_case"]["intuit_signature"]


def test_legacy_notification_signed_and_shaped(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    customer = emulator.control.create_customer(US_REALM, DisplayName="Hooked")
    got = receiver.wait(1)
    assert len(got) == 1
    headers, body = got[0]
    assert headers["intuit-signature"] == independent_signature(body, VERIFIER)
    payload = json.loads(body)
    real = sample("webhook-legacy.json")
    assert set(payload) == set(real)
    note = payload["eventNotifications"][0]
    assert set(note) == set(real["eventNotifications"][0]) and note["realmId"] == US_REALM
    entity = note["dataChangeEvent"]["entities"][0]
    assert set(entity) == set(real["eventNotifications"][0]["dataChangeEvent"]["entities"][0])
    assert (entity["name"], entity["id"], entity["operation"]) == ("Customer", customer["Id"], "Create")


def test_cloudevents_array_for_payment_and_invoice_update(
    emulator: EmulatorServer, receiver: Receiver
) -> None:
    connect(emulator, receiver, "cloudevents")
    cust = emulator.control.seed(US_REALM, customers=[{"DisplayName": "Payer"}])["customers"][0]
    inv = emulator.control.seed(
        US_REALM,
        invoices=[
            {
                "CustomerRef": {"value": cust},
                "Line": [
                    {
                        "Amount": 40,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            }
        ],
    )["invoices"][0]
    pay = emulator.control.pay_invoice(US_REALM, inv)
    headers, body = receiver.wait(1)[0]
    assert headers["intuit-signature"] == independent_signature(body, VERIFIER)
    events = json.loads(body)
    assert isinstance(events, list)  # CloudEvents: top-level array
    real = sample("webhook-cloudevents.json")[0]
    assert all(set(e) == set(real) for e in events)
    kinds = {(e["type"], e["intuitentityid"]) for e in events}
    assert ("qbo.payment.created.v1", pay["Id"]) in kinds and ("qbo.invoice.updated.v1", inv) in kinds
    assert {e["intuitaccountid"] for e in events} == {US_REALM}


def test_retry_on_non_200_then_delivered(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    receiver.statuses = [500, 503]
    emulator.control.create_customer(US_REALM, DisplayName="Persistent")
    got = receiver.wait(3)
    assert len(got) == 3 and got[0][1] == got[2][1]
    assert emulator.control.wait_webhooks(5)
    delivery = emulator.control.webhook_deliveries()[0]
    assert [a.get("status") for a in delivery["attempts"]] == [500, 503, 200] and delivery["delivered"]


def test_defaults_are_intuits_production_aggregation_and_retry_schedule() -> None:
    config = EmulatorConfig()
    assert config.webhook_batch_window_seconds == 60.0  # a production app aggregates for a minute
    assert config.webhook_retry_schedule == [0.0, 10.0, 20.0, 30.0, 300.0, 1200.0, 7200.0, 14400.0, 21600.0]
    assert config.webhook_retry_repeat_seconds == 21600.0  # "then every 6 hours"


def test_a_minute_of_changes_arrives_as_one_delivery(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    emulator.control.config(webhook_batch_window_seconds=60.0, time_scale=240.0)  # a minute in 0.25 s
    try:
        first = emulator.control.create_customer(US_REALM, DisplayName="Minute One")
        second = emulator.control.create_customer(US_REALM, DisplayName="Minute Two")
        got = receiver.wait(1)
        assert emulator.control.wait_webhooks(5)
    finally:
        emulator.control.config(time_scale=1.0)
    assert len(receiver.received) == 1
    entities = json.loads(got[0][1])["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [e["id"] for e in entities] == [first["Id"], second["Id"]]


def test_a_failed_delivery_stalls_the_apps_later_ones_until_acknowledged(
    emulator: EmulatorServer, receiver: Receiver
) -> None:
    connect(emulator, receiver, "legacy")
    emulator.control.config(webhook_retry_schedule=[1.0])
    receiver.statuses = [500]
    emulator.control.create_customer(US_REALM, DisplayName="Fails First")
    assert len(receiver.wait(1)) == 1  # answered 500: its retry is due in a second
    emulator.control.create_customer(US_REALM, DisplayName="Waits Behind")
    got = receiver.wait(3)
    assert emulator.control.wait_webhooks(5)

    assert got[1][1] == got[0][1]  # the failed delivery again, before anything newer
    assert b"Waits" not in got[0][1] and len(got) == 3
    first, second = emulator.control.webhook_deliveries()
    assert [a.get("status") for a in first["attempts"]] == [500, 200]
    assert second["stalled_behind"] == first["id"] and second["delivered"]


def test_an_app_wide_outage_holds_deliveries_until_it_ends(
    emulator: EmulatorServer, receiver: Receiver
) -> None:
    connect(emulator, receiver, "legacy")
    emulator.control.webhook_switches(outage=True)
    try:
        customer = emulator.control.create_customer(US_REALM, DisplayName="During Outage")
        assert emulator.control.wait_webhooks(0.5) is False  # held, not lost
        assert receiver.received == []
    finally:
        emulator.control.webhook_switches(outage=False)
    got = receiver.wait(1)
    assert emulator.control.wait_webhooks(5)
    entity = json.loads(got[0][1])["eventNotifications"][0]["dataChangeEvent"]["entities"][0]
    assert entity["id"] == customer["Id"]


def test_only_connected_companies_notify(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy", realms=(GB_REALM,))
    emulator.control.create_customer(US_REALM, DisplayName="Not for you")
    emulator.control.create_customer(GB_REALM, DisplayName="For you")
    got = receiver.wait(1)
    time.sleep(0.3)
    realms = [n["realmId"] for _, b in receiver.received for n in json.loads(b)["eventNotifications"]]
    assert realms == [GB_REALM] and len(got) == 1


def test_drop_and_duplicate_switches(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    emulator.control.webhook_switches(drop_next=1)
    emulator.control.create_customer(US_REALM, DisplayName="Dropped")
    assert emulator.control.wait_webhooks(5)
    time.sleep(0.2)
    assert receiver.received == []
    emulator.control.webhook_switches(duplicate_next=1)
    emulator.control.create_customer(US_REALM, DisplayName="Twice")
    got = receiver.wait(2)
    assert len(got) == 2 and got[0][1] == got[1][1]


def test_batched_window_and_reorder(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    emulator.control.config(webhook_batch_window_seconds=0.5)
    emulator.control.webhook_switches(reorder=True)
    a = emulator.control.create_customer(US_REALM, DisplayName="First")
    b = emulator.control.create_customer(US_REALM, DisplayName="Second")
    got = receiver.wait(1)
    entities = json.loads(got[0][1])["eventNotifications"][0]["dataChangeEvent"]["entities"]
    assert [e["id"] for e in entities] == [b["Id"], a["Id"]]  # one batch, reversed


def test_api_writes_notify_too(emulator: EmulatorServer, receiver: Receiver) -> None:
    connect(emulator, receiver, "legacy")
    tokens = emulator.control.issue_tokens(US_REALM)
    import requests

    created = requests.post(
        f"{emulator.api_base}{US_REALM}/customer",
        json={"DisplayName": "Via API"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    body = json.loads(receiver.wait(1)[0][1])
    assert body["eventNotifications"][0]["dataChangeEvent"]["entities"][0]["id"] == created["Customer"]["Id"]
