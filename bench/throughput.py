"""Push throughput to one company against QBO's per-company limits, with connection resets after writes.

Both sides push the same N invoices (20 customers, 5 products) to their own emulator company with
rate limits on and time compressed (``time_scale``: an emulator minute lasts 60/time_scale real
seconds). Ours: Kyrios events on the bus → push queue → the local stack's SQS pollers (``workers``
concurrent batches of 10, as Lambda's event source mapping) → the pusher. Baseline: python-quickbooks
with ``workers`` threads, a failed document retried after the same delay as our redelivery. The same
share of invoice writes (``fault_rate``) lose their answer after QBO wrote them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.counting import COUNTERS, Snapshot
from bench.figures import Figure
from bench.harness import (
    ResetAfterWrite,
    connect,
    documents,
    new_realm,
    publish_all,
    run_baseline,
    running_stack,
    wait_for,
)
from local.runner import LocalBundle

PER_MINUTE = 500


@dataclass(frozen=True)
class Options:
    invoices: int = 1000
    time_scale: float = 10.0
    workers: int = 4
    fault_rate: float = 0.02
    redelivery_seconds: float = 1.0


@dataclass
class Run:
    seconds: float
    requests: int
    throttled: int
    pushed: int
    duplicates: int
    missing: int
    faults: int
    extra: dict[str, Any]


def _outcome(stack: LocalBundle, realm_id: str, numbers: set[str]) -> tuple[int, int, int]:
    """(distinct invoices of ours in QBO, duplicate invoices, missing invoices)."""
    per_number = Counter(
        i.get("DocNumber")
        for i in stack.emulator.control.entities(realm_id, "Invoice")
        if i.get("DocNumber") in numbers
    )
    duplicates = sum(n - 1 for n in per_number.values())
    return len(per_number), duplicates, len(numbers) - len(per_number)


def _traffic(stack: LocalBundle, realm_id: str) -> tuple[int, int]:
    """(answered requests, throttled requests) the company saw since the log was cleared."""
    entries = stack.emulator.control.requests(realm=realm_id)
    throttled = sum(1 for e in entries if e["status"] == 429)
    return len(entries) - throttled, throttled


def _ours(stack: LocalBundle, options: Options, docs: list[Any]) -> tuple[Run, Snapshot]:
    at = connect(stack, new_realm())
    numbers = {d.number for d in docs}
    control = stack.emulator.control
    control.clear_requests()
    before = COUNTERS.snapshot()
    started = time.monotonic()
    with ResetAfterWrite(stack, at.realm_id, options.fault_rate) as faults:
        publish_all(stack, at.account_id, docs)
        budget = 60 + len(docs) * 6 * 60 / (PER_MINUTE * options.time_scale)
        wait_for(
            lambda: _outcome(stack, at.realm_id, numbers)[2] == 0 and stack.wait_idle(timeout=2), budget, 1.0
        )
        seconds = time.monotonic() - started
    usage = COUNTERS.snapshot().since(before)
    pushed, duplicates, missing = _outcome(stack, at.realm_id, numbers)
    answered, throttled = _traffic(stack, at.realm_id)
    dead = stack.queue_depth("PushDeadLetterQueue")
    return (
        Run(
            seconds, answered, throttled, pushed, duplicates, missing, faults.injected, {"dead_letters": dead}
        ),
        usage,
    )


def _baseline(stack: LocalBundle, options: Options, docs: list[Any]) -> Run:
    realm_id = new_realm()
    stack.emulator.control.add_company(realm_id, "Baseline throughput", "US")
    numbers = {d.number for d in docs}
    stack.emulator.control.clear_requests()
    with ResetAfterWrite(stack, realm_id, options.fault_rate) as faults:
        result = run_baseline(
            stack,
            realm_id,
            "push",
            timeout=1800,
            documents=[d.for_baseline() for d in docs],
            workers=options.workers,
            retry_delay=options.redelivery_seconds,
            attempts=5,
        )
    pushed, duplicates, missing = _outcome(stack, realm_id, numbers)
    answered, throttled = _traffic(stack, realm_id)
    return Run(result["seconds"], answered, throttled, pushed, duplicates, missing, faults.injected, result)


def run(options: Options) -> tuple[list[Figure], Snapshot, int]:
    """Figures, our AWS usage during the run, and how many documents it pushed (for the cost figure)."""
    docs = documents(options.invoices, customers=20, products=5, tag="tp")
    # SQS redelivers a failed message after its visibility timeout (720 s in the template) scaled down.
    sqs_scale = options.redelivery_seconds / 720
    with running_stack(
        "tp",
        time_scale=options.time_scale,
        rate_limits=True,
        sqs_time_scale=sqs_scale,
        sqs_concurrency=options.workers,
    ) as stack:
        ours, usage = _ours(stack, options, docs)
        base = _baseline(stack, options, docs)

    def per_emulator_minute(count: float, seconds: float) -> float:
        return count / (seconds * options.time_scale / 60)

    scale = f"time_scale {options.time_scale:g} (1 emulator minute = {60 / options.time_scale:.0f} s)"
    n = options.invoices
    figures = [
        Figure(
            "throughput",
            f"invoices pushed per emulator-minute ({n} invoices)",
            "inv/min",
            per_emulator_minute(ours.pushed, ours.seconds),
            per_emulator_minute(base.pushed, base.seconds),
            better="higher",
            notes=f"{scale}, {options.workers} workers each side; "
            f"wall {ours.seconds:.0f} s vs {base.seconds:.0f} s",
            details={"ours": ours.__dict__, "baseline": base.__dict__},
        ),
        Figure(
            "throughput",
            "share of the 500 req/min company ceiling used",
            "fraction",
            per_emulator_minute(ours.requests, ours.seconds) / PER_MINUTE,
            per_emulator_minute(base.requests, base.seconds) / PER_MINUTE,
            better="higher",
            notes="answered requests per emulator-minute / 500; "
            f"429s: ours {ours.throttled}, baseline {base.throttled}",
        ),
        Figure(
            "throughput",
            f"invoices not in QBO at the end (of {n})",
            "invoices",
            ours.missing,
            base.missing,
            goal=0,
            notes=f"ours: {ours.extra.get('dead_letters', 0)} on the push DLQ",
        ),
        Figure(
            "throughput",
            f"duplicate invoices created ({options.fault_rate:.0%} resets after write)",
            "invoices",
            ours.duplicates,
            base.duplicates,
            goal=0,
            notes=f"resets injected: ours {ours.faults}, baseline {base.faults}",
        ),
    ]
    return figures, usage, ours.pushed
