"""The contact poller through its handler: schedule fan-out, CDC paging, loop prevention, email index,
failures, reconnects and races (local AWS + the QBO emulator)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kyrios_qbo import nudges, polling
from kyrios_qbo.connection import status
from kyrios_qbo.qbo_errors import QboError
from kyrios_qbo.store import connections, coordination, mappings
from local.lambda_context import lambda_context

from .support import Bus, Company, PollQueue, tick


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _send_nudge(company: Company, at: float | None = None) -> None:
    nudges.send_nudges([nudges.nudge(company.account_id, company.realm_id, "manual", now=at)])


def _poll_once(poll_queue: PollQueue, company: Company) -> dict[str, Any]:
    _send_nudge(company)
    results = poll_queue.poll_now(company.realm_id, expect=1)
    assert len(results) == 1
    return results[0]


def test_tick_fans_out_and_only_new_customers_not_made_by_kyrios_become_contacts(
    ctl: Any, connect_company: Any, account_id: str, realm_id: str, poll_queue: PollQueue, bus: Bus
) -> None:
    ctl.add_company(realm_id, "Before Ltd", "US")
    before = datetime.now(UTC) - timedelta(days=3)
    old_ids = ctl.seed(
        realm_id,
        customers=[
            {
                "DisplayName": f"Old {i}",
                "PrimaryEmailAddr": {"Address": f"old{i}@example.com"},
                "MetaData": {"CreateTime": _iso(before), "LastUpdatedTime": _iso(before)},
            }
            for i in range(3)
        ],
    )["customers"]
    company = connect_company(account_id, realm_id)
    time.sleep(1.05)  # QBO times have whole seconds: stay clear of the connecting second
    # Changed after connecting, but created before: still not a new contact (its email is indexed though).
    old = ctl.entity(realm_id, "Customer", old_ids[0])
    ctl.user_action(
        realm_id,
        "Customer",
        "update",
        {
            "Id": old["Id"],
            "SyncToken": old["SyncToken"],
            "sparse": True,
            "PrimaryEmailAddr": {"Address": "old-new@example.com"},
        },
    )
    ctl.create_customer(
        realm_id,
        DisplayName="Pushed By Kyrios",
        Notes="Created by Kyrios",
        PrimaryEmailAddr={"Address": "pushed@example.com"},
    )
    mapped = ctl.create_customer(realm_id, DisplayName="Mapped By Kyrios")
    mappings.put_mapping_if_absent(realm_id, "customer", "mapped@example.com", qbo_id=mapped["Id"])
    fresh = ctl.create_customer(
        realm_id, DisplayName="Brand New", PrimaryEmailAddr={"Address": "new@example.com"}
    )

    assert tick()["nudged"] >= 1
    results = poll_queue.poll_now(company.realm_id, expect=1)
    assert results == [{"batchItemFailures": []}]
    contacts = bus("contact.created", 1)
    assert [c["detail"]["qbo_customer_id"] for c in contacts] == [fresh["Id"]]
    assert bus("contact.created", 1, timeout=1.5) == []
    assert mappings.find_customer_by_email(realm_id, "old-new@example.com") == old_ids[0]
    assert mappings.find_customer_by_email(realm_id, "new@example.com") == fresh["Id"]
    connection = connections.get_connection(account_id)
    assert connection is not None
    assert status(account_id).last_sync_at is not None  # the status page's "last sync"
    cursor = coordination.get_cursor(realm_id, polling.CURSOR_NAME)
    assert cursor is not None and cursor >= datetime.fromisoformat(
        connection.connected_at.replace("Z", "+00:00")
    )

    # Polling again (overlapping window, a duplicate nudge) publishes nothing new.
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    assert bus("contact.created", 1, timeout=1.5) == []


def test_dropped_webhook_is_caught_by_the_schedule(
    ctl: Any, company: Company, webhooks_to: Any, poll_queue: PollQueue, bus: Bus
) -> None:
    relay = webhooks_to("cloudevents")
    ctl.webhook_switches(drop_next=1)
    customer = ctl.create_customer(company.realm_id, DisplayName="Missed Webhook")
    assert ctl.wait_webhooks(timeout=5)
    assert relay.answers == []  # Intuit never sent it
    assert poll_queue.receive(company.realm_id, timeout=1.0) == []
    tick()
    assert poll_queue.poll_now(company.realm_id, expect=1) == [{"batchItemFailures": []}]
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]


@pytest.mark.slow
def test_a_burst_of_2500_customers_pages_past_the_cdc_cap(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    time.sleep(1.05)
    # Spread over a few seconds of QBO time, as a CSV import in QBO would be.
    start = datetime.now(UTC)
    ids = ctl.seed(
        company.realm_id,
        customers=[
            {
                "DisplayName": f"Burst {i:04d}",
                "PrimaryEmailAddr": {"Address": f"burst{i}@example.com"},
                "MetaData": {
                    "CreateTime": _iso(start + timedelta(seconds=i // 400)),
                    "LastUpdatedTime": _iso(start + timedelta(seconds=i // 400)),
                },
            }
            for i in range(2500)
        ],
    )["customers"]
    ctl.clear_requests()
    published: list[str] = []
    # One poll pages past the cap when its 29 s budget allows; on a slow machine it stops at its deadline
    # with the cursor where it got to, and the next poll goes on from there: nothing lost, nothing twice.
    for _ in range(4):
        _poll_once(poll_queue, company)
        contacts = bus("contact.created", 2500 - len(published), timeout=30)
        published += [c["detail"]["qbo_customer_id"] for c in contacts]
        if len(published) >= 2500:
            break
    assert len(published) == 2500
    assert set(published) == set(ids)
    calls = [r for r in ctl.requests(realm=company.realm_id) if "cdc" in r.get("path", "")]
    assert len(calls) >= 3  # 1000 objects per call at most
    assert bus("contact.created", 1, timeout=1.5) == []


def test_email_changes_and_deletions_update_the_email_index(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    realm = company.realm_id
    customer = ctl.create_customer(
        realm, DisplayName="Mover", PrimaryEmailAddr={"Address": "first@example.com"}
    )
    other = ctl.create_customer(realm, DisplayName="Other", PrimaryEmailAddr={"Address": "other@example.com"})
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    assert len(bus("contact.created", 2)) == 2
    assert mappings.find_customer_by_email(realm, "first@example.com") == customer["Id"]

    current = ctl.entity(realm, "Customer", customer["Id"])
    ctl.user_action(
        realm,
        "Customer",
        "update",
        {
            "Id": current["Id"],
            "SyncToken": current["SyncToken"],
            "sparse": True,
            "PrimaryEmailAddr": {"Address": "second@example.com"},
        },
    )
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    assert mappings.find_customer_by_email(realm, "second@example.com") == customer["Id"]
    assert mappings.find_customer_by_email(realm, "first@example.com") is None
    assert bus("contact.created", 1, timeout=1.0) == []  # an update is not a new contact

    # The old address now belongs to someone else in our index: deleting "Mover" must leave it alone.
    mappings.index_customer_email(realm, "second@example.com", other["Id"])
    mappings.index_customer_email(realm, "second@example.com", customer["Id"])
    current = ctl.entity(realm, "Customer", customer["Id"])
    ctl.user_action(
        realm,
        "Customer",
        "update",
        {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True, "Active": False},
    )
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    assert mappings.find_customer_by_email(realm, "second@example.com") is None
    assert mappings.find_customer_by_email(realm, "other@example.com") == other["Id"]


def test_qbo_failures_leave_the_cursor_and_the_message_for_a_retry(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    customer = ctl.create_customer(company.realm_id, DisplayName="Retry Me")
    cursor_before = coordination.get_cursor(company.realm_id, polling.CURSOR_NAME)
    ctl.inject_fault("503", count=20, path="cdc", realm=company.realm_id)
    _send_nudge(company)
    [message] = poll_queue.receive(company.realm_id, expect=1)
    started = time.monotonic()
    result = poll_queue.run_poller(message, lambda_context("contact_poller", timeout_seconds=3.5))
    assert time.monotonic() - started < 10
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert coordination.get_cursor(company.realm_id, polling.CURSOR_NAME) == cursor_before
    assert bus("contact.created", 1, timeout=1.0) == []

    ctl.clear_faults()
    [again] = poll_queue.receive(company.realm_id, expect=1)  # SQS redelivers the failed record
    assert again["MessageId"] == message["MessageId"]
    assert poll_queue.run_poller(again) == {"batchItemFailures": []}
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]
    assert coordination.get_cursor(company.realm_id, polling.CURSOR_NAME) is not None


def test_needs_reconnect_is_acknowledged_and_stops_polling(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    ctl.create_customer(company.realm_id, DisplayName="Never Seen")
    ctl.invalidate_tokens("all", realm=company.realm_id)
    from kyrios_qbo import tokens

    tokens.forget_cached()
    ctl.invalidate_tokens("access", realm=company.realm_id)
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}  # acknowledged, no retry storm
    connection = connections.get_connection(company.account_id)
    assert connection is not None and connection.status == "needs_reconnect"
    assert bus("contact.created", 1, timeout=1.0) == []
    tick()
    assert poll_queue.receive(company.realm_id, timeout=1.0) == []  # out of the schedule's fan-out


def test_not_connected_and_stale_nudges_are_acknowledged(
    ctl: Any, company: Company, poll_queue: PollQueue
) -> None:
    from kyrios_qbo import connection

    connection.disconnect(company.account_id)
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    nudges.send_nudges(
        [nudges.PollNudge("acct-never-connected", company.realm_id, "manual", time.time() + 20)]
    )
    assert poll_queue.poll_now(company.realm_id, expect=1) == [{"batchItemFailures": []}]


def test_two_pollers_racing_for_one_company(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    customer = ctl.create_customer(company.realm_id, DisplayName="Raced")
    now = time.time()
    _send_nudge(company, at=now)
    _send_nudge(company, at=now + 10)  # another bucket: two messages of one company
    messages = poll_queue.receive(company.realm_id, expect=2)
    assert len(messages) == 2
    # QBO answers the first CDC call slowly, so the two polls overlap.
    ctl.inject_fault("timeout", count=1, path="cdc", realm=company.realm_id, seconds=1.0)
    results: list[dict[str, Any]] = [{}, {}]
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        barrier.wait()
        if index == 1:
            time.sleep(0.3)
        results[index] = poll_queue.run_poller(messages[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    failed = [r for r in results if r["batchItemFailures"]]
    assert len(failed) == 1 and len([r for r in results if not r["batchItemFailures"]]) == 1
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]
    # The failed record comes back and polls cleanly: nothing is published twice.
    assert poll_queue.poll_now(company.realm_id, expect=1) == [{"batchItemFailures": []}]
    assert bus("contact.created", 1, timeout=1.5) == []


def test_a_cursor_older_than_30_days_falls_back_to_a_query(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    coordination.advance_cursor(company.realm_id, polling.CURSOR_NAME, datetime.now(UTC) - timedelta(days=40))
    customer = ctl.create_customer(company.realm_id, DisplayName="Long Gap")
    ctl.clear_requests()
    assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]
    paths = [r.get("path", "") for r in ctl.requests(realm=company.realm_id)]
    assert not any("cdc" in p for p in paths) and any("query" in p for p in paths)
    assert coordination.get_cursor(company.realm_id, polling.CURSOR_NAME) > datetime.now(UTC) - timedelta(
        minutes=5
    )


def test_qbo_refusing_an_old_cdc_window_falls_back_to_a_query(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    ctl.advance_clock(31 * 86_400)  # QBO's clock runs far ahead of ours
    try:
        customer = ctl.create_customer(company.realm_id, DisplayName="Far Future")
        assert _poll_once(poll_queue, company) == {"batchItemFailures": []}
        assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]
    finally:
        # Back by the same amount: setting a remembered time would leave the emulator's clock behind
        # ours by this test's duration, and the next test's customers would look created before
        # their company was connected.
        ctl.advance_clock(-31 * 86_400)


def test_contacts_whose_publish_failed_are_published_on_the_retry(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus, monkeypatch: Any
) -> None:
    from kyrios_qbo.config import get_settings

    customer = ctl.create_customer(company.realm_id, DisplayName="Second Chance")
    cursor_before = coordination.get_cursor(company.realm_id, polling.CURSOR_NAME)
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")  # EventBridge refuses every event
    get_settings.cache_clear()
    try:
        _send_nudge(company)
        [message] = poll_queue.receive(company.realm_id, expect=1)
        assert poll_queue.run_poller(message)["batchItemFailures"]
        assert coordination.get_cursor(company.realm_id, polling.CURSOR_NAME) == cursor_before
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()  # the next test must not inherit the refusing bus
    [again] = poll_queue.receive(company.realm_id, expect=1)
    assert poll_queue.run_poller(again) == {"batchItemFailures": []}
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 2, timeout=3)] == [customer["Id"]]


def test_a_company_held_by_another_poll_is_handed_back_then_polled(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    """The cursor's hold keeps two polls of one company apart even outside the FIFO queue."""
    customer = ctl.create_customer(company.realm_id, DisplayName="Held Back")
    coordination.hold_cursor(company.realm_id, polling.CURSOR_NAME, "another-poll", 30)
    with pytest.raises(polling.PollBusy) as caught:
        polling.poll_company(company.account_id, company.realm_id)
    assert caught.value.holder == "another-poll"
    assert bus("contact.created", 1, timeout=1.0) == []

    assert coordination.release_cursor(company.realm_id, polling.CURSOR_NAME, "another-poll")
    result = polling.poll_company(company.account_id, company.realm_id)
    assert result.status == "polled" and result.contacts_published == 1
    assert [c["detail"]["qbo_customer_id"] for c in bus("contact.created", 1)] == [customer["Id"]]
    # The poll let go of its hold when it moved the cursor: the next one is not busy.
    assert polling.poll_company(company.account_id, company.realm_id).status == "polled"


