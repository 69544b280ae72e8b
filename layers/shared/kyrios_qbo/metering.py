"""Intuit's metering of Accounting API calls: every call is *Core* or *CorePlus*.

Intuit App Partner Program (Intuit blog "Best Practices for Intuit API Optimization", part 1,
2025-08-11, and "Understanding Builder tier API limits", 2026-01-08; docs/qbo-facts.md):

* **Core** — data in: create, update, delete, void, send. Not metered.
* **CorePlus** — data out: reads, queries (``count`` included), CDC, reports, company info.
  Metered; on the free Builder tier more than 500,000 CorePlus calls in a calendar month block the
  app for the rest of the month and every connected customer sees it "Offline".

A batch is one HTTP call: Intuit does not publish how it is metered, so a batch that carries any
query item counts as CorePlus and a batch of writes only as Core (*uncertain*: the conservative
reading — a batch with a query reads data out). OAuth calls are not metered and never reach this
module.

:func:`category` is the single place that decides; the QBO client emits one Powertools metric per
attempt that reaches Intuit (``QboCoreCalls`` / ``QboCorePlusCalls``, no per-company dimension:
one metric stream per category, whatever the number of companies) and the emulator counts the same
way per company and per app (local/qbo_emulator/metering.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

Category = Literal["Core", "CorePlus"]

CORE_OPERATIONS: frozenset[str] = frozenset({"create", "update", "delete", "void", "send"})
COREPLUS_OPERATIONS: frozenset[str] = frozenset({"read", "query", "count", "cdc", "report"})

METRIC_NAMES: dict[Category, str] = {"Core": "QboCoreCalls", "CorePlus": "QboCorePlusCalls"}
"""The CloudWatch metric of each category (namespace from POWERTOOLS_METRICS_NAMESPACE)."""


_pending: dict[Category, int] = {"Core": 0, "CorePlus": 0}


def record(kind: Category) -> None:
    """Count one attempt sent in this container (the poller hands the tally to the month's usage)."""
    _pending[kind] += 1


def take(kind: Category) -> int:
    """The attempts of ``kind`` counted since the last take, and start again from 0."""
    count, _pending[kind] = _pending[kind], 0
    return count


def category(operation: str, batch_operations: Iterable[str] = ()) -> Category:
    """The category of one call. ``batch_operations``: the items' operations of a ``batch`` call."""
    if operation == "batch":
        return "CorePlus" if any(op in COREPLUS_OPERATIONS for op in batch_operations) else "Core"
    if operation in CORE_OPERATIONS:
        return "Core"
    if operation in COREPLUS_OPERATIONS:
        return "CorePlus"
    raise ValueError(f"unknown QBO operation {operation!r}")
