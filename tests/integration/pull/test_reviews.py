"""Review requests: the first paid invoice of a contact, only while the setting is on (poller + reviews)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from kyrios_qbo import nudges, reviews
from kyrios_qbo.models.published import ContactIdentity
from kyrios_qbo.store import connections, mappings, review_opportunities

from .support import Bus, Company, PollQueue


def _invoice(ctl: Any, company: Company, customer_id: str, amount: int, **extra: Any) -> dict[str, Any]:
    body = {
        "CustomerRef": {"value": customer_id},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": company.item_id}, "Qty": 1, "UnitPrice": amount},
            }
        ],
        **extra,
    }
    return ctl.user_action(company.realm_id, "Invoice", "create", body)


def _poll(poll_queue: PollQueue, company: Company) -> None:
    nudges.send_nudges([nudges.nudge(company.account_id, company.realm_id, "manual")])
    assert poll_queue.poll_now(company.realm_id, expect=1) == [{"batchItemFailures": []}]


def test_first_paid_invoice_requests_one_review(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    customer = ctl.create_customer(
        company.realm_id, DisplayName="Grace Hopper", PrimaryEmailAddr={"Address": "Grace@Example.com"}
    )
    first = _invoice(ctl, company, customer["Id"], 120)
    second = _invoice(ctl, company, customer["Id"], 80)
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.0) == []  # unpaid invoices request nothing

    ctl.pay_invoice(company.realm_id, first["Id"])
    _poll(poll_queue, company)
    [event] = bus("review.requested", 1)
    detail = event["detail"]
    paid = ctl.entity(company.realm_id, "Invoice", first["Id"])
    assert detail["contact"] == {
        "qbo_customer_id": customer["Id"],
        "display_name": "Grace Hopper",
        "email": "grace@example.com",
    }
    assert detail["qbo_invoice_id"] == first["Id"]
    assert Decimal(str(detail["amount"])) == Decimal(str(paid["TotalAmt"])) > 0
    assert detail["currency"] == "USD"
    assert detail["origin"] == "live"
    assert detail["account_id"] == company.account_id
    assert datetime.fromisoformat(detail["paid_at"]) > datetime.now(UTC) - timedelta(minutes=5)
    marker = review_opportunities.get_review_marker(company.realm_id, customer["Id"])
    assert marker is not None and (marker.state, marker.invoice_id) == ("sent", first["Id"])

    ctl.pay_invoice(company.realm_id, second["Id"])
    _poll(poll_queue, company)
    _poll(poll_queue, company)  # and a repeated poll over the same window
    assert bus("review.requested", 1, timeout=1.5) == []


def test_setting_off_uses_up_the_opportunity(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    connections.update_settings(company.account_id, {"send_review_requests": False})
    customer = ctl.create_customer(company.realm_id, DisplayName="Quiet Customer")
    first = _invoice(ctl, company, customer["Id"], 50)
    second = _invoice(ctl, company, customer["Id"], 60)
    ctl.pay_invoice(company.realm_id, first["Id"])
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.0) == []
    marker = review_opportunities.get_review_marker(company.realm_id, customer["Id"])
    assert marker is not None and (marker.state, marker.invoice_id) == ("skipped", first["Id"])

    connections.update_settings(company.account_id, {"send_review_requests": True})
    ctl.pay_invoice(company.realm_id, second["Id"])
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.5) == []  # the second paid invoice is not "first"


def test_partial_payments_do_not_count(ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus) -> None:
    customer = ctl.create_customer(company.realm_id, DisplayName="Pays In Parts")
    invoice = _invoice(ctl, company, customer["Id"], 100)
    ctl.pay_invoice(company.realm_id, invoice["Id"], amount=40)
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.0) == []
    assert review_opportunities.get_review_marker(company.realm_id, customer["Id"]) is None

    ctl.pay_invoice(company.realm_id, invoice["Id"])  # the rest
    _poll(poll_queue, company)
    [event] = bus("review.requested", 1)
    assert event["detail"]["qbo_invoice_id"] == invoice["Id"]


def test_invoices_pushed_from_kyrios_request_no_review(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    customer = ctl.create_customer(company.realm_id, DisplayName="Kyrios Customer")
    noted = _invoice(ctl, company, customer["Id"], 70, PrivateNote="Kyrios invoice inv-1 (number INV-1)")
    mapped = _invoice(ctl, company, customer["Id"], 90)
    mappings.put_mapping(
        company.realm_id, "invoice", "inv-2", qbo_id=mapped["Id"], sync_token="0", applied_version=1
    )
    ctl.pay_invoice(company.realm_id, noted["Id"])
    ctl.pay_invoice(company.realm_id, mapped["Id"])
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.0) == []
    # nothing consumed:
    assert review_opportunities.get_review_marker(company.realm_id, customer["Id"]) is None

    own = _invoice(ctl, company, customer["Id"], 30)  # made in QuickBooks by the user
    ctl.pay_invoice(company.realm_id, own["Id"])
    _poll(poll_queue, company)
    assert [e["detail"]["qbo_invoice_id"] for e in bus("review.requested", 1)] == [own["Id"]]


def test_invoice_created_before_connecting_and_paid_after_counts(
    ctl: Any, connect_company: Any, account_id: str, realm_id: str, poll_queue: PollQueue, bus: Bus
) -> None:
    ctl.add_company(realm_id, "Old Books", "US")
    long_ago = (datetime.now(UTC) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [customer_id] = ctl.seed(
        realm_id, customers=[{"DisplayName": "Longtime Client", "MetaData": {"CreateTime": long_ago}}]
    )["customers"]
    company = connect_company(account_id, realm_id)
    [invoice_id] = ctl.seed(
        realm_id,
        invoices=[
            {
                "CustomerRef": {"value": customer_id},
                "TxnDate": long_ago[:10],
                "MetaData": {"CreateTime": long_ago},
                "Line": [
                    {
                        "Amount": 200,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": company.item_id},
                            "Qty": 1,
                            "UnitPrice": 200,
                        },
                    }
                ],
            }
        ],
    )["invoices"]
    time.sleep(1.05)
    ctl.pay_invoice(realm_id, invoice_id)
    _poll(poll_queue, company)
    [event] = bus("review.requested", 1)
    assert (event["detail"]["qbo_invoice_id"], event["detail"]["contact"]["qbo_customer_id"]) == (
        invoice_id,
        customer_id,
    )
    assert bus("contact.created", 1, timeout=0.5) == []  # the customer itself predates the connection


def test_import_and_live_share_one_opportunity(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus
) -> None:
    customer = ctl.create_customer(company.realm_id, DisplayName="Imported Payer")
    identity = ContactIdentity(qbo_customer_id=customer["Id"], display_name="Imported Payer")
    common = {
        "account_id": company.account_id,
        "realm_id": company.realm_id,
        "customer": identity,
        "amount": Decimal("10.00"),
        "currency": "USD",
        "paid_at": datetime.now(UTC),
        "origin": "import",
    }
    assert reviews.request_review_if_first_paid(invoice_id="9001", send_enabled=True, **common) is True
    assert reviews.request_review_if_first_paid(invoice_id="9001", send_enabled=True, **common) is False
    assert reviews.request_review_if_first_paid(invoice_id="9002", send_enabled=True, **common) is False
    [event] = bus("review.requested", 1)
    assert event["detail"]["origin"] == "import" and event["detail"]["qbo_invoice_id"] == "9001"

    live = _invoice(ctl, company, customer["Id"], 25)
    ctl.pay_invoice(company.realm_id, live["Id"])
    _poll(poll_queue, company)
    assert bus("review.requested", 1, timeout=1.5) == []


def test_a_failed_publish_is_retried_with_the_same_claim(
    ctl: Any, company: Company, poll_queue: PollQueue, bus: Bus, monkeypatch: Any
) -> None:
    from kyrios_qbo.config import get_settings

    # A customer the pusher created (no contact.created), so publishing the review is what fails.
    customer = ctl.create_customer(company.realm_id, DisplayName="Unlucky Timing", Notes="Created by Kyrios")
    invoice = _invoice(ctl, company, customer["Id"], 45)
    ctl.pay_invoice(company.realm_id, invoice["Id"])
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")  # EventBridge refuses every event
    get_settings.cache_clear()
    nudges.send_nudges([nudges.nudge(company.account_id, company.realm_id, "manual")])
    [message] = poll_queue.receive(company.realm_id, expect=1)
    result = poll_queue.run_poller(message)
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    marker = review_opportunities.get_review_marker(company.realm_id, customer["Id"])
    assert marker is not None and (marker.state, marker.invoice_id) == ("pending", invoice["Id"])

    monkeypatch.undo()
    get_settings.cache_clear()
    [again] = poll_queue.receive(company.realm_id, expect=1)
    assert poll_queue.run_poller(again) == {"batchItemFailures": []}
    assert [e["detail"]["qbo_invoice_id"] for e in bus("review.requested", 2, timeout=3)] == [invoice["Id"]]
    marker = review_opportunities.get_review_marker(company.realm_id, customer["Id"])
    assert marker is not None and marker.state == "sent"
