"""Historical import (issue 8) end to end: the API handler starts a job, moto executes the real
statemachines/import.asl.json, its Lambda tasks run functions/import_steps in this process
(local/stepfunctions.py), the steps read the QBO emulator over HTTP and publish on the local bus.

Nothing is mocked: DynamoDB, EventBridge, SQS and Step Functions are the moto server, QuickBooks is
the emulator, events are read back from a queue subscribed to the bus.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from local.lambda_context import lambda_context
from local.qbo_emulator import EmulatorServer
from local.stepfunctions import LocalStepFunctions, enable

APP_CLIENT_ID = "local-client-id"  # the Intuit app secret local.aws provisions
APP_CLIENT_SECRET = "local-client-secret"
START, END = date(2024, 1, 1), date(2024, 12, 31)


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    srv = EmulatorServer.start(port=0, time_scale=1.0, rate_limits=False, default_seed="minimal")
    # Refresh (if ever needed) must work with the app credentials the bundle reads from Secrets Manager.
    srv.control.register_app(APP_CLIENT_ID, APP_CLIENT_SECRET)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def fast_event_delivery() -> Iterator[None]:
    """moto compiles 8 JSONPath expressions (a fresh yacc parser each) for every event it delivers to a
    target: ~20 ms per event, a minute for this module's imports. Memoising the pure parse function
    changes no behaviour. (Belongs in local/aws.py; kept here until it moves there.)"""
    import functools

    import jsonpath_ng.ext

    original = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(original)
    try:
        yield
    finally:
        jsonpath_ng.ext.parse = original


@pytest.fixture(scope="module")
def sfn(local_aws: Any, emulator: EmulatorServer, fast_event_delivery: None) -> Iterator[LocalStepFunctions]:
    """Step Functions executing the real ASL, tasks dispatched to our handlers in this process."""
    from kyrios_qbo.config import get_settings

    overrides = {"INTUIT_ENVIRONMENT": emulator.discovery_url, "QBO_API_BASE_URL": emulator.api_base}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    get_settings.cache_clear()
    try:
        # Retry intervals of the ASL (10 s, 20 s, ...) last a hundredth of that here.
        yield enable(local_aws, overrides=overrides, wait_scale=0.01)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _clean_emulator(emulator: EmulatorServer) -> Iterator[None]:
    yield
    emulator.control.clear_faults()
    emulator.control.config(retry_after=None)


def connect_account(emulator: EmulatorServer, account_id: str, realm_id: str) -> None:
    """A connected account whose tokens the emulator accepts (what the OAuth callback stores)."""
    from kyrios_qbo import store, tokens
    from kyrios_qbo.intuit_auth import IssuedTokens

    emulator.control.add_company(realm_id, f"Import Co {realm_id[-4:]}", "US")
    issued = emulator.control.issue_tokens(realm_id, client_id=APP_CLIENT_ID)
    encrypted = tokens.encrypt_tokens(
        account_id,
        realm_id,
        IssuedTokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            access_expires_at=time.time() + float(issued["expires_in"]),
        ),
    )
    store.connect(account_id, realm_id, store.CompanyInfo("Import Co", "US", "USD"), encrypted)


@pytest.fixture
def connected(emulator: EmulatorServer, sfn: LocalStepFunctions, account_id: str, realm_id: str) -> str:
    connect_account(emulator, account_id, realm_id)
    return account_id


class BusLog:
    """Every ``kyrios.quickbooks`` event put on the local bus, via a CloudWatch Logs target.

    Not the SQS queue of ``bus_events_queue``: moto recounts a queue's messages on every delivery and
    every receive, which makes thousands of events quadratic; a log group just appends.
    """

    def __init__(self, resources: Any) -> None:
        import boto3

        suffix = uuid.uuid4().hex[:12]
        self.logs, self.events = boto3.client("logs"), boto3.client("events")
        self.group, self.rule = f"/test/import-bus/{suffix}", f"test-import-bus-{suffix}"
        self.bus = resources.event_bus_name
        self.logs.create_log_group(logGroupName=self.group)
        self.events.put_rule(
            Name=self.rule, EventBusName=self.bus, State="ENABLED",
            EventPattern=json.dumps({"source": ["kyrios.quickbooks"]}),
        )
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{self.group}"
        self.events.put_targets(Rule=self.rule, EventBusName=self.bus, Targets=[{"Id": "log", "Arn": arn}])
        self._seen: set[str] = set()

    def _new(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"logGroupName": self.group}
        while True:
            page = self.logs.filter_log_events(**kwargs)
            for entry in page.get("events", []):
                key = f"{entry['logStreamName']}/{entry['eventId']}"
                if key not in self._seen:
                    self._seen.add(key)
                    found.append(json.loads(entry["message"]))
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def take(self, at_least: int = 0, settle: float = 0.5, timeout: float = 120) -> list[dict[str, Any]]:
        """Events not taken before: at least ``at_least``, then nothing new for ``settle`` seconds (so
        a test also sees events that should not have come)."""
        deadline = time.monotonic() + timeout
        taken = self._new()
        while len(taken) < at_least:
            assert time.monotonic() < deadline, f"only {len(taken)} of {at_least} events arrived"
            time.sleep(0.2)
            taken += self._new()
        time.sleep(settle)
        return taken + self._new()

    def close(self) -> None:
        self.events.remove_targets(Rule=self.rule, EventBusName=self.bus, Ids=["log"])
        self.events.delete_rule(Name=self.rule, EventBusName=self.bus)
        self.logs.delete_log_group(logGroupName=self.group)


@pytest.fixture
def bus(local_aws: Any) -> Iterator[BusLog]:
    log = BusLog(local_aws)
    try:
        yield log
    finally:
        log.close()


# ---------------------------------------------------------------------------- API events
def api_event(method: str, path: str, account_id: str | None, body: Any = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event behind the JWT authorizer."""
    claims = {"sub": "user-1", "kyrios:account_id": account_id} if account_id else {}
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "api.example"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            "domainName": "api.example",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "pytest"},
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


