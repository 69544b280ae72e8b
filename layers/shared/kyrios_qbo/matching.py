"""Email → QBO customer: find the customer a Kyrios document belongs to, or create exactly one.

Order of lookups: our email index (kept current by the poller when an email changes in QBO), then QBO
itself (``PrimaryEmailAddr``, escaped by the query builder), then creation. Creation is guarded twice
against duplicates: a claim in the store (two concurrent pushes for one new email → one creator, the
other waits for the index) and a ``requestid`` derived from realm + email + attempt (a retried create,
even after the claim expired, replays instead of writing again). A DisplayName clash (6240) moves to the
next deterministic, readable name (``mapping.display_name``).

A customer we create carries ``Notes: Created by Kyrios`` and an id mapping of kind ``customer`` (keyed
by the normalised email), so the contact poller knows it came from Kyrios and never echoes it back.

Currencies (multi-currency companies): a QBO customer has one currency (``CurrencyRef``, the company's
home currency when absent; Intuit, "Manage multiple currencies"), and a transaction must be in its
customer's currency. A document is therefore matched by email **and** currency: the home currency uses
the plain email keys above; a foreign currency uses ``<email>#<CUR>`` keys (index and mapping), and only
QBO customers in that currency qualify. When the email exists in QBO only in other currencies, a twin is
created in the document's currency, named ``<name> (<CUR>)`` (no personal data in the name).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kyrios_qbo import mapping, store
from kyrios_qbo.models.kyrios import KyriosCustomer
from kyrios_qbo.models.qbo import Customer
from kyrios_qbo.qbo_client import QboClient
from kyrios_qbo.qbo_errors import QboDuplicateName
from kyrios_qbo.qbo_query import Select

CREATED_BY_NOTE = "Created by Kyrios"
MAX_NAME_ATTEMPTS = 6
CLAIM_SECONDS = 60.0
WAIT_FOR_OTHER_CREATOR_SECONDS = 8.0
_POLL_INTERVAL = 0.25


class CustomerBeingCreated(Exception):
    """Another invocation is creating the customer for this email right now; retry the message later."""

    retryable = True

    def __init__(self, email: str) -> None:
        super().__init__(f"another push is creating the QuickBooks customer for {email}")
        self.email = email


class NoFreeDisplayName(mapping.MappingError):
    """Every candidate DisplayName is taken (6240 each time): a person has to sort out the names."""

    code = "duplicate_display_name"


@dataclass(frozen=True)
class MatchedCustomer:
    qbo_id: str
    email: str
    created: bool


def claim_key(email: str) -> str:
    return f"customer-email:{email}"


@dataclass(frozen=True)
class CustomerCurrency:
    """The currency a document needs its customer in, and the company's home currency."""

    currency: str
    home: str

    @property
    def foreign(self) -> bool:
        return self.currency != self.home

    def key(self, email: str) -> str:
        """The index / mapping key of ``email`` in this currency (the plain email for the home one)."""
        return f"{email}#{self.currency.lower()}" if self.foreign else email

    def holds(self, customer: Customer) -> bool:
        """Whether the QBO customer is in this currency (no ``CurrencyRef``: the home currency)."""
        code = (customer.currency_ref.value if customer.currency_ref else "") or self.home
        return code.upper() == self.currency


def require_email(customer: KyriosCustomer) -> str:
    """The normalised email, or :class:`mapping.MissingCustomerEmail` (permanent: nothing to match on)."""
    if not customer.email:
        raise mapping.MissingCustomerEmail(
            f"the Kyrios customer {customer.display_name!r} has no email address, so it cannot be matched "
            "to a QuickBooks customer: add an email in Kyrios and send the document again"
        )
    return store.normalize_email(customer.email)


def find_in_quickbooks(client: QboClient, email: str) -> Customer | None:
    """The QBO customer whose primary email is ``email`` (any case), see :func:`pick_customer`."""
    return pick_customer(_with_email(client, email), email)


def _with_email(client: QboClient, email: str) -> list[Customer]:
    rows = client.query(Select("Customer").where("PrimaryEmailAddr", "=", email))
    return [Customer.model_validate(row) for row in rows]


def pick_customer(candidates: Iterable[Customer], email: str) -> Customer | None:
    """Among QBO customers, the one a normalised ``email`` belongs to: same email ignoring case and
    surrounding spaces, active before inactive, then the oldest (lowest numeric Id), so every push of
    the same email picks the same customer even when QBO holds duplicates."""
    same = [customer for customer in candidates if _normalized(customer.email) == email]
    if not same:
        return None

    def preference(customer: Customer) -> tuple[int, int, str]:
        numeric = customer.id.isdigit()
        return (0 if customer.active is not False else 1, int(customer.id) if numeric else 0, customer.id)

    return min(same, key=preference)


