"""Money, currency and percentage primitives shared by the models, ``tax`` and ``mapping``.

Amounts are ``Decimal`` quantised to cents with ROUND_HALF_UP (the rounding QBO and most tax
authorities use for display amounts), never floats: a float cannot hold 0.1 exactly and a
sync that is one cent off is a reconciliation ticket for a bookkeeper.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)

# Active ISO 4217 codes (2024 list, plus XAU-style funds codes left out on purpose: nobody invoices in gold).
_ISO_4217_TEXT = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD
    XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
ISO_4217 = frozenset(_ISO_4217_TEXT.split())


def to_cents(value: Decimal) -> Decimal:
    """Round to cents, half away from zero (QBO's rounding for amounts and tax)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_rate(rate: Decimal) -> str:
    """``Decimal('20.000')`` → ``'20'``, ``Decimal('7.50')`` → ``'7.5'`` (for readable names)."""
    text = format(rate.normalize(), "f")
    return text


def _to_decimal(value: object) -> object:
    # Through repr, so 19.99 stays 19.99 instead of the binary 19.98999999999999843680598132...
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return value  # let pydantic report "not a valid decimal"
    return value


def _max_places(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("must be a finite number")
        if decimal_places(value) > places:
            raise ValueError(f"must have at most {places} decimal places")
        return value.quantize(Decimal(1).scaleb(-places)) if places else value

    return AfterValidator(check)


Money = Annotated[Decimal, BeforeValidator(_to_decimal), _max_places(2)]
"""An amount with at most two decimal places, normalised to exactly two."""
NonNegativeMoney = Annotated[Money, Field(ge=0)]
PositiveMoney = Annotated[Money, Field(gt=0)]
Quantity = Annotated[Decimal, BeforeValidator(_to_decimal), Field(gt=0, le=10**9), _max_places(4)]
"""A line quantity: positive, at most four decimal places (hours like 1.25 or 0.3333 are fine)."""
Percent = Annotated[Decimal, BeforeValidator(_to_decimal), Field(ge=0, le=100), _max_places(4)]
"""A percentage between 0 and 100, e.g. ``20`` for 20 %, at most four decimal places."""
ExchangeRate = Annotated[Decimal, BeforeValidator(_to_decimal), Field(gt=0, le=10**9), _max_places(10)]
"""Units of the company's home currency per one unit of the document's currency (QBO's ``ExchangeRate``
convention, Intuit "Manage multiple currencies"), positive, at most ten decimal places."""


def _currency(value: object) -> object:
    if not isinstance(value, str):
        return value
    code = value.strip().upper()
    if code not in ISO_4217:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


CurrencyCode = Annotated[str, BeforeValidator(_currency)]
"""An ISO 4217 currency code, upper-cased (``'eur'`` is accepted as ``'EUR'``)."""


def as_json_number(value: Decimal) -> float:
    """A Decimal for a JSON body (a float of a value with few places round-trips exactly via ``repr``)."""
    return float(value)


# --------------------------------------------------------------------------------------------------
# Document arithmetic: the one rule used to predict QBO's totals (see ``kyrios_qbo.mapping`` docstring).
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LineInput:
    """One sales line as arithmetic sees it. ``rates`` are (rate key, percent) pairs; the key says which
    lines share a QBO TaxRate (tax is rounded per rate, not per line)."""

    key: str
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None
    rates: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class LineAmounts:
    key: str
    gross: Decimal
    """round(qty × unit price)."""
    discount: Decimal
    net: Decimal
    """gross − line discount: the QBO line ``Amount`` (tax-inclusive when prices include tax)."""
    rate_keys: tuple[str, ...]


@dataclass(frozen=True)
class RateAmount:
    key: str
    rate: Decimal
    taxable: Decimal
    """Net amount taxable at this rate after the invoice discount (QBO ``TaxLineDetail.NetAmountTaxable``)."""
    tax: Decimal


@dataclass(frozen=True)
class DocumentAmounts:
    lines: tuple[LineAmounts, ...]
    subtotal: Decimal
    discount: Decimal
    """Invoice-level discount amount."""
    taxes: tuple[RateAmount, ...]
    tax_total: Decimal
    total: Decimal
    prices_include_tax: bool

    @property
    def line_discount_total(self) -> Decimal:
        return sum((line.discount for line in self.lines), ZERO)


def _line_amounts(line: LineInput) -> LineAmounts:
    gross = to_cents(line.quantity * line.unit_price)
    if line.discount_percent is not None:
        discount = to_cents(gross * line.discount_percent / HUNDRED)
    elif line.discount_amount is not None:
        discount = min(to_cents(line.discount_amount), gross)
    else:
        discount = ZERO
    return LineAmounts(line.key, gross, discount, gross - discount, tuple(key for key, _ in line.rates))


def _allocate(total: Decimal, weights: dict[tuple[str, ...], Decimal]) -> dict[tuple[str, ...], Decimal]:
    """Split ``total`` over groups in proportion to their weights, rounded to cents; the largest group
    (ties: last key in sort order) takes the rounding remainder so the parts add up exactly."""
    whole = sum(weights.values(), ZERO)
    if not weights or whole <= 0 or total == 0:
        return {group: ZERO for group in weights}
    ordered = sorted(weights, key=lambda group: (weights[group], group))
    parts = {group: to_cents(total * weights[group] / whole) for group in ordered[:-1]}
    parts[ordered[-1]] = total - sum(parts.values(), ZERO)
    return parts


def _tax_out_of_gross(
    gross: Decimal, keys: tuple[str, ...] | list[str], rate_values: dict[str, Decimal]
) -> tuple[Decimal, dict[str, Decimal]]:
    """A tax-inclusive amount's net at the keys' combined rate, and its tax per key: each key's rate of
    the net, the last key taking the remainder, so net + taxes = ``gross`` exactly."""
    net = to_cents(gross * HUNDRED / (HUNDRED + sum((rate_values[key] for key in keys), ZERO)))
    remaining = gross - net
    shares: dict[str, Decimal] = {}
    for key in keys[:-1]:
        shares[key] = to_cents(net * rate_values[key] / HUNDRED)
        remaining -= shares[key]
    shares[keys[-1]] = remaining
    return net, shares


def compute_amounts(
    lines: list[LineInput] | tuple[LineInput, ...],
    *,
    discount_percent: Decimal | None = None,
    discount_amount: Decimal | None = None,
    prices_include_tax: bool = False,
) -> DocumentAmounts:
    """Totals of a document, computed the way QBO computes them (rule in ``kyrios_qbo.mapping``)."""
    amounts = tuple(_line_amounts(line) for line in lines)
    subtotal = sum((line.net for line in amounts), ZERO)
    if discount_percent is not None:
        discount = to_cents(subtotal * discount_percent / HUNDRED)
    elif discount_amount is not None:
        discount = min(to_cents(discount_amount), subtotal)
    else:
        discount = ZERO

    rate_values: dict[str, Decimal] = {}
    groups: dict[tuple[str, ...], Decimal] = {}
    for line_input, line in zip(lines, amounts, strict=True):
        for key, rate in line_input.rates:
            rate_values.setdefault(key, rate)
        group = tuple(sorted(set(line.rate_keys)))
        groups[group] = groups.get(group, ZERO) + line.net
    allocation = _allocate(discount, groups)

    taxable: dict[str, Decimal] = {key: ZERO for key in rate_values}
    tax: dict[str, Decimal] = {key: ZERO for key in rate_values}
    for group, base in groups.items():
        net_of_discount = base - allocation[group]
        if not group:
            continue
        if not prices_include_tax:
            for key in group:
                taxable[key] += net_of_discount
            continue
        # Tax-inclusive: take the tax out of the group's gross once at the combined rate, then split it.
        net, shares = _tax_out_of_gross(net_of_discount, group, rate_values)
        for key in group:
            taxable[key] += net
            tax[key] += shares[key]
    if not prices_include_tax:
        tax = {key: to_cents(taxable[key] * rate_values[key] / HUNDRED) for key in rate_values}

    rates = tuple(RateAmount(key, rate_values[key], taxable[key], tax[key]) for key in sorted(rate_values))
    tax_total = sum((rate.tax for rate in rates), ZERO)
    total = subtotal - discount + (ZERO if prices_include_tax else tax_total)
    return DocumentAmounts(amounts, subtotal, discount, rates, tax_total, total, prices_include_tax)


def per_line_taxes(
    lines: list[LineInput] | tuple[LineInput, ...],
    discount: Decimal,
    *,
    prices_include_tax: bool = False,
) -> tuple[RateAmount, ...]:
    """Tax per rate when tax is rounded on every line (a common rule of invoicing tools) instead of
    once per rate: the invoice discount ``discount`` is shared over the lines in proportion to their
    nets (the largest line, ties the last, takes the remainder); each line's tax per rate is rounded
    half-up, then summed per rate. Tax-inclusive lines take the tax out of the line's gross at the
    line's combined rate, its last rate taking the remainder as in :func:`compute_amounts`."""
    amounts = [_line_amounts(line) for line in lines]
    shares = _allocate(discount, {(line.key, str(index)): line.net for index, line in enumerate(amounts)})
    rate_values: dict[str, Decimal] = {}
    taxable: dict[str, Decimal] = {}
    tax: dict[str, Decimal] = {}
    for index, (line_input, line) in enumerate(zip(lines, amounts, strict=True)):
        base = line.net - shares[(line.key, str(index))]
        keys = sorted({key for key, _ in line_input.rates})
        for key, rate in line_input.rates:
            rate_values.setdefault(key, rate)
            taxable.setdefault(key, ZERO)
            tax.setdefault(key, ZERO)
        if not keys:
            continue
        if not prices_include_tax:
            for key in keys:
                taxable[key] += base
                tax[key] += to_cents(base * rate_values[key] / HUNDRED)
            continue
        net, line_taxes = _tax_out_of_gross(base, keys, rate_values)
        for key in keys:
            taxable[key] += net
            tax[key] += line_taxes[key]
    return tuple(RateAmount(key, rate_values[key], taxable[key], tax[key]) for key in sorted(rate_values))
