"""Messages that cannot be pushed are parked on the push DLQ with their reason; after a reconnect the
redrive route sends them back and they are pushed exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kyrios_qbo import store
from tests.conftest import reset_bundle_caches
from tests.integration import test_connect_support as connect_support
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


def test_needs_reconnect_parks_then_reconnect_and_redrive_push_exactly_once(
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
    # Put it back for the redrive (dead_letters() consumed it to look at it).
    sqs.send_message(
        QueueUrl=queues.dlq_url,
        MessageBody=parked["Body"],
        MessageAttributes={
            k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
            for k, v in parked["MessageAttributes"].items()
        },
    )
    other = invoice_event("acct-someone-else", currency="GBP", lines=_lines())
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps(other))

    # The user reconnects through the UI: api connect → Intuit consent → oauth callback → completion.
    monkeypatch.setenv("OAUTH_REDIRECT_URI", connect_support.REDIRECT_URI)
    monkeypatch.setenv("UI_RETURN_URL", connect_support.UI_RETURN_URL)
    reset_bundle_caches()
    status, location, outcome = connect_support.connect(account.account_id, account.realm_id)
    assert outcome == {"quickbooks": "connected"} and location.startswith(connect_support.UI_RETURN_URL)
    connection = store.get_connection(account.account_id)
    assert connection is not None and connection.status == "connected"

    status, body = connect_support.call_api(
        "POST", "/integrations/quickbooks/dead-letters/redrive", account.account_id
    )
    assert status == 200 and body["redriven"] == 1, body
    ctl.clear_requests()
    run_pusher()
    run_pusher()  # nothing more to do: the pushed message was acknowledged

    assert len(qbo_objects(ctl, account.realm_id, "Invoice")) == 1
    assert writes(ctl, account.realm_id).count("POST invoice") == 1
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 1
    left = dead_letters(sqs, queues, timeout=1.0)
    assert [json.loads(m["Body"])["detail"]["account_id"] for m in left] == ["acct-someone-else"]
