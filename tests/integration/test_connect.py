"""Connect QuickBooks end to end: the API and callback handlers against local AWS and the emulator."""

# Fixtures are imported from connect_support, so test parameters "redefine" them:
# ruff: noqa: F811

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from kyrios_qbo import connect_flow, store, tokens
from kyrios_qbo.store import coordination
from tests.integration.connect_support import (  # noqa: F401 - fixtures
    CLIENT_ID,
    COMPLETE,
    REDIRECT_URI,
    UI_RETURN_URL,
    call_api,
    call_callback,
    company,
    complete,
    connect,
    connect_env,
    consent,
    emulator,
    finish,
    start_connect,
)

pytestmark = pytest.mark.usefixtures("connect_env")
STATUS = "/integrations/quickbooks"
SETTINGS = "/integrations/quickbooks/settings"


def _raw_item(account_id: str) -> dict[str, Any] | None:
    from kyrios_qbo.config import get_settings

    answer = boto3.client("dynamodb").get_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": "CONNECTION"}},
        ConsistentRead=True,
    )
    item: dict[str, Any] | None = answer.get("Item")
    return item


def _live_grants(emulator: Any, realm_id: str) -> list[dict[str, Any]]:
    return [g for g in emulator.control.grants() if g["realm"] == realm_id and not g["revoked"]]


def _status_events(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["detail"] for m in messages if m["detail-type"] == "connection.status_changed"]


# ---------------------------------------------------------------------------------------- happy path
def test_connect_round_trip(account_id: str, company: str, emulator: Any, bus_events_queue: str,
                            drain: Any) -> None:
    authorize_url = start_connect(account_id)
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(emulator.url + "/connect/oauth2")
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == ["com.intuit.quickbooks.accounting"]
    assert len(query["state"][0]) >= 43  # token_urlsafe(32): 256 bits

    params = consent(authorize_url, company)
    status, location, outcome = call_callback(params)
    assert status == 302
    assert location.startswith(UI_RETURN_URL + "?")
    assert outcome["quickbooks"] == "approved" and len(outcome["ref"]) >= 43
    assert params["code"] not in location and params["state"] not in location
    # The redirect alone connects nothing and creates no grant at Intuit.
    assert call_api("GET", STATUS, account_id)[1]["status"] == "not_connected"
    assert _live_grants(emulator, company) == []

    code, body = complete(account_id, outcome["ref"])
    assert code == 200, body
    assert body == call_api("GET", STATUS, account_id)[1]
    assert body["status"] == "connected"
    assert body["realm_id"] == company
    assert body["company_name"] == f"Test Company {company[-4:]}"
    assert (body["country"], body["currency"]) == ("GB", "GBP")
    assert body["settings"] == {"send_review_requests": True, "sync_contacts": True, "push_invoices": True,
                                "push_payments": True}
    connected_at = datetime.fromisoformat(body["connected_at"])
    assert abs((datetime.now(UTC) - connected_at).total_seconds()) < 60
    assert body["last_sync_at"] is None

    # Tokens are stored only as KMS ciphertext and never returned.
    grant = _live_grants(emulator, company)
    assert len(grant) == 1
    item = _raw_item(account_id)
    assert item is not None
    stored = b"".join(value.get("B", b"") for value in item.values())
    assert grant[0]["refresh_token"].encode() not in stored
    assert grant[0]["refresh_token"] not in str(body)
    connection = store.get_connection(account_id)
    assert connection is not None and connection.tokens is not None
    refresh = tokens.decrypt_token(account_id, company, "refresh", connection.token_version,
                                   connection.tokens.refresh_token)
    assert refresh == grant[0]["refresh_token"]

    events = _status_events(drain(bus_events_queue, 1))
    assert [(e["account_id"], e["realm_id"], e["status"]) for e in events] == [
        (account_id, company, "connected")
    ]


def test_reconnecting_the_same_company_keeps_cutoff_cursor_and_settings(account_id: str, company: str,
                                                                        emulator: Any) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    first = store.get_connection(account_id)
    assert first is not None
    cursor_at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert coordination.advance_cursor(company, "cdc", cursor_at)
    assert call_api("PATCH", SETTINGS, account_id, body={"send_review_requests": False})[0] == 200
    time.sleep(0.01)

    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    second = store.get_connection(account_id)
    assert second is not None
    assert second.status == "connected"
    assert second.connected_at == first.connected_at  # the sync cutoff stays at the first connect
    assert second.token_version > first.token_version
    assert second.settings["send_review_requests"] is False
    assert coordination.get_cursor(company, "cdc") == cursor_at
    assert len(_live_grants(emulator, company)) == 2  # the new grant is stored, the old one still valid


