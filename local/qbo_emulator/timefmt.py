"""Timestamps as QBO writes them: ``2020-09-29T05:58:07-07:00`` in MetaData and
``2020-09-29T05:58:07.300-07:00`` in the response ``time``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

UTC = UTC


def _offset(dt: datetime) -> str:
    off = dt.utcoffset() or timedelta(0)
    total = int(off.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    return f"{sign}{total // 3600:02d}:{(total % 3600) // 60:02d}"


def fmt_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + _offset(dt)


def fmt_time_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond // 1000:03d}" + _offset(dt)


def fmt_utc_z_ms(dt: datetime) -> str:
    """``2016-10-05T03:09:04.000Z`` (legacy webhook ``lastUpdated``)."""
    u = dt.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond // 1000:03d}Z"


def fmt_utc_z_ns(dt: datetime) -> str:
    """``2025-09-10T21:31:25.179851517Z`` (CloudEvents ``time``; we have microseconds only)."""
    u = dt.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S") + f".{u.microsecond:06d}000Z"


def parse_datetime(text: str, default_tz: timezone | None = None) -> datetime:
    """Parse an ISO date or date-time as sent by clients (``Z``, offsets, date only)."""
    t = text.strip()
    if t.endswith("Z") or t.endswith("z"):
        t = t[:-1] + "+00:00"
    if len(t) == 10:
        d = date.fromisoformat(t)
        return datetime(d.year, d.month, d.day, tzinfo=default_tz or UTC)
    # "-0700" form (legacy webhook samples) -> "-07:00"
    if len(t) >= 5 and t[-5] in "+-" and t[-4:].isdigit() and t[-3] != ":":
        t = t[:-2] + ":" + t[-2:]
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=default_tz or UTC)
    return dt