def test_an_idle_poll_costs_five_writes_and_one_read(company: Company) -> None:
    """Per idle poll (now once per sweep interval, not every tick): hold the cursor (reading it), read
    the connection, take a QBO request slot, move the cursor (letting go of the hold), make the company
    due again one interval later, and add its CorePlus call to the month's tally."""
    from kyrios_qbo.store import _dynamo

    polling.poll_company(company.account_id, company.realm_id)  # the first poll sets the cursor
    operations: list[str] = []

    def record(model: Any, **_kwargs: Any) -> None:
        operations.append(model.name)

    events = _dynamo.client().meta.events
    events.register("before-call.dynamodb", record, unique_id="idle-poll-cost")
    try:
        result = polling.poll_company(company.account_id, company.realm_id)
    finally:
        events.unregister("before-call.dynamodb", unique_id="idle-poll-cost")
    assert result.status == "polled" and result.customers_seen == 0
    assert sorted(operations) == ["GetItem"] + ["UpdateItem"] * 5


def test_a_poll_that_fails_lets_go_of_the_company(ctl: Any, company: Company) -> None:
    cursor_before = coordination.get_cursor(company.realm_id, polling.CURSOR_NAME)
    ctl.inject_fault("503", count=50, path="cdc", realm=company.realm_id)
    with pytest.raises(QboError):  # QBO stays down past the deadline
        polling.poll_company(company.account_id, company.realm_id, deadline=time.time() + 3)
    ctl.clear_faults()
    assert coordination.get_cursor(company.realm_id, polling.CURSOR_NAME) == cursor_before
    assert polling.poll_company(company.account_id, company.realm_id).status == "polled"
