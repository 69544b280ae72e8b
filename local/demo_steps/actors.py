"""The demo's actors, each using only a public surface of the running stack.

- :class:`KyriosUi`: the Kyrios settings page, calling the front door with a user's token.
- :class:`QboUser`: a QuickBooks user, on the emulator's consent page and through its control API.
- :class:`KyriosCore`: Kyrios core, putting domain events on the bus.
- :class:`BusListener`: Kyrios core's ear: a queue subscribed to ``kyrios.quickbooks`` events.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from local.qbo_emulator import EmulatorControl

BUNDLE_SOURCE = "kyrios.quickbooks"


class KyriosUi:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, f"{self.api_url}{path}", json=body, timeout=60)

    def status(self) -> dict[str, Any]:
        answer = self.call("GET", "/integrations/quickbooks")
        answer.raise_for_status()
        return dict(answer.json())

    def connect(self) -> str:
        answer = self.call("POST", "/integrations/quickbooks/connect")
        answer.raise_for_status()
        return str(answer.json()["authorize_url"])

    def finish_connect(self, landing_url: str) -> dict[str, str]:
        """What the settings page does on the page Intuit's redirect lands on: ``?quickbooks=approved&ref=…``
        is completed with this user's token. The outcome as the page tells it: ``{"quickbooks": "connected"}``
        or ``{"quickbooks": "error", "reason": …}``."""
        returned = query_of(landing_url)
        if returned.get("quickbooks") != "approved":
            return returned
        ref = returned.get("ref", "")
        answer = self.call("POST", "/integrations/quickbooks/connect/complete", {"ref": ref})
        if answer.status_code == 200:
            return {"quickbooks": "connected"}
        return {"quickbooks": "error", "reason": str(answer.json().get("error"))}

    def settings(self, **changes: bool) -> requests.Response:
        return self.call("PATCH", "/integrations/quickbooks/settings", changes)

    def disconnect(self) -> requests.Response:
        return self.call("DELETE", "/integrations/quickbooks")


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values.get("name", "")] = values.get("value", "")
        elif tag == "option":
            self.options.append(values.get("value", ""))


class QboUser:
    """A person at a QuickBooks company."""

    def __init__(self, control: EmulatorControl, realm_id: str) -> None:
        self.control = control
        self.realm_id = realm_id

    def approve(self, authorize_url: str) -> requests.Response:
        """Open the consent page, pick this company, press Connect; follow the redirects to Kyrios."""
        with requests.Session() as browser:
            page = browser.get(authorize_url, timeout=30)
            page.raise_for_status()
            form = _FormReader()
            form.feed(page.text)
            if self.realm_id not in form.options:
                raise RuntimeError(f"company {self.realm_id} is not offered on the consent page")
            data = {**form.fields, "realm": self.realm_id, "decision": "approve"}
            return browser.post(urljoin(page.url, form.action), data=data, timeout=60, allow_redirects=True)

    def create_customer(self, name: str, email: str) -> dict[str, Any]:
        given, _, family = name.partition(" ")
        return self.control.create_customer(
            self.realm_id,
            DisplayName=name,
            GivenName=given,
            FamilyName=family,
            PrimaryEmailAddr={"Address": email},
        )

    def create_invoice(self, customer_id: str, amount: str, doc_number: str) -> dict[str, Any]:
        return self.control.user_action(
            self.realm_id,
            "Invoice",
            "create",
            {
                "CustomerRef": {"value": customer_id},
                "DocNumber": doc_number,
                "Line": [
                    {
                        "Amount": amount,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount},
                    }
                ],
            },
        )

    def pay(self, invoice_id: str) -> dict[str, Any]:
        return self.control.pay_invoice(self.realm_id, invoice_id)

    def entities(self, entity: str) -> list[dict[str, Any]]:
        return self.control.entities(self.realm_id, entity)


class KyriosCore:
    """Puts Kyrios domain events on the bus, as Kyrios core does."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self.events = events_client
        self.bus_name = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        answer = self.events.put_events(
            Entries=[
                {
                    "Source": "kyrios.core",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"the bus refused the event: {answer['Entries']}")


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex[:20]}"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class BusListener:
    """Everything the bundle publishes, read from a queue subscribed to ``kyrios.quickbooks`` events."""

    def __init__(self, sqs: Any, events_client: Any, bus_name: str) -> None:
        self.sqs = sqs
        self.events = events_client
        self.bus_name = bus_name
        suffix = uuid.uuid4().hex[:8]
        self.rule = f"demo-kyrios-listener-{suffix}"
        self.queue_url = sqs.create_queue(QueueName=f"demo-kyrios-listener-{suffix}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events_client.put_rule(
            Name=self.rule,
            EventBusName=bus_name,
            State="ENABLED",
            EventPattern=json.dumps({"source": [BUNDLE_SOURCE]}),
        )
        events_client.put_targets(Rule=self.rule, EventBusName=bus_name, Targets=[{"Id": "demo", "Arn": arn}])
        self.received: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-bus-listener", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                answer = self.sqs.receive_message(
                    QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                )
            except Exception:  # the stack is stopping
                if self._stop.wait(0.2):
                    return
                continue
            for message in answer.get("Messages", []):
                with self._lock:
                    self.received.append((time.monotonic(), json.loads(message["Body"])))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def events_of(
        self, detail_type: str, where: Callable[[dict[str, Any]], bool] = lambda _d: True, since: float = 0.0
    ) -> list[dict[str, Any]]:
        """Details of the events of a type received after ``since`` (monotonic time) matching ``where``."""
        with self._lock:
            return [
                event["detail"]
                for at, event in self.received
                if at >= since and event.get("detail-type") == detail_type and where(event["detail"])
            ]

    def wait_for(
        self,
        detail_type: str,
        where: Callable[[dict[str, Any]], bool] = lambda _d: True,
        timeout: float = 20.0,
        since: float = 0.0,
    ) -> tuple[dict[str, Any] | None, float]:
        """The first matching event's detail and when it arrived (monotonic), or (None, now)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for at, event in self.received:
                    if at >= since and event.get("detail-type") == detail_type and where(event["detail"]):
                        return event["detail"], at
            if time.monotonic() > deadline:
                return None, time.monotonic()
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
