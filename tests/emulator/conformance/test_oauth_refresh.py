"""Conformance: refresh-token lifetime rules (issue 20, "Refresh tokens"). Emulator only: a real
sandbox cannot be aged by 24 hours inside a test (the rule is documented, not measured here).

Sources: Intuit help article "Validity of Refresh Token" as quoted in intuit/QuickBooks-V3-PHP-SDK#454
(2022) and #324 (2024): the value changes about once a day and "if a new Refresh Token is returned,
the previous one expires" (invalid_grant); intuit/oauth-jsclient#74 and IntuitDeveloper/oauth2-nodejs#2:
within a day refresh answers the same value, "the value of refresh token can change every 24-26 hour
period", and ``x_refresh_token_expires_in`` counts down (not extended by such a refresh).
"""

from __future__ import annotations

import pytest
from intuitlib.exceptions import AuthClientError

from local.qbo_emulator import US_REALM, EmulatorServer
from tests.emulator.test_oauth import auth_client


def test_same_refresh_token_for_a_day_then_a_new_one_and_the_old_one_dies(emulator: EmulatorServer) -> None:
    ctl = emulator.control
    assert ctl.config()["refresh_rotation"] == "daily"  # the default
    first = ctl.issue_tokens(US_REALM)["refresh_token"]
    client = auth_client(emulator)
    client.refresh(refresh_token=first)
    assert client.refresh_token == first
    first_left = client.x_refresh_token_expires_in
    ctl.advance_clock(6 * 3600)
    client.refresh(refresh_token=first)
    assert client.refresh_token == first
    assert client.x_refresh_token_expires_in < first_left  # not extended
    ctl.advance_clock(19 * 3600)  # 25 h after it was issued
    client.refresh(refresh_token=first)
    second = client.refresh_token
    assert second != first
    with pytest.raises(AuthClientError) as err:
        auth_client(emulator).refresh(refresh_token=first)
    assert err.value.response.json()["error"] == "invalid_grant"
    again = auth_client(emulator)
    again.refresh(refresh_token=second)
    assert again.refresh_token == second


def test_strict_rotation_is_an_option(emulator: EmulatorServer) -> None:
    ctl = emulator.control
    ctl.config(refresh_rotation="strict")
    try:
        first = ctl.issue_tokens(US_REALM)["refresh_token"]
        client = auth_client(emulator)
        client.refresh(refresh_token=first)
        assert client.refresh_token != first
        with pytest.raises(AuthClientError):
            auth_client(emulator).refresh(refresh_token=first)
    finally:
        ctl.config(refresh_rotation="daily")
