"""QboClient against the QBO emulator over HTTP on 127.0.0.1 (no mocks of QBO).

Tokens come from the emulator's real OAuth endpoints (authorize with auto-approve, then the token
endpoint); the in-test token provider refreshes through the same token endpoint. Faults (500, 429,
timeouts, resets after the write) are injected through the emulator's control API, and its request
log is the witness of what the client really sent.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from kyrios_qbo.qbo_client import (
    BatchItem,
    CdcWindowExceeded,
    QboClient,
    RetryPolicy,
    derived_request_id,
)
from kyrios_qbo.qbo_errors import (
    QboAuthError,
    QboDuplicateName,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboUnavailable,
    QboValidationError,
)
from kyrios_qbo.qbo_query import Select

emulator_pkg = pytest.importorskip("local.qbo_emulator")
EmulatorServer = emulator_pkg.EmulatorServer
US_REALM: str = emulator_pkg.US_REALM
GB_REALM: str = emulator_pkg.GB_REALM
CLIENT_ID: str = emulator_pkg.DEFAULT_CLIENT_ID
CLIENT_SECRET: str = emulator_pkg.DEFAULT_CLIENT_SECRET
REDIRECT_URI = "http://127.0.0.1/callback"
PAGING_REALM = "9341450000000077"

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, throttle_min_delay=0.01, throttle_base_delay=0.02,
                   deadline_margin=0.5)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:10]}"


# --- OAuth through the emulator ------------------------------------------------------------------------


def connect(server: Any, realm: str) -> dict[str, Any]:
    """The browser-less authorization-code flow: authorize (auto-approve) → code → token endpoint."""
    authorize = requests.get(
        f"{server.url}/connect/oauth2",
        params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code",
                "scope": "com.intuit.quickbooks.accounting", "state": "s-" + uuid.uuid4().hex,
                "emulator_auto": "approve", "realm": realm},
        allow_redirects=False, timeout=10,
    )
    assert authorize.status_code == 302, authorize.text
    params = parse_qs(urlparse(authorize.headers["Location"]).query)
    assert params["realmId"] == [realm]
    token = requests.post(
        f"{server.url}/oauth2/v1/tokens/bearer",
        data={"grant_type": "authorization_code", "code": params["code"][0], "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"}, timeout=10,
    )
    assert token.status_code == 200, token.text
    return dict(token.json())


@dataclass
class EmulatorTokens:
    """A small TokenProvider that refreshes through the emulator's real token endpoint."""

    token_url: str
    access: str
    refresh: str
    refreshes: int = 0
    rejected: list[str] = field(default_factory=list)

    def access_token(self, realm_id: str) -> str:
        return self.access

    def refresh_after_unauthorized(self, realm_id: str, rejected_token: str) -> str:
        self.rejected.append(rejected_token)
        if rejected_token != self.access:
            return self.access  # someone already refreshed
        answer = requests.post(
            self.token_url, data={"grant_type": "refresh_token", "refresh_token": self.refresh},
            auth=(CLIENT_ID, CLIENT_SECRET), headers={"Accept": "application/json"}, timeout=10,
        )
        answer.raise_for_status()
        body = answer.json()
        self.access, self.refresh = body["access_token"], body["refresh_token"]
        self.refreshes += 1
        return self.access


@dataclass
class CountingLimiter:
    acquired: list[str] = field(default_factory=list)

    def acquire(self, realm_id: str) -> None:
        self.acquired.append(realm_id)


@dataclass
class RecordingSleep:
    """Records every backoff; really sleeps (scaled delays are short) unless told not to."""

    real: bool = True
    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.real:
            time.sleep(seconds)


def tokens_for(server: Any, realm: str) -> EmulatorTokens:
    grant = connect(server, realm)
    token_url = f"{server.url}/oauth2/v1/tokens/bearer"
    return EmulatorTokens(token_url, grant["access_token"], grant["refresh_token"])


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    # The emulator's own throttle is off for most tests (fault injection drives 429s deterministically).
    srv = EmulatorServer.start(port=0, rate_limits=False, default_seed="minimal")
    try:
        srv.control.add_company(PAGING_REALM, "Paging Test Co", "US")
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def us_tokens(server: Any) -> EmulatorTokens:
    return tokens_for(server, US_REALM)


