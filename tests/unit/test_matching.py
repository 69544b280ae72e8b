"""Pure rules of customer matching: which QBO customer an email belongs to, what a new one looks like."""

from __future__ import annotations

import pytest

from kyrios_qbo import mapping, matching, store
from kyrios_qbo.models.kyrios import KyriosCustomer
from kyrios_qbo.models.qbo import Customer


def qbo_customer(customer_id: str, email: str | None, *, active: bool = True, name: str = "X") -> Customer:
    data: dict[str, object] = {"Id": customer_id, "DisplayName": name, "Active": active}
    if email is not None:
        data["PrimaryEmailAddr"] = {"Address": email}
    return Customer.model_validate(data)


def test_pick_customer_ignores_case_and_surrounding_spaces() -> None:
    rows = [qbo_customer("7", "other@example.com"), qbo_customer("9", "  Ada@Example.COM ")]
    picked = matching.pick_customer(rows, "ada@example.com")
    assert picked is not None and picked.id == "9"


def test_pick_customer_none_when_no_email_matches() -> None:
    rows = [qbo_customer("1", "ada@example.org"), qbo_customer("2", None), qbo_customer("3", "not an email")]
    assert matching.pick_customer(rows, "ada@example.com") is None


def test_pick_customer_prefers_active_then_oldest_numeric_id() -> None:
    rows = [
        qbo_customer("3", "ada@example.com", active=False),
        qbo_customer("12", "ada@example.com"),
        qbo_customer("10", "ADA@example.com"),
    ]
    picked = matching.pick_customer(rows, "ada@example.com")
    assert picked is not None and picked.id == "10"  # "10" < "12" numerically; the inactive "3" loses
    assert matching.pick_customer(list(reversed(rows)), "ada@example.com") == picked  # order-independent


def test_pick_customer_uses_the_same_normal_form_as_the_email_index() -> None:
    # casefold, not lower: QBO's "Straße@" and Kyrios' "STRASSE@" are one address for the index.
    email = store.normalize_email("STRASSE@example.de")
    picked = matching.pick_customer([qbo_customer("5", "Straße@Example.de")], email)
    assert picked is not None and picked.id == "5"


def test_require_email_normalises() -> None:
    ada = KyriosCustomer(full_name="Ada Lovelace", email="Ada.Lovelace@Example.com")
    assert matching.require_email(ada) == "ada.lovelace@example.com"


def test_require_email_refuses_a_customer_without_email_permanently() -> None:
    nobody = KyriosCustomer(given_name="Ada", family_name="Lovelace")
    with pytest.raises(mapping.MissingCustomerEmail) as caught:
        matching.require_email(nobody)
    assert caught.value.permanent and "Ada Lovelace" in str(caught.value)


def test_customer_body_marks_creation_by_kyrios_and_moves_to_readable_names_on_clashes() -> None:
    ada = KyriosCustomer(
        given_name="Ada",
        family_name="Lovelace",
        email="ada@example.com",
        company="Engines Ltd",
        phone="+44 20 1234 5678",
    )
    names = [matching.customer_body(ada, "ada@example.com", attempt)["DisplayName"] for attempt in (1, 2, 3)]
    assert names == ["Ada Lovelace", "Ada Lovelace (2)", "Ada Lovelace (3)"]  # no personal data added
    body = matching.customer_body(ada, "ada@example.com", 1)
    assert body["Notes"] == matching.CREATED_BY_NOTE
    assert body["PrimaryEmailAddr"] == {"Address": "ada@example.com"}
    assert (body["GivenName"], body["FamilyName"], body["CompanyName"]) == ("Ada", "Lovelace", "Engines Ltd")


def test_customer_body_names_are_deterministic_and_fit_qbo() -> None:
    long_name = KyriosCustomer(full_name="Dr: " + "Very Long Name " * 10, email="long@example.com")
    first = [matching.customer_body(long_name, "long@example.com", n)["DisplayName"] for n in range(1, 5)]
    again = [matching.customer_body(long_name, "long@example.com", n)["DisplayName"] for n in range(1, 5)]
    assert first == again
    assert len(set(first)) == 4
    assert all(len(name) <= 100 and ":" not in name for name in first)


def test_claim_key_is_per_normalised_email() -> None:
    assert matching.claim_key("ada@example.com") == "customer-email:ada@example.com"
