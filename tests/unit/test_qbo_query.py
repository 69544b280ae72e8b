"""The QBO query builder: exact query text, escaping, and refusal of what QBO cannot do."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kyrios_qbo.qbo_query import Select, quote

PACIFIC = timezone(timedelta(hours=-7))


def test_full_example_from_the_brief() -> None:
    q = (
        Select("Customer")
        .where("PrimaryEmailAddr", "=", "ana@example.com")
        .where("Active", "IN", [True, False])
        .order_by("MetaData.CreateTime")
        .start(1)
        .max(1000)
    )
    assert str(q) == (
        "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'ana@example.com' AND Active IN (true, false) "
        "ORDERBY MetaData.CreateTime ASC STARTPOSITION 1 MAXRESULTS 1000"
    )
    assert q.count() == (
        "SELECT COUNT(*) FROM Customer WHERE PrimaryEmailAddr = 'ana@example.com' AND Active IN (true, false)"
    )


def test_no_conditions() -> None:
    assert Select("Invoice").to_query() == "SELECT * FROM Invoice"
    assert Select("Invoice").count() == "SELECT COUNT(*) FROM Invoice"


def test_fields_and_descending_order() -> None:
    q = Select("Invoice", fields=("Id", "SyncToken")).order_by("TxnDate", descending=True).order_by("Id")
    assert q.to_query() == "SELECT Id, SyncToken FROM Invoice ORDERBY TxnDate DESC, Id ASC"


def test_builder_is_immutable() -> None:
    base = Select("Customer").where("Active", "=", True)
    paged = base.start(1001).max(1000)
    assert base.start_position is None and base.max_results is None
    assert str(base) == "SELECT * FROM Customer WHERE Active = true"
    assert str(paged).endswith("STARTPOSITION 1001 MAXRESULTS 1000")


def test_apostrophe_name_is_escaped() -> None:
    q = Select("Customer").where("DisplayName", "=", "O'Brien")
    assert str(q) == "SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien'"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("x' OR '1'='1", "'x\\' OR \\'1\\'=\\'1'"),
        ("a\\", "'a\\\\'"),  # a trailing backslash must not escape our closing quote
        ("a\\' OR Id > '0", "'a\\\\\\' OR Id > \\'0'"),
        ("'; DROP TABLE Customer; --", "'\\'; DROP TABLE Customer; --'"),
        ("%", "'%'"),
        ("", "''"),
        ("Zoë & Co.", "'Zoë & Co.'"),
    ],
)
def test_injection_attempts_stay_inside_one_literal(value: str, literal: str) -> None:
    q = Select("Customer").where("DisplayName", "=", value)
    assert str(q) == f"SELECT * FROM Customer WHERE DisplayName = {literal}"


def _unquote(literal: str) -> str:
    """Reverse QBO's escaping: the inverse a server applies when it reads one literal."""
    assert literal.startswith("'") and literal.endswith("'")
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            out.append(body[i + 1])
            i += 2
            continue
        assert char != "'", "an unescaped quote would end the literal early"
        out.append(char)
        i += 1
    return "".join(out)


@given(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=60))
def test_any_string_round_trips_as_one_literal(value: str) -> None:
    assert _unquote(quote(value)) == value


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (True, "true"),
        (False, "false"),
        (42, "'42'"),
        (Decimal("300.00"), "'300.00'"),
        (12.5, "'12.5'"),
        (date(2026, 1, 31), "'2026-01-31'"),
        (datetime(2026, 1, 31, 8, 30, tzinfo=UTC), "'2026-01-31T08:30:00+00:00'"),
        (datetime(2026, 1, 31, 8, 30, 15, 999, tzinfo=PACIFIC), "'2026-01-31T08:30:15-07:00'"),
    ],
)
def test_value_literals(value: object, literal: str) -> None:
    assert quote(value) == literal


def test_datetime_comparison_and_in_list_of_strings() -> None:
    since = datetime(2026, 2, 1, tzinfo=UTC)
    q = Select("Invoice").where("MetaData.LastUpdatedTime", ">=", since).where("Id", "IN", ["1", "2", "O'3"])
    assert str(q) == (
        "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2026-02-01T00:00:00+00:00' "
        "AND Id IN ('1', '2', 'O\\'3')"
    )


def test_like_and_lower_case_operator() -> None:
    q = Select("Customer").where("DisplayName", "like", "O'Br%")
    assert str(q) == "SELECT * FROM Customer WHERE DisplayName LIKE 'O\\'Br%'"


@pytest.mark.parametrize("operator", ["OR", "or", "!=", "<>", "NOT IN", "BETWEEN", "= 1 OR", "", "=="])
def test_unsupported_operators_are_rejected(operator: str) -> None:
    with pytest.raises(ValueError, match="unsupported operator"):
        Select("Customer").where("DisplayName", operator, "x")


@pytest.mark.parametrize("empty", [[], (), set()])
def test_empty_in_is_rejected(empty: object) -> None:
    with pytest.raises(ValueError, match="at least one value"):
        Select("Customer").where("Id", "IN", empty)


def test_in_needs_a_list_not_a_string() -> None:
    with pytest.raises(ValueError, match="list"):
        Select("Customer").where("Id", "IN", "123")


def test_scalar_operator_rejects_a_list() -> None:
    with pytest.raises(ValueError, match="single value"):
        Select("Customer").where("Id", "=", ["1"])


def test_like_needs_a_string() -> None:
    with pytest.raises(ValueError, match="LIKE"):
        Select("Customer").where("Balance", "LIKE", 5)


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Select("Invoice").where("TxnDate", ">", datetime(2026, 1, 1))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "a\x00b", object()])
def test_bad_values_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        Select("Customer").where("DisplayName", "=", bad)


@pytest.mark.parametrize(
    "name", ["Customer WHERE 1=1", "Customer;", "", "1Customer", "Display Name", "a..b", "x'", "Meta.Data."]
)
def test_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        Select(name)
    with pytest.raises(ValueError, match="invalid"):
        Select("Customer").where(name, "=", "x")
    with pytest.raises(ValueError, match="invalid"):
        Select("Customer").order_by(name)


@pytest.mark.parametrize("value", [0, -1, True])
def test_start_counts_from_one(value: int) -> None:
    with pytest.raises(ValueError):
        Select("Customer").start(value)


@pytest.mark.parametrize("value", [0, 1001, -5])
def test_max_is_one_to_one_thousand(value: int) -> None:
    with pytest.raises(ValueError):
        Select("Customer").max(value)


@given(st.lists(st.text(max_size=15).filter(lambda s: "\x00" not in s), min_size=1, max_size=5))
def test_in_list_renders_one_literal_per_value(values: list[str]) -> None:
    text = str(Select("Customer").where("DisplayName", "IN", values))
    inner = re.fullmatch(r"SELECT \* FROM Customer WHERE DisplayName IN \((.*)\)", text, re.DOTALL)
    assert inner is not None
    assert inner.group(1) == ", ".join(quote(v) for v in values)
