"""Poll-nudge messages: FIFO group and deduplication per company and time bucket, strict parsing."""

from __future__ import annotations

import json

import pytest

from kyrios_qbo.nudges import (
    DEDUP_WINDOW_SECONDS,
    InvalidNudge,
    PollNudge,
    dedup_id,
    nudge,
    parse_nudge,
    to_entry,
)


def test_entry_groups_by_company_and_dedups_within_a_bucket() -> None:
    a = to_entry(nudge("acct-1", "9341450000000001", "webhook", now=1_000_000.0), 0)
    b = to_entry(nudge("acct-1", "9341450000000001", "schedule", now=1_000_009.9), 1)
    c = to_entry(nudge("acct-1", "9341450000000001", "webhook", now=1_000_010.0), 2)
    other = to_entry(nudge("acct-2", "9341450000000002", "webhook", now=1_000_000.0), 3)
    assert a["MessageGroupId"] == "9341450000000001" and other["MessageGroupId"] == "9341450000000002"
    assert a["MessageDeduplicationId"] == b["MessageDeduplicationId"] == "9341450000000001-100000"
    assert c["MessageDeduplicationId"] == "9341450000000001-100001"
    assert other["MessageDeduplicationId"] != a["MessageDeduplicationId"]
    assert len(a["MessageDeduplicationId"]) <= 128
    assert (a["Id"], c["Id"]) == ("0", "2")


def test_dedup_window_is_ten_seconds() -> None:
    assert DEDUP_WINDOW_SECONDS == 10
    assert dedup_id("1", 19.99) == dedup_id("1", 10.0) != dedup_id("1", 9.99)


def test_body_round_trips() -> None:
    original = PollNudge("acct-1", "123", "manual", 1234.5)
    assert parse_nudge(original.to_body()) == original


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"realm_id": "1", "reason": "webhook"}),
        json.dumps({"account_id": "a", "reason": "webhook"}),
        json.dumps({"account_id": "a", "realm_id": "1", "reason": "because"}),
        json.dumps({"account_id": "a", "realm_id": "1", "reason": "webhook", "requested_at": "soon"}),
        json.dumps({"account_id": "a", "realm_id": "1", "reason": "webhook", "requested_at": True}),
        json.dumps({"account_id": "", "realm_id": "1", "reason": "webhook"}),
        json.dumps({"account_id": "a", "realm_id": "1" * 65, "reason": "webhook"}),
    ],
)
def test_foreign_messages_are_refused(body: str) -> None:
    with pytest.raises(InvalidNudge):
        parse_nudge(body)
