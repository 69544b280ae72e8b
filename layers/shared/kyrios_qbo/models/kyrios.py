"""Kyrios events the bundle consumes, as EventBridge ``detail`` payloads.

Inbound payloads are strict (``extra="forbid"``): a field Kyrios renames or misspells fails at the door
with a field-level reason instead of silently syncing a wrong invoice. Totals are *not* checked here:
Kyrios's figures are the truth, and ``kyrios_qbo.settlement`` decides what QBO is told (only a document
no rounding explains is refused).

Invoice numbers may be longer than QBO's 21-character ``DocNumber``: the model accepts them, and
``kyrios_qbo.mapping.doc_number`` shortens them deterministically (hash prefix + the number's tail).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from kyrios_qbo.models.common import Id, OptionalEmail, OptionalText
from kyrios_qbo.money import (
    ZERO,
    CurrencyCode,
    DocumentAmounts,
    ExchangeRate,
    LineInput,
    NonNegativeMoney,
    Percent,
    PositiveMoney,
    Quantity,
    compute_amounts,
)

INVOICE_DETAIL_TYPES = ("invoice.sent", "invoice.updated", "invoice.paid", "invoice.voided")
PAYMENT_DETAIL_TYPE = "payment.completed"
KYRIOS_SOURCE = "kyrios.core"


class KyriosModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PercentDiscount(KyriosModel):
    type: Literal["percent"]
    percent: Percent


class AmountDiscount(KyriosModel):
    type: Literal["amount"]
    amount: PositiveMoney


Discount = Annotated[PercentDiscount | AmountDiscount, Field(discriminator="type")]


class KyriosCustomer(KyriosModel):
    """The customer as Kyrios knows them. Either ``full_name`` or a given/family name is required.
    ``email`` may be missing here; the pusher treats that as a permanent error (no way to match)."""

    given_name: OptionalText = None
    family_name: OptionalText = None
    full_name: OptionalText = None
    email: OptionalEmail = None
    company: OptionalText = None
    phone: OptionalText = None

    @model_validator(mode="after")
    def _has_a_name(self) -> KyriosCustomer:
        if not (self.full_name or self.given_name or self.family_name):
            raise ValueError("customer needs full_name or given_name/family_name")
        return self

    @property
    def display_name(self) -> str:
        """The name to show: full name, else given + family, else the company."""
        if self.full_name:
            return self.full_name
        return " ".join(part for part in (self.given_name, self.family_name) if part)


class KyriosProduct(KyriosModel):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=500)]
    sku: OptionalText = None
    description: OptionalText = None


class LineTax(KyriosModel):
    tax_id: Id
    name: Annotated[str, Field(min_length=1, max_length=100)]
    rate_percent: Percent


class KyriosLine(KyriosModel):
    line_id: Id
    product: KyriosProduct
    quantity: Quantity
    unit_price: NonNegativeMoney
    discount: Discount | None = None
    taxes: list[LineTax] = Field(default_factory=list, max_length=5)

    @field_validator("taxes")
    @classmethod
    def _distinct_taxes(cls, taxes: list[LineTax]) -> list[LineTax]:
        ids = [tax.tax_id for tax in taxes]
        if len(set(ids)) != len(ids):
            raise ValueError("a tax may apply to a line only once")
        return taxes


class KyriosTotals(KyriosModel):
    subtotal: NonNegativeMoney
    """Sum of line amounts after line discounts, before the invoice discount and tax."""
    discount_total: NonNegativeMoney
    """Invoice-level discount (line discounts are already inside ``subtotal``)."""
    tax_total: NonNegativeMoney
    total: NonNegativeMoney


class InvoicePayment(KyriosModel):
    payment_id: Id
    amount: PositiveMoney
    paid_at: AwareDatetime
    method: Annotated[str, Field(min_length=1, max_length=50)]


class InvoiceSource(KyriosModel):
    """Where the invoice was born. Imported invoices came *from* QBO and must never be pushed back."""

    kind: Literal["kyrios", "quickbooks_import"]
    qbo_invoice_id: Id | None = None
    qbo_realm_id: Id | None = None

    @model_validator(mode="after")
    def _import_has_qbo_id(self) -> InvoiceSource:
        if self.kind == "quickbooks_import" and not self.qbo_invoice_id:
            raise ValueError("qbo_invoice_id is required when kind is quickbooks_import")
        return self


def _unique_line_ids(lines: list[KyriosLine]) -> list[KyriosLine]:
    ids = [line.line_id for line in lines]
    if len(set(ids)) != len(ids):
        raise ValueError("line_id values must be unique")
    return lines


class KyriosInvoice(KyriosModel):
    id: Id
    number: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[int, Field(ge=1, strict=True)]
    status: Literal["draft", "sent", "partially_paid", "paid", "void"]
    created_at: AwareDatetime
    issue_date: date
    due_date: date
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    """Home-currency units per one unit of ``currency`` when Kyrios knows the rate (sent to QBO as
    ``ExchangeRate`` for a foreign-currency document; without it QBO uses its own rate of the day)."""
    prices_include_tax: bool
    customer: KyriosCustomer
    lines: Annotated[list[KyriosLine], Field(min_length=1, max_length=500)]
    discount: Discount | None = None
    totals: KyriosTotals
    payments: list[InvoicePayment] = Field(default_factory=list)
    source: InvoiceSource

    @field_validator("lines")
    @classmethod
    def _check_lines(cls, lines: list[KyriosLine]) -> list[KyriosLine]:
        return _unique_line_ids(lines)

    @model_validator(mode="after")
    def _dates_in_order(self) -> KyriosInvoice:
        if self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        return self

    @property
    def is_imported(self) -> bool:
        return self.source.kind == "quickbooks_import"

    @property
    def amount_paid(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), ZERO)


class KyriosPaymentDocument(KyriosModel):
    """A completed one-off payment (order form, calendar booking, subscription, membership)."""

    id: Id
    source: Literal["order_form", "calendar", "subscription", "membership"]
    source_id: Id
    version: Annotated[int, Field(ge=1, strict=True)]
    paid_at: AwareDatetime
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    """As :attr:`KyriosInvoice.exchange_rate`."""
    amount: NonNegativeMoney
    method: Annotated[str, Field(min_length=1, max_length=50)]
    customer: KyriosCustomer
    lines: Annotated[list[KyriosLine], Field(min_length=1, max_length=500)]
    discount: Discount | None = None
    prices_include_tax: bool
    totals: KyriosTotals

    @field_validator("lines")
    @classmethod
    def _check_lines(cls, lines: list[KyriosLine]) -> list[KyriosLine]:
        return _unique_line_ids(lines)


class _KyriosEventBase(KyriosModel):
    event_id: Id
    account_id: Id
    occurred_at: AwareDatetime
    _detail_type: str = PrivateAttr(default="")

    @property
    def detail_type(self) -> str:
        """The EventBridge ``detail-type`` this detail arrived with (set by :func:`parse_kyrios_event`)."""
        return self._detail_type


class InvoiceSnapshotEvent(_KyriosEventBase):
    """``invoice.sent`` / ``invoice.updated`` / ``invoice.paid`` / ``invoice.voided``: the whole invoice as it
    now is. The pusher makes QBO match the newest ``invoice.version`` and ignores older ones."""

    invoice: KyriosInvoice


class PaymentCompletedEvent(_KyriosEventBase):
    """``payment.completed``: a payment not tied to an invoice, pushed as a QBO SalesReceipt."""

    payment: KyriosPaymentDocument


KyriosEvent = InvoiceSnapshotEvent | PaymentCompletedEvent
KyriosDocument = KyriosInvoice | KyriosPaymentDocument


class InvalidEvent(ValueError):
    """A Kyrios event that cannot be processed; ``reasons`` are ``(field path, message)`` pairs."""

    def __init__(self, detail_type: str, reasons: list[tuple[str, str]]) -> None:
        self.detail_type = detail_type
        self.reasons = reasons
        summary = "; ".join(f"{path or '(detail)'}: {message}" for path, message in reasons)
        super().__init__(f"invalid {detail_type or 'Kyrios'} event: {summary}")


def parse_kyrios_event(detail_type: str, detail: Any) -> KyriosEvent:
    """Parse an EventBridge ``detail`` by its ``detail-type``, or raise :class:`InvalidEvent`."""
    model: type[InvoiceSnapshotEvent] | type[PaymentCompletedEvent]
    if detail_type in INVOICE_DETAIL_TYPES:
        model = InvoiceSnapshotEvent
    elif detail_type == PAYMENT_DETAIL_TYPE:
        model = PaymentCompletedEvent
    else:
        raise InvalidEvent(detail_type, [("detail-type", f"unknown Kyrios event type {detail_type!r}")])
    if not isinstance(detail, dict):
        raise InvalidEvent(detail_type, [("", "detail must be a JSON object")])
    try:
        event = model.model_validate(detail)
    except ValidationError as exc:
        reasons = [(".".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()]
        raise InvalidEvent(detail_type, reasons) from exc
    event._detail_type = detail_type
    return event


def line_inputs(lines: list[KyriosLine]) -> list[LineInput]:
    """Kyrios lines as arithmetic inputs; taxes are grouped by Kyrios tax id."""
    return [
        LineInput(
            key=line.line_id,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount_percent=line.discount.percent if isinstance(line.discount, PercentDiscount) else None,
            discount_amount=line.discount.amount if isinstance(line.discount, AmountDiscount) else None,
            rates=tuple((tax.tax_id, tax.rate_percent) for tax in line.taxes),
        )
        for line in lines
    ]


def document_amounts(document: KyriosDocument) -> DocumentAmounts:
    """Amounts of a Kyrios invoice or payment computed with the QBO rule (``kyrios_qbo.mapping``)."""
    discount = document.discount
    return compute_amounts(
        line_inputs(document.lines),
        discount_percent=discount.percent if isinstance(discount, PercentDiscount) else None,
        discount_amount=discount.amount if isinstance(discount, AmountDiscount) else None,
        prices_include_tax=document.prices_include_tax,
    )
