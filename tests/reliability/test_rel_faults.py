"""Faults and outages: a mixed workload while QBO fails at random and the pusher is killed mid-batch,
then QBO unreachable for "10 minutes". At the end every Kyrios document is in QBO exactly once and in
its newest state, every QBO contact reached Kyrios exactly once, and no message was lost.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from local.demo_steps.actors import BusListener
from local.runner import LocalBundle
from tests.reliability.conftest import INJECTED_TIMEOUT_SECONDS
from tests.reliability.harness import (
    Counts,
    FaultInjector,
    Profile,
    PusherKiller,
    connect_company,
    disconnect,
    eventually,
    settle,
)
from tests.reliability.workload import Workload, audit, import_progress, qbo_state_done

OUTAGE_SECONDS = 2.5
"""Real seconds QBO is down: "10 minutes" when a failed push waits 3 s for SQS instead of 720 s."""
OUTAGE_RETRY_SECONDS = 3


@pytest.fixture
def bus(stack: LocalBundle) -> Iterator[BusListener]:
    listener = BusListener(stack.client("sqs"), stack.client("events"), stack.resources.event_bus_name)
    yield listener
    listener.close()


def _abandoned_pushes_finished(timeout: float) -> bool:
    return bool(
        eventually(
            lambda: not any(t.name == "pusher-abandoned" and t.is_alive() for t in threading.enumerate()),
            timeout,
        )
    )


def _wait_for_the_work(stack: LocalBundle, work: Workload, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    eventually(lambda: qbo_state_done(stack, work.ledger), timeout)
    _abandoned_pushes_finished(max(1.0, deadline - time.monotonic()))
    settle(stack, timeout=max(1.0, deadline - time.monotonic()))


def _wait_for_contacts(bus: BusListener, work: Workload, timeout: float) -> None:
    realm = work.ledger.company.realm_id

    def arrived() -> bool:
        seen = {
            str(d.get("qbo_customer_id"))
            for d in bus.events_of("contact.created", lambda d: d.get("realm_id") == realm)
        }
        return work.ledger.qbo_user_customers <= seen

    eventually(arrived, timeout)
    time.sleep(2.5)  # two more schedule ticks: a duplicate would show up now


def _poll_diagnosis(stack: LocalBundle, realm_id: str) -> dict[str, object]:
    """What the contact poller did for the company (shown when contacts are missing)."""
    polls = [
        call.result for call in stack.invocations_of("ContactPollerFunction") if realm_id in str(call.event)
    ]
    return {
        "poll_dlq": stack.queue_depth("PollDeadLetterQueue"),
        "poll_queue": stack.queue_depth("PollQueue"),
        "poll_invocations": len(polls),
        "last_results": polls[-3:],
        "poller_errors": [c.error for c in stack.invocations_of("ContactPollerFunction") if c.error][-3:],
    }


def test_mixed_workload_under_random_faults_and_pusher_kills(
    stack: LocalBundle, bus: BusListener, rng: random.Random, counts: Counts, reliability_profile: Profile
) -> None:
    p = reliability_profile
    company = connect_company(stack, "GB", "faults")
    work = Workload(stack, company, rng, counts)
    faults = FaultInjector(stack, rng, counts, INJECTED_TIMEOUT_SECONDS)
    pusher = stack.poller("PusherFunction")
    acknowledged_before = pusher.stats.deleted
    try:
        with PusherKiller(stack, rng, rate=0.25, counts=counts):
            work.seed_history(p.n(6))
            faults.batch(p.n(3), company.realm_id)
            work.create_qbo_customers(p.n(2))
            faults.batch(p.n(3), company.realm_id)
            work.send_invoices(p.n(4))
            work.start_import()
            faults.batch(p.n(3), company.realm_id)
            work.send_payments(p.n(3))
            work.create_qbo_customers(p.n(1))
            faults.batch(p.n(3), company.realm_id)
            work.send_invoices(p.n(2))
            progress = import_progress(company, str(work.ledger.import_job), timeout=60)
            _wait_for_the_work(stack, work, timeout=90)
        _wait_for_contacts(bus, work, timeout=30)
        settle(stack, timeout=30)
        counts.add("faults_hit", faults.hit())
        counts.add("faults_never_hit", faults.waiting())
    finally:
        stack.emulator.control.clear_faults()
    result = audit(stack, work.ledger, bus, counts, pusher.stats.deleted - acknowledged_before)
    poll_diagnosis = _poll_diagnosis(stack, company.realm_id)
    disconnect(company)

    assert progress.get("state") == "succeeded", progress
    assert result.problems == [], f"parked: {result.parked}; polls: {poll_diagnosis}"
    assert result.duplicates == 0 and result.missing == 0


def test_qbo_unreachable_for_ten_minutes_then_everything_completes(
    stack: LocalBundle, bus: BusListener, rng: random.Random, counts: Counts, reliability_profile: Profile
) -> None:
    p = reliability_profile
    control = stack.emulator.control
    company = connect_company(stack, "GB", "outage")
    work = Workload(stack, company, rng, counts)
    pusher = stack.poller("PusherFunction")
    acknowledged_before, failed_before = pusher.stats.deleted, pusher.stats.failed
    retry_after = pusher.failure_visibility
    pusher.failure_visibility = OUTAGE_RETRY_SECONDS
    try:
        # Everything QBO and Intuit answer fails: reads with 503, the rest with a dropped connection.
        control.inject_fault("503", count=1_000_000, path=r"/query|/cdc")
        control.inject_fault("reset", count=1_000_000)
        down_at = time.monotonic()
        work.send_invoices(p.n(4))
        work.send_payments(p.n(2))
        control.advance_clock(600)  # the emulator lives the ten minutes
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        refused = sum(int(rule["hits"]) for rule in control.faults())
        done_during_outage = qbo_state_done(stack, work.ledger)
        control.clear_faults()
        _wait_for_the_work(stack, work, timeout=60)
        redelivered = pusher.stats.failed - failed_before
        counts.add("outage_redeliveries", redelivered)
        counts.add("faults_hit", refused)
    finally:
        control.clear_faults()
        pusher.failure_visibility = retry_after
    result = audit(stack, work.ledger, bus, counts, pusher.stats.deleted - acknowledged_before)
    disconnect(company)

    assert refused > 0 and not done_during_outage, "QBO was really down"
    assert redelivered > 0, "pushes that failed during the outage went back to the queue and were redelivered"
    assert result.problems == [], f"parked: {result.parked}"
    assert counts.values["messages_dead_lettered"] == 0, "nothing was parked: the work waited and completed"
