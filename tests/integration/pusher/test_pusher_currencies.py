"""Issue 16, multi-currency: documents in a currency other than the company's home currency, through the
bus (push queue → pusher handler → emulator).

- Without multi-currency, a foreign-currency document is refused before anything is written (no stray
  customer), naming the currency and the document; once the user turns multi-currency on, a redrive
  pushes it (the company's currency preferences are read again, not cached forever).
- With multi-currency, the customer is created in the document's currency; an existing customer in
  another currency gets a currency-specific twin (``Name (EUR)``), matched thereafter by email +
  currency; Kyrios's exchange rate travels as ``ExchangeRate``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from kyrios_qbo import store
from kyrios_qbo.webhooks import SIGNATURE_HEADER, expected_signature
from local.qbo_emulator import DEFAULT_VERIFIER_TOKEN
from tests.integration import connect_support
from tests.integration.pull.support import call_webhook
from tests.integration.pusher.conftest import (
    customer,
    dead_letters,
    invoice_event,
    line,
    money,
    payment_event,
    qbo_objects,
    sync_log,
    tax,
)

REDRIVE = "/integrations/quickbooks/dead-letters/redrive"


def _lines() -> list[dict[str, Any]]:
    return [line("l1", "prod_vase", "Vase", "2", "45.50", tax("t_vat20", "VAT", "20"))]


def _customers_with(ctl: Any, realm_id: str, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in qbo_objects(ctl, realm_id, "Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address", "").strip().lower() == email
    ]


def _qbo_document(ctl: Any, realm_id: str, entity: str, kind: str, kyrios_id: str) -> dict[str, Any]:
    mapped = store.get_mapping(realm_id, kind, kyrios_id)  # type: ignore[arg-type]
    assert mapped is not None, f"{kind} {kyrios_id} is not in QuickBooks"
    return next(o for o in qbo_objects(ctl, realm_id, entity) if o["Id"] == mapped.qbo_id)


def _customer(ctl: Any, realm_id: str, qbo_id: str) -> dict[str, Any]:
    return next(c for c in qbo_objects(ctl, realm_id, "Customer") if c["Id"] == qbo_id)


def _entry(account_id: str, kyrios_id: str) -> Any:
    return next(e for e in sync_log(account_id) if e.kyrios_id == kyrios_id)


def test_without_multicurrency_the_refusal_names_currency_and_invoice_and_redrive_works_once_it_is_on(
    connect, ctl, run_pusher, sqs, queues
) -> None:
    account = connect("GB")
    # The company is known to the pusher (and cached) from an ordinary GBP invoice first.
    home = invoice_event(account.account_id, currency="GBP", lines=_lines())
    run_pusher(home)
    assert _entry(account.account_id, home["detail"]["invoice"]["id"]).outcome == "ok"
    customers_before = len(qbo_objects(ctl, account.realm_id, "Customer"))

    who = customer("Bruno Weiss", "bruno.weiss@example.com")
    event = invoice_event(account.account_id, currency="EUR", lines=_lines(), customer_=who)
    invoice = event["detail"]["invoice"]
    responses = run_pusher(event)

    assert all(r["batchItemFailures"] == [] for r in responses)  # parked, not retried
    entry = _entry(account.account_id, invoice["id"])
    assert entry.outcome == "failed"
    assert "EUR" in entry.message and "GBP" in entry.message and "multi-currency" in entry.message
    assert invoice["id"] in entry.message and invoice["number"] in entry.message
    assert len(qbo_objects(ctl, account.realm_id, "Customer")) == customers_before  # no stray customer
    assert _customers_with(ctl, account.realm_id, "bruno.weiss@example.com") == []
    [parked] = [m for m in dead_letters(sqs, queues, timeout=1.0) if invoice["id"] in m["Body"]]
    assert parked["MessageAttributes"]["failure_reason"]["StringValue"] == "invalid_document"

    # The user turns multi-currency on in QuickBooks (as the sync log advised), then retries.
    ctl.company_settings(account.realm_id, multi_currency=True)
    status, body = connect_support.call_api("POST", REDRIVE, account.account_id)
    assert (status, body) == (200, {"redriven": 1, "left": 0})
    run_pusher()

    assert _entry(account.account_id, invoice["id"]).outcome == "ok"
    qbo = _qbo_document(ctl, account.realm_id, "Invoice", "invoice", invoice["id"])
    assert qbo["CurrencyRef"]["value"] == "EUR"
    assert money(qbo["TotalAmt"]) == Decimal(invoice["totals"]["total"])
    [bruno] = _customers_with(ctl, account.realm_id, "bruno.weiss@example.com")
    assert bruno["CurrencyRef"]["value"] == "EUR" and bruno["DisplayName"] == "Bruno Weiss"
    assert qbo["CustomerRef"]["value"] == bruno["Id"]


def test_a_company_that_turns_multicurrency_on_takes_the_next_foreign_document_without_a_redrive(
    connect, ctl, run_pusher
) -> None:
    account = connect("GB")
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))  # cached: off
    ctl.company_settings(account.realm_id, multi_currency=True)

    event = payment_event(account.account_id, source="order_form", currency="USD", lines=_lines(),
                          customer_=customer("Dana Park", "dana.park@example.com"))
    payment = event["detail"]["payment"]
    run_pusher(event)

    assert _entry(account.account_id, payment["id"]).outcome == "ok"
    receipt = _qbo_document(ctl, account.realm_id, "SalesReceipt", "sales_receipt", payment["id"])
    assert receipt["CurrencyRef"]["value"] == "USD"
    assert money(receipt["TotalAmt"]) == Decimal(payment["totals"]["total"])
    assert _customer(ctl, account.realm_id, receipt["CustomerRef"]["value"])["CurrencyRef"]["value"] == "USD"


def test_customer_in_another_currency_gets_a_currency_twin_matched_by_email_and_currency(
    connect, ctl, run_pusher
) -> None:
    account = connect("GB", multi_currency=True)
    email = "clara.jones@example.com"
    who = customer("Clara Jones", email)
    gbp = invoice_event(account.account_id, currency="GBP", lines=_lines(), customer_=who)
    run_pusher(gbp)
    [original] = _customers_with(ctl, account.realm_id, email)
    assert original["CurrencyRef"]["value"] == "GBP"

    eur = invoice_event(account.account_id, currency="EUR", lines=_lines(), customer_=who,
                        exchange_rate="0.8612")
    eur_invoice = eur["detail"]["invoice"]
    run_pusher(eur)

    assert _entry(account.account_id, eur_invoice["id"]).outcome == "ok"
    twins = [c for c in _customers_with(ctl, account.realm_id, email) if c["Id"] != original["Id"]]
    [twin] = twins
    assert twin["CurrencyRef"]["value"] == "EUR"
    assert twin["DisplayName"] == "Clara Jones (EUR)"  # a currency suffix, no personal data
    qbo = _qbo_document(ctl, account.realm_id, "Invoice", "invoice", eur_invoice["id"])
    assert qbo["CustomerRef"]["value"] == twin["Id"] and qbo["CurrencyRef"]["value"] == "EUR"
    assert money(qbo["TotalAmt"]) == Decimal(eur_invoice["totals"]["total"])
    assert Decimal(str(qbo["ExchangeRate"])) == Decimal("0.8612")  # Kyrios's rate, not QBO's of the day
    assert money(qbo["HomeTotalAmt"]) == money(Decimal(eur_invoice["totals"]["total"]) * Decimal("0.8612"))

    # Thereafter: the same email in EUR finds the twin, in GBP the original; no third customer.
    again = invoice_event(account.account_id, currency="EUR", lines=_lines(), customer_=who)
    back_home = invoice_event(account.account_id, currency="GBP", lines=_lines(), customer_=who)
    run_pusher(again)
    run_pusher(back_home)
    assert len(_customers_with(ctl, account.realm_id, email)) == 2
    again_qbo, home_qbo = (
        _qbo_document(ctl, account.realm_id, "Invoice", "invoice", e["detail"]["invoice"]["id"])
        for e in (again, back_home)
    )
    assert again_qbo["CustomerRef"]["value"] == twin["Id"]
    assert home_qbo["CustomerRef"]["value"] == original["Id"]
    assert "ExchangeRate" not in again_qbo or Decimal(str(again_qbo["ExchangeRate"])) != Decimal("0.8612")


def test_with_multicurrency_from_the_start_a_new_customer_is_created_in_the_documents_currency(
    connect, ctl, run_pusher
) -> None:
    account = connect("GB", multi_currency=True)
    customers_before = len(qbo_objects(ctl, account.realm_id, "Customer"))
    event = invoice_event(account.account_id, currency="EUR", lines=_lines(),
                          customer_=customer("Elio Rossi", "elio.rossi@example.com"))
    invoice = event["detail"]["invoice"]
    run_pusher(event)

    assert _entry(account.account_id, invoice["id"]).outcome == "ok"
    [elio] = _customers_with(ctl, account.realm_id, "elio.rossi@example.com")
    assert elio["CurrencyRef"]["value"] == "EUR" and elio["DisplayName"] == "Elio Rossi"
    assert len(qbo_objects(ctl, account.realm_id, "Customer")) == customers_before + 1
    qbo = _qbo_document(ctl, account.realm_id, "Invoice", "invoice", invoice["id"])
    assert qbo["CurrencyRef"]["value"] == "EUR" and qbo["CustomerRef"]["value"] == elio["Id"]
    assert money(qbo["TotalAmt"]) == Decimal(invoice["totals"]["total"])
    assert money(qbo["TxnTaxDetail"]["TotalTax"]) == Decimal(invoice["totals"]["tax_total"])


def _company_reads(ctl: Any, realm_id: str) -> int:
    """How often the pusher read the company's facts (CompanyInfo goes with Preferences)."""
    return sum(1 for r in ctl.requests(realm=realm_id) if r["endpoint"] == "GET companyinfo")


