"""What a QBO document must carry so that it equals the Kyrios document to the cent. Pure, no I/O.

Kyrios's figures are the truth (issue 16): the QBO document carries Kyrios's total, tax and discount
whatever rounding Kyrios used. QBO is *told* the amounts instead of being asked to recompute them:

- Tax per rate: Kyrios sends only ``tax_total``; its split per tax is rebuilt with the first rule that
  reproduces that total: one rounding per rate per document (:func:`kyrios_qbo.money.compute_amounts`),
  else one rounding per line (:func:`kyrios_qbo.money.per_line_taxes`); if neither does, the
  per-document split with the difference on the largest tax (``rule = "adjusted"``). Outside the US
  the split travels as ``TxnTaxDetail.TaxLine``; in the US as ``TxnTaxDetail.TotalTax``.
- Invoice discount: Kyrios's ``discount_total``. US prices including tax are sent net of tax (QBO US has
  no tax-inclusive prices), so the discount sent is the one that makes net − discount + tax = total.
- Whatever QBO still cannot be told (a cent between Kyrios's total and the sum of what is sent) goes on
  a visible rounding-adjustment line (:attr:`Settlement.rounding`).

Only the impossible is refused (:class:`ImpossibleDocument`): tax on a document none of whose lines is
taxed, a discount larger than the lines, or totals further from the lines than rounding can explain
(:func:`tolerance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from kyrios_qbo.models.kyrios import (
    KyriosDocument,
    KyriosPaymentDocument,
    PercentDiscount,
    document_amounts,
    line_inputs,
)
from kyrios_qbo.money import (
    CENT,
    HUNDRED,
    ZERO,
    DocumentAmounts,
    RateAmount,
    compute_amounts,
    per_line_taxes,
    to_cents,
)

TaxRule = Literal["per document", "per line", "adjusted", "none"]


class ImpossibleDocument(ValueError):
    """The Kyrios document cannot become a QBO document equal to it (not a rounding question)."""


@dataclass(frozen=True)
class Settlement:
    amounts: DocumentAmounts
    """Line amounts (gross, line discount, net) and the invoice discount, with Kyrios's discount."""
    qbo_line_amounts: tuple[Decimal, ...]
    """The ``Amount`` of each sales line as QBO sums it (the gross outside the US when prices include
    tax, carried as ``TaxInclusiveAmt``; net of tax in the US)."""
    discount: Decimal
    """Invoice discount sent to QBO."""
    discount_percent: Decimal | None
    """Sent as ``PercentBased`` when QBO's round(subtotal × p) gives exactly :attr:`discount`."""
    taxes: tuple[RateAmount, ...]
    """Kyrios's tax per Kyrios tax id; the amounts add up to :attr:`tax_total`."""
    tax_total: Decimal
    total: Decimal
    rounding: Decimal
    """Amount of the rounding-adjustment line (zero: no line)."""
    rule: TaxRule

    @property
    def note(self) -> str | None:
        """A sentence for the sync log when the document needed a rounding-adjustment line."""
        if not self.rounding:
            return None
        return (
            f"a rounding adjustment of {self.rounding} was added so the QuickBooks total equals "
            f"Kyrios's {self.total}"
        )


def tolerance(document: KyriosDocument) -> Decimal:
    """The largest difference rounding can explain: a cent per line and tax, plus two."""
    rates = {tax.tax_id for line in document.lines for tax in line.taxes}
    return CENT * (len(document.lines) * max(1, len(rates)) + 2)


