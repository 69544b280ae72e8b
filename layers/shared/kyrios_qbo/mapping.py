"""Pure builders: Kyrios invoices and payments → QBO JSON bodies (Invoice, Payment, SalesReceipt,
Customer, Item), plus deterministic ``requestid`` values and the expected QBO total.

Amount rule (what QBO computes, and what the emulator must compute; implemented once in
``kyrios_qbo.money.compute_amounts``). All rounding is to cents, ROUND_HALF_UP:

1. Line gross = round(Qty × UnitPrice).
2. Line discount (Kyrios has them, QBO lines do not): percent → round(gross × p / 100); amount → the
   amount, capped at gross. Line net = gross − line discount. The QBO line carries the *net*:
   ``Amount`` = net, ``Qty`` = the Kyrios quantity and ``UnitPrice`` = the shortest price of 2 to 5
   decimals with round(Qty × UnitPrice) = net (QBO's 6070 check; one always exists below 1,000 units,
   else ``Qty`` 1 @ net and the description names quantity × price); the description says which
   discount was applied and on what. Why not a DiscountLineDetail per line: QBO allows one discount line per
   transaction, applied to the whole subtotal, so per-line discounts can only be expressed in the line.
3. Subtotal = Σ line nets (QBO's SubTotalLineDetail).
4. Invoice discount (one ``DiscountLineDetail``): percent → ``PercentBased: true``, ``DiscountPercent`` p,
   ``Amount`` = round(subtotal × p / 100); amount → ``PercentBased: false``, ``Amount`` (capped at subtotal).
   Tax is computed after the discount (``ApplyTaxAfterDiscount: true``).
5. Discount allocation for tax: lines are grouped by their set of tax rates; each group gets
   round(D × group net / subtotal), the largest group (ties: last in sort order) takes the remainder.
6. Tax-exclusive (``TaxExcluded``): per QBO TaxRate, NetAmountTaxable = Σ (group net − group discount)
   over the groups carrying that rate; tax = round(NetAmountTaxable × rate / 100) — one rounding per
   rate per document, like ``TxnTaxDetail.TaxLine`` (e.g. 325.75 at 8 % → 26.06).
   Total = subtotal − D + Σ tax.
7. Tax-inclusive (``TaxInclusive``): line amounts include tax. Per group with combined rate R:
   G = group net − group discount; net = round(G × 100 / (100 + R)); each rate's tax = round(net × r / 100),
   the group's last rate (sorted by rate key) takes the remainder so the group's tax is G − net.
   Total = subtotal − D (tax never changes an inclusive total). QBO lines get ``TaxInclusiveAmt`` = the
   inclusive line net and ``Amount`` = round(inclusive net × 100 / (100 + R_line)) (*uncertain*: QBO's
   exact handling of inclusive lines is not documented; the total is what we check), with the Kyrios
   quantity at the net-of-tax unit price as in step 2.
8. US companies: lines are ``TAX``/``NON``; Kyrios's tax travels as ``TxnTaxDetail.TotalTax``.

What is *sent* follows ``kyrios_qbo.settlement`` (Kyrios's figures win): the rule above rebuilds the line
amounts and one candidate split of Kyrios's tax; the discount, tax per rate and a rounding-adjustment
line come from the settlement, so QBO's total equals Kyrios's whatever rounding Kyrios used.

Numbers in the returned bodies are JSON floats made from 2-decimal (or ≤5-decimal unit price) Decimals,
which ``json.dumps`` prints exactly (``repr`` is the shortest round-trip form).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from kyrios_qbo.models.kyrios import (
    AmountDiscount,
    InvoicePayment,
    KyriosDocument,
    KyriosInvoice,
    KyriosLine,
    KyriosPaymentDocument,
    KyriosProduct,
    PercentDiscount,
    line_inputs,
)
from kyrios_qbo.models.qbo import CompanyInfo
from kyrios_qbo.money import (
    HUNDRED,
    ZERO,
    DocumentAmounts,
    LineAmounts,
    LineInput,
    as_json_number,
    compute_amounts,
    format_rate,
    to_cents,
)
from kyrios_qbo.settlement import Settlement, describe, from_lines
from kyrios_qbo.tax import TaxPlan

ROUNDING_PRODUCT_ID = "kyrios-rounding-adjustment"
"""Kyrios-side id of the rounding-adjustment product (``kyrios_qbo.catalog.rounding_product``)."""

DOC_NUMBER_LIMIT = 21
NAME_LIMIT = 100
REQUEST_ID_LIMIT = 50
PRIVATE_NOTE_LIMIT = 4000
PUSHED_INVOICE_NOTE = "Kyrios invoice"
"""Start of the PrivateNote of every invoice the pusher creates: the poller and the import use it to
recognise (and never echo back) invoices that came from Kyrios, even before the id mapping exists."""
_UNIT_PRICE_DECIMALS = 5
"""Most decimals we send in a UnitPrice (QBO keeps more than two; five is what we rely on)."""


# ------------------------------------------------------------------------------------ errors


class MappingError(ValueError):
    """A Kyrios document that cannot become a QBO document. ``code`` is stable for the sync log;
    the message says in plain words what to do. ``permanent`` errors are not retried."""

    code = "mapping_error"
    permanent = True


class MissingCustomerEmail(MappingError):
    code = "missing_customer_email"


class ImportedDocument(MappingError):
    code = "imported_from_quickbooks"


class MissingReference(MappingError):
    code = "missing_reference"


class CurrencyNotEnabled(MappingError):
    code = "currency_not_enabled"


# ------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class CompanyProfile:
    """What mapping needs to know about the QBO company."""

    is_us: bool
    home_currency: str
    multicurrency_enabled: bool = False

    @classmethod
    def from_company_info(
        cls, info: CompanyInfo, *, home_currency: str, multicurrency_enabled: bool = False
    ) -> CompanyProfile:
        """``home_currency``/``multicurrency_enabled`` come from QBO ``Preferences.CurrencyPrefs``."""
        return cls(info.is_us, home_currency.upper(), multicurrency_enabled)


@dataclass(frozen=True)
class DocumentRefs:
    """QBO ids a document refers to: the customer, and the Item per Kyrios product id."""

    customer_id: str
    item_ids: Mapping[str, str]

    def item_for(self, product: KyriosProduct) -> str:
        item_id = self.item_ids.get(product.id)
        if not item_id:
            raise MissingReference(f"no QuickBooks item for Kyrios product {product.id} ({product.name})")
        return item_id


# ------------------------------------------------------------------------------------ identifiers


def request_id(kind: str, *parts: object) -> str:
    """A deterministic QBO ``requestid`` (≤ 50 chars): creation keyed by document, changes by document +
    version, payments by Kyrios payment id. Same inputs → same id, so a retried write is not repeated."""
    prefix = re.sub(r"[^a-z0-9]", "", kind.lower())[:10] or "req"
    digest = hashlib.sha256("\x1f".join([kind, *map(str, parts)]).encode()).hexdigest()
    return f"{prefix}-{digest[: REQUEST_ID_LIMIT - len(prefix) - 1]}"


def doc_number(number: str) -> str:
    """QBO ``DocNumber`` (≤ 21 chars). Longer Kyrios numbers become an 8-char hash + ``-`` + the last
    12 characters (the distinctive end of numbers like ``INVOICE-2026-000123``); the full number is
    kept in ``PrivateNote``."""
    number = _clean(number)
    if len(number) <= DOC_NUMBER_LIMIT:
        return number
    digest = hashlib.sha256(number.encode()).hexdigest()[:8].upper()
    return f"{digest}-{number[-(DOC_NUMBER_LIMIT - 9) :]}"


def _clean(text: str) -> str:
    """One line of text: control characters (tabs, newlines) become spaces, runs of spaces collapse."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f]", " ", text)).strip()


