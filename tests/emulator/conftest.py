"""Fixtures for the emulator tests.

- ``emulator`` (module): an in-process emulator on a free 127.0.0.1 port, rate limits off; every test
  starts from ``/_emulator/reset`` (autouse ``fresh``), so tests never depend on each other.
- ``target``: where client-facing tests send plain HTTP. Parametrised: ``emulator`` always, and
  ``sandbox`` only when QBO_SANDBOX_CLIENT_ID / _SECRET / _REFRESH_TOKEN / _REALM_ID are set
  (skipped with the reason otherwise; nothing here contacts the internet unless they are).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from local.qbo_emulator import GB_REALM, US_REALM, EmulatorControl, EmulatorServer
from tests.fixtures import QBO_SAMPLES

SANDBOX_VARS = (
    "QBO_SANDBOX_CLIENT_ID",
    "QBO_SANDBOX_CLIENT_SECRET",
    "QBO_SANDBOX_REFRESH_TOKEN",
    "QBO_SANDBOX_REALM_ID",
)
SANDBOX_API = "https://sandbox-quickbooks.api.intuit.com/v3/company/"


def sample(name: str) -> Any:
    text = (QBO_SAMPLES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    srv = EmulatorServer.start(port=0, time_scale=1.0, rate_limits=False, default_seed="minimal")
    try:
        yield srv
    finally:
        health = srv.control.health()
        srv.stop()
        # bad input must never have reached the catch-all SystemFault handler
        assert health["unexpected_errors"] == 0, "the emulator raised unexpectedly (see log)"


@pytest.fixture
def ctl(emulator: EmulatorServer) -> EmulatorControl:
    return emulator.control


@pytest.fixture(autouse=True)
def fresh(request: pytest.FixtureRequest) -> None:
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").control.reset()


@dataclass
class Target:
    """An Accounting API endpoint (emulator or real sandbox) with a valid token for one realm."""

    name: str
    api_base: str
    realm: str
    token: str
    country: str
    session: requests.Session = field(default_factory=requests.Session)
    ctl: EmulatorControl | None = None

    @property
    def is_emulator(self) -> bool:
        return self.ctl is not None

    @property
    def base(self) -> str:
        return f"{self.api_base}{self.realm}/"

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token or self.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def get(self, path: str, token: str | None = None, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        return self.session.get(self.base + path, params=params, headers=self.headers(token), timeout=30)

    def post(self, path: str, body: Any, token: str | None = None, **params: str) -> requests.Response:
        params.setdefault("minorversion", "75")
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.session.post(
            self.base + path, params=params, data=data, headers=self.headers(token), timeout=30
        )

    def query(self, q: str) -> requests.Response:
        return self.get("query", query=q)

    def unique(self, prefix: str) -> str:
        return f"{prefix} {uuid.uuid4().hex[:8]}"


def _sandbox_target() -> Target:
    missing = [v for v in SANDBOX_VARS if not os.environ.get(v)]
    if missing:
        pytest.skip(f"real Intuit sandbox not configured ({', '.join(missing)} unset)")
    from intuitlib.client import AuthClient

    auth = AuthClient(
        os.environ["QBO_SANDBOX_CLIENT_ID"],
        os.environ["QBO_SANDBOX_CLIENT_SECRET"],
        "https://developer.intuit.com/v2/OAuth2Playground/RedirectUrl",
        "sandbox",
    )
    auth.refresh(refresh_token=os.environ["QBO_SANDBOX_REFRESH_TOKEN"])
    realm = os.environ["QBO_SANDBOX_REALM_ID"]
    session = requests.Session()
    info = session.get(
        f"{SANDBOX_API}{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {auth.access_token}", "Accept": "application/json"},
        timeout=30,
    ).json()
    return Target("sandbox", SANDBOX_API, realm, auth.access_token, info["CompanyInfo"]["Country"], session)


@pytest.fixture(params=["emulator", "sandbox"])
def target(request: pytest.FixtureRequest) -> Target:
    """Client-facing tests run against the emulator (US company) and, if configured, a real sandbox."""
    if request.param == "sandbox":
        return _sandbox_target()
    srv: EmulatorServer = request.getfixturevalue("emulator")
    srv.control.reset()
    tokens = srv.control.issue_tokens(US_REALM)
    return Target("emulator", srv.api_base, US_REALM, tokens["access_token"], "US", ctl=srv.control)


@pytest.fixture
def us(emulator: EmulatorServer) -> Target:
    tokens = emulator.control.issue_tokens(US_REALM)
    return Target("emulator", emulator.api_base, US_REALM, tokens["access_token"], "US", ctl=emulator.control)


@pytest.fixture
def gb(emulator: EmulatorServer) -> Target:
    tokens = emulator.control.issue_tokens(GB_REALM)
    return Target("emulator", emulator.api_base, GB_REALM, tokens["access_token"], "GB", ctl=emulator.control)


def realm_target(emulator: EmulatorServer, realm: str, country: str) -> Target:
    tokens = emulator.control.issue_tokens(realm)
    return Target("emulator", emulator.api_base, realm, tokens["access_token"], country, ctl=emulator.control)