@pytest.fixture
def ctl(server: Any) -> Iterator[Any]:
    control = server.control
    yield control
    control.clear_faults()
    control.config(retry_after=None)


def make_client(server: Any, tokens: Any, realm: str = US_REALM, **kwargs: Any) -> QboClient:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("timeout", 5.0)
    return QboClient(realm, tokens, base_url=server.api_base, minor_version=75, **kwargs)


def calls(
    ctl: Any, realm: str, method: str, resource: str, requestid: str | None = None
) -> list[dict[str, Any]]:
    """Logged requests to ``/v3/company/<realm>/<resource>...``, by path: the emulator logs requests it
    failed on purpose (injected faults) without realm/endpoint fields."""
    prefix = f"/v3/company/{realm}/{resource}"
    return [r for r in ctl.requests()
            if r["method"] == method and (r["path"] == prefix or r["path"].startswith(prefix + "/"))
            and (requestid is None or r["requestid"] == requestid)]


def customers_named(ctl: Any, realm: str, name: str) -> list[dict[str, Any]]:
    return [c for c in ctl.entities(realm, "Customer") if c["DisplayName"] == name]


# --- basic reads and writes -----------------------------------------------------------------------------


def test_company_info(server: Any, us_tokens: EmulatorTokens) -> None:
    info = make_client(server, us_tokens).company_info()
    assert info["CompanyName"] == "Sunrise Yoga LLC"
    assert info["Country"] == "US"