def _qbo_name(text: str) -> str:
    """QBO names: one line, and no ':' (QBO reserves it for sub-customer / sub-item paths)."""
    return _clean(text.replace(":", "-"))


def _fit(base: str, suffix: str, limit: int = NAME_LIMIT) -> str:
    return (base[: max(0, limit - len(suffix))].rstrip() + suffix).strip()[:limit]


def display_name(
    name: str | None, email: str | None, attempt: int = 1, *, currency: str | None = None
) -> str:
    """Customer ``DisplayName`` for attempt n (n grows after each 6240 clash with a customer, vendor or
    employee): ``Jane Doe``, then ``Jane Doe (2)``, ``Jane Doe (3)``… (≤ :data:`NAME_LIMIT` characters,
    no ':'). The suffix carries no personal data: the name is printed on every document the customer
    receives. The email stands in for the name only when Kyrios has no name at all.

    ``currency`` names a currency-specific twin of a customer QBO already has in another currency (a QBO
    customer has one currency): ``Jane Doe (EUR)``, then ``Jane Doe (EUR 2)``…"""
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    base = _qbo_name(name or "") or _qbo_name(email or "") or "Kyrios customer"
    if currency:
        return _fit(base, f" ({currency})" if attempt == 1 else f" ({currency} {attempt})")
    return _fit(base, "" if attempt == 1 else f" ({attempt})")


