"""Metering: Core (data in) and CorePlus (data out) calls per company and per app, per calendar month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from local.qbo_emulator import GB_REALM, US_REALM, EmulatorServer
from local.qbo_emulator.control import EmulatorControlError
from local.qbo_emulator.seed import default_app

from .conftest import Target, realm_target

APP = default_app().client_id


def test_reads_are_coreplus_and_writes_core_per_realm_and_app(emulator: EmulatorServer, us: Target) -> None:
    ctl = emulator.control
    since = (datetime.fromisoformat(ctl.now()) - timedelta(minutes=1)).isoformat(timespec="seconds")
    created = us.post("customer", {"DisplayName": us.unique("Metered")}).json()["Customer"]
    us.post("customer", {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True,
                         "Notes": "x"})
    us.get(f"customer/{created['Id']}")
    us.query("SELECT * FROM Customer")
    us.get("cdc", entities="Customer", changedSince=since)
    us.get(f"companyinfo/{US_REALM}")
    writes = {"BatchItemRequest": [{"bId": "1", "operation": "create",
                                    "Customer": {"DisplayName": us.unique("Batch")}}]}
    with_query = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Item"}]}
    assert us.post("batch", writes).status_code == 200
    assert us.post("batch", with_query).status_code == 200
    realm_target(emulator, GB_REALM, "GB").query("SELECT * FROM Customer")

    counts = ctl.metering()
    assert counts["month"] == ctl.now()[:7]
    assert counts["realms"][US_REALM] == {"Core": 3, "CorePlus": 5}
    assert counts["realms"][GB_REALM] == {"Core": 0, "CorePlus": 1}
    assert counts["apps"][APP] == {"Core": 3, "CorePlus": 6}


def test_refused_and_throttled_calls_are_not_metered(emulator: EmulatorServer, us: Target) -> None:
    ctl = emulator.control
    assert us.get("companyinfo/" + US_REALM, token="not-a-token").status_code == 401
    ctl.config(rate_limits=True, per_second=1)
    try:
        answers = [us.query("SELECT * FROM Item").status_code for _ in range(3)]
    finally:
        ctl.config(rate_limits=False, per_second=10)
    assert 429 in answers
    served = answers.count(200)
    assert ctl.metering()["realms"][US_REALM] == {"Core": 0, "CorePlus": served}


def test_counts_by_calendar_month_of_the_emulator_clock(emulator: EmulatorServer, us: Target) -> None:
    ctl = emulator.control
    ctl.set_clock("2026-01-31T23:59:00+00:00")
    tokens = ctl.issue_tokens(US_REALM)
    us.token = tokens["access_token"]
    us.query("SELECT * FROM Item")
    ctl.advance_clock(120)
    us.query("SELECT * FROM Item")
    us.query("SELECT * FROM Item")
    assert ctl.metering("2026-01")["realms"][US_REALM]["CorePlus"] == 1
    assert ctl.metering("2026-02")["realms"][US_REALM]["CorePlus"] == 2
    assert ctl.metering()["month"] == "2026-02"
    assert {"2026-01", "2026-02"} <= set(ctl.metering()["months"])
    ctl.set_clock(datetime.now(UTC).isoformat())


def test_reset_and_clear_forget_the_counts(emulator: EmulatorServer, us: Target) -> None:
    ctl = emulator.control
    us.query("SELECT * FROM Item")
    ctl.clear_metering()
    assert ctl.metering()["realms"] == {}
    us.query("SELECT * FROM Item")
    ctl.reset()
    assert ctl.metering()["apps"] == {}


def test_a_bad_month_is_a_clear_400(emulator: EmulatorServer) -> None:
    with pytest.raises(EmulatorControlError, match="YYYY-MM"):
        emulator.control.metering("2026-13")
