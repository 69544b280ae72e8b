"""Token refresh against the emulator and local AWS: one refresh per company, rotation persisted first,
invalid_grant → needs_reconnect, waiters, and no secret in any log line."""

# Fixtures are imported from connect_support, so test parameters "redefine" them:
# ruff: noqa: F811

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest

from kyrios_qbo import tokens
from kyrios_qbo.intuit_auth import IssuedTokens, get_intuit_auth
from kyrios_qbo.qbo_access import NeedsReconnect, NotConnected, open_client
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import coordination
from kyrios_qbo.tokens import LEASE_NAME, TokenProvider, TokenRefreshTimeout
from tests.integration.connect_support import (  # noqa: F401 - fixtures
    call_api,
    call_callback,
    company,
    complete,
    connect,
    connect_env,
    consent,
    emulator,
    environment_secret_values,
    start_connect,
)

pytestmark = pytest.mark.usefixtures("connect_env")


@pytest.fixture(autouse=True)
def strict_rotation(emulator: Any) -> Iterator[None]:
    """These tests count and follow rotations: a new refresh token on every refresh (Intuit keeps one
    value for ~24 h, the emulator's default)."""
    emulator.control.config(refresh_rotation="strict")
    yield
    emulator.control.config(refresh_rotation="daily")


def _plain_tokens(account_id: str) -> tuple[store.Connection, str, str]:
    connection = store.get_connection(account_id)
    assert connection is not None and connection.tokens is not None
    access = tokens.decrypt_token(account_id, connection.realm_id, "access", connection.token_version,
                                  connection.tokens.access_token)
    refresh = tokens.decrypt_token(account_id, connection.realm_id, "refresh", connection.token_version,
                                   connection.tokens.refresh_token)
    return connection, access, refresh


def _expire_stored_access_token(account_id: str) -> int:
    """Store the same tokens with an access expiry in the past; returns the new token version."""
    connection, access, refresh = _plain_tokens(account_id)
    issued = IssuedTokens(access, refresh, access_expires_at=time.time() - 30,
                          refresh_expires_at=time.time() + 86_400)
    encrypted = tokens.encrypt_tokens(account_id, connection.realm_id, issued)
    return store.save_tokens(account_id, encrypted, connection.token_version)


def _token_calls(emulator: Any) -> int:
    return len(emulator.control.requests(endpoint="POST token"))


@pytest.fixture
def connected(account_id: str, company: str) -> str:
    assert connect(account_id, company)[2] == {"quickbooks": "connected"}
    return company


def test_fifty_concurrent_callers_cause_exactly_one_refresh(account_id: str, connected: str,
                                                            emulator: Any) -> None:
    version = _expire_stored_access_token(account_id)
    emulator.control.clear_requests()

    def read_company(_: int) -> str:
        client = open_client(account_id, deadline=time.time() + 60)
        return str(client.company_info()["CompanyName"])

    with ThreadPoolExecutor(max_workers=50) as pool:
        names = list(pool.map(read_company, range(50)))

    assert names == [f"Test Company {connected[-4:]}"] * 50
    assert _token_calls(emulator) == 1
    assert len(emulator.control.requests(realm=connected, endpoint="GET companyinfo")) == 50
    after = store.get_connection(account_id)
    assert after is not None and after.token_version == version + 1
    assert after.tokens is not None and after.tokens.access_expires_at > time.time() + 3000
    # The rotated refresh token is the one stored (the emulator rotates on every refresh).
    live = [g for g in emulator.control.grants() if g["realm"] == connected and not g["revoked"]]
    assert _plain_tokens(account_id)[2] == live[0]["refresh_token"]


def test_unauthorized_answer_refreshes_once_and_retries(account_id: str, connected: str,
                                                        emulator: Any) -> None:
    before = store.get_connection(account_id)
    assert before is not None
    assert emulator.control.invalidate_tokens("access", realm=connected) == 1
    emulator.control.clear_requests()

    info = open_client(account_id).company_info()

    assert info["CompanyName"] == f"Test Company {connected[-4:]}"
    assert _token_calls(emulator) == 1
    statuses = [r["status"] for r in emulator.control.requests(realm=connected, endpoint="GET companyinfo")]
    assert statuses == [401, 200]
    after = store.get_connection(account_id)
    assert after is not None and after.token_version == before.token_version + 1