def call_api(
    method: str, path: str, account_id: str | None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    from functions.api.app import lambda_handler

    answer = lambda_handler(api_event(method, path, account_id, body), lambda_context("api"))
    return answer["statusCode"], json.loads(answer["body"] or "{}")


def start(account_id: str, start_date: date = START, end_date: date = END, reviews: bool = True) -> str:
    status, body = call_api("POST", "/integrations/quickbooks/imports", account_id, {
        "start_date": start_date.isoformat(), "end_date": end_date.isoformat(),
        "send_review_requests": reviews,
    })
    assert status == 202, body
    assert body["state"] == "running"
    return str(body["id"])


def progress(account_id: str, job_id: str) -> dict[str, Any]:
    status, body = call_api("GET", f"/integrations/quickbooks/imports/{job_id}", account_id)
    assert status == 200, body
    return body


def wait_finished(
    sfn: LocalStepFunctions, account_id: str, job_id: str, timeout: float = 300
) -> dict[str, Any]:
    from kyrios_qbo import store

    job = store.get_import(account_id, job_id)
    assert job is not None and job.execution_arn
    described = sfn.wait(job.execution_arn, timeout=timeout)
    body = progress(account_id, job_id)
    body["execution_status"] = described["status"]
    return body


# ---------------------------------------------------------------------------- QBO data
def seed_books(
    emulator: EmulatorServer,
    realm_id: str,
    dates: list[date],
    *,
    customers: int = 12,
    bill_email: bool = False,
) -> dict[str, Any]:
    """Customers (every other one without email), one invoice per date (round-robin customers), and
    payments: invoice i fully paid when i % 3 == 0, half paid when i % 3 == 1, unpaid otherwise.

    ``bill_email``: every customer has an email and every invoice carries it as ``BillEmail`` (as QBO
    fills it in when an invoice is emailed)."""
    ctl = emulator.control
    tag = uuid.uuid4().hex[:6]
    people = [
        {"DisplayName": f"Customer {n:03d} {tag}",
         **({"PrimaryEmailAddr": {"Address": f"c{n}@example.com"}} if bill_email or n % 2 == 0 else {})}
        for n in range(customers)
    ]
    customer_ids = ctl.seed(realm_id, customers=people)["customers"]
    item_id = next(i["Id"] for i in ctl.entities(realm_id, "Item") if i["Name"] == "Services")
    invoices = [
        {
            "CustomerRef": {"value": customer_ids[i % customers]},
            "TxnDate": day.isoformat(),
            **({"BillEmail": {"Address": f"c{i % customers}@example.com"}} if bill_email else {}),
            "Line": [{"Amount": 100 + i % 7, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": item_id}, "Qty": 1,
                                              "UnitPrice": 100 + i % 7}}],
        }
        for i, day in enumerate(dates)
    ]
    invoice_ids = ctl.seed(realm_id, invoices=invoices)["invoices"]
    totals = {inv["Id"]: Decimal(str(inv["TotalAmt"])) for inv in ctl.entities(realm_id, "Invoice")}
    payments = []
    for i, invoice_id in enumerate(invoice_ids):
        if i % 3 == 2:
            continue
        amount = totals[invoice_id] if i % 3 == 0 else (totals[invoice_id] / 2).quantize(Decimal("0.01"))
        payments.append({
            "CustomerRef": {"value": customer_ids[i % customers]},
            "TotalAmt": str(amount),
            "Line": [{"Amount": str(amount), "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
        })
    if payments:
        ctl.seed(realm_id, payments=payments)
    return {
        "customer_ids": customer_ids,
        "invoice_ids": invoice_ids,
        "dates": dict(zip(invoice_ids, dates, strict=True)),
        "customer_of": {inv: customer_ids[i % customers] for i, inv in enumerate(invoice_ids)},
        "state_of": {inv: ("paid", "partially_paid", "unpaid")[i % 3] for i, inv in enumerate(invoice_ids)},
    }


def spread(n: int, first: date = START, last: date = END) -> list[date]:
    """n dates from first to last, both ends included."""
    span = (last - first).days
    return [first + timedelta(days=(i * span) // max(1, n - 1)) for i in range(n)]


def by_type(envelopes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for envelope in envelopes:
        out.setdefault(envelope["detail-type"], []).append(envelope["detail"])
    return out


def hold_next_query(emulator: EmulatorServer, realm_id: str, seconds: float) -> None:
    """The company's next query is answered normally, ``seconds`` late (keeps a step in flight)."""
    emulator.control.inject_fault("timeout", count=1, path="/query", realm=realm_id, after_write=True,
                                  seconds=seconds)


def wait_query_held(emulator: EmulatorServer, timeout: float = 30) -> None:
    """Until the held query reached the emulator (its one-shot rule is used up)."""
    deadline = time.monotonic() + timeout
    while emulator.control.faults():
        assert time.monotonic() < deadline, "the held query never came"
        time.sleep(0.02)


def query_calls(emulator: EmulatorServer, realm_id: str) -> list[dict[str, Any]]:
    return [r for r in emulator.control.requests(realm=realm_id) if r["endpoint"].endswith("query")]


# ---------------------------------------------------------------------------- the scenarios
def test_import_of_2500_invoices_then_rerun_publishes_nothing_new(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    inside = spread(2500)
    outside = [START - timedelta(days=1), END + timedelta(days=1), date(2023, 6, 1)]
    books = seed_books(emulator, realm_id, inside + outside, customers=40)
    in_range = [i for i in books["invoice_ids"] if START <= books["dates"][i] <= END]
    assert len(in_range) == 2500
    emulator.control.clear_requests()

    job_id = start(connected)
    seen_running = progress(connected, job_id)
    final = wait_finished(sfn, connected, job_id)

    assert final["execution_status"] == "SUCCEEDED", final
    assert final["state"] == "succeeded"
    assert (final["total"], final["processed"], final["percent"]) == (2500, 2500, 100)
    assert final["finished_at"] and final["started_at"] <= final["finished_at"]
    assert seen_running["id"] == job_id
    paid_ids = [i for i in in_range if books["state_of"][i] == "paid"]
    customers_with_paid = {books["customer_of"][i] for i in paid_ids}
    assert final["summary"] == {
        "published": 2500, "already_imported": 0, "from_kyrios": 0, "paid": len(paid_ids),
        "review_requests_sent": len(customers_with_paid),
    }

    events = by_type(bus.take(at_least=2500 + len(customers_with_paid)))
    imported = events["invoice.imported"]
    assert Counter(e["qbo_invoice_id"] for e in imported) == Counter({i: 1 for i in in_range})
    assert len({e["event_id"] for e in imported}) == 2500
    emails = {
        c["Id"]: c.get("PrimaryEmailAddr", {}).get("Address")
        for c in emulator.control.entities(realm_id, "Customer")
    }
    for event in imported:
        qbo_id = event["qbo_invoice_id"]
        assert event["import_id"] == job_id
        assert event["paid_state"] == books["state_of"][qbo_id]
        assert event["txn_date"] == books["dates"][qbo_id].isoformat()
        assert event["customer"]["qbo_customer_id"] == books["customer_of"][qbo_id]
        assert event["customer"]["email"] == emails[books["customer_of"][qbo_id]]
        assert event["lines"] and Decimal(event["lines"][0]["amount"]) > 0
        if event["paid_state"] == "paid":
            assert Decimal(event["balance"]) == 0 < Decimal(event["total"])
        elif event["paid_state"] == "partially_paid":
            assert 0 < Decimal(event["balance"]) < Decimal(event["total"])
    assert {e["customer"]["email"] is None for e in imported} == {True, False}
    reviews = events["review.requested"]
    assert sorted(r["contact"]["qbo_customer_id"] for r in reviews) == sorted(customers_with_paid)
    assert {r["origin"] for r in reviews} == {"import"}

    # QBO calls: one count, ceil(N/1000) invoice pages, and the customers read once per import: the
    # invoices carry no BillEmail here, so each customer is read (all 40 appear on the first page).
    calls = query_calls(emulator, realm_id)
    invoice_queries = [c for c in calls if "from invoice" in (c["query"] or "").lower()]
    customer_queries = [c for c in calls if "from customer" in (c["query"] or "").lower()]
    assert len(invoice_queries) == math.ceil(2500 / 1000) + 1
    assert len(customer_queries) == 1
    asked = re.findall(r"'(\d+)'", customer_queries[0]["query"].split(" IN ", 1)[1].split(")", 1)[0])
    assert sorted(asked) == sorted(books["customer_ids"])
    assert len(calls) == len(invoice_queries) + len(customer_queries)

    # Re-run over the same range: everything is already imported, nothing new reaches Kyrios.
    rerun = wait_finished(sfn, connected, start(connected))
    assert rerun["state"] == "succeeded"
    assert rerun["summary"]["published"] == 0
    assert rerun["summary"]["already_imported"] == 2500
    assert rerun["summary"]["review_requests_sent"] == 0
    assert bus.take() == []


def test_empty_range_succeeds_after_one_count_query(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    seed_books(emulator, realm_id, spread(6), customers=2)  # all in 2024
    emulator.control.clear_requests()

    final = wait_finished(sfn, connected, start(connected, date(2020, 1, 1), date(2020, 12, 31)))

    assert final["execution_status"] == "SUCCEEDED"
    assert (final["state"], final["total"], final["processed"], final["percent"]) == ("succeeded", 0, 0, 100)
    assert final["summary"]["published"] == 0
    assert [c["query"] for c in query_calls(emulator, realm_id)] == [
        "SELECT COUNT(*) FROM Invoice WHERE TxnDate >= '2020-01-01' AND TxnDate <= '2020-12-31'"
    ]
    assert bus.take() == []


def test_review_preference_off_and_invoices_from_kyrios(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    from kyrios_qbo import store
    from kyrios_qbo.store import review_opportunities

    books = seed_books(emulator, realm_id, spread(9), customers=3)
    pushed = books["invoice_ids"][4]  # created in QBO by the pusher from a Kyrios invoice
    store.put_mapping(realm_id, "invoice", "kyrios-inv-1", qbo_id=pushed, sync_token="0", applied_version=1)

    final = wait_finished(sfn, connected, start(connected, reviews=False))

    assert final["state"] == "succeeded" and final["send_review_requests"] is False
    paid = [i for i in books["invoice_ids"] if books["state_of"][i] == "paid" and i != pushed]
    assert final["summary"] == {
        "published": 8, "already_imported": 0, "from_kyrios": 1, "paid": len(paid), "review_requests_sent": 0,
    }
    events = by_type(bus.take())
    assert set(events) == {"invoice.imported"}
    assert sorted(e["qbo_invoice_id"] for e in events["invoice.imported"]) == sorted(
        i for i in books["invoice_ids"] if i != pushed
    )
    # The contacts' one review opportunity is used up ("skipped"), as in live sync with the setting off.
    for customer_id in {books["customer_of"][i] for i in paid}:
        marker = review_opportunities.get_review_marker(realm_id, customer_id)
        assert marker is not None and (marker.state, marker.origin) == ("skipped", "import")


def test_throttling_mid_import_is_retried_by_the_state_machine(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    books = seed_books(emulator, realm_id, spread(20), customers=4)
    ctl = emulator.control
    ctl.config(retry_after=0)  # QBO's Retry-After: 0 → the client's own retries do not sleep
    # The count query passes (a zero-second delay rule uses it up); the next seven queries are
    # throttled: five client attempts fail the first page step, the state machine retries it.
    hold_next_query(emulator, realm_id, seconds=0)
    ctl.inject_fault("429", count=7, path="/query", realm=realm_id)
    ctl.clear_requests()

    job_id = start(connected)
    final = wait_finished(sfn, connected, job_id)

    assert final["state"] == "succeeded", final
    assert final["summary"]["published"] == 20
    statuses = [r["status"] for r in query_calls(emulator, realm_id)]
    assert statuses.count(429) == 7 and statuses[0] == 200 and statuses[-1] == 200
    imported = by_type(bus.take())["invoice.imported"]
    assert Counter(e["qbo_invoice_id"] for e in imported) == Counter({i: 1 for i in books["invoice_ids"]})
    from kyrios_qbo import store

    job = store.get_import(connected, job_id)
    assert job is not None and job.execution_arn
    failures = [e for e in sfn.history(job.execution_arn) if e["type"] == "TaskFailed"]
    assert failures and all("QboRetryable" in json.dumps(e, default=str) for e in failures)


def test_a_failing_page_marks_the_job_failed_with_a_reason(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    from kyrios_qbo import store

    seed_books(emulator, realm_id, spread(5), customers=2)
    # Hold the count query for a moment and disconnect meanwhile: the page step then cannot reach QBO.
    hold_next_query(emulator, realm_id, seconds=4)
    job_id = start(connected)
    wait_query_held(emulator)
    store.disconnect(connected)

    final = wait_finished(sfn, connected, job_id)

    assert final["execution_status"] == "FAILED"
    assert final["state"] == "failed"
    assert "Reconnect QuickBooks" in final["failure_reason"]
    assert final["total"] == 5 and final["processed"] == 0
    assert bus.take() == []
    # The account is free for the next import (after reconnecting).
    assert store.get_running_import_id(connected) is None


def test_cancel_stops_the_execution(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    from kyrios_qbo import store

    seed_books(emulator, realm_id, spread(5), customers=2)
    # Long enough that the cancel below lands while the count step waits, however busy the machine (at
    # 1.5 s a CI run sharing its 2 cores with a bench run saw the step return first).
    hold_next_query(emulator, realm_id, seconds=6)
    job_id = start(connected)
    # Cancel while the count step waits for QBO. (moto ignores a StopExecution that arrives before the
    # interpreter thread has begun; AWS would not, but that race is moto's, not ours.)
    wait_query_held(emulator)

    status, body = call_api("DELETE", f"/integrations/quickbooks/imports/{job_id}", connected)

    assert status == 200, body
    assert body["state"] == "cancelled" and body["finished_at"]
    job = store.get_import(connected, job_id)
    assert job is not None and job.execution_arn
    # moto reports the stop once the step that was in flight returned; it must not have recorded more.
    assert sfn.wait(job.execution_arn)["status"] == "ABORTED"
    assert progress(connected, job_id)["state"] == "cancelled"
    assert bus.take() == []
    status, body = call_api("DELETE", f"/integrations/quickbooks/imports/{job_id}", connected)
    assert (status, body["error"]) == (409, "import_not_running")
    # The lock is released: a new import may start.
    wait_finished(sfn, connected, start(connected))


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"start_date": "2024-01-01", "end_date": "2024-12-31", "send_review_requests": True, "extra": 1},
         "extra", "Unknown field"),
        ({"start_date": "2024-01-01", "end_date": "2024-12-31"}, "send_review_requests", "required"),
        ({"start_date": "2024-13-01", "end_date": "2024-12-31", "send_review_requests": True},
         "start_date", ""),
        ({"start_date": "1704067200", "end_date": "2024-12-31", "send_review_requests": True},
         "start_date", "YYYY-MM-DD"),
        ({"start_date": "2024-01-01", "end_date": "2024-12-31", "send_review_requests": "yes"},
         "send_review_requests", ""),
        ({"start_date": "2024-06-01", "end_date": "2024-05-31", "send_review_requests": True},
         "start_date", "after end_date"),
        ({"start_date": "2010-01-01", "end_date": "2024-12-31", "send_review_requests": True},
         "start_date", "10 years"),
        ({"start_date": "2024-01-01", "end_date": (datetime.now(UTC) + timedelta(days=3)).date().isoformat(),
          "send_review_requests": True}, "end_date", "future"),
    ],
)
def test_bad_start_requests_are_400_naming_the_field(
    connected: str, body: dict[str, Any], field: str, fragment: str
) -> None:
    from kyrios_qbo import store

    status, answer = call_api("POST", "/integrations/quickbooks/imports", connected, body)

    assert status == 400, answer
    assert answer["field"] == field
    assert fragment in answer["message"]
    assert store.get_running_import_id(connected) is None


def test_start_refusals_and_account_scoping(
    emulator: EmulatorServer, sfn: LocalStepFunctions, connected: str, realm_id: str, bus: BusLog
) -> None:
    good = {"start_date": "2024-01-01", "end_date": "2024-12-31", "send_review_requests": True}
    stranger = f"acct-{uuid.uuid4().hex[:16]}"
    status, answer = call_api("POST", "/integrations/quickbooks/imports", stranger, good)
    assert (status, answer["error"]) == (409, "not_connected")
    status, answer = call_api("POST", "/integrations/quickbooks/imports", None, good)
    assert status == 401

    seed_books(emulator, realm_id, spread(3), customers=1)
    hold_next_query(emulator, realm_id, seconds=4)
    job_id = start(connected)
    status, answer = call_api("POST", "/integrations/quickbooks/imports", connected, good)
    assert (status, answer["error"]) == (409, "import_running")
    assert job_id in answer["message"]

    for method in ("GET", "DELETE"):
        status, answer = call_api(method, f"/integrations/quickbooks/imports/{job_id}", stranger)
        assert (status, answer["error"]) == (404, "import_not_found")
    status, _ = call_api("GET", "/integrations/quickbooks/imports/no-such-job", connected)
    assert status == 404
    assert wait_finished(sfn, connected, job_id)["state"] == "succeeded"
    assert len(by_type(bus.take())["invoice.imported"]) == 3


def test_state_machine_and_step_handler_agree() -> None:
    """Every step the ASL sends is one the handler knows; every error it names is a class the steps
    raise; the sample step events are valid cursors."""
    from pathlib import Path

    from kyrios_qbo import importer

    repo = Path(__file__).resolve().parents[2]
    asl = json.loads((repo / "statemachines" / "import.asl.json").read_text())
    tasks = [s for s in asl["States"].values() if s["Type"] == "Task"]
    assert {t["Parameters"]["Payload"]["step"] for t in tasks} == {"count", "page", "finish", "fail"}
    named = {
        name
        for t in tasks
        for rule in t.get("Retry", []) + t.get("Catch", [])
        for name in rule["ErrorEquals"]
        if not name.startswith(("States.", "Lambda."))
    }
    assert named == {"QboRetryable", "AwsRetryable", "ImportCancelled"}
    assert all(issubclass(getattr(importer, name), Exception) for name in named)
    for sample in sorted((repo / "events").glob("import-step-*.json")):
        event = json.loads(sample.read_text())
        cursor = importer.ImportCursor.model_validate(event["cursor"])
        assert event["step"] in {"count", "page", "finish", "fail"} and cursor.job_id
    failed = json.loads((repo / "events" / "import-step-fail.json").read_text())["cursor"]["error"]
    assert "Run the import again later" in importer.failure_reason(failed)
