"""The local runner wires template.yaml as AWS would: routes, queues, rules, schedules, state machines.

The expected wiring is recomputed here from the template by its own reading (not the runner's), so
a trigger added to the template and forgotten by the runner fails ``test_every_template_trigger_is_wired``.
"""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from local.devtoken import InvalidToken, make_token, template_issuer_and_audiences, verify_token
from local.runner import LocalBundle, WiringError, merged_environment
from local.sqs_pollers import SqsMapping, SqsPoller
from local.template import load_template


# ---------------------------------------------------------------------------- expected wiring
def _logical(value: Any) -> str:
    """Logical id behind ``!GetAtt X.Arn`` / ``!Ref X``."""
    if isinstance(value, Mapping):
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Ref" in value:
            return str(value["Ref"])
    return str(value)


def expected_wiring(template: Mapping[str, Any]) -> set[tuple[str, str]]:
    expected: set[tuple[str, str]] = set()
    for logical_id, resource in template["Resources"].items():
        kind = resource["Type"]
        props = resource.get("Properties", {})
        if kind == "AWS::Serverless::Function":
            expected.add(("function", logical_id))
            for name, event in (props.get("Events") or {}).items():
                event_props = event.get("Properties", {})
                if event["Type"] == "HttpApi":
                    expected.add(("route", f"{event_props['Method'].upper()} {event_props['Path']}"))
                elif event["Type"] == "SQS":
                    expected.add(("sqs", f"{_logical(event_props['Queue'])}->{logical_id}"))
                elif event["Type"] == "Schedule":
                    expected.add(("schedule", f"{logical_id}.{name}"))
                else:
                    expected.add(("unsupported", f"{logical_id}.{name}"))
        elif kind == "AWS::Events::Rule":
            for target in props.get("Targets", []):
                expected.add(("rule", f"{logical_id}->{_logical(target['Arn'])}"))
        elif kind == "AWS::Serverless::StateMachine":
            expected.add(("state_machine", logical_id))
    return expected


def wiring_problems(expected: set[tuple[str, str]], wiring: list[dict[str, Any]]) -> list[str]:
    actual = {(row["kind"], row["key"]) for row in wiring}
    return [f"not wired: {kind} {key}" for kind, key in sorted(expected - actual)] + [
        f"wired but not in the template: {kind} {key}" for kind, key in sorted(actual - expected)
    ]


# ---------------------------------------------------------------------------- the stack
@pytest.fixture(scope="module")
def stack() -> Iterator[LocalBundle]:
    running = LocalBundle.start(
        stage=f"rt{uuid.uuid4().hex[:6]}",
        schedule_interval=0.5,
        sqs_time_scale=0.001,
        parameters={"LogLevel": "ERROR"},
    )
    try:
        yield running
    finally:
        running.stop()


def test_every_template_trigger_is_wired(stack: LocalBundle) -> None:
    problems = wiring_problems(expected_wiring(load_template()), stack.wiring())
    assert problems == []
    functions = {row["key"]: row for row in stack.wiring() if row["kind"] == "function"}
    assert all(row["code"] for row in functions.values()), "every function has its handler file"


def test_the_check_reports_a_route_queue_and_rule_the_runner_forgot(stack: LocalBundle) -> None:
    template = copy.deepcopy(load_template())
    resources = template["Resources"]
    resources["ApiFunction"]["Properties"]["Events"]["Extra"] = {
        "Type": "HttpApi",
        "Properties": {
            "ApiId": {"Ref": "HttpApi"},
            "Method": "GET",
            "Path": "/integrations/quickbooks/extra",
        },
    }
    resources["ExtraQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    resources["WebhookFunction"]["Properties"]["Events"]["Extra"] = {
        "Type": "SQS",
        "Properties": {"Queue": {"Fn::GetAtt": ["ExtraQueue", "Arn"]}, "BatchSize": 1},
    }
    resources["ExtraRule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {"Targets": [{"Id": "x", "Arn": {"Fn::GetAtt": ["ExtraQueue", "Arn"]}}]},
    }
    resources["PusherFunction"]["Properties"]["Events"]["Stream"] = {"Type": "DynamoDB", "Properties": {}}

    problems = wiring_problems(expected_wiring(template), stack.wiring())

    assert problems == [
        "not wired: route GET /integrations/quickbooks/extra",
        "not wired: rule ExtraRule->ExtraQueue",
        "not wired: sqs ExtraQueue->WebhookFunction",
        "not wired: unsupported PusherFunction.Stream",
    ]


