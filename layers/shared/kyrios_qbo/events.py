"""Publishing the bundle's events on the Kyrios bus.

``publish([ContactCreated(...), OutgoingEvent("sync.failed", {...}), ...])`` sends them with PutEvents
in calls of at most 10 entries and 256 KB, retries only the entries EventBridge reports as failed
(a bounded number of times), and raises :class:`PublishFailed` naming what still failed, so the
caller can leave its message unacknowledged rather than lose an event. Source is
``settings.source_name`` (``kyrios.quickbooks``); the bus is ``EVENT_BUS_NAME``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from kyrios_qbo import aws_clients
from kyrios_qbo.config import get_settings

MAX_ENTRIES_PER_CALL = 10
MAX_REQUEST_BYTES = 256 * 1024
"""PutEvents limit for one entry and for the sum of the entries of one call."""
MAX_ATTEMPTS = 4
"""First try plus retries of the failed entries."""

Entry = dict[str, Any]
PutEvents = Callable[[list[Entry]], Mapping[str, Any]]


class PublishError(Exception):
    """Base of the errors of this module."""


class InvalidEvent(PublishError, ValueError):
    """The event cannot be published as given (not a JSON object, too large, no detail type)."""


class EventTooLarge(InvalidEvent):
    def __init__(self, detail_type: str, size: int) -> None:
        super().__init__(
            f"{detail_type} event is {size} bytes; EventBridge accepts at most {MAX_REQUEST_BYTES}"
        )
        self.detail_type = detail_type
        self.size = size


@dataclass(frozen=True)
class FailedEntry:
    detail_type: str
    error_code: str
    error_message: str


class PublishFailed(PublishError):
    """Some events were still rejected after retrying; ``failures`` says which and why."""

    def __init__(self, failures: Sequence[FailedEntry], published: int) -> None:
        codes = sorted({failure.error_code for failure in failures})
        super().__init__(
            f"{len(failures)} event(s) not published ({', '.join(codes)}); {published} published"
        )
        self.failures = list(failures)
        self.published = published

    @property
    def error_codes(self) -> list[str]:
        return [failure.error_code for failure in self.failures]


@dataclass(frozen=True)
class OutgoingEvent:
    detail_type: str
    detail: Mapping[str, Any] | BaseModel
    resources: Sequence[str] = field(default_factory=tuple)


Publishable = OutgoingEvent | BaseModel | tuple[Any, ...]
"""An :class:`OutgoingEvent`, a published model with a ``DETAIL_TYPE`` class variable, or a
``(detail_type, detail[, resources])`` tuple."""


def client() -> Any:
    """The EventBridge client of this container (created on first use)."""
    return aws_clients.client("events")


def to_entry(event: Publishable, source: str, bus_name: str) -> Entry:
    """A PutEvents entry; raises :class:`InvalidEvent` / :class:`EventTooLarge` before anything is sent."""
    if isinstance(event, BaseModel):
        detail_type = getattr(type(event), "DETAIL_TYPE", None)
        if not isinstance(detail_type, str):
            raise InvalidEvent(f"{type(event).__name__} has no DETAIL_TYPE; wrap it in OutgoingEvent")
        event = OutgoingEvent(detail_type, event)
    elif isinstance(event, tuple):
        event = OutgoingEvent(*event)
    if not event.detail_type:
        raise InvalidEvent("detail_type is required")
    detail = event.detail
    if isinstance(detail, BaseModel):
        detail = detail.model_dump(mode="json", by_alias=True)
    if not isinstance(detail, Mapping):
        raise InvalidEvent(f"{event.detail_type} detail must be a JSON object")
    try:
        detail_json = json.dumps(dict(detail), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"{event.detail_type} detail is not JSON-serialisable: {exc}") from exc
    entry: Entry = {
        "Source": source,
        "DetailType": event.detail_type,
        "Detail": detail_json,
        "EventBusName": bus_name,
    }
    if event.resources:
        entry["Resources"] = list(event.resources)
    size = entry_size(entry)
    if size > MAX_REQUEST_BYTES:
        raise EventTooLarge(event.detail_type, size)
    return entry


def entry_size(entry: Entry) -> int:
    """Size as EventBridge counts it: UTF-8 bytes of Source, DetailType, Detail, Resources (+14 for Time)."""
    size = 14 if "Time" in entry else 0
    for name in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(name, "")).encode("utf-8"))
    return size + sum(len(resource.encode("utf-8")) for resource in entry.get("Resources", []))


def chunk_entries(entries: Sequence[Entry]) -> list[list[Entry]]:
    """Group entries into PutEvents calls: at most 10 entries and 256 KB each, order kept."""
    chunks: list[list[Entry]] = []
    current: list[Entry] = []
    current_size = 0
    for entry in entries:
        size = entry_size(entry)
        if current and (len(current) == MAX_ENTRIES_PER_CALL or current_size + size > MAX_REQUEST_BYTES):
            chunks.append(current)
            current, current_size = [], 0
        current.append(entry)
        current_size += size
    if current:
        chunks.append(current)
    return chunks


def send_with_retries(
    entries: list[Entry],
    put_events: PutEvents,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[FailedEntry]:
    """Send one chunk; resend only the entries reported failed. Returns what still failed."""
    pending = entries
    failures: list[FailedEntry] = []
    for attempt in range(max_attempts):
        if attempt:
            sleep(min(2.0, 0.1 * 2**attempt) * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
        answer = put_events(pending)
        if not answer.get("FailedEntryCount"):
            return []
        results = answer.get("Entries", [])
        # Results are positional: result i belongs to entry i; failed ones carry an ErrorCode.
        failed_pairs = [
            (entry, result)
            for entry, result in zip(pending, results, strict=False)
            if result.get("ErrorCode")
        ]
        failures = [
            FailedEntry(entry["DetailType"], str(result["ErrorCode"]), str(result.get("ErrorMessage", "")))
            for entry, result in failed_pairs
        ]
        pending = [entry for entry, _ in failed_pairs]
        if not pending:  # FailedEntryCount without per-entry errors: nothing identifiable to retry
            return []
    return failures


def publish(events: Iterable[Publishable]) -> int:
    """Publish the events; returns how many were published. Raises :class:`PublishFailed`."""
    settings = get_settings()
    bus_name = settings.require("event_bus_name")
    entries = [to_entry(event, settings.source_name, bus_name) for event in events]
    failures: list[FailedEntry] = []

    def put(batch: list[Entry]) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = client().put_events(Entries=batch)
        return answer

    for chunk in chunk_entries(entries):
        failures.extend(send_with_retries(chunk, put))
    if failures:
        raise PublishFailed(failures, published=len(entries) - len(failures))
    return len(entries)


def publish_one(
    detail_type: str, detail: Mapping[str, Any] | BaseModel, resources: Sequence[str] = ()
) -> None:
    publish([OutgoingEvent(detail_type, detail, tuple(resources))])
