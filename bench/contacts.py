"""Contact latency QBO → Kyrios over the webhook path, split into what is Intuit's and what is ours.

A QuickBooks user creates a customer in the emulator; the emulator sends Intuit's signed webhook to
the front door; ``contact.created`` is read off the Kyrios bus. Two parts per sample:

- *Intuit's delivery (modelled)*: from the customer's creation to the webhook function's start. The
  emulator models it (``webhook_batch_window_seconds``, 0.5 s by default, plus its delivery thread);
  real Intuit deliveries take what Intuit takes, which this bench does not measure.
- *ours (measured)*: from the webhook function's start (timed by the bench's invocation hook) to the
  event on the bus: webhook → poll queue → poller (CDC) → EventBridge → the bench's listener queue.

The five minutes Kyrios promises is the goal, not a baseline. Without webhooks a company is picked up
by the safety sweep within ``SafetySweepInterval`` (configuration, not a measurement: not quoted here).
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench.counting import COUNTERS
from bench.figures import Figure
from bench.harness import BenchError, bus_listener, connect, new_realm, running_stack
from local.demo_steps.actors import QboUser
from local.runner import LocalBundle

PROMISE_SECONDS = 300.0


@dataclass(frozen=True)
class Options:
    samples: int = 3


def _latencies(stack: LocalBundle, samples: int, timeout: float) -> list[tuple[float, float]]:
    """(Intuit's delivery as the emulator models it, ours) in seconds, per sample."""
    at = connect(stack, new_realm())
    user = QboUser(stack.emulator.control, at.realm_id)
    listener = bus_listener(stack)
    out = []
    try:
        for n in range(samples):
            tag = uuid.uuid4().hex[:6]
            started = time.monotonic()
            customer = user.create_customer(f"Latency {tag}", f"latency.{tag}@example.com")
            customer_id = str(customer["Id"])

            def for_customer(detail: dict[str, Any], cid: str = customer_id) -> bool:
                return bool(detail.get("qbo_customer_id") == cid)

            detail, arrived = listener.wait_for(
                "contact.created",
                for_customer,
                timeout=timeout,
                since=started,
            )
            if detail is None:
                raise BenchError(f"no contact.created for customer {customer['Id']} within {timeout:.0f} s")
            webhook_started = COUNTERS.first_start_after("WebhookFunction", started)
            if webhook_started is None or webhook_started > arrived:
                raise BenchError(f"contact.created for {customer['Id']} did not come through the webhook")
            out.append((webhook_started - started, arrived - webhook_started))
            time.sleep(0.37 * (n + 1) % 1.3)  # vary where in the schedule period the next customer lands
    finally:
        listener.close()
    return out


def run(options: Options) -> list[Figure]:
    with running_stack("whk", time_scale=1.0) as stack:
        window = stack.emulator.control.config().get("webhook_batch_window_seconds")
        samples = _latencies(stack, options.samples, timeout=30)
    delivery = [d for d, _o in samples]
    ours = [o for _d, o in samples]
    details = {"samples": [{"intuit_delivery_modelled_s": d, "ours_measured_s": o} for d, o in samples]}
    return [
        Figure(
            "contacts",
            f"QBO customer → contact.created: Intuit's delivery (modelled, {window} s window), median",
            "s",
            statistics.median(delivery),
            notes="the emulator's model of Intuit's webhook batching, not a measurement of Intuit; "
            f"samples {[round(d, 2) for d in delivery]}",
            details=details,
        ),
        Figure(
            "contacts",
            "QBO customer → contact.created: ours (measured), median",
            "s",
            statistics.median(ours),
            goal=PROMISE_SECONDS,
            notes="webhook function start → event on the bus; goal = the 5 minutes promised; "
            f"samples {[round(o, 2) for o in ours]}",
            details=details,
        ),
    ]
