"""The safety sweep: webhooks drive the polls; the schedule only looks at companies nobody polled lately.

Intuit meters every CDC call (CorePlus, :mod:`kyrios_qbo.metering`), so the schedule no longer
polls every company every tick. A company is *due* when it was not polled for the sweep interval;
every successful poll — a webhook's or the sweep's — makes it due again one interval later
(:func:`after_poll`), so a company with webhook traffic is never swept at all, and an idle one costs
one CDC per interval. The tick (:func:`run_tick`):

1. plans the interval (:func:`plan_interval`): ``SafetySweepInterval``, stretched up to
   ``SafetySweepMaxInterval`` when what is left of ``CorePlusMonthlyBudget`` spread over the rest of
   the month and the connected companies cannot pay for it; when even the maximum does not fit it
   says so (metric ``SweepBudgetShortfall`` and an error log: the tier must be raised) and still
   sweeps every company at the maximum — nobody is skipped silently;
2. per shard of the due index (store.sweep), under the shard's hold, nudges the due companies in
   due order after the shard's watermark, a page at a time, and stores the watermark: the next tick
   continues where this one stopped. A lap that is older than :data:`LAP_SECONDS` and caught up
   starts again from the beginning, which re-nudges companies whose poll failed meanwhile;
3. near its deadline, stops, and puts a *continuation* on the poll queue (its own message group):
   the poller runs the tick again at once instead of waiting for the schedule.

Two signals move the tick's cutoff (``store.sweep_signals``), both in constant time for whoever
raises them:

* **sweep everyone** (:func:`kyrios_qbo.webhook_signals.sweep_everyone`): a signed webhook we
  cannot read that names no company stores "every company due by now + interval is due now" (= not
  polled since) and puts one continuation on the queue; the tick does the paging, a page at a time,
  continuing as above;
* **silent webhooks**: when no verified delivery arrived for ``WebhookSilenceWindow`` while companies
  are connected (our endpoint down, Intuit stalled), the tick sweeps every company not polled for
  ``SilentSweepInterval`` (stretched by the same budget rule, never looser than the normal plan):
  the cutoff moves forward by the difference, so due times stay in normal-interval terms and a
  company polled meanwhile is never nudged twice. A delivery ends it
  (:func:`kyrios_qbo.webhook_signals.note_webhook`). Metric ``WebhooksSilent`` and one log line per
  change of state say so.

The tick never calls QuickBooks; nudged companies are polled one FIFO message group each.
"""

from __future__ import annotations

import calendar
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kyrios_qbo import metering, nudges
from kyrios_qbo.config import get_settings
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.store import sweep as store
from kyrios_qbo.store import sweep_signals as signals_store
from kyrios_qbo.store.errors import LeaseHeld

PAGE_SIZE = 100
HOLD_SECONDS = 120.0
"""Longer than a tick can run (the poller's 60 s timeout)."""
LAP_SECONDS = 3600.0
CONTINUE_MARGIN_MS = 10_000
"""Stop paging with this much time left, store the watermark and hand over to a continuation."""
COUNT_REFRESH_SECONDS = 3600.0
SWEEP_SHARE = 0.95
"""The part of the month's budget the sweep may plan with; the rest is headroom for webhook polls,
pushes and imports (the 80 % alarm watches the whole)."""
PLAN_CACHE_SECONDS = 300.0
CONTINUATION_KIND = "sweep-continuation"
CONTINUATION_GROUP = "sweep"


@dataclass(frozen=True)
class IntervalPlan:
    interval_seconds: float
    shortfall: bool
    """Even the maximum interval does not fit the budget."""
    needed_seconds: float
    """The interval the budget would need (may exceed the maximum)."""


