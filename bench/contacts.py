"""Contact latency QBO → Kyrios: a QuickBooks user creates a customer; how long until ``contact.created``
is read off the Kyrios bus. Two paths, each on its own stack:

- webhook: the emulator sends Intuit's signed webhook to the front door; the schedule is idle.
- schedule only: webhooks off; the template's ``rate(5 minutes)`` schedule compressed by
  ``time_scale`` (it fires every 300/time_scale s and the emulator clock runs time_scale× faster),
  so a measured latency × time_scale is the production-equivalent one.

Both are compared with the 5 minutes promised today.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass

from bench.figures import Figure
from bench.harness import BenchError, bus_listener, connect, new_realm, running_stack
from local.demo_steps.actors import QboUser
from local.runner import LocalBundle

PROMISE_SECONDS = 300.0
SCHEDULE_SECONDS = 300.0


@dataclass(frozen=True)
class Options:
    samples: int = 3
    time_scale: float = 60.0


def _latencies(stack: LocalBundle, samples: int, timeout: float) -> list[float]:
    at = connect(stack, new_realm())
    user = QboUser(stack.emulator.control, at.realm_id)
    listener = bus_listener(stack)
    out = []
    try:
        for n in range(samples):
            tag = uuid.uuid4().hex[:6]
            started = time.monotonic()
            customer = user.create_customer(f"Latency {tag}", f"latency.{tag}@example.com")
            detail, arrived = listener.wait_for(
                "contact.created",
                lambda d, cid=customer["Id"]: d.get("qbo_customer_id") == cid,
                timeout=timeout,
                since=started,
            )
            if detail is None:
                raise BenchError(f"no contact.created for customer {customer['Id']} within {timeout:.0f} s")
            out.append(arrived - started)
            time.sleep(0.37 * (n + 1) % 1.3)  # vary where in the schedule period the next customer lands
    finally:
        listener.close()
    return out


def run(options: Options) -> list[Figure]:
    with running_stack("whk", time_scale=1.0) as stack:
        webhook = _latencies(stack, options.samples, timeout=30)
    interval = SCHEDULE_SECONDS / options.time_scale
    with running_stack("sch", time_scale=options.time_scale, schedule_interval=interval) as stack:
        stack.emulator.control.webhook_switches(enabled=False)
        schedule_real = _latencies(stack, options.samples, timeout=interval * 3 + 30)
    schedule = [s * options.time_scale for s in schedule_real]
    return [
        Figure(
            "contacts",
            "QBO customer → contact.created, webhook path (median)",
            "s",
            statistics.median(webhook),
            PROMISE_SECONDS,
            goal=PROMISE_SECONDS,
            notes=f"baseline column = the 5 minutes promised today; samples {[round(s, 2) for s in webhook]}",
        ),
        Figure(
            "contacts",
            "QBO customer → contact.created, schedule only (median)",
            "s",
            statistics.median(schedule),
            PROMISE_SECONDS,
            goal=PROMISE_SECONDS,
            notes=f"measured × time_scale {options.time_scale:g} (schedule every {interval:.0f} s real); "
            f"samples {[round(s) for s in schedule]}",
        ),
    ]
