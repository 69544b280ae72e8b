"""Redelivery, reordering, concurrency and QBO faults never leave QBO with a second object."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from kyrios_qbo import store
from tests.integration.pusher.conftest import (
    invoice_event,
    line,
    money,
    paid,
    payment_event,
    push_concurrently,
    qbo_objects,
    reissue,
    retotal,
    tax,
    writes,
)

VAT20 = tax("vat20", "VAT", "20")


def _lines(quantity: str = "1") -> list[dict[str, Any]]:
    return [
        line("l1", "prod_vase", "Vase", quantity, "30.00", VAT20),
        line("l2", "prod_card", "Gift card", "1", "5.00"),
    ]


def _event(kind: str, account_id: str) -> dict[str, Any]:
    """A first message of each type, as it could reach the pusher first."""
    if kind == "payment.completed":
        return payment_event(account_id, source="order_form", currency="GBP", lines=_lines())
    status, version, payments = {
        "invoice.sent": ("sent", 1, []),
        "invoice.updated": ("sent", 2, []),
        "invoice.paid": ("paid", 3, [paid("pay_r1", "41.00")]),
        "invoice.voided": ("void", 2, []),
    }[kind]
    return invoice_event(
        account_id,
        currency="GBP",
        lines=_lines(),
        detail_type=kind,
        status=status,
        version=version,
        payments=payments,
    )


def _counts(ctl: Any, realm_id: str) -> dict[str, int]:
    return {
        entity: len(qbo_objects(ctl, realm_id, entity))
        for entity in ("Invoice", "Payment", "SalesReceipt", "Customer", "Item")
    }


@pytest.mark.parametrize(
    "kind", ["invoice.sent", "invoice.updated", "invoice.paid", "invoice.voided", "payment.completed"]
)
def test_redelivery_creates_nothing_more(kind, connect, run_pusher, ctl) -> None:
    account = connect("GB")
    event = _event(kind, account.account_id)
    run_pusher(event)
    before = _counts(ctl, account.realm_id)
    entity = "SalesReceipt" if kind == "payment.completed" else "Invoice"
    assert before[entity] == 1
    assert before["Payment"] == (1 if kind == "invoice.paid" else 0)
    ctl.clear_requests()

    # The same message twice (SQS at-least-once) and the same document under a new event id (EventBridge
    # retry, Kyrios re-publishing).
    responses = run_pusher(event, event, reissue(event))

    assert all(r["batchItemFailures"] == [] for r in responses)
    assert writes(ctl, account.realm_id) == []
    assert _counts(ctl, account.realm_id) == before


@pytest.mark.parametrize("kind", ["invoice.paid", "payment.completed"])
def test_replays_are_skipped_by_the_document_state_before_any_qbo_call(
    kind, connect, ctl, sqs, queues
) -> None:
    """What the pusher relies on instead of a per-event idempotency record: the same event delivered
    several times at once ends in one QBO object, and a replay once applied costs no QBO call at all
    (not even a read): the document's hold and mapping decide, before anything is prepared."""
    account = connect("GB")
    event = _event(kind, account.account_id)
    push_concurrently(sqs, queues, [event, event, event])
    entity = "SalesReceipt" if kind == "payment.completed" else "Invoice"
    counts = _counts(ctl, account.realm_id)
    assert counts[entity] == 1 and counts["Payment"] == (1 if kind == "invoice.paid" else 0)
    ctl.clear_requests()

    push_concurrently(sqs, queues, [event, event])

    assert ctl.requests(realm=account.realm_id) == []
    assert _counts(ctl, account.realm_id) == counts
    outcomes = [entry.outcome for entry in store.list_sync_log(account.account_id, limit=50).items]
    assert outcomes.count("ok") == 1  # one push applied it; the others said they skipped


