"""What the safety sweep learns from outside its tick: "sweep everyone now" and "webhooks are arriving".

One item, ``SWEEP#SIGNALS`` / ``SIGNALS``:

* ``advance_until`` (epoch seconds, due-time terms): the tick treats every company due by this time
  as due now. A signed webhook that cannot be read and names no company sets it to *now + the sweep
  interval*, i.e. every company not polled since that moment — one write, whatever the number of
  companies (a company polled afterwards is due later than that and is not nudged twice). Only
  moves forward.
* ``last_webhook_at``: the last verified webhook delivery (written at most once a minute per
  container by the webhook function); ``watch_started_at``: when the sweep first looked (silence is
  counted from there when no webhook ever arrived); ``silent``: what the last tick concluded (so a
  change is logged once, not every tick).
"""

from __future__ import annotations

from dataclasses import dataclass

from kyrios_qbo.store import _dynamo as db

SIGNALS_PK = "SWEEP#SIGNALS"


def _key() -> db.Item:
    return db.key(SIGNALS_PK, "SIGNALS")


@dataclass(frozen=True)
class Signals:
    advance_until: float | None = None
    last_webhook_at: float | None = None
    watch_started_at: float | None = None
    silent: bool = False


def read() -> Signals:
    """The signals as stored (all empty before anything was signalled)."""
    item = db.client().get_item(TableName=db.table_name(), Key=_key(), ConsistentRead=True).get("Item")
    if item is None:
        return Signals()
    return Signals(
        advance_until=db.opt_float(item, "advance_until"),
        last_webhook_at=db.opt_float(item, "last_webhook_at"),
        watch_started_at=db.opt_float(item, "watch_started_at"),
        silent=bool(item.get("silent", {}).get("BOOL", False)),
    )


def _forward(attribute: str, value: float) -> bool:
    """Set ``attribute`` to ``value`` unless it already holds a later time; True when written."""
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_key(),
        UpdateExpression="SET #a = :v",
        ConditionExpression="attribute_not_exists(#a) OR #a < :v",
        ExpressionAttributeNames={"#a": attribute},
        ExpressionAttributeValues={":v": db.n(value)},
    )


def advance(until: float) -> bool:
    """Every company due by ``until`` is due now (see the module docstring)."""
    return _forward("advance_until", until)


def note_webhook(at: float) -> bool:
    """A verified webhook delivery arrived at ``at``."""
    return _forward("last_webhook_at", at)


def start_watch(at: float) -> None:
    """Start counting silence from ``at`` unless the watch already started."""
    db.client().update_item(
        TableName=db.table_name(),
        Key=_key(),
        UpdateExpression="SET watch_started_at = if_not_exists(watch_started_at, :at)",
        ExpressionAttributeValues={":at": db.n(at)},
    )


def set_silent(silent: bool) -> bool:
    """Store the tick's conclusion; returns what was stored before (False when nothing was)."""
    answer = db.client().update_item(
        TableName=db.table_name(),
        Key=_key(),
        UpdateExpression="SET silent = :s",
        ExpressionAttributeValues={":s": {"BOOL": silent}},
        ReturnValues="UPDATED_OLD",
    )
    return bool(answer.get("Attributes", {}).get("silent", {}).get("BOOL", False))
