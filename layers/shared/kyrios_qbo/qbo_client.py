"""QuickBooks Online Accounting API client for one company (realm).

Nothing here knows about Kyrios: it speaks HTTP to QBO and hands back plain dicts or typed faults
(:mod:`kyrios_qbo.qbo_errors`). What it guarantees:

- every write carries the caller's deterministic ``requestid``, so replaying a write after a
  timeout, a reset connection or a 5xx can never create a second object;
- transient failures (429/3001 throttling, 5xx, timeouts, resets) are retried with exponential
  backoff and full jitter, honouring ``Retry-After``, bounded by attempts and by the caller's
  deadline (the last error is raised in time for the queue to redeliver);
- a 401 triggers exactly one token refresh through the token provider, a second one raises
  :class:`~kyrios_qbo.qbo_errors.QboAuthError` (the caller marks the connection needs_reconnect);
- ``intuit_tid`` of every answer is logged with realm and entity; tokens never are.

One ``requests.Session`` (connection pool, no urllib3 retries: ours are requestid-aware) is shared
by every client in the container.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol
from urllib.parse import quote as url_quote

import requests
from requests.adapters import HTTPAdapter

from kyrios_qbo import metering
from kyrios_qbo.config import Settings, get_settings
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.qbo_errors import (
    QboAuthError,
    QboError,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    fault_from_batch_item,
    header,
    parse_fault,
    unavailable,
)
from kyrios_qbo.qbo_query import MAX_PAGE_SIZE, Select

MAX_REQUEST_ID_LENGTH = 50
MAX_BATCH_ITEMS = 30
CDC_MAX_AGE = timedelta(days=30)
USER_AGENT = "kyrios-qbo/1"

# Entities whose void is a sparse update with include=void (Intuit's SDKs special-case these two).
_VOID_BY_UPDATE = frozenset({"payment", "salesreceipt"})
_TRANSPORT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_REALM = re.compile(r"[A-Za-z0-9]{1,64}")


class TokenProvider(Protocol):
    """Access tokens per company (implemented in ``kyrios_qbo.tokens`` with KMS + a DynamoDB lease)."""

    def access_token(self, realm_id: str) -> str:
        """A currently valid access token (refreshing first if it is about to expire)."""
        ...

    def refresh_after_unauthorized(self, realm_id: str, rejected_token: str) -> str:
        """A new access token after QBO rejected ``rejected_token`` (which may already be replaced)."""
        ...


class RateLimiter(Protocol):
    """The per-company request budget shared by all concurrent invocations (~10/s, 500/min)."""

    def acquire(self, realm_id: str) -> None:
        """Block until one more request for this company fits in the budget."""
        ...


Deadline = float | Callable[[], int] | None
"""Epoch seconds, or a callable returning the remaining milliseconds (Lambda's
``context.get_remaining_time_in_millis``)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry. Delays are in seconds and multiplied by ``time_scale`` (tests shrink it)."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # Intuit asks for 60 s after a throttle; a Lambda cannot wait that long, so back off from a few
    # seconds up to 60 and let the deadline hand the rest to the queue's visibility timeout.
    throttle_min_delay: float = 1.0
    throttle_base_delay: float = 4.0
    throttle_max_delay: float = 60.0
    deadline_margin: float = 2.0
    time_scale: float = 1.0
    max_stale_refetches: int = 3

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_stale_refetches < 1:
            raise ValueError("attempt limits must be at least 1")
        if min(self.base_delay, self.max_delay, self.throttle_min_delay, self.time_scale) < 0:
            raise ValueError("delays cannot be negative")


# --- shared HTTP session ------------------------------------------------------------------------------

_session: requests.Session | None = None
_session_lock = threading.Lock()


