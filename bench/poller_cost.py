"""Poller cost for N connected companies with no changes: QBO calls and AWS requests per schedule tick.

N emulator companies are connected straight through the layer's public token and store API (the
OAuth dance N times would only slow the bench down; one company goes through it in every other
workload). A first tick settles each company's cursor; the second, measured, tick is the idle case:
the schedule fans out one poll per company on the FIFO poll queue, the local stack's pollers run the
contact_poller for each. Goal: one QBO call per idle company.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from bench.counting import COUNTERS, Snapshot, counts_since, qbo_calls
from bench.figures import Figure
from bench.harness import new_realm, running_stack
from local.runner import LocalBundle


@dataclass(frozen=True)
class Options:
    companies: int = 1000
    workers: int = 4


def _connect_directly(stack: LocalBundle, count: int) -> set[str]:
    from kyrios_qbo import store, tokens
    from kyrios_qbo.intuit_auth import IssuedTokens

    control = stack.emulator.control
    realms = set()
    for n in range(count):
        realm_id = new_realm()
        control.add_company(realm_id, f"Idle company {n:04d}", "US")
        issued = control.issue_tokens(realm_id)
        now = time.time()
        plain = IssuedTokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            access_expires_at=now + int(issued["expires_in"]),
            refresh_expires_at=now + int(issued["x_refresh_token_expires_in"]),
        )
        account_id = f"acct-idle-{uuid.uuid4().hex[:12]}"
        store.connect(
            account_id,
            realm_id,
            store.CompanyInfo(company_name=f"Idle company {n:04d}", country="US"),
            tokens.encrypt_tokens(account_id, realm_id, plain),
        )
        realms.add(realm_id)
    return realms


def _tick(stack: LocalBundle, timeout: float) -> float:
    started = time.monotonic()
    stack.schedule("ContactPollerFunction").fire()
    stack.wait_idle(timeout=timeout, settle=0.5)
    return time.monotonic() - started


def run(options: Options) -> tuple[list[Figure], Snapshot, int]:
    """Figures, the AWS usage of one idle tick, and the number of companies."""
    n = options.companies
    with running_stack("poll", time_scale=1.0, rate_limits=True, sqs_concurrency=options.workers) as stack:
        realms = _connect_directly(stack, n)
        _tick(stack, timeout=60 + n * 0.5)  # first poll of each company: sets its cursor
        control = stack.emulator.control
        before_qbo = control.request_counts()
        before = COUNTERS.snapshot()
        seconds = _tick(stack, timeout=60 + n * 0.5)
        usage = COUNTERS.snapshot().since(before)
        qbo = qbo_calls(counts_since(control.request_counts(), before_qbo), realms)
    calls, _items, _fifo = usage.functions_only()
    dynamodb = sum(count for (service, _op), count in calls.items() if service == "dynamodb")
    polled = usage.invocations.get("ContactPollerFunction")
    return (
        [
            Figure(
                "poller",
                f"QBO calls per idle company per tick ({n:,} companies)",
                "calls",
                sum(qbo.values()) / n,
                goal=1,
                notes=f"{dict(qbo)}; tick took {seconds:.1f} s with {options.workers} pollers",
            ),
            Figure(
                "poller",
                f"DynamoDB requests per idle company per tick ({n:,} companies)",
                "requests",
                dynamodb / n,
                notes=", ".join(f"{op} {c}" for (svc, op), c in sorted(calls.items()) if svc == "dynamodb"),
                details={"invocations": polled.count if polled else 0},
            ),
        ],
        usage,
        n,
    )
