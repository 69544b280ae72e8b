"""Builder for QBO's SQL-like query language, with every value escaped.

QBO queries know ``AND`` only (no ``OR``, no joins), the operators ``= < > <= >= IN LIKE``, string
literals in single quotes with ``\\'`` for a quote, ``STARTPOSITION`` (from 1) and ``MAXRESULTS``
(at most 1000). Values never reach the text unescaped, and entity/field names must be plain
identifiers, so a customer called ``O'Brien`` (or ``x' OR '1'='1``) is just a name.

    Select("Customer").where("PrimaryEmailAddr", "=", email).where("Active", "IN", [True, False])
        .order_by("MetaData.CreateTime").start(1).max(1000)

Builders are immutable: every call returns a new :class:`Select`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, TypeAlias

MAX_PAGE_SIZE = 1000

Scalar: TypeAlias = str | bool | int | float | Decimal | date | datetime
_SCALAR_TYPES = (str, bool, int, float, Decimal, date, datetime)
Operator = Literal["=", "<", ">", "<=", ">=", "IN", "LIKE"]
_OPERATORS: frozenset[str] = frozenset({"=", "<", ">", "<=", ">=", "IN", "LIKE"})
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")


def _identifier(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"invalid {what} {name!r}: letters, digits and dots only")
    return name


def quote(value: Scalar) -> str:
    """One value as a QBO literal: booleans bare, everything else a quoted, escaped string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("datetime values need a time zone (QBO compares instants)")
        text = value.isoformat(timespec="seconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("NaN and infinity are not query values")
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"unsupported query value type {type(value).__name__}")
    if "\x00" in text:
        raise ValueError("query values cannot contain NUL characters")
    # Backslash first, so an escaped quote cannot be un-escaped by a trailing backslash in the value.
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Scalar | tuple[Scalar, ...]

    def render(self) -> str:
        if isinstance(self.value, tuple):
            return f"{self.field} IN ({', '.join(quote(v) for v in self.value)})"
        return f"{self.field} {self.operator} {quote(self.value)}"


@dataclass(frozen=True)
class Select:
    """A query on one entity. ``str(select)`` is the query text."""

    entity: str
    fields: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    ordering: tuple[tuple[str, str], ...] = ()
    start_position: int | None = None
    max_results: int | None = None

    def __post_init__(self) -> None:
        _identifier(self.entity, "entity")
        for name in self.fields:
            _identifier(name, "field")

    def where(self, field: str, operator: str, value: Scalar | Iterable[Scalar]) -> Select:
        """Add an ``AND`` condition. ``IN`` takes a non-empty list; ``LIKE`` a string with ``%``."""
        _identifier(field, "field")
        if not isinstance(operator, str):
            raise ValueError("operator must be a string")
        op = operator.strip().upper()
        if op == "OR" or op == "NOT IN" or op not in _OPERATORS:
            supported = ", ".join(sorted(_OPERATORS))
            raise ValueError(f"unsupported operator {operator!r}; QBO has {supported} and AND")
        condition: Condition
        if op == "IN":
            if isinstance(value, str | bytes) or not isinstance(value, Iterable):
                raise ValueError("IN needs a list of values")
            values = tuple(value)
            if not values:
                raise ValueError("IN needs at least one value (an empty IN matches nothing)")
            for v in values:
                quote(v)  # validate now, not when rendering
            condition = Condition(field, op, values)
        else:
            if not isinstance(value, _SCALAR_TYPES):
                raise ValueError(f"{op} needs a single value")
            if op == "LIKE" and not isinstance(value, str):
                raise ValueError("LIKE needs a string pattern")
            quote(value)
            condition = Condition(field, op, value)
        return replace(self, conditions=(*self.conditions, condition))

    def order_by(self, field: str, descending: bool = False) -> Select:
        _identifier(field, "field")
        return replace(self, ordering=(*self.ordering, (field, "DESC" if descending else "ASC")))

    def start(self, position: int) -> Select:
        """``STARTPOSITION``: 1 is the first row."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise ValueError("start position counts from 1")
        return replace(self, start_position=position)

    def max(self, count: int) -> Select:
        """``MAXRESULTS``: 1 to 1000."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PAGE_SIZE:
            raise ValueError(f"max results must be between 1 and {MAX_PAGE_SIZE}")
        return replace(self, max_results=count)

    def _where_clause(self) -> str:
        if not self.conditions:
            return ""
        return " WHERE " + " AND ".join(c.render() for c in self.conditions)

    def to_query(self) -> str:
        columns = ", ".join(self.fields) if self.fields else "*"
        # Names are validated identifiers and every value goes through quote(): this is the escaping.
        text = f"SELECT {columns} FROM {self.entity}{self._where_clause()}"  # noqa: S608
        if self.ordering:
            text += " ORDERBY " + ", ".join(f"{f} {d}" for f, d in self.ordering)
        if self.start_position is not None:
            text += f" STARTPOSITION {self.start_position}"
        if self.max_results is not None:
            text += f" MAXRESULTS {self.max_results}"
        return text

    def count(self) -> str:
        """The ``COUNT(*)`` query with the same conditions (ordering and paging do not apply)."""
        return f"SELECT COUNT(*) FROM {self.entity}{self._where_clause()}"  # noqa: S608

    def __str__(self) -> str:
        return self.to_query()
