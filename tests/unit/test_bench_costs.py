"""The bench's cost arithmetic: request units, prices, per-10,000 scaling, import-time parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.costs import Prices, Usage, cost, per_documents, request_units, usage_from_calls
from bench.handlers import sum_top_level_imports


def test_prices_file_states_date_and_caveat_and_loads() -> None:
    raw = json.loads((Path(__file__).resolve().parents[2] / "bench" / "prices.json").read_text())
    assert raw["region"] == "us-east-1"
    assert "verify before relying on it" in raw["as_of"]
    prices = Prices.load()
    assert prices.lambda_gb_second == pytest.approx(0.0000133334)
    assert prices.stepfunctions_transition == pytest.approx(0.025 / 1000)


def test_request_units_per_operation() -> None:
    assert request_units("GetItem") == (1.0, 0.0)
    assert request_units("PutItem") == (0.0, 1.0)
    assert request_units("BatchWriteItem", 25) == (0.0, 25.0)
    assert request_units("TransactWriteItems", 2) == (0.0, 4.0)  # transactions cost twice
    assert request_units("DescribeTable") == (0.0, 0.0)


def test_usage_from_counted_calls() -> None:
    calls = {
        ("dynamodb", "GetItem"): 10,
        ("dynamodb", "BatchWriteItem"): 2,
        ("events", "PutEvents"): 3,
        ("sqs", "SendMessageBatch"): 4,
        ("kms", "Decrypt"): 5,
        ("kms", "DescribeKey"): 1,
        ("secretsmanager", "GetSecretValue"): 1,
    }
    items = {("dynamodb", "BatchWriteItem"): 30, ("events", "PutEvents"): 21, ("sqs", "SendMessageBatch"): 4}
    usage = usage_from_calls(calls, items, fifo_queue_calls=1)
    assert usage.dynamodb_read_units == 10
    assert usage.dynamodb_write_units == 30
    assert usage.eventbridge_events == 21
    assert (usage.sqs_standard_requests, usage.sqs_fifo_requests) == (3, 1)
    assert usage.kms_requests == 5
    assert usage.secrets_manager_calls == 1


def test_cost_lines_and_total() -> None:
    prices = Prices.load()
    usage = Usage(
        lambda_invocations=1_000_000,
        lambda_gb_seconds=1000.0,
        dynamodb_write_units=2_000_000,
        eventbridge_events=1_000_000,
        stepfunctions_transitions=1000,
    )
    lines = cost(usage, prices)
    assert lines["lambda_requests"] == pytest.approx(0.20)
    assert lines["lambda_compute"] == pytest.approx(0.0133334)
    assert lines["dynamodb_writes"] == pytest.approx(1.25)
    assert lines["eventbridge"] == pytest.approx(1.0)
    assert lines["stepfunctions"] == pytest.approx(0.025)
    assert lines["total"] == pytest.approx(0.20 + 0.0133334 + 1.25 + 1.0 + 0.025)


def test_per_documents_scales_to_ten_thousand() -> None:
    assert per_documents(0.002, 100) == pytest.approx(0.2)
    assert per_documents(1.0, 10_000) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        per_documents(1.0, 0)


def test_usage_adds_up() -> None:
    total = Usage(lambda_invocations=2, dynamodb_read_units=3.0) + Usage(lambda_invocations=1, kms_requests=4)
    assert (total.lambda_invocations, total.dynamodb_read_units, total.kms_requests) == (3, 3.0, 4)


def test_import_time_sums_only_top_level_cumulative_times() -> None:
    output = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |   _io",
            "import time:       200 |        300 | encodings",
            "import time:        50 |         50 |     json.decoder",
            "import time:        10 |       1000 |   json",
            "import time:       400 |       4000 | app",
            "something else",
        ]
    )
    assert sum_top_level_imports(output) == 4300
