"""The handlers alone: each parses its event, calls one layer function, answers — with the layer faked.

The fast layer beside the moto + emulator integration tests (as in aws-samples/serverless-test-samples):
no AWS, no QBO, no network. The sample events under ``events/`` are the inputs, so the events that
``sam local invoke`` uses are the ones these tests parse. Each fake records what the handler asked of the
layer; the assertions are on that and on the answer.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kyrios_qbo import dead_letters, push, webhook_intake
from local.lambda_context import lambda_context

EVENTS = Path(__file__).resolve().parents[3] / "events"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


@dataclass
class Calls:
    seen: list[dict[str, Any]] = field(default_factory=list)

    def record(self, **kwargs: Any) -> None:
        self.seen.append(kwargs)


# ------------------------------------------------------------------------------------------ pusher


@pytest.fixture
def pusher(monkeypatch: pytest.MonkeyPatch) -> Any:
    from functions.pusher import app

    return app


def _fake_push(monkeypatch: pytest.MonkeyPatch, app: Any, outcome: Exception | None) -> Calls:
    """Replace the push with a fake that records its arguments and raises ``outcome``."""
    calls = Calls()

    def push_event(detail_type: str, detail: Any, *, deadline: Any, final_attempt: bool) -> Any:
        calls.record(detail_type=detail_type, detail=detail, final_attempt=final_attempt)
        assert callable(deadline)  # the invocation's remaining time
        if outcome is not None:
            raise outcome
        return push.PushResult("ok", "pushed", "invoice", "inv_1")

    monkeypatch.setattr(app.push, "push_event", push_event)
    return calls


def _fake_dead_letters(monkeypatch: pytest.MonkeyPatch) -> list[dead_letters.DeadLetter]:
    parked: list[dead_letters.DeadLetter] = []
    monkeypatch.setattr(dead_letters, "send", parked.append)
    return parked


def test_pusher_hands_the_eventbridge_event_to_the_push(pusher: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_push(monkeypatch, pusher, None)
    parked = _fake_dead_letters(monkeypatch)
    event = sample("pusher-sqs-invoice-sent.json")
    answer = pusher.lambda_handler(event, lambda_context("PusherFunction"))
    assert answer == {"batchItemFailures": []}
    assert parked == []
    [call] = calls.seen
    body = json.loads(event["Records"][0]["body"])
    assert (call["detail_type"], call["detail"]) == (body["detail-type"], body["detail"])
    assert call["final_attempt"] is False


def test_pusher_reports_a_busy_document_for_redelivery(pusher: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_push(monkeypatch, pusher, push.DocumentBusy("held by another invocation"))
    parked = _fake_dead_letters(monkeypatch)
    event = sample("pusher-sqs-invoice-sent.json")
    answer = pusher.lambda_handler(event, lambda_context("PusherFunction"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert parked == []


def test_pusher_parks_a_permanent_failure_with_its_reason(
    pusher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    failure = push.PushFailure(
        dead_letters.FailureReason.INVALID_DOCUMENT, "lines.0.quantity: must be positive",
        account_id="acct_7d3f9c", event_id="evt_01HZX4KA1B", document=("invoice", "inv_01HZX4K9Q2"),
    )
    _fake_push(monkeypatch, pusher, failure)
    parked = _fake_dead_letters(monkeypatch)
    answer = pusher.lambda_handler(sample("pusher-sqs-invoice-sent.json"), lambda_context("PusherFunction"))
    assert answer == {"batchItemFailures": []}  # parked, so acknowledged
    [letter] = parked
    assert (letter.reason, letter.message) == (failure.reason, failure.message)
    assert (letter.account_id, letter.document_kind, letter.document_id) == (
        "acct_7d3f9c", "invoice", "inv_01HZX4K9Q2"
    )


def test_pusher_parks_a_body_that_is_not_an_event_without_pushing(
    pusher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_push(monkeypatch, pusher, None)
    parked = _fake_dead_letters(monkeypatch)
    event = sample("pusher-sqs-invoice-sent.json")
    event["Records"][0]["body"] = '{"account_id": "acct_7d3f9c", "not": "an event"'
    answer = pusher.lambda_handler(event, lambda_context("PusherFunction"))
    assert answer == {"batchItemFailures": []}
    assert calls.seen == []
    [letter] = parked
    assert letter.reason == dead_letters.FailureReason.MALFORMED_EVENT


def test_pusher_tells_the_push_when_this_is_the_last_receive(
    pusher: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PUSH_MAX_RECEIVES", "3")
    calls = _fake_push(monkeypatch, pusher, None)
    _fake_dead_letters(monkeypatch)
    event = sample("pusher-sqs-invoice-sent.json")
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    pusher.lambda_handler(event, lambda_context("PusherFunction"))
    assert calls.seen[0]["final_attempt"] is True


# ----------------------------------------------------------------------------------------- webhook


@pytest.mark.parametrize("encoded", [False, True])
def test_webhook_passes_body_and_headers_and_answers_what_the_layer_decided(
    monkeypatch: pytest.MonkeyPatch, encoded: bool
) -> None:
    from functions.webhook import app

    calls = Calls()

    def receive(**kwargs: Any) -> webhook_intake.WebhookAnswer:
        calls.record(**kwargs)
        return webhook_intake.WebhookAnswer(200, {"queued": 1})

    @dataclass
    class App:
        webhook_verifier_token: str = "verifier-from-secrets"

    monkeypatch.setattr(webhook_intake, "receive", receive)
    monkeypatch.setattr(app.intuit_app, "get_intuit_app", App)
    event = copy.deepcopy(sample("webhook-legacy.json"))
    if encoded:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    answer = app.lambda_handler(event, lambda_context("WebhookFunction"))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"queued": 1}
    [call] = calls.seen
    assert call["body"] == event["body"]
    assert call["is_base64_encoded"] is encoded
    assert call["headers"] == event["headers"]
    assert call["verifier_token"] == "verifier-from-secrets"


# ------------------------------------------------------------------------------------ import steps


@pytest.mark.parametrize(("step", "layer_function"), [
    ("count", "count_step"), ("page", "page_step"), ("finish", "finish_step"), ("fail", "fail_step"),
])
def test_import_step_dispatches_to_its_step(
    monkeypatch: pytest.MonkeyPatch, step: str, layer_function: str
) -> None:
    from functions.import_steps import app

    called: list[str] = []

    def fake(cursor: Any, *args: Any, **kwargs: Any) -> Any:
        called.append(layer_function)
        return cursor.model_copy(update={"pages": cursor.pages + 1})

    for name in ("count_step", "page_step", "finish_step", "fail_step"):
        monkeypatch.setattr(app.importer, name, fake)
    event = sample("import-step-page.json")
    event["step"] = step
    answer = app.lambda_handler(event, lambda_context("ImportStepsFunction"))
    assert called == [layer_function]
    assert answer["pages"] == event["cursor"]["pages"] + 1
    assert answer["job_id"] == event["cursor"]["job_id"]


@pytest.mark.parametrize("event", [
    {"step": "count"},  # no cursor
    {"step": "count", "cursor": "job-1"},
    {"step": "rewind", "cursor": sample("import-step-page.json")["cursor"]},
])
def test_import_step_refuses_what_the_state_machine_never_sends(
    monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]
) -> None:
    from functions.import_steps import app

    with pytest.raises(app.UnknownStep):
        app.lambda_handler(event, lambda_context("ImportStepsFunction"))


# ---------------------------------------------------------------------------------- OAuth callback

RETURN_URL = "https://app.kyrios.example/settings/integrations?tab=qbo"


@pytest.fixture
def callback_environment(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The callback function's variables as template.yaml gives them (values made up), settings re-read."""
    from kyrios_qbo.config import get_settings

    for name, value in {"STAGE": "test", "TABLE_NAME": "kyrios-quickbooks-test",
                        "UI_RETURN_URL": RETURN_URL}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("callback_environment")
