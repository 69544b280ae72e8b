"""The safety sweep's store: who is due, where each shard's sweep got to, and the month's CorePlus tally.

* **Due index** — GSI ``gsi2`` (sparse, projects ``account_id`` and ``realm_id``): a connected
  account's ``CONNECTION`` item carries ``gsi2pk = SWEEP#<shard>`` and ``gsi2sk = <due time>#<account>``
  (fixed-width UTC, so strings sort in time order). Connecting sets it to "due now"; every successful
  poll (webhook or sweep) moves it to ``now + interval``; needs_reconnect and disconnect remove it
  (connections.py), like ``gsi1``. :data:`SHARDS` partition keys spread the index's writes (one per
  poll) over several GSI partitions.
* **Shard state** — ``SWEEP#<shard>`` / ``STATE``: the sweep's hold (one tick per shard at a time),
  its *watermark* (the index key of the last company nudged: the next tick continues after it) and
  when the current *lap* started (a lap that is old starts again from the beginning, which picks up
  the companies whose poll failed since).
* **Plan** — ``SWEEP#PLAN`` / ``PLAN``: the interval the tick chose for the month's budget (read by
  every poll to schedule the next sweep) and the count of connected companies (refreshed hourly).
* **Usage** — ``SWEEP#<shard>`` / ``USAGE#<YYYY-MM>``: CorePlus calls the pollers made this month,
  one counter per shard (so the ``ADD`` of every poll never lands on one hot item).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store import _holds
from kyrios_qbo.store.connections import CONNECTED_GSI, CONNECTED_GSI_PK, CONNECTION_SK

SWEEP_GSI = "gsi2"
SHARDS = 4
PLAN_PK = "SWEEP#PLAN"
_DUE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def shard_of(realm_id: str) -> int:
    """Stable shard of a company (a hash, so shards stay even whatever the realm ids look like)."""
    return int.from_bytes(hashlib.sha256(realm_id.encode()).digest()[:4], "big") % SHARDS


def due_key(realm_id: str, account_id: str, due_at: float) -> dict[str, Any]:
    """``gsi2pk``/``gsi2sk`` attribute values of a company due at ``due_at`` (epoch seconds)."""
    due = datetime.fromtimestamp(due_at, UTC).strftime(_DUE_FORMAT)
    return {
        "gsi2pk": db.s(f"SWEEP#{shard_of(realm_id)}"),
        "gsi2sk": db.s(f"{due}#{db.key_part(account_id, 'account id')}"),
    }


def due_time(sort_key: str) -> float:
    return datetime.strptime(sort_key.split("#", 1)[0], _DUE_FORMAT).replace(tzinfo=UTC).timestamp()


def schedule(account_id: str, realm_id: str, due_at: float) -> bool:
    """Make the connected company due at ``due_at``; False if it is not connected to that realm (any
    more): a disconnected company must not come back into the index."""
    values = due_key(realm_id, account_id, due_at)
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=db.key(db.account_pk(account_id), CONNECTION_SK),
        UpdateExpression="SET gsi2pk = :g2pk, gsi2sk = :g2sk",
        ConditionExpression="#status = :connected AND realm_id = :realm",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":g2pk": values["gsi2pk"],
            ":g2sk": values["gsi2sk"],
            ":connected": db.s("connected"),
            ":realm": db.s(realm_id),
        },
    )


@dataclass(frozen=True)
class DueCompany:
    account_id: str
    realm_id: str
    due_at: float
    key: dict[str, Any]
    """Its full index key (the watermark when it is the last one nudged)."""


def due_page(
    shard: int, now: float, after: dict[str, Any] | None, limit: int
) -> tuple[list[DueCompany], bool]:
    """Up to ``limit`` companies of ``shard`` due by ``now``, in due order, after the key ``after``;
    and whether more may follow."""
    upto = datetime.fromtimestamp(now, UTC).strftime(_DUE_FORMAT) + "#\uffff"
    kwargs: dict[str, Any] = {
        "TableName": db.table_name(),
        "IndexName": SWEEP_GSI,
        "KeyConditionExpression": "gsi2pk = :pk AND gsi2sk <= :upto",
        "ExpressionAttributeValues": {":pk": db.s(f"SWEEP#{shard}"), ":upto": db.s(upto)},
        "Limit": db.check_limit(limit),
    }
    if after:
        kwargs["ExclusiveStartKey"] = after
    answer = db.client().query(**kwargs)
    companies = [
        DueCompany(
            account_id=db.get_s(item, "account_id"),
            realm_id=db.get_s(item, "realm_id"),
            due_at=due_time(db.get_s(item, "gsi2sk")),
            key={name: item[name] for name in ("pk", "sk", "gsi2pk", "gsi2sk")},
        )
        for item in answer.get("Items", [])
    ]
    return companies, "LastEvaluatedKey" in answer


# ---------------------------------------------------------------------------------- shard state
@dataclass(frozen=True)
class ShardState:
    shard: int
    watermark: dict[str, Any] | None
    lap_started: float | None
    caught_up: bool = False
    """The last tick reached the end of what was due (a lap may start again only then)."""


def _state_key(shard: int) -> db.Item:
    return db.key(f"SWEEP#{shard}", "STATE")


def hold_shard(shard: int, owner: str, duration_seconds: float) -> ShardState:
    """Hold the shard's sweep (raises :class:`~kyrios_qbo.store.errors.LeaseHeld`) and read its state."""
    item = _holds.take(_state_key(shard), owner, duration_seconds, f"sweep shard {shard}")
    raw = db.opt_s(item, "watermark")
    return ShardState(
        shard=shard,
        watermark=json.loads(raw) if raw else None,
        lap_started=db.opt_float(item, "lap_started"),
        caught_up=bool(item.get("caught_up", {}).get("BOOL", False)),
    )