def item_name(product: KyriosProduct, attempt: int = 1) -> str:
    """Item ``Name``: the product name (with its SKU when it has one); after a clash, a short stable tag
    from the Kyrios product id is added, then a counter."""
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    base = _qbo_name(product.name) or "Kyrios product"
    if product.sku:
        base = _fit(base, f" ({_qbo_name(product.sku)[:30]})")
    if attempt == 1:
        return _fit(base, "")
    tag = hashlib.sha256(product.id.encode()).hexdigest()[:6]
    return _fit(base, f" [{tag}]" + (f" {attempt - 1}" if attempt > 2 else ""))


# ------------------------------------------------------------------------------------ customers, items


def customer_payload(
    name: str | None,
    email: str | None,
    *,
    given_name: str | None = None,
    family_name: str | None = None,
    company: str | None = None,
    phone: str | None = None,
    attempt: int = 1,
    currency: str | None = None,
    twin: str | None = None,
) -> dict[str, Any]:
    """Body of ``POST customer``. A customer without an email cannot be matched later: permanent error.

    ``currency``: the customer's currency when it is not the company's home currency (``CurrencyRef``;
    it cannot change once the customer has transactions). ``twin``: the customer's currency when QBO
    already has this email in another currency, so the name carries it (:func:`display_name`)."""
    if not email:
        raise MissingCustomerEmail(
            "the Kyrios customer has no email address, so it cannot be matched to a QuickBooks customer: "
            "add an email in Kyrios and send the document again"
        )
    body: dict[str, Any] = {
        "DisplayName": display_name(name, email, attempt, currency=twin),
        "PrimaryEmailAddr": {"Address": email},
    }
    if currency:
        body["CurrencyRef"] = {"value": currency}
    if given_name:
        body["GivenName"] = _clean(given_name)[:100]
    if family_name:
        body["FamilyName"] = _clean(family_name)[:100]
    if company:
        body["CompanyName"] = _clean(company)[:100]
    if phone:
        body["PrimaryPhone"] = {"FreeFormNumber": _clean(phone)[:30]}
    return body


def item_payload(product: KyriosProduct, income_account_id: str, *, attempt: int = 1) -> dict[str, Any]:
    """Body of ``POST item``: a Service item per Kyrios product."""
    body: dict[str, Any] = {
        "Name": item_name(product, attempt),
        "Type": "Service",
        "IncomeAccountRef": {"value": income_account_id},
    }
    if product.sku:
        body["Sku"] = _clean(product.sku)[:100]
    if product.description:
        body["Description"] = product.description[:4000]
    return body


# ------------------------------------------------------------------------------------ amounts


def _line_inputs(document: KyriosDocument, tax_plan: TaxPlan | None) -> list[LineInput]:
    inputs = line_inputs(document.lines)
    if tax_plan is None:
        return inputs
    # Group tax by the QBO TaxRate each line will use: that is where QBO rounds.
    return [
        LineInput(
            key=item.key,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_percent=item.discount_percent,
            discount_amount=item.discount_amount,
            rates=tax_plan.lines[item.key].rate_keys if item.key in tax_plan.lines else item.rates,
        )
        for item in inputs
    ]


def expected_amounts(document: KyriosDocument, tax_plan: TaxPlan | None = None) -> DocumentAmounts:
    """The document's amounts as QBO will compute them (rule in the module docstring)."""
    discount = document.discount
    return compute_amounts(
        _line_inputs(document, tax_plan),
        discount_percent=discount.percent if isinstance(discount, PercentDiscount) else None,
        discount_amount=discount.amount if isinstance(discount, AmountDiscount) else None,
        prices_include_tax=document.prices_include_tax,
    )


def totals_match(kyrios_total: Decimal | float | str, qbo_total_amt: Decimal | float | str | None) -> bool:
    """Equal to the cent (QBO answers floats like ``100.0``)."""
    if qbo_total_amt is None:
        return False
    return to_cents(Decimal(str(kyrios_total))) == to_cents(Decimal(str(qbo_total_amt)))


# ------------------------------------------------------------------------------------ documents


def _money(value: Decimal) -> float:
    return as_json_number(to_cents(value))


