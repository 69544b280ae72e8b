"""Counting what the functions ask of AWS and of QBO, from the bench only (production code is untouched).

- AWS: a ``before-call`` handler on every botocore session (the layer's default boto3 session and the
  ones Powertools creates for idempotency), counting ``(service, operation)`` and the items/entries
  each call carries. Calls made while a function runs are attributed to it; the rest (the local
  stack's SQS pollers, the bench itself) go under ``harness``.
- DynamoDB writes: each item written is also counted by operation and key shape (``key_shape``: the
  table's key with ids left out, e.g. ``REALM#/RATE#QBO``), so the results can say which writes a
  pushed document costs.
- Lambda: ``LocalFunction.invoke`` is wrapped to time every invocation (GB-seconds = memory from the
  template × measured duration) and to mark the thread as "inside function X".
- QBO: the emulator's request log (counted per company and endpoint).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session

HARNESS = "harness"
_TAG = re.compile(r"[A-Z][A-Z_]*")  # a key's tag (``REALM``, ``MAP``), not an id or a timestamp
_KIND = re.compile(r"[a-z][a-z_]*")  # a kind after a tag (``MAP#invoice#...``)
RECENT_EVENTS = 5
_WRITE_UNITS = {"TransactWriteItems": 2}  # AWS bills transactional writes twice
_ITEM_PARAMS = {
    ("dynamodb", "BatchGetItem"): lambda p: sum(
        len(v.get("Keys", [])) for v in p.get("RequestItems", {}).values()
    ),
    ("dynamodb", "BatchWriteItem"): lambda p: sum(len(v) for v in p.get("RequestItems", {}).values()),
    ("dynamodb", "TransactWriteItems"): lambda p: len(p.get("TransactItems", [])),
    ("dynamodb", "TransactGetItems"): lambda p: len(p.get("TransactItems", [])),
    ("events", "PutEvents"): lambda p: len(p.get("Entries", [])),
    ("sqs", "SendMessageBatch"): lambda p: len(p.get("Entries", [])),
}


@dataclass
class Invocations:
    count: int = 0
    seconds: float = 0.0
    gb_seconds: float = 0.0
    durations: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # CPU time of the invoking thread (our code + its botocore/HTTP client side)


class Counters:
    """Everything counted so far; ``snapshot()``/``since()`` give one workload's share."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._where = threading.local()
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (who, service, operation)
        self.items: Counter[tuple[str, str, str]] = Counter()
        self.fifo_calls: Counter[str] = Counter()  # who -> SQS calls to FIFO queues
        self.writes: Counter[tuple[str, str, str]] = Counter()  # (who, operation, key shape) -> WRUs
        self.reads: Counter[tuple[str, str, str]] = Counter()  # (who, operation, key shape) -> items read
        self.invocations: dict[str, Invocations] = {}
        self.recent_events: dict[str, list[Any]] = {}  # function -> its last few events (replayed by probes)
        self.started: dict[str, list[float]] = {}  # function -> monotonic start of each invocation

    # -- attribution
    def current(self) -> str:
        return getattr(self._where, "function", None) or HARNESS

    @contextmanager
    def inside(self, function_id: str) -> Iterator[None]:
        previous = getattr(self._where, "function", None)
        self._where.function = function_id
        try:
            yield
        finally:
            self._where.function = previous

    def mark_start(self, function_id: str) -> None:
        with self._lock:
            self.started.setdefault(function_id, []).append(time.monotonic())

    def first_start_after(self, function_id: str, moment: float) -> float | None:
        """When ``function_id`` first started an invocation at or after ``moment`` (monotonic)."""
        with self._lock:
            return next((t for t in self.started.get(function_id, []) if t >= moment), None)

    # -- hooks
    def on_call(self, model: Any = None, params: Any = None, **_: Any) -> None:
        if model is None:
            return
        service = model.service_model.endpoint_prefix
        operation = model.name
        who = self.current()
        body = _json_body(params)
        counted = _ITEM_PARAMS.get((service, operation))
        carried = 1
        if counted is not None:
            try:
                carried = int(counted(body))
            except (TypeError, AttributeError):
                carried = 1
        fifo = service == "sqs" and str(body.get("QueueUrl", "")).endswith(".fifo")
        written = written_keys(operation, body) if service == "dynamodb" else []
        read = read_keys(operation, body) if service == "dynamodb" else []
        with self._lock:
            self.calls[(who, service, operation)] += 1
            self.items[(who, service, operation)] += carried
            if fifo:
                self.fifo_calls[who] += 1
            for shape in written:
                self.writes[(who, operation, shape)] += _WRITE_UNITS.get(operation, 1)
            for shape in read:
                self.reads[(who, operation, shape)] += 1

    def add_invocation(
        self, function_id: str, seconds: float, memory_mb: int, event: Any = None, cpu_seconds: float = 0.0
    ) -> None:
        with self._lock:
            recent = self.recent_events.setdefault(function_id, [])
            recent.append(event)
            del recent[:-RECENT_EVENTS]
            record = self.invocations.setdefault(function_id, Invocations())
            record.count += 1
            record.seconds += seconds
            record.gb_seconds += seconds * memory_mb / 1024
            record.durations.append(seconds)
            record.cpu_seconds += cpu_seconds

    # -- reading
    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                Counter(self.calls),
                Counter(self.items),
                Counter(self.fifo_calls),
                Counter(self.writes),
                Counter(self.reads),
                {
                    k: Invocations(v.count, v.seconds, v.gb_seconds, list(v.durations), v.cpu_seconds)
                    for k, v in self.invocations.items()
                },
            )


