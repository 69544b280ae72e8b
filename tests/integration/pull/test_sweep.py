"""The safety sweep: the schedule nudges only companies that are due, continues where it stopped,
and spreads the month's CorePlus budget (local AWS + the emulator, through the real handler)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kyrios_qbo import polling, sweep, webhook_signals
from kyrios_qbo.config import get_settings
from kyrios_qbo.store import _dynamo, connections, sweep_signals
from kyrios_qbo.store import sweep as sweep_store
from kyrios_qbo.webhooks import expected_signature
from local.qbo_emulator import DEFAULT_VERIFIER_TOKEN

from .support import Company, PollQueue, call_webhook, tick

DAY = 86_400.0
HOUR = 3_600.0


@pytest.fixture(autouse=True)
def fresh_sweep_state(local_aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shard watermarks, the plan and the signals are app-wide: every test starts a lap of its own.
    Tests jump days ahead without any webhook: unless a test is about silence, the stream counts as
    silent only after 30 days, so they see the normal plan."""

    def wipe() -> None:
        keys = [_dynamo.key(f"SWEEP#{shard}", "STATE") for shard in range(sweep_store.SHARDS)]
        keys.append(_dynamo.key(sweep_store.PLAN_PK, "PLAN"))
        keys.append(_dynamo.key(sweep_signals.SIGNALS_PK, "SIGNALS"))
        for key in keys:
            _dynamo.client().delete_item(TableName=_dynamo.table_name(), Key=key)
        sweep._cached_interval = None
        webhook_signals._last_noted = 0.0

    monkeypatch.setenv("WEBHOOK_SILENCE_MINUTES", str(30 * 1440))
    get_settings.cache_clear()
    wipe()
    yield
    wipe()
    monkeypatch.undo()
    get_settings.cache_clear()


def _silence_window(monkeypatch: pytest.MonkeyPatch, minutes: int) -> None:
    monkeypatch.setenv("WEBHOOK_SILENCE_MINUTES", str(minutes))
    get_settings.cache_clear()


def _connected(n: int) -> list[tuple[str, str]]:
    """``n`` connections written through the store (no OAuth dance: the sweep never calls QBO)."""
    made = []
    for _ in range(n):
        account, realm = f"acct-{uuid.uuid4().hex[:12]}", str(9_000_000_000 + uuid.uuid4().int % 10**9)
        tokens = connections.EncryptedTokens(b"a", b"r", time.time() + 3600, time.time() + 86400)
        connections.connect(account, realm, connections.CompanyInfo(), tokens)
        made.append((account, realm))
    return made