def _discount_note(line: KyriosLine, amounts: LineAmounts) -> str:
    if isinstance(line.discount, PercentDiscount):
        what = f"{format_rate(line.discount.percent)}% discount"
    else:
        what = "discount"
    return f"{what} of {amounts.discount} on {format_rate(line.quantity)} × {line.unit_price}"


def _qty_and_price(quantity: Decimal, amount: Decimal) -> tuple[Decimal, Decimal] | None:
    """Kyrios's ``quantity`` and the shortest UnitPrice (2 to 5 decimals) with round(Qty × UnitPrice) =
    ``amount`` to the cent, the check behind QBO's 6070 "Amount is not equal to UnitPrice * Qty". Always
    found when the quantity is below 1,000 (5-decimal prices are then less than a cent apart); None
    when no such price exists (huge quantities)."""
    exact = amount / quantity
    for places in range(2, _UNIT_PRICE_DECIMALS + 1):
        step = Decimal(1).scaleb(-places)
        for rounding in (ROUND_FLOOR, ROUND_CEILING):
            unit = exact.quantize(step, rounding=rounding)
            if to_cents(unit * quantity) == amount:
                return quantity, unit.normalize() if unit == unit.to_integral() else unit
    return None


def _sales_line(
    line: KyriosLine,
    amounts: LineAmounts,
    sent: Decimal,
    refs: DocumentRefs,
    tax_plan: TaxPlan,
    inclusive: bool,
    line_num: int,
) -> dict[str, Any]:
    """One sales line. ``sent``: the amount QBO sums for it (the gross when ``inclusive``, i.e. prices
    include tax outside the US: QBO reads it from ``TaxInclusiveAmt``)."""
    description = line.product.description or line.product.name
    amount = sent
    detail: dict[str, Any] = {"ItemRef": {"value": refs.item_for(line.product)}}
    if inclusive and line.taxes:
        combined = sum((tax.rate_percent for tax in line.taxes), Decimal(0))
        detail["TaxInclusiveAmt"] = _money(sent)
        amount = to_cents(sent * HUNDRED / (HUNDRED + combined))
    if amount == amounts.gross:
        quantity, unit_price = line.quantity, line.unit_price
    else:  # after a line discount, or net of tax: Kyrios's quantity at the net unit price
        fitted = _qty_and_price(line.quantity, amount)
        quantity, unit_price = fitted or (Decimal(1), amount)
        if fitted is None and not amounts.discount:  # the discount note names quantity × price
            description = f"{description} ({format_rate(line.quantity)} × {line.unit_price})"
    if amounts.discount:
        description = f"{description} ({_discount_note(line, amounts)})"
    detail["Qty"] = as_json_number(quantity)
    detail["UnitPrice"] = as_json_number(unit_price)
    detail["TaxCodeRef"] = {"value": tax_plan.tax_code_for(line.line_id)}
    return {
        "LineNum": line_num,
        "Description": _clean(description)[:4000],
        "Amount": _money(amount),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail,
    }


ROUNDING_LINE_ID = "kyrios-rounding-adjustment"
"""Line id of the rounding-adjustment line in the tax plan (never a Kyrios line id)."""


def _rounding_line(
    settlement: Settlement, refs: DocumentRefs, tax_plan: TaxPlan, rounding_item_id: str | None, line_num: int
) -> dict[str, Any]:
    if not rounding_item_id:
        raise MissingReference("no QuickBooks item for the rounding adjustment")
    detail: dict[str, Any] = {"ItemRef": {"value": rounding_item_id}, "Qty": 1}
    detail["UnitPrice"] = _money(settlement.rounding)
    detail["TaxCodeRef"] = {"value": tax_plan.tax_code_for(ROUNDING_LINE_ID)}
    return {
        "LineNum": line_num,
        "Description": "Rounding adjustment: the Kyrios document's total to the cent",
        "Amount": _money(settlement.rounding),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": detail,
    }


def _lines(
    document: KyriosDocument,
    refs: DocumentRefs,
    tax_plan: TaxPlan,
    settlement: Settlement,
    rounding_item_id: str | None,
) -> list[dict[str, Any]]:
    amounts = settlement.amounts
    inclusive = document.prices_include_tax and not tax_plan.is_us
    lines = [
        _sales_line(line, line_amounts, sent, refs, tax_plan, inclusive, index)
        for index, (line, line_amounts, sent) in enumerate(
            zip(document.lines, amounts.lines, settlement.qbo_line_amounts, strict=True), start=1
        )
    ]
    if settlement.rounding:
        lines.append(_rounding_line(settlement, refs, tax_plan, rounding_item_id, len(lines) + 1))
    if settlement.discount > 0:
        detail: dict[str, Any] = {"PercentBased": settlement.discount_percent is not None}
        if settlement.discount_percent is not None:
            detail["DiscountPercent"] = as_json_number(settlement.discount_percent)
        lines.append(
            {
                "LineNum": len(lines) + 1,
                "Amount": _money(settlement.discount),
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": detail,
            }
        )
    return lines


