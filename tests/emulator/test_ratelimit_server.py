"""Throttling on the emulator clock, the command-line entry point, and the catch-all handler."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from local.qbo_emulator import US_REALM, EmulatorServer

ROOT = Path(__file__).resolve().parents[2]


def _get(srv: EmulatorServer, token: str) -> int:
    return requests.get(
        f"{srv.api_base}{US_REALM}/preferences", timeout=10, headers={"Authorization": f"Bearer {token}"}
    ).status_code


def test_per_minute_limit_with_time_scale() -> None:
    # time_scale=60: an emulator minute lasts one real second
    srv = EmulatorServer.start(port=0, time_scale=60, rate_limits=True, per_minute=12, per_second=1000)
    try:
        token = srv.control.issue_tokens(US_REALM)["access_token"]
        statuses = [_get(srv, token) for _ in range(13)]
        assert statuses[:12] == [200] * 12 and statuses[12] == 429
        time.sleep(1.1)  # one emulator minute later
        assert _get(srv, token) == 200
    finally:
        srv.stop()


def test_batch_limit_and_switch_off() -> None:
    srv = EmulatorServer.start(port=0, rate_limits=True, batch_per_minute=2)
    try:
        token = srv.control.issue_tokens(US_REALM)["access_token"]
        body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT count(*) FROM Item"}]}

        def batch() -> int:
            return requests.post(
                f"{srv.api_base}{US_REALM}/batch",
                json=body,
                timeout=10,
                headers={"Authorization": f"Bearer {token}"},
            ).status_code

        assert [batch(), batch(), batch()] == [200, 200, 429]
        srv.control.advance_clock(61)
        assert batch() == 200
        srv.control.config(rate_limits=False)
        assert [batch() for _ in range(5)] == [200] * 5
    finally:
        srv.stop()


def test_per_second_limit_is_an_option() -> None:
    srv = EmulatorServer.start(port=0, rate_limits=True)
    try:
        token = srv.control.issue_tokens(US_REALM)["access_token"]
        srv.control.config(time_scale=0.01)  # freeze-ish: the whole loop fits in one emulator second
        assert [_get(srv, token) for _ in range(11)] == [200] * 11  # off by default (Intuit: concurrency)
        srv.control.config(per_second=10)
        srv.control.reset()
        token = srv.control.issue_tokens(US_REALM)["access_token"]
        statuses = [_get(srv, token) for _ in range(11)]
        assert statuses.count(200) == 10 and statuses[-1] == 429
    finally:
        srv.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_command_line_start_with_env_port() -> None:
    port = _free_port()
    env = dict(os.environ, QBO_EMULATOR_PORT=str(port), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.qbo_emulator"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                doc = requests.get(
                    f"http://127.0.0.1:{port}/.well-known/openid_configuration", timeout=1
                ).json()
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("emulator did not start")
        assert doc["token_endpoint"] == f"http://127.0.0.1:{port}/oauth2/v1/tokens/bearer"
    finally:
        proc.terminate()
        proc.wait(10)


def test_unexpected_errors_become_logged_system_faults(emulator: EmulatorServer, monkeypatch: Any) -> None:
    from local.qbo_emulator import api

    def boom(*args: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(api, "cdc", boom)
    token = emulator.control.issue_tokens(US_REALM)["access_token"]
    resp = requests.get(
        f"{emulator.api_base}{US_REALM}/cdc",
        params={"entities": "Customer"},
        timeout=10,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 500
    assert resp.json()["Fault"]["type"] == "SystemFault" and resp.headers["intuit_tid"]
    assert emulator.control.health()["unexpected_errors"] == 1
    emulator.emulator.state.request_log.unexpected_errors = 0  # expected here; keep the module check honest