def _normalized(email: str | None) -> str | None:
    try:
        return store.normalize_email(email) if email else None
    except store.InvalidKey:
        return None


def match_customer(
    client: QboClient,
    customer: KyriosCustomer,
    *,
    owner: str,
    seconds_left: Callable[[], float] | None = None,
    currency: CustomerCurrency | None = None,
) -> MatchedCustomer:
    """The QBO customer id for ``customer`` (see module docstring). ``owner`` names this invocation (its
    claims); ``seconds_left`` bounds how long we wait for a concurrent creator; ``currency`` the
    document's currency (None: the home currency, any customer with the email qualifies)."""
    realm_id = client.realm_id
    email = require_email(customer)
    key = currency.key(email) if currency else email
    indexed = store.find_customer_by_email(realm_id, key)
    if indexed:
        return MatchedCustomer(indexed, email, created=False)
    same_email = _with_email(client, email)
    candidates = [c for c in same_email if currency is None or currency.holds(c)]
    existing = pick_customer(candidates, email)
    if existing is not None:
        store.index_customer_email(realm_id, key, existing.id)
        return MatchedCustomer(existing.id, email, created=False)
    # The email exists only in other currencies: this one is a twin, named with its currency.
    twin = currency.currency if currency and pick_customer(same_email, email) else None

    try:
        store.claim(realm_id, claim_key(key), owner, ttl_seconds=CLAIM_SECONDS)
    except store.ClaimHeld:
        return _wait_for_other_creator(realm_id, email, key, seconds_left)
    try:
        # The other creator may have finished between our index read and our claim.
        indexed = store.find_customer_by_email(realm_id, key)
        if indexed:
            return MatchedCustomer(indexed, email, created=False)
        foreign = currency.currency if currency and currency.foreign else None
        created = _create(client, customer, email, currency=foreign, twin=twin)
        store.put_mapping_if_absent(
            realm_id, "customer", key, qbo_id=created.id, sync_token=created.sync_token
        )
        store.index_customer_email(realm_id, key, created.id)
        return MatchedCustomer(created.id, email, created=True)
    finally:
        store.release_claim(realm_id, claim_key(key), owner)


def _wait_for_other_creator(
    realm_id: str, email: str, key: str, seconds_left: Callable[[], float] | None
) -> MatchedCustomer:
    budget = WAIT_FOR_OTHER_CREATOR_SECONDS
    if seconds_left is not None:
        budget = min(budget, max(0.0, seconds_left() - 5.0))
    give_up = time.monotonic() + budget
    while True:
        indexed = store.find_customer_by_email(realm_id, key)
        if indexed:
            return MatchedCustomer(indexed, email, created=False)
        if time.monotonic() >= give_up:
            raise CustomerBeingCreated(email)
        time.sleep(_POLL_INTERVAL)


def customer_body(
    customer: KyriosCustomer,
    email: str,
    attempt: int,
    *,
    currency: str | None = None,
    twin: str | None = None,
) -> dict[str, Any]:
    body = mapping.customer_payload(
        customer.display_name,
        email,
        given_name=customer.given_name,
        family_name=customer.family_name,
        company=customer.company,
        phone=customer.phone,
        attempt=attempt,
        currency=currency,
        twin=twin,
    )
    body["Notes"] = CREATED_BY_NOTE
    return body


def _create(
    client: QboClient, customer: KyriosCustomer, email: str, *, currency: str | None, twin: str | None
) -> Customer:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        body = customer_body(customer, email, attempt, currency=currency, twin=twin)
        # Home-currency customers keep the ids they always had; a currency or twin gets its own.
        parts: tuple[object, ...] = (email, attempt)
        if currency is not None or twin is not None:
            parts = (email, currency or "", twin or "", attempt)
        request_id = mapping.request_id("customer", client.realm_id, *parts)
        try:
            return Customer.model_validate(client.create("Customer", body, request_id=request_id))
        except QboDuplicateName:
            continue
    raise NoFreeDisplayName(
        f"QuickBooks already uses every name we tried for {customer.display_name!r} ({email}); rename or "
        "merge the existing customers, vendors or employees with that name in QuickBooks, then sync again"
    )
