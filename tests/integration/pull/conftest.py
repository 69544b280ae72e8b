"""Fixtures for QBO → Kyrios tests: webhooks, the contact poller, review requests.

Everything runs for real on 127.0.0.1: local AWS (``local_aws``), the QBO emulator in-process, and a
tiny HTTP relay that the emulator's signed webhooks are sent to; the relay turns each POST into an API
Gateway HTTP API v2 event for ``functions/webhook/app.lambda_handler`` (as API Gateway would) and
answers with the handler's response. Poll nudges are read from the real FIFO poll queue and handed to
``functions/contact_poller/app.lambda_handler`` as SQS records; published events are read back from
the bus through ``bus_events_queue``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from local.qbo_emulator import DEFAULT_CLIENT_ID, DEFAULT_VERIFIER_TOKEN, EmulatorServer
from tests.conftest import bundle_on_emulator

from .support import Bus, Company, PollQueue, Relay, call_webhook


@pytest.fixture(scope="module")
def qbo(local_aws: Any) -> Iterator[EmulatorServer]:
    """The emulator, with the bundle's settings and Intuit app secret pointing at it."""
    server = EmulatorServer.start(
        port=0,
        time_scale=1.0,
        rate_limits=False,
        default_seed="minimal",
        webhook_batch_window_seconds=0.5,  # production aggregates for a minute; tests wait 5 s at most
    )
    try:
        with bundle_on_emulator(server):
            yield server
    finally:
        server.stop()


@pytest.fixture
def ctl(qbo: EmulatorServer) -> Any:
    qbo.control.clear_faults()
    qbo.control.webhook_switches(enabled=True, drop_next=0, duplicate_next=0, delay_seconds=0, reorder=False)
    return qbo.control


# ------------------------------------------------------------------------------------ connecting


@pytest.fixture
def connect_company(ctl: Any) -> Callable[..., Company]:
    """Create a company in the emulator and connect it through the connect engineer's code path."""
    from kyrios_qbo import connect_flow
    from kyrios_qbo.config import get_settings

    def _connect(account_id: str, realm_id: str, country: str = "US") -> Company:
        if realm_id not in {c["realm_id"] for c in ctl.companies()}:
            ctl.add_company(realm_id, f"Company {realm_id[-4:]}", country)
        url = connect_flow.start_connect(account_id, user_id="owner")
        state = parse_qs(urlparse(url).query)["state"][0]
        code = ctl.authorization_code(realm_id, redirect_uri=get_settings().oauth_redirect_uri)
        ref = connect_flow.return_from_intuit(state=state, code=code, realm_id=realm_id, error=None)
        connect_flow.complete_connect(ref=ref, account_id=account_id, user_id="owner")
        item_id = next(i["Id"] for i in ctl.entities(realm_id, "Item") if i["Name"] == "Services")
        return Company(account_id, realm_id, item_id)

    return _connect


@pytest.fixture
def company(connect_company: Callable[..., Company], account_id: str, realm_id: str) -> Company:
    return connect_company(account_id, realm_id)


# ------------------------------------------------------------------------------------ webhook relay


@pytest.fixture(scope="module")
def relay(qbo: EmulatorServer) -> Iterator[Relay]:
    """HTTP server the emulator posts webhooks to; each POST goes through the webhook handler."""
    state = Relay(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            result = call_webhook(body, dict(self.headers.items()), base64_body=state.base64_bodies)
            state.answers.append((result["statusCode"], json.loads(result["body"])))
            payload = result["body"].encode()
            self.send_response(result["statusCode"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/intuit"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhooks_to(qbo: EmulatorServer, relay: Relay) -> Callable[[str], Relay]:
    """``webhooks_to("legacy"|"cloudevents")``: the emulator's app sends signed webhooks to the relay."""

    def _use(fmt: str) -> Relay:
        qbo.control.register_app(
            DEFAULT_CLIENT_ID,
            webhook_url=relay.url,
            verifier_token=DEFAULT_VERIFIER_TOKEN,
            webhook_format=fmt,
        )
        relay.answers.clear()
        relay.base64_bodies = False
        return relay

    yield _use
    qbo.control.register_app(DEFAULT_CLIENT_ID, webhook_url="http://127.0.0.1:9/unused")


# ------------------------------------------------------------------------------------ poll queue


@pytest.fixture
def poll_queue(local_aws: Any, sqs: Any) -> PollQueue:
    queue = local_aws.queues["PollQueue"]
    return PollQueue(url=queue.url, arn=queue.arn, sqs=sqs)


# ------------------------------------------------------------------------------------ bus events


@pytest.fixture
def bus(bus_events_queue: str, sqs: Any) -> Iterator[Bus]:
    reader = Bus(sqs, bus_events_queue)
    try:
        yield reader
    finally:
        reader.stop()