# ---------------------------------------------------------------------------------------- refusals
def _assert_not_connected(account_id: str) -> None:
    code, body = call_api("GET", STATUS, account_id)
    assert (code, body["status"]) == (200, "not_connected")
    assert _raw_item(account_id) is None


def _approved_ref(params: dict[str, str]) -> str:
    status, _, outcome = call_callback(params)
    assert (status, outcome["quickbooks"]) == (302, "approved"), outcome
    return outcome["ref"]


def test_a_consent_link_sent_to_another_business_connects_nothing(account_id: str, company: str,
                                                                  emulator: Any) -> None:
    """The attack: M sends its consent link to B's admin, who approves B's company and lands, signed in
    to B's own Kyrios account, on the Kyrios page. B's company must not end up connected to M."""
    business_b = f"acct-b-{secrets.token_hex(6)}"
    realm_b = company
    link_of_m = start_connect(account_id)
    ref = _approved_ref(consent(link_of_m, realm_b))  # B approves at Intuit

    code, body = complete(business_b, ref, claims={"sub": "admin-of-b"})  # B's browser completes
    assert (code, body["error"]) == (403, "wrong_account")
    assert "another Kyrios account" in body["message"]
    # M knows its state but never sees the ref: its own completions get nothing either.
    state_of_m = parse_qs(urlsplit(link_of_m).query)["state"][0]
    assert complete(account_id, ref)[1]["error"] == "invalid_state"  # used up by B's refused attempt
    assert complete(account_id, state_of_m)[1]["error"] == "invalid_state"
    _assert_not_connected(account_id)
    _assert_not_connected(business_b)
    assert store.get_account_for_realm(realm_b) is None
    assert _live_grants(emulator, realm_b) == []  # the code was never exchanged


def test_a_code_from_someone_elses_flow_landing_in_my_browser_is_refused(account_id: str, company: str,
                                                                        emulator: Any) -> None:
    """Login CSRF: the attacker approves its own company with its own state and makes the victim's browser
    follow the redirect: the victim's page must not connect the attacker's company to the victim."""
    attacker = f"acct-attacker-{secrets.token_hex(6)}"
    params = consent(start_connect(attacker, claims={"sub": "attacker"}), company)
    _, _, outcome = finish(params, account_id)  # followed by the victim's browser, the victim's token
    assert outcome == {"quickbooks": "error", "reason": "wrong_account"}
    _assert_not_connected(account_id)
    _assert_not_connected(attacker)
    assert _live_grants(emulator, company) == []


def test_a_colleague_cannot_complete_a_sign_in_started_by_another_user(account_id: str, company: str,
                                                                       emulator: Any) -> None:
    params = consent(start_connect(account_id, claims={"sub": "user-who-started"}), company)
    _, _, outcome = finish(params, account_id, claims={"sub": "another-user-same-account"})
    assert outcome == {"quickbooks": "error", "reason": "wrong_user"}
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_replayed_state_is_refused_and_changes_nothing(account_id: str, company: str) -> None:
    params = consent(start_connect(account_id), company)
    assert finish(params, account_id)[2] == {"quickbooks": "connected"}
    before = store.get_connection(account_id)

    assert call_callback(params)[2] == {"quickbooks": "error", "reason": "invalid_state"}
    assert store.get_connection(account_id) == before


def test_replayed_completion_is_refused_and_changes_nothing(account_id: str, company: str,
                                                            emulator: Any) -> None:
    ref = _approved_ref(consent(start_connect(account_id), company))
    assert complete(account_id, ref)[0] == 200
    before = store.get_connection(account_id)
    grants = _live_grants(emulator, company)

    code, body = complete(account_id, ref)
    assert (code, body["error"]) == (400, "invalid_state")
    assert store.get_connection(account_id) == before
    assert _live_grants(emulator, company) == grants


