"""The *competent* baseline: python-quickbooks as a careful engineer would use it (runs in ``.venv-bench``).

Same documents, same python-quickbooks calls as :mod:`bench.baseline` (the *naive* one), plus what a
competent integration has, in about fifty lines:

- every HTTP call goes through one retry loop (``process_request`` overridden): a 429, a 5xx or a
  connection reset/timeout is tried again after ``Retry-After`` when QBO sends one, else after
  exponential backoff with full jitter (0.5 s × 2^attempt, at most 8 s);
- QBO's 429 answer is XML whatever ``Accept`` says: it is parsed (``ElementTree``) to tell a
  throttle (``ThrottleExceeded``) from other faults, and counted;
- a 401 refreshes the access token once (``AuthClient.refresh``, one shared client behind a lock, so
  threads do not race on the rotating refresh token) and the call is repeated;
- every save sends a ``requestid`` derived from the document (``save(qb=…, request_id=…)``), so a
  write whose answer was lost, tried again, is answered from QBO's idempotency window, not created twice;
- customers and items are looked up once and kept in a dict (a lock per name, so two threads never
  create the same customer).
A document that still fails is redelivered like a queue message, as in the naive baseline.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from quickbooks import QuickBooks  # type: ignore[import-not-found]
from quickbooks.objects.invoice import Invoice  # type: ignore[import-not-found]
from quickbooks.objects.salesreceipt import SalesReceipt  # type: ignore[import-not-found]

from bench.baseline import Lookups, _lines, _with_retries, auth_client_for

HTTP_ATTEMPTS = 8
STATS: Counter[str] = Counter()
_STATS_LOCK = threading.Lock()


def _count(what: str) -> None:
    with _STATS_LOCK:
        STATS[what] += 1


def throttle_code(body: str) -> str | None:
    """The error code of QBO's XML fault (``3001`` for ThrottleExceeded), None when it is not one."""
    try:
        root = ET.fromstring(body)  # noqa: S314 - trusted local emulator answer
    except ET.ParseError:
        return None
    error = root.find(".//{http://schema.intuit.com/finance/v3}Error")
    return error.get("code") if error is not None else None


def _pause(attempt: int, response: requests.Response | None) -> None:
    header = response.headers.get("Retry-After") if response is not None else None
    delay = float(header) if header and header.isdigit() else random.uniform(0, min(8.0, 0.5 * 2**attempt))  # noqa: S311
    time.sleep(delay)


class Refresher:
    """One AuthClient for every thread; a 401 refreshes it once per stale access token."""

    def __init__(self, auth_client: Any) -> None:
        self.auth_client = auth_client
        self.lock = threading.Lock()

    def refresh(self, stale: str) -> None:
        with self.lock:
            if self.auth_client.access_token == stale:
                self.auth_client.refresh()
                _count("refreshes")


def make_client(job: dict[str, Any], refresher: Refresher) -> Any:
    class CompetentQuickBooks(QuickBooks):  # type: ignore[misc]
        api_url_v3 = job["api_url_v3"]

        def process_request(
            self, request_type: str, url: str, headers: Any = "", params: Any = "", data: Any = ""
        ) -> Any:
            response = None
            for attempt in range(HTTP_ATTEMPTS):
                self.session.access_token = token = refresher.auth_client.access_token
                try:
                    response = super().process_request(request_type, url, dict(headers), params, data)
                except (requests.ConnectionError, requests.Timeout):
                    _count("resets")  # a POST is safe to repeat: it carries a requestid
                    _pause(attempt, None)
                    continue
                if response.status_code == 401:
                    refresher.refresh(token)
                    continue
                if response.status_code == 429 or response.status_code >= 500:
                    _count(
                        "throttled"
                        if throttle_code(response.text) == "3001"
                        else f"http_{response.status_code}"
                    )
                    _pause(attempt, response)
                    continue
                return response
            if response is None:
                raise requests.ConnectionError(f"{url}: no answer after {HTTP_ATTEMPTS} attempts")
            return response

    return CompetentQuickBooks(
        auth_client=refresher.auth_client,
        refresh_token=refresher.auth_client.refresh_token,
        company_id=job["realm_id"],
        minorversion=job.get("minorversion", 75),
    )


class CachedLookups(Lookups):
    """Customers and items looked up (or created) once per run, shared by every thread."""

    cache: dict[tuple[str, str], Any] = {}  # noqa: RUF012 - one cache per process, on purpose
    locks: dict[tuple[str, str], threading.Lock] = {}  # noqa: RUF012
    guard = threading.Lock()

    def _once(self, key: tuple[str, str], make: Any) -> Any:
        with self.guard:
            lock = self.locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self.cache:
                self.cache[key] = make()
            return self.cache[key]

    def customer(self, name: str, email: str) -> Any:
        return self._once(("customer", name), lambda: Lookups.customer(self, name, email))

    def item(self, name: str) -> Any:
        return self._once(("item", name), lambda: Lookups.item(self, name))


def push_document(qb: Any, document: dict[str, Any], cache: bool) -> None:
    lookups = CachedLookups(qb) if cache else Lookups(qb)
    customer = lookups.customer(document["customer_name"], document["customer_email"])
    target = Invoice() if document["kind"] == "invoice" else SalesReceipt()
    target.CustomerRef = customer.to_ref()
    target.DocNumber = document["number"]
    target.TxnDate = document["date"]
    target.Line = _lines(lookups, document)
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kyrios:{document['kind']}:{document['number']}"))
    target.save(qb=qb, request_id=request_id)


def run_push(job: dict[str, Any]) -> dict[str, Any]:
    auth_client = auth_client_for(job)
    refresher = Refresher(auth_client)
    local = threading.local()
    cache = bool(job.get("cache", True))

    def one(document: dict[str, Any]) -> tuple[bool, int, str]:
        if not hasattr(local, "qb"):
            local.qb = make_client(job, refresher)
        return _with_retries(
            lambda: push_document(local.qb, document, cache),
            int(job.get("attempts", 5)),
            float(job["retry_delay"]),
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=int(job.get("workers", 1))) as pool:
        outcomes = list(pool.map(one, job["documents"]))
    errors: Counter[str] = Counter(error for ok, _t, error in outcomes if not ok)
    return {
        "seconds": time.monotonic() - started,
        "pushed": sum(1 for ok, _t, _e in outcomes if ok),
        "failed": sum(1 for ok, _t, _e in outcomes if not ok),
        "retries": sum(tries - 1 for _ok, tries, _e in outcomes),
        "errors": dict(errors),
        "http": dict(STATS),
    }


def main() -> int:
    json.dump(run_push(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
