"""Email → QBO customer: find the customer a Kyrios document belongs to, or create exactly one.

Order of lookups: our email index (kept current by the poller when an email changes in QBO), then QBO
itself (``PrimaryEmailAddr``, escaped by the query builder), then creation. Creation is guarded twice
against duplicates: a claim in the store (two concurrent pushes for one new email → one creator, the
other waits for the index) and a ``requestid`` derived from realm + email + attempt (a retried create,
even after the claim expired, replays instead of writing again). A DisplayName clash (6240) moves to the
next deterministic, readable name (``mapping.display_name``).

A customer we create carries ``Notes: Created by Kyrios`` and an id mapping of kind ``customer`` (keyed
by the normalised email), so the contact poller knows it came from Kyrios and never echoes it back.
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
    rows = client.query(Select("Customer").where("PrimaryEmailAddr", "=", email))
    return pick_customer((Customer.model_validate(row) for row in rows), email)


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
) -> MatchedCustomer:
    """The QBO customer id for ``customer`` (see module docstring). ``owner`` names this invocation (its
    claims); ``seconds_left`` bounds how long we wait for a concurrent creator."""
    realm_id = client.realm_id
    email = require_email(customer)
    indexed = store.find_customer_by_email(realm_id, email)
    if indexed:
        return MatchedCustomer(indexed, email, created=False)
    existing = find_in_quickbooks(client, email)
    if existing is not None:
        store.index_customer_email(realm_id, email, existing.id)
        return MatchedCustomer(existing.id, email, created=False)

    try:
        store.claim(realm_id, claim_key(email), owner, ttl_seconds=CLAIM_SECONDS)
    except store.ClaimHeld:
        return _wait_for_other_creator(realm_id, email, seconds_left)
    try:
        # The other creator may have finished between our index read and our claim.
        indexed = store.find_customer_by_email(realm_id, email)
        if indexed:
            return MatchedCustomer(indexed, email, created=False)
        created = _create(client, customer, email)
        store.put_mapping_if_absent(
            realm_id, "customer", email, qbo_id=created.id, sync_token=created.sync_token
        )
        store.index_customer_email(realm_id, email, created.id)
        return MatchedCustomer(created.id, email, created=True)
    finally:
        store.release_claim(realm_id, claim_key(email), owner)


def _wait_for_other_creator(
    realm_id: str, email: str, seconds_left: Callable[[], float] | None
) -> MatchedCustomer:
    budget = WAIT_FOR_OTHER_CREATOR_SECONDS
    if seconds_left is not None:
        budget = min(budget, max(0.0, seconds_left() - 5.0))
    give_up = time.monotonic() + budget
    while True:
        indexed = store.find_customer_by_email(realm_id, email)
        if indexed:
            return MatchedCustomer(indexed, email, created=False)
        if time.monotonic() >= give_up:
            raise CustomerBeingCreated(email)
        time.sleep(_POLL_INTERVAL)


def customer_body(customer: KyriosCustomer, email: str, attempt: int) -> dict[str, Any]:
    body = mapping.customer_payload(
        customer.display_name,
        email,
        given_name=customer.given_name,
        family_name=customer.family_name,
        company=customer.company,
        phone=customer.phone,
        attempt=attempt,
    )
    body["Notes"] = CREATED_BY_NOTE
    return body


def _create(client: QboClient, customer: KyriosCustomer, email: str) -> Customer:
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        body = customer_body(customer, email, attempt)
        request_id = mapping.request_id("customer", client.realm_id, email, attempt)
        try:
            return Customer.model_validate(client.create("Customer", body, request_id=request_id))
        except QboDuplicateName:
            continue
    raise NoFreeDisplayName(
        f"QuickBooks already uses every name we tried for {customer.display_name!r} ({email}); rename or "
        "merge the existing customers, vendors or employees with that name in QuickBooks, then sync again"
    )
