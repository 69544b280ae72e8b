"""Conformance: throttling (issue 20, "Throttling"). Emulator only: hammering a real sandbox into 429s
is not something a test suite should do.

Sources: Intuit developer blog 2016-08-08 "Concurrent API use changes coming soon": "Applications
making more than 10 concurrent or multi-threaded API requests to the same realmId will get a 429";
"API calls are throttled at 500 requests per minute per realmId, including batch requests";
429 body: tests/fixtures/qbo/throttle-429.xml (code 3001, ThrottleExceeded).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from local.qbo_emulator import US_REALM, EmulatorServer


@pytest.fixture
def limited() -> Iterator[EmulatorServer]:
    srv = EmulatorServer.start(port=0, rate_limits=True, default_seed="minimal")
    try:
        yield srv
    finally:
        srv.stop()


def _get(srv: EmulatorServer, token: str) -> requests.Response:
    return requests.get(f"{srv.api_base}{US_REALM}/companyinfo/{US_REALM}", timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})


def test_the_eleventh_request_in_flight_is_429_then_a_slot_frees(limited: EmulatorServer) -> None:
    ctl = limited.control
    token = ctl.issue_tokens(US_REALM)["access_token"]
    # ten slow calls: each is answered, then held for 3 s before the answer leaves (still in flight)
    ctl.inject_fault("timeout", count=10, method="GET", path="/companyinfo/", realm=US_REALM,
                     after_write=True, seconds=3.0)
    slow = [threading.Thread(target=_get, args=(limited, token)) for _ in range(10)]
    for t in slow:
        t.start()
    deadline = time.monotonic() + 20
    while len(ctl.requests(realm=US_REALM, endpoint="GET companyinfo")) < 10:
        assert time.monotonic() < deadline, "the ten slow calls never got in"
        time.sleep(0.02)
    ctl.advance_clock(2)  # out of any 1-second window: only the ten calls in flight can refuse it
    refused = _get(limited, token)
    assert refused.status_code == 429
    assert '<Error code="3001">' in refused.text
    assert refused.headers["Content-Type"].startswith("application/xml")
    for t in slow:
        t.join(30)
    assert _get(limited, token).status_code == 200  # slots are given back


def test_five_hundred_per_minute(limited: EmulatorServer) -> None:
    ctl = limited.control
    ctl.config(per_minute=20)  # the same window, smaller so the test stays short
    try:
        token = ctl.issue_tokens(US_REALM)["access_token"]
        assert [_get(limited, token).status_code for _ in range(21)] == [200] * 20 + [429]
        ctl.advance_clock(61)
        assert _get(limited, token).status_code == 200
        assert ctl.config()["per_minute"] == 20 and ctl.config()["max_concurrent"] == 10
    finally:
        ctl.config(per_minute=500)