def test_invalid_grant_marks_needs_reconnect(account_id: str, connected: str, emulator: Any,
                                             bus_events_queue: str, drain: Any) -> None:
    drain(bus_events_queue, 1)  # the connect event
    _expire_stored_access_token(account_id)
    assert emulator.control.invalidate_tokens("refresh", realm=connected) == 1

    with pytest.raises(NeedsReconnect):
        open_client(account_id).company_info()

    connection = store.get_connection(account_id)
    assert connection is not None and connection.status == "needs_reconnect"
    assert connection.tokens is not None  # kept: nothing is dropped until the user decides
    assert call_api("GET", "/integrations/quickbooks", account_id)[1]["status"] == "needs_reconnect"
    messages = drain(bus_events_queue, 1)
    events = [m["detail"] for m in messages if m["detail-type"] == "connection.status_changed"]
    assert [(e["status"], e["realm_id"]) for e in events] == [("needs_reconnect", connected)]
    with pytest.raises(NeedsReconnect):
        open_client(account_id)

    # Reconnecting the same company heals it.
    assert connect(account_id, connected)[2] == {"quickbooks": "connected"}
    assert open_client(account_id).company_info()["Id"]


def test_a_company_nearing_its_five_year_maximum_needs_reconnect_soon_told_once(
    account_id: str, connected: str, emulator: Any, bus_events_queue: str, drain: Any
) -> None:
    drain(bus_events_queue, 1)  # the connect event
    fresh = call_api("GET", "/integrations/quickbooks", account_id)[1]
    assert fresh["needs_reconnect_soon"] is False
    stored = store.get_connection(account_id)
    assert stored is not None and stored.tokens is not None
    hard = stored.tokens.refresh_hard_expires_at  # Intuit's answer to the exchange, stored
    assert hard is not None and hard > time.time() + 4.9 * 365 * 86_400

    assert emulator.control.set_hard_expiry(10 * 86_400, realm=connected) == 1
    for _ in range(3):  # three refreshes, each storing both ends Intuit reports
        _expire_stored_access_token(account_id)
        assert open_client(account_id).company_info()["Id"]

    status = call_api("GET", "/integrations/quickbooks", account_id)[1]
    assert status["status"] == "connected" and status["needs_reconnect_soon"] is True
    left = datetime.fromisoformat(status["reconnect_by"]).timestamp() - time.time()
    assert 9 * 86_400 < left <= 10 * 86_400
    notices = [m["detail"] for m in drain(bus_events_queue, 10, timeout=3)
               if m["detail-type"] == "connection.needs_reconnect_soon"]
    assert [(n["account_id"], n["realm_id"], n["limit"]) for n in notices] == [
        (account_id, connected, "five_year_maximum")
    ]  # one notice, not one per refresh

    # Reconnecting is a new grant: five more years, nothing to warn about.
    assert connect(account_id, connected)[2] == {"quickbooks": "connected"}
    assert call_api("GET", "/integrations/quickbooks", account_id)[1]["needs_reconnect_soon"] is False


