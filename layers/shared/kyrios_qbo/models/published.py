"""Events the bundle publishes on the Kyrios bus (Source ``kyrios.quickbooks``), as ``detail`` models.

Each model names its ``DETAIL_TYPE``. ``event_id`` is derived from what the event is *about* (not from
when or by which run it was produced) wherever a consumer must be able to drop a repeat: an import that
is re-run, a poll that is retried, a review requested twice for the same contact.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from kyrios_qbo.models.common import Id, OptionalEmail, OptionalText
from kyrios_qbo.money import CurrencyCode, Money, NonNegativeMoney, Quantity


def stable_event_id(kind: str, *parts: str) -> str:
    """A UUID-shaped id from a hash of the parts (same parts → same id)."""
    digest = hashlib.sha256("\x1f".join([kind, *parts]).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


class PublishedModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    DETAIL_TYPE: ClassVar[str]

    account_id: Id
    realm_id: Id
    occurred_at: AwareDatetime


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    line1: OptionalText = None
    line2: OptionalText = None
    city: OptionalText = None
    region: OptionalText = None
    postal_code: OptionalText = None
    country: OptionalText = None


class ContactIdentity(BaseModel):
    """Who a QBO customer is, enough for Kyrios to find or create the contact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    qbo_customer_id: Id
    display_name: str
    email: OptionalEmail = None


class ContactCreated(PublishedModel):
    DETAIL_TYPE: ClassVar[str] = "contact.created"

    qbo_customer_id: Id
    display_name: str
    given_name: OptionalText = None
    family_name: OptionalText = None
    company: OptionalText = None
    email: OptionalEmail = None
    phone: OptionalText = None
    address: Address | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        return stable_event_id(self.DETAIL_TYPE, self.realm_id, self.qbo_customer_id)


class ImportedLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = None
    item_name: str | None = None
    quantity: Quantity | None = None
    unit_price: Decimal | None = None
    amount: Money
    tax_code: str | None = None


class InvoiceImported(PublishedModel):
    """An invoice read from QBO during a historical import. Kyrios stores it with its ``qbo_invoice_id``
    and never sends it back to the pusher as a new invoice."""

    DETAIL_TYPE: ClassVar[str] = "invoice.imported"

    import_id: Id
    qbo_invoice_id: Id
    doc_number: str | None = None
    txn_date: date
    due_date: date | None = None
    currency: CurrencyCode
    customer: ContactIdentity
    lines: list[ImportedLine]
    total: NonNegativeMoney
    balance: NonNegativeMoney
    paid_state: Literal["paid", "partially_paid", "unpaid"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        # Not keyed by import_id: re-running an import must produce the same ids so Kyrios can deduplicate.
        return stable_event_id(self.DETAIL_TYPE, self.realm_id, self.qbo_invoice_id)


class ReviewRequested(PublishedModel):
    """A contact paid (their first paid invoice since connection): Kyrios may ask them for a review."""

    DETAIL_TYPE: ClassVar[str] = "review.requested"

    contact: ContactIdentity
    qbo_invoice_id: Id
    amount: NonNegativeMoney
    currency: CurrencyCode
    paid_at: AwareDatetime | date
    origin: Literal["live", "import"]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        # One review request per contact and company, whichever invoice triggered it.
        return stable_event_id(self.DETAIL_TYPE, self.realm_id, self.contact.qbo_customer_id)


class ConnectionStatusChanged(PublishedModel):
    DETAIL_TYPE: ClassVar[str] = "connection.status_changed"

    status: Literal["connected", "needs_reconnect", "disconnected"]
    reason: str = Field(min_length=1, max_length=500)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        return stable_event_id(
            self.DETAIL_TYPE, self.account_id, self.realm_id, self.status, self.occurred_at.isoformat()
        )


class ConnectionNeedsReconnectSoon(PublishedModel):
    """The company's authorization ends soon (Intuit's refresh token: rolling 100 days, at most five
    years): Kyrios asks the user to reconnect before it does. Published once per approach."""

    DETAIL_TYPE: ClassVar[str] = "connection.needs_reconnect_soon"

    reconnect_by: AwareDatetime = Field(description="When the stored authorization stops working.")
    limit: Literal["rolling_100_days", "five_year_maximum"]
    reason: str = Field(min_length=1, max_length=500)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        return stable_event_id(
            self.DETAIL_TYPE, self.account_id, self.realm_id, self.reconnect_by.isoformat()
        )


class SyncFailed(PublishedModel):
    """A push or pull that failed; ``reason`` is written for a bookkeeper, QBO's words are kept beside it."""

    DETAIL_TYPE: ClassVar[str] = "sync.failed"

    document_kind: Literal["invoice", "payment", "sales_receipt", "customer", "item", "tax_code", "import"]
    document_id: Id
    document_version: int | None = Field(default=None, ge=1)
    reason: str = Field(min_length=1, max_length=1000)
    qbo_error_code: str | None = None
    qbo_error_detail: str | None = None
    intuit_tid: str | None = None
    retryable: bool

    @computed_field  # type: ignore[prop-decorator]
    @property
    def event_id(self) -> str:
        return stable_event_id(
            self.DETAIL_TYPE,
            self.account_id,
            self.document_kind,
            self.document_id,
            str(self.document_version or ""),
            self.qbo_error_code or self.reason,
        )


PublishedEvent = (
    ContactCreated
    | InvoiceImported
    | ReviewRequested
    | ConnectionStatusChanged
    | ConnectionNeedsReconnectSoon
    | SyncFailed
)
PUBLISHED_MODELS: dict[str, type[PublishedModel]] = {
    model.DETAIL_TYPE: model
    for model in (
        ContactCreated,
        InvoiceImported,
        ReviewRequested,
        ConnectionStatusChanged,
        ConnectionNeedsReconnectSoon,
        SyncFailed,
    )
}
