"""A pytest plugin that sums the counts the reliability tests report and prints them at the end.

Each test reports ``record_property("reliability_counts", {...})``; the property travels with the test
report (also from pytest-xdist workers), so the sum is made where the terminal summary is printed.
``RELIABILITY_COUNTS_FILE`` (set by ``local/soak.py``) also receives the sums as JSON.

Loaded by ``tests/reliability/conftest.py`` when the folder is run on its own; under ``pytest -n`` from
the repository root the controller process never reads that conftest, so ``tests/conftest.py`` lists
this module in ``pytest_plugins``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest

COUNTS_PROPERTY = "reliability_counts"
HEADLINE = (
    ("messages_sent", "Kyrios events sent"),
    ("messages_acknowledged", "acknowledged by the pusher"),
    ("messages_dead_lettered", "dead-lettered (each with a reason)"),
    ("messages_lost", "lost"),
    ("qbo_duplicates", "duplicates in QBO"),
    ("contacts_expected", "QBO contacts expected in Kyrios"),
    ("contact_duplicates", "contacts published twice"),
    ("contacts_missing", "contacts missing"),
    ("imported_duplicates", "invoices imported twice"),
    ("fault_rules_injected", "fault rules injected"),
    ("faults_hit", "faulted QBO/Intuit calls"),
    ("pusher_kills_after_write", "pusher killed after writing"),
    ("pusher_kills_mid_batch", "pusher killed mid-batch"),
    ("outage_redeliveries", "redeliveries during the outage"),
    ("token_refreshes", "token refreshes"),
    ("bad_inputs", "bad inputs tried"),
    ("http_5xx", "5xx answers"),
    ("unhandled_exceptions", "unhandled exceptions"),
    ("isolation_calls", "cross-account calls tried"),
    ("log_lines_scanned", "log lines scanned for secrets"),
    ("secrets_in_logs", "secrets found in logs"),
)

_totals: Counter[str] = Counter()
_tests = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _tests
    # The teardown report carries every property the test recorded (ours are added at teardown).
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == COUNTS_PROPERTY and isinstance(value, dict):
            _totals.update({k: int(v) for k, v in value.items()})
            _tests += 1


def totals() -> dict[str, int]:
    return dict(_totals)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _tests:
        return
    terminalreporter.section("reliability counts")
    shown = set()
    for key, label in HEADLINE:
        shown.add(key)
        terminalreporter.write_line(f"  {label:<40} {_totals.get(key, 0)}")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(_totals.items()) if k not in shown)
    if rest:
        terminalreporter.write_line(f"  details: {rest}")
    target = os.environ.get("RELIABILITY_COUNTS_FILE")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump({"tests": _tests, "counts": dict(_totals)}, out, indent=2, sort_keys=True)