def test_callback_redirects_with_the_ref_and_never_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.oauth_callback import app

    calls = Calls()

    def return_from_intuit(**kwargs: Any) -> str:
        calls.record(**kwargs)
        return "ref-123"

    monkeypatch.setattr(app, "return_from_intuit", return_from_intuit)
    event = sample("oauth-callback-approved.json")
    answer = app.lambda_handler(event, lambda_context("OAuthCallbackFunction"))
    params = event["queryStringParameters"]
    [call] = calls.seen
    assert call == {"state": params["state"], "code": params["code"], "realm_id": params["realmId"],
                    "error": None}
    assert answer["statusCode"] == 302
    location = answer["headers"]["Location"]
    assert location == f"{RETURN_URL}&quickbooks=approved&ref=ref-123"
    assert params["code"] not in location and params["state"] not in location
    assert answer["headers"]["Referrer-Policy"] == "no-referrer"


@pytest.mark.usefixtures("callback_environment")
@pytest.mark.parametrize(("raised", "reason"), [
    ("invalid_state", "invalid_state"),
    (RuntimeError("DynamoDB unavailable"), "internal_error"),
])
def test_callback_turns_every_failure_into_a_redirect_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, raised: Any, reason: str
) -> None:
    from functions.oauth_callback import app

    def return_from_intuit(**kwargs: Any) -> str:
        raise app.ConnectError(raised, "refused") if isinstance(raised, str) else raised

    monkeypatch.setattr(app, "return_from_intuit", return_from_intuit)
    event = sample("oauth-callback-approved.json")
    answer = app.lambda_handler(event, lambda_context("OAuthCallbackFunction"))
    assert answer["statusCode"] == 302
    assert answer["headers"]["Location"].endswith(f"quickbooks=error&reason={reason}")