def test_front_door_answers_like_api_gateway_without_a_valid_token(stack: LocalBundle) -> None:
    url = f"{stack.api_url}/integrations/quickbooks"
    issuer, _audiences = template_issuer_and_audiences()
    wrong_audience = make_token("acct-x", issuer=issuer, audience="someone-else")
    bad_signature = stack.dev_token("acct-x")[:-4] + "AAAA"
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    header, claims, signature = stack.dev_token("acct-x").split(".")
    for headers in (
        {},
        {"Authorization": f"Bearer {wrong_audience}"},
        {"Authorization": f"Bearer {bad_signature}"},
        {"Authorization": "Bearer not.a.jwt"},  # "not" decodes to bytes that are not UTF-8
        {"Authorization": f"Bearer {b64(bytes([0xFF, 0xFE, 0x00]))}.{claims}.{signature}"},
        {"Authorization": f"Bearer {header}.{b64(bytes([0xC3, 0x28]))}.{signature}"},
        {"Authorization": f"Bearer {b64(b'[' * 5000 + b']' * 5000)}.{claims}.{signature}"},
        {"Authorization": f"Bearer {header}.{claims}.%%%"},
        {"Authorization": "Bearer a.b.c.d"},
    ):
        answer = requests.get(url, headers=headers, timeout=10)
        assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    missing = requests.get(f"{stack.api_url}/no/such/route", timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    wrong_method = requests.put(
        url, headers={"Authorization": f"Bearer {stack.dev_token('acct-x')}"}, timeout=10
    )
    assert wrong_method.status_code == 404


def test_front_door_builds_payload_2_events_with_the_callers_claims(stack: LocalBundle) -> None:
    account = f"acct-{uuid.uuid4().hex[:8]}"
    answer = requests.get(
        f"{stack.api_url}/integrations/quickbooks/imports/job-42?a=1&a=2&b=x",
        headers={"Authorization": f"Bearer {stack.dev_token(account)}", "X-Custom": "Yes"},
        cookies={"session": "abc"},
        timeout=10,
    )
    assert answer.status_code in (404, 409)  # no such import for a new account
    event = stack.invocations_of("ApiFunction")[-1].event
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /integrations/quickbooks/imports/{job_id}"
    assert event["rawPath"] == "/integrations/quickbooks/imports/job-42"
    assert event["pathParameters"] == {"job_id": "job-42"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["cookies"] == ["session=abc"]
    assert event["headers"]["x-custom"] == "Yes"
    assert "cookie" not in event["headers"]
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["kyrios:account_id"] == account
    assert event["isBase64Encoded"] is False


def test_binary_bodies_arrive_base64_encoded_and_public_routes_carry_no_claims(stack: LocalBundle) -> None:
    requests.post(
        f"{stack.api_url}/webhooks/intuit",
        data=b"\x00\x01binary",
        headers={"Content-Type": "application/octet-stream", "intuit-signature": "bogus"},
        timeout=10,
    )
    event = stack.invocations_of("WebhookFunction")[-1].event
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AAFiaW5hcnk="
    assert "authorizer" not in event["requestContext"]


def test_eventbridge_rule_delivers_kyrios_events_through_the_push_queue(stack: LocalBundle) -> None:
    """moto delivers to the rule's SQS target itself; the poller hands the record to the pusher."""
    event_id = f"evt_{uuid.uuid4().hex[:12]}"
    detail = {
        "event_id": event_id,
        "account_id": f"acct-{uuid.uuid4().hex[:8]}",
        "occurred_at": "2026-03-02T09:15:00Z",
    }
    stack.client("events").put_events(
        Entries=[
            {
                "Source": "kyrios.core",
                "DetailType": "invoice.voided",
                "Detail": json.dumps(detail),
                "EventBusName": stack.resources.event_bus_name,
            }
        ]
    )
    push_arn = stack.resources.queues["PushQueue"].arn

    def delivered() -> list[dict[str, Any]]:
        return [
            record
            for call in stack.invocations_of("PusherFunction")
            for record in call.event["Records"]
            if json.loads(record["body"])["detail"]["event_id"] == event_id
        ]

    deadline = time.monotonic() + 15
    while not delivered() and time.monotonic() < deadline:
        time.sleep(0.1)
    records = delivered()
    assert len(records) == 1
    assert records[0]["eventSource"] == "aws:sqs"
    assert records[0]["eventSourceARN"] == push_arn
    assert json.loads(records[0]["body"])["detail-type"] == "invoice.voided"


def test_schedule_fires_the_template_input(stack: LocalBundle) -> None:
    timer = stack.schedule("ContactPollerFunction")
    fired_before = timer.fired
    deadline = time.monotonic() + 5
    while timer.fired < fired_before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert timer.fired >= fired_before + 2
    ticks = [call for call in stack.invocations_of("ContactPollerFunction") if call.event == {"kind": "tick"}]
    assert ticks and all(call.error is None for call in ticks)


def test_poller_keeps_failed_items_and_sqs_moves_them_to_the_dlq(stack: LocalBundle) -> None:
    """Partial batch response: only the failed item stays; after maxReceiveCount moto redrives it."""
    sqs = stack.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    dlq_url = sqs.create_queue(QueueName=f"rt-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"rt-queue-{suffix}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for body in ("good-1", "bad", "good-2"):
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    seen: list[tuple[str, str]] = []

    def handler(function_id: str, event: dict[str, Any]) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            seen.append((record["body"], record["attributes"]["ApproximateReceiveCount"]))
            if record["body"] == "bad":
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    mapping = SqsMapping(
        "Probe",
        "Queue",
        "ProbeQueue",
        queue_url,
        queue_arn,
        batch_size=10,
        report_batch_item_failures=True,
        visibility_timeout=30,
    )
    poller = SqsPoller(mapping, handler, sqs, time_scale=0.0)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        poller.poll_once(wait_seconds=0)
        moved = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        if int(moved["Attributes"]["ApproximateNumberOfMessages"]) == 1:
            break
    parked = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in parked] == ["bad"]
    assert sorted(body for body, _ in seen if body != "bad") == ["good-1", "good-2"]
    assert [count for body, count in seen if body == "bad"] == ["1", "2"]
    assert poller.stats.deleted == 2 and poller.stats.failed == 2
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages") is None


def test_functions_get_the_template_environment_pointed_at_local_services(stack: LocalBundle) -> None:
    env = stack.environment
    assert env["TABLE_NAME"] == stack.resources.tables["Table"]
    assert env["POLL_QUEUE_URL"] == stack.resources.queues["PollQueue"].url
    assert env["OAUTH_REDIRECT_URI"] == f"{stack.api_url}/integrations/quickbooks/callback"
    assert env["UI_RETURN_URL"].startswith(stack.api_url)
    assert env["INTUIT_ENVIRONMENT"] == stack.emulator.discovery_url
    assert env["QBO_API_BASE_URL"] == stack.emulator.api_base
    apps = {app["client_id"]: app for app in stack.emulator.control.apps()}
    assert apps["emulator-client-id"]["webhook_url"] == f"{stack.api_url}/webhooks/intuit"


# ---------------------------------------------------------------------------- pure pieces
def test_merged_environment_refuses_two_values_for_one_variable() -> None:
    assert merged_environment({"A": {"X": "1"}, "B": {"X": "1", "Y": "2"}}) == {"X": "1", "Y": "2"}
    with pytest.raises(WiringError, match="A and B need different values for X"):
        merged_environment({"A": {"X": "1"}, "B": {"X": "2"}})


def test_dev_tokens_verify_only_with_the_right_issuer_audience_and_time() -> None:
    token = make_token("acct-1", issuer="https://issuer/", audience="ui", ttl_seconds=60, now=1_000)
    assert (
        verify_token(token, issuer="https://issuer/", audiences=["ui"], now=1_030)["kyrios:account_id"]
        == "acct-1"
    )
    for kwargs in (
        {"issuer": "https://other/", "audiences": ["ui"], "now": 1_030},
        {"issuer": "https://issuer/", "audiences": ["api"], "now": 1_030},
        {"issuer": "https://issuer/", "audiences": ["ui"], "now": 1_061},
    ):
        with pytest.raises(InvalidToken):
            verify_token(token, **kwargs)  # type: ignore[arg-type]
