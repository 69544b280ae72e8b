"""Leases, claims, once-markers, cursors and the QBO rate budget against local DynamoDB (moto)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from kyrios_qbo import store
from kyrios_qbo.store import rate
from tests.sliding_windows import max_in_window

pytestmark = pytest.mark.usefixtures("local_aws")


def run_together(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released at once; results in thread order."""
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------------------------------- leases
def test_lease_is_exclusive_until_released(realm_id):
    lease = store.acquire_lease(realm_id, "token-refresh", "worker-a", 30)
    assert lease.owner == "worker-a" and lease.expires_at > time.time() + 29

    with pytest.raises(store.LeaseHeld) as caught:
        store.acquire_lease(realm_id, "token-refresh", "worker-b", 30)
    assert caught.value.holder == "worker-a"
    assert caught.value.expires_at == pytest.approx(lease.expires_at, abs=0.01)

    assert store.acquire_lease(realm_id, "poller", "worker-b", 30).owner == "worker-b"  # other name: free
    assert store.release_lease(realm_id, "token-refresh", "worker-b") is False
    assert store.release_lease(realm_id, "token-refresh", "worker-a") is True
    assert store.acquire_lease(realm_id, "token-refresh", "worker-b", 30).owner == "worker-b"


def test_expired_lease_can_be_taken_and_the_old_owner_loses_it(realm_id):
    store.acquire_lease(realm_id, "poller", "worker-a", 0.2)
    time.sleep(0.3)

    store.acquire_lease(realm_id, "poller", "worker-b", 30)

    with pytest.raises(store.LeaseLost):
        store.renew_lease(realm_id, "poller", "worker-a", 30)
    assert store.renew_lease(realm_id, "poller", "worker-b", 60).expires_at > time.time() + 59


def test_reacquiring_own_lease_extends_it(realm_id):
    first = store.acquire_lease(realm_id, "poller", "worker-a", 5)
    second = store.acquire_lease(realm_id, "poller", "worker-a", 50)
    assert second.expires_at > first.expires_at + 40


def test_lease_contention_has_one_winner(realm_id):
    def attempt(index: int) -> str:
        try:
            store.acquire_lease(realm_id, "token-refresh", f"worker-{index}", 30)
            return "won"
        except store.LeaseHeld:
            return "held"

    results = run_together(10, attempt)
    assert results.count("won") == 1


# ---------------------------------------------------------------------------------------- claims
def test_claim_is_idempotent_for_its_owner_and_held_for_others(realm_id):
    key = "customer-email:ann@example.com"
    first = store.claim(realm_id, key, "msg-1", ttl_seconds=60)
    again = store.claim(realm_id, key, "msg-1", ttl_seconds=60)
    assert again.owner == "msg-1" and again.expires_at >= first.expires_at

    with pytest.raises(store.ClaimHeld) as caught:
        store.claim(realm_id, key, "msg-2")
    assert caught.value.holder == "msg-1"
    assert store.get_claim(realm_id, key).owner == "msg-1"

    assert store.release_claim(realm_id, key, "msg-2") is False
    assert store.release_claim(realm_id, key, "msg-1") is True
    assert store.get_claim(realm_id, key) is None
    assert store.claim(realm_id, key, "msg-2").owner == "msg-2"


def test_expired_claim_can_be_taken_over(realm_id):
    store.claim(realm_id, "k", "msg-1", ttl_seconds=0.2)
    time.sleep(0.3)
    assert store.get_claim(realm_id, "k") is None
    assert store.claim(realm_id, "k", "msg-2").owner == "msg-2"


def test_concurrent_claims_have_one_winner(realm_id):
    def attempt(index: int) -> str:
        try:
            store.claim(realm_id, "customer-email:bob@example.com", f"msg-{index}")
            return "won"
        except store.ClaimHeld:
            return "held"

    assert run_together(10, attempt).count("won") == 1


# ---------------------------------------------------------------------------------------- once-markers
def test_mark_once_is_true_only_the_first_time(realm_id):
    assert store.is_marked(realm_id, "contact-published:58") is False
    assert store.mark_once(realm_id, "contact-published:58") is True
    assert store.mark_once(realm_id, "contact-published:58") is False
    assert store.is_marked(realm_id, "contact-published:58") is True
    assert store.mark_once(realm_id, "contact-published:59") is True
    store.unmark(realm_id, "contact-published:58")
    assert store.mark_once(realm_id, "contact-published:58") is True


def test_mark_once_under_concurrency(realm_id):
    results = run_together(10, lambda _i: store.mark_once(realm_id, "first-paid-reviewed:58"))
    assert results.count(True) == 1


# ---------------------------------------------------------------------------------------- cursors
def test_cursor_only_moves_forward(realm_id):
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert store.get_cursor(realm_id, "cdc") is None

    assert store.advance_cursor(realm_id, "cdc", start) is True
    assert store.advance_cursor(realm_id, "cdc", start - timedelta(seconds=1)) is False
    assert store.advance_cursor(realm_id, "cdc", start) is False
    assert store.get_cursor(realm_id, "cdc") == start
    later = start + timedelta(microseconds=1)
    assert store.advance_cursor(realm_id, "cdc", later) is True
    assert store.get_cursor(realm_id, "cdc") == later


def test_cursor_compares_times_not_offsets(realm_id):
    from datetime import timezone

    utc_noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    store.advance_cursor(realm_id, "cdc", utc_noon)
    # 13:00+02:00 is 11:00 UTC: earlier, even though its local clock reads later
    assert (
        store.advance_cursor(
            realm_id, "cdc", datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=2)))
        )
        is False
    )
    with pytest.raises(ValueError):
        store.advance_cursor(realm_id, "cdc", datetime(2026, 1, 2))