def settle(document: KyriosDocument, *, us: bool) -> Settlement:
    """The amounts the QBO document carries (rule in the module docstring)."""
    totals = document.totals
    inclusive = document.prices_include_tax
    inputs = line_inputs(document.lines)
    gross_subtotal = compute_amounts(inputs).subtotal
    if totals.discount_total > gross_subtotal:
        raise ImpossibleDocument(
            f"its discount ({totals.discount_total}) is larger than its lines ({gross_subtotal})"
        )
    amounts = compute_amounts(
        inputs,
        discount_amount=totals.discount_total if totals.discount_total else None,
        prices_include_tax=inclusive,
    )
    taxes, rule = _taxes(document, amounts)
    limit = tolerance(document)

    line_amounts = tuple(line.net for line in amounts.lines)
    discount = amounts.discount
    if us and inclusive:
        line_amounts = tuple(
            _net_of_tax(line.net, sum((tax.rate_percent for tax in kyrios.taxes), ZERO))
            for line, kyrios in zip(amounts.lines, document.lines, strict=True)
        )
        if discount:
            # The discount that makes net lines − discount + tax equal Kyrios's total.
            wanted = sum(line_amounts, ZERO) + totals.tax_total - totals.total
            discount = min(max(wanted, ZERO), sum(line_amounts, ZERO))
    sent = sum(line_amounts, ZERO) - discount + (ZERO if inclusive and not us else totals.tax_total)
    rounding = totals.total - sent
    if abs(rounding) > limit:
        raise ImpossibleDocument(
            f"its total ({totals.total}) is {abs(rounding)} away from what its lines, discount and tax "
            f"give ({sent}), more than rounding explains"
        )
    percent = document.discount.percent if isinstance(document.discount, PercentDiscount) else None
    subtotal = sum(line_amounts, ZERO)
    if percent is None or to_cents(subtotal * percent / HUNDRED) != discount:
        percent = None
    return Settlement(
        amounts, line_amounts, discount, percent, taxes, totals.tax_total, totals.total, rounding, rule
    )


def from_lines(document: KyriosDocument, *, us: bool) -> Settlement:
    """The settlement of a document whose totals are taken from its lines (QBO's rule), not from
    ``document.totals``: for building bodies outside a push (tests, previews)."""
    computed = document_amounts(document)
    totals = document.totals.model_copy(
        update={
            "subtotal": computed.subtotal,
            "discount_total": computed.discount,
            "tax_total": computed.tax_total,
            "total": computed.total,
        }
    )
    return settle(document.model_copy(update={"totals": totals}), us=us)


def _net_of_tax(gross: Decimal, rate: Decimal) -> Decimal:
    return to_cents(gross * HUNDRED / (HUNDRED + rate)) if rate else gross


def _taxes(document: KyriosDocument, amounts: DocumentAmounts) -> tuple[tuple[RateAmount, ...], TaxRule]:
    wanted = document.totals.tax_total
    taxed = [rate for rate in amounts.taxes if rate.rate > 0]
    if not taxed:
        if wanted:
            raise ImpossibleDocument(f"it charges tax ({wanted}) but none of its lines carries a tax rate")
        return amounts.taxes, "none"
    if amounts.tax_total == wanted:
        return amounts.taxes, "per document"
    per_line = per_line_taxes(
        line_inputs(document.lines), amounts.discount, prices_include_tax=document.prices_include_tax
    )
    if sum((rate.tax for rate in per_line), ZERO) == wanted:
        return per_line, "per line"
    difference = wanted - amounts.tax_total
    if abs(difference) > tolerance(document):
        raise ImpossibleDocument(
            f"its tax ({wanted}) is {abs(difference)} away from what its lines' rates give "
            f"({amounts.tax_total}), more than rounding explains"
        )
    largest = max(taxed, key=lambda rate: (rate.tax, rate.key))
    adjusted = tuple(
        RateAmount(rate.key, rate.rate, rate.taxable, rate.tax + difference) if rate is largest else rate
        for rate in amounts.taxes
    )
    return adjusted, "adjusted"


def describe(document: KyriosDocument) -> str:
    """'invoice INV-1 (id …)' / 'payment … ' for refusal messages."""
    if isinstance(document, KyriosPaymentDocument):
        return f"payment {document.id}"
    return f"invoice {document.number} (Kyrios id {document.id})"
