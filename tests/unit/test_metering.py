"""Intuit's Core / CorePlus classification of every call the client makes."""

from __future__ import annotations

import pytest

from kyrios_qbo.metering import METRIC_NAMES, category


@pytest.mark.parametrize("operation", ["create", "update", "delete", "void", "send"])
def test_writes_are_core(operation: str) -> None:
    assert category(operation) == "Core"


@pytest.mark.parametrize("operation", ["read", "query", "count", "cdc", "report"])
def test_reads_are_coreplus(operation: str) -> None:
    assert category(operation) == "CorePlus"


def test_a_batch_is_coreplus_as_soon_as_it_carries_a_query() -> None:
    assert category("batch", ["create", "update", "delete"]) == "Core"
    assert category("batch", ["create", "query"]) == "CorePlus"


def test_an_unknown_operation_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="unknown QBO operation"):
        category("upsert")


def test_one_metric_per_category() -> None:
    assert METRIC_NAMES == {"Core": "QboCoreCalls", "CorePlus": "QboCorePlusCalls"}
