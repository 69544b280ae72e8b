"""AWS cost per 10,000 synced documents, from what the push and import workloads asked of AWS.

Counted by the botocore hooks (calls made by the functions), plus what AWS does around them that
the local stack does in-process: Lambda's SQS event source receives and deletes each batch (2 SQS
requests per invocation), EventBridge delivers each Kyrios event to the push queue (1 SQS request)
and Kyrios core publishes it (1 custom event). Step Functions transitions come from the execution
history. Prices: ``bench/prices.json``.
"""

from __future__ import annotations

from bench.costs import Prices, Usage, cost, per_documents, usage_from_calls
from bench.counting import Snapshot
from bench.figures import Figure

GOAL_USD_PER_10K = 0.10
SQS_TRIGGERED = {"PusherFunction": "standard", "ContactPollerFunction": "fifo"}


def usage_of(snapshot: Snapshot, *, kyrios_events_in: int = 0, transitions: int = 0) -> Usage:
    calls, items, fifo = snapshot.functions_only()
    usage = usage_from_calls(calls, items, fifo_queue_calls=fifo)
    for function_id, invocations in snapshot.invocations.items():
        usage.lambda_invocations += invocations.count
        usage.lambda_gb_seconds += invocations.gb_seconds
        kind = SQS_TRIGGERED.get(function_id)
        if kind == "standard":
            usage.sqs_standard_requests += 2 * invocations.count
        elif kind == "fifo":
            usage.sqs_fifo_requests += 2 * invocations.count
    usage.sqs_standard_requests += kyrios_events_in
    usage.eventbridge_events += kyrios_events_in
    usage.stepfunctions_transitions += transitions
    return usage


def figure(workload: str, usage: Usage, documents: int, prices: Prices) -> Figure:
    lines = cost(usage, prices)
    per_10k = per_documents(lines["total"], documents)
    biggest = sorted(((v, k) for k, v in lines.items() if k != "total"), reverse=True)[:3]
    return Figure(
        "aws cost",
        f"USD per 10,000 documents, {workload}",
        "USD",
        per_10k,
        goal=GOAL_USD_PER_10K,
        notes=f"from {documents:,} documents; largest: "
        + ", ".join(f"{k} ${per_documents(v, documents):.4f}" for v, k in biggest),
        details={"usage": {k: v for k, v in usage.__dict__.items() if k != "detail"}, "usd": lines},
    )
