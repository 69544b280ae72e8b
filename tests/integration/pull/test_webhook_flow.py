"""Signed webhooks from the emulator → webhook handler → poll nudge → poller → contact.created on the bus."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from kyrios_qbo import nudges
from kyrios_qbo.webhooks import expected_signature
from local.lambda_context import lambda_context
from local.qbo_emulator import DEFAULT_VERIFIER_TOKEN
from tests.fixtures import QBO_SAMPLES

from .support import Bus, Company, PollQueue, api_gateway_event, call_webhook

REPO_ROOT = Path(__file__).resolve().parents[3]


def _create_customer(ctl: Any, realm_id: str, name: str, email: str) -> dict[str, Any]:
    return ctl.create_customer(
        realm_id,
        DisplayName=name,
        GivenName=name.split()[0],
        FamilyName=name.split()[-1],
        CompanyName=f"{name} Ltd",
        PrimaryEmailAddr={"Address": email},
        PrimaryPhone={"FreeFormNumber": "(555) 555-0100"},
        BillAddr={
            "Line1": "1 Main St",
            "City": "Springfield",
            "CountrySubDivisionCode": "CA",
            "PostalCode": "94000",
        },
    )


@pytest.mark.parametrize("fmt", ["legacy", "cloudevents"])
def test_customer_created_in_qbo_becomes_a_contact(
    fmt: str, ctl: Any, company: Company, webhooks_to: Any, poll_queue: PollQueue, bus: Bus
) -> None:
    relay = webhooks_to(fmt)
    customer = _create_customer(ctl, company.realm_id, "Ada Lovelace", "Ada@Example.com")
    assert ctl.wait_webhooks(timeout=5)
    assert relay.answers and all(status == 200 for status, _ in relay.answers)
    assert relay.answers[-1][1]["nudged"] == 1

    messages = poll_queue.receive(company.realm_id, expect=1)
    assert len(messages) == 1
    attributes = messages[0]["Attributes"]
    assert attributes["MessageGroupId"] == company.realm_id
    assert attributes["MessageDeduplicationId"].startswith(f"{company.realm_id}-")
    nudge = nudges.parse_nudge(messages[0]["Body"])
    assert (nudge.account_id, nudge.realm_id, nudge.reason) == (
        company.account_id,
        company.realm_id,
        "webhook",
    )

    result = poll_queue.run_poller(messages[0])
    assert result == {"batchItemFailures": []}
    contacts = bus("contact.created", 1)
    assert len(contacts) == 1
    assert bus("contact.created", 1, timeout=1.0) == []
    event = contacts[0]
    assert event["source"] == "kyrios.quickbooks"
    detail = event["detail"]
    assert detail["account_id"] == company.account_id
    assert detail["realm_id"] == company.realm_id
    assert detail["qbo_customer_id"] == customer["Id"]
    assert detail["display_name"] == "Ada Lovelace"
    assert (detail["given_name"], detail["family_name"], detail["company"]) == (
        "Ada",
        "Lovelace",
        "Ada Lovelace Ltd",
    )
    assert detail["email"] == "ada@example.com"
    assert detail["phone"] == "(555) 555-0100"
    assert detail["address"]["line1"] == "1 Main St"
    assert detail["address"]["city"] == "Springfield"
    assert detail["address"]["region"] == "CA"
    assert detail["address"]["postal_code"] == "94000"

    from kyrios_qbo.store import mappings

    assert mappings.find_customer_by_email(company.realm_id, "ada@example.com") == customer["Id"]


def test_duplicated_and_reordered_webhooks_give_one_contact_each(
    ctl: Any, company: Company, webhooks_to: Any, poll_queue: PollQueue, bus: Bus
) -> None:
    relay = webhooks_to("legacy")
    ctl.webhook_switches(duplicate_next=2, reorder=True)
    started = time.time()
    first = ctl.create_customer(company.realm_id, DisplayName="Twice One")
    ctl.advance_clock(1)
    second = ctl.create_customer(company.realm_id, DisplayName="Twice Two")
    assert ctl.wait_webhooks(timeout=5)
    finished = time.time()
    assert any(d["duplicate_of"] for d in ctl.webhook_deliveries())  # Intuit sent some twice
    assert len(relay.answers) >= 2 and all(status == 200 for status, _ in relay.answers)
    messages = poll_queue.receive(company.realm_id, timeout=2.0)
    # One nudge per company per 10-second bucket, however many webhooks arrived.
    buckets = {int(started // nudges.DEDUP_WINDOW_SECONDS), int(finished // nudges.DEDUP_WINDOW_SECONDS)}
    assert 1 <= len(messages) <= len(buckets)
    for message in messages:
        assert poll_queue.run_poller(message) == {"batchItemFailures": []}
    published = sorted(c["detail"]["qbo_customer_id"] for c in bus("contact.created", 3, timeout=3))
    assert published == sorted([first["Id"], second["Id"]])


def test_base64_encoded_bodies_are_verified_and_accepted(
    ctl: Any, company: Company, webhooks_to: Any, poll_queue: PollQueue
) -> None:
    relay = webhooks_to("cloudevents")
    relay.base64_bodies = True
    ctl.create_customer(company.realm_id, DisplayName="Encoded")
    assert ctl.wait_webhooks(timeout=5)
    assert [status for status, _ in relay.answers] == [200]
    assert len(poll_queue.receive(company.realm_id, expect=1)) == 1


def _signed(payload: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {
        "Intuit-Signature": expected_signature(body, DEFAULT_VERIFIER_TOKEN),
        "Content-Type": "application/json",
    }


def _legacy(realm_id: str) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": "Customer",
                            "id": "1",
                            "operation": "Create",
                            "lastUpdated": "2026-01-01T00:00:00.000Z",
                        }
                    ]
                },
            }
        ]
    }


def test_forged_webhooks_are_refused_and_enqueue_nothing(
    qbo: Any, company: Company, poll_queue: PollQueue
) -> None:
    body, headers = _signed(_legacy(company.realm_id))
    forged = call_webhook(body, {**headers, "Intuit-Signature": expected_signature(body, "not-the-token")})
    assert forged["statusCode"] == 401
    unsigned = call_webhook(body, {"Content-Type": "application/json"})
    assert unsigned["statusCode"] == 401
    tampered = call_webhook(body.replace(b'"Create"', b'"Delete"'), headers)
    assert tampered["statusCode"] == 401
    deep = b"[" * 5000 + b"]" * 5000
    forged_deep = call_webhook(deep, {"intuit-signature": expected_signature(deep, "not-the-token")})
    assert forged_deep["statusCode"] == 401

    from functions.webhook.app import lambda_handler

    not_base64 = api_gateway_event(body, headers, base64_body=True)
    not_base64["body"] = "not base64 !!"  # cannot be the bytes Intuit signed
    assert lambda_handler(not_base64, lambda_context("webhook"))["statusCode"] == 401
    assert poll_queue.receive(company.realm_id, timeout=1.0) == []


def _signed_raw(raw: bytes) -> dict[str, str]:
    return {"intuit-signature": expected_signature(raw, DEFAULT_VERIFIER_TOKEN)}


def _nudged(poll_queue: PollQueue, realm_id: str) -> list[dict[str, Any]]:
    messages = poll_queue.receive(realm_id, expect=1)
    return [json.loads(m["Body"]) for m in messages]


@pytest.mark.parametrize(
    "shape",
    [
        "nested 5000 deep",
        "not JSON",
        "JSON of no known shape",
        "legacy shape with a bad entity",
    ],
)
def test_a_signed_unreadable_delivery_naming_a_company_is_200_and_polls_that_company(
    qbo: Any, company: Company, poll_queue: PollQueue, shape: str
) -> None:
    realm = company.realm_id
    raw = {
        "nested 5000 deep": (
            '{"eventNotifications": [{"realmId": "' + realm + '", "dataChangeEvent": '
            + "[" * 5000 + "]" * 5000 + "}]}"
        ).encode(),
        "not JSON": b'{"eventNotifications": [{"realmId": "' + realm.encode() + b'", ',
        "JSON of no known shape": json.dumps({"hello": {"intuitaccountid": int(realm)}}).encode(),
        "legacy shape with a bad entity": json.dumps(
            {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [42]}}]}
        ).encode(),
    }[shape]

    answer = call_webhook(raw, _signed_raw(raw))

    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"nudged": 1, "ignored": 0, "echoes": 0, "unreadable": True}
    [nudge] = _nudged(poll_queue, realm)
    assert (nudge["account_id"], nudge["reason"]) == (company.account_id, "webhook")


# A signed delivery naming no company is handed to the safety sweep: tests/integration/pull/test_sweep.py.


def test_a_signed_delivery_over_256_kib_is_accepted_like_any_other(
    qbo: Any, company: Company, poll_queue: PollQueue
) -> None:
    huge = json.dumps({**_legacy(company.realm_id), "pad": "x" * (300 * 1024)}).encode()

    answer = call_webhook(huge, _signed_raw(huge))

    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"nudged": 1, "ignored": 0, "echoes": 0}
    assert len(_nudged(poll_queue, company.realm_id)) == 1


def test_unknown_and_disconnected_companies_are_ignored_with_200(
    qbo: Any, company: Company, poll_queue: PollQueue
) -> None:
    body, headers = _signed(_legacy("1234567890"))
    answer = call_webhook(body, headers)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"nudged": 0, "ignored": 1, "echoes": 0}

    from kyrios_qbo import connection

    connection.disconnect(company.account_id)
    body, headers = _signed(_legacy(company.realm_id))
    answer = call_webhook(body, headers)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["ignored"] == 1
    assert poll_queue.receive(company.realm_id, timeout=1.0) == []


def _entities(realm_id: str, *entities: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "eventNotifications": [
            {
                "realmId": realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {"name": name, "id": entity_id, "operation": operation,
                         "lastUpdated": "2026-01-01T00:00:00.000Z"}
                        for name, entity_id, operation in entities
                    ]
                },
            }
        ]
    }


def test_echoes_of_our_own_writes_do_not_wake_the_poller(
    qbo: Any, company: Company, poll_queue: PollQueue
) -> None:
    """What the pusher wrote (an invoice, its payment, a customer it created) comes back as webhooks:
    those alone spare a poll; one change by anybody else in the same notification still nudges."""
    from kyrios_qbo import store

    realm = company.realm_id
    store.put_mapping(realm, "invoice", "k-inv-1", qbo_id="130", sync_token="0", applied_version=1, new=True)
    store.put_mapping_if_absent(realm, "payment", "k-pay-1", qbo_id="131")
    store.put_mapping_if_absent(realm, "customer", "ann@example.com", qbo_id="58")

    echo = _entities(
        realm, ("Invoice", "130", "Create"), ("Payment", "131", "Create"), ("Invoice", "130", "Update"),
        ("Customer", "58", "Create"),
    )
    answer = call_webhook(*_signed(echo))
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"nudged": 0, "ignored": 0, "echoes": 1}
    assert poll_queue.receive(realm, timeout=1.0) == []

    for someone_else in (
        ("Invoice", "999", "Create"),  # an invoice typed in QuickBooks
        ("Customer", "58", "Update"),  # our customer, edited in QuickBooks: the email may have moved
    ):
        mixed = _entities(realm, ("Invoice", "130", "Update"), someone_else)
        answer = call_webhook(*_signed(mixed))
        assert json.loads(answer["body"]) == {"nudged": 1, "ignored": 0, "echoes": 0}, someone_else
    assert len(poll_queue.receive(realm, expect=1)) >= 1


def test_real_intuit_vector_is_accepted_when_its_token_is_configured(local_aws: Any, qbo: Any) -> None:
    """The handler verifies Intuit's own signed bytes (Java SDK vector) with that vector's token."""
    import boto3

    from kyrios_qbo import intuit_app

    vector = json.loads((QBO_SAMPLES / "webhook-signature-vectors.json").read_text())[0]
    raw = (QBO_SAMPLES / vector["payload_file"]).read_bytes()
    client = boto3.client("secretsmanager")
    secret_id = os.environ["INTUIT_APP_SECRET_ID"]
    current = client.get_secret_value(SecretId=secret_id)["SecretString"]
    client.put_secret_value(
        SecretId=secret_id,
        SecretString=json.dumps({**json.loads(current), "webhook_verifier_token": vector["verifier_token"]}),
    )
    intuit_app.forget_cached()
    try:
        ok = call_webhook(raw, {"intuit-signature": vector["intuit_signature"]})
        assert ok["statusCode"] == 200 and json.loads(ok["body"]) == {"nudged": 0, "ignored": 1, "echoes": 0}
        bad = call_webhook(raw, {"intuit-signature": vector["negative_case"]["intuit_signature"]})
        assert bad["statusCode"] == 401
    finally:
        client.put_secret_value(SecretId=secret_id, SecretString=current)
        intuit_app.forget_cached()


@pytest.mark.parametrize("name", ["webhook-legacy.json", "webhook-cloudevents.json"])
def test_sample_events_go_through_the_handler(qbo: Any, name: str) -> None:
    """events/ samples (used with ``sam local invoke -e``) are signed with the emulator's verifier token."""
    from functions.webhook.app import lambda_handler

    event = json.loads((REPO_ROOT / "events" / name).read_text())
    answer = lambda_handler(event, lambda_context("webhook"))
    assert answer["statusCode"] == 200  # verified; the sample company is not connected here
    assert json.loads(answer["body"]) == {"nudged": 0, "ignored": 1, "echoes": 0}
    event["body"] = event["body"][:-8] + "AAAAAAA=" if event["isBase64Encoded"] else event["body"] + " "
    assert lambda_handler(event, lambda_context("webhook"))["statusCode"] in (400, 401)


def test_sample_poller_events_go_through_the_handler(local_aws: Any, qbo: Any) -> None:
    from functions.contact_poller.app import lambda_handler

    record_event = json.loads((REPO_ROOT / "events" / "poller-sqs.json").read_text())
    assert lambda_handler(record_event, lambda_context("contact_poller")) == {"batchItemFailures": []}
    tick_event = json.loads((REPO_ROOT / "events" / "poller-tick.json").read_text())
    assert isinstance(lambda_handler(tick_event, lambda_context("contact_poller"))["nudged"], int)