def test_missing_state_is_refused_without_touching_anything(account_id: str, company: str) -> None:
    params = consent(start_connect(account_id), company)
    params.pop("state")
    status, _, outcome = call_callback(params)
    assert (status, outcome) == (302, {"quickbooks": "error", "reason": "invalid_state"})
    _assert_not_connected(account_id)


def test_unknown_state_is_refused(account_id: str, company: str) -> None:
    params = consent(start_connect(account_id), company)
    params["state"] = secrets.token_urlsafe(32)
    assert call_callback(params)[2] == {"quickbooks": "error", "reason": "invalid_state"}
    _assert_not_connected(account_id)


def test_no_parameters_at_all(account_id: str) -> None:
    assert call_callback({})[2] == {"quickbooks": "error", "reason": "invalid_state"}


def test_expired_state_is_refused(account_id: str, company: str, emulator: Any) -> None:
    state = secrets.token_urlsafe(32)
    store.put_oauth_state(state, store.StartedFlow(account_id, "user-7d1c"), ttl_seconds=0.2)
    time.sleep(0.3)
    code = emulator.control.authorization_code(company, redirect_uri=REDIRECT_URI)
    status, _, outcome = call_callback({"code": code, "state": state, "realmId": company})
    assert (status, outcome) == (302, {"quickbooks": "error", "reason": "state_expired"})
    _assert_not_connected(account_id)


def test_completion_after_the_reference_expired_is_refused(account_id: str, company: str, emulator: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connect_flow, "RETURN_TTL_SECONDS", 0.2)
    ref = _approved_ref(consent(start_connect(account_id), company))
    time.sleep(0.3)
    code, body = complete(account_id, ref)
    assert (code, body["error"]) == (400, "state_expired")
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_the_code_is_stored_only_encrypted(account_id: str, company: str) -> None:
    params = consent(start_connect(account_id), company)
    call_callback(params)
    from kyrios_qbo.config import get_settings

    items = boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    assert params["code"] not in str(items) and params["code"].encode() not in repr(items).encode()


def test_completion_requires_a_token_and_a_reference(account_id: str, company: str) -> None:
    ref = _approved_ref(consent(start_connect(account_id), company))
    assert complete(None, ref)[0] == 401
    for raw in ('{"ref": ""}', "{}", '{"ref": "x", "account_id": "a"}', '{"ref": 5}'):
        code, body = call_api("POST", COMPLETE, account_id, raw_body=raw)
        assert code == 400 and body["error"] in ("invalid_request", "unknown_field"), (raw, body)
    assert complete(account_id, ref)[0] == 200  # none of the refusals above used the ref up


def test_access_denied(account_id: str, company: str, emulator: Any) -> None:
    params = consent(start_connect(account_id), company, decision="deny")
    assert params["error"] == "access_denied"
    status, _, outcome = call_callback(params)
    assert (status, outcome) == (302, {"quickbooks": "error", "reason": "access_denied"})
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_other_intuit_errors(account_id: str, company: str) -> None:
    params = consent(start_connect(account_id), company, decision="deny")
    params["error"] = "server_error"
    assert call_callback(params)[2] == {"quickbooks": "error", "reason": "intuit_error"}


def test_code_intuit_rejects(account_id: str, company: str, emulator: Any) -> None:
    params = consent(start_connect(account_id), company)
    params["code"] = params["code"][:-4] + "zzzz"
    assert finish(params, account_id)[:3:2] == (422, {"quickbooks": "error", "reason": "code_rejected"})
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_code_issued_for_another_redirect_uri_is_rejected(account_id: str, company: str,
                                                          emulator: Any) -> None:
    other_uri = "https://staging.kyrios.test/integrations/quickbooks/callback"
    emulator.control.register_app(CLIENT_ID, redirect_uris=[REDIRECT_URI, other_uri])
    try:
        state = parse_qs(urlsplit(start_connect(account_id)).query)["state"][0]
        code = emulator.control.authorization_code(company, redirect_uri=other_uri)
        outcome = finish({"code": code, "state": state, "realmId": company}, account_id)[2]
    finally:
        emulator.control.register_app(CLIENT_ID, redirect_uris=[REDIRECT_URI])
    assert outcome == {"quickbooks": "error", "reason": "code_rejected"}
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_company_unreadable_after_the_exchange_revokes_the_grant(account_id: str, company: str,
                                                                 emulator: Any) -> None:
    params = consent(start_connect(account_id), company)
    emulator.control.inject_fault("500", count=50, method="GET", path="/companyinfo/")
    try:
        outcome = finish(params, account_id)[2]
    finally:
        emulator.control.clear_faults()
    assert outcome == {"quickbooks": "error", "reason": "company_unavailable"}
    _assert_not_connected(account_id)
    assert _live_grants(emulator, company) == []


