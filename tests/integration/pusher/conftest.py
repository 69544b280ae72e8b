"""Fixtures of the pusher tests: the QBO emulator, a connected account per test, Kyrios events built from
the samples in ``events/``, and ``run_pusher``, which plays Lambda's SQS event source: it receives from
the real push queue, invokes ``functions/pusher/app.lambda_handler`` and deletes what succeeded."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.lambda_context import LocalLambdaContext, lambda_context
from local.qbo_emulator import EmulatorControl, EmulatorServer
from tests.conftest import bundle_on_emulator

REPO = Path(__file__).resolve().parents[3]
EVENTS = REPO / "events"


@pytest.fixture(scope="module")
def emulator(local_aws: Any) -> Iterator[EmulatorServer]:
    """The QBO emulator, with the bundle's settings and Intuit app secret pointing at it (token refresh
    and reconnect talk to it as they would to Intuit)."""
    from tests.integration.connect_support import REDIRECT_URI

    srv = EmulatorServer.start(port=0, time_scale=1.0, rate_limits=False, default_seed="minimal")
    # Short timeouts so that an injected timeout costs little; the emulator answers in milliseconds.
    env = {"PUSH_MAX_RECEIVES": "5", "HTTP_TIMEOUT_SECONDS": "1"}
    try:
        with bundle_on_emulator(srv, env=env, redirect_uris=[REDIRECT_URI]):
            yield srv
    finally:
        srv.stop()


@pytest.fixture
def ctl(emulator: EmulatorServer) -> Iterator[EmulatorControl]:
    """The emulator's control API; faults left over by a failed test are cleared before and after."""
    control = emulator.control
    control.clear_faults()
    yield control
    control.clear_faults()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shrink the QBO client's backoff (a 429 waits 1-4 s otherwise) without changing what is retried,
    through the same setting the local stack uses."""
    from kyrios_qbo.config import get_settings

    monkeypatch.setenv("QBO_RETRY_TIME_SCALE", "0.02")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@dataclass
class Account:
    account_id: str
    realm_id: str


@pytest.fixture
def connect(emulator: EmulatorServer, account_id: str, realm_id: str) -> Callable[..., Account]:
    """``connect(country="GB")``: a new emulator company and the test's account connected to it."""
    from kyrios_qbo import store, tokens
    from kyrios_qbo.intuit_auth import IssuedTokens

    def _connect(country: str = "GB", **company: Any) -> Account:
        emulator.control.add_company(realm_id, f"Test {country} {realm_id[-4:]}", country, **company)
        issued = emulator.control.issue_tokens(realm_id)
        now = time.time()
        plain = IssuedTokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            access_expires_at=now + 3000,
            refresh_expires_at=now + 86400 * 90,
        )
        encrypted = tokens.encrypt_tokens(account_id, realm_id, plain)
        company_info = store.CompanyInfo(company_name="Test", country=country)
        store.connect(account_id, realm_id, company_info, encrypted)
        return Account(account_id, realm_id)

    return _connect