@dataclass
class Snapshot:
    calls: Counter[tuple[str, str, str]]
    items: Counter[tuple[str, str, str]]
    fifo_calls: Counter[str]
    writes: Counter[tuple[str, str, str]]
    reads: Counter[tuple[str, str, str]]
    invocations: dict[str, Invocations]

    def since(self, earlier: Snapshot) -> Snapshot:
        invocations = {}
        for function_id, now in self.invocations.items():
            before = earlier.invocations.get(function_id, Invocations())
            invocations[function_id] = Invocations(
                now.count - before.count,
                now.seconds - before.seconds,
                now.gb_seconds - before.gb_seconds,
                now.durations[len(before.durations) :],
                now.cpu_seconds - before.cpu_seconds,
            )
        return Snapshot(
            self.calls - earlier.calls,
            self.items - earlier.items,
            self.fifo_calls - earlier.fifo_calls,
            self.writes - earlier.writes,
            self.reads - earlier.reads,
            invocations,
        )

    def functions_only(self) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]], int]:
        """(calls, items, FIFO SQS calls) made by the functions, summed over functions."""
        calls: Counter[tuple[str, str]] = Counter()
        items: Counter[tuple[str, str]] = Counter()
        for (who, service, operation), n in self.calls.items():
            if who != HARNESS:
                calls[(service, operation)] += n
                items[(service, operation)] += self.items[(who, service, operation)]
        fifo = sum(n for who, n in self.fifo_calls.items() if who != HARNESS)
        return calls, items, fifo

    def writes_by_key(self, reads: bool = False) -> dict[str, int]:
        """DynamoDB write units (``reads``: items read by key) the functions spent, by
        ``"<operation> <key shape>"``, largest first."""
        out: Counter[str] = Counter()
        for (who, operation, shape), n in (self.reads if reads else self.writes).items():
            if who != HARNESS:
                out[f"{operation} {shape}"] += n
        return dict(out.most_common())

    def by_function(self, service: str) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (who, svc, _operation), n in self.calls.items():
            if svc == service and who != HARNESS:
                out[who] += n
        return dict(out)


def key_shape(key: Any) -> str:
    """A DynamoDB key without its ids: ``REALM#123`` / ``MAP#invoice#inv-1`` → ``REALM#/MAP#invoice#``.
    Each part keeps its leading upper-case tags (and a lower-case kind right after one, such as
    ``invoice``); the idempotency table's ``id`` key is ``idempotency``."""
    if not isinstance(key, dict):
        return "?"
    if "id" in key and "pk" not in key:
        return "idempotency"
    parts = []
    for name in ("pk", "sk"):
        value = key.get(name, {})
        text = value.get("S", "") if isinstance(value, dict) else ""
        kept: list[str] = []
        for piece in text.split("#")[:-1] if "#" in text else [text]:
            if _TAG.fullmatch(piece) or (kept and _TAG.fullmatch(kept[-1]) and _KIND.fullmatch(piece)):
                kept.append(piece)
            else:
                break
        parts.append("".join(f"{p}#" for p in kept) if "#" in text else text)
    return "/".join(parts)


