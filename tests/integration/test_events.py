"""Publishing on the bus of the local stack, read back through a queue subscribed to the bus."""

from __future__ import annotations

import json

import pytest

from kyrios_qbo import events


@pytest.fixture
def put_events_calls(local_aws):
    """Counts PutEvents calls made by the publisher's real client (observes; changes nothing)."""
    calls: list[int] = []

    def count(params, **_kwargs):
        calls.append(len(params["Entries"]))

    client = events.client()
    client.meta.events.register("provide-client-params.events.PutEvents", count)
    yield calls
    client.meta.events.unregister("provide-client-params.events.PutEvents", count)


def test_25_events_go_out_in_3_calls_and_all_arrive(local_aws, bus_events_queue, drain, put_events_calls):
    batch = [
        events.OutgoingEvent("contact.created", {"n": n, "account_id": "a-1"}, (f"qbo:customer/{n}",))
        for n in range(25)
    ]

    assert events.publish(batch) == 25

    assert put_events_calls == [10, 10, 5]
    received = drain(bus_events_queue, 25, timeout=10)
    assert sorted(event["detail"]["n"] for event in received) == list(range(25))
    sample = received[0]
    assert sample["source"] == "kyrios.quickbooks"
    assert sample["detail-type"] == "contact.created"
    assert sample["resources"] == [f"qbo:customer/{sample['detail']['n']}"]
    assert drain(bus_events_queue, 1, timeout=0.5) == []  # nothing twice


def test_pydantic_models_and_tuples_are_published(local_aws, bus_events_queue, drain):
    from pydantic import BaseModel

    class Published(BaseModel):
        account_id: str

    Published.DETAIL_TYPE = "connection.status_changed"  # type: ignore[attr-defined]

    events.publish([Published(account_id="a-2"), ("invoice.imported", {"account_id": "a-3"})])
    received = drain(bus_events_queue, 2)
    assert sorted((e["detail-type"], e["detail"]["account_id"]) for e in received) == [
        ("connection.status_changed", "a-2"),
        ("invoice.imported", "a-3"),
    ]


def test_oversized_event_is_refused_before_anything_is_sent(
    local_aws, bus_events_queue, drain, put_events_calls
):
    big = {"blob": "x" * (256 * 1024)}
    with pytest.raises(events.EventTooLarge) as caught:
        events.publish([("contact.created", {"ok": True}), ("invoice.imported", big)])
    assert caught.value.detail_type == "invoice.imported"
    assert put_events_calls == []
    assert drain(bus_events_queue, 1, timeout=0.5) == []


def test_invalid_details_are_typed_errors(local_aws):
    with pytest.raises(events.InvalidEvent):
        events.publish([("contact.created", ["not", "an", "object"])])
    with pytest.raises(events.InvalidEvent):
        events.publish([("", {"a": 1})])
    with pytest.raises(events.InvalidEvent):
        events.publish([("contact.created", {"when": object()})])


def test_chunks_respect_the_request_size_limit():
    entry = {"Source": "s", "DetailType": "d", "Detail": json.dumps({"x": "y" * 100_000})}
    chunks = events.chunk_entries([entry] * 5)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    assert all(sum(events.entry_size(e) for e in chunk) <= events.MAX_REQUEST_BYTES for chunk in chunks)


# Retrying failed entries: moto never fails a valid entry, so the retry rule is exercised with a
# scripted PutEvents answer (pure logic; no AWS client involved).
def _entries(n: int) -> list[dict]:
    return [{"Source": "s", "DetailType": f"t{i}", "Detail": "{}"} for i in range(n)]


def test_only_failed_entries_are_retried():
    sent: list[list[str]] = []
    answers = iter(
        [
            {
                "FailedEntryCount": 2,
                "Entries": [
                    {"EventId": "1"},
                    {"ErrorCode": "InternalFailure"},
                    {"EventId": "3"},
                    {"ErrorCode": "ThrottlingException"},
                ],
            },
            {"FailedEntryCount": 0, "Entries": [{"EventId": "2"}, {"EventId": "4"}]},
        ]
    )

    def put(batch):
        sent.append([entry["DetailType"] for entry in batch])
        return next(answers)

    assert events.send_with_retries(_entries(4), put, sleep=lambda _s: None) == []
    assert sent == [["t0", "t1", "t2", "t3"], ["t1", "t3"]]


def test_retries_are_bounded_and_report_error_codes():
    calls: list[int] = []

    def put(batch):
        calls.append(len(batch))
        return {
            "FailedEntryCount": 1,
            "Entries": [{"EventId": "ok"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}][
                -len(batch) :
            ],
        }

    failures = events.send_with_retries(_entries(2), put, max_attempts=3, sleep=lambda _s: None)
    assert calls == [2, 1, 1]
    assert [(f.detail_type, f.error_code) for f in failures] == [("t1", "InternalFailure")]
    error = events.PublishFailed(failures, published=1)
    assert error.error_codes == ["InternalFailure"] and "InternalFailure" in str(error)
