"""What the pusher records in the sync log, and the sync-log route of the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from local.lambda_context import lambda_context
from tests.integration.connect_support import api_event, call_api
from tests.integration.pusher.conftest import invoice_event, line, qbo_objects, reissue, sync_log

ROUTE = "/integrations/quickbooks/sync-log"


def _lines() -> list[dict[str, Any]]:
    return [line("l1", "prod_jug", "Jug", "1", "24.00")]


def _get(account_id: str, query: str = "") -> tuple[int, Any]:

    from functions.api.app import lambda_handler

    event = api_event("GET", ROUTE, account_id)
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    answer = lambda_handler(event, lambda_context("api"))
    return answer["statusCode"], json.loads(answer["body"])


def test_sync_log_route_pages_newest_first_and_is_private(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    numbers = ["INV-A1", "INV-A2", "INV-A3"]
    for number in numbers:
        run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines(), number=number))

    status, first = _get(account.account_id, "limit=2")
    assert status == 200
    assert [e["entity"] for e in first["entries"]] == ["Invoice INV-A3", "Invoice INV-A2"]
    assert all(e["outcome"] == "ok" and e["direction"] == "push" for e in first["entries"])
    assert first["next_cursor"]
    status, second = _get(account.account_id, f"limit=2&cursor={first['next_cursor']}")
    assert status == 200
    assert [e["entity"] for e in second["entries"]] == ["Invoice INV-A1"]
    assert second["next_cursor"] is None
    qbo_ids = {i["Id"] for i in qbo_objects(ctl, account.realm_id, "Invoice")}
    assert {e["qbo_id"] for e in first["entries"] + second["entries"]} == qbo_ids

    status, nothing = _get("acct-another-account")
    assert (status, nothing["entries"]) == (200, [])
    status, refused = _get("acct-another-account", f"cursor={first['next_cursor']}")
    assert status == 400 and refused["field"] == "cursor"
    for bad in ("limit=0", "limit=201", "limit=ten", "limit=-1"):
        status, refused = _get(account.account_id, bad)
        assert (status, refused["error"], refused["field"]) == (400, "invalid_request", "limit"), bad
    status, _ = call_api("GET", ROUTE, None)
    assert status == 401


def test_not_connected_is_skipped_with_an_entry(run_pusher, account_id, emulator) -> None:
    responses = run_pusher(invoice_event(account_id, currency="GBP", lines=_lines(), number="INV-NC"))

    assert responses[0]["batchItemFailures"] == []
    [entry] = sync_log(account_id)
    assert (entry.outcome, entry.entity) == ("skipped", "Invoice INV-NC")
    assert "not connected" in entry.message


def test_invoice_created_before_connecting_is_skipped(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    before = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    run_pusher(
        invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-OLD", created_at=before)
    )

    [entry] = sync_log(account.account_id)
    assert entry.outcome == "skipped" and "before QuickBooks was connected" in entry.message
    assert qbo_objects(ctl, account.realm_id, "Invoice") == []
    assert [r for r in ctl.requests(realm=account.realm_id) if r["method"] == "POST"] == []


def test_imported_invoice_is_never_pushed(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    imported = invoice_event(
        account.account_id,
        currency="GBP",
        lines=_lines(),
        number="INV-IMP",
        source={"kind": "quickbooks_import", "qbo_invoice_id": "130"},
    )
    run_pusher(
        imported,
        reissue(imported, "invoice.updated", version=2),
        reissue(imported, "invoice.paid", version=3, status="paid"),
    )

    assert qbo_objects(ctl, account.realm_id, "Invoice") == []
    assert [r for r in ctl.requests(realm=account.realm_id) if r["method"] == "POST"] == []
    entries = sync_log(account.account_id)
    assert len(entries) == 3 and all(e.outcome == "skipped" and "imported" in e.message for e in entries)


# ------------------------------------------------------------------------------------ issue 16


def _status(account_id: str) -> dict[str, Any]:
    status, body = call_api("GET", "/integrations/quickbooks", account_id)
    assert status == 200, body
    return dict(body)


def test_successful_pushes_move_last_sync_at_once_per_burst(connect, run_pusher, ctl) -> None:
    from kyrios_qbo import store

    account = connect("GB")
    assert _status(account.account_id)["last_sync_at"] is None
    before = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    run_pusher(  # skipped: not a sync
        invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-S0", created_at=before)
    )
    assert _status(account.account_id)["last_sync_at"] is None

    pushed_after = datetime.now(UTC).replace(microsecond=0)
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-S1"))
    [entry, _skipped] = sync_log(account.account_id)
    assert entry.outcome == "ok"
    last_sync = _status(account.account_id)["last_sync_at"]
    assert last_sync is not None and datetime.fromisoformat(last_sync) >= pushed_after
    first_mark = store.get_connection(account.account_id).last_push_at  # type: ignore[union-attr]

    # A burst: the next push, seconds later, finds a fresh mark on the connection it reads anyway and
    # writes nothing more for it.
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-S2"))
    assert sync_log(account.account_id)[0].outcome == "ok"
    assert store.get_connection(account.account_id).last_push_at == first_mark  # type: ignore[union-attr]
    assert _status(account.account_id)["last_sync_at"] == last_sync


def test_unreadable_events_name_the_kyrios_document(connect, run_pusher, sqs, queues) -> None:
    from tests.integration.pusher.conftest import dead_letters, payment_event

    account = connect("GB")
    no_lines = invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-BAD1")
    del no_lines["detail"]["invoice"]["lines"]
    only_id = invoice_event(account.account_id, currency="GBP", lines=_lines())
    only_id["detail"]["invoice"] = {"id": "inv_only_an_id", "number": 17, "lines": "?"}
    wrong_types = invoice_event(account.account_id, currency="GBP", lines=_lines())
    wrong_types["detail"]["invoice"] = {"id": 42, "number": ["INV-X"], "customer": None}
    not_an_object = invoice_event(account.account_id, currency="GBP", lines=_lines())
    not_an_object["detail"]["invoice"] = "INV-NOPE"
    oversized = invoice_event(account.account_id, currency="GBP", lines=_lines())
    oversized["detail"]["invoice"] = {"id": "x" * 5000, "number": "\x00\x01"}
    receipt = payment_event(account.account_id, source="order_form", currency="GBP", lines=_lines(),
                            payment_id="kp_broken")
    receipt["detail"]["payment"]["amount"] = "not money"

    for event in (no_lines, only_id, wrong_types, not_an_object, oversized, receipt):
        assert run_pusher(event)[0]["batchItemFailures"] == []  # parked, not retried
    dead_letters(sqs, queues)

    entries = list(reversed(sync_log(account.account_id)))
    assert all(e.outcome == "failed" and "cannot read" in e.message for e in entries)
    assert [(e.entity, e.kyrios_id) for e in entries] == [
        ("Invoice INV-BAD1", no_lines["detail"]["invoice"]["id"]),
        ("Invoice inv_only_an_id", "inv_only_an_id"),
        ("Invoice (unknown document)", None),
        ("Invoice (unknown document)", None),
        ("Invoice (unknown document)", None),
        ("Sales receipt order form payment kp_broken", "kp_broken"),
    ]


def test_documents_from_the_connections_own_second_are_pushed(connect, run_pusher, ctl) -> None:
    """The boundary is decided at whole seconds (UTC): Kyrios dates documents to the second while
    ``connected_at`` keeps microseconds."""
    from kyrios_qbo import store
    from tests.integration.pusher.conftest import payment_event

    account = connect("GB")
    connection = store.get_connection(account.account_id)
    assert connection is not None
    connected_at = datetime.fromisoformat(connection.connected_at.replace("Z", "+00:00"))
    same_second = connected_at.replace(microsecond=0)
    assert same_second < connected_at  # earlier than the connection, at microsecond precision
    second_before = same_second - timedelta(seconds=1)

    same = invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-SAME",
                         created_at=same_second.isoformat())
    earlier = invoice_event(account.account_id, currency="GBP", lines=_lines(), number="INV-EARLIER",
                            created_at=second_before.isoformat())
    receipt = payment_event(account.account_id, source="calendar", currency="GBP", lines=_lines(),
                            payment_id="kp_same_second")
    receipt["detail"]["payment"]["paid_at"] = same_second.isoformat()
    run_pusher(same, earlier, receipt)

    outcomes = {e.kyrios_id: e.outcome for e in sync_log(account.account_id)}
    assert outcomes == {same["detail"]["invoice"]["id"]: "ok", earlier["detail"]["invoice"]["id"]: "skipped",
                        "kp_same_second": "ok"}
    assert [i["DocNumber"] for i in qbo_objects(ctl, account.realm_id, "Invoice")] == ["INV-SAME"]
    assert len(qbo_objects(ctl, account.realm_id, "SalesReceipt")) == 1
