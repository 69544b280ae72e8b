"""The QBO request budget of a company (10 requests/s, 500/min), shared by every invocation.

Every QBO call first reserves a time slot for its company, with one conditional ``UpdateItem`` and
no read (GCRA, the generic cell rate algorithm). The company's item holds ``tat``, the time the
next request is due if the budget were used evenly:

- a busy company (``tat >= now``) queues the caller: ``tat += interval``, and its slot is
  ``max(now, tat_before - tolerance)``; refused (nothing reserved) when that slot is further away
  than the caller can wait;
- an idle company (``tat < now``, or no item yet): the caller goes now and ``tat = now + interval``.

The two conditions exclude each other, so racing callers are ordered by DynamoDB; a per-container
hint of the last ``tat`` seen picks which update to try first, so a call normally costs one write.
Slots granted this way are ``interval`` apart after a burst of ``BURST``: at most
``BURST + RATE·T`` in any window of ``T`` seconds, which with ``BURST = 2`` and ``RATE = 8``/s keeps
every 1-second window within 10 and every 60-second window within 500 (2 + 480); QBO's limits hold
for sliding windows, not only on average.

``time_scale`` (below 1 only where the emulator runs compressed time) shrinks the spacing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kyrios_qbo.store import _dynamo as db

PER_SECOND = 10
PER_MINUTE = 500
BURST = 2
RATE = 8.0
_MAX_ATTEMPTS = 6

_last_tat: dict[str, float] = {}
"""This container's latest view of each company's ``tat``: a hint only (which update to try first)."""


@dataclass(frozen=True)
class Spacing:
    """The budget on a (possibly compressed) clock: ``interval`` between slots, ``tolerance`` of burst."""

    interval: float
    tolerance: float

    @classmethod
    def scaled(cls, time_scale: float = 1.0) -> Spacing:
        if not 0 < time_scale <= 1:
            raise ValueError("time_scale must be in (0, 1]")
        interval = time_scale / RATE
        return cls(interval, (BURST - 1) * interval)


def reserve(tat: float | None, now: float, spacing: Spacing, max_wait: float) -> tuple[float, float] | None:
    """Pure rule: ``(new tat, slot)`` for a request arriving at ``now``, or None when its slot would be
    more than ``max_wait`` seconds away (nothing reserved)."""
    if tat is None or tat < now:
        return now + spacing.interval, now
    slot = max(now, tat - spacing.tolerance)
    if slot - now > max_wait:
        return None
    return tat + spacing.interval, slot


def _bucket_key(realm_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), "RATE#QBO")


def reserve_qbo_request(realm_id: str, *, max_wait: float, time_scale: float = 1.0) -> float | None:
    """Reserve the company's next QBO request slot: seconds from now until it (0.0: go now), or None
    when every slot within ``max_wait`` seconds is taken (nothing reserved: hand the work back)."""
    spacing = Spacing.scaled(time_scale)
    key = _bucket_key(realm_id)
    busy = _last_tat.get(realm_id, 0.0) >= db.now()
    for _attempt in range(_MAX_ATTEMPTS):
        now = db.now()
        if busy:
            request: dict[str, Any] = {
                "UpdateExpression": "SET tat = tat + :interval",
                "ConditionExpression": "tat >= :now AND tat <= :latest",
                "ExpressionAttributeValues": {
                    ":interval": db.n(spacing.interval),
                    ":now": db.n(now),
                    ":latest": db.n(now + max_wait + spacing.tolerance),
                },
            }
        else:
            request = {
                "UpdateExpression": "SET tat = :next",
                "ConditionExpression": "attribute_not_exists(tat) OR tat < :now",
                "ExpressionAttributeValues": {":next": db.n(now + spacing.interval), ":now": db.n(now)},
            }
        try:
            answer = db.client().update_item(
                TableName=db.table_name(),
                Key=key,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request,
            )
        except Exception as exc:
            if not db.is_condition_failure(exc):
                raise
            old = db.old_item(exc) or {}
            tat = db.opt_float(old, "tat")
            if tat is not None:
                _last_tat[realm_id] = tat
            if reserve(tat, now, spacing, max_wait) is None:
                return None  # busy beyond what the caller can wait
            busy = tat is not None and tat >= now  # the other case applies: try it
            continue
        new_tat = db.get_float(answer["Attributes"], "tat")
        _last_tat[realm_id] = new_tat
        return max(0.0, new_tat - spacing.interval - spacing.tolerance - now) if busy else 0.0
    return None  # callers kept racing us for the same slots: treat as busy


def wait_for_qbo_request(realm_id: str, *, max_wait: float, time_scale: float = 1.0) -> bool:
    """Reserve a slot and sleep until it (True), or False when none is free within ``max_wait``."""
    wait = reserve_qbo_request(realm_id, max_wait=max_wait, time_scale=time_scale)
    if wait is None:
        return False
    if wait > 0:
        time.sleep(wait)
    return True
