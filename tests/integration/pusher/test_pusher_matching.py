"""Customer matching through the pusher: existing customers by email, one new customer per email even
under races, readable deterministic names when QBO already uses the name (6240)."""

from __future__ import annotations

from typing import Any

from kyrios_qbo import store
from tests.integration.pusher.conftest import (
    customer,
    invoice_event,
    line,
    push_concurrently,
    qbo_objects,
)


def _invoice_for(account_id: str, who: dict[str, Any]) -> dict[str, Any]:
    return invoice_event(
        account_id,
        currency="GBP",
        customer_=who,
        lines=[line("l1", "prod_lesson", "Pottery lesson", "1", "40.00")],
    )


def _customers_with(ctl: Any, realm_id: str, email: str) -> list[dict[str, Any]]:
    return [
        c
        for c in qbo_objects(ctl, realm_id, "Customer")
        if (c.get("PrimaryEmailAddr") or {}).get("Address", "").strip().lower() == email
    ]


def _customer_refs(ctl: Any, realm_id: str) -> list[str]:
    return [i["CustomerRef"]["value"] for i in qbo_objects(ctl, realm_id, "Invoice")]


def test_existing_qbo_customer_is_found_by_email(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    existing = ctl.create_customer(
        account.realm_id, DisplayName="Grace B. Hopper", PrimaryEmailAddr={"Address": "grace@example.com"}
    )
    run_pusher(_invoice_for(account.account_id, customer("Grace Hopper", " Grace@Example.COM ")))

    assert _customer_refs(ctl, account.realm_id) == [existing["Id"]]
    assert len(_customers_with(ctl, account.realm_id, "grace@example.com")) == 1
    assert store.find_customer_by_email(account.realm_id, "grace@example.com") == existing["Id"]


def test_new_customer_is_created_from_name_and_email(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    who = customer(
        "Ada Lovelace", "Ada@Example.com", company="Analytical Engines Ltd", phone="+44 20 7946 0000"
    )
    run_pusher(_invoice_for(account.account_id, who))

    [created] = _customers_with(ctl, account.realm_id, "ada@example.com")
    assert created["DisplayName"] == "Ada Lovelace"
    assert created["CompanyName"] == "Analytical Engines Ltd"
    assert "Created by Kyrios" in created["Notes"]
    assert _customer_refs(ctl, account.realm_id) == [created["Id"]]
    mapping = store.get_mapping(account.realm_id, "customer", "ada@example.com")
    assert mapping is not None and mapping.qbo_id == created["Id"]


def test_email_variants_match_one_customer(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    variants = ["ada@example.com", "  ADA@EXAMPLE.COM", "Ada@Example.Com  "]
    for email in variants:  # one after the other: the first creates, the others find it
        run_pusher(_invoice_for(account.account_id, customer("Ada Lovelace", email)))

    [only] = _customers_with(ctl, account.realm_id, "ada@example.com")
    assert _customer_refs(ctl, account.realm_id) == [only["Id"]] * 3


def test_display_name_clash_gets_a_numbered_suffix_without_personal_data(connect, run_pusher, ctl) -> None:
    account = connect("GB")
    # A vendor holds the plain name and another customer the first fallback (QBO answers 6240 for both:
    # DisplayName is unique across customers, vendors and employees).
    ctl.user_action(account.realm_id, "Vendor", "create", {"DisplayName": "Harper Lane"})
    ctl.create_customer(
        account.realm_id, DisplayName="Harper Lane (2)", PrimaryEmailAddr={"Address": "other@example.com"}
    )
    run_pusher(_invoice_for(account.account_id, customer("Harper Lane", "harper.lane@example.com")))

    [created] = _customers_with(ctl, account.realm_id, "harper.lane@example.com")
    assert created["DisplayName"] == "Harper Lane (3)"  # printed on every document: no email in it
    assert "@" not in created["DisplayName"] and "@" not in created.get("PrintOnCheckName", "")
    assert _customer_refs(ctl, account.realm_id) == [created["Id"]]
    assert len(qbo_objects(ctl, account.realm_id, "Customer")) == 2
    attempts = [r for r in ctl.requests(realm=account.realm_id) if r["endpoint"] == "POST customer"]
    assert len(attempts) == 3  # bounded: one create per candidate name


def test_concurrent_events_for_one_new_email_create_exactly_one_customer(connect, ctl, sqs, queues) -> None:

    account = connect("GB")
    events = [
        _invoice_for(account.account_id, customer("Ada Lovelace", email))
        for email in ("ada@example.com", "ADA@example.com", " ada@EXAMPLE.com", "Ada@Example.com")
    ]
    push_concurrently(sqs, queues, events)

    [only] = _customers_with(ctl, account.realm_id, "ada@example.com")
    assert _customer_refs(ctl, account.realm_id) == [only["Id"]] * 4
    creates = [r for r in ctl.requests(realm=account.realm_id) if r["endpoint"] == "POST customer"]
    assert len({r["requestid"] for r in creates}) == 1  # at most one creator ever asked QBO