def test_realm_owned_by_another_account_is_refused(account_id: str, company: str, emulator: Any) -> None:
    owner = f"acct-owner-{secrets.token_hex(6)}"
    assert connect(owner, company)[2] == {"quickbooks": "connected"}
    owner_connection = store.get_connection(owner)

    assert connect(account_id, company)[2] == {"quickbooks": "error",
                                               "reason": "realm_owned_by_another_account"}
    _assert_not_connected(account_id)
    assert store.get_connection(owner) == owner_connection
    assert store.get_account_for_realm(company) == owner
    assert len(_live_grants(emulator, company)) == 1  # no grant left behind for the refused account


def test_realm_claimed_between_check_and_store_revokes_new_tokens(account_id: str, company: str,
                                                                  emulator: Any) -> None:
    """The race: another account connects the company while this completion exchanges its code."""
    ref = _approved_ref(consent(start_connect(account_id), company))
    other = f"acct-racer-{secrets.token_hex(6)}"
    racer_tokens = emulator.control.issue_tokens(company)
    real_check = connect_flow._refuse_conflicts_early

    def racer_connects_first(account: str, realm: str) -> None:
        real_check(account, realm)
        store.connect(other, company, store.CompanyInfo(company_name="x"),
                      store.EncryptedTokens(b"a", b"r", time.time() + 3600, time.time() + 86400))

    live_before = {g["id"] for g in _live_grants(emulator, company)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(connect_flow, "_refuse_conflicts_early", racer_connects_first)
        code, body = complete(account_id, ref)
    assert (code, body["error"]) == (409, "realm_owned_by_another_account")
    assert {g["id"] for g in _live_grants(emulator, company)} == live_before  # ours was revoked
    assert racer_tokens["realmId"] == company
    _assert_not_connected(account_id)


def test_second_company_while_connected_is_refused(account_id: str, company: str, emulator: Any) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    other_realm = str(int(company) + 1)
    emulator.control.add_company(other_realm, "Other Co", "US", "USD")

    outcome = connect(account_id, other_realm)[2]
    assert outcome == {"quickbooks": "error", "reason": "already_connected_to_another_company"}
    code, body = call_api("GET", STATUS, account_id)
    assert (code, body["status"], body["realm_id"]) == (200, "connected", company)
    assert store.get_account_for_realm(other_realm) is None
    assert _live_grants(emulator, other_realm) == []


# ---------------------------------------------------------------------------------------- API
def test_api_requires_the_account_claim(account_id: str) -> None:
    for method, path in (("GET", STATUS), ("POST", "/integrations/quickbooks/connect"), ("DELETE", STATUS)):
        code, body = call_api(method, path, None)
        assert code == 401
        assert body["error"] == "unauthorized" and body["message"]
    code, body = call_api("PATCH", SETTINGS, None, body={"send_review_requests": False})
    assert code == 401


def test_account_comes_from_claims_not_from_the_request(account_id: str, company: str) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    intruder = f"acct-intruder-{secrets.token_hex(6)}"
    # The intruder names the victim everywhere except in the verified claims.
    code, body = call_api("GET", STATUS + f"?account_id={account_id}", intruder)
    assert code in (200, 404)
    if code == 200:
        assert body["status"] == "not_connected" and body["realm_id"] is None
    code, body = call_api("PATCH", SETTINGS, intruder, body={"account_id": account_id,
                                                              "send_review_requests": False})
    assert (code, body["error"], body["field"]) == (400, "unknown_field", "account_id")
    code, body = call_api("GET", STATUS, intruder)
    assert code == 200
    assert body == {"status": "not_connected", "realm_id": None, "company_name": None, "country": None,
                    "currency": None, "connected_at": None, "settings": None, "last_sync_at": None,
                    "needs_reconnect_soon": False, "reconnect_by": None}
    victim = store.get_connection(account_id)
    assert victim is not None and victim.settings["send_review_requests"] is True


@pytest.mark.parametrize(
    ("raw", "error", "field"),
    [
        ("{not json", "malformed_json", None),
        ('{"send_review_requests": "yes"}', "invalid_request", "send_review_requests"),
        ('{"send_review_requests": 1}', "invalid_request", "send_review_requests"),
        ('{"sync_contacts": false, "surprise": true}', "unknown_field", "surprise"),
        ("[true]", "invalid_request", None),
    ],
)
def test_settings_bad_bodies_are_400_and_change_nothing(account_id: str, company: str, raw: str, error: str,
                                                         field: str | None) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    before = store.get_connection(account_id)
    code, body = call_api("PATCH", SETTINGS, account_id, raw_body=raw)
    assert code == 400, body
    assert body["error"] == error and body["message"]
    assert body.get("field") == field
    assert store.get_connection(account_id) == before


def test_settings_patch(account_id: str, company: str) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    code, body = call_api("PATCH", SETTINGS, account_id, body={"send_review_requests": False})
    assert code == 200
    assert body["settings"]["send_review_requests"] is False
    assert body["settings"]["push_invoices"] is True
    connection = store.get_connection(account_id)
    assert connection is not None and connection.settings["send_review_requests"] is False


def test_settings_patch_sync_preferences(account_id: str, company: str) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    code, body = call_api("PATCH", SETTINGS, account_id, body={"send_review_requests": False})
    changes = {"push_payments": False, "sync_contacts": False}
    code, body = call_api("PATCH", SETTINGS, account_id, body=changes)
    assert code == 200
    assert body["settings"] == {"send_review_requests": False, "sync_contacts": False, "push_invoices": True,
                                "push_payments": False}


def test_settings_when_not_connected_is_409(account_id: str) -> None:
    code, body = call_api("PATCH", SETTINGS, account_id, body={"send_review_requests": False})
    assert (code, body["error"]) == (409, "not_connected")
    assert _raw_item(account_id) is None


# ---------------------------------------------------------------------------------------- disconnect
def test_disconnect_revokes_forgets_and_releases(account_id: str, company: str, emulator: Any,
                                                 bus_events_queue: str, drain: Any) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    drain(bus_events_queue, 1)

    code, body = call_api("DELETE", STATUS, account_id)
    assert (code, body) == (200, {"status": "not_connected", "revoked": True, "revoke_error": None})
    assert _live_grants(emulator, company) == []
    item = _raw_item(account_id)
    assert item is not None and "refresh_token_enc" not in item and "access_token_enc" not in item
    assert call_api("GET", STATUS, account_id)[1]["status"] == "not_connected"
    assert store.get_account_for_realm(company) is None
    events = _status_events(drain(bus_events_queue, 1))
    assert [(e["status"], e["realm_id"]) for e in events] == [("disconnected", company)]

    # Idempotent, and the company can now be connected by another account.
    assert call_api("DELETE", STATUS, account_id) == (200, {"status": "not_connected", "revoked": True,
                                                            "revoke_error": None})
    other = f"acct-next-{secrets.token_hex(6)}"
    assert connect(other, company)[2] == {"quickbooks": "connected"}


def test_disconnect_when_intuit_fails_still_disconnects(account_id: str, company: str, emulator: Any) -> None:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    emulator.control.inject_fault("500", count=10, method="POST", path="/v2/oauth2/tokens/revoke")
    try:
        code, body = call_api("DELETE", STATUS, account_id)
    finally:
        emulator.control.clear_faults()
    assert code == 200
    assert body["status"] == "not_connected" and body["revoked"] is False and body["revoke_error"]
    assert call_api("GET", STATUS, account_id)[1]["status"] == "not_connected"
    assert store.get_account_for_realm(company) is None


def test_disconnect_never_connected(account_id: str) -> None:
    assert call_api("DELETE", STATUS, account_id) == (200, {"status": "not_connected", "revoked": True,
                                                            "revoke_error": None})


def test_unknown_route_is_json_404(account_id: str) -> None:
    code, body = call_api("GET", "/integrations/quickbooks/nope", account_id)
    assert code == 404 and body["error"] == "not_found"
