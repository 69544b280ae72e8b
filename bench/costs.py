"""AWS request counts → dollars, with the public prices in ``bench/prices.json`` (pure arithmetic).

DynamoDB on-demand bills request units, not requests; the bench sees requests, so each is priced as
what a small item costs: a read of one item (≤ 4 KB, strongly consistent) = 1 RRU, a write of one
item (≤ 1 KB) = 1 WRU, batch operations per item, transactions twice (as AWS bills them). Our items
are small (keys, versions, a few ids), so this is close and errs on the high side for reads.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")

DYNAMODB_READS = frozenset({"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"})
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
KMS_BILLED = frozenset(
    {"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncrypt"}
)


@dataclass(frozen=True)
class Prices:
    """USD prices, us-east-1, on-demand (see prices.json for the date and the source)."""

    lambda_gb_second: float
    lambda_request: float
    dynamodb_read_unit: float
    dynamodb_write_unit: float
    sqs_standard_request: float
    sqs_fifo_request: float
    eventbridge_custom_event: float
    kms_request: float
    secrets_manager_call: float
    stepfunctions_transition: float
    cloudwatch_logs_ingested_gb: float
    cloudwatch_custom_metric_month: float
    xray_trace_recorded: float
    apigateway_http_request: float

    @classmethod
    def load(cls, path: Path = PRICES_FILE) -> Prices:
        raw = json.loads(path.read_text(encoding="utf-8"))
        per_unit = raw["usd_per_unit"]
        return cls(**{name: float(per_unit[name]) for name in cls.__dataclass_fields__})


@dataclass
class Usage:
    """What one workload asked of AWS (counted by the bench's botocore hooks and from the local stack)."""

    lambda_invocations: int = 0
    lambda_gb_seconds: float = 0.0
    dynamodb_read_units: float = 0.0
    dynamodb_write_units: float = 0.0
    sqs_standard_requests: int = 0
    sqs_fifo_requests: int = 0
    eventbridge_events: int = 0
    kms_requests: int = 0
    secrets_manager_calls: int = 0
    stepfunctions_transitions: int = 0
    log_bytes: float = 0.0  # CloudWatch Logs ingestion (function output + Lambda's own lines)
    xray_traces: float = 0.0  # traces recorded (sampled)
    apigateway_requests: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def __add__(self, other: Usage) -> Usage:
        merged = Usage()
        for name in self.__dataclass_fields__:
            if name != "detail":
                setattr(merged, name, getattr(self, name) + getattr(other, name))
        return merged


def request_units(operation: str, items: int = 1) -> tuple[float, float]:
    """(read units, write units) a DynamoDB call of ``operation`` over ``items`` items costs."""
    weight = 2 if operation.startswith("Transact") else 1
    if operation in DYNAMODB_READS:
        return float(weight * max(1, items)), 0.0
    if operation in DYNAMODB_WRITES:
        return 0.0, float(weight * max(1, items))
    return 0.0, 0.0  # DescribeTable and friends are free


def cost(usage: Usage, prices: Prices) -> dict[str, float]:
    """Dollars per line item, plus ``total``."""
    lines = {
        "lambda_requests": usage.lambda_invocations * prices.lambda_request,
        "lambda_compute": usage.lambda_gb_seconds * prices.lambda_gb_second,
        "dynamodb_reads": usage.dynamodb_read_units * prices.dynamodb_read_unit,
        "dynamodb_writes": usage.dynamodb_write_units * prices.dynamodb_write_unit,
        "sqs": usage.sqs_standard_requests * prices.sqs_standard_request
        + usage.sqs_fifo_requests * prices.sqs_fifo_request,
        "eventbridge": usage.eventbridge_events * prices.eventbridge_custom_event,
        "kms": usage.kms_requests * prices.kms_request,
        "secrets_manager": usage.secrets_manager_calls * prices.secrets_manager_call,
        "stepfunctions": usage.stepfunctions_transitions * prices.stepfunctions_transition,
        "cloudwatch_logs": usage.log_bytes / 1e9 * prices.cloudwatch_logs_ingested_gb,
        "xray": usage.xray_traces * prices.xray_trace_recorded,
        "api_gateway": usage.apigateway_requests * prices.apigateway_http_request,
    }
    lines["total"] = sum(lines.values())
    return lines


def per_documents(total_usd: float, documents: int, per: int = 10_000) -> float:
    """``total_usd`` spent on ``documents`` documents, scaled to ``per`` documents."""
    if documents <= 0:
        raise ValueError("documents must be positive")
    return total_usd / documents * per


def usage_from_calls(
    calls: Mapping[tuple[str, str], int],
    items: Mapping[tuple[str, str], int],
    *,
    fifo_queue_calls: int = 0,
) -> Usage:
    """Usage from counted AWS calls: ``calls[(service, operation)]`` = requests and ``items`` = the
    items/entries they carried (DynamoDB batch items, PutEvents entries); ``fifo_queue_calls`` of the
    SQS calls went to FIFO queues."""
    usage = Usage()
    sqs_total = 0
    for (service, operation), count in calls.items():
        carried = items.get((service, operation), count)
        if service == "dynamodb":
            reads, writes = request_units(operation, 1)
            per_call_items = carried / count if count else 1
            usage.dynamodb_read_units += reads * count * max(1.0, per_call_items)
            usage.dynamodb_write_units += writes * count * max(1.0, per_call_items)
        elif service == "sqs":
            sqs_total += count
        elif service == "events" and operation == "PutEvents":
            usage.eventbridge_events += carried
        elif service == "kms" and operation in KMS_BILLED:
            usage.kms_requests += count
        elif service == "secretsmanager":
            usage.secrets_manager_calls += count
    usage.sqs_fifo_requests = min(fifo_queue_calls, sqs_total)
    usage.sqs_standard_requests = sqs_total - usage.sqs_fifo_requests
    return usage


def merge_counts(*counters: Mapping[tuple[str, str], int]) -> Counter[tuple[str, str]]:
    total: Counter[tuple[str, str]] = Counter()
    for counter in counters:
        total.update(counter)
    return total