def test_a_cursor_hold_reads_the_cursor_and_is_let_go_by_moving_it(realm_id):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert store.hold_cursor(realm_id, "cdc", "run-a", 30) is None
    with pytest.raises(store.LeaseHeld):
        store.hold_cursor(realm_id, "cdc", "run-b", 30)
    assert store.get_cursor(realm_id, "cdc") is None  # a hold alone is no position
    assert store.advance_cursor(realm_id, "cdc", start, release="run-a") is True
    assert store.hold_cursor(realm_id, "cdc", "run-b", 30) == start
    # A cursor that cannot move (already there) still lets go of the hold.
    assert store.advance_cursor(realm_id, "cdc", start, release="run-b") is False
    assert store.hold_cursor(realm_id, "cdc", "run-c", 30) == start
    assert store.cursor_moved_at(realm_id, "cdc") is not None
    # A run whose hold was taken over moves nothing.
    assert store.advance_cursor(realm_id, "cdc", start + timedelta(hours=1), release="run-a") is False
    assert store.get_cursor(realm_id, "cdc") == start


# ---------------------------------------------------------------------------------------- rate budget
def _interval() -> float:
    return rate.Spacing.scaled().interval


def _reserve(realm_id: str, max_wait: float) -> tuple[float | None, float]:
    """(the wait the budget answered, the slot it stands for on this clock): slots are absolute, so
    they are compared, not waits that shrink by however long each call took on a loaded machine."""
    asked_at = time.time()
    wait = store.reserve_qbo_request(realm_id, max_wait=max_wait)
    return wait, asked_at + (wait or 0.0)


def test_rate_budget_grants_its_burst_then_spaces_slots(realm_id):
    answers = [_reserve(realm_id, max_wait=5) for _ in range(rate.BURST + 2)]
    assert [wait for wait, _ in answers[: rate.BURST]] == [0.0] * rate.BURST
    # The third and fourth callers are queued one and two intervals behind the first slot.
    first = answers[0][1]
    assert answers[rate.BURST][0] > 0 and answers[rate.BURST + 1][0] > 0
    assert answers[rate.BURST][1] - first == pytest.approx(_interval(), abs=0.05)
    assert answers[rate.BURST + 1][1] - first == pytest.approx(2 * _interval(), abs=0.05)


def test_rate_budget_refuses_without_reserving_when_the_caller_cannot_wait(realm_id):
    first = _reserve(realm_id, max_wait=5)[1]
    for _ in range(rate.BURST - 1):
        assert store.reserve_qbo_request(realm_id, max_wait=5) == 0.0
    assert store.reserve_qbo_request(realm_id, max_wait=0.0) is None
    assert store.reserve_qbo_request(realm_id, max_wait=0.0) is None
    # The refusals took nothing: the next caller that can wait is first in line.
    assert _reserve(realm_id, max_wait=5)[1] - first == pytest.approx(_interval(), abs=0.05)


def test_an_idle_company_grants_at_once_again(realm_id):
    for _ in range(rate.BURST + 1):
        store.reserve_qbo_request(realm_id, max_wait=5)
    time.sleep(3 * _interval() + 0.05)
    assert store.reserve_qbo_request(realm_id, max_wait=0.0) == 0.0


def test_rate_budget_never_grants_more_than_qbo_allows_under_concurrency(realm_id):
    """8 threads take slots as fast as they are given for 1.5 s: every 1-second window of granted slots
    holds at most 10, and the budget is actually used."""
    started = time.time()
    slots: list[float] = []
    lock = threading.Lock()

    def hammer(_index: int) -> None:
        while time.time() < started + 1.5:
            asked = time.time()
            wait = store.reserve_qbo_request(realm_id, max_wait=1.0)
            if wait is None:
                continue
            with lock:
                slots.append(asked + wait)
            time.sleep(wait)

    run_together(8, hammer)
    slots.sort()
    assert max_in_window(slots, 1.0) <= rate.PER_SECOND
    assert len(slots) >= rate.BURST + rate.RATE * 1.0


def test_a_reservation_costs_one_write_and_no_read(realm_id):
    """The budget is paid per QBO call: once the container knows the company is busy, each slot is
    one conditional UpdateItem (and never a read)."""
    calls: list[str] = []
    events = store._dynamo.client().meta.events
    handler_id = "count-rate-calls"

    def count(model, **_kwargs) -> None:
        calls.append(model.name)

    events.register("before-call.dynamodb", count, unique_id=handler_id)
    try:
        for _ in range(6):
            assert store.reserve_qbo_request(realm_id, max_wait=5) is not None
    finally:
        events.unregister("before-call.dynamodb", unique_id=handler_id)
    assert set(calls) == {"UpdateItem"}
    assert len(calls) <= 6 + 1  # at most one guess of the company's state is wrong


def test_a_compressed_clock_spaces_slots_closer(realm_id):
    waits = [store.reserve_qbo_request(realm_id, max_wait=5, time_scale=0.1) for _ in range(rate.BURST + 1)]
    assert waits[rate.BURST] == pytest.approx(0.1 / rate.RATE, abs=0.02)


def test_wait_for_a_slot_sleeps_until_it(realm_id):
    for _ in range(rate.BURST):
        assert store.wait_for_qbo_request(realm_id, max_wait=2) is True
    before = time.monotonic()
    assert store.wait_for_qbo_request(realm_id, max_wait=2) is True
    assert time.monotonic() - before >= _interval() * 0.5
    # Two more are already queued behind it: with no time to wait, the next caller is refused.
    store.reserve_qbo_request(realm_id, max_wait=2)
    store.reserve_qbo_request(realm_id, max_wait=2)
    assert store.wait_for_qbo_request(realm_id, max_wait=0) is False


