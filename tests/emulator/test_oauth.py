"""OAuth with the real ``intuitlib`` against the emulator's discovery document."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from local.qbo_emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    GB_REALM,
    US_REALM,
    EmulatorServer,
)

from .conftest import sample

REDIRECT = "http://localhost/callback"


def auth_client(srv: EmulatorServer, secret: str = DEFAULT_CLIENT_SECRET) -> AuthClient:
    return AuthClient(DEFAULT_CLIENT_ID, secret, REDIRECT, srv.discovery_url)


def approve(
    srv: EmulatorServer,
    client: AuthClient,
    realm: str,
    state: str = "state-123",
    scopes: list[Scopes] | None = None,
) -> dict[str, str]:
    url = client.get_authorization_url(scopes or [Scopes.ACCOUNTING], state_token=state)
    resp = requests.get(url + f"&emulator_auto=approve&realm={realm}", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def api_get(srv: EmulatorServer, realm: str, token: str) -> requests.Response:
    return requests.get(
        f"{srv.api_base}{realm}/companyinfo/{realm}",
        params={"minorversion": "75"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=10,
    )


def test_discovery_document_has_the_sandbox_keys_and_points_here(emulator: EmulatorServer) -> None:
    doc = requests.get(emulator.discovery_url, timeout=10).json()
    real = sample("discovery-document-sandbox.json")
    assert set(doc) == set(real)
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "revocation_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    ):
        assert doc[key].startswith(emulator.url + "/")
    client = auth_client(emulator)
    assert client.token_endpoint == emulator.url + "/oauth2/v1/tokens/bearer"


def test_full_round_trip_with_intuitlib(emulator: EmulatorServer) -> None:
    ctl = emulator.control
    # strict rotation: a new refresh token on this very refresh (Intuit keeps it ~24 h by default)
    ctl.config(refresh_grace_seconds=120, refresh_rotation="strict")
    client = auth_client(emulator)
    params = approve(emulator, client, GB_REALM, state="xyz")
    assert params["state"] == "xyz" and params["realmId"] == GB_REALM and params["code"]

    client.get_bearer_token(params["code"], realm_id=params["realmId"])
    assert client.expires_in == 3600
    assert client.x_refresh_token_expires_in == 100 * 24 * 3600
    first_refresh = client.refresh_token
    resp = api_get(emulator, GB_REALM, client.access_token)
    assert resp.status_code == 200
    assert resp.json()["CompanyInfo"]["Country"] == "GB"

    # access token dies after an hour of emulator time
    ctl.advance_clock(3601)
    expired = api_get(emulator, GB_REALM, client.access_token)
    assert expired.status_code == 401
    assert expired.json()["fault"]["error"][0]["code"] == "3200"

    client.refresh()
    assert client.refresh_token != first_refresh  # rotated
    assert api_get(emulator, GB_REALM, client.access_token).status_code == 200

    # the old refresh token still works within the grace period ...
    old = auth_client(emulator)
    old.refresh(refresh_token=first_refresh)
    assert old.refresh_token == client.refresh_token
    # ... and dies after it
    ctl.advance_clock(121)
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).refresh(refresh_token=first_refresh)
    assert err.value.status_code == 400
    assert err.value.response.json() == sample("oauth-token-error-invalid-grant.json")
    assert err.value.intuit_tid  # intuitlib reads the intuit_tid header

    # revoke kills the whole grant: refresh and access tokens
    access = client.access_token
    assert client.revoke() is True
    assert api_get(emulator, GB_REALM, access).status_code == 401
    with pytest.raises(AuthClientError) as err:
        client.refresh()
    assert err.value.response.json()["error"] == "invalid_grant"


def test_token_response_has_the_sample_shape(emulator: EmulatorServer) -> None:
    code = emulator.control.authorization_code(US_REALM, redirect_uri=REDIRECT)
    resp = requests.post(
        emulator.url + "/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        timeout=10,
    )
    assert resp.status_code == 200
    body = resp.json()
    real = sample("oauth-token-response.json")
    assert set(body) == set(real) - {"id_token"}
    for key in body:
        assert type(body[key]) is type(real[key]), key
    assert body["token_type"] == "bearer"


def test_openid_scope_returns_an_id_token_intuitlib_validates(emulator: EmulatorServer) -> None:
    client = auth_client(emulator)
    params = approve(emulator, client, US_REALM, scopes=[Scopes.ACCOUNTING, Scopes.OPENID])
    client.get_bearer_token(params["code"], realm_id=US_REALM)
    assert client.id_token is not None  # set only if validate_id_token() accepted signature, iss, aud


def test_refresh_race_exactly_one_wins(emulator: EmulatorServer) -> None:
    emulator.control.config(refresh_rotation="strict")  # the race is on the rotation itself
    tokens = emulator.control.issue_tokens(US_REALM)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def refresh() -> None:
        client = auth_client(emulator)
        barrier.wait()
        try:
            client.refresh(refresh_token=tokens["refresh_token"])
            results.append("ok")
        except AuthClientError as exc:
            results.append(exc.response.json()["error"])

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == ["invalid_grant", "ok"]


def test_wrong_client_secret_is_invalid_client(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator, secret="nope").refresh(refresh_token=tokens["refresh_token"])
    assert err.value.status_code == 401
    assert err.value.response.json()["error"] == "invalid_client"


def test_codes_are_single_use_and_short_lived(emulator: EmulatorServer) -> None:
    client = auth_client(emulator)
    params = approve(emulator, client, US_REALM)
    client.get_bearer_token(params["code"])
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).get_bearer_token(params["code"])
    assert err.value.response.json()["error"] == "invalid_grant"

    late = approve(emulator, client, US_REALM)
    emulator.control.advance_clock(emulator.control.config()["code_ttl_seconds"] + 1)
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).get_bearer_token(late["code"])
    assert err.value.response.json()["error"] == "invalid_grant"


def test_refresh_token_expires_after_100_days(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    emulator.control.advance_clock(100 * 24 * 3600 + 1)
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).refresh(refresh_token=tokens["refresh_token"])
    assert err.value.response.json()["error"] == "invalid_grant"


def test_hard_expiry_only_when_asked(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    client = auth_client(emulator)
    client.include_refresh_token_hard_expires_in = True
    client.refresh(refresh_token=tokens["refresh_token"])
    assert 5 * 365 * 24 * 3600 - 60 < client.x_refresh_token_hard_expires_in <= 5 * 365 * 24 * 3600


def test_a_grant_moved_near_its_five_year_maximum_reports_it_honestly(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    assert emulator.control.set_hard_expiry(10 * 86_400, realm=US_REALM) == 1
    client = auth_client(emulator)
    client.include_refresh_token_hard_expires_in = True
    client.refresh(refresh_token=tokens["refresh_token"])
    assert 10 * 86_400 - 60 < client.x_refresh_token_hard_expires_in <= 10 * 86_400
    # the rolling expiry never promises more than the grant has left
    assert client.x_refresh_token_expires_in <= client.x_refresh_token_hard_expires_in
    emulator.control.advance_clock(10 * 86_400 + 1)
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).refresh(refresh_token=client.refresh_token)
    assert err.value.response.json()["error"] == "invalid_grant"


def test_unregistered_redirect_uri_is_refused_without_redirect(emulator: EmulatorServer) -> None:
    client = AuthClient(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "https://evil.example/cb", emulator.discovery_url
    )
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="s")
    resp = requests.get(url + f"&emulator_auto=approve&realm={US_REALM}", allow_redirects=False, timeout=10)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "redirect_uri" in resp.text


def test_cancel_redirects_with_access_denied(emulator: EmulatorServer) -> None:
    client = auth_client(emulator)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="st-9")
    resp = requests.get(url + "&emulator_auto=deny", allow_redirects=False, timeout=10)
    assert resp.status_code == 302
    assert parse_qs(urlparse(resp.headers["Location"]).query) == {
        "error": ["access_denied"],
        "state": ["st-9"],
    }


def test_consent_page_is_accessible_html_with_company_picker(emulator: EmulatorServer) -> None:
    client = auth_client(emulator)
    url = client.get_authorization_url([Scopes.ACCOUNTING], state_token="st-html")
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert '<label for="realm">Company</label>' in html and '<select id="realm" name="realm"' in html
    assert "Sunrise Yoga LLC" in html and "Thames Pottery Ltd" in html
    assert 'value="approve">Connect</button>' in html and 'value="deny">Cancel</button>' in html
    # submitting the form as a browser would
    form = {
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": Scopes.ACCOUNTING.value,
        "state": "st-html",
        "realm": GB_REALM,
        "decision": "approve",
    }
    resp = requests.post(emulator.url + "/connect/oauth2", data=form, allow_redirects=False, timeout=10)
    params = parse_qs(urlparse(resp.headers["Location"]).query)
    assert params["realmId"] == [GB_REALM] and params["state"] == ["st-html"] and params["code"]


def test_token_for_one_company_is_refused_by_another(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    resp = api_get(emulator, GB_REALM, tokens["access_token"])
    assert resp.status_code == 403
    assert resp.json()["Fault"]["type"] == "AuthorizationFault"


def test_invalidate_tokens_control(emulator: EmulatorServer) -> None:
    tokens = emulator.control.issue_tokens(US_REALM)
    assert emulator.control.invalidate_tokens("access", realm=US_REALM) == 1
    assert api_get(emulator, US_REALM, tokens["access_token"]).status_code == 401
    client = auth_client(emulator)
    client.refresh(refresh_token=tokens["refresh_token"])  # refresh still fine
    emulator.control.invalidate_tokens("refresh", realm=US_REALM)
    with pytest.raises(AuthClientError):
        auth_client(emulator).refresh(refresh_token=client.refresh_token)
