"""Server-side amounts of sales transactions (Invoice, SalesReceipt), computed like QBO, to the cent.

Rules (docs/qbo-facts.md "The entities we use"; shapes from invoice-*.json, salesreceipt-*.json,
cdc-response.json which shows a TaxLine with NetAmountTaxable/TaxPercent):
- Sales line ``Amount = round_half_up(Qty * UnitPrice, 2)``; a supplied Amount that differs -> 6070.
- ``SubTotalLine.Amount`` = sum of sales line amounts.
- One discount line at transaction level: ``PercentBased`` -> ``D = round(subtotal * DiscountPercent/100)``,
  otherwise ``D`` = its ``Amount``, capped at the subtotal.
- The discount reduces the taxable base when tax applies after discount (always outside the US;
  in the US only with ``ApplyTaxAfterDiscount: true``). Lines are grouped by the *set of TaxRates*
  they carry; each group gets ``round(D * group net / subtotal)`` and the largest group (ties: the
  group whose rate ids sort last) takes the remainder.
- ``TaxExcluded`` (default outside the US) and US: per TaxRate, ``NetAmountTaxable`` = sum over the
  groups carrying it of (group net - group share of D), ``TaxLine.Amount = round(NetAmountTaxable *
  TaxPercent / 100)``: one rounding per rate per document, never per line. Total = subtotal - D + tax.
- ``TaxInclusive``: a line's gross is its ``SalesItemLineDetail.TaxInclusiveAmt`` when given (its
  ``Amount`` is then the net, checked against ``Qty * UnitPrice`` like any line: quickbooks-ruby #346,
  an Australian user's report), else the amount as entered. Per group with combined rate R,
  ``G`` = group gross - share of D, ``net = round(G * 100 / (100 + R))``, each rate's tax
  ``round(net * r / 100)``, the group's last rate (by id) taking the remainder so the group's tax is
  ``G - net``. Total = subtotal - D. The stored line ``Amount`` is ``round(gross * 100 / (100 + R_line))``
  and ``SalesItemLineDetail.TaxInclusiveAmt`` the gross. ``NotApplicable`` computes no tax.
- Where QBO's rounding was never captured (discount over several rates, inclusive lines) this is our
  documented assumption, the same rule as ``kyrios_qbo.mapping`` states, coded here independently.
- US automated sales tax (AST): lines are ``TAX``/``NON``; taxable lines are taxed at the company's
  configured flat AST rate (emulator simplification of Intuit's address-based rate) and
  ``TxnTaxDetail.TxnTaxCodeRef`` names the AST tax code. A customer with ``Taxable: false`` pays none.
- US manual sales tax (a company without AST): ``TAX`` lines are taxed at the rates of the code the request
  names in ``TxnTaxDetail.TxnTaxCodeRef`` (one code per transaction; none named: no tax, a guess).

Supplied tax amounts (:func:`apply_supplied`; sources and guesses listed in README "Supplied tax amounts"):
- US AST: an explicit ``TxnTaxDetail.TotalTax`` is honoured and prorated across the rates of the
  AST-assigned code (Intuit developer blog, 2017-12-11), when the document has taxed lines. US manual
  sales tax: the same across the rates of the code named by ``TxnTaxCodeRef`` (Intuit's hlu2 in
  QuickBooks-V3-PHP-SDK #199: the tax is taken from the request when it gives ``TxnTaxCodeRef`` and
  ``TotalTax``; that this holds without AST is a guess).
- Outside the US: a ``TaxLine`` whose ``TaxRateRef`` is a rate carried by the lines' TaxCodes keeps its
  ``Amount`` (quickbooks-ruby #547; the v3 ``TaxLineDetail.OverrideDeltaAmount`` field, recorded here as
  supplied − computed); ``TotalTax`` alone is recomputed (python-quickbooks #301); a TaxLine naming a
  rate no line carries is ignored (guess).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import faults
from .jsonfmt import money, plain

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass
class TaxRateInfo:
    id: str
    name: str
    rate: Decimal


@dataclass
class SalesLine:
    raw: dict[str, Any]
    amount: Decimal  # as entered (gross when tax-inclusive)
    tax_code: str | None


@dataclass
class TotalsResult:
    lines: list[dict[str, Any]]
    subtotal: Decimal
    discount: Decimal
    total_tax: Decimal
    total: Decimal
    tax_detail: dict[str, Any]
    inclusive_net: dict[int, Decimal] = field(default_factory=dict)


def line_amount(detail: dict[str, Any], supplied: Any) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """Amount, Qty, UnitPrice of a sales line (Qty*UnitPrice wins; mismatch -> 6070)."""
    qty = plain(detail["Qty"]) if detail.get("Qty") is not None else None
    price = plain(detail["UnitPrice"]) if detail.get("UnitPrice") is not None else None
    if price is not None and qty is None and supplied is None:
        qty = Decimal(1)
    if price is not None and qty is not None and supplied is not None and qty == 0 and price == 0:
        # Clients send Qty 0 / UnitPrice 0 defaults with the real Amount; QBO accepts the line
        # and keeps the Amount (issue 20, a third-party client's sandbox tests).
        return money(supplied), qty, price
    if price is not None and qty is not None:
        computed = money(qty * price)
        if supplied is not None and money(supplied) != computed:
            raise faults.QboError(
                400,
                "6070",
                "Amount is not equal to UnitPrice * Qty",
                f"Amount is not equal to UnitPrice * Qty. Supplied value:{plain(supplied)}",
                element="",
            )
        return computed, qty, price
    if supplied is None:
        raise faults.required_param("Line.Amount")
    return money(supplied), qty, price


def _rate_order(rate_id: str) -> tuple[int, str]:
    """Numeric order of QBO ids held as strings ("9" before "10")."""
    return (len(rate_id), rate_id)


def _group_order(group: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
    return tuple(_rate_order(r) for r in group)


def allocate(total: Decimal, weights: dict[tuple[str, ...], Decimal]) -> dict[tuple[str, ...], Decimal]:
    """Split ``total`` over rate groups in proportion to their weights, each share rounded to cents;
    the largest group (ties: the group whose rate ids sort last) takes the remainder, so the shares
    add up to ``total`` exactly and the biggest base absorbs the rounding."""
    whole = sum(weights.values(), ZERO)
    if not weights or whole <= 0 or total == 0:
        return {g: ZERO for g in weights}
    ordered = sorted(weights, key=lambda g: (weights[g], _group_order(g)))
    shares = {g: money(total * weights[g] / whole) for g in ordered[:-1]}
    shares[ordered[-1]] = total - sum(shares.values(), ZERO)
    return shares


def _discount_amount(discount_line: dict[str, Any] | None, subtotal: Decimal) -> Decimal:
    if discount_line is None:
        return ZERO
    d = discount_line.get("DiscountLineDetail") or {}
    if d.get("PercentBased") and d.get("DiscountPercent") is not None:
        return money(subtotal * plain(d["DiscountPercent"]) / HUNDRED)
    # An amount discount larger than the subtotal is capped at it (documented assumption, see README).
    return min(money(discount_line.get("Amount") or 0), subtotal)


def compute(
    sales: list[SalesLine],
    discount_line: dict[str, Any] | None,
    rates_by_code: dict[str, list[TaxRateInfo]],
    mode: str,
    tax_after_discount: bool,
    us_ast: tuple[str, list[TaxRateInfo]] | None,
    customer_taxable: bool,
    supplied: dict[str, Any] | None = None,
    rules: SuppliedTaxRules | None = None,
) -> TotalsResult:
    """Return the totals; ``mode`` is TaxExcluded/TaxInclusive/NotApplicable or ``US``."""
    subtotal = sum((s.amount for s in sales), ZERO)
    discount = _discount_amount(discount_line, subtotal)

    # Lines grouped by the set of TaxRates they carry (the unit the discount is allocated over).
    rates: dict[str, TaxRateInfo] = {}
    groups: dict[tuple[str, ...], Decimal] = {}
    for s in sales:
        line_rates = _line_rates(s, rates_by_code, mode, us_ast, customer_taxable)
        for rate in line_rates:
            rates.setdefault(rate.id, rate)
        group = tuple(sorted({r.id for r in line_rates}, key=_rate_order))
        groups[group] = groups.get(group, ZERO) + s.amount
    shares = allocate(discount, groups) if tax_after_discount else {g: ZERO for g in groups}

    taxable = {rate_id: ZERO for rate_id in rates}
    tax = {rate_id: ZERO for rate_id in rates}
    for group, base in groups.items():
        after_discount = base - shares[group]
        if not group:
            continue
        if mode != "TaxInclusive":
            for rate_id in group:
                taxable[rate_id] += after_discount
            continue
        # Take the tax out of the group's gross once at the combined rate, then split it per rate;
        # the group's last rate takes the remainder so the group's tax is exactly gross - net.
        net = money(after_discount * HUNDRED / (HUNDRED + sum((rates[r].rate for r in group), ZERO)))
        left = after_discount - net
        for rate_id in group[:-1]:
            share = money(net * rates[rate_id].rate / HUNDRED)
            tax[rate_id] += share
            left -= share
            taxable[rate_id] += net
        tax[group[-1]] += left
        taxable[group[-1]] += net
    if mode != "TaxInclusive":
        # one rounding per rate per document, on the summed base
        tax = {rate_id: money(taxable[rate_id] * rates[rate_id].rate / HUNDRED) for rate_id in rates}
    deltas = apply_supplied(tax, rates, mode, supplied, rules or SuppliedTaxRules())

    tax_lines = [
        _tax_line(rates[r], tax[r], taxable[r], deltas.get(r)) for r in sorted(rates, key=_rate_order)
    ]
    total_tax = sum(tax.values(), ZERO)
    tax_detail: dict[str, Any] = {}
    if mode == "US" and tax_lines and us_ast is not None:
        tax_detail["TxnTaxCodeRef"] = {"value": us_ast[0]}
    tax_detail["TotalTax"] = total_tax
    if tax_lines:
        tax_detail["TaxLine"] = tax_lines

    inclusive_net: dict[int, Decimal] = {}
    if mode == "TaxInclusive":
        for i, s in enumerate(sales):
            r = sum((x.rate for x in rates_by_code.get(s.tax_code or "", [])), ZERO)
            inclusive_net[i] = money(s.amount * HUNDRED / (HUNDRED + r))

    total = subtotal - discount if mode == "TaxInclusive" else subtotal - discount + total_tax
    return TotalsResult([], subtotal, discount, total_tax, total, tax_detail, inclusive_net)


def _line_rates(
    line: SalesLine,
    rates_by_code: dict[str, list[TaxRateInfo]],
    mode: str,
    us_ast: tuple[str, list[TaxRateInfo]] | None,
    customer_taxable: bool,
) -> list[TaxRateInfo]:
    """The TaxRates that apply to one sales line (none when the document computes no tax)."""
    if line.tax_code is None or mode == "NotApplicable":
        return []
    if mode == "US":
        if line.tax_code == "TAX" and us_ast is not None and customer_taxable:
            return list(us_ast[1])
        return []
    return list(rates_by_code.get(line.tax_code, []))


def _tax_line(rate: TaxRateInfo, amount: Decimal, net: Decimal, delta: Decimal | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "TaxRateRef": {"value": rate.id},
        "PercentBased": True,
        "TaxPercent": plain(rate.rate),
        "NetAmountTaxable": net,
    }
    if delta:
        detail["OverrideDeltaAmount"] = delta
    return {"Amount": amount, "DetailType": "TaxLineDetail", "TaxLineDetail": detail}


@dataclass(frozen=True)
class SuppliedTaxRules:
    """``EmulatorConfig.supplied_tax_honoured`` / ``supplied_tax_max_delta``."""

    honoured: bool = True
    max_delta: Decimal | None = None


def _amount(value: Any) -> Decimal | None:
    try:
        return money(value) if value is not None else None
    except (ArithmeticError, TypeError, ValueError):
        return None


def apply_supplied(
    tax: dict[str, Decimal],
    rates: dict[str, TaxRateInfo],
    mode: str,
    supplied: dict[str, Any] | None,
    rules: SuppliedTaxRules,
) -> dict[str, Decimal]:
    """Replace computed tax per rate by the amounts the request supplied, where QBO honours them (rules
    in the module docstring); returns supplied − computed per overridden rate."""
    if not supplied or not rules.honoured or not rates or not isinstance(supplied, dict):
        return {}
    deltas: dict[str, Decimal] = {}
    if mode == "US":
        total = _amount(supplied.get("TotalTax"))
        if total is None or total < 0:
            return {}
        ordered = sorted(rates, key=_rate_order)
        whole = sum((rates[r].rate for r in ordered), ZERO)
        left = total
        for rate_id in ordered:
            last = rate_id == ordered[-1] or whole == 0
            share = left if last else money(total * rates[rate_id].rate / whole)
            left -= share
            deltas[rate_id] = share - tax[rate_id]
            tax[rate_id] = share
        return {r: d for r, d in deltas.items() if d}
    if mode not in ("TaxExcluded", "TaxInclusive"):
        return {}
    for line in supplied.get("TaxLine") or []:
        if not isinstance(line, dict):
            continue
        detail = line.get("TaxLineDetail")
        detail = detail if isinstance(detail, dict) else {}
        ref = detail.get("TaxRateRef")
        ref = ref if isinstance(ref, dict) else {}
        rate_id = str(ref.get("value") or "")
        amount = _amount(line.get("Amount"))
        if rate_id not in rates or amount is None or amount < 0:
            continue
        if rules.max_delta is not None and abs(amount - tax[rate_id]) > rules.max_delta:
            continue
        if amount != tax[rate_id]:
            deltas[rate_id] = amount - tax[rate_id]
        tax[rate_id] = amount
    return deltas