def test_shuffled_concurrent_versions_end_in_the_newest_state(connect, ctl, sqs, queues) -> None:

    account = connect("GB")
    v1 = invoice_event(account.account_id, currency="GBP", lines=_lines("1"))
    v2 = retotal(reissue(v1, "invoice.updated", version=2, lines=_lines("2")))
    v3 = retotal(reissue(v1, "invoice.updated", version=3, lines=_lines("3")))
    total = Decimal(v3["detail"]["invoice"]["totals"]["total"])  # 3 × 30 + 20 % VAT + 5 = 113.00
    v4 = reissue(
        v3,
        "invoice.paid",
        version=4,
        status="paid",
        payments=[paid("pay_c1", "13.00"), paid("pay_c2", str(total - Decimal("13.00")))],
    )
    events = [v1, v2, v3, v4]
    random.Random(20260507).shuffle(events)
    push_concurrently(sqs, queues, events)

    [invoice] = qbo_objects(ctl, account.realm_id, "Invoice")
    assert money(invoice["TotalAmt"]) == total == Decimal("113.00")
    assert money(invoice["Balance"]) == 0
    sales = [x for x in invoice["Line"] if x["DetailType"] == "SalesItemLineDetail"]
    assert Decimal(str(sales[0]["SalesItemLineDetail"]["Qty"])) == 3
    assert sorted(money(p["TotalAmt"]) for p in qbo_objects(ctl, account.realm_id, "Payment")) == [
        Decimal("13.00"),
        Decimal("100.00"),
    ]
    mapping = store.get_mapping(account.realm_id, "invoice", v1["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 4 and mapping.qbo_id == invoice["Id"]


# ------------------------------------------------------------------------------------ QBO faults

# Failures in this order on one call: QBO wrote but answered 500; wrote and the connection was reset;
# wrote and answered after the client gave up (timeout); throttled; reset before anything was written.
# Four per call, so the client's 5th and last attempt succeeds (a requestid replay of QBO's first write).
FAULT_SEQUENCE = [("500", True), ("reset", True), ("timeout", True), ("429", False)]
FAULT_SEQUENCE_NO_TIMEOUT = [("500", True), ("reset", True), ("429", False), ("reset", False)]


def _inject(
    ctl: Any, realm_id: str, path: str, sequence: list[tuple[str, bool]], method: str = "POST"
) -> None:
    for kind, after_write in sequence:
        ctl.inject_fault(
            kind, count=1, method=method, path=path, realm=realm_id, after_write=after_write, seconds=1.5
        )


def _assert_faults_consumed(ctl: Any) -> None:
    assert ctl.faults() == [], "the push never made the call the faults were set on"


def test_faults_on_customer_item_and_invoice_creation(connect, run_pusher, ctl, fast_retries) -> None:
    account = connect("GB")
    for path in (r"/customer$", r"/item$"):
        _inject(ctl, account.realm_id, path, FAULT_SEQUENCE_NO_TIMEOUT)
    _inject(ctl, account.realm_id, r"/invoice$", FAULT_SEQUENCE)
    event = invoice_event(account.account_id, currency="GBP", lines=_lines())

    run_pusher(event)

    _assert_faults_consumed(ctl)
    assert _counts(ctl, account.realm_id) == {
        "Invoice": 1,
        "Payment": 0,
        "SalesReceipt": 0,
        "Customer": 1,
        "Item": 3,
    }  # the company's "Services" + Vase + Gift card
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 1


def test_faults_on_tax_code_and_sales_receipt_creation(connect, run_pusher, ctl, fast_retries) -> None:
    account = connect("CA")
    gst, pst = tax("gst", "GST", "5"), tax("pst", "PST", "7")
    _inject(ctl, account.realm_id, r"/taxservice/taxcode$", FAULT_SEQUENCE_NO_TIMEOUT)
    _inject(ctl, account.realm_id, r"/salesreceipt$", FAULT_SEQUENCE)
    event = payment_event(
        account.account_id,
        source="membership",
        currency="CAD",
        lines=[line("m1", "prod_club", "Club membership", "1", "80.00", gst, pst)],
    )

    run_pusher(event)

    _assert_faults_consumed(ctl)
    assert len(qbo_objects(ctl, account.realm_id, "SalesReceipt")) == 1
    assert [c["Name"] for c in qbo_objects(ctl, account.realm_id, "TaxCode") if "Kyrios" in c["Name"]] == [
        "Kyrios GST 5% + PST 7%"
    ]
    [receipt] = qbo_objects(ctl, account.realm_id, "SalesReceipt")
    assert money(receipt["TotalAmt"]) == Decimal("89.60")


def test_faults_on_update_payment_and_void(connect, run_pusher, ctl, fast_retries) -> None:
    account = connect("GB")
    sent = invoice_event(account.account_id, currency="GBP", lines=_lines())
    run_pusher(sent)
    [created] = qbo_objects(ctl, account.realm_id, "Invoice")

    _inject(ctl, account.realm_id, r"/invoice$", FAULT_SEQUENCE_NO_TIMEOUT)  # the sparse update
    _inject(ctl, account.realm_id, r"/payment$", FAULT_SEQUENCE)
    total = sent["detail"]["invoice"]["totals"]["total"]
    run_pusher(reissue(sent, "invoice.paid", version=2, status="paid", payments=[paid("pay_f1", total)]))
    _assert_faults_consumed(ctl)
    assert len(qbo_objects(ctl, account.realm_id, "Payment")) == 1
    assert money(ctl.entity(account.realm_id, "Invoice", created["Id"])["Balance"]) == 0

    # Update and void are both POST invoice and the emulator's fault rules match paths only, so the
    # update takes the write faults; the void's own read of the invoice gets read faults.
    _inject(ctl, account.realm_id, r"/invoice$", FAULT_SEQUENCE_NO_TIMEOUT)
    _inject(
        ctl,
        account.realm_id,
        r"/invoice/\d+$",
        [("500", False), ("reset", False), ("429", False)],
        method="GET",
    )
    run_pusher(reissue(sent, "invoice.voided", version=3, status="void", payments=[]))
    _assert_faults_consumed(ctl)
    [voided] = qbo_objects(ctl, account.realm_id, "Invoice")
    assert voided["Id"] == created["Id"] and money(voided["TotalAmt"]) == 0
    assert len(qbo_objects(ctl, account.realm_id, "Payment")) == 1


def test_faults_on_reads_and_queries(connect, run_pusher, ctl, fast_retries) -> None:
    account = connect("GB")
    read_faults = [("500", False), ("reset", False), ("429", False), ("timeout", False)]
    _inject(ctl, account.realm_id, r"/companyinfo/", read_faults, method="GET")
    _inject(ctl, account.realm_id, r"/query$", read_faults, method="GET")

    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))

    _assert_faults_consumed(ctl)
    assert _counts(ctl, account.realm_id)["Invoice"] == 1


def test_retries_exhausted_in_one_invocation_are_finished_by_a_redelivery(
    connect, run_pusher, ctl, fast_retries
) -> None:
    account = connect("GB")
    # More after-write failures than the client's attempts: the invocation gives the message back.
    _inject(ctl, account.realm_id, r"/invoice$", [("500", True)] * 6)
    event = invoice_event(account.account_id, currency="GBP", lines=_lines())

    responses = run_pusher(event)

    assert responses[0]["batchItemFailures"] != []  # first receive failed, SQS redelivered
    assert responses[-1]["batchItemFailures"] == []
    _assert_faults_consumed(ctl)
    assert len(qbo_objects(ctl, account.realm_id, "Invoice")) == 1
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 1
