"""AWS cost per 10,000 synced documents in the production configuration, from what the workloads asked.

Counted by the botocore hooks (calls made by the functions), plus what AWS does around them that
the local stack does in-process: Lambda's SQS event source receives and deletes each batch (2 SQS
requests per invocation), EventBridge delivers each Kyrios event to the push queue (1 SQS request)
and Kyrios core publishes it (1 custom event). Step Functions transitions come from the execution
history. Also priced, as the template deploys it (LogLevel INFO, Active tracing, Powertools metrics):

- CloudWatch Logs: the bytes the functions wrote (log lines and EMF documents, measured by
  ``bench/log_volume.py``) plus Lambda's own START/END/REPORT lines (``PLATFORM_LOG_BYTES`` per
  invocation: modelled, ~400 bytes with the X-Ray line);
- X-Ray: the invocations of functions AWS invokes directly, times the share the template's
  ``TracingSamplingRule`` records (``TracingReservoir`` per second, then ``TracingSampleRate``) at the
  container model's traffic (the documents spread evenly over its hours, Poisson arrivals); without
  a container model (import, poller), one trace per invocation (an upper bound);
- API Gateway: one HTTP API request per invocation of a function behind a route (QBO's webhooks
  for our own writes included);
- KMS and Secrets Manager for pushes: :mod:`bench.container_model` (the bench's single warm process
  would make them ~0); the calls counted in-process are kept in the details.
- EMF custom metrics bill per metric per month, not per document: reported apart.
Prices: ``bench/prices.json``.
"""

from __future__ import annotations

import math
from functools import cache

from bench.container_model import ContainerModel
from bench.costs import Prices, Usage, cost, per_documents, usage_from_calls
from bench.counting import Snapshot
from bench.figures import Figure
from bench.log_volume import Volume

GOAL_USD_PER_10K = 0.10
SQS_TRIGGERED = {"PusherFunction": "standard", "ContactPollerFunction": "fifo"}
API_ROUTED = frozenset({"ApiFunction", "OAuthCallbackFunction", "WebhookFunction"})
TRACE_ROOTS = frozenset({*API_ROUTED, "PusherFunction", "ContactPollerFunction"})  # import steps join the
# state machine's trace
PLATFORM_LOG_BYTES = 400


@cache
def tracing_sampling() -> tuple[float, int]:
    """(fixed rate, reservoir per second) of the template's X-Ray sampling rule, as deployed by default."""
    from local.template import load_template

    parameters = load_template()["Parameters"]
    return float(parameters["TracingSampleRate"]["Default"]), int(parameters["TracingReservoir"]["Default"])


def sampled_share(per_second: float, fixed_rate: float, reservoir: int) -> float:
    """Share of invocations arriving at ``per_second`` (Poisson) that X-Ray records: the first
    ``reservoir`` of each second, then ``fixed_rate`` of the rest."""
    if per_second <= 0:
        return 1.0 if reservoir > 0 else fixed_rate
    term = math.exp(-per_second)  # P(N = 0)
    at_most = 0.0
    reserved = 0.0  # E[min(N, reservoir)] = sum over k < reservoir of P(N > k)
    for k in range(reservoir):
        at_most += term
        reserved += 1 - at_most
        term *= per_second / (k + 1)
    return (reserved + fixed_rate * (per_second - reserved)) / per_second