def _nudged(
    poll_queue: PollQueue, realms: set[str], *, timeout: float = 2.0, continuations: list[Any] | None = None
) -> list[str]:
    """Realms of the nudges now on the queue among ``realms``; the sweep's continuations go to
    ``continuations`` when given (every other message read is deleted)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = poll_queue.sqs.receive_message(
            QueueUrl=poll_queue.url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        for message in messages:
            group = message["Attributes"]["MessageGroupId"]
            if group == sweep.CONTINUATION_GROUP and continuations is not None:
                continuations.append(message)
                continue
            if group in realms:
                seen.append(group)
            poll_queue.sqs.delete_message(QueueUrl=poll_queue.url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            time.sleep(0.2)
    return seen


def test_a_polled_company_is_not_swept_until_its_interval_has_passed(
    company: Company, poll_queue: PollQueue
) -> None:
    realms = {company.realm_id}
    assert tick()["nudged"] >= 1  # connecting makes a company due at once
    assert _nudged(poll_queue, realms) == [company.realm_id]
    assert polling.poll_company(company.account_id, company.realm_id).status == "polled"

    assert _nudged(poll_queue, realms, timeout=0.5) == []
    tick()
    assert _nudged(poll_queue, realms) == []  # polled moments ago: no poll of any kind for a day
    sweep.run_tick(now=time.time() + DAY - 120)
    assert _nudged(poll_queue, realms) == []
    sweep.run_tick(now=time.time() + DAY + 120)
    assert _nudged(poll_queue, realms) == [company.realm_id]


def test_disconnected_and_needs_reconnect_companies_leave_the_due_index(poll_queue: PollQueue) -> None:
    (gone, needs, stays) = _connected(3)
    connections.disconnect(gone[0])
    connections.mark_needs_reconnect(needs[0], "invalid_grant")
    assert sweep_store.schedule(gone[0], gone[1], time.time()) is False  # a late poll cannot re-add it
    sweep.run_tick()
    assert _nudged(poll_queue, {gone[1], needs[1], stays[1]}) == [stays[1]]


def test_a_tick_out_of_time_hands_over_to_a_continuation_and_nobody_is_starved(
    poll_queue: PollQueue,
) -> None:
    made = _connected(23)
    realms = {realm for _, realm in made}
    calls = iter(range(1000))

    def three_pages_then_out_of_time() -> int:
        return 60_000 if next(calls) < 4 else 1_000

    first = sweep.run_tick(remaining_ms=three_pages_then_out_of_time, page_size=5)
    assert first.continued and 0 < first.nudged <= 15
    continuations: list[Any] = []
    before = _nudged(poll_queue, realms, continuations=continuations)
    (continuation,) = continuations
    assert poll_queue.run_poller(continuation) == {"batchItemFailures": []}  # the poller runs the tick
    after = _nudged(poll_queue, realms)
    assert sorted(before + after) == sorted(realms)  # each exactly once: continued, nobody starved
    sweep.run_tick()
    assert _nudged(poll_queue, realms, timeout=0.5) == []  # nudged, not yet polled, lap not over


def test_an_old_lap_starts_again_and_re_nudges_companies_whose_poll_never_succeeded(
    poll_queue: PollQueue,
) -> None:
    ((_, realm),) = _connected(1)
    sweep.run_tick()
    assert _nudged(poll_queue, {realm}) == [realm]
    sweep.run_tick(now=time.time() + sweep.LAP_SECONDS / 2)
    assert _nudged(poll_queue, {realm}, timeout=0.5) == []
    sweep.run_tick(now=time.time() + sweep.LAP_SECONDS + 60)
    assert _nudged(poll_queue, {realm}) == [realm]


@pytest.mark.parametrize(
    ("companies", "used", "interval_h", "shortfall"),
    [
        (1_000, 0, 24.0, False),  # 31,000 sweeps a month fit easily: the configured day
        (15_000, 0, 24.0, False),  # ~465,000: still fits 95 % of 500,000
        (15_000, 300_000, 24.0, True),  # a heavy first half: even a day no longer fits
        (100_000, 0, 24.0, True),  # 3.1 M a month: raise the tier (early alarm), still swept daily
    ],
)
def test_the_interval_spreads_what_is_left_of_the_budget(
    companies: int, used: int, interval_h: float, shortfall: bool
) -> None:
    now = 1_767_225_600.0  # 2026-01-01T00:00Z: a whole 31-day month ahead
    plan = sweep.plan_interval(
        companies=companies, used=used, budget=500_000, now=now, base_seconds=DAY, max_seconds=DAY
    )
    assert (round(plan.interval_seconds / 3600, 1), plan.shortfall) == (interval_h, shortfall)


def test_the_interval_stretches_up_to_the_maximum_before_alarming() -> None:
    now = 1_767_225_600.0
    hourly = dict(base_seconds=3600.0, max_seconds=DAY, budget=500_000, now=now, used=0)
    assert sweep.plan_interval(companies=100, **hourly).interval_seconds == 3600.0  # 74,400 fit
    stretched = sweep.plan_interval(companies=5_000, **hourly)
    assert 3600.0 < stretched.interval_seconds < DAY and not stretched.shortfall
    assert 5_000 * 31 * DAY / stretched.interval_seconds <= 0.95 * 500_000 + 1
    assert sweep.plan_interval(companies=20_000, **hourly).shortfall


def test_the_tick_plans_with_the_pollers_tally_and_stores_the_interval(company: Company) -> None:
    assert polling.poll_company(company.account_id, company.realm_id).status == "polled"
    used = sweep_store.month_usage(time.time())
    assert used >= 1  # the poll's CDC call was added to the month's CorePlus tally
    tick()
    plan = sweep_store.get_plan()
    assert plan is not None and plan.companies >= 1
    assert plan.interval_seconds == 1440 * 60


def test_connections_made_before_the_due_index_existed_are_enrolled_and_swept(poll_queue: PollQueue) -> None:
    """An upgrade: connection items written by the previous release carry no ``gsi2`` keys."""
    made = _connected(3)
    for account, _ in made:  # as the previous release wrote them
        _dynamo.client().update_item(
            TableName=_dynamo.table_name(),
            Key=_dynamo.key(_dynamo.account_pk(account), connections.CONNECTION_SK),
            UpdateExpression="REMOVE gsi2pk, gsi2sk",
        )
    realms = {realm for _, realm in made}

    tick()  # the plan is counted afresh (no stored plan): the missing ones are found and enrolled
    assert sorted(_nudged(poll_queue, realms)) == sorted(realms)
    assert sweep_store.enrol_missing(time.time()) == 0  # nothing left to enrol


def test_an_unreadable_signed_webhook_hands_every_company_to_the_sweep(
    qbo: Any, poll_queue: PollQueue
) -> None:
    """At 100,000 companies nudging everyone would outlive the webhook's timeout: the webhook stores
    "everyone not polled since now is due" and queues one continuation; the sweep does the paging."""
    made = _connected(3)
    realms = {realm for _, realm in made}
    for account, realm in made:
        sweep.after_poll(account, realm)  # polled moments ago: not due for a day
    sweep.run_tick()
    assert _nudged(poll_queue, realms, timeout=0.5) == []
    raw = b"[" * 5000 + b"]" * 5000  # signed, unreadable, names no company

    answer = call_webhook(raw, {"intuit-signature": expected_signature(raw, DEFAULT_VERIFIER_TOKEN)})

    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {
        "nudged": 0, "ignored": 0, "echoes": 0, "unreadable": True, "swept": True
    }
    continuations: list[Any] = []
    assert _nudged(poll_queue, realms, continuations=continuations) == []  # the webhook nudged nobody
    (continuation,) = continuations  # one message, whatever the number of companies
    assert poll_queue.run_poller(continuation) == {"batchItemFailures": []}
    assert sorted(_nudged(poll_queue, realms)) == sorted(realms)
    polled_since, polled_realm = made[0]
    sweep.after_poll(polled_since, polled_realm, now=time.time() + 60)
    sweep.run_tick(now=time.time() + sweep.LAP_SECONDS + 120)  # a new lap: only those not polled since
    assert sorted(_nudged(poll_queue, realms)) == sorted(realms - {polled_realm})


def test_silent_webhooks_tighten_the_sweep_and_a_delivery_relaxes_it(
    qbo: Any, company: Company, poll_queue: PollQueue, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _silence_window(monkeypatch, 120)
    realms = {company.realm_id}
    assert polling.poll_company(company.account_id, company.realm_id).status == "polled"
    started = time.time()
    normal = tick()  # through the handler: webhooks are not silent yet, the polled company not due
    assert (normal["webhooks_silent"], normal["effective_interval_minutes"]) == (False, 1440.0)
    assert _nudged(poll_queue, realms, timeout=0.5) == []

    with caplog.at_level(logging.INFO):
        silent = sweep.run_tick(now=started + 3 * HOUR)  # three hours without a verified delivery
    assert silent.webhooks_silent and silent.effective_interval_seconds == HOUR
    assert _nudged(poll_queue, realms) == [company.realm_id]  # polled 3 h ago: due under the tight plan
    assert "webhook stream silent: sweep tightened" in caplog.text
    assert sweep_store.get_plan().interval_seconds == DAY  # polls still schedule by the normal plan

    caplog.clear()
    webhook_signals.note_webhook(now=started + 3 * HOUR + 60)  # what the webhook function does on a delivery
    with caplog.at_level(logging.INFO):
        resumed = sweep.run_tick(now=started + 3 * HOUR + 120)
    assert not resumed.webhooks_silent and resumed.effective_interval_seconds == DAY
    assert "webhooks resumed: sweep relaxed" in caplog.text


def test_a_verified_delivery_is_recorded_for_the_silence_watch(qbo: Any, company: Company) -> None:
    before = time.time()
    raw = json.dumps({"eventNotifications": [{"realmId": company.realm_id}]}).encode()
    forged = call_webhook(raw, {"intuit-signature": "AAAA"})
    assert forged["statusCode"] == 401
    assert sweep_signals.read().last_webhook_at is None  # a forged delivery proves nothing

    answer = call_webhook(raw, {"intuit-signature": expected_signature(raw, DEFAULT_VERIFIER_TOKEN)})

    assert answer["statusCode"] == 200, answer
    heard = sweep_signals.read().last_webhook_at
    assert heard is not None and heard >= before
