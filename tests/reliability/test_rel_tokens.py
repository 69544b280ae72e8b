"""Token races: many calls find the access token expired at once → one refresh; the refresh token
rotates several times while work flows, and nothing stops or needs a reconnect."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.runner import LocalBundle
from tests.integration.pusher.conftest import invoice_event
from tests.reliability.harness import (
    Counts,
    Profile,
    connect_company,
    disconnect,
    eventually,
    grant_rotations,
)
from tests.reliability.workload import Workload, audit, qbo_state_done


@pytest.fixture(autouse=True)
def strict_rotation(stack: LocalBundle) -> Iterator[None]:
    """Both tests count rotations (``grant_rotations``): a new refresh token on every refresh (Intuit
    keeps one value for ~24 h, the emulator's default)."""
    stack.emulator.control.config(refresh_rotation="strict")
    yield
    stack.emulator.control.config(refresh_rotation="daily")


def _record(stack: LocalBundle, event: dict[str, Any]) -> dict[str, Any]:
    """One SQS record, as the push queue's event source mapping builds it."""
    message = {"MessageId": str(uuid.uuid4()), "ReceiptHandle": uuid.uuid4().hex, "Body": json.dumps(event)}
    return stack.poller("PusherFunction").record(message)


def test_concurrent_calls_with_an_expired_token_refresh_once(
    stack: LocalBundle, counts: Counts, reliability_profile: Profile
) -> None:
    company = connect_company(stack, "GB", "race")
    from tests.reliability.workload import _lines

    events = [
        invoice_event(
            company.account_id,
            currency="GBP",
            lines=_lines(1),
            customer_={"full_name": f"Racer {n}", "email": f"racer{n}-{company.realm_id}@example.com"},
        )
        for n in range(reliability_profile.n(8))
    ]
    # Only the pushers race here: the customers they create would make QBO's webhooks start a poll
    # whose own token use lands in the middle of the count; the poller's refreshes are covered by the
    # rotation test below and by tests/integration/test_tokens.py.
    control = stack.emulator.control
    control.webhook_switches(enabled=False)
    assert control.invalidate_tokens("access", realm=company.realm_id) >= 1
    rotations = grant_rotations(stack, company.realm_id)
    start = threading.Barrier(len(events))
    answers: list[Any] = []

    def push(event: dict[str, Any]) -> None:
        start.wait()
        answers.append(stack.invoke("PusherFunction", {"Records": [_record(stack, event)]}))

    threads = [threading.Thread(target=push, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for thread in threads:
        thread.join(60)
    seconds = time.monotonic() - started
    control.webhook_switches(enabled=True)
    refreshes = grant_rotations(stack, company.realm_id) - rotations
    counts.add("token_refreshes", refreshes)
    numbers = {e["detail"]["invoice"]["number"] for e in events}
    in_qbo = [i for i in company.user.entities("Invoice") if i.get("DocNumber") in numbers]
    status = company.ui.status()
    disconnect(company)

    still_running = len(events) - len(answers)
    assert still_running == 0, f"{still_running} pushes still running after {seconds:.0f} s"
    assert all(a == {"batchItemFailures": []} for a in answers), answers
    assert refreshes == 1, f"{len(events)} concurrent calls with an expired token → {refreshes} refreshes"
    assert len(in_qbo) == len(events)
    assert status["status"] == "connected"


def test_work_keeps_flowing_while_the_refresh_token_rotates(
    stack: LocalBundle, rng: random.Random, counts: Counts, reliability_profile: Profile
) -> None:
    from local.demo_steps.actors import BusListener

    control = stack.emulator.control
    bus = BusListener(stack.client("sqs"), stack.client("events"), stack.resources.event_bus_name)
    pusher = stack.poller("PusherFunction")
    acknowledged_before = pusher.stats.deleted
    # Tokens that live 5 min 3 s: the bundle refreshes 3 s after it got one (its margin is 5 minutes).
    # Before every round the emulator's clock also jumps an hour, so the token the bundle holds is
    # refused (401) at its next call, whatever the timing: each round forces at least one rotation.
    # Rounds wait for their own work, so a slow machine cannot merge two rounds into one refresh.
    control.config(access_ttl_seconds=303)
    rounds = reliability_profile.n(4)
    try:
        company = connect_company(stack, "GB", "rotate")
        rotations = grant_rotations(stack, company.realm_id)
        work = Workload(stack, company, rng, counts)
        for _round in range(rounds):
            control.advance_clock(3600)
            work.send_invoices(2)
            eventually(lambda: qbo_state_done(stack, work.ledger), 60)
        stack.wait_idle(timeout=30)
    finally:
        control.config(access_ttl_seconds=3600)
    refreshes = grant_rotations(stack, company.realm_id) - rotations
    counts.add("token_refreshes", refreshes)
    result = audit(stack, work.ledger, bus, counts, pusher.stats.deleted - acknowledged_before)
    status = company.ui.status()
    live = [g for g in control.grants() if g["realm"] == company.realm_id and not g["revoked"]]
    disconnect(company)
    bus.close()

    assert refreshes >= rounds, f"the refresh token rotated {refreshes} times in {rounds} rounds"
    assert result.problems == [], f"parked: {result.parked}"
    assert status["status"] == "connected" and len(live) == 1