def test_create_read_sparse_update(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    name = unique("Ada Lovelace")
    request_id = "create-" + uuid.uuid4().hex
    body = {"DisplayName": name, "PrimaryEmailAddr": {"Address": "ada@example.com"},
            "CompanyName": "Analytical Engines"}
    created = client.create("Customer", body, request_id)
    assert created["DisplayName"] == name and created["SyncToken"] == "0"

    read = client.read("Customer", created["Id"])
    assert read["PrimaryEmailAddr"]["Address"] == "ada@example.com"

    updated = client.update("Customer", {"Id": read["Id"], "SyncToken": read["SyncToken"],
                                         "Notes": "prefers email"}, "update-" + uuid.uuid4().hex)
    assert updated["Notes"] == "prefers email"
    assert updated["SyncToken"] == "1"
    assert updated["CompanyName"] == "Analytical Engines"  # sparse: untouched fields survive

    [post] = calls(ctl, US_REALM, "POST", "customer", request_id)
    assert post["minorversion"] == "75"
    assert post["status"] == 200


def test_update_requires_id_and_sync_token(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    with pytest.raises(ValueError, match="Id and SyncToken"):
        client.update("Customer", {"Id": "1", "Notes": "x"}, "rq")
    with pytest.raises(ValueError, match="requestid"):
        client.create("Customer", {"DisplayName": "x"}, "")
    with pytest.raises(ValueError, match="50"):
        client.create("Customer", {"DisplayName": "x"}, "r" * 51)


def test_requestid_replay_creates_one_object(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    name = unique("Replay Customer")
    request_id = "kyrios-contact-" + uuid.uuid4().hex[:20]
    first = client.create("Customer", {"DisplayName": name}, request_id)
    second = client.create("Customer", {"DisplayName": name}, request_id)
    assert first["Id"] == second["Id"]
    assert len(customers_named(ctl, US_REALM, name)) == 1


def test_duplicate_name_is_typed_with_tid(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    name = unique("Twin")
    client.create("Customer", {"DisplayName": name}, "twin-a-" + uuid.uuid4().hex[:8])
    with pytest.raises(QboDuplicateName) as caught:
        client.create("Customer", {"DisplayName": name}, "twin-b-" + uuid.uuid4().hex[:8])
    error = caught.value
    assert (error.status, error.code) == (400, "6240")
    assert error.intuit_tid and error.intuit_tid.startswith("1-")
    assert "already uses it" in error.explain()


def test_read_missing_object_is_not_found(server: Any, us_tokens: EmulatorTokens) -> None:
    with pytest.raises(QboNotFound) as caught:
        make_client(server, us_tokens).read("Customer", "987654")
    assert caught.value.code == "610"


# --- SyncToken / 5010 -------------------------------------------------------------------------------


def test_stale_sync_token_then_update_with_refetch(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    customer = client.create("Customer", {"DisplayName": unique("Stale")}, "st-" + uuid.uuid4().hex)
    stale_token = customer["SyncToken"]
    client.update("Customer", {"Id": customer["Id"], "SyncToken": stale_token, "Notes": "first"},
                  "st-u1-" + uuid.uuid4().hex)
    with pytest.raises(QboStaleObject) as caught:
        client.update("Customer", {"Id": customer["Id"], "SyncToken": stale_token, "Notes": "second"},
                      "st-u2-" + uuid.uuid4().hex)
    assert caught.value.code == "5010" and caught.value.intuit_tid

    calls: list[str] = []

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        calls.append(current["SyncToken"])
        return {"Notes": current.get("Notes", "") + " + refetched"}

    result = client.update_with_refetch("Customer", customer["Id"], apply, "st-r-" + uuid.uuid4().hex)
    assert result["Notes"] == "first + refetched"
    assert result["SyncToken"] == "2"
    assert calls == ["1"]


def test_update_with_refetch_survives_a_concurrent_edit(server: Any, us_tokens: EmulatorTokens,
                                                        ctl: Any) -> None:
    client = make_client(server, us_tokens)
    customer = client.create("Customer", {"DisplayName": unique("Busy")}, "busy-" + uuid.uuid4().hex)
    seen: list[str] = []

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        seen.append(current["SyncToken"])
        if len(seen) == 1:
            # A bookkeeper saves the customer in QBO between our read and our write.
            edit = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                    "Notes": "edited in QBO"}
            ctl.user_action(US_REALM, "Customer", "update", edit)
        return {"CompanyName": "Kyrios Ltd"}

    request_id = "busy-r-" + uuid.uuid4().hex[:20]
    result = client.update_with_refetch("Customer", customer["Id"], apply, request_id)
    assert seen == ["0", "1"]  # re-read after the 5010, re-applied on the fresh object
    assert result["CompanyName"] == "Kyrios Ltd"
    assert result["Notes"] == "edited in QBO"  # the other change was kept, not overwritten
    posts = [r for r in calls(ctl, US_REALM, "POST", "customer")
             if r["requestid"] in (request_id, derived_request_id(request_id, "r2"))]
    assert [p["status"] for p in posts] == [400, 200]


def test_update_with_refetch_gives_up_after_bounded_attempts(server: Any, us_tokens: EmulatorTokens,
                                                             ctl: Any) -> None:
    client = make_client(server, us_tokens, retry=RetryPolicy(max_stale_refetches=2))
    customer = client.create("Customer", {"DisplayName": unique("Contended")}, "ct-" + uuid.uuid4().hex)

    def apply(current: dict[str, Any]) -> dict[str, Any]:
        edit = {"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True,
                "Notes": uuid.uuid4().hex}
        ctl.user_action(US_REALM, "Customer", "update", edit)
        return {"CompanyName": "never lands"}

    with pytest.raises(QboStaleObject):
        client.update_with_refetch("Customer", customer["Id"], apply, "ct-r-" + uuid.uuid4().hex)
    assert ctl.entity(US_REALM, "Customer", customer["Id"]).get("CompanyName") != "never lands"


# --- injected faults --------------------------------------------------------------------------------


def test_500_then_success_replays_the_same_requestid(
    server: Any, us_tokens: EmulatorTokens, ctl: Any
) -> None:
    sleep = RecordingSleep()
    limiter = CountingLimiter()
    client = make_client(server, us_tokens, sleep=sleep, rate_limiter=limiter)
    ctl.inject_fault("500", count=1, method="POST", path="/customer$", realm=US_REALM)
    name = unique("After 500")
    request_id = "r500-" + uuid.uuid4().hex
    created = client.create("Customer", {"DisplayName": name}, request_id)
    assert created["DisplayName"] == name
    assert [r["status"] for r in calls(ctl, US_REALM, "POST", "customer", request_id)] == [500, 200]
    assert len(sleep.delays) == 1
    assert limiter.acquired == [US_REALM, US_REALM]  # the budget is asked before every attempt
    assert len(customers_named(ctl, US_REALM, name)) == 1


def test_429_xml_then_success_honours_retry_after(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    ctl.config(retry_after=3)
    ctl.inject_fault("429", count=1, method="GET", path="/companyinfo/", realm=US_REALM)
    sleep = RecordingSleep()
    scaled = RetryPolicy(time_scale=0.01)  # Retry-After: 3 s → 0.03 s of real waiting
    client = make_client(server, us_tokens, retry=scaled, sleep=sleep)
    assert client.company_info()["CompanyName"] == "Sunrise Yoga LLC"
    assert sleep.delays == [pytest.approx(0.03)]
    statuses = [r["status"] for r in calls(ctl, US_REALM, "GET", "companyinfo")][-2:]
    assert statuses == [429, 200]


def test_throttle_without_retry_after_backs_off_and_raises_when_attempts_run_out(
    server: Any, us_tokens: EmulatorTokens, ctl: Any
) -> None:
    ctl.inject_fault("429", count=5, method="GET", path="/companyinfo/", realm=US_REALM)
    sleep = RecordingSleep(real=False)
    policy = RetryPolicy(max_attempts=3, throttle_min_delay=1.0, throttle_base_delay=4.0)
    client = make_client(server, us_tokens, retry=policy, sleep=sleep, rng=random.Random(3))
    with pytest.raises(QboThrottled) as caught:
        client.company_info()
    assert caught.value.code == "3001" and caught.value.status == 429
    assert len(sleep.delays) == 2
    assert 1.0 <= sleep.delays[0] <= 4.0 and 1.0 <= sleep.delays[1] <= 8.0


def test_timeout_after_the_write_retries_with_the_same_requestid(server: Any, us_tokens: EmulatorTokens,
                                                                 ctl: Any) -> None:
    # QBO wrote the customer but the answer never came back in time.
    ctl.inject_fault("timeout", count=1, method="POST", path="/customer$", realm=US_REALM, after_write=True,
                     seconds=2.0)
    client = make_client(server, us_tokens, timeout=0.5)
    name = unique("Slow Answer")
    request_id = "rto-" + uuid.uuid4().hex
    created = client.create("Customer", {"DisplayName": name}, request_id)
    assert created["DisplayName"] == name
    assert len(customers_named(ctl, US_REALM, name)) == 1
    assert len(calls(ctl, US_REALM, "POST", "customer", request_id)) >= 1


def test_timeout_before_the_write_is_retried(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    ctl.inject_fault("timeout", count=1, method="GET", path="/customer/", realm=US_REALM, seconds=2.0)
    client = make_client(server, us_tokens, timeout=0.5)
    started = time.monotonic()
    assert client.read("Customer", "1")["Id"] == "1"
    assert time.monotonic() - started < 2.0  # did not wait for the slow answer


def test_connection_reset_after_the_write_creates_exactly_one_object(server: Any, us_tokens: EmulatorTokens,
                                                                     ctl: Any) -> None:
    ctl.inject_fault("reset", count=1, method="POST", path="/customer$", realm=US_REALM, after_write=True)
    sleep = RecordingSleep()
    client = make_client(server, us_tokens, sleep=sleep)
    name = unique("Reset Answer")
    request_id = "rst-" + uuid.uuid4().hex
    created = client.create("Customer", {"DisplayName": name}, request_id)
    assert created["DisplayName"] == name
    assert len(sleep.delays) == 1  # one retry
    posts = calls(ctl, US_REALM, "POST", "customer", request_id)
    assert len(posts) == 2  # the lost answer and the replay, both with the same requestid
    assert len(customers_named(ctl, US_REALM, name)) == 1


def test_transport_failures_exhaust_into_unavailable(
    server: Any, us_tokens: EmulatorTokens, ctl: Any
) -> None:
    ctl.inject_fault("reset", count=10, method="GET", path="/customer/", realm=US_REALM)
    client = make_client(server, us_tokens, retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    with pytest.raises(QboUnavailable) as caught:
        client.read("Customer", "1")
    assert caught.value.retryable
    assert len(calls(ctl, US_REALM, "GET", "customer")) >= 3


def test_deadline_stops_retries(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    ctl.inject_fault("503", count=100, method="GET", path="/companyinfo/", realm=US_REALM)
    before = len(calls(ctl, US_REALM, "GET", "companyinfo"))
    remaining_ms = [3000.0]

    def sleep(seconds: float) -> None:  # Lambda's clock only moves when we wait
        remaining_ms[0] -= seconds * 1000

    policy = RetryPolicy(max_attempts=100, base_delay=0.4, max_delay=0.4, deadline_margin=2.0)
    client = make_client(server, us_tokens, retry=policy, sleep=sleep, deadline=lambda: int(remaining_ms[0]),
                         rng=random.Random(11))
    with pytest.raises(QboServerError) as caught:
        client.company_info()
    assert caught.value.status == 503
    attempts = len(calls(ctl, US_REALM, "GET", "companyinfo")) - before
    assert 1 < attempts < 100  # retried, then stopped by the deadline, not by the attempt limit
    assert remaining_ms[0] > 2000  # never slept into the safety margin


def test_deadline_already_close_means_no_retry(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    ctl.inject_fault("503", count=5, method="GET", path="/companyinfo/", realm=US_REALM)
    sleep = RecordingSleep(real=False)
    client = make_client(server, us_tokens, retry=RetryPolicy(deadline_margin=2.0), sleep=sleep,
                         deadline=time.time() + 1.5)
    with pytest.raises(QboServerError):
        client.company_info()
    assert sleep.delays == []


# --- 401 and token refresh ----------------------------------------------------------------------------


def test_401_refreshes_once_then_succeeds(server: Any, ctl: Any) -> None:
    tokens = tokens_for(server, US_REALM)
    client = make_client(server, tokens)
    assert client.company_info()["CompanyName"] == "Sunrise Yoga LLC"
    old_access = tokens.access
    assert ctl.invalidate_tokens("access", realm=US_REALM) >= 1  # every access token of the realm expires
    assert client.company_info()["CompanyName"] == "Sunrise Yoga LLC"
    assert tokens.refreshes == 1
    assert tokens.rejected == [old_access]
    assert tokens.access != old_access


def test_second_401_raises_auth_error_after_one_refresh(server: Any, ctl: Any) -> None:
    @dataclass
    class BrokenRefresh:
        refreshes: int = 0

        def access_token(self, realm_id: str) -> str:
            return "not-a-token-" + realm_id

        def refresh_after_unauthorized(self, realm_id: str, rejected_token: str) -> str:
            self.refreshes += 1
            return "still-not-a-token"

    tokens = BrokenRefresh()
    before = len(calls(ctl, US_REALM, "GET", "companyinfo"))
    with pytest.raises(QboAuthError) as caught:
        make_client(server, tokens).company_info()
    assert tokens.refreshes == 1
    assert caught.value.status == 401 and caught.value.code == "3200"
    assert len(calls(ctl, US_REALM, "GET", "companyinfo")) - before == 2
    assert "Reconnect QuickBooks" in caught.value.explain()


def test_tokens_never_reach_the_logs(server: Any, ctl: Any, caplog: pytest.LogCaptureFixture) -> None:
    tokens = tokens_for(server, US_REALM)
    first_access = tokens.access
    client = make_client(server, tokens)
    ctl.invalidate_tokens("access", realm=US_REALM)
    client.company_info()  # 401 (its detail echoes the token), refresh, success
    # Every attribute of every record (message and structured extras), as a log shipper would see them.
    logs = "\n".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "intuit_tid" in logs
    assert first_access not in logs and tokens.access not in logs
    assert first_access[-20:] not in logs  # QBO's 401 detail echoes the token's tail
    assert tokens.refresh not in logs and "Bearer" not in logs


# --- query, count, paging, CDC ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paging_client(server: Any) -> QboClient:
    customers = [{"DisplayName": f"Pager {i:04d}"} for i in range(2500)]
    created = server.control.seed(PAGING_REALM, customers=customers)
    assert len(created["customers"]) == 2500
    tokens = tokens_for(server, PAGING_REALM)
    return make_client(server, tokens, realm=PAGING_REALM)


def test_query_pages_over_2500_customers_in_three_calls(paging_client: QboClient, ctl: Any) -> None:
    before = len(calls(ctl, PAGING_REALM, "GET", "query"))
    select = Select("Customer").where("DisplayName", "LIKE", "Pager %").order_by("DisplayName")
    pages = list(paging_client.query_pages(select))
    assert [len(p) for p in pages] == [1000, 1000, 500]
    names = [c["DisplayName"] for page in pages for c in page]
    assert names == [f"Pager {i:04d}" for i in range(2500)]
    made = calls(ctl, PAGING_REALM, "GET", "query")[before:]
    assert len(made) == 3
    assert [c["query"].rsplit("STARTPOSITION", 1)[1] for c in made] == [
        " 1 MAXRESULTS 1000", " 1001 MAXRESULTS 1000", " 2001 MAXRESULTS 1000"]


def test_count(paging_client: QboClient) -> None:
    assert paging_client.count(Select("Customer").where("DisplayName", "LIKE", "Pager %")) == 2500
    assert paging_client.count(Select("Customer").where("DisplayName", "=", "Pager 0042")) == 1
    assert paging_client.count(Select("Customer").where("DisplayName", "=", "nobody")) == 0


def test_query_with_apostrophe_and_injection_attempt(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    name = unique("O'Brien & Sons")
    client.create("Customer", {"DisplayName": name}, "ob-" + uuid.uuid4().hex)
    rows = client.query(Select("Customer").where("DisplayName", "=", name))
    assert [r["DisplayName"] for r in rows] == [name]
    assert client.query(Select("Customer").where("DisplayName", "=", "x' OR DisplayName LIKE '%")) == []
    assert client.query(Select("Customer").where("DisplayName", "=", name + "\\")) == []


def test_empty_query_result_is_an_empty_list(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    assert client.query(Select("Invoice").where("DocNumber", "=", "no-such-" + uuid.uuid4().hex[:8])) == []


def test_invalid_query_is_a_validation_error(server: Any, us_tokens: EmulatorTokens) -> None:
    with pytest.raises(QboValidationError) as caught:
        make_client(server, us_tokens).query("SELECT * FROM Custmoer")
    assert caught.value.code == "4001"


def _invoice_body(customer_id: str, amount: int = 100) -> dict[str, Any]:
    return {"CustomerRef": {"value": customer_id},
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": amount}}]}


def test_cdc_reports_new_and_deleted_objects(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    since = datetime.fromisoformat(ctl.now()) - timedelta(seconds=2)
    customer = client.create("Customer", {"DisplayName": unique("CDC")}, "cdc-c-" + uuid.uuid4().hex)
    invoice = client.create("Invoice", _invoice_body(customer["Id"]), "cdc-i-" + uuid.uuid4().hex)
    deleted = client.delete("Invoice", invoice["Id"], invoice["SyncToken"], "cdc-d-" + uuid.uuid4().hex)
    assert deleted == {"domain": "QBO", "status": "Deleted", "Id": invoice["Id"]}

    changes = client.cdc(["Customer", "Invoice"], since)
    assert set(changes) == {"Customer", "Invoice"}
    assert customer["Id"] in {c["Id"] for c in changes["Customer"]}
    [gone] = [i for i in changes["Invoice"] if i["Id"] == invoice["Id"]]
    assert gone["status"] == "Deleted"


def test_cdc_refuses_more_than_30_days(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    with pytest.raises(CdcWindowExceeded):
        client.cdc(["Customer"], datetime.now(UTC) - timedelta(days=31))
    with pytest.raises(ValueError, match="time zone"):
        client.cdc(["Customer"], datetime(2026, 1, 1))


def test_void_invoice(server: Any, us_tokens: EmulatorTokens) -> None:
    client = make_client(server, us_tokens)
    customer = client.create("Customer", {"DisplayName": unique("Void")}, "v-c-" + uuid.uuid4().hex)
    invoice = client.create("Invoice", _invoice_body(customer["Id"], 250), "v-i-" + uuid.uuid4().hex)
    assert float(invoice["TotalAmt"]) == 250
    voided = client.void("Invoice", invoice["Id"], invoice["SyncToken"], "v-v-" + uuid.uuid4().hex)
    assert float(voided["TotalAmt"]) == 0
    assert voided["PrivateNote"] == "Voided"
    assert int(voided["SyncToken"]) == int(invoice["SyncToken"]) + 1


# --- batch and tax service ---------------------------------------------------------------------------


def test_batch_with_a_per_item_fault(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    existing = client.create("Customer", {"DisplayName": unique("Batch Stale")}, "b-c-" + uuid.uuid4().hex)
    client.update("Customer", {"Id": existing["Id"], "SyncToken": "0", "Notes": "moved on"},
                  "b-u-" + uuid.uuid4().hex)
    new_name = unique("Batch New")
    request_id = "batch-" + uuid.uuid4().hex
    items = [
        BatchItem.create("bid1", "Customer", {"DisplayName": new_name}),
        BatchItem.update("bid2", "Customer", {"Id": existing["Id"], "SyncToken": "0", "Notes": "stale"}),
        BatchItem.delete("bid3", "Invoice", "999999", "0"),
        BatchItem.select("bid4", Select("Customer").where("DisplayName", "=", existing["DisplayName"])),
    ]
    results = client.batch(items, request_id)
    assert [r.b_id for r in results] == ["bid1", "bid2", "bid3", "bid4"]
    created, stale, missing, found = results
    assert created.ok and created.value is not None and created.value["DisplayName"] == new_name
    assert created.entity == "Customer"
    assert isinstance(stale.fault, QboStaleObject) and stale.fault.b_id == "bid2"
    assert stale.fault.intuit_tid  # the batch call's tid, for support
    assert isinstance(missing.fault, QboNotFound)
    assert found.ok and found.rows is not None and [r["Id"] for r in found.rows] == [existing["Id"]]
    [call] = calls(ctl, US_REALM, "POST", "batch", request_id)
    assert call["status"] == 200

    # The same batch replayed (a redelivered message) writes nothing new.
    client.batch(items, request_id)
    assert len(customers_named(ctl, US_REALM, new_name)) == 1


def test_batch_splits_into_calls_of_30(server: Any, us_tokens: EmulatorTokens, ctl: Any) -> None:
    client = make_client(server, us_tokens)
    prefix = unique("Bulk")
    items = [BatchItem.create(f"b{i}", "Customer", {"DisplayName": f"{prefix} {i:02d}"}) for i in range(35)]
    request_id = "bulk-" + uuid.uuid4().hex
    results = client.batch(items, request_id)
    assert [r.b_id for r in results] == [f"b{i}" for i in range(35)]
    assert all(r.ok for r in results)
    chunk_ids = [derived_request_id(request_id, "b1"), derived_request_id(request_id, "b2")]
    sizes = [len(calls(ctl, US_REALM, "POST", "batch", rid)) for rid in chunk_ids]
    assert sizes == [1, 1]
    assert len([c for c in ctl.entities(US_REALM, "Customer") if c["DisplayName"].startswith(prefix)]) == 35


def test_batch_rejects_duplicate_bids(server: Any, us_tokens: EmulatorTokens) -> None:
    items = [BatchItem.select("same", "SELECT * FROM Customer"),
             BatchItem.select("same", "SELECT * FROM Item")]
    with pytest.raises(ValueError, match="unique"):
        make_client(server, us_tokens).batch(items, "dup")


def test_create_tax_code_on_a_gb_company(server: Any) -> None:
    tokens = tokens_for(server, GB_REALM)
    client = make_client(server, tokens, realm=GB_REALM)
    assert client.company_info()["Country"] == "GB"
    [agency, *_] = client.query(Select("TaxAgency"))
    code_name = unique("Kyrios 7")
    body = {"TaxCode": code_name, "TaxRateDetails": [
        {"TaxRateName": code_name + " rate", "RateValue": "7", "TaxAgencyId": agency["Id"],
         "TaxApplicableOn": "Sales"}]}
    answer = client.create_tax_code(body, "tax-" + uuid.uuid4().hex)
    assert answer["TaxCode"] == code_name and answer["TaxCodeId"]
    [code] = client.query(Select("TaxCode").where("Name", "=", code_name))
    assert code["Id"] == answer["TaxCodeId"]
    with pytest.raises(QboDuplicateName):
        client.create_tax_code(body, "tax-" + uuid.uuid4().hex)


def test_every_call_has_minorversion_and_writes_a_requestid(
    server: Any, us_tokens: EmulatorTokens, ctl: Any
) -> None:
    # Every call carries minorversion; reads carry no requestid, writes always do.
    client = make_client(server, us_tokens)
    client.read("Customer", "1")
    request_id = "hdr-" + uuid.uuid4().hex
    client.create("Customer", {"DisplayName": unique("Headers")}, request_id)
    read = calls(ctl, US_REALM, "GET", "customer")[-1]
    [write] = calls(ctl, US_REALM, "POST", "customer", request_id)
    assert read["minorversion"] == "75" and read["requestid"] is None
    assert write["minorversion"] == "75"
    assert json.dumps(read).find("Bearer") == -1


def test_base_url_minor_version_and_timeout_come_from_settings(
    server: Any, us_tokens: EmulatorTokens, ctl: Any
) -> None:
    from kyrios_qbo.config import Settings

    settings = Settings(stage="test", table_name="unused", intuit_environment=server.discovery_url,
                        qbo_api_base_url=server.api_base, qbo_minor_version=73, http_timeout_seconds=2)
    client = QboClient(US_REALM, us_tokens, settings=settings, retry=FAST)
    assert client.company_info()["CompanyName"] == "Sunrise Yoga LLC"
    assert calls(ctl, US_REALM, "GET", "companyinfo")[-1]["minorversion"] == "73"


# --- metering: what Intuit counts -------------------------------------------------------------------------


def _metric_total(name: str) -> int:
    from kyrios_qbo.observability import metrics

    return int(sum(metrics.metric_set.get(name, {}).get("Value", [])))


def test_every_call_is_counted_in_its_intuit_category_like_the_emulator_meters_it(
    server: Any, ctl: Any
) -> None:
    from kyrios_qbo.observability import metrics

    tokens = tokens_for(server, GB_REALM)
    client = make_client(server, tokens, realm=GB_REALM)
    ctl.clear_metering()
    metrics.clear_metrics()
    created = client.create("Customer", {"DisplayName": unique("Metered")}, "m-" + uuid.uuid4().hex)
    client.update("Customer", {"Id": created["Id"], "SyncToken": created["SyncToken"], "Notes": "n"},
                  "m-" + uuid.uuid4().hex)
    ctl.inject_fault("500", count=1, method="GET", path=f"/customer/{created['Id']}", realm=GB_REALM)
    # A 500 and the retry: the client counts both attempts it sent (an upper bound of what Intuit
    # meters); the emulator's injected fault stands for a failure in front of the API: not metered.
    client.read("Customer", created["Id"])
    client.query(Select("Item"))
    client.count(Select("Customer"))
    client.cdc(["Customer"], datetime.now(UTC) - timedelta(minutes=5))
    client.company_info()
    client.batch([BatchItem.create("1", "Customer", {"DisplayName": unique("B")})], "m-" + uuid.uuid4().hex)
    client.batch([BatchItem.select("1", "SELECT * FROM Item"),
                  BatchItem.create("2", "Customer", {"DisplayName": unique("B")})], "m-" + uuid.uuid4().hex)

    core, core_plus = _metric_total("QboCoreCalls"), _metric_total("QboCorePlusCalls")
    assert (core, core_plus) == (3, 7)
    metered = ctl.metering()
    assert metered["realms"][GB_REALM] == {"Core": core, "CorePlus": core_plus - 1}
    assert metered["apps"][CLIENT_ID] == {"Core": core, "CorePlus": core_plus - 1}
    metrics.clear_metrics()


def test_only_a_call_that_needed_retries_is_logged_at_info(
    server: Any, us_tokens: EmulatorTokens, ctl: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Log volume is priced per byte: a call that worked at once says nothing at INFO (the QboCalls
    metric counts it); one that was retried says which attempt worked, with QBO's intuit_tid."""
    client = make_client(server, us_tokens, retry=RetryPolicy(time_scale=0.01), sleep=RecordingSleep())
    caplog.set_level("INFO")
    client.company_info()
    assert [r for r in caplog.records if r.getMessage() == "qbo call" and r.levelname == "INFO"] == []
    ctl.inject_fault("429", count=1, method="GET", path="/companyinfo/", realm=US_REALM)
    client.company_info()
    [retried] = [r for r in caplog.records if r.getMessage() == "qbo call" and r.levelname == "INFO"]
    assert retried.__dict__["attempt"] == 2 and retried.__dict__["intuit_tid"]