def http_session() -> requests.Session:
    """The container's session, created on first use (keep-alive pool, no urllib3 retries)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                session = requests.Session()
                adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
                _session = session
    return _session


# --- batch --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchItem:
    """One ``BatchItemRequest`` entry; build it with the class methods."""

    b_id: str
    operation: Literal["create", "update", "delete", "query"]
    entity: str | None = None
    body: Mapping[str, Any] | None = None
    query: str | None = None

    @classmethod
    def create(cls, b_id: str, entity: str, body: Mapping[str, Any]) -> BatchItem:
        return cls(b_id, "create", _entity_name(entity), dict(body))

    @classmethod
    def update(cls, b_id: str, entity: str, body: Mapping[str, Any]) -> BatchItem:
        return cls(b_id, "update", _entity_name(entity), _sparse_body(body))

    @classmethod
    def delete(cls, b_id: str, entity: str, entity_id: str, sync_token: str) -> BatchItem:
        return cls(b_id, "delete", _entity_name(entity), {"Id": str(entity_id), "SyncToken": str(sync_token)})

    @classmethod
    def select(cls, b_id: str, query: Select | str) -> BatchItem:
        return cls(b_id, "query", query=str(query))

    def to_request(self) -> dict[str, Any]:
        if self.operation == "query":
            return {"bId": self.b_id, "Query": self.query}
        assert self.entity is not None and self.body is not None
        return {"bId": self.b_id, "operation": self.operation, self.entity: dict(self.body)}


@dataclass(frozen=True)
class BatchResult:
    """The answer to one batch item: the object (or query rows), or a typed fault."""

    b_id: str
    entity: str | None = None
    value: dict[str, Any] | None = None
    rows: list[dict[str, Any]] | None = None
    fault: QboError | None = None

    @property
    def ok(self) -> bool:
        return self.fault is None


class CdcWindowExceeded(ValueError):
    """CDC only covers the last 30 days: query on ``MetaData.LastUpdatedTime`` instead."""


# --- helpers ------------------------------------------------------------------------------------------


def _entity_name(entity: str) -> str:
    if not isinstance(entity, str) or not _NAME.fullmatch(entity):
        raise ValueError(f"invalid QBO entity name {entity!r}")
    return entity


def _sparse_body(body: Mapping[str, Any]) -> dict[str, Any]:
    if not body.get("Id") or body.get("SyncToken") in (None, ""):
        raise ValueError("an update needs Id and SyncToken (read the object first)")
    return {**body, "sparse": True}


def _check_request_id(request_id: str) -> str:
    if not isinstance(request_id, str) or not request_id.strip():
        raise ValueError("writes need a deterministic requestid")
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise ValueError(f"requestid is limited to {MAX_REQUEST_ID_LENGTH} characters")
    return request_id


def derived_request_id(request_id: str, suffix: str) -> str:
    """A deterministic requestid for a follow-up write (a refetch attempt, a batch chunk), ≤ 50 chars."""
    candidate = f"{request_id}-{suffix}"
    if len(candidate) <= MAX_REQUEST_ID_LENGTH:
        return candidate
    digest = hashlib.sha256(request_id.encode()).hexdigest()
    return f"{digest[: MAX_REQUEST_ID_LENGTH - len(suffix) - 1]}-{suffix}"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _entity_from(body: Mapping[str, Any], entity: str) -> dict[str, Any] | None:
    """``body[entity]`` matched case-insensitively (QBO answers ``Customer`` to ``customer``)."""
    wanted = entity.lower()
    for key, value in body.items():
        if key.lower() == wanted and isinstance(value, dict):
            return value
    return None


def _rows(query_response: Any) -> list[dict[str, Any]]:
    """The object list of a ``QueryResponse`` (``{}`` when nothing matched)."""
    if not isinstance(query_response, Mapping):
        return []
    for value in query_response.values():
        if isinstance(value, list):
            return [row for row in value if isinstance(row, dict)]
    return []


def _count_metric(name: str) -> None:
    # Metrics must never break a call: outside Lambda there may be no namespace to flush to.
    try:
        metrics.add_metric(name=name, unit="Count", value=1)
    except Exception:
        metrics.clear_metrics()


# --- the client ---------------------------------------------------------------------------------------


class QboClient:
    """The Accounting API of one company. Cheap to construct; the HTTP pool is per container."""

    def __init__(
        self,
        realm_id: str,
        tokens: TokenProvider,
        *,
        settings: Settings | None = None,
        base_url: str | None = None,
        minor_version: int | None = None,
        timeout: float | None = None,
        rate_limiter: RateLimiter | None = None,
        deadline: Deadline = None,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not isinstance(realm_id, str) or not _REALM.fullmatch(realm_id):
            raise ValueError(f"invalid realm id {realm_id!r}")
        if base_url is None or minor_version is None or timeout is None or retry is None:
            settings = settings or get_settings()
            base_url = base_url or settings.api_base_url
            minor_version = minor_version if minor_version is not None else settings.qbo_minor_version
            timeout = timeout if timeout is not None else settings.http_timeout_seconds
        self.realm_id = realm_id
        self._base = base_url.rstrip("/") + "/" + realm_id + "/"
        self._minor_version = str(minor_version)
        self._timeout = float(timeout)
        self._tokens = tokens
        self._limiter = rate_limiter
        self._deadline = deadline
        self._retry = retry or RetryPolicy(time_scale=settings.qbo_retry_time_scale if settings else 1.0)
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.SystemRandom()

    # --- reads ------------------------------------------------------------------------------------

    def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        entity = _entity_name(entity)
        path = f"{entity.lower()}/{url_quote(str(entity_id), safe='')}"
        body = self._call("GET", path, entity=entity, operation="read")
        return self._unwrap(body, entity)

    def company_info(self) -> dict[str, Any]:
        body = self._call("GET", f"companyinfo/{self.realm_id}", entity="CompanyInfo", operation="read")
        return self._unwrap(body, "CompanyInfo")

    def query(self, select: Select | str) -> list[dict[str, Any]]:
        """One query call: the rows of its ``QueryResponse``."""
        body = self._call("GET", "query", params={"query": str(select)}, entity=_query_entity(select),
                          operation="query")
        return _rows(body.get("QueryResponse"))

    def query_pages(self, select: Select, page_size: int = MAX_PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``select`` via STARTPOSITION, until a short page. Order by a stable field for paging."""
        select.max(page_size)  # validates the size before the first call
        position = select.start_position or 1
        while True:
            page = self.query(select.start(position).max(page_size))
            if page:
                yield page
            if len(page) < page_size:
                return
            position += page_size

    def count(self, select: Select) -> int:
        body = self._call("GET", "query", params={"query": select.count()}, entity=select.entity,
                          operation="count")
        response = body.get("QueryResponse")
        total = response.get("totalCount") if isinstance(response, Mapping) else None
        if isinstance(total, bool) or not isinstance(total, int | str):
            raise QboServerError(message="count answer without totalCount")
        try:
            return int(total)
        except ValueError:
            raise QboServerError(message=f"count answer with a non-numeric totalCount {total!r}") from None

    def cdc(self, entities: Sequence[str], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Objects of ``entities`` changed since ``changed_since`` (deleted ones have ``status: Deleted``).

        QBO returns at most 1000 objects per entity: a full list means the caller should page through
        a query on ``MetaData.LastUpdatedTime`` for the rest.
        """
        names = [_entity_name(e) for e in entities]
        if not names:
            raise ValueError("cdc needs at least one entity")
        if changed_since.tzinfo is None or changed_since.utcoffset() is None:
            raise ValueError("changed_since needs a time zone")
        if self._clock() - changed_since.timestamp() > CDC_MAX_AGE.total_seconds():
            raise CdcWindowExceeded("CDC covers the last 30 days only")
        params = {"entities": ",".join(names), "changedSince": changed_since.isoformat(timespec="seconds")}
        body = self._call("GET", "cdc", params=params, entity=",".join(names), operation="cdc")
        result: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        by_lower = {name.lower(): name for name in names}
        for cdc_response in body.get("CDCResponse") or []:
            if not isinstance(cdc_response, Mapping):
                continue
            for query_response in cdc_response.get("QueryResponse") or []:
                if not isinstance(query_response, Mapping):
                    continue
                for key, value in query_response.items():
                    if isinstance(value, list):
                        name = by_lower.get(str(key).lower(), str(key))
                        result.setdefault(name, []).extend(v for v in value if isinstance(v, dict))
        return result

    # --- writes -----------------------------------------------------------------------------------

    def create(self, entity: str, body: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        entity = _entity_name(entity)
        answer = self._call("POST", entity.lower(), json_body=dict(body), request_id=request_id,
                            entity=entity, operation="create")
        return self._unwrap(answer, entity)

    def update(self, entity: str, body: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """Sparse update: ``body`` holds ``Id``, ``SyncToken`` and only the fields to change."""
        entity = _entity_name(entity)
        answer = self._call("POST", entity.lower(), json_body=_sparse_body(body), request_id=request_id,
                            entity=entity, operation="update")
        return self._unwrap(answer, entity)

    def update_with_refetch(
        self,
        entity: str,
        entity_id: str,
        apply: Callable[[dict[str, Any]], Mapping[str, Any]],
        request_id: str,
        *,
        current: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Read, ``apply`` the change to a copy, update; on 5010 (stale SyncToken) re-read and repeat.

        ``apply`` gets the current object and returns the fields to send (Id and SyncToken are taken
        from the object read). Each attempt uses its own derived requestid, because the replay of a
        requestid that ended in 5010 would only return the same fault.
        """
        _check_request_id(request_id)
        last: QboStaleObject | None = None
        for attempt in range(1, self._retry.max_stale_refetches + 1):
            obj = dict(current) if (attempt == 1 and current is not None) else self.read(entity, entity_id)
            changes = dict(apply(copy.deepcopy(obj)))
            changes["Id"], changes["SyncToken"] = obj["Id"], obj["SyncToken"]
            attempt_id = request_id if attempt == 1 else derived_request_id(request_id, f"r{attempt}")
            try:
                return self.update(entity, changes, attempt_id)
            except QboStaleObject as exc:
                last = exc
                _count_metric("QboStaleRefetches")
                logger.info(
                    "stale SyncToken, re-reading",
                    extra={"realm_id": self.realm_id, "entity": entity, "attempt": attempt,
                           "intuit_tid": exc.intuit_tid},
                )
        assert last is not None
        raise last

    def void(self, entity: str, entity_id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        entity = _entity_name(entity)
        body: dict[str, Any] = {"Id": str(entity_id), "SyncToken": str(sync_token)}
        if entity.lower() in _VOID_BY_UPDATE:
            params = {"operation": "update", "include": "void"}
            body["sparse"] = True
        else:
            params = {"operation": "void"}
        answer = self._call("POST", entity.lower(), params=params, json_body=body, request_id=request_id,
                            entity=entity, operation="void")
        return self._unwrap(answer, entity)

    def delete(self, entity: str, entity_id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        """Delete a transaction; the answer is ``{"status": "Deleted", "Id": ...}``."""
        entity = _entity_name(entity)
        body = {"Id": str(entity_id), "SyncToken": str(sync_token)}
        answer = self._call("POST", entity.lower(), params={"operation": "delete"}, json_body=body,
                            request_id=request_id, entity=entity, operation="delete")
        return self._unwrap(answer, entity)

    def create_tax_code(self, body: Mapping[str, Any], request_id: str) -> dict[str, Any]:
        """``POST taxservice/taxcode``: the answer is the TaxService object itself (``TaxCodeId`` …)."""
        return self._call("POST", "taxservice/taxcode", json_body=dict(body), request_id=request_id,
                          entity="TaxService", operation="create")

    def batch(self, items: Sequence[BatchItem], request_id: str) -> list[BatchResult]:
        """Run items in calls of at most 30; results in the order of ``items``, each ok or faulted."""
        _check_request_id(request_id)
        ids = [item.b_id for item in items]
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            raise ValueError("batch items need unique, non-empty bIds")
        chunks = [list(items[i : i + MAX_BATCH_ITEMS]) for i in range(0, len(items), MAX_BATCH_ITEMS)]
        results: list[BatchResult] = []
        for number, chunk in enumerate(chunks, start=1):
            chunk_id = request_id if len(chunks) == 1 else derived_request_id(request_id, f"b{number}")
            results.extend(self._batch_chunk(chunk, chunk_id))
        return results

    def _batch_chunk(self, chunk: list[BatchItem], request_id: str) -> list[BatchResult]:
        payload = {"BatchItemRequest": [item.to_request() for item in chunk]}
        meta: dict[str, Any] = {}
        body = self._call("POST", "batch", json_body=payload, request_id=request_id, entity="batch",
                          operation="batch", response_meta=meta,
                          batch_operations=[item.operation for item in chunk])
        tid = meta.get("intuit_tid")
        answers: dict[str, Mapping[str, Any]] = {}
        for answer in body.get("BatchItemResponse") or []:
            if isinstance(answer, Mapping) and isinstance(answer.get("bId"), str):
                answers[answer["bId"]] = answer
        results = []
        for item in chunk:
            answer = answers.get(item.b_id)
            if answer is None:
                missing = QboServerError(message="QuickBooks did not answer this batch item", intuit_tid=tid,
                                         b_id=item.b_id)
                results.append(BatchResult(item.b_id, item.entity, fault=missing))
                continue
            fault = fault_from_batch_item(answer, intuit_tid=tid)
            if fault is not None:
                results.append(BatchResult(item.b_id, item.entity, fault=fault))
            elif "QueryResponse" in answer:
                results.append(BatchResult(item.b_id, None, rows=_rows(answer["QueryResponse"])))
            else:
                key = next((k for k, v in answer.items() if k != "bId" and isinstance(v, dict)), None)
                value = answer[key] if key else None
                results.append(BatchResult(item.b_id, key or item.entity, value=value))
        return results

    # --- transport --------------------------------------------------------------------------------

    def _unwrap(self, body: dict[str, Any], entity: str) -> dict[str, Any]:
        value = _entity_from(body, entity)
        if value is None:
            raise QboServerError(message=f"answer without a {entity} object")
        return value

    def _remaining(self) -> float | None:
        """Seconds left before the caller's deadline, or None when there is none."""
        if self._deadline is None:
            return None
        if callable(self._deadline):
            return self._deadline() / 1000.0
        return float(self._deadline) - self._clock()

    def _delay_for(self, attempt: int, error: QboError) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying now."""
        policy = self._retry
        if isinstance(error, QboThrottled):
            if error.retry_after is not None:
                if error.retry_after > policy.throttle_max_delay:
                    return None  # not worth holding the invocation: let the queue bring it back
                delay = error.retry_after
            else:
                cap = min(policy.throttle_max_delay, policy.throttle_base_delay * 2 ** (attempt - 1))
                delay = max(policy.throttle_min_delay, self._rng.uniform(0, cap))
        else:
            cap = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
            delay = self._rng.uniform(0, cap)  # full jitter: concurrent retries spread out
        return delay * policy.time_scale

    def _timeouts(self) -> tuple[float, float]:
        read = self._timeout
        remaining = self._remaining()
        if remaining is not None:
            read = min(read, max(1.0, remaining - self._retry.deadline_margin))
        return min(read, 3.05), read

    def _call(
        self,
        method: str,
        path: str,
        *,
        entity: str,
        operation: str,
        params: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        response_meta: dict[str, Any] | None = None,
        batch_operations: Sequence[str] = (),
    ) -> dict[str, Any]:
        """One logical call with retries; returns the decoded JSON object or raises a QboError.

        Every attempt that is sent counts once in its Intuit category (:mod:`kyrios_qbo.metering`):
        Intuit meters requests, so a retried read costs twice."""
        category = metering.category(operation, batch_operations)
        query: dict[str, str] = dict(params or {})
        if method != "GET":
            query["requestid"] = _check_request_id(request_id or "")
        query["minorversion"] = self._minor_version
        data = None if json_body is None else json.dumps(json_body, default=_json_default).encode()
        token = self._tokens.access_token(self.realm_id)
        refreshed = False
        attempt = 0
        session = self._session or http_session()
        log = {"realm_id": self.realm_id, "entity": entity, "operation": operation, "category": category}
        while True:
            attempt += 1
            if self._limiter is not None:
                self._limiter.acquire(self.realm_id)
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            }
            if data is not None:
                headers["Content-Type"] = "application/json"
            started = time.monotonic()
            _count_metric("QboCalls")
            _count_metric(metering.METRIC_NAMES[category])
            metering.record(category)
            error: QboError
            try:
                response = session.request(
                    method, self._base + path, params=query, data=data, headers=headers,
                    timeout=self._timeouts(), allow_redirects=False,
                )
            except _TRANSPORT_ERRORS as exc:
                error = unavailable(exc, what=f"{method} {entity}")
                logger.warning("qbo call failed in transport", extra={**log, "attempt": attempt,
                                                                      "error": type(exc).__name__})
            else:
                tid = header(response.headers, "intuit_tid")
                elapsed_ms = round((time.monotonic() - started) * 1000)
                if response_meta is not None:
                    response_meta["intuit_tid"] = tid
                outcome = {**log, "status": response.status_code, "intuit_tid": tid, "attempt": attempt,
                           "elapsed_ms": elapsed_ms}
                if 200 <= response.status_code < 300:
                    body = self._decode_success(response, tid)
                    if isinstance(body, dict):
                        # A call that worked at once is counted by the QboCalls metric and named by the
                        # push's own line; only one that needed retries says more at INFO (log volume
                        # is the bundle's largest per-call cost after the call itself).
                        log_success = logger.info if attempt > 1 else logger.debug
                        log_success("qbo call", extra=outcome)
                        return body
                    error = body
                else:
                    error = parse_fault(response.status_code, response.content, response.headers)
                logger.warning("qbo call failed", extra={**outcome, **error.to_log()})
                if response.status_code == 401:
                    if refreshed:
                        raise error if isinstance(error, QboAuthError) else QboAuthError(**_fields(error))
                    refreshed = True
                    token = self._tokens.refresh_after_unauthorized(self.realm_id, token)
                    attempt -= 1  # the refresh is not a failed attempt against the budget
                    continue
            if isinstance(error, QboThrottled):
                _count_metric("QboThrottles")
            if not error.transient:
                raise error
            delay = self._delay_for(attempt, error)
            remaining = self._remaining()
            out_of_time = remaining is not None and delay is not None and (
                delay + self._retry.deadline_margin >= remaining
            )
            if delay is None or attempt >= self._retry.max_attempts or out_of_time:
                logger.warning("qbo call gave up", extra={**log, "attempt": attempt,
                                                          "out_of_time": out_of_time})
                raise error
            _count_metric("QboRetries")
            self._sleep(delay)

    def _decode_success(self, response: requests.Response, tid: str | None) -> dict[str, Any] | QboError:
        """The JSON object of a 2xx answer, or the error it really is (a Fault, a non-JSON body)."""
        try:
            body = json.loads(response.content)
        except ValueError:
            # 200 with XML or HTML: a fault in XML, or a proxy page; parse_fault sorts out which.
            parsed = parse_fault(response.status_code, response.content, response.headers)
            if parsed.code is not None:
                return parsed
            return QboServerError(status=response.status_code, message="answer is not JSON",
                                  detail=parsed.detail, intuit_tid=tid)
        if not isinstance(body, dict):
            return QboServerError(status=response.status_code, message="answer is not a JSON object",
                                  intuit_tid=tid)
        if "Fault" in body or "fault" in body:
            return parse_fault(response.status_code, response.content, response.headers)
        return body


def _fields(error: QboError) -> dict[str, Any]:
    return {
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "detail": error.detail,
        "element": error.element,
        "intuit_tid": error.intuit_tid,
        "fault_type": error.fault_type,
        "errors": error.errors,
    }


def _query_entity(select: Select | str) -> str:
    if isinstance(select, Select):
        return select.entity
    match = re.search(r"\bFROM\s+([A-Za-z]+)", select, re.IGNORECASE)
    return match.group(1) if match else "query"
