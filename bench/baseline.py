"""The baseline: the same workloads done the way most integrations do them, with ``python-quickbooks``.

Runs in its own virtualenv (``.venv-bench``: python-quickbooks 0.9.12 pins intuit-oauth 1.2.6, the
bundle pins 1.2.7), as a subprocess of ``python -m bench``: a JSON job on stdin, a JSON answer on
stdout. Only the standard library, ``requests`` and ``python-quickbooks``/``intuitlib`` are imported.

Following python-quickbooks' README: an ``AuthClient`` built from the app's keys and a token, a
``QuickBooks(auth_client=..., refresh_token=..., company_id=..., minorversion=...)`` client, then
``Customer.filter(...)``, ``Item.filter(Name=...)``, ``obj.save(qb=client)`` and
``Invoice.filter(start_position=..., max_results=...)``. Nothing is batched, no ``requestid`` is sent
and errors are python-quickbooks' own exceptions. The only things added are what any queue consumer
has: a failed document is tried again (as a redelivered message would be), up to ``attempts`` times,
after ``retry_delay`` seconds. Pointing it at the emulator: the client builds every URL from its
``api_url_v3`` class attribute (the sandbox flag picks ``sandbox_api_url_v3`` instead), so a subclass
sets it to the emulator; ``AuthClient`` takes a discovery document URL as its environment.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from intuitlib.client import AuthClient  # type: ignore[import-not-found]
from quickbooks import QuickBooks  # type: ignore[import-not-found]
from quickbooks.objects.account import Account  # type: ignore[import-not-found]
from quickbooks.objects.base import EmailAddress  # type: ignore[import-not-found]
from quickbooks.objects.customer import Customer  # type: ignore[import-not-found]
from quickbooks.objects.detailline import (  # type: ignore[import-not-found]
    SalesItemLine,
    SalesItemLineDetail,
)
from quickbooks.objects.invoice import Invoice  # type: ignore[import-not-found]
from quickbooks.objects.item import Item  # type: ignore[import-not-found]
from quickbooks.objects.salesreceipt import SalesReceipt  # type: ignore[import-not-found]


def auth_client_for(job: dict[str, Any]) -> Any:
    """intuitlib's AuthClient for the job's app and tokens, its environment the emulator's discovery URL."""
    return AuthClient(
        client_id=job["client_id"],
        client_secret=job["client_secret"],
        environment=job["discovery_url"],
        redirect_uri=job["redirect_uri"],
        access_token=job["access_token"],
        refresh_token=job["refresh_token"],
        realm_id=job["realm_id"],
    )


def make_client(job: dict[str, Any]) -> Any:
    """A python-quickbooks client for the emulator company, as its README builds one."""

    class EmulatorQuickBooks(QuickBooks):  # type: ignore[misc]
        api_url_v3 = job["api_url_v3"]

    auth_client = auth_client_for(job)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return EmulatorQuickBooks(
            auth_client=auth_client,
            refresh_token=job["refresh_token"],
            company_id=job["realm_id"],
            minorversion=job.get("minorversion", 75),
        )


class Lookups:
    """Customer and item look-ups by name/email, creating what is missing (as the docs show)."""

    def __init__(self, qb: Any) -> None:
        self.qb = qb
        self._income_account: Any = None

    def customer(self, name: str, email: str) -> Any:
        found = Customer.filter(DisplayName=name, qb=self.qb)
        if found:
            return found[0]
        customer = Customer()
        customer.DisplayName = name
        customer.PrimaryEmailAddr = EmailAddress()
        customer.PrimaryEmailAddr.Address = email
        customer.save(qb=self.qb)
        return customer

    def item(self, name: str) -> Any:
        found = Item.filter(Name=name, qb=self.qb)
        if found:
            return found[0]
        if self._income_account is None:
            self._income_account = Account.filter(AccountType="Income", qb=self.qb)[0]
        item = Item()
        item.Name = name
        item.Type = "Service"
        item.IncomeAccountRef = self._income_account.to_ref()
        item.save(qb=self.qb)
        return item