def month_seconds_left(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    end = datetime(moment.year, moment.month, days, tzinfo=UTC).timestamp() + 86_400
    return max(1.0, end - now)


def plan_interval(
    *, companies: int, used: int, budget: int, now: float, base_seconds: float, max_seconds: float
) -> IntervalPlan:
    """The sweep interval that spreads what is left of the month's budget over the companies."""
    if companies <= 0:
        return IntervalPlan(base_seconds, False, 0.0)
    available = budget * SWEEP_SHARE - used
    needed = float("inf") if available <= 0 else companies * month_seconds_left(now) / available
    interval = min(max(base_seconds, needed), max(max_seconds, base_seconds))
    return IntervalPlan(interval, needed > max(max_seconds, base_seconds), needed)


def refresh_plan(now: float) -> tuple[IntervalPlan, int, int]:
    """Plan the interval for this tick and store it for the pollers; (plan, companies, used).
    The stored interval is always the normal one (silence only moves the tick's cutoff)."""
    settings = get_settings()
    stored = store.get_plan()
    if stored is None or now - stored.companies_counted_at > COUNT_REFRESH_SECONDS:
        companies, counted_at = store.count_connected(), now
        if store.count_due() < companies:  # connected before the index existed, or a lost write
            enrolled = store.enrol_missing(now)
            logger.info("connected companies added to the sweep's due index", extra={"enrolled": enrolled})
    else:
        companies, counted_at = stored.companies, stored.companies_counted_at
    used = store.month_usage(now)
    budget = settings.coreplus_monthly_budget
    plan = plan_interval(
        companies=companies,
        used=used,
        budget=budget,
        now=now,
        base_seconds=settings.safety_sweep_interval_minutes * 60.0,
        max_seconds=settings.safety_sweep_max_interval_minutes * 60.0,
    )
    store.save_plan(store.Plan(plan.interval_seconds, companies, counted_at))
    _gauge("CorePlusBudgetUsedPercent", 100.0 * used / budget, "Percent")
    _gauge("SweepIntervalMinutes", plan.interval_seconds / 60.0, "Count")
    _gauge("SweepBudgetShortfall", 1.0 if plan.shortfall else 0.0, "Count")
    if plan.shortfall:
        logger.error(
            "CorePlus budget cannot hold a sweep of every company even at the maximum interval",
            extra={"companies": companies, "used": used, "budget": budget,
                   "needed_minutes": round(plan.needed_seconds / 60.0, 1),
                   "max_minutes": settings.safety_sweep_max_interval_minutes},
        )
    return plan, companies, used


@dataclass(frozen=True)
class Cutoff:
    due_by: float
    """The tick nudges every company due by this time (epoch seconds, due-time terms)."""
    silent: bool
    effective_interval_seconds: float


def plan_cutoff(now: float, plan: IntervalPlan, companies: int, used: int) -> Cutoff:
    """Where this tick's due cutoff lies: now, moved forward while webhooks are silent and up to a
    stored "sweep everyone" (module docstring)."""
    settings = get_settings()
    signals = signals_store.read()
    if signals.watch_started_at is None:
        signals_store.start_watch(now)
    heard = max(signals.last_webhook_at or 0.0, signals.watch_started_at or now)
    silence = now - heard
    silent = companies > 0 and silence > settings.webhook_silence_minutes * 60.0
    interval = plan.interval_seconds
    if silent:
        tight = plan_interval(
            companies=companies,
            used=used,
            budget=settings.coreplus_monthly_budget,
            now=now,
            base_seconds=min(settings.silent_sweep_interval_minutes * 60.0, plan.interval_seconds),
            max_seconds=plan.interval_seconds,
        )
        interval = min(tight.interval_seconds, plan.interval_seconds)
    if silent != signals.silent:
        signals_store.set_silent(silent)
        details = {"silent_minutes": round(silence / 60.0, 1), "companies": companies,
                   "interval_minutes": round(interval / 60.0, 1)}
        if silent:
            logger.warning("webhook stream silent: sweep tightened", extra=details)
        else:
            logger.info("webhooks resumed: sweep relaxed", extra=details)
    _gauge("WebhooksSilent", 1.0 if silent else 0.0, "Count")
    _gauge("SweepEffectiveIntervalMinutes", interval / 60.0, "Count")
    due_by = max(now + (plan.interval_seconds - interval), signals.advance_until or 0.0)
    return Cutoff(due_by, silent, interval)


_cached_interval: tuple[float, float] | None = None  # (interval seconds, read at)


def current_interval(now: float) -> float:
    """The interval the last tick planned (cached per container), or the configured one."""
    global _cached_interval
    if _cached_interval is None or now - _cached_interval[1] > PLAN_CACHE_SECONDS:
        plan = store.get_plan()
        base = get_settings().safety_sweep_interval_minutes * 60.0
        _cached_interval = (plan.interval_seconds if plan else base, now)
    return _cached_interval[0]


def after_poll(account_id: str, realm_id: str, *, now: float | None = None) -> None:
    """A successful poll: due again one interval from now; its CorePlus calls join the month's tally.
    Never fails the poll (its work is done): at worst the company is swept once more than needed."""
    at = time.time() if now is None else now
    try:
        store.schedule(account_id, realm_id, at + current_interval(at))
        store.add_usage(realm_id, metering.take("CorePlus"), at)
    except Exception as exc:
        logger.warning("could not reschedule the sweep", extra={"realm_id": realm_id, "error": str(exc)})


@dataclass
class TickResult:
    nudged: int = 0
    pages: int = 0
    shards_busy: int = 0
    continued: bool = False
    max_lag_seconds: float = 0.0
    """How long past its due time the most overdue company nudged by this tick was."""
    interval_seconds: float = 0.0
    shortfall: bool = False
    webhooks_silent: bool = False
    effective_interval_seconds: float = 0.0
    """The interval this tick swept by (shorter than ``interval_seconds`` while webhooks are silent)."""
    slowest_page_ms: float = 0.0
    """The slowest page (query + sends) so far: a tick stops while two more would still fit."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "nudged": self.nudged,
            "pages": self.pages,
            "shards_busy": self.shards_busy,
            "continued": self.continued,
            "max_lag_seconds": round(self.max_lag_seconds, 1),
            "interval_minutes": round(self.interval_seconds / 60.0, 1),
            "shortfall": self.shortfall,
            "webhooks_silent": self.webhooks_silent,
            "effective_interval_minutes": round(self.effective_interval_seconds / 60.0, 1),
        }


def run_tick(
    *,
    remaining_ms: Callable[[], int] | None = None,
    now: float | None = None,
    owner: str | None = None,
    page_size: int = PAGE_SIZE,
    continue_by_message: bool = True,
) -> TickResult:
    """One tick of the sweep (see the module docstring)."""
    at = time.time() if now is None else now
    owner = owner or f"sweep-{uuid.uuid4().hex}"
    plan, companies, used = refresh_plan(at)
    cutoff = plan_cutoff(at, plan, companies, used)
    result = TickResult(
        interval_seconds=plan.interval_seconds,
        shortfall=plan.shortfall,
        webhooks_silent=cutoff.silent,
        effective_interval_seconds=cutoff.effective_interval_seconds,
    )

    def out_of_time() -> bool:
        if remaining_ms is None:
            return False
        return remaining_ms() < CONTINUE_MARGIN_MS + 2 * result.slowest_page_ms

    first = int(at // 60) % store.SHARDS  # a different shard goes first each minute
    for shard in [(first + i) % store.SHARDS for i in range(store.SHARDS)]:
        if out_of_time():
            result.continued = True
            break
        try:
            state = store.hold_shard(shard, owner, HOLD_SECONDS)
        except LeaseHeld:
            result.shards_busy += 1
            continue
        mark, lap, caught_up = state.watermark, state.lap_started, state.caught_up
        if lap is None or (caught_up and at - lap > LAP_SECONDS):
            mark, lap = None, at
        progress = _ShardProgress(mark)
        try:
            caught_up = _sweep_shard(shard, at, cutoff.due_by, progress, page_size, out_of_time, result)
        finally:
            # Even after a failure: what was nudged stays nudged, the next tick continues after it.
            store.save_shard(store.ShardState(shard, progress.mark, lap, caught_up), owner)
        if not caught_up:
            result.continued = True
    _gauge("SweepNudged", float(result.nudged), "Count")
    _gauge("SweepMaxLagSeconds", result.max_lag_seconds, "Seconds")
    if result.continued and continue_by_message:
        send_continuation(at)
    return result


@dataclass
class _ShardProgress:
    mark: dict[str, Any] | None
    """Index key of the last company nudged."""


def _sweep_shard(
    shard: int,
    now: float,
    due_by: float,
    progress: _ShardProgress,
    page_size: int,
    out_of_time: Callable[[], bool],
    result: TickResult,
) -> bool:
    """Nudge the shard's companies due by ``due_by`` after ``progress.mark``; True when it caught up."""
    more = True
    while more:
        if out_of_time():
            return False
        began = time.monotonic()
        page, more = store.due_page(shard, due_by, progress.mark, page_size)
        result.pages += 1
        if page:
            nudges.send_nudges(nudges.nudge(c.account_id, c.realm_id, "schedule", now=now) for c in page)
            result.nudged += len(page)
            result.max_lag_seconds = max(result.max_lag_seconds, now - page[0].due_at)
            progress.mark = page[-1].key
        result.slowest_page_ms = max(result.slowest_page_ms, (time.monotonic() - began) * 1000)
    return True


def send_continuation(now: float) -> None:
    """Ask the poller to run the tick again at once (a message of its own group on the poll queue)."""
    body = json.dumps({"v": nudges.MESSAGE_VERSION, "kind": CONTINUATION_KIND, "requested_at": now})
    nudges.send_raw(body, group=CONTINUATION_GROUP, dedup=f"{CONTINUATION_GROUP}-{int(now * 1000)}")


def is_continuation(body: str) -> bool:
    try:
        raw = json.loads(body)
    except (TypeError, ValueError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == CONTINUATION_KIND


def _gauge(name: str, value: float, unit: str) -> None:
    try:
        metrics.add_metric(name=name, unit=unit, value=value)
    except Exception:  # a metric must never break the sweep
        metrics.clear_metrics()
