"""Bad input (hypothesis): the public webhook route over HTTP, the Kyrios event models, and the pusher's
handler with random EventBridge details. No 5xx, no unhandled exception, forged signatures always 401,
bad events parked with a reason (never retried forever). A correctly signed delivery gets 200 whatever
it holds (deep nesting, over 256 KiB, cut short): what cannot be read is answered with a poll."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kyrios_qbo.models.kyrios import InvalidEvent, parse_kyrios_event
from kyrios_qbo.webhooks import expected_signature
from local.qbo_emulator import DEFAULT_VERIFIER_TOKEN
from local.runner import WEBHOOK_PATH, LocalBundle
from tests.integration.pusher.conftest import invoice_event, payment_event
from tests.reliability.harness import (
    Company,
    Counts,
    connect_company,
    disconnect,
    drain_dead_letters,
    profile,
    reason_of,
)
from tests.reliability.workload import _lines

EXAMPLES = profile().fuzz_examples
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=profile().name == "short",  # soak rounds explore new examples
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KYRIOS_TYPES = ["invoice.sent", "invoice.updated", "invoice.paid", "invoice.voided", "payment.completed"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
# Printable ASCII; no leading or trailing blanks, which HTTP itself strips (requests refuses to send them).
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip)


@pytest.fixture(scope="module")
def company(stack: LocalBundle) -> Iterator[Company]:
    connected = connect_company(stack, "GB", "fuzz")
    yield connected
    disconnect(connected)


def _post_webhook(stack: LocalBundle, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{stack.api_url}{WEBHOOK_PATH}", data=body, headers=headers, timeout=30)


def _note(counts: Counts, status: int) -> None:
    counts.add("bad_inputs")
    counts.add("http_5xx", 1 if status >= 500 else 0)


# ---------------------------------------------------------------------------- webhook receiver
@FUZZ
@given(
    body=st.binary(max_size=600) | json_values.map(lambda v: json.dumps(v).encode()),
    signature=st.none() | header_text,
    extra=st.dictionaries(
        st.sampled_from(["content-type", "x-forwarded-for", "intuit-t-id", "user-agent"]),
        header_text,
        max_size=3,
    ),
)
def test_forged_or_missing_signatures_are_always_401(
    stack: LocalBundle, counts: Counts, body: bytes, signature: str | None, extra: dict[str, str]
) -> None:
    headers = dict(extra)
    if signature is not None:
        headers["intuit-signature"] = signature
    answer = _post_webhook(stack, body, headers)
    _note(counts, answer.status_code)
    assert answer.status_code == 401, answer.text


def _legacy(realms: list[str], entity: Any) -> Any:
    return {
        "eventNotifications": [
            {"realmId": realm, "dataChangeEvent": {"entities": [entity]}} for realm in realms
        ]
    }


def _cloudevents(realms: list[str], entity: Any) -> Any:
    return [
        {
            "specversion": "1.0",
            "id": f"e{n}",
            "source": "intuit",
            "type": entity,
            "time": "2026-01-01T00:00:00Z",
            "intuitentityid": "1",
            "intuitaccountid": realm,
        }
        for n, realm in enumerate(realms)
    ]


@FUZZ
@given(data=st.data())
def test_validly_signed_random_payloads_never_fail_the_server(
    stack: LocalBundle, company: Company, counts: Counts, data: st.DataObject
) -> None:
    realms = data.draw(
        st.lists(st.sampled_from([company.realm_id, "1", "12345678901234567890", "x", ""]), max_size=3)
    )
    payload = data.draw(
        json_values
        | st.builds(_legacy, st.just(realms), json_values)
        | st.builds(_cloudevents, st.just(realms), st.text(max_size=30) | json_values)
    )
    body = json.dumps(payload).encode()
    shape = data.draw(st.sampled_from(["as is", "nested 5000 deep", "over 256 KiB", "cut short"]))
    if shape == "nested 5000 deep":
        body = b'{"x": ' + b"[" * 5000 + body + b"]" * 5000 + b"}"
    elif shape == "over 256 KiB":
        body = body + b" " * (257 * 1024)
    elif shape == "cut short":
        body = body[: len(body) // 2]
    answer = _post_webhook(
        stack, body, {"intuit-signature": expected_signature(body, DEFAULT_VERIFIER_TOKEN)}
    )
    _note(counts, answer.status_code)
    # Intuit holds back later events until a delivery is acknowledged: signed means 200, always.
    assert answer.status_code == 200, answer.text


# ---------------------------------------------------------------------------- Kyrios events
def _valid_detail(company: Company, kind: str) -> dict[str, Any]:
    if kind == "payment.completed":
        return payment_event(company.account_id, source="order_form", currency="GBP", lines=_lines(1))[
            "detail"
        ]
    return invoice_event(company.account_id, currency="GBP", lines=_lines(1), detail_type=kind)["detail"]


def _mutate(document: Any, path: list[int], value: Any, delete: bool) -> Any:
    """Replace (or delete) the node reached by walking ``path`` (indexes into keys/items, modulo)."""
    out = copy.deepcopy(document)
    node, parent, key = out, None, None
    for step in path:
        if isinstance(node, dict) and node:
            parent, key = node, sorted(node)[step % len(node)]
        elif isinstance(node, list) and node:
            parent, key = node, step % len(node)
        else:
            break
        node = parent[key]
    if parent is None:
        return value
    if delete:
        del parent[key]
    else:
        parent[key] = value
    return out


@FUZZ
@given(data=st.data())
def test_kyrios_event_models_accept_or_refuse_with_a_typed_error(
    company: Company, counts: Counts, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from([*KYRIOS_TYPES, "invoice.deleted", ""]))
    detail = data.draw(
        json_values
        | st.builds(
            _mutate,
            st.just(_valid_detail(company, kind if kind in KYRIOS_TYPES else "invoice.sent")),
            st.lists(st.integers(0, 50), min_size=1, max_size=5),
            json_values,
            st.booleans(),
        )
    )
    counts.add("bad_inputs")
    try:
        parse_kyrios_event(kind, detail)
    except InvalidEvent:
        counts.add("refused_kyrios_events")


@FUZZ
@given(data=st.data())
def test_pusher_parks_bad_events_with_a_reason_and_never_crashes(
    stack: LocalBundle, company: Company, counts: Counts, data: st.DataObject
) -> None:
    kind = data.draw(st.sampled_from(KYRIOS_TYPES))
    valid = _valid_detail(company, kind)
    detail = data.draw(
        st.builds(
            _mutate,
            st.just(valid),
            st.lists(st.integers(0, 50), min_size=1, max_size=5),
            json_values,
            st.booleans(),
        )
        | json_values
    )
    envelope = data.draw(st.sampled_from(["event", "no-detail-type", "not-json"]))
    if envelope == "not-json":
        body = data.draw(st.text(max_size=80))
    else:
        event: dict[str, Any] = {
            "version": "0",
            "id": "fuzz",
            "source": "kyrios.core",
            "detail-type": kind,
            "detail": detail,
        }
        if envelope == "no-detail-type":
            del event["detail-type"]
        body = json.dumps(event)
    invalid = envelope != "event"
    if not invalid:
        try:
            parse_kyrios_event(kind, detail)
        except InvalidEvent:
            invalid = True
    message = {"MessageId": "fuzz-1", "ReceiptHandle": "r", "Body": body}
    record = stack.poller("PusherFunction").record(message)
    counts.add("bad_inputs")
    try:
        answer = stack.invoke("PusherFunction", {"Records": [record]})
    except Exception:
        counts.add("unhandled_exceptions")
        raise
    parked = drain_dead_letters(stack, timeout=0.5)
    assert isinstance(answer, dict) and isinstance(answer.get("batchItemFailures"), list)
    if invalid:
        counts.add("bad_events_parked", len(parked))
        assert answer["batchItemFailures"] == [], "a bad event is parked, not retried forever"
        assert len(parked) == 1 and reason_of(parked[0]), [m.get("MessageAttributes") for m in parked]
        assert parked[0]["Body"] == body, "the parked message is the event as it came"