def sample_event(name: str, account_id: str, **invoice_changes: Any) -> dict[str, Any]:
    """An EventBridge event from ``events/<name>.json`` for ``account_id``, with fresh ids, created now."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["account_id"] = account_id
    detail["event_id"] = f"evt_{uuid.uuid4().hex[:12]}"
    document = detail.get("invoice") or detail.get("payment")
    # Seconds precision: round up, so the document is never older than the connection made just before.
    now = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="seconds")
    if "invoice" in detail:
        document["created_at"] = now
    else:
        document["paid_at"] = now
    document.update(invoice_changes)
    return event


def reissue(event: dict[str, Any], detail_type: str | None = None, **changes: Any) -> dict[str, Any]:
    """The same document in a new event (new event id), with changes to the document."""
    copy_ = copy.deepcopy(event)
    copy_["id"] = str(uuid.uuid4())
    copy_["detail"]["event_id"] = f"evt_{uuid.uuid4().hex[:12]}"
    if detail_type:
        copy_["detail-type"] = detail_type
    document = copy_["detail"].get("invoice") or copy_["detail"].get("payment")
    document.update(changes)
    return copy_


def _context() -> LocalLambdaContext:
    return lambda_context("PusherFunction", timeout_seconds=120.0)


@dataclass
class Queues:
    push_url: str
    push_arn: str
    dlq_url: str


@pytest.fixture
def queues(local_aws: Any, sqs: Any) -> Queues:
    push = local_aws.queues["PushQueue"]
    dlq = local_aws.queues["PushDeadLetterQueue"]
    return Queues(push.url, push.arn, dlq.url)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


@pytest.fixture
def run_pusher(sqs: Any, queues: Queues) -> Callable[..., list[dict[str, Any]]]:
    """``run_pusher(*events, rounds=8)``: send events to the push queue and process until it is empty.

    Failed records become visible again after 1 s (the test's visibility timeout) with a higher receive
    count, as in Lambda. Returns each invocation's response."""
    from functions.pusher import app

    def _run(*events: dict[str, Any], rounds: int = 8, batch: int = 10) -> list[dict[str, Any]]:
        for event in events:
            sqs.send_message(QueueUrl=queues.push_url, MessageBody=json.dumps(event))
        return drain_push_queue(sqs, queues, app.lambda_handler, rounds=rounds, batch=batch)

    return _run


def drain_push_queue(
    sqs: Any, queues: Queues, handler: Callable[..., Any], *, rounds: int, batch: int = 10
) -> list[dict[str, Any]]:
    responses = []
    empty_rounds = 0
    for _ in range(rounds * 4):
        answer = sqs.receive_message(
            QueueUrl=queues.push_url, MaxNumberOfMessages=batch, AttributeNames=["All"],
            VisibilityTimeout=1, WaitTimeSeconds=1,
        )
        messages = answer.get("Messages", [])
        if not messages:
            empty_rounds += 1
            attributes = sqs.get_queue_attributes(
                QueueUrl=queues.push_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            pending = sum(int(value) for value in attributes.values())  # waiting or being retried
            if pending == 0 or empty_rounds > rounds:
                break
            continue
        try:
            response = handler({"Records": [sqs_record(m, queues.push_arn) for m in messages]}, _context())
        except Exception:  # as Lambda: an invocation error leaves every record of the batch on the queue
            response = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        responses.append(response)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queues.push_url, ReceiptHandle=message["ReceiptHandle"])
    return responses


def push_concurrently(sqs: Any, queues: Queues, events: list[dict[str, Any]]) -> None:
    """Send ``events``, then hand each message to its own pusher invocation, all released at once (as
    concurrent Lambda invocations would hold them); what failed is redelivered until the queue is empty."""
    from functions.pusher import app

    for event in events:
        sqs.send_message(QueueUrl=queues.push_url, MessageBody=json.dumps(event))
    messages: list[dict[str, Any]] = []
    while len(messages) < len(events):
        messages += sqs.receive_message(
            QueueUrl=queues.push_url, MaxNumberOfMessages=10, AttributeNames=["All"],
            VisibilityTimeout=1, WaitTimeSeconds=1,
        ).get("Messages", [])
    start = threading.Barrier(len(messages))

    def invoke(message: dict[str, Any]) -> None:
        start.wait()
        response = app.lambda_handler({"Records": [sqs_record(message, queues.push_arn)]}, _context())
        if not response["batchItemFailures"]:
            sqs.delete_message(QueueUrl=queues.push_url, ReceiptHandle=message["ReceiptHandle"])

    threads = [threading.Thread(target=invoke, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    drain_push_queue(sqs, queues, app.lambda_handler, rounds=8)


def dead_letters(sqs: Any, queues: Queues, timeout: float = 2.0) -> list[dict[str, Any]]:
    """Receive (and delete) everything on the push DLQ, with its attributes."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=queues.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages and found:
            break
        for message in messages:
            found.append(message)
            sqs.delete_message(QueueUrl=queues.dlq_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            time.sleep(0.2)
    return found


# ------------------------------------------------------------------------------------ documents


def tax(tax_id: str, name: str, rate: str) -> dict[str, Any]:
    return {"tax_id": tax_id, "name": name, "rate_percent": rate}


def line(
    line_id: str,
    product_id: str,
    name: str,
    quantity: str,
    unit_price: str,
    *taxes: dict[str, Any],
    discount: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Kyrios line; ``discount`` is ``{"type": "percent", "percent": "10"}`` or an amount discount."""
    out: dict[str, Any] = {
        "line_id": line_id,
        "product": {"id": product_id, "name": name},
        "quantity": quantity,
        "unit_price": unit_price,
        "taxes": list(taxes),
    }
    if discount is not None:
        out["discount"] = discount
    return out


def retotal(event: dict[str, Any]) -> dict[str, Any]:
    """Give the event's document the totals Kyrios would send for its lines (Kyrios' own arithmetic,
    which is consistent by construction; what QBO makes of it is what the tests check)."""
    from kyrios_qbo.models.kyrios import KyriosInvoice, KyriosPaymentDocument, document_amounts

    detail = event["detail"]
    if "invoice" in detail:
        document = detail["invoice"]
        probe: Any = KyriosInvoice.model_validate({**document, "totals": _ZERO_TOTALS})
    else:
        document = detail["payment"]
        probe = KyriosPaymentDocument.model_validate({**document, "totals": _ZERO_TOTALS})
    amounts = document_amounts(probe)
    document["totals"] = {"subtotal": str(amounts.subtotal), "discount_total": str(amounts.discount),
                          "tax_total": str(amounts.tax_total), "total": str(amounts.total)}
    if "payment" in detail:
        document["amount"] = str(amounts.total)
    return event


_ZERO_TOTALS = {"subtotal": "0", "discount_total": "0", "tax_total": "0", "total": "0"}


def _envelope(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "kyrios.core",
        "account": "123456789012", "time": now, "region": "us-east-1", "resources": [], "detail": detail,
    }


def _now_plus_one() -> str:
    return (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="seconds")


def customer(name: str, email: str | None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"full_name": name, **extra}
    if email is not None:
        out["email"] = email
    return out


def invoice_event(
    account_id: str,
    *,
    lines: list[dict[str, Any]],
    currency: str,
    prices_include_tax: bool = False,
    discount: dict[str, Any] | None = None,
    detail_type: str = "invoice.sent",
    status: str = "sent",
    version: int = 1,
    payments: list[dict[str, Any]] | None = None,
    customer_: dict[str, Any] | None = None,
    invoice_id: str | None = None,
    number: str | None = None,
    **invoice_fields: Any,
) -> dict[str, Any]:
    """An EventBridge invoice event with consistent totals, created now (after the connection)."""
    invoice_id = invoice_id or f"inv_{uuid.uuid4().hex[:10]}"
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "number": number or f"INV-{invoice_id[-6:].upper()}",
        "version": version,
        "status": status,
        "created_at": _now_plus_one(),
        "issue_date": "2026-05-01",
        "due_date": "2026-05-31",
        "currency": currency,
        "prices_include_tax": prices_include_tax,
        "customer": customer_ or customer("Ada Lovelace", "ada@example.com"),
        "lines": lines,
        "payments": payments or [],
        "source": {"kind": "kyrios"},
        **invoice_fields,
    }
    if discount is not None:
        invoice["discount"] = discount
    detail = {"event_id": f"evt_{uuid.uuid4().hex[:12]}", "account_id": account_id,
              "occurred_at": _now_plus_one(), "invoice": invoice}
    return retotal(_envelope(detail_type, detail))


def payment_event(
    account_id: str,
    *,
    source: str,
    lines: list[dict[str, Any]],
    currency: str,
    prices_include_tax: bool = False,
    discount: dict[str, Any] | None = None,
    customer_: dict[str, Any] | None = None,
    payment_id: str | None = None,
    version: int = 1,
    method: str = "card",
) -> dict[str, Any]:
    """An EventBridge ``payment.completed`` event (amount = total), paid now."""
    payment: dict[str, Any] = {
        "id": payment_id or f"kp_{uuid.uuid4().hex[:10]}",
        "source": source,
        "source_id": f"{source}_{uuid.uuid4().hex[:6]}",
        "version": version,
        "paid_at": _now_plus_one(),
        "currency": currency,
        "amount": "0",
        "method": method,
        "customer": customer_ or customer("Ada Lovelace", "ada@example.com"),
        "lines": lines,
        "prices_include_tax": prices_include_tax,
    }
    if discount is not None:
        payment["discount"] = discount
    detail = {"event_id": f"evt_{uuid.uuid4().hex[:12]}", "account_id": account_id,
              "occurred_at": _now_plus_one(), "payment": payment}
    return retotal(_envelope("payment.completed", detail))


def paid(payment_id: str, amount: str, method: str = "card") -> dict[str, Any]:
    """One Kyrios payment on an invoice."""
    return {"payment_id": payment_id, "amount": amount, "paid_at": _now_plus_one(), "method": method}


# ------------------------------------------------------------------------------------ reading back


def qbo_objects(ctl: EmulatorControl, realm_id: str, entity: str) -> list[dict[str, Any]]:
    return ctl.entities(realm_id, entity)


def writes(ctl: EmulatorControl, realm_id: str) -> list[str]:
    """The QBO writes the emulator received for the company, e.g. ``POST invoice``."""
    return [r["endpoint"] for r in ctl.requests(realm=realm_id) if r["method"] == "POST"]


def sync_log(account_id: str) -> list[Any]:
    from kyrios_qbo import store

    return store.list_sync_log(account_id, limit=200).items


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