def _split(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``amount`` over keys in proportion to ``weights``, to the cent; the largest takes the rest."""
    ordered = sorted(weights, key=lambda key: (weights[key], key))
    whole = sum(weights.values(), ZERO)
    if whole <= 0:
        return {key: (amount if key == ordered[-1] else ZERO) for key in ordered}
    parts = {key: to_cents(amount * weights[key] / whole) for key in ordered[:-1]}
    parts[ordered[-1]] = amount - sum(parts.values(), ZERO)
    return parts


def tax_detail(document: KyriosDocument, tax_plan: TaxPlan, settlement: Settlement) -> dict[str, Any] | None:
    """``TxnTaxDetail`` telling QBO Kyrios's tax: ``TotalTax`` in the US (automated sales tax honours
    an explicit amount and prorates it over its rates), a ``TaxLine`` per QBO TaxRate elsewhere."""
    if tax_plan.is_us:
        if not any(tax.rate_percent > 0 for line in document.lines for tax in line.taxes):
            return None
        detail: dict[str, Any] = {"TotalTax": _money(settlement.tax_total)}
        if tax_plan.txn_tax_code_id:  # manual sales tax: QBO taxes nothing without a code
            detail["TxnTaxCodeRef"] = {"value": tax_plan.txn_tax_code_id}
        return detail
    rate_ids = tax_plan.qbo_rate_ids()
    nets = {line.key: line.net for line in settlement.amounts.lines}
    per_rate: dict[str, list[Decimal]] = {}
    percent: dict[str, Decimal] = {}
    for share in settlement.taxes:
        targets = rate_ids.get(share.key) or {}
        if not targets or share.rate <= 0:
            continue
        weights = {rate: sum((nets.get(key, ZERO) for key in keys), ZERO) for rate, keys in targets.items()}
        taxes, bases = _split(share.tax, weights), _split(share.taxable, weights)
        for rate_id in targets:
            totals = per_rate.setdefault(rate_id, [ZERO, ZERO])
            totals[0] += taxes[rate_id]
            totals[1] += bases[rate_id]
            percent[rate_id] = share.rate
    if not per_rate:
        return None
    tax_lines = [
        {
            "Amount": _money(amount),
            "DetailType": "TaxLineDetail",
            "TaxLineDetail": {
                "TaxRateRef": {"value": rate_id},
                "PercentBased": True,
                "TaxPercent": as_json_number(percent[rate_id]),
                "NetAmountTaxable": _money(taxable),
            },
        }
        for rate_id, (amount, taxable) in sorted(per_rate.items())
    ]
    return {"TotalTax": _money(settlement.tax_total), "TaxLine": tax_lines}


def require_currency(document: KyriosDocument, company: CompanyProfile) -> None:
    """:class:`CurrencyNotEnabled`, naming the currency and the document, when QBO cannot take the
    document's currency (checked before anything is written to QBO)."""
    _currency_ref(document.currency, company, describe(document))


def _currency_ref(
    currency: str, company: CompanyProfile, what: str = "the document"
) -> dict[str, str] | None:
    if currency == company.home_currency:
        return None
    if not company.multicurrency_enabled:
        raise CurrencyNotEnabled(
            f"Kyrios {what} is in {currency} but the QuickBooks company works in {company.home_currency} "
            "without multi-currency: turn on multi-currency in QuickBooks (Account and settings → Advanced "
            f"→ Currency) and retry, or bill in {company.home_currency}. Nothing was sent to QuickBooks"
        )
    return {"value": currency}


def _exchange_rate(document: KyriosDocument, company: CompanyProfile) -> dict[str, Any]:
    """``ExchangeRate`` (home-currency units per document-currency unit) when Kyrios gives one for a
    foreign-currency document; otherwise QBO applies its own rate of the day."""
    if document.exchange_rate is None or document.currency == company.home_currency:
        return {}
    return {"ExchangeRate": as_json_number(document.exchange_rate)}


