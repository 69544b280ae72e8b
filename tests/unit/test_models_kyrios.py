"""Kyrios event models: the sample events in events/ parse, malformed details fail field by field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kyrios_qbo.models.kyrios import (
    InvalidEvent,
    InvoiceSnapshotEvent,
    KyriosPaymentDocument,
    PaymentCompletedEvent,
    document_amounts,
    parse_kyrios_event,
)

ROOT = Path(__file__).resolve().parents[2]
EVENT_FILES = sorted((ROOT / "events").glob("kyrios-*.json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text())


def invoice_detail() -> dict[str, Any]:
    return copy.deepcopy(load("kyrios-invoice-sent.json")["detail"])


def reasons(detail_type: str, detail: Any) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        parse_kyrios_event(detail_type, detail)
    return dict(caught.value.reasons)


def test_there_is_a_sample_event_per_kyrios_event_type() -> None:
    names = {path.name for path in EVENT_FILES}
    assert {
        "kyrios-invoice-sent.json",
        "kyrios-invoice-updated.json",
        "kyrios-invoice-paid.json",
        "kyrios-invoice-voided.json",
        "kyrios-payment-completed-order-form.json",
        "kyrios-payment-completed-calendar.json",
    } <= names


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: p.name)
def test_every_sample_event_is_a_valid_eventbridge_event_with_consistent_totals(path: Path) -> None:
    event = json.loads(path.read_text())
    assert event["source"] == "kyrios.core"
    assert {"version", "id", "detail-type", "account", "time", "region", "resources", "detail"} <= set(event)
    parsed = parse_kyrios_event(event["detail-type"], event["detail"])
    assert parsed.detail_type == event["detail-type"]
    document = parsed.invoice if isinstance(parsed, InvoiceSnapshotEvent) else parsed.payment
    computed = document_amounts(document)
    totals = document.totals
    assert (totals.subtotal, totals.discount_total, totals.tax_total, totals.total) == (
        computed.subtotal, computed.discount, computed.tax_total, computed.total
    )
    if isinstance(document, KyriosPaymentDocument):
        assert document.amount == totals.total


def test_invoice_sample_values_are_typed() -> None:
    event = parse_kyrios_event("invoice.sent", invoice_detail())
    assert isinstance(event, InvoiceSnapshotEvent)
    invoice = event.invoice
    assert invoice.customer.email == "jane.doe@example.com"  # trimmed and lower-cased
    assert invoice.customer.display_name == "Jane Doe"
    assert invoice.lines[0].unit_price == Decimal("85.00")
    assert invoice.totals.total == Decimal("299.86")
    assert event.occurred_at.utcoffset() is not None
    assert not invoice.is_imported


def test_paid_sample_sums_its_payments() -> None:
    event = parse_kyrios_event("invoice.paid", load("kyrios-invoice-paid.json")["detail"])
    assert isinstance(event, InvoiceSnapshotEvent)
    assert event.invoice.status == "paid"
    assert event.invoice.amount_paid == event.invoice.totals.total


def test_calendar_payment_email_is_normalised_and_inclusive() -> None:
    event = parse_kyrios_event("payment.completed", load("kyrios-payment-completed-calendar.json")["detail"])
    assert isinstance(event, PaymentCompletedEvent)
    assert event.payment.customer.email == "olivia.nguyen@example.com.au"
    assert event.payment.prices_include_tax is True
    assert event.payment.totals.total == Decimal("150.00")  # inclusive: tax does not add up
    assert event.payment.totals.tax_total == Decimal("13.64")


def test_missing_email_is_allowed_on_the_model() -> None:
    detail = invoice_detail()
    del detail["invoice"]["customer"]["email"]
    event = parse_kyrios_event("invoice.sent", detail)
    assert isinstance(event, InvoiceSnapshotEvent)
    assert event.invoice.customer.email is None


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (
            lambda d: d["invoice"]["lines"][0].update(quantity="-1"),
            "invoice.lines.0.quantity",
            "greater than 0",
        ),
        (lambda d: d["invoice"].update(currency="EURO"), "invoice.currency", "ISO 4217"),
        (lambda d: d["invoice"].update(currency="XYZ"), "invoice.currency", "ISO 4217"),
        (lambda d: d["invoice"].update(version=0), "invoice.version", "greater than or equal to 1"),
        (lambda d: d["invoice"].update(version="2"), "invoice.version", "valid integer"),
        (lambda d: d["invoice"].update(colour="blue"), "invoice.colour", "Extra inputs"),
        (lambda d: d.update(extra_field=1), "extra_field", "Extra inputs"),
        (
            lambda d: d["invoice"]["lines"][0].update(unit_price="1.005"),
            "invoice.lines.0.unit_price",
            "2 decimal",
        ),
        (lambda d: d["invoice"]["customer"].update(email="not-an-email"), "invoice.customer.email", "email"),
        (lambda d: d["invoice"].update(status="archived"), "invoice.status", "Input should be"),
        (lambda d: d["invoice"].update(created_at="2026-03-02T09:14:05"), "invoice.created_at", "timezone"),
        (lambda d: d["invoice"].update(due_date="2026-01-01"), "invoice", "due_date is before issue_date"),
        (lambda d: d["invoice"]["lines"][0]["taxes"][0].update(rate_percent="120"), "rate_percent", "100"),
        (
            lambda d: d["invoice"]["lines"][1].update(line_id=d["invoice"]["lines"][0]["line_id"]),
            "invoice.lines",
            "unique",
        ),
        (lambda d: d["invoice"].update(discount={"type": "coupon", "code": "X"}), "invoice.discount", "tag"),
        (
            lambda d: d["invoice"].update(customer={"email": "a@b.co"}),
            "invoice.customer",
            "full_name or given_name",
        ),
        (
            lambda d: d["invoice"].update(source={"kind": "quickbooks_import"}),
            "invoice.source",
            "qbo_invoice_id is required",
        ),
        (lambda d: d["invoice"].update(lines=[]), "invoice.lines", "at least 1"),
    ],
)
def test_malformed_invoice_events_fail_with_field_level_reasons(mutate: Any, path: str, message: str) -> None:
    detail = invoice_detail()
    mutate(detail)
    found = reasons("invoice.updated", detail)
    matching = {loc: msg for loc, msg in found.items() if path in loc}
    assert matching, found
    assert any(message in msg for msg in matching.values()), found


def test_unknown_detail_type_and_non_object_detail_are_invalid() -> None:
    assert "detail-type" in reasons("invoice.deleted", invoice_detail())
    assert reasons("invoice.sent", ["not", "an", "object"]) == {"": "detail must be a JSON object"}
    with pytest.raises(InvalidEvent, match=r"invalid invoice\.sent event"):
        parse_kyrios_event("invoice.sent", {})


def test_payment_with_unknown_source_is_rejected() -> None:
    detail = copy.deepcopy(load("kyrios-payment-completed-order-form.json")["detail"])
    detail["payment"]["source"] = "pos"
    assert "payment.source" in reasons("payment.completed", detail)


def test_numbers_as_json_numbers_are_accepted_without_float_noise() -> None:
    detail = invoice_detail()
    detail["invoice"]["lines"][2]["unit_price"] = 9.99
    event = parse_kyrios_event("invoice.sent", detail)
    assert isinstance(event, InvoiceSnapshotEvent)
    assert event.invoice.lines[2].unit_price == Decimal("9.99")
    assert str(event.invoice.lines[2].unit_price) == "9.99"