def written_keys(operation: str, body: dict[str, Any]) -> list[str]:
    """The key shape of every item a DynamoDB write request writes (one entry per item)."""
    if operation == "PutItem":
        return [key_shape(body.get("Item"))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [key_shape(body.get("Key"))]
    shapes: list[str] = []
    if operation == "BatchWriteItem":
        for requests in body.get("RequestItems", {}).values():
            for request in requests:
                put, delete = request.get("PutRequest", {}), request.get("DeleteRequest", {})
                shapes.append(key_shape(put.get("Item") or delete.get("Key")))
    elif operation == "TransactWriteItems":
        for entry in body.get("TransactItems", []):
            for kind, action in entry.items():
                shapes.append(f"{kind}:{key_shape(action.get('Item') or action.get('Key'))}")
    return shapes


def read_keys(operation: str, body: dict[str, Any]) -> list[str]:
    """The key shape of every item a DynamoDB read by key reads (queries and scans are left out)."""
    if operation == "GetItem":
        return [key_shape(body.get("Key"))]
    if operation == "BatchGetItem":
        tables = body.get("RequestItems", {}).values()
        return [key_shape(key) for wanted in tables for key in wanted.get("Keys", [])]
    return []


def _json_body(params: Any) -> dict[str, Any]:
    """The request's parameters: JSON protocols (DynamoDB, SQS, EventBridge, KMS) carry them as bytes."""
    body = params.get("body") if isinstance(params, dict) else None
    if isinstance(body, (bytes, str)) and body:
        try:
            decoded = json.loads(body)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}
    return body if isinstance(body, dict) else {}


COUNTERS = Counters()
_installed = False


def install() -> Counters:
    """Hook every botocore session (existing default one and every one created later) and every
    local function invocation. Idempotent; call before the local stack starts so clients created by
    the layer carry the hook (a client copies its session's handlers when it is created)."""
    global _installed
    if _installed:
        return COUNTERS
    _installed = True
    original_init = botocore.session.Session.__init__

    def init_with_counter(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-call", COUNTERS.on_call)

    botocore.session.Session.__init__ = init_with_counter
    import boto3

    if boto3.DEFAULT_SESSION is not None:
        boto3.DEFAULT_SESSION._session.register("before-call", COUNTERS.on_call)

    from local.stepfunctions import LocalFunction

    original_invoke = LocalFunction.invoke

    def timed_invoke(self: LocalFunction, event: Any) -> Any:
        started, cpu = time.perf_counter(), time.thread_time()
        COUNTERS.mark_start(self.logical_id)
        try:
            with COUNTERS.inside(self.logical_id):
                return original_invoke(self, event)
        finally:
            COUNTERS.add_invocation(
                self.logical_id,
                time.perf_counter() - started,
                self.memory_mb,
                event,
                time.thread_time() - cpu,
            )

    LocalFunction.invoke = timed_invoke  # type: ignore[method-assign]
    return COUNTERS


# ---------------------------------------------------------------------------- QBO (emulator request log)
def qbo_calls(counts: dict[str, dict[str, int]], realms: set[str] | None = None) -> Counter[str]:
    """Accounting API calls per endpoint (``"POST invoice"``...) for ``realms`` (all if None);
    OAuth calls (realm "") are left out."""
    total: Counter[str] = Counter()
    for realm, endpoints in counts.items():
        if not realm or (realms is not None and realm not in realms):
            continue
        total.update(endpoints)
    return total


def posted_queries(entries: list[dict[str, Any]]) -> int:
    """Served ``POST query`` calls in request-log ``entries``: python-quickbooks sends its queries as a
    POST body, which Intuit meters as CorePlus (a read) while the emulator's metering, keyed on the
    method, counts them as Core; the bench moves them to CorePlus."""
    return sum(1 for e in entries if e.get("endpoint") == "POST query" and e.get("status") not in (401, 429))


def counts_since(
    now: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for realm, endpoints in now.items():
        earlier = before.get(realm, {})
        diff = {e: n - earlier.get(e, 0) for e, n in endpoints.items() if n - earlier.get(e, 0)}
        if diff:
            out[realm] = diff
    return out