def _common(
    document: KyriosDocument,
    refs: DocumentRefs,
    tax_plan: TaxPlan,
    company: CompanyProfile,
    settlement: Settlement | None,
) -> dict[str, Any]:
    settled = settlement or from_lines(document, us=company.is_us)
    rounding_item = refs.item_ids.get(ROUNDING_PRODUCT_ID)
    body: dict[str, Any] = {
        "CustomerRef": {"value": refs.customer_id},
        "Line": _lines(document, refs, tax_plan, settled, rounding_item),
    }
    detail = tax_detail(document, tax_plan, settled)
    if detail:
        body["TxnTaxDetail"] = detail
    currency = _currency_ref(document.currency, company, describe(document))
    if currency:
        body["CurrencyRef"] = currency
        body.update(_exchange_rate(document, company))
    if company.is_us:
        body["ApplyTaxAfterDiscount"] = True
    elif tax_plan.global_tax_calculation:
        body["GlobalTaxCalculation"] = tax_plan.global_tax_calculation
    if document.customer.email:
        body["BillEmail"] = {"Address": document.customer.email}
    return body


def invoice_payload(
    invoice: KyriosInvoice,
    refs: DocumentRefs,
    tax_plan: TaxPlan,
    company: CompanyProfile,
    settlement: Settlement | None = None,
) -> dict[str, Any]:
    """Body of ``POST invoice`` (create)."""
    if invoice.is_imported:
        raise ImportedDocument(
            f"invoice {invoice.number} was imported from QuickBooks (Id {invoice.source.qbo_invoice_id}) "
            "and is never sent back"
        )
    body = _common(invoice, refs, tax_plan, company, settlement)
    body.update(
        {
            "DocNumber": doc_number(invoice.number),
            "TxnDate": invoice.issue_date.isoformat(),
            "DueDate": invoice.due_date.isoformat(),
            "PrivateNote": f"{PUSHED_INVOICE_NOTE} {invoice.id} (number {invoice.number})"[
                :PRIVATE_NOTE_LIMIT
            ],
        }
    )
    return body


def payment_payload(
    invoice: KyriosInvoice,
    payment: InvoicePayment,
    qbo_invoice_id: str,
    qbo_customer_id: str,
    company: CompanyProfile,
    *,
    deposit_account_id: str | None = None,
    payment_method_id: str | None = None,
) -> dict[str, Any]:
    """Body of ``POST payment`` applying one Kyrios payment to the QBO invoice (the customer must be the
    invoice's, else QBO answers 620). Its ``requestid`` is keyed by ``payment.payment_id``."""
    amount = _money(payment.amount)
    body: dict[str, Any] = {
        "CustomerRef": {"value": qbo_customer_id},
        "TotalAmt": amount,
        "TxnDate": payment.paid_at.date().isoformat(),
        "PaymentRefNum": _clean(payment.payment_id)[:DOC_NUMBER_LIMIT],
        "PrivateNote": (
            f"Kyrios payment {payment.payment_id} ({payment.method}) for invoice {invoice.number}"
        )[:PRIVATE_NOTE_LIMIT],
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": qbo_invoice_id, "TxnType": "Invoice"}]}],
    }
    currency = _currency_ref(invoice.currency, company, describe(invoice))
    if currency:
        body["CurrencyRef"] = currency
        body.update(_exchange_rate(invoice, company))
    if deposit_account_id:
        body["DepositToAccountRef"] = {"value": deposit_account_id}
    if payment_method_id:
        body["PaymentMethodRef"] = {"value": payment_method_id}
    return body


def sales_receipt_payload(
    payment: KyriosPaymentDocument,
    refs: DocumentRefs,
    tax_plan: TaxPlan,
    company: CompanyProfile,
    *,
    deposit_account_id: str | None = None,
    payment_method_id: str | None = None,
    settlement: Settlement | None = None,
) -> dict[str, Any]:
    """Body of ``POST salesreceipt`` for a completed Kyrios payment (order form, booking, …)."""
    body = _common(payment, refs, tax_plan, company, settlement)
    body.update(
        {
            "TxnDate": payment.paid_at.date().isoformat(),
            "PaymentRefNum": _clean(payment.id)[:DOC_NUMBER_LIMIT],
            "PrivateNote": (
                f"Kyrios payment {payment.id} ({payment.source.replace('_', ' ')} {payment.source_id}, "
                f"{payment.method})"
            )[:PRIVATE_NOTE_LIMIT],
        }
    )
    if deposit_account_id:
        body["DepositToAccountRef"] = {"value": deposit_account_id}
    if payment_method_id:
        body["PaymentMethodRef"] = {"value": payment_method_id}
    return body
