"""Scale check of the safety sweep: the real tick over N connection items on local AWS (moto).

    python -m bench.sweep_scale --companies 100000

Worst case on purpose: every company is due at once (as right after deploying the sweep over an
existing base, or after an outage). N ``CONNECTION`` items are written straight into the table
(status connected, ``gsi1``, ``gsi2`` with due times spread over the last day); then the tick runs
invocation after invocation as Lambda would run it — each with a 60 s budget
(``get_remaining_time_in_millis``), each continuation started at once, as its continuation message
would — until a tick reports it caught up. The nudges go to the real FIFO poll queue (purged between
invocations: the pollers are not what is measured here); which companies were nudged is read off
the ``SendMessageBatch`` calls. Reported: invocations, seconds per invocation (max must stay < 60),
companies nudged, companies nudged twice, companies starved (never nudged). Moto runs in this
process, so its CPU time is in every figure: real DynamoDB and SQS answer faster.

Not part of ``make test``: minutes at 100,000 on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from typing import Any

from tests.lambda_context import lambda_context


def _provision() -> tuple[Any, Any]:
    from local.aws import provision, start_moto, union_environment, use_local_aws
    from local.template import load_template

    server = start_moto()
    use_local_aws(server.endpoint_url)
    resources = provision(load_template(), server.endpoint_url, stage="bench")
    os.environ.update(union_environment(resources))
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "KyriosQuickBooks")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "kyrios-quickbooks")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    return server, resources


def _insert(companies: int, now: float) -> None:
    from kyrios_qbo.store import _dynamo as db
    from kyrios_qbo.store import sweep as store

    rng = random.Random(17)  # noqa: S311 - spreads due times, nothing secret
    items = []
    for n in range(companies):
        account, realm = f"acct-{n:07d}-{uuid.uuid4().hex[:6]}", str(9_100_000_000 + n)
        items.append({
            **db.key(db.account_pk(account), "CONNECTION"),
            "account_id": db.s(account),
            "realm_id": db.s(realm),
            "status": db.s("connected"),
            "connected_at": db.s(db.iso_now()),
            "gsi1pk": db.s("CONNECTED"),
            "gsi1sk": db.s(db.account_pk(account)),
            **store.due_key(realm, account, now - rng.uniform(0, 86_400)),
        })
    for start in range(0, len(items), 1000):
        db.batch_put(items[start : start + 1000], what="bench connections")


def run(companies: int, timeout_s: float, page_size: int) -> dict[str, Any]:
    server, _resources = _provision()
    from kyrios_qbo import nudges, sweep
    from kyrios_qbo.store import sweep as store

    started = time.monotonic()
    _insert(companies, time.time())
    insert_s = time.monotonic() - started
    print(f"inserted {companies} connections in {insert_s:.1f} s", file=sys.stderr, flush=True)

    nudged: Counter[str] = Counter()

    def record(params: dict[str, Any], **_kwargs: Any) -> None:
        for entry in params.get("Entries", []):
            nudged[entry["MessageGroupId"]] += 1

    sqs = nudges._sqs()
    sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", record)
    queue_url = os.environ["POLL_QUEUE_URL"]
    invocations: list[dict[str, Any]] = []
    while len(invocations) < 500:
        context = lambda_context("contact_poller", timeout_seconds=timeout_s)
        began = time.monotonic()
        result = sweep.run_tick(
            remaining_ms=context.get_remaining_time_in_millis, page_size=page_size, continue_by_message=False
        )
        invocations.append({**result.as_dict(), "seconds": round(time.monotonic() - began, 2)})
        print(json.dumps(invocations[-1]), file=sys.stderr, flush=True)
        # The pollers would consume these; moto's SQS slows down as a queue grows (one purge a minute).
        with contextlib.suppress(sqs.exceptions.PurgeQueueInProgress):
            sqs.purge_queue(QueueUrl=queue_url)
        if not result.continued:
            break
    seconds = [i["seconds"] for i in invocations]
    plan = store.get_plan()
    server.stop()
    return {
        "companies": companies,
        "insert_seconds": round(insert_s, 1),
        "invocations": len(invocations),
        "seconds_per_invocation_max": max(seconds),
        "seconds_per_invocation_mean": round(sum(seconds) / len(seconds), 2),
        "invocation_timeout_seconds": timeout_s,
        "nudged": sum(nudged.values()),
        "nudged_twice": sum(1 for c in nudged.values() if c > 1),
        "starved": companies - len(nudged),
        "interval_minutes": plan.interval_seconds / 60 if plan else None,
        "planned_companies": plan.companies if plan else None,
        "shortfall_alarm": invocations[0]["shortfall"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=60.0, help="each invocation's budget (s)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--out", help="write the summary as JSON here too")
    args = parser.parse_args()
    summary = run(args.companies, args.timeout, args.page_size)
    print(json.dumps(summary, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
