"""Events the bundle publishes: detail types, deterministic ids, strictness."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from kyrios_qbo.models.published import (
    PUBLISHED_MODELS,
    ConnectionStatusChanged,
    ContactCreated,
    ContactIdentity,
    ImportedLine,
    InvoiceImported,
    ReviewRequested,
    SyncFailed,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def imported(import_id: str, occurred_at: datetime = NOW) -> InvoiceImported:
    return InvoiceImported(
        account_id="acct_1",
        realm_id="9130350",
        occurred_at=occurred_at,
        import_id=import_id,
        qbo_invoice_id="264",
        doc_number="1041",
        txn_date="2020-09-29",  # type: ignore[arg-type]
        due_date="2020-10-29",  # type: ignore[arg-type]
        currency="usd",
        customer=ContactIdentity(
            qbo_customer_id="1", display_name="Amy's Bird Sanctuary", email="Birds@Intuit.com"
        ),
        lines=[ImportedLine(description="Services", item_name="Services", quantity="1", amount="100.00")],  # type: ignore[arg-type]
        total="100.00",  # type: ignore[arg-type]
        balance="100.00",  # type: ignore[arg-type]
        paid_state="unpaid",
    )


def test_detail_types() -> None:
    assert set(PUBLISHED_MODELS) == {
        "contact.created",
        "invoice.imported",
        "review.requested",
        "connection.status_changed",
        "connection.needs_reconnect_soon",
        "sync.failed",
    }
    assert InvoiceImported.DETAIL_TYPE == "invoice.imported"


def test_import_event_id_ignores_the_import_run() -> None:
    first, rerun = imported("imp_1"), imported("imp_2", LATER)
    assert first.event_id == rerun.event_id
    assert len(first.event_id) == 36 and first.event_id.count("-") == 4
    detail = json.loads(first.model_dump_json())
    assert detail["event_id"] == first.event_id
    assert detail["customer"]["email"] == "birds@intuit.com"
    assert detail["currency"] == "USD" and detail["total"] == "100.00"


def test_contact_and_review_ids_follow_the_contact() -> None:
    contact = ContactCreated(
        account_id="a", realm_id="r", occurred_at=NOW, qbo_customer_id="58", display_name="Jo"
    )
    again = ContactCreated(
        account_id="a", realm_id="r", occurred_at=LATER, qbo_customer_id="58", display_name="Jo B"
    )
    other = ContactCreated(
        account_id="a", realm_id="r2", occurred_at=NOW, qbo_customer_id="58", display_name="Jo"
    )
    assert contact.event_id == again.event_id != other.event_id
    identity = ContactIdentity(qbo_customer_id="58", display_name="Jo", email="jo@example.com")
    review = ReviewRequested(
        account_id="a",
        realm_id="r",
        occurred_at=NOW,
        contact=identity,
        qbo_invoice_id="101",
        amount=Decimal("20.00"),
        currency="GBP",
        paid_at=NOW,
        origin="live",
    )
    second = review.model_copy(update={"qbo_invoice_id": "102"})
    assert review.event_id == second.event_id  # one review per contact


def test_status_and_failure_events() -> None:
    changed = ConnectionStatusChanged(
        account_id="a",
        realm_id="r",
        occurred_at=NOW,
        status="needs_reconnect",
        reason="refresh token revoked",
    )
    assert changed.model_dump()["status"] == "needs_reconnect"
    failed = SyncFailed(
        account_id="a",
        realm_id="r",
        occurred_at=NOW,
        document_kind="invoice",
        document_id="inv_1",
        document_version=3,
        reason="QuickBooks needs a tax code on every line",
        qbo_error_code="6000",
        qbo_error_detail="Business Validation Error",
        intuit_tid="1-abc",
        retryable=False,
    )
    assert failed.event_id == failed.model_copy(update={"occurred_at": LATER}).event_id
    assert failed.event_id != failed.model_copy(update={"document_version": 4}).event_id


def test_published_models_are_strict() -> None:
    with pytest.raises(ValidationError, match="status"):
        ConnectionStatusChanged(account_id="a", realm_id="r", occurred_at=NOW, status="broken", reason="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Extra inputs"):
        ContactCreated(
            account_id="a", realm_id="r", occurred_at=NOW, qbo_customer_id="1", display_name="x", foo=1
        )  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="timezone"):
        ContactCreated(
            account_id="a",
            realm_id="r",
            occurred_at=datetime(2026, 1, 1),
            qbo_customer_id="1",
            display_name="x",
        )
