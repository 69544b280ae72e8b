"""The sample SQS events in ``events/pusher-sqs-*.json`` are what the pusher really receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.integration.pusher.conftest import EVENTS, qbo_objects


@pytest.mark.parametrize(
    ("sample", "country", "entity"),
    [("pusher-sqs-invoice-sent", "GB", "Invoice"), ("pusher-sqs-payment-completed", "CA", "SalesReceipt")],
)
def test_sample_sqs_event_body_is_pushed(sample, country, entity, connect, run_pusher, ctl) -> None:
    account = connect(country)
    [record] = json.loads((EVENTS / f"{sample}.json").read_text())["Records"]
    event = json.loads(record["body"])
    assert event["source"] == "kyrios.core" and record["eventSource"] == "aws:sqs"
    event["detail"]["account_id"] = account.account_id
    document = event["detail"].get("invoice") or event["detail"]["payment"]
    now = (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="seconds")
    document["created_at" if "invoice" in event["detail"] else "paid_at"] = now

    responses = run_pusher(event)

    assert [r["batchItemFailures"] for r in responses] == [[]]
    [pushed] = qbo_objects(ctl, account.realm_id, entity)
    if entity == "SalesReceipt":
        assert Decimal(str(pushed["TotalAmt"])) == Decimal(document["totals"]["total"])