def save_shard(state: ShardState, owner: str) -> bool:
    """Store where the shard's sweep got to and let go of the hold; False if it was no longer ours."""
    sets = ["lap_started = :lap", "caught_up = :caught_up"]
    values: dict[str, Any] = {
        ":holder": db.s(owner),
        ":lap": db.n(state.lap_started or db.now()),
        ":caught_up": {"BOOL": state.caught_up},
    }
    removes = [_holds.ATTRIBUTES]
    if state.watermark:
        sets.append("watermark = :mark")
        values[":mark"] = db.s(json.dumps(state.watermark, sort_keys=True))
    else:
        removes.append("watermark")
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_state_key(state.shard),
        UpdateExpression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
        ConditionExpression=_holds.HELD_BY_HOLDER,
        ExpressionAttributeValues=values,
    )


# ---------------------------------------------------------------------------------- plan and usage
@dataclass(frozen=True)
class Plan:
    interval_seconds: float
    companies: int
    companies_counted_at: float


def get_plan() -> Plan | None:
    answer = db.client().get_item(TableName=db.table_name(), Key=db.key(PLAN_PK, "PLAN"))
    item = answer.get("Item")
    if item is None:
        return None
    return Plan(
        interval_seconds=db.get_float(item, "interval_seconds"),
        companies=db.get_int(item, "companies"),
        companies_counted_at=db.get_float(item, "companies_counted_at"),
    )


def save_plan(plan: Plan) -> None:
    db.client().put_item(
        TableName=db.table_name(),
        Item={
            **db.key(PLAN_PK, "PLAN"),
            "interval_seconds": db.n(plan.interval_seconds),
            "companies": db.n(plan.companies),
            "companies_counted_at": db.n(plan.companies_counted_at),
            "updated_at": db.s(db.iso_now()),
        },
    )


def _count(index: str, key: str, value: str) -> int:
    """Items of one partition of a sparse index (a COUNT: pages of keys only, no items returned)."""
    total, start = 0, None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": db.table_name(),
            "IndexName": index,
            "KeyConditionExpression": f"{key} = :pk",
            "ExpressionAttributeValues": {":pk": db.s(value)},
            "Select": "COUNT",
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = db.client().query(**kwargs)
        total += int(answer.get("Count", 0))
        start = answer.get("LastEvaluatedKey")
        if not start:
            return total


def count_connected() -> int:
    """Connected companies (the sparse ``gsi1``)."""
    return _count(CONNECTED_GSI, "gsi1pk", CONNECTED_GSI_PK)


def count_due() -> int:
    """Companies in the due index (every shard of ``gsi2``)."""
    return sum(_count(SWEEP_GSI, "gsi2pk", f"SWEEP#{shard}") for shard in range(SHARDS))


def enrol_missing(now: float, *, limit: int = 10_000) -> int:
    """Put connected companies that are not in the due index into it, due ``now``; how many.

    Connections made before the index existed (or whose scheduling write was lost) would otherwise
    never be swept. Pages ``gsi1`` (every connected company), reads which of those items lack
    ``gsi2pk`` (one batched read per page) and schedules only those, each with the same conditional
    write as :func:`schedule`. Looks at ``limit`` connections at most per call; the caller calls again
    while the index holds fewer companies than are connected."""
    enrolled = looked = 0
    start = None
    while looked < limit:
        kwargs: dict[str, Any] = {
            "TableName": db.table_name(),
            "IndexName": CONNECTED_GSI,
            "KeyConditionExpression": "gsi1pk = :pk",
            "ExpressionAttributeValues": {":pk": db.s(CONNECTED_GSI_PK)},
            "Limit": 100,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = db.client().query(**kwargs)
        page = [(db.get_s(i, "account_id"), db.get_s(i, "realm_id")) for i in answer.get("Items", [])]
        looked += len(page)
        keys = [db.key(db.account_pk(account), CONNECTION_SK) for account, _ in page]
        indexed = {db.get_s(item, "pk") for item in db.batch_get(keys, what="sweep enrolment")
                   if "gsi2pk" in item}
        for account, realm in page:
            if db.account_pk(account) not in indexed and schedule(account, realm, now):
                enrolled += 1
        start = answer.get("LastEvaluatedKey")
        if not start:
            break
    return enrolled


def month_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m")


def add_usage(realm_id: str, core_plus: int, at: float) -> None:
    """Add a poll's CorePlus calls to this month's tally (the shard's counter)."""
    if core_plus <= 0:
        return
    db.client().update_item(
        TableName=db.table_name(),
        Key=db.key(f"SWEEP#{shard_of(realm_id)}", f"USAGE#{month_of(at)}"),
        UpdateExpression="ADD core_plus :n SET expires_at = if_not_exists(expires_at, :ttl)",
        ExpressionAttributeValues={":n": db.n(core_plus), ":ttl": db.n(int(at) + 100 * 86_400)},
    )


def month_usage(at: float) -> int:
    """CorePlus calls of the month of ``at`` so far (all shards)."""
    keys = [db.key(f"SWEEP#{shard}", f"USAGE#{month_of(at)}") for shard in range(SHARDS)]
    return sum(db.get_int(item, "core_plus") for item in db.batch_get(keys, what="sweep usage"))
