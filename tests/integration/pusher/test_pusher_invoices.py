"""Kyrios invoice events through the push queue and the real handler, into the QBO emulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kyrios_qbo import store
from tests.integration.pusher.conftest import dead_letters, reissue, sample_event


def _one(ctl: Any, realm: str, entity: str) -> list[dict[str, Any]]:
    return ctl.entities(realm, entity)


def test_gb_invoice_paid_first_creates_invoice_and_payments_matching_totals(
    connect, run_pusher, emulator, sqs, queues
) -> None:
    account = connect("GB")
    event = sample_event("kyrios-invoice-paid", account.account_id)

    responses = run_pusher(event)

    assert responses and all(r["batchItemFailures"] == [] for r in responses)
    invoices = _one(emulator.control, account.realm_id, "Invoice")
    assert len(invoices) == 1
    invoice = invoices[0]
    qbo_total = Decimal(str(invoice["TotalAmt"]))
    log = store.list_sync_log(account.account_id).items
    assert qbo_total == Decimal("326.22")
    assert log[0].outcome == "ok", log
    assert Decimal(str(invoice["Balance"])) == Decimal("0")
    assert invoice["GlobalTaxCalculation"] == "TaxExcluded"
    payments = _one(emulator.control, account.realm_id, "Payment")
    assert sorted(Decimal(str(p["TotalAmt"])) for p in payments) == [Decimal("150.00"), Decimal("176.22")]
    customers = [c for c in _one(emulator.control, account.realm_id, "Customer")
                 if (c.get("PrimaryEmailAddr") or {}).get("Address", "").lower() == "jane.doe@example.com"]
    assert len(customers) == 1 and "Created by Kyrios" in customers[0].get("Notes", "")
    mapping = store.get_mapping(account.realm_id, "invoice", event["detail"]["invoice"]["id"])
    assert mapping is not None and mapping.applied_version == 3 and mapping.qbo_id == invoice["Id"]
    assert store.get_mapping(account.realm_id, "customer", "jane.doe@example.com") is not None

    # Redelivery of the same event and a replay under a new event id write nothing more.
    emulator.control.clear_requests()
    run_pusher(event, reissue(event))
    writes = [r for r in emulator.control.requests(realm=account.realm_id) if r["method"] == "POST"]
    assert writes == []
    assert len(_one(emulator.control, account.realm_id, "Invoice")) == 1
    assert len(_one(emulator.control, account.realm_id, "Payment")) == 2
    assert [m for m in dead_letters(sqs, queues, timeout=0.5)
            if m["Body"].find(account.account_id) >= 0] == []


def test_second_invoice_for_known_customer_costs_one_qbo_call(connect, run_pusher, emulator) -> None:
    account = connect("GB")
    first = sample_event("kyrios-invoice-sent", account.account_id)
    run_pusher(first)
    emulator.control.clear_requests()

    second = sample_event("kyrios-invoice-sent", account.account_id, id="inv_second", number="INV-2")
    run_pusher(second)

    calls = [f"{r['method']} {r.get('endpoint') or r.get('path')}"
             for r in emulator.control.requests(realm=account.realm_id)]
    assert len(calls) == 1, calls
    assert len(_one(emulator.control, account.realm_id, "Invoice")) == 2


def test_update_partial_payment_full_payment_then_void(connect, run_pusher, emulator) -> None:
    account = connect("GB")
    sent = sample_event("kyrios-invoice-sent", account.account_id)
    run_pusher(sent)
    invoice_doc = sent["detail"]["invoice"]
    qbo = _one(emulator.control, account.realm_id, "Invoice")[0]
    total = Decimal(str(qbo["TotalAmt"]))
    assert total == Decimal(invoice_doc["totals"]["total"])

    # Lines changed: one line dropped → sparse update, totals follow.
    lines = invoice_doc["lines"][:1]
    from kyrios_qbo.models.kyrios import KyriosInvoice, document_amounts

    probe = KyriosInvoice.model_validate({**invoice_doc, "lines": lines})
    amounts = document_amounts(probe)
    totals = {"subtotal": str(amounts.subtotal), "discount_total": str(amounts.discount),
              "tax_total": str(amounts.tax_total), "total": str(amounts.total)}
    updated = reissue(sent, "invoice.updated", version=2, lines=lines, totals=totals)
    run_pusher(updated)
    qbo = emulator.control.entity(account.realm_id, "Invoice", qbo["Id"])
    assert Decimal(str(qbo["TotalAmt"])) == amounts.total
    assert len([line for line in qbo["Line"] if line["DetailType"] == "SalesItemLineDetail"]) == 1

    partial = {"payment_id": "pay_a", "amount": "10.00", "paid_at": "2030-01-01T10:00:00+00:00",
               "method": "card"}
    run_pusher(reissue(updated, "invoice.updated", version=3, status="partially_paid", payments=[partial]))
    qbo = emulator.control.entity(account.realm_id, "Invoice", qbo["Id"])
    assert Decimal(str(qbo["Balance"])) == amounts.total - Decimal("10.00")

    rest = {"payment_id": "pay_b", "amount": str(amounts.total - Decimal("10.00")),
            "paid_at": "2030-01-02T10:00:00+00:00", "method": "bank_transfer"}
    run_pusher(reissue(updated, "invoice.paid", version=4, status="paid", payments=[partial, rest]))
    qbo = emulator.control.entity(account.realm_id, "Invoice", qbo["Id"])
    assert Decimal(str(qbo["Balance"])) == 0
    assert len(_one(emulator.control, account.realm_id, "Payment")) == 2

    voided_doc = reissue(sent, "invoice.voided", version=5, status="void")
    run_pusher(voided_doc)
    qbo = emulator.control.entity(account.realm_id, "Invoice", qbo["Id"])
    assert qbo.get("PrivateNote") == "Voided"
    assert Decimal(str(qbo["TotalAmt"])) == 0
    assert store.get_mapping(account.realm_id, "invoice", invoice_doc["id"]).applied_version == 5


def test_older_snapshot_never_rolls_back(connect, run_pusher, emulator) -> None:
    account = connect("GB")
    sent = sample_event("kyrios-invoice-sent", account.account_id)
    newer = reissue(sent, "invoice.updated", version=2, due_date="2099-12-31")
    run_pusher(newer)
    older = reissue(sent, "invoice.sent", version=1)
    run_pusher(older)
    qbo = _one(emulator.control, account.realm_id, "Invoice")
    assert len(qbo) == 1 and qbo[0]["DueDate"] == "2099-12-31"