def usage_of(
    snapshot: Snapshot,
    *,
    kyrios_events_in: int = 0,
    transitions: int = 0,
    logs: Volume | None = None,
    model: ContainerModel | None = None,
    documents: int = 0,
) -> Usage:
    calls, items, fifo = snapshot.functions_only()
    usage = usage_from_calls(calls, items, fifo_queue_calls=fifo)
    usage.detail["aws_calls"] = {
        f"{service}:{operation}": n for (service, operation), n in sorted(calls.items())
    }
    usage.detail["dynamodb_write_units_by_key"] = snapshot.writes_by_key()
    usage.detail["dynamodb_items_read_by_key"] = snapshot.writes_by_key(reads=True)
    usage.detail["lambda_by_function"] = {
        function_id: {
            "invocations": invocations.count,
            "gb_seconds": round(invocations.gb_seconds, 3),
            "cpu_seconds": round(invocations.cpu_seconds, 3),
        }
        for function_id, invocations in sorted(snapshot.invocations.items())
        if invocations.count
    }
    for function_id, invocations in snapshot.invocations.items():
        usage.lambda_invocations += invocations.count
        usage.lambda_gb_seconds += invocations.gb_seconds
        kind = SQS_TRIGGERED.get(function_id)
        if kind == "standard":
            usage.sqs_standard_requests += 2 * invocations.count
        elif kind == "fifo":
            usage.sqs_fifo_requests += 2 * invocations.count
        if function_id in TRACE_ROOTS:
            usage.xray_traces += invocations.count
        if function_id in API_ROUTED:
            usage.apigateway_requests += invocations.count
    usage.sqs_standard_requests += kyrios_events_in
    usage.eventbridge_events += kyrios_events_in
    usage.stepfunctions_transitions += transitions
    usage.log_bytes = PLATFORM_LOG_BYTES * usage.lambda_invocations
    if logs is not None:
        usage.log_bytes += logs.functions_bytes()
        usage.detail["log_bytes_functions"] = logs.functions_bytes()
        usage.detail["emf_bytes"] = sum(logs.emf_bytes.values())
        usage.detail["emf_documents"] = sum(logs.emf_documents.values())
        usage.detail["custom_metrics"] = sorted(logs.metrics)
    if documents > 0:
        usage.detail["dynamodb_write_units_per_document"] = {
            k: round(n / documents, 3) for k, n in usage.detail["dynamodb_write_units_by_key"].items()
        }
        usage.detail["dynamodb_items_read_per_document"] = {
            k: round(n / documents, 3) for k, n in usage.detail["dynamodb_items_read_by_key"].items()
        }
    if model is not None and documents > 0:
        usage.detail["in_process_kms_requests"] = usage.kms_requests
        usage.detail["in_process_secrets_manager_calls"] = usage.secrets_manager_calls
        scale = documents / 10_000  # the model is for 10,000 invoices; usage is for ``documents``
        usage.kms_requests = round(model.kms_requests(10_000) * scale)
        usage.secrets_manager_calls = round(model.secrets_manager_calls() * scale)
        usage.detail["container_model"] = model.as_dict()
        fixed_rate, reservoir = tracing_sampling()
        per_second = usage.xray_traces / documents * 10_000 / (model.hours * 3600)
        share = sampled_share(per_second, fixed_rate, reservoir)
        usage.detail["xray"] = {
            "traced_invocations": usage.xray_traces,
            "invocations_per_second": round(per_second, 4),
            "fixed_rate": fixed_rate,
            "reservoir_per_second": reservoir,
            "sampled_share": round(share, 4),
            # Lambda's guide says a function's sampling cannot be configured (1/s, then 5 %): if the
            # rule is not applied to the functions, this share is what X-Ray records and bills
            "share_if_lambda_ignores_the_rule": round(sampled_share(per_second, 0.05, 1), 4),
        }
        usage.xray_traces = usage.xray_traces * share
    return usage


def figure(workload: str, usage: Usage, documents: int, prices: Prices) -> Figure:
    lines = cost(usage, prices)
    per_10k = per_documents(lines["total"], documents)
    biggest = sorted(((v, k) for k, v in lines.items() if k != "total"), reverse=True)[:4]
    metrics = usage.detail.get("custom_metrics", [])
    per_month = len(metrics) * prices.cloudwatch_custom_metric_month
    log_bytes = usage.detail.get("log_bytes_functions")
    return Figure(
        "aws cost",
        f"USD per 10,000 documents, {workload}",
        "USD",
        per_10k,
        goal=GOAL_USD_PER_10K,
        notes=f"from {documents:,} documents; largest: "
        + ", ".join(f"{k} ${per_documents(v, documents):.4f}" for v, k in biggest)
        + (f"; function log bytes per document {log_bytes / documents:,.0f}" if log_bytes is not None else "")
        + (f"; plus {len(metrics)} EMF custom metrics = ${per_month:.2f} a month" if metrics else ""),
        details={
            "usage": {k: v for k, v in usage.__dict__.items() if k != "detail"},
            "usd": lines,
            "usd_per_10k": {k: per_documents(v, documents) for k, v in lines.items()},
            "detail": usage.detail,
        },
    )