def _preferences_webhook(realm_id: str) -> dict[str, Any]:
    """Intuit telling us the company's Preferences changed (legacy format, signed as Intuit signs)."""
    body = json.dumps({"eventNotifications": [{"realmId": realm_id, "dataChangeEvent": {"entities": [
        {"name": "Preferences", "id": "1", "operation": "Update", "lastUpdated": "2026-12-08T00:00:00Z"}
    ]}}]}).encode()
    headers = {SIGNATURE_HEADER: expected_signature(body, DEFAULT_VERIFIER_TOKEN),
               "content-type": "application/json"}
    return call_webhook(body, headers)


def _reconnect(ctl: Any, account_id: str, realm_id: str) -> None:
    """What completing Connect again stores (``connect_flow`` ends in ``store.connect``)."""
    import time

    from kyrios_qbo import tokens
    from kyrios_qbo.intuit_auth import IssuedTokens

    issued = ctl.issue_tokens(realm_id)
    plain = IssuedTokens(access_token=issued["access_token"], refresh_token=issued["refresh_token"],
                         access_expires_at=time.time() + 3000, refresh_expires_at=time.time() + 86400)
    store.connect(account_id, realm_id, store.CompanyInfo(company_name="Test", country="GB"),
                  tokens.encrypt_tokens(account_id, realm_id, plain))


def test_a_preferences_webhook_or_a_reconnect_makes_the_next_push_read_the_company_again_and_only_then(
    connect, ctl, run_pusher
) -> None:
    account = connect("GB")
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))
    ctl.clear_requests()
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))
    assert _company_reads(ctl, account.realm_id) == 0  # cached: a home-currency push costs no read

    answer = _preferences_webhook(account.realm_id)
    assert answer["statusCode"] == 200
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))

    assert _company_reads(ctl, account.realm_id) == 1  # once after the change, then cached again

    _reconnect(ctl, account.account_id, account.realm_id)
    run_pusher(invoice_event(account.account_id, currency="GBP", lines=_lines()))
    assert _company_reads(ctl, account.realm_id) == 2
