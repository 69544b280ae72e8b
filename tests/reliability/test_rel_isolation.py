"""Isolation: with account A's token, every UI route is called with account B's ids (in the path, the
query, the body and headers); B's connection, settings, import, sync log and parked pushes stay as
they were and nothing of B's shows in A's answers. A also cannot take over B's company by consenting."""

from __future__ import annotations

import json
import time
from typing import Any

from local.runner import LocalBundle
from tests.integration.pusher.conftest import invoice_event
from tests.reliability.harness import (
    Company,
    Counts,
    connect_company,
    disconnect,
    drain_dead_letters,
    eventually,
)
from tests.reliability.workload import _lines


def _b_fingerprint(stack: LocalBundle, b: Company, job_id: str) -> dict[str, Any]:
    status = b.ui.status()
    status.pop("last_sync_at", None)  # the schedule polls B in the background
    job = b.ui.call("GET", f"/integrations/quickbooks/imports/{job_id}").json()
    log = b.ui.call("GET", "/integrations/quickbooks/sync-log?limit=200").json()["entries"]
    return {"status": status, "job": job, "pushes": [e for e in log if e.get("direction") != "pull"]}


def _parked_of(stack: LocalBundle, account_id: str) -> int:
    sqs = stack.client("sqs")
    url = stack.resources.queues["PushDeadLetterQueue"].url
    seen = 0
    for _ in range(3):
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageAttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        seen = max(
            seen,
            sum(
                1
                for m in messages
                if m.get("MessageAttributes", {}).get("account_id", {}).get("StringValue") == account_id
            ),
        )
    return seen


def test_account_a_can_never_read_or_change_account_b(stack: LocalBundle, counts: Counts) -> None:
    a = connect_company(stack, "GB", "iso-a")
    b = connect_company(stack, "GB", "iso-b")
    # B's data: an import, pushes in its sync log (one of them parked on the DLQ with its reason).
    started = b.ui.call(
        "POST",
        "/integrations/quickbooks/imports",
        {"start_date": "2020-01-01", "end_date": "2020-01-31", "send_review_requests": False},
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]
    eventually(
        lambda: b.ui.call("GET", f"/integrations/quickbooks/imports/{job_id}").json()["state"] != "running",
        30,
    )
    events = stack.client("events")
    good = invoice_event(b.account_id, currency="GBP", lines=_lines(1))
    bad = invoice_event(b.account_id, currency="GBP", lines=_lines(1))
    bad["detail"]["invoice"]["totals"]["total"] = "1.00"  # does not add up: parked as invalid_document
    for event in (good, bad):
        events.put_events(
            Entries=[
                {
                    "Source": "kyrios.core",
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "EventBusName": stack.resources.event_bus_name,
                }
            ]
        )
    assert eventually(lambda: _parked_of(stack, b.account_id) >= 1, 30), "B's bad invoice was parked"
    stack.wait_idle(timeout=30)
    cursor = b.ui.call("GET", "/integrations/quickbooks/sync-log?limit=1").json().get("next_cursor") or "x"
    before = _b_fingerprint(stack, b, job_id)
    assert before["pushes"], "B has a sync log"
    secrets_of_b = {b.account_id, b.realm_id, b.name, job_id}

    routes = [row["key"] for row in stack.wiring() if row["kind"] == "route" and row["auth"] == "jwt"]
    routes.sort(key=lambda key: key == "DELETE /integrations/quickbooks")  # disconnecting A comes last
    query = {
        "account_id": b.account_id,
        "realm_id": b.realm_id,
        "realmId": b.realm_id,
        "cursor": cursor,
        "id": job_id,
    }
    spoofing_headers = {"X-Kyrios-Account-Id": b.account_id, "X-Account-Id": b.account_id}
    bodies: list[Any] = [
        None,
        {"account_id": b.account_id},
        {"send_review_requests": False, "account_id": b.account_id},
        {"send_review_requests": False},
        {"start_date": "2020-01-01", "end_date": "2020-01-31", "account_id": b.account_id, "job_id": job_id},
    ]
    statuses: dict[str, list[int]] = {}
    for route in routes:
        method, path = route.split(" ", 1)
        for body in bodies:
            answer = a.ui.session.request(
                method,
                a.ui.api_url + path.replace("{job_id}", job_id),
                params=query,
                json=body,
                headers=spoofing_headers,
                timeout=30,
            )
            counts.add("isolation_calls")
            counts.add("http_5xx", 1 if answer.status_code >= 500 else 0)
            statuses.setdefault(route, []).append(answer.status_code)
            leaked = [value for value in secrets_of_b if value in answer.text]
            assert not leaked, f"{route} with {body} showed A {leaked}: {answer.text[:300]}"
            assert answer.status_code < 500, (route, answer.status_code, answer.text)

    # A consents to B's company: refused (one company, one account); B keeps it.
    a_again = connect_company_attempt(a, b.realm_id)
    counts.add("isolation_calls")
    time.sleep(0.2)
    after = _b_fingerprint(stack, b, job_id)
    parked_after = _parked_of(stack, b.account_id)
    disconnect(b)
    drain_dead_letters(stack)

    assert statuses["GET /integrations/quickbooks/imports/{job_id}"][0] == 404
    assert statuses["DELETE /integrations/quickbooks/imports/{job_id}"][0] == 404
    assert a_again.get("quickbooks") == "error", a_again
    assert after == before
    assert parked_after >= 1, "A's redrive left B's parked push where it was"


def connect_company_attempt(company: Company, realm_id: str) -> dict[str, str]:
    """A's user goes through consent choosing ``realm_id``; the outcome the callback reports."""
    from local.demo_steps.actors import QboUser

    user = QboUser(company.user.control, realm_id)
    answer = company.ui.call("POST", "/integrations/quickbooks/connect")
    landing = user.approve(answer.json()["authorize_url"])
    return company.ui.finish_connect(landing.url)
