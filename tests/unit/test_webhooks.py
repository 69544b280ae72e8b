"""Webhook signature and payload parsing, against Intuit's real vectors and samples (read in place)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyrios_qbo import webhooks
from kyrios_qbo.webhooks import (
    BadSignature,
    MalformedPayload,
    expected_signature,
    find_realm_ids,
    parse_notification,
    read_webhook,
    signature_is_valid,
)
from tests.fixtures import QBO_SAMPLES

VECTORS = json.loads((QBO_SAMPLES / "webhook-signature-vectors.json").read_text(encoding="utf-8"))
TOKEN = "test-verifier-token"


def _sample_bytes(name: str) -> bytes:
    return (QBO_SAMPLES / name).read_bytes()


def _signed(raw: bytes, token: str = TOKEN) -> dict[str, Any]:
    return {"intuit-signature": expected_signature(raw, token)}


# ------------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["payload_file"])
def test_real_vectors_verify_over_the_payload_files_exact_bytes(vector: dict[str, Any]) -> None:
    raw = _sample_bytes(vector["payload_file"])
    assert raw == vector["payload"].encode("utf-8")  # the file holds exactly the signed bytes
    assert signature_is_valid(raw, vector["intuit_signature"], vector["verifier_token"]) is True
    assert expected_signature(raw, vector["verifier_token"]) == vector["intuit_signature"]


def test_real_negative_vector_and_wrong_token_fail() -> None:
    java = VECTORS[0]
    raw = java["payload"].encode("utf-8")
    assert signature_is_valid(raw, java["negative_case"]["intuit_signature"], java["verifier_token"]) is False
    assert signature_is_valid(raw, java["intuit_signature"], VECTORS[1]["verifier_token"]) is False


def test_one_changed_byte_breaks_the_signature() -> None:
    vector = VECTORS[1]
    raw = vector["payload"].encode("utf-8").replace(b'"43"', b'"44"')
    assert signature_is_valid(raw, vector["intuit_signature"], vector["verifier_token"]) is False


@pytest.mark.parametrize("signature", [None, "", "   ", "ünïcode", "x" * 500])
def test_missing_or_garbage_signatures_are_invalid(signature: str | None) -> None:
    assert signature_is_valid(b"{}", signature, TOKEN) is False


def test_empty_verifier_token_never_validates() -> None:
    raw = b"{}"
    assert signature_is_valid(raw, expected_signature(raw, ""), "") is False


@pytest.mark.parametrize("name", ["intuit-signature", "Intuit-Signature", "INTUIT-SIGNATURE"])
def test_header_is_found_in_any_case(name: str) -> None:
    vector = VECTORS[0]
    notification = read_webhook(
        body=vector["payload"],
        is_base64_encoded=False,
        headers={"content-type": "application/json", name: vector["intuit_signature"]},
        verifier_token=vector["verifier_token"],
    )
    assert notification.realms_to_poll == ("1185883450",)


def test_base64_encoded_body_is_verified_over_the_decoded_bytes() -> None:
    vector = VECTORS[1]
    encoded = base64.b64encode(vector["payload"].encode("utf-8")).decode()
    notification = read_webhook(
        body=encoded,
        is_base64_encoded=True,
        headers={"intuit-signature": vector["intuit_signature"]},
        verifier_token=vector["verifier_token"],
    )
    assert notification.format == "legacy"
    assert [(c.entity, c.entity_id, c.operation) for c in notification.changes] == [
        ("vendor", "40", "Update"),
        ("customer", "43", "Create"),
    ]
    # Signed over the encoded text instead of the bytes: refused.
    with pytest.raises(BadSignature):
        read_webhook(
            body=encoded,
            is_base64_encoded=True,
            headers=_signed(encoded.encode()),
            verifier_token=TOKEN,
        )


def test_invalid_base64_cannot_be_signed_bytes() -> None:
    with pytest.raises(BadSignature, match="base64"):
        read_webhook(body="not base64 !!", is_base64_encoded=True, headers={}, verifier_token=TOKEN)


# ------------------------------------------------------------------------------------ order of checks


def test_a_body_over_256_kib_is_read_like_any_other() -> None:
    """No size limit of our own: API Gateway bounds the body, the signature guards it."""
    raw = b'{"eventNotifications": [{"realmId": "7"}]}' + b" " * (300 * 1024)
    for body, encoded in ((raw.decode(), False), (base64.b64encode(raw).decode(), True)):
        notification = read_webhook(
            body=body, is_base64_encoded=encoded, headers=_signed(raw), verifier_token=TOKEN
        )
        assert notification.realms_to_poll == ("7",)


def test_a_body_nested_5000_deep_is_malformed_with_its_verified_bytes() -> None:
    raw = b'{"eventNotifications": [{"realmId": "12", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    with pytest.raises(MalformedPayload, match="deep") as caught:
        read_webhook(body=raw.decode(), is_base64_encoded=False, headers=_signed(raw), verifier_token=TOKEN)
    assert caught.value.raw == raw
    assert find_realm_ids(caught.value.raw) == ("12",)


@pytest.mark.parametrize(
    ("raw", "realms"),
    [
        (b'{"realmId": "12", "realmId":"12", "intuitaccountid": 34, "realmIdX": "9"}', ("12", "34")),
        (b'[{"intuitaccountid": "1x-_9", "realmId": "bad realm"}', ("1x-_9",)),
        (b'{"realmId": "' + b"9" * 65 + b'"}', ()),
        (b'{"realmId": 123.5, "realmId": 77}', ("77",)),
        (b"\xff\xfe not even text", ()),
    ],
)
def test_realm_ids_are_recovered_from_unreadable_bytes(raw: bytes, realms: tuple[str, ...]) -> None:
    assert find_realm_ids(raw) == realms


def test_too_many_realms_in_unreadable_bytes_means_poll_everyone() -> None:
    raw = b",".join(b'{"realmId": "%d"}' % n for n in range(webhooks.MAX_RECOVERED_REALMS + 1))
    assert find_realm_ids(raw) is None
    assert find_realm_ids(raw, limit=webhooks.MAX_RECOVERED_REALMS + 1) is not None


def test_malformed_body_with_a_bad_signature_is_a_401_not_a_400() -> None:
    with pytest.raises(BadSignature) as caught:
        read_webhook(
            body="{nope", is_base64_encoded=False, headers={"intuit-signature": "AAAA"}, verifier_token=TOKEN
        )
    assert caught.value.status == 401


# ------------------------------------------------------------------------------------ payloads


def test_legacy_sample_with_customer_and_vendor() -> None:
    notification = parse_notification(_sample_bytes("webhook-legacy.json"))
    assert notification.format == "legacy"
    assert notification.realm_ids == ("1185883450",)
    assert [(c.entity, c.entity_id, c.operation, c.occurred_at) for c in notification.changes] == [
        ("customer", "1", "Create", "2015-10-05T14:42:19-0700"),
        ("vendor", "1", "Create", "2015-10-05T14:42:19-0700"),
    ]
    assert notification.realms_to_poll == ("1185883450",)


def test_changes_to_entities_we_do_not_sync_wake_nobody() -> None:
    notification = parse_notification(_sample_bytes("webhook-legacy-blog-2025.json"))
    assert notification.realm_ids == ("310687",)
    assert notification.changes[0].entity == "account"
    assert notification.realms_to_poll == ()


def test_cloudevents_samples() -> None:
    blog = parse_notification(_sample_bytes("webhook-cloudevents.json"))
    assert blog.format == "cloudevents"
    assert [(c.realm_id, c.entity, c.entity_id, c.operation) for c in blog.changes] == [
        ("310687", "account", "1234", "created")
    ]
    sdk = parse_notification(_sample_bytes("webhook-cloudevents-dotnet-sdk.json"))  # no datacontenttype
    assert [(c.realm_id, c.entity, c.operation, c.occurred_at) for c in sdk.changes] == [
        ("310687", "class", "created", "2025-10-07T19:59:07.034359333Z")
    ]


def test_cloudevents_for_customers_invoices_and_payments_nudge_each_realm_once() -> None:
    events = [
        {
            "specversion": "1.0",
            "id": "a",
            "type": "qbo.customer.created.v1",
            "intuitaccountid": "111",
            "intuitentityid": "58",
            "time": "2026-01-01T00:00:00Z",
            "data": {},
        },
        {
            "specversion": "1.0",
            "id": "b",
            "type": "qbo.invoice.updated.v1",
            "intuitaccountid": "222",
            "intuitentityid": "130",
        },
        {
            "specversion": "1.0",
            "id": "c",
            "type": "qbo.payment.created.v1",
            "intuitaccountid": "111",
            "intuitentityid": "7",
        },
        {
            "specversion": "1.0",
            "id": "d",
            "type": "qbo.vendor.created.v1",
            "intuitaccountid": "333",
            "intuitentityid": "9",
        },
    ]
    notification = parse_notification(json.dumps(events).encode())
    assert notification.realms_to_poll == ("111", "222")
    assert notification.realm_ids == ("111", "222", "333")


def test_legacy_with_several_realms_and_numeric_ids() -> None:
    payload = {
        "eventNotifications": [
            {
                "realmId": 123,
                "dataChangeEvent": {"entities": [{"name": "Invoice", "id": 5, "operation": "Update"}]},
            },
            {"realmId": "456", "dataChangeEvent": {"entities": []}},
            {"realmId": "789"},
        ]
    }
    notification = parse_notification(json.dumps(payload).encode())
    assert notification.changes[0].entity_id == "5"
    # A realm named without entities is treated as "something changed there".
    assert notification.realms_to_poll == ("123", "456", "789")


def test_empty_cloudevents_array_is_valid_and_nudges_nobody() -> None:
    assert parse_notification(b"[]").realms_to_poll == ()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'"a string"', "unknown payload"),
        (b'{"hello": "world"}', "unknown payload"),
        (b'{"eventNotifications": {}}', "must be a list"),
        (b'{"eventNotifications": [42]}', "must be an object"),
        (b'{"eventNotifications": [{"dataChangeEvent": {"entities": []}}]}', "realm id"),
        (b'{"eventNotifications": [{"realmId": "1 OR 1=1"}]}', "realm id"),
        (b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": []}]}', "must be an object"),
        (
            b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": {}}}]}',
            "must be a list",
        ),
        (
            b'{"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [{"id": "1"}]}}]}',
            "name",
        ),
        (b"[1]", "must be an object"),
        (b'[{"type": "qbo.customer.created.v1", "intuitaccountid": "1"}]', "specversion"),
        (b'[{"specversion": "1.0", "type": "com.example.thing", "intuitaccountid": "1"}]', "type"),
        (b'[{"specversion": "1.0", "type": "qbo.customer.created.v1"}]', "realm id"),
        (b'[{"specversion": "1.0", "type": "qbo.customer.created.v1", "intuitaccountid": true}]', "realm id"),
    ],
)
def test_malformed_payloads_name_the_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason) as caught:
        parse_notification(body)
    assert caught.value.status == 400


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        [
                            "eventNotifications",
                            "realmId",
                            "dataChangeEvent",
                            "entities",
                            "name",
                            "id",
                            "specversion",
                            "type",
                            "intuitaccountid",
                            "x",
                        ]
                    ),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=25,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_signed_body_parses_or_is_refused_with_a_reason(raw: bytes) -> None:
    try:
        notification = read_webhook(
            body=base64.b64encode(raw).decode(),
            is_base64_encoded=True,
            headers=_signed(raw),
            verifier_token=TOKEN,
        )
    except MalformedPayload as exc:
        assert exc.reason
    else:
        for realm in notification.realms_to_poll:
            assert realm and len(realm) <= 64


# ------------------------------------------------------------------------------------ echoes
def _legacy_with(realm_id: str, *entities: tuple[str, str | None, str]) -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": realm_id,
                    "dataChangeEvent": {
                        "entities": [
                            {"name": name, "id": entity_id, "operation": operation}
                            for name, entity_id, operation in entities
                        ]
                    },
                }
            ]
        }
    ).encode()


def test_invoice_and_payment_changes_and_customer_creations_can_be_echoes() -> None:
    raw = _legacy_with(
        "111",
        ("Invoice", "130", "Update"),
        ("Invoice", "130", "Create"),
        ("Payment", "131", "Create"),
        ("Customer", "58", "Create"),
        ("Vendor", "7", "Update"),  # not relevant: never wakes the poller, never blocks an echo
    )
    candidates = parse_notification(raw).echo_candidates("111")
    assert candidates == {"invoice": ("130",), "payment": ("131",), "customer": ("58",)}


@pytest.mark.parametrize(
    "entities",
    [
        [("Invoice", "130", "Update"), ("Customer", "58", "Update")],  # may move the indexed email
        [("Customer", "58", "Merge")],
        [("Invoice", None, "Update")],  # no id: cannot be checked
        [("Vendor", "7", "Update")],  # nothing relevant: nothing to spare either
    ],
)
def test_changes_that_are_never_treated_as_echoes(entities: list[tuple[str, str | None, str]]) -> None:
    assert parse_notification(_legacy_with("111", *entities)).echo_candidates("111") is None


def test_a_realm_named_without_entities_is_never_an_echo() -> None:
    raw = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "111",
                    "dataChangeEvent": {"entities": [{"name": "Invoice", "id": "1", "operation": "Create"}]},
                },
                {"realmId": "111"},
            ]
        }
    ).encode()
    notification = parse_notification(raw)
    assert "111" in notification.realms_without_entities
    assert notification.echo_candidates("111") is None


def test_cloudevents_creations_are_recognised() -> None:
    raw = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "e1",
                "type": "qbo.customer.created.v1",
                "source": "intuit",
                "intuitentityid": "58",
                "intuitaccountid": "222",
                "time": "2026-01-01T00:00:00Z",
            },
            {
                "specversion": "1.0",
                "id": "e2",
                "type": "qbo.customer.updated.v1",
                "source": "intuit",
                "intuitentityid": "59",
                "intuitaccountid": "333",
                "time": "2026-01-01T00:00:00Z",
            },
        ]
    ).encode()
    notification = parse_notification(raw)
    assert notification.echo_candidates("222") == {"customer": ("58",)}
    assert notification.echo_candidates("333") is None
