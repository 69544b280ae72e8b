"""Messages that cannot be pushed are parked on the push DLQ with their reason; after a reconnect the
redrive route sends them back and they are pushed exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kyrios_qbo import dead_letters as dead_letters_module
from kyrios_qbo import store
from kyrios_qbo.store import parked as parked_store
from tests.conftest import reset_bundle_caches
from tests.integration import connect_support
from tests.integration.pusher.conftest import dead_letters, invoice_event, line, qbo_objects, sync_log, writes


def _parked(sqs: Any, queues: Any, account_id: str) -> list[dict[str, Any]]:
    return [m for m in dead_letters(sqs, queues, timeout=1.0) if account_id in m["Body"]]


def _reason(message: dict[str, Any]) -> str:
    return str(message["MessageAttributes"]["failure_reason"]["StringValue"])


def _lines() -> list[dict[str, Any]]:
    return [line("l1", "prod_bowl", "Bowl", "2", "18.00")]


@pytest.mark.parametrize("breakage", ["bad_json", "unknown_detail_type", "missing_fields"])
def test_malformed_event_is_parked_with_its_reason_and_writes_nothing(
    breakage, connect, ctl, run_pusher, sqs, queues
) -> None:
    account = connect("GB")
    event = invoice_event(account.account_id, currency="GBP", lines=_lines())
    invoice_id = event["detail"]["invoice"]["id"]
    ctl.clear_requests()
    if breakage == "bad_json":
        sqs.send_message(
            QueueUrl=queues.push_url,
            MessageBody='{"detail": {"account_id": "' + account.account_id + '", "invoice": ',
        )
        responses = run_pusher()
    else:
        if breakage == "unknown_detail_type":
            event["detail-type"] = "invoice.deleted"
        else:
            del event["detail"]["invoice"]["customer"]
            del event["detail"]["invoice"]["lines"]
        responses = run_pusher(event)

    assert all(r["batchItemFailures"] == [] for r in responses)  # parked, not retried
    [parked] = _parked(sqs, queues, account.account_id)
    assert _reason(parked) == "malformed_event"
    message = parked["MessageAttributes"]["failure_message"]["StringValue"]
    expected = {
        "bad_json": "not an EventBridge event",
        "unknown_detail_type": "invoice.deleted",
        "missing_fields": "customer",
    }[breakage]
    assert expected in message
    assert ctl.requests(realm=account.realm_id) == []
    assert qbo_objects(ctl, account.realm_id, "Invoice") == []
    assert store.get_mapping(account.realm_id, "invoice", invoice_id) is None
    if breakage == "bad_json":
        assert parked["Body"].startswith('{"detail"')  # kept as received, for a person to look at
    else:
        assert json.loads(parked["Body"])["detail"]["account_id"] == account.account_id
        [entry] = sync_log(account.account_id)
        assert entry.outcome == "failed" and "cannot read" in entry.message


def test_needs_reconnect_parks_then_reconnecting_resumes_it_by_itself_exactly_once(
    connect, ctl, run_pusher, sqs, queues, monkeypatch
) -> None:
    account = connect("GB")
    ctl.invalidate_tokens("all", realm=account.realm_id)  # the user revoked the app: refresh fails too
    event = invoice_event(account.account_id, currency="GBP", lines=_lines())

    responses = run_pusher(event)

    assert all(r["batchItemFailures"] == [] for r in responses)
    [parked] = _parked(sqs, queues, account.account_id)
    assert _reason(parked) == "needs_reconnect"
    assert parked["MessageAttributes"]["event_id"]["StringValue"] == event["detail"]["event_id"]
    assert qbo_objects(ctl, account.realm_id, "Invoice") == []
    connection = store.get_connection(account.account_id)
    assert connection is not None and connection.status == "needs_reconnect"
    assert sync_log(account.account_id)[0].outcome == "failed"
    [record] = parked_store.list_parked(account.account_id)
    assert (record.reason, record.event_id, record.body) == ("needs_reconnect", event["detail"]["event_id"],
                                                             parked["Body"])
    assert (record.document_kind, record.document_id) == ("invoice", event["detail"]["invoice"]["id"])
    assert record.failed_at and dead_letters_module.because_of_connection(record)
    other = invoice_event("acct-someone-else", currency="GBP", lines=_lines())
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps(other))
    # A document QuickBooks refused for its data waits for a change or the user's retry, not a reconnect.
    refused = _park(account.account_id, dead_letters_module.FailureReason.REJECTED, 1)

    # The user reconnects through the UI: api connect → Intuit consent → oauth callback → completion.
    monkeypatch.setenv("OAUTH_REDIRECT_URI", connect_support.REDIRECT_URI)
    monkeypatch.setenv("UI_RETURN_URL", connect_support.UI_RETURN_URL)
    reset_bundle_caches()
    _, location, outcome = connect_support.connect(account.account_id, account.realm_id)
    assert outcome == {"quickbooks": "connected"} and location.startswith(connect_support.UI_RETURN_URL)
    connection = store.get_connection(account.account_id)
    assert connection is not None and connection.status == "connected"

    # Nobody pressed "Retry failed changes": the reconnect alone sent the parked push again.
    assert [p.body for p in parked_store.list_parked(account.account_id)] == [refused]
    ctl.clear_requests()
    run_pusher()
    run_pusher()  # nothing more to do: the pushed message was acknowledged

    assert len(qbo_objects(ctl, account.realm_id, "Invoice")) == 1
    assert writes(ctl, account.realm_id).count("POST invoice") == 1
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 1
    left = dead_letters(sqs, queues, timeout=1.0)
    assert sorted(m["Body"] for m in left) == sorted([json.dumps(other), refused])


REDRIVE = "/integrations/quickbooks/dead-letters/redrive"


def _park(
    account_id: str, reason: dead_letters_module.FailureReason, n: int, cause: str | None = None
) -> str:
    event = invoice_event(account_id, currency="GBP", lines=_lines())
    body = json.dumps(event)
    dead_letters_module.send(dead_letters_module.DeadLetter(
        body, reason, f"parked #{n}", account_id=account_id, event_id=event["detail"]["event_id"],
        document_kind="invoice", document_id=event["detail"]["invoice"]["id"], cause=cause,
    ))
    return body


def _on_push_queue(sqs: Any, queues: Any) -> list[str]:
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queues.push_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queues.push_url, ReceiptHandle=message["ReceiptHandle"])


def test_redrive_answers_only_about_the_callers_own_parked_messages(
    account_id: str, sqs: Any, queues: Any
) -> None:
    victim = f"{account_id}-victim"
    parked = [_park(victim, dead_letters_module.FailureReason.REJECTED, n) for n in range(2)]
    _on_push_queue(sqs, queues)
    dead_letters(sqs, queues, timeout=0.5)  # the DLQ copies: operators' (and never read by a redrive)

    status, body = connect_support.call_api("POST", REDRIVE, account_id)

    assert (status, body) == (200, {"redriven": 0, "left": 0})
    assert _on_push_queue(sqs, queues) == []
    assert [p.body for p in parked_store.list_parked(victim)] == parked
    status, body = connect_support.call_api("POST", REDRIVE, victim)
    assert (status, body) == (200, {"redriven": 2, "left": 0})
    assert _on_push_queue(sqs, queues) == parked


def test_redrive_can_send_only_what_was_parked_because_of_the_connection(
    account_id: str, sqs: Any, queues: Any
) -> None:
    reasons = dead_letters_module.FailureReason
    reconnect = _park(account_id, reasons.NEEDS_RECONNECT, 1)
    token_side = _park(account_id, reasons.RETRIES_EXHAUSTED, 2, cause=dead_letters_module.AUTH_CAUSE)
    outage = _park(account_id, reasons.RETRIES_EXHAUSTED, 3)
    rejected = _park(account_id, reasons.REJECTED, 4)
    invalid = _park(account_id, reasons.INVALID_DOCUMENT, 5)
    _on_push_queue(sqs, queues)
    dead_letters(sqs, queues, timeout=0.5)

    result = dead_letters_module.redrive(account_id, only=dead_letters_module.because_of_connection)

    assert (result.moved, result.left) == (2, 3)
    assert _on_push_queue(sqs, queues) == [reconnect, token_side]
    assert [p.body for p in parked_store.list_parked(account_id)] == [outage, rejected, invalid]
    result = dead_letters_module.redrive(account_id)
    assert (result.moved, result.left) == (3, 0)
    assert sorted(_on_push_queue(sqs, queues)) == sorted([outage, rejected, invalid])