def _lines(lookups: Lookups, document: dict[str, Any]) -> list[Any]:
    lines = []
    for source in document["lines"]:
        item = lookups.item(source["product"])
        line = SalesItemLine()
        line.Amount = round(float(source["quantity"]) * float(source["unit_price"]), 2)
        line.SalesItemLineDetail = SalesItemLineDetail()
        line.SalesItemLineDetail.ItemRef = item.to_ref()
        line.SalesItemLineDetail.Qty = float(source["quantity"])
        line.SalesItemLineDetail.UnitPrice = float(source["unit_price"])
        lines.append(line)
    return lines


def push_document(qb: Any, document: dict[str, Any]) -> None:
    """One Kyrios document → QBO: look up (or create) the customer and items, then create it."""
    lookups = Lookups(qb)
    customer = lookups.customer(document["customer_name"], document["customer_email"])
    target = Invoice() if document["kind"] == "invoice" else SalesReceipt()
    target.CustomerRef = customer.to_ref()
    target.DocNumber = document["number"]
    target.TxnDate = document["date"]
    target.Line = _lines(lookups, document)
    target.save(qb=qb)


def _with_retries(action: Callable[[], None], attempts: int, delay: float) -> tuple[bool, int, str]:
    """Run ``action`` until it succeeds, as a queue redelivers a failed message; (ok, tries, last error)."""
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            action()
            return True, attempt, ""
        except Exception as exc:  # python-quickbooks raises its own exceptions and requests' errors
            error = f"{type(exc).__name__}: {str(exc)[:160]}"
            if attempt < attempts:
                time.sleep(delay)
    return False, attempts, error


def run_push(job: dict[str, Any]) -> dict[str, Any]:
    documents: list[dict[str, Any]] = job["documents"]
    local = threading.local()

    def client() -> Any:
        if not hasattr(local, "qb"):
            local.qb = make_client(job)
        return local.qb

    def one(document: dict[str, Any]) -> tuple[bool, int, str]:
        return _with_retries(
            lambda: push_document(client(), document), int(job.get("attempts", 5)), float(job["retry_delay"])
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=int(job.get("workers", 1))) as pool:
        outcomes = list(pool.map(one, documents))
    errors: dict[str, int] = {}
    for ok, _tries, error in outcomes:
        if not ok:
            errors[error] = errors.get(error, 0) + 1
    return {
        "seconds": time.monotonic() - started,
        "pushed": sum(1 for ok, _t, _e in outcomes if ok),
        "failed": sum(1 for ok, _t, _e in outcomes if not ok),
        "retries": sum(tries - 1 for _ok, tries, _e in outcomes),
        "errors": errors,
    }


def run_import(job: dict[str, Any]) -> dict[str, Any]:
    """Read every invoice of a date range with ``Invoice.filter`` and STARTPOSITION paging."""
    qb = make_client(job)
    page_size = int(job["page_size"])
    read = 0
    pages = 0
    failures = 0
    started = time.monotonic()
    position = 1
    while True:
        page: list[Any] = []

        def fetch(at: int = position, page: list[Any] = page) -> None:
            page[:] = Invoice.where(
                f"TxnDate >= '{job['start_date']}' AND TxnDate <= '{job['end_date']}'",
                start_position=at,
                max_results=page_size,
                qb=qb,
            )

        ok, tries, _error = _with_retries(fetch, int(job.get("attempts", 20)), float(job["retry_delay"]))
        failures += tries - 1
        if not ok:
            break
        pages += 1
        read += len(page)
        if len(page) < page_size:
            break
        position += page_size
    return {"seconds": time.monotonic() - started, "read": read, "pages": pages, "failed_tries": failures}


TASKS = {"push": run_push, "import": run_import}


def main() -> int:
    job = json.load(sys.stdin)
    result = TASKS[job["task"]](job)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
