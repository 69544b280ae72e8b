"""Connections, realm ownership, tokens, settings and OAuth state against local DynamoDB (moto)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from kyrios_qbo import store

pytestmark = pytest.mark.usefixtures("local_aws")


def tokens(tag: str = "a") -> store.EncryptedTokens:
    now = time.time()
    return store.EncryptedTokens(
        access_token=f"access-{tag}".encode(),
        refresh_token=f"refresh-{tag}".encode(),
        access_expires_at=now + 3600,
        refresh_expires_at=now + 100 * 86400,
    )


COMPANY = store.CompanyInfo(company_name="Sandbox Company_US_1", country="US", currency="USD")


def new_realm() -> str:
    return str(uuid.uuid4().int % 10**16)


def test_connect_stores_connection_and_claims_realm(account_id, realm_id):
    connection = store.connect(account_id, realm_id, COMPANY, tokens())

    assert connection.status == "connected"
    assert connection.realm_id == realm_id
    assert connection.company == COMPANY
    assert connection.settings == {
        "send_review_requests": True, "sync_contacts": True, "push_invoices": True, "push_payments": True,
    }
    assert connection.tokens is not None and connection.tokens.refresh_token == b"refresh-a"
    assert connection.token_version == 1
    assert store.get_account_for_realm(realm_id) == account_id
    assert store.get_connection(account_id) == connection


def test_unknown_account_has_no_connection(account_id):
    assert store.get_connection(account_id) is None
    assert store.get_account_for_realm(new_realm()) is None


def test_realm_owned_by_another_account_is_refused(account_id, realm_id):
    store.connect(account_id, realm_id, COMPANY, tokens())
    other = f"other-{account_id}"

    with pytest.raises(store.RealmOwnedByAnotherAccount) as caught:
        store.connect(other, realm_id, COMPANY, tokens("b"))

    assert caught.value.realm_id == realm_id
    assert store.get_connection(other) is None  # nothing half-written
    assert store.get_account_for_realm(realm_id) == account_id


def test_connecting_a_different_company_while_connected_is_refused(account_id, realm_id):
    store.connect(account_id, realm_id, COMPANY, tokens())
    second = new_realm()

    with pytest.raises(store.AlreadyConnectedToAnotherCompany) as caught:
        store.connect(account_id, second, COMPANY, tokens("b"))

    assert caught.value.connected_realm_id == realm_id
    assert store.get_account_for_realm(second) is None  # the transaction claimed nothing
    assert store.get_connection(account_id).realm_id == realm_id


def test_reconnecting_same_company_keeps_settings_and_company_data(account_id, realm_id):
    store.connect(account_id, realm_id, COMPANY, tokens())
    store.update_settings(account_id, {"send_review_requests": False})
    store.advance_cursor(realm_id, "cdc", _dt("2026-01-01T00:00:00"))
    store.mark_needs_reconnect(account_id, "invalid_grant")

    again = store.connect(account_id, realm_id, COMPANY, tokens("new"))

    assert again.status == "connected" and again.status_reason is None
    assert again.settings["send_review_requests"] is False
    assert again.tokens.refresh_token == b"refresh-new"
    assert again.token_version == 2
    assert store.get_cursor(realm_id, "cdc") == _dt("2026-01-01T00:00:00")


def test_connected_at_is_the_first_connection_to_that_company(account_id, realm_id):
    first = store.connect(account_id, realm_id, COMPANY, tokens())
    time.sleep(0.002)  # connected_at has sub-second precision: make "now" differ

    assert store.connect(account_id, realm_id, COMPANY, tokens("again")).connected_at == first.connected_at

    store.disconnect(account_id)
    other_realm = f"{realm_id}9"
    moved = store.connect(account_id, other_realm, COMPANY, tokens("other"))
    assert moved.connected_at > first.connected_at


def test_disconnect_forgets_tokens_releases_realm_and_is_idempotent(account_id, realm_id):
    store.connect(account_id, realm_id, COMPANY, tokens())

    before = store.disconnect(account_id)

    assert before is not None and before.tokens.refresh_token == b"refresh-a"  # for revoking
    after = store.get_connection(account_id)
    assert after.status == "disconnected" and after.tokens is None
    assert store.get_account_for_realm(realm_id) is None
    assert store.disconnect(account_id) is None
    # another account may now take the company; this one may connect elsewhere
    other = f"other-{account_id}"
    assert store.connect(other, realm_id, COMPANY, tokens("b")).account_id == other
    assert store.connect(account_id, new_realm(), COMPANY, tokens("c")).status == "connected"


def test_two_accounts_racing_for_one_realm_exactly_one_wins(realm_id):
    accounts = [f"race-{uuid.uuid4().hex[:10]}" for _ in range(8)]
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(len(accounts))

    def attempt(account: str) -> None:
        barrier.wait()
        try:
            store.connect(account, realm_id, COMPANY, tokens(account))
            outcomes[account] = "won"
        except store.RealmOwnedByAnotherAccount:
            outcomes[account] = "refused"

    threads = [threading.Thread(target=attempt, args=(account,)) for account in accounts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [account for account, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == len(accounts)
    assert len(winners) == 1
    assert store.get_account_for_realm(realm_id) == winners[0]
    losers = [account for account in accounts if account not in winners]
    assert all(store.get_connection(account) is None for account in losers)


def test_save_tokens_is_optimistic_on_token_version(account_id, realm_id):
    connection = store.connect(account_id, realm_id, COMPANY, tokens())

    version = store.save_tokens(account_id, tokens("r1"), expected_version=connection.token_version)
    assert version == 2
    with pytest.raises(store.TokenVersionConflict) as caught:
        store.save_tokens(account_id, tokens("stale"), expected_version=connection.token_version)

    assert caught.value.current == 2
    assert store.get_connection(account_id).tokens.refresh_token == b"refresh-r1"


def test_save_tokens_after_disconnect_conflicts(account_id, realm_id):
    connection = store.connect(account_id, realm_id, COMPANY, tokens())
    store.disconnect(account_id)

    with pytest.raises(store.TokenVersionConflict):
        store.save_tokens(account_id, tokens("late"), expected_version=connection.token_version)
    assert store.get_connection(account_id).tokens is None


def test_mark_needs_reconnect_only_from_connected_and_leaves_fan_out(account_id, realm_id):
    store.connect(account_id, realm_id, COMPANY, tokens())
    assert _listed(account_id)

    assert store.mark_needs_reconnect(account_id, "invalid_grant") is True
    assert store.mark_needs_reconnect(account_id, "invalid_grant") is False

    connection = store.get_connection(account_id)
    assert connection.status == "needs_reconnect" and connection.status_reason == "invalid_grant"
    assert store.get_account_for_realm(realm_id) == account_id  # still owns the company
    assert not _listed(account_id)


def test_list_connected_accounts_pages_through_all(realm_id):
    accounts = {f"list-{uuid.uuid4().hex[:10]}": new_realm() for _ in range(5)}
    for account, realm in accounts.items():
        store.connect(account, realm, COMPANY, tokens())
    store.disconnect(next(iter(accounts)))

    seen: dict[str, str] = {}
    cursor = None
    pages = 0
    while True:
        page = store.list_connected_accounts(limit=2, cursor=cursor)
        pages += 1
        seen.update({item.account_id: item.realm_id for item in page.items})
        cursor = page.cursor
        if cursor is None:
            break
    expected = dict(list(accounts.items())[1:])
    assert {account: seen[account] for account in expected} == expected
    assert next(iter(accounts)) not in seen
    assert pages >= 3


def test_list_connected_accounts_rejects_foreign_cursor():
    with pytest.raises(store.InvalidCursor):
        store.list_connected_accounts(cursor="not-a-cursor!!")


def test_update_settings_validates_and_requires_live_connection(account_id, realm_id):
    with pytest.raises(store.NotConnected):
        store.update_settings(account_id, {"send_review_requests": False})
    store.connect(account_id, realm_id, COMPANY, tokens())

    with pytest.raises(store.InvalidSetting):
        store.update_settings(account_id, {"unknown": True})
    with pytest.raises(store.InvalidSetting):
        store.update_settings(account_id, {"send_review_requests": "no"})
    settings = store.update_settings(account_id, {"send_review_requests": False}).settings
    assert settings == {**store.DEFAULT_SETTINGS, "send_review_requests": False}


# ---------------------------------------------------------------------------------------- OAuth flow
def _flow(account_id, user_id="user-1"):
    return store.StartedFlow(account_id, user_id)


def test_oauth_state_is_consumed_exactly_once(account_id):
    state = uuid.uuid4().hex
    store.put_oauth_state(state, _flow(account_id), ttl_seconds=60)

    assert store.consume_oauth_state(state) == _flow(account_id)
    with pytest.raises(store.OAuthStateInvalid) as caught:
        store.consume_oauth_state(state)
    assert "already used" in caught.value.reason


def test_oauth_state_unknown_malformed_and_expired(account_id):
    with pytest.raises(store.OAuthStateInvalid):
        store.consume_oauth_state(uuid.uuid4().hex)
    with pytest.raises(store.OAuthStateInvalid):
        store.consume_oauth_state("")
    state = uuid.uuid4().hex
    store.put_oauth_state(state, _flow(account_id), ttl_seconds=0.2)
    time.sleep(0.3)
    with pytest.raises(store.OAuthStateInvalid) as caught:
        store.consume_oauth_state(state)
    assert caught.value.reason == "expired"


@pytest.mark.parametrize("kind", ["state", "returned"])
def test_oauth_flow_items_replayed_concurrently_are_accepted_once(account_id, kind):
    value = uuid.uuid4().hex
    if kind == "state":
        store.put_oauth_state(value, _flow(account_id))
        use_up = store.consume_oauth_state
    else:
        returned = store.ReturnedAuthorization(account_id, "user-1", "4620816365", b"ciphertext")
        store.put_returned_authorization(value, returned, ttl_seconds=60)
        use_up = store.consume_returned_authorization
    results: list[object] = []
    barrier = threading.Barrier(6)

    def use() -> None:
        barrier.wait()
        try:
            results.append(use_up(value))
        except store.OAuthStateInvalid:
            results.append("invalid")

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("invalid") == 5
    winner = next(r for r in results if r != "invalid")
    assert winner == (_flow(account_id) if kind == "state" else returned)


def test_returned_authorization_round_trip_and_expiry(account_id):
    ref = uuid.uuid4().hex
    returned = store.ReturnedAuthorization(account_id, "user-1", "4620816365", b"\x00code")
    store.put_returned_authorization(ref, returned, ttl_seconds=60)
    got = store.consume_returned_authorization(ref)
    assert got == returned
    assert "code" not in repr(got)  # the ciphertext never reaches a log either
    later = uuid.uuid4().hex
    store.put_returned_authorization(later, returned, ttl_seconds=0.2)
    time.sleep(0.3)
    with pytest.raises(store.OAuthStateInvalid) as caught:
        store.consume_returned_authorization(later)
    assert caught.value.reason == "expired"


def test_duplicate_oauth_state_is_refused(account_id):
    state = uuid.uuid4().hex
    store.put_oauth_state(state, _flow(account_id))
    with pytest.raises(Exception) as caught:
        store.put_oauth_state(state, _flow(f"other-{account_id}"))
    assert "ConditionalCheckFailed" in str(caught.value)
    assert store.consume_oauth_state(state) == _flow(account_id)


def test_invalid_keys_are_typed_errors():
    with pytest.raises(store.InvalidKey):
        store.get_connection("")
    with pytest.raises(store.InvalidKey):
        store.get_connection("bad\nid")


def _listed(account_id: str) -> bool:
    cursor = None
    while True:
        page = store.list_connected_accounts(limit=100, cursor=cursor)
        if any(item.account_id == account_id for item in page.items):
            return True
        cursor = page.cursor
        if cursor is None:
            return False


def _dt(text: str):
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).replace(tzinfo=UTC)
