"""The bench's cost arithmetic: request units, prices, per-10,000 scaling, import-time parsing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench.container_model import ContainerModel
from bench.costs import Prices, Usage, cost, per_documents, request_units, usage_from_calls
from bench.handlers import sum_top_level_imports
from bench.log_volume import metric_names


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


def test_every_price_has_a_source_url_and_a_date() -> None:
    raw = json.loads((Path(__file__).resolve().parents[2] / "bench" / "prices.json").read_text())
    assert set(raw["sources"]) == set(raw["usd_per_unit"])
    for name, source in raw["sources"].items():
        assert source["url"].startswith("https://aws.amazon.com/"), name
        assert len(source["as_of"]) >= 7, name  # YYYY-MM at least


def test_production_lines_logs_traces_and_api_requests() -> None:
    prices = Prices.load()
    lines = cost(Usage(log_bytes=2e9, xray_traces=1_000_000, apigateway_requests=1_000_000), prices)
    assert lines["cloudwatch_logs"] == pytest.approx(1.00)  # $0.50 per GB ingested
    assert lines["xray"] == pytest.approx(5.00)
    assert lines["api_gateway"] == pytest.approx(1.00)
    assert lines["total"] == pytest.approx(7.00)


def test_container_model_counts_cold_starts_secret_reads_and_decrypts_per_container() -> None:
    model = ContainerModel(
        hours=1, companies=1, warm_containers=2, container_minutes=60, token_minutes=60, kms_per_refresh=3,
        refresh_rotation_hours=1e12,
    )
    assert model.cold_starts() == 2
    assert model.secrets_manager_calls() == 2 * 12 + 2  # every 300 s while warm, once per cold start
    # one invoice reaches one container; many reach both: 1 refresh (3 calls) + distinct containers
    assert model.kms_requests(1) == pytest.approx(3 + 1)
    assert model.kms_requests(1000) == pytest.approx(3 + 2)
    more_companies = ContainerModel(hours=1, companies=10, warm_containers=2, container_minutes=60)
    assert more_companies.kms_requests(1000) > model.kms_requests(1000)
    # the refresh token is encrypted again only when Intuit rotates it (once a day per company)
    daily = ContainerModel(hours=24, companies=1, warm_containers=1, container_minutes=60, token_minutes=60)
    assert daily.kms_requests(1) == pytest.approx(24 * 1 + 24 * 2 + 1)


def test_emf_documents_name_their_metrics() -> None:
    document = json.dumps(
        {
            "_aws": {
                "Timestamp": 0,
                "CloudWatchMetrics": [
                    {"Namespace": "Ns", "Dimensions": [["service"]], "Metrics": [{"Name": "QboCalls"}]}
                ],
            },
            "service": "s",
            "QboCalls": [1.0],
        }
    )
    assert metric_names(document) == {"Ns/QboCalls[service]"}
    assert metric_names('{"message": "not EMF"}') == set()


def test_dynamodb_writes_are_broken_down_by_operation_and_key_shape() -> None:
    """Real botocore requests (answered before they leave the process) go through the counting hook."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    from bench.counting import Counters

    counters = Counters()
    session = botocore.session.Session()
    session.register("before-call", counters.on_call)

    class Empty:
        def stream(self) -> list[bytes]:
            return [b"{}"]

    def answer(**_: object) -> AWSResponse:
        return AWSResponse("http://127.0.0.1", 200, {}, Empty())

    session.register("before-send", answer)
    ddb = session.create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
        endpoint_url="http://127.0.0.1:1",
    )
    key = {"pk": {"S": "REALM#123"}, "sk": {"S": "MAP#invoice#inv-7"}}
    with counters.inside("PusherFunction"):
        ddb.update_item(TableName="t", Key=key, UpdateExpression="SET a = :a",
                        ExpressionAttributeValues={":a": {"S": "1"}})
        log_item = {"pk": {"S": "ACCOUNT#a1"}, "sk": {"S": "LOG#2026-12-08T00:00:00Z#x"}}
        ddb.put_item(TableName="t", Item=log_item)
        ddb.put_item(TableName="idem", Item={"id": {"S": "fn#abc"}})
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "REALM#1"}, "sk": {"S": "QMAP#invoice#9"}}}},
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "REALM#1"}, "sk": {"S": "QMAP#invoice#8"}}}},
        ])
        ddb.get_item(TableName="t", Key=key)  # a read: not in the breakdown
    ddb.put_item(TableName="t", Item=key)  # outside any function: the harness's, left out
    assert counters.snapshot().writes_by_key() == {
        "TransactWriteItems Put:REALM#/QMAP#invoice#": 2,
        "TransactWriteItems Delete:REALM#/QMAP#invoice#": 2,
        "UpdateItem REALM#/MAP#invoice#": 1,
        "PutItem ACCOUNT#/LOG#": 1,
        "PutItem idempotency": 1,
    }
    assert counters.snapshot().writes_by_key(reads=True) == {"GetItem REALM#/MAP#invoice#": 1}


def test_xray_is_priced_by_the_share_the_sampling_rule_records() -> None:
    from bench.aws_cost import sampled_share, tracing_sampling

    assert tracing_sampling() == (0.05, 0)  # the template's defaults
    assert sampled_share(0.2, 0.05, 0) == pytest.approx(0.05)
    # a reservoir of 1/s records nearly everything at a fifth of a request per second...
    assert sampled_share(0.2, 0.05, 1) == pytest.approx((1 - math.exp(-0.2)) / 0.2 * 0.95 + 0.05)
    assert sampled_share(0.2, 0.05, 1) > 0.9
    # ...and little at a thousand per second
    assert sampled_share(1000.0, 0.05, 1) == pytest.approx(0.05 + 0.95 / 1000, rel=1e-3)
    assert sampled_share(0.0, 0.05, 0) == 0.05
