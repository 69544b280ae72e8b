"""Every sample in events/ runs through the local runner's function, with a meaningful outcome.

The samples are what ``sam local invoke -e events/<file>`` takes. Each file name says which function
and trigger it belongs to; a new sample without an expectation here fails, so does a function or
trigger without a sample.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runner import LocalBundle
from local.template import functions, load_template

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(path.name for path in EVENTS.glob("*.json"))


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalBundle]:
    running = LocalBundle.start(stage=f"se{uuid.uuid4().hex[:6]}", parameters={"LogLevel": "ERROR"})
    try:
        yield running
    finally:
        running.stop()


def _sqs_wrap(stack: LocalBundle, queue_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "sample",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": stack.resources.queues[queue_id].arn,
                "awsRegion": "us-east-1",
            }
        ]
    }


UNKNOWN_REALM = {"nudged": 0, "ignored": 1, "echoes": 0}


def _body(answer: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(answer["body"]))


def _redirect_query(answer: dict[str, Any]) -> str:
    assert answer["statusCode"] == 302
    return str(answer["headers"]["Location"]).split("?", 1)[1]


Check = Callable[[LocalBundle, dict[str, Any], Any], None]


def _dlq_empty(stack: LocalBundle) -> None:
    assert stack.queue_depth("PushDeadLetterQueue") == 0


# file → (function, how the event is prepared, what must come out)
EXPECTATIONS: dict[str, tuple[str, Callable[[LocalBundle, dict[str, Any]], dict[str, Any]], Check]] = {
    "api-connect.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 200 and _body(a)["authorize_url"].startswith(s.consent_url))
            or pytest.fail(str(a))
        ),
    ),
    "api-status.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 200 and _body(a)["status"] == "not_connected") or pytest.fail(str(a))
        ),
    ),
    "api-settings-patch.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 409 and _body(a)["error"] == "not_connected") or pytest.fail(str(a))
        ),
    ),
    "api-disconnect.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 200 and _body(a)["status"] == "not_connected") or pytest.fail(str(a))
        ),
    ),
    # The samples carry a state this stack never issued: the callback refuses it and says why.
    "oauth-callback-approved.json": (
        "OAuthCallbackFunction",
        lambda s, e: e,
        lambda s, e, a: (
            ("quickbooks=error" in _redirect_query(a) and "reason=invalid_state" in _redirect_query(a))
            or pytest.fail(str(a))
        ),
    ),
    "oauth-callback-denied.json": (
        "OAuthCallbackFunction",
        lambda s, e: e,
        lambda s, e, a: ("quickbooks=error" in _redirect_query(a)) or pytest.fail(str(a)),
    ),
    # A safety-sweep tick with nobody connected (so nobody due) nudges nobody.
    "poller-tick.json": (
        "ContactPollerFunction",
        lambda s, e: e,
        lambda s, e, a: (a["nudged"] == 0 and not a["continued"]) or pytest.fail(str(a)),
    ),
    # A nudge for an account that is not connected is acknowledged (nothing to poll), not retried.
    "poller-sqs.json": (
        "ContactPollerFunction",
        lambda s, e: e,
        lambda s, e, a: (a == {"batchItemFailures": []}) or pytest.fail(str(a)),
    ),
    # Signed with the emulator app's verifier token (the stack's secret): accepted; realm unknown here.
    "webhook-legacy.json": (
        "WebhookFunction",
        lambda s, e: e,
        lambda s, e, a: (a["statusCode"] == 200 and _body(a) == UNKNOWN_REALM) or pytest.fail(str(a)),
    ),
    "webhook-cloudevents.json": (
        "WebhookFunction",
        lambda s, e: e,
        lambda s, e, a: (a["statusCode"] == 200 and _body(a) == UNKNOWN_REALM) or pytest.fail(str(a)),
    ),
    "import-api-start.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 409 and _body(a)["error"] == "not_connected") or pytest.fail(str(a))
        ),
    ),
    "import-api-progress.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 404 and _body(a)["error"] == "import_not_found") or pytest.fail(str(a))
        ),
    ),
    "import-api-cancel.json": (
        "ApiFunction",
        lambda s, e: e,
        lambda s, e, a: (
            (a["statusCode"] == 404 and _body(a)["error"] == "import_not_found") or pytest.fail(str(a))
        ),
    ),
}
for _name in SAMPLES:
    if _name.startswith("kyrios-"):
        # Kyrios events for an unconnected account: acknowledged, nothing parked, nothing sent to QBO.
        EXPECTATIONS[_name] = (
            "PusherFunction",
            lambda s, e: _sqs_wrap(s, "PushQueue", e),
            lambda s, e, a: (a == {"batchItemFailures": []} or pytest.fail(str(a))) and _dlq_empty(s),
        )
    elif _name.startswith("pusher-sqs-"):
        EXPECTATIONS[_name] = (
            "PusherFunction",
            lambda s, e: e,
            lambda s, e, a: (a == {"batchItemFailures": []} or pytest.fail(str(a))) and _dlq_empty(s),
        )

# Step Functions task inputs for a job this stack never created: the step refuses with the error
# class the state machine's Catch matches on.
STEP_ERRORS = {
    "import-step-count.json": "ImportStepFailed",
    "import-step-page.json": "ImportStepFailed",
    "import-step-finish.json": "ImportNotFound",
    "import-step-fail.json": "ImportNotFound",
}


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_event_through_its_function(stack: LocalBundle, name: str) -> None:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    if name in STEP_ERRORS:
        with pytest.raises(Exception) as raised:
            stack.invoke("ImportStepsFunction", event)
        assert type(raised.value).__name__ == STEP_ERRORS[name]
        assert "does not exist" in str(raised.value)
        return
    assert name in EXPECTATIONS, f"events/{name} has no expectation in this test: add one"
    function_id, prepare, check = EXPECTATIONS[name]
    requests_before = len(stack.emulator.control.requests())
    answer = stack.invoke(function_id, prepare(stack, event))
    check(stack, event, answer)
    if function_id == "PusherFunction":
        writes = [r for r in stack.emulator.control.requests()[requests_before:] if r.get("method") == "POST"]
        assert writes == [], "nothing is written to QuickBooks for an account that is not connected"


def test_every_function_has_a_sample_event() -> None:
    covered = {function_id for function_id, _, _ in EXPECTATIONS.values()} | (
        {"ImportStepsFunction"} if STEP_ERRORS else set()
    )
    missing = sorted(set(functions(load_template())) - covered)
    assert missing == [], f"functions without a sample in events/: {missing}"