def test_a_warm_container_decrypts_each_token_version_once(
    account_id: str, connected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Least recently used plaintexts go first: a token in use stays cached while others come and go."""
    connection = store.get_connection(account_id)
    assert connection is not None and connection.tokens is not None
    decrypts: list[str] = []
    events = tokens._kms().meta.events
    events.register("before-call.kms.Decrypt", lambda **_: decrypts.append("Decrypt"), unique_id="count-kms")
    monkeypatch.setattr(tokens, "_CACHE_SIZE", 2)
    tokens.forget_cached()

    def access() -> str:
        return tokens.decrypt_token(account_id, connected, "access", connection.token_version,
                                    connection.tokens.access_token)

    def refresh() -> str:
        return tokens.decrypt_token(account_id, connected, "refresh", connection.token_version,
                                    connection.tokens.refresh_token)

    try:
        first = access()
        refresh()
        assert access() == first  # a hit makes the access token the most recently used
        tokens._remember(("another", "company", "access", "1", "x"), "other")  # evicts the refresh token
        assert access() == first
        assert len(decrypts) == 2
        refresh()
        assert len(decrypts) == 3
    finally:
        events.unregister("before-call.kms.Decrypt", unique_id="count-kms")


def test_not_connected(account_id: str) -> None:
    with pytest.raises(NotConnected):
        open_client(account_id)


def test_waits_for_a_refresh_by_another_container(account_id: str, connected: str, emulator: Any) -> None:
    """Another container holds the lease: we must use its result, not refresh ourselves."""
    version = _expire_stored_access_token(account_id)
    coordination.acquire_lease(connected, LEASE_NAME, "other-container", 20)
    emulator.control.clear_requests()
    result: dict[str, Any] = {}

    def caller() -> None:
        try:
            result["token"] = TokenProvider(account_id, connected).access_token(connected)
        except Exception as exc:  # surfaced by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=caller)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive()  # waiting, not refreshing
    assert _token_calls(emulator) == 0

    # The other container refreshes and saves (what its TokenProvider would do), then lets go.
    connection, _, refresh = _plain_tokens(account_id)
    issued = get_intuit_auth().refresh(refresh)
    encrypted = tokens.encrypt_tokens(account_id, connected, issued)
    store.save_tokens(account_id, encrypted, connection.token_version)
    coordination.release_lease(connected, LEASE_NAME, "other-container")
    thread.join(10)

    assert "error" not in result, result
    assert result["token"] == issued.access_token
    assert _token_calls(emulator) == 1  # only the other container's
    after = store.get_connection(account_id)
    assert after is not None and after.token_version == version + 1


def test_takes_over_when_the_other_refresher_dies(account_id: str, connected: str, emulator: Any) -> None:
    _expire_stored_access_token(account_id)
    coordination.acquire_lease(connected, LEASE_NAME, "crashed-container", 0.5)
    emulator.control.clear_requests()

    token = TokenProvider(account_id, connected).access_token(connected)

    assert _token_calls(emulator) == 1
    assert token == _plain_tokens(account_id)[1]


def test_gives_up_in_time_when_the_lease_outlives_the_deadline(account_id: str, connected: str,
                                                               emulator: Any) -> None:
    _expire_stored_access_token(account_id)
    coordination.acquire_lease(connected, LEASE_NAME, "slow-container", 30)
    emulator.control.clear_requests()
    started = time.monotonic()
    try:
        with pytest.raises(TokenRefreshTimeout):
            TokenProvider(account_id, connected, deadline=time.time() + 2.5).access_token(connected)
    finally:
        coordination.release_lease(connected, LEASE_NAME, "slow-container")
    assert time.monotonic() - started < 3
    assert _token_calls(emulator) == 0


def test_no_token_code_state_or_secret_in_any_log(account_id: str, company: str, emulator: Any,
                                                  capsys: pytest.CaptureFixture[str],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # the level functions log at (POWERTOOLS_LOG_LEVEL)
    capsys.readouterr()
    secret_values: set[str] = set(environment_secret_values())

    # connect (state and code pass through the API, the browser and the callback)
    params = consent(start_connect(account_id), company)
    secret_values |= {params["code"], params["state"]}
    _, _, returned = call_callback(params)
    secret_values.add(returned["ref"])
    assert complete(account_id, returned["ref"])[0] == 200
    _, access, refresh = _plain_tokens(account_id)
    secret_values |= {access, refresh}
    # replays log refusals
    assert call_callback(params)[2]["reason"] == "invalid_state"
    assert complete(account_id, returned["ref"])[1]["error"] == "invalid_state"
    # refresh (proactive) and a 401-triggered refresh
    _expire_stored_access_token(account_id)
    open_client(account_id).company_info()
    emulator.control.invalidate_tokens("access", realm=company)
    open_client(account_id).company_info()
    _, access2, refresh2 = _plain_tokens(account_id)
    secret_values |= {access2, refresh2}
    # status, settings, disconnect
    call_api("GET", "/integrations/quickbooks", account_id)
    call_api("PATCH", "/integrations/quickbooks/settings", account_id, body={"send_review_requests": False})
    assert call_api("DELETE", "/integrations/quickbooks", account_id)[1]["revoked"] is True

    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert '"message"' in text or "quickbooks" in text  # logs were really captured
    assert "quickbooks connected" in text and "token refreshed" in text
    leaked = {value[:6] + "…": text[max(0, text.find(value) - 120):text.find(value)]
              for value in secret_values if value and value in text}
    assert leaked == {}


@pytest.mark.parametrize("rotation", ["daily", "strict"])
def test_a_refresh_encrypts_the_refresh_token_only_when_intuit_rotated_it(
    account_id: str, connected: str, emulator: Any, rotation: str
) -> None:
    """Intuit returns the same refresh token for ~24 h (emulator: "daily"): its ciphertext is kept and
    the refresh costs one KMS Encrypt; a rotated one (every refresh: "strict") is encrypted and stored."""
    emulator.control.config(refresh_rotation=rotation)
    _expire_stored_access_token(account_id)
    before, _access, old_refresh = _plain_tokens(account_id)
    assert before.tokens is not None
    encrypts: list[str] = []
    events = tokens._kms().meta.events
    events.register("before-call.kms.Encrypt", lambda **_: encrypts.append("Encrypt"), unique_id="count-enc")
    try:
        assert open_client(account_id, deadline=time.time() + 60).company_info()["CompanyName"]
    finally:
        events.unregister("before-call.kms.Encrypt", unique_id="count-enc")
    after = store.get_connection(account_id)
    assert after is not None and after.tokens is not None and after.token_version == before.token_version + 1
    live = [g for g in emulator.control.grants() if g["realm"] == connected and not g["revoked"]]
    tokens.forget_cached()  # read back through KMS: what is stored decrypts to Intuit's current token
    assert _plain_tokens(account_id)[2] == live[0]["refresh_token"]
    if rotation == "daily":
        assert live[0]["refresh_token"] == old_refresh
        assert after.tokens.refresh_token == before.tokens.refresh_token
        assert encrypts == ["Encrypt"]
    else:
        assert live[0]["refresh_token"] != old_refresh
        assert after.tokens.refresh_token != before.tokens.refresh_token
        assert encrypts == ["Encrypt", "Encrypt"]
