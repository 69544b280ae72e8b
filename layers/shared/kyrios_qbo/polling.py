"""The per-company poll: what changed in QuickBooks since the cursor, and what Kyrios must hear about it.

One poll of one company (:func:`poll_company`):

1. holds the company's poll cursor (store; the same write reads it), so nothing polls the company
   twice at once even outside the FIFO queue (a manual run, a redelivery after a timeout) →
   :class:`PollBusy`;
2. reads the changes since ``cursor - OVERLAP`` (the cursor starts at the connection's
   ``connected_at``): CDC for Customer and Invoice, paging past its 1000-object cap by moving
   ``changedSince`` to the newest ``LastUpdatedTime`` seen; when the cursor is older than CDC's 30 days, a
   paged query on ``MetaData.LastUpdatedTime`` instead (it cannot see deletions; nothing else can either);
3. customers → contacts (:func:`sync_customers`) and the email index; paid invoices → review
   requests (:func:`request_reviews`);
4. only when all of that was published and recorded, moves the cursor forward (its ``updated_at``
   is the status page's "last sync") and lets go of the hold in the same write; the company is then
   not due for the safety sweep for an interval (:func:`kyrios_qbo.sweep.after_poll`). Any failure before
   leaves the cursor where it was, so the retry (SQS redelivery) reads the same changes again; the
   once-markers make the repeat harmless.

Contacts — a ``contact.created`` goes out for a customer that

* was created after ``connected_at`` (``MetaData.CreateTime``, which has whole seconds: the second
  of connecting counts as after): customers that existed before connecting are not synced (users
  import them by CSV);
* is active and not deleted or merged away;
* was not created by the bundle itself: the pusher writes ``Created by Kyrios`` into the customer's
  ``Notes`` and an id mapping of kind ``customer``; either one is enough (the note covers the race
  where we see the customer before the mapping is written);
* has not been published before: a once-marker (``contact_published`` on the customer's record in
  :mod:`kyrios_qbo.store.pulled_customers`, batched) is written after a successful publish. The event id
  is derived from realm + customer id only (:class:`~kyrios_qbo.models.published.ContactCreated`), so
  a crash between publishing and writing the marker produces a repeat Kyrios drops as a duplicate.

Email index — every active customer seen points its email at itself; when QBO changes a
customer's email the old entry is removed only if it still points at that customer; deleted, merged
or deactivated customers lose their entries.

Reviews — an invoice with ``Balance == 0`` and ``TotalAmt > 0`` goes to
:func:`kyrios_qbo.reviews.request_review_if_first_paid` (the rule and its reasons are documented
there), except invoices the bundle pushed from Kyrios (``invoice`` id mapping, or ``Kyrios invoice`` in
``PrivateNote``): Kyrios core recorded those payments itself and runs its own review flow for them.
``paid_at`` is the invoice's ``LastUpdatedTime`` — the change that brought its balance to 0.

Times: QBO's times drive the window (``LastUpdatedTime``), the clock of this function only moves the
cursor of a quiet company; ``OVERLAP`` absorbs the skew between the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import ValidationError

from kyrios_qbo import events, reviews, sweep
from kyrios_qbo.mapping import PUSHED_INVOICE_NOTE
from kyrios_qbo.matching import CREATED_BY_NOTE
from kyrios_qbo.models.published import Address, ContactCreated, ContactIdentity
from kyrios_qbo.models.qbo import Customer, Invoice, QboEntity
from kyrios_qbo.observability import logger
from kyrios_qbo.qbo_access import NeedsReconnect, NotConnected, client_for
from kyrios_qbo.qbo_client import CDC_MAX_AGE, CdcWindowExceeded, Deadline, QboClient
from kyrios_qbo.qbo_errors import QboAuthError, QboNotFound, QboValidationError
from kyrios_qbo.qbo_query import MAX_PAGE_SIZE, Select
from kyrios_qbo.store import connections, coordination, mappings, pulled_customers, review_opportunities
from kyrios_qbo.store.errors import InvalidKey, LeaseHeld
from kyrios_qbo.store.pulled_customers import PulledCustomer

OVERLAP = timedelta(seconds=120)
"""Re-read this much before the cursor: QBO's and our clocks differ, and QBO's servers among themselves."""
CDC_SAFE_AGE = CDC_MAX_AGE - timedelta(days=1)
"""Older windows use the query fallback (a margin so QBO's own 30-day check never trips first)."""
CDC_ENTITIES = ("Customer", "Invoice")
CDC_CAP = 1000
MAX_CDC_PAGES = 200
HOLD_SECONDS = 330.0
"""Longer than a poll can run (the poller's timeout), shorter than the poll queue's visibility timeout:
a crashed poll's hold has lapsed by the time SQS redelivers its nudge."""
CURSOR_NAME = coordination.POLL_CURSOR
PUBLISH_SLICE = 250
"""``PrivateNote`` prefix of invoices the pusher writes (kyrios_qbo.mapping)."""

PollStatus = Literal["polled", "not_connected", "needs_reconnect", "stale_nudge"]


class PollBusy(Exception):
    """Another poller holds the company's lease: retry later (the record fails, SQS redelivers)."""

    def __init__(self, realm_id: str, holder: str) -> None:
        super().__init__(f"company {realm_id} is being polled by {holder}")
        self.realm_id = realm_id
        self.holder = holder


@dataclass
class PollResult:
    status: PollStatus
    account_id: str
    realm_id: str
    contacts_published: int = 0
    reviews_requested: int = 0
    customers_seen: int = 0
    invoices_seen: int = 0
    cursor: datetime | None = None
    reason: str | None = None


@dataclass
class Changes:
    """Newest state of each changed object (by id), plus the newest ``LastUpdatedTime`` seen."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    newest: datetime | None = None

    def add(self, entity: str, rows: Iterable[dict[str, Any]]) -> int:
        """Merge rows; returns how many were new or newer than what we had."""
        target = self.customers if entity == "Customer" else self.invoices
        added = 0
        for row in rows:
            object_id = str(row.get("Id") or "")
            if not object_id:
                continue
            updated = last_updated(row)
            known = target.get(object_id)
            if known is not None and _newer_or_equal(last_updated(known), updated):
                continue
            target[object_id] = row
            added += 1
            if updated is not None and (self.newest is None or updated > self.newest):
                self.newest = updated
        return added


def _newer_or_equal(a: datetime | None, b: datetime | None) -> bool:
    if a is None:
        return b is None
    return b is None or a >= b


def parse_qbo_time(value: Any) -> datetime | None:
    """QBO timestamps (``2015-10-07T11:42:38-07:00``; webhooks also ``-0700`` and ``Z``) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # -0700 → -07:00
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def last_updated(row: dict[str, Any]) -> datetime | None:
    meta = row.get("MetaData")
    return parse_qbo_time(meta.get("LastUpdatedTime")) if isinstance(meta, dict) else None


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def created_at(entity: QboEntity) -> datetime | None:
    return _utc(entity.meta_data.create_time) if entity.meta_data else None


def updated_at(entity: QboEntity) -> datetime | None:
    return _utc(entity.meta_data.last_updated_time) if entity.meta_data else None


# ------------------------------------------------------------------------------------ reading changes


def read_changes(client: QboClient, since: datetime, *, now: datetime) -> Changes:
    """Customers and invoices changed since ``since`` (CDC, or the query fallback beyond 30 days)."""
    changes = Changes()
    if now - since > CDC_SAFE_AGE:
        _query_changes(client, since, changes)
        return changes
    changed_since = since
    for _page in range(MAX_CDC_PAGES):
        try:
            answer = client.cdc(CDC_ENTITIES, changed_since)
        except (CdcWindowExceeded, QboValidationError) as exc:
            # QBO's clock is ahead of ours (or it judges the window differently): same data by query.
            logger.warning("CDC refused the window; querying instead", extra={"error": str(exc)})
            _query_changes(client, changed_since, changes)
            return changes
        rows = sum(len(answer.get(entity, [])) for entity in CDC_ENTITIES)
        fresh = sum(changes.add(entity, answer.get(entity, [])) for entity in CDC_ENTITIES)
        capped = [e for e in CDC_ENTITIES if len(answer.get(e, [])) >= CDC_CAP] or (
            list(CDC_ENTITIES) if rows >= CDC_CAP else []
        )
        if not capped:
            return changes
        newest = max(
            (t for e in capped for r in answer[e] if (t := last_updated(r)) is not None), default=None
        )
        if newest is None or fresh == 0 or newest <= changed_since:
            # Over 1000 objects share one timestamp: CDC cannot page past them, STARTPOSITION can.
            _query_changes(client, changed_since, changes, entities=capped)
            return changes
        # Inclusive of the newest second: objects sharing it that did not fit are read again.
        changed_since = newest
    raise RuntimeError(f"more than {MAX_CDC_PAGES} CDC pages in one poll")


def _query_changes(
    client: QboClient, since: datetime, changes: Changes, entities: Iterable[str] = CDC_ENTITIES
) -> None:
    for entity in entities:
        select = (
            Select(entity).where("MetaData.LastUpdatedTime", ">=", since).order_by("MetaData.LastUpdatedTime")
        )
        for page in client.query_pages(select, page_size=MAX_PAGE_SIZE):
            changes.add(entity, page)


# ------------------------------------------------------------------------------------ contacts


def _is_created_by_kyrios(customer: Customer) -> bool:
    notes = getattr(customer, "notes", None) or (customer.model_extra or {}).get("Notes")
    return isinstance(notes, str) and CREATED_BY_NOTE.lower() in notes.lower()


def _normalized(email: str | None) -> str | None:
    if not email:
        return None
    try:
        return mappings.normalize_email(email)
    except InvalidKey:
        return None  # QBO accepts odd text in the email field; it is not an address to match on


def contact_event(account_id: str, realm_id: str, customer: Customer) -> ContactCreated:
    addr = customer.bill_addr
    address = None
    if addr is not None and any((addr.line1, addr.line2, addr.city, addr.postal_code, addr.country)):
        address = Address(
            line1=addr.line1,
            line2=addr.line2,
            city=addr.city,
            region=addr.country_sub_division_code,
            postal_code=addr.postal_code,
            country=addr.country,
        )
    return ContactCreated(
        account_id=account_id,
        realm_id=realm_id,
        occurred_at=created_at(customer) or datetime.now(UTC),
        qbo_customer_id=customer.id,
        display_name=customer.display_name or customer.company_name or f"Customer {customer.id}",
        given_name=customer.given_name,
        family_name=customer.family_name,
        company=customer.company_name,
        email=_normalized(customer.email),
        phone=customer.primary_phone.free_form_number if customer.primary_phone else None,
        address=address,
    )


def _parse_customers(rows: Iterable[dict[str, Any]]) -> list[Customer]:
    parsed = []
    for row in sorted(rows, key=lambda r: last_updated(r) or datetime.min.replace(tzinfo=UTC)):
        try:
            parsed.append(Customer.model_validate(row))
        except ValidationError as exc:
            logger.warning(
                "unreadable customer skipped", extra={"customer_id": row.get("Id"), "error": str(exc)}
            )
    return parsed


def sync_customers(
    account_id: str,
    realm_id: str,
    connected_at: datetime,
    rows: Iterable[dict[str, Any]],
    *,
    home_currency: str | None = None,
) -> int:
    """Contacts for new customers, email index for all of them; returns how many contacts went out.

    The email index is the home currency's (``kyrios_qbo.matching``): a customer in another currency
    (``CurrencyRef`` other than ``home_currency``) is not indexed, so a home-currency document never
    lands on a foreign-currency twin."""
    customers = _parse_customers(rows)
    if not customers:
        return 0
    known = pulled_customers.load(realm_id, [c.id for c in customers])
    # QBO's CreateTime has whole seconds: a customer created in the second of connecting counts as after.
    cutoff = connected_at.replace(microsecond=0)
    gone = [c for c in customers if c.is_deleted or c.active is False]
    live = [c for c in customers if not (c.is_deleted or c.active is False)]

    candidates = [
        c
        for c in live
        if (created := created_at(c)) is not None
        and created >= cutoff
        and not _is_created_by_kyrios(c)
        and not (c.id in known and known[c.id].contact_published)
    ]
    ours = mappings.mapped_qbo_ids(realm_id, "customer", [c.id for c in candidates])
    to_publish = [c for c in candidates if c.id not in ours]

    # Email index before publishing: the pusher may act on the new contact at once.
    home = [c for c in live if _in_currency(c, home_currency)]
    _update_email_index(realm_id, home, gone, known)
    records: dict[str, PulledCustomer] = {}
    for c in live:
        email = _normalized(c.email)
        previous = known.get(c.id)
        if previous is None or previous.email != email:
            records[c.id] = PulledCustomer(c.id, email, previous.contact_published if previous else False)
    for c in gone:
        previous = known.get(c.id)
        if previous is not None and previous.email is not None:
            records[c.id] = PulledCustomer(c.id, None, previous.contact_published)

    pulled_customers.save(realm_id, records.values())
    # Publish in slices, each followed by its markers: a failure late in a burst of thousands only
    # repeats the slice it happened in.
    for start in range(0, len(to_publish), PUBLISH_SLICE):
        chunk = to_publish[start : start + PUBLISH_SLICE]
        events.publish(
            events.OutgoingEvent(ContactCreated.DETAIL_TYPE, contact_event(account_id, realm_id, c))
            for c in chunk
        )
        pulled_customers.save(
            realm_id, (PulledCustomer(c.id, _normalized(c.email), contact_published=True) for c in chunk)
        )
    return len(to_publish)


def _in_currency(customer: Customer, home_currency: str | None) -> bool:
    code = customer.currency_ref.value if customer.currency_ref else None
    return not (home_currency and code) or str(code).upper() == home_currency.upper()


def _update_email_index(
    realm_id: str, live: list[Customer], gone: list[Customer], known: dict[str, PulledCustomer]
) -> None:
    fresh: dict[str, str] = {}
    for c in live:
        email = _normalized(c.email)
        previous = known.get(c.id)
        old = previous.email if previous else None
        if email and (previous is None or old != email):
            fresh[c.id] = email
        if old and old != email:
            mappings.move_customer_email(realm_id, c.id, old, None)  # conditional: only if still ours
    mappings.index_customer_emails(realm_id, fresh)
    for c in gone:
        previous = known.get(c.id)
        for old in {previous.email if previous else None, _normalized(c.email)} - {None}:
            mappings.move_customer_email(realm_id, c.id, old, None)


# ------------------------------------------------------------------------------------ reviews


def _is_pushed_by_kyrios(invoice: Invoice) -> bool:
    return PUSHED_INVOICE_NOTE.lower() in (invoice.private_note or "").lower()


def _identity(customer: Customer) -> ContactIdentity:
    return ContactIdentity(
        qbo_customer_id=customer.id,
        display_name=customer.display_name or customer.company_name or f"Customer {customer.id}",
        email=_normalized(customer.email),
    )


def request_reviews(
    client: QboClient,
    connection: connections.Connection,
    invoice_rows: Iterable[dict[str, Any]],
    customer_rows: dict[str, dict[str, Any]],
) -> int:
    """Review requests for invoices that became paid; returns how many were published."""
    paid: list[Invoice] = []
    for row in sorted(invoice_rows, key=lambda r: last_updated(r) or datetime.min.replace(tzinfo=UTC)):
        try:
            invoice = Invoice.model_validate(row)
        except ValidationError as exc:
            logger.warning(
                "unreadable invoice skipped", extra={"invoice_id": row.get("Id"), "error": str(exc)}
            )
            continue
        if invoice.is_deleted or not invoice.is_paid or invoice.customer_ref is None:
            continue
        if _is_pushed_by_kyrios(invoice):
            continue
        paid.append(invoice)
    if not paid:
        return 0
    pushed = mappings.mapped_qbo_ids(connection.realm_id, "invoice", [i.id for i in paid])
    send_enabled = bool(connection.settings.get("send_review_requests", True))
    requested = 0
    for invoice in paid:
        customer_id = invoice.customer_ref.value if invoice.customer_ref else ""
        if invoice.id in pushed or review_opportunities.review_decided(connection.realm_id, customer_id):
            continue
        customer = _load_customer(client, customer_id, customer_rows)
        if customer is None:
            continue
        if reviews.request_review_if_first_paid(
            account_id=connection.account_id,
            realm_id=connection.realm_id,
            customer=_identity(customer),
            invoice_id=invoice.id,
            amount=invoice.total_amt or Decimal(0),
            currency=(invoice.currency_ref.value if invoice.currency_ref else None)
            or connection.company.currency
            or "USD",
            paid_at=updated_at(invoice) or datetime.now(UTC),
            origin="live",
            send_enabled=send_enabled,
        ):
            requested += 1
    return requested


def _load_customer(client: QboClient, customer_id: str, rows: dict[str, dict[str, Any]]) -> Customer | None:
    row = rows.get(customer_id)
    if row is None:
        try:
            row = client.read("Customer", customer_id)
        except QboNotFound:
            logger.info("paid invoice of a customer QBO no longer has", extra={"customer_id": customer_id})
            return None
    try:
        customer = Customer.model_validate(row)
    except ValidationError:
        return None
    return None if customer.is_deleted else customer


# ------------------------------------------------------------------------------------ the poll


def poll_company(
    account_id: str,
    realm_id: str,
    *,
    deadline: Deadline = None,
    owner: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PollResult:
    """Poll one company (see the module docstring). Raises :class:`PollBusy`, and QBO/AWS errors that
    a retry may fix (the cursor has not moved); returns a non-``polled`` status for what it must not retry."""
    owner = owner or f"poll-{uuid.uuid4().hex}"
    try:
        cursor = coordination.hold_cursor(realm_id, CURSOR_NAME, owner, HOLD_SECONDS)
    except LeaseHeld as exc:
        raise PollBusy(realm_id, exc.holder) from exc
    result = PollResult(status="polled", account_id=account_id, realm_id=realm_id)
    let_go = False
    try:
        _poll_held(result, cursor, deadline=deadline, clock=clock)
        if result.cursor is not None:
            # Everything found is published: move on, letting go of the hold in the same write.
            coordination.advance_cursor(realm_id, CURSOR_NAME, result.cursor, release=owner)
            let_go = True
            sweep.after_poll(account_id, realm_id)  # not due for the safety sweep for an interval
    finally:
        if not let_go:
            coordination.release_cursor(realm_id, CURSOR_NAME, owner)
    return result


def _poll_held(
    result: PollResult, cursor: datetime | None, *, deadline: Deadline, clock: Callable[[], datetime]
) -> None:
    """Fill ``result``; its ``cursor`` is where to move on to (None: nothing was read)."""
    account_id, realm_id = result.account_id, result.realm_id
    connection = connections.get_connection(account_id)
    if connection is None or connection.status == "disconnected":
        result.status, result.reason = "not_connected", "account is not connected"
        return
    if connection.realm_id != realm_id:
        # The account reconnected to another company after this nudge was sent.
        result.status, result.reason = "stale_nudge", "account is connected to another company now"
        return
    try:
        client = client_for(connection, deadline=deadline)
        started = clock()
        connected_at = _connected_at(connection)
        cursor = cursor or connected_at
        changes = read_changes(client, cursor - OVERLAP, now=started)
        result.customers_seen, result.invoices_seen = len(changes.customers), len(changes.invoices)
        result.contacts_published = sync_customers(
            account_id, realm_id, connected_at, changes.customers.values(),
            home_currency=connection.company.currency,
        )
        result.reviews_requested = request_reviews(
            client, connection, changes.invoices.values(), changes.customers
        )
    except NotConnected:
        result.status, result.reason = "not_connected", "account is not connected"
        return
    except (NeedsReconnect, QboAuthError) as exc:
        result.status, result.reason = "needs_reconnect", str(exc)
        return
    # Never past what QBO showed us or our own start time.
    result.cursor = max([cursor, started] + ([changes.newest] if changes.newest else []))


def _connected_at(connection: connections.Connection) -> datetime:
    moment = parse_qbo_time(connection.connected_at)
    if moment is None:
        raise ValueError(f"connection of {connection.account_id} has an unreadable connected_at")
    return moment