# ---------------------------------------------------------------------------------- contact poller


@dataclass
class Poller:
    app: Any
    calls: Calls

    def lambda_handler(self, event: dict[str, Any], context: Any) -> Any:
        return self.app.lambda_handler(event, context)


@pytest.fixture
def poller(monkeypatch: pytest.MonkeyPatch) -> Poller:
    """The poller with the sweep and the company poll faked; ``calls`` says which path ran."""
    from functions.contact_poller import app
    from kyrios_qbo import polling, sweep

    calls = Calls()

    def run_tick(**kwargs: Any) -> sweep.TickResult:
        calls.record(path="tick")
        return sweep.TickResult(nudged=3)

    def poll_company(account_id: str, realm_id: str, **kwargs: Any) -> polling.PollResult:
        calls.record(path="poll", account_id=account_id, realm_id=realm_id)
        if realm_id == "busy-realm":
            raise polling.PollBusy(realm_id, "poll-other-invocation")
        return polling.PollResult(status="polled", account_id=account_id, realm_id=realm_id)

    monkeypatch.setattr(sweep, "run_tick", run_tick)
    monkeypatch.setattr(polling, "poll_company", poll_company)
    return Poller(app, calls)


def _poll_event(body: str) -> dict[str, Any]:
    event = sample("poller-sqs.json")
    event["Records"][0]["body"] = body
    return event


def test_poller_schedule_runs_the_sweep_and_polls_no_one(poller: Poller) -> None:
    answer = poller.lambda_handler(sample("poller-tick.json"), lambda_context("ContactPollerFunction"))
    assert answer["nudged"] == 3
    assert [call["path"] for call in poller.calls.seen] == ["tick"]


def test_poller_message_polls_the_company_it_names(poller: Poller) -> None:
    event = sample("poller-sqs.json")
    answer = poller.lambda_handler(event, lambda_context("ContactPollerFunction"))
    assert answer == {"batchItemFailures": []}
    body = json.loads(event["Records"][0]["body"])
    expected = {"path": "poll", "account_id": body["account_id"], "realm_id": body["realm_id"]}
    assert poller.calls.seen == [expected]


def test_poller_continuation_message_continues_the_sweep(poller: Poller) -> None:
    from kyrios_qbo import sweep

    answer = poller.lambda_handler(
        _poll_event(json.dumps({"kind": sweep.CONTINUATION_KIND})), lambda_context("ContactPollerFunction")
    )
    assert answer == {"batchItemFailures": []}
    assert [call["path"] for call in poller.calls.seen] == ["tick"]


def test_poller_busy_company_is_redelivered_and_an_unreadable_message_dropped(poller: Poller) -> None:
    busy = _poll_event(json.dumps({"v": 1, "account_id": "acct-1", "realm_id": "busy-realm",
                                   "reason": "webhook", "requested_at": 1795633200.0}))
    answer = poller.lambda_handler(busy, lambda_context("ContactPollerFunction"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": busy["Records"][0]["messageId"]}]}
    unreadable = _poll_event("not a nudge")
    answer = poller.lambda_handler(unreadable, lambda_context("ContactPollerFunction"))
    assert answer == {"batchItemFailures": []}
    assert [call["path"] for call in poller.calls.seen] == ["poll"]  # only the busy one was polled
