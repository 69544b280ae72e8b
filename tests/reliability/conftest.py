"""Fixtures of the reliability suite: one local stack per pytest worker for the whole folder, the log
capture and secret scan around every test, and the per-test counts (summed by ``report.py``)."""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator

import pytest

from local.runner import LocalBundle
from tests.reliability.harness import (
    Counts,
    LogCapture,
    Profile,
    SecretWatch,
    function_environment,
    leaked,
    profile,
)

HTTP_TIMEOUT_SECONDS = 2.0
"""The functions' QBO/Intuit timeout here (template: 10 s): an injected 'timeout' fault outlasts it."""
INJECTED_TIMEOUT_SECONDS = 2.5


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("tests.reliability.report"):
        config.pluginmanager.import_plugin("tests.reliability.report")


@pytest.fixture(scope="package")
def reliability_profile() -> Profile:
    return profile()


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalBundle]:
    """The whole bundle on 127.0.0.1: QBO emulator at real time (tests move its clock when they need
    to), a failed push retried after ~1 s instead of 12 minutes, the schedule every second."""
    running = LocalBundle.start(
        stage=f"rel{uuid.uuid4().hex[:6]}",
        time_scale=1.0,
        schedule_interval=1.0,
        sqs_time_scale=0.0014,
        parameters={"LogLevel": "DEBUG"},
        webhook_window_seconds=0.5,  # the workload waits for webhooks; production aggregates 1-5 min
    )
    try:
        with function_environment(
            running, HTTP_TIMEOUT_SECONDS=str(HTTP_TIMEOUT_SECONDS), QBO_RETRY_TIME_SCALE="0.02"
        ):
            yield running
    finally:
        running.stop()


@pytest.fixture(scope="package")
def log_capture(stack: LocalBundle) -> Iterator[LogCapture]:
    """Every line the functions log through Powertools, at DEBUG, while the folder runs."""
    from kyrios_qbo.observability import logger

    powertools = logging.getLogger(logger.service)
    capture = LogCapture(logger.registered_formatter)
    level = powertools.level
    powertools.setLevel(logging.DEBUG)
    powertools.addHandler(capture)
    try:
        yield capture
    finally:
        powertools.removeHandler(capture)
        powertools.setLevel(level)


@pytest.fixture(scope="package")
def secret_watch(stack: LocalBundle) -> Iterator[SecretWatch]:
    watch = SecretWatch(stack)
    try:
        yield watch
    finally:
        watch.stop()


@pytest.fixture
def counts(request: pytest.FixtureRequest) -> Iterator[Counts]:
    from tests.reliability.report import COUNTS_PROPERTY  # registered as a plugin by pytest_configure

    collected = Counts()
    yield collected
    request.node.user_properties.append((COUNTS_PROPERTY, collected.as_dict()))


@pytest.fixture(autouse=True)
def no_secrets_in_logs(request: pytest.FixtureRequest, counts: Counts) -> Iterator[None]:
    """After each test that ran functions: none of their log lines carries a token, code or secret."""
    if "stack" not in request.fixturenames:
        yield
        return
    capture: LogCapture = request.getfixturevalue("log_capture")
    watch: SecretWatch = request.getfixturevalue("secret_watch")
    start = len(capture)
    yield
    lines = capture.since(start)
    found = leaked(lines, watch.collect())
    counts.add("log_lines_scanned", len(lines))
    counts.add("secrets_in_logs", len(found))
    assert not found, f"{len(found)} log lines carry a secret, e.g. {found[:3]}"


@pytest.fixture
def rng(reliability_profile: Profile, request: pytest.FixtureRequest) -> random.Random:
    """A random source seeded by the run's seed and the test's name: a failure replays exactly."""
    return random.Random(f"{reliability_profile.seed}:{request.node.nodeid}")
