"""Kyrios taxes → QBO tax handling. Pure functions, no I/O.

Outside the US every QBO sales line needs a ``TaxCodeRef`` (else fault 6000) and a TaxCode is a bundle of
TaxRates. :func:`plan_taxes` decides, per Kyrios line, which existing code to use, or describes the codes
to create with ``POST taxservice/taxcode`` (:meth:`TaxCodeToCreate.payload`); once the pusher has created
them it calls :meth:`TaxPlan.resolve` with the new ids and hands the plan to ``kyrios_qbo.mapping``.

Matching an existing code: active, not a US placeholder, and its *sales* rates have exactly the line's
rates (as a multiset of percentages). Among several, the one whose rate/code names match the Kyrios tax
names wins, then the lowest Id (so the choice is stable). A line with no tax (or only 0 % taxes) uses a
zero-rated code, preferring names like "Exempt", "Zero-rated", "No VAT".

Creating a code (Canada above all): each rate of the new code reuses an existing QBO TaxRate of the
same percent filed under the agency that collects that tax (GST 5 % under the Canada Revenue Agency →
that rate, by ``TaxRateId``: QBO's combined codes such as "GST/PST BC" share the company's GST rate), so
a tax is rounded once per document on one rate. A rate that must be created is filed under the agency of
its tax: GST/HST with the Canada Revenue Agency, PST with the province's Minister of Finance (province
from the tax name, else the company address), QST with Revenu Québec — an agency missing from the
company is created first (:attr:`TaxPlan.agencies_to_create`). Agency names are in
:data:`PROVINCIAL_AGENCIES` (our guess of how QBO Canada names them; callers may pass their own).

US companies: lines are ``TAX`` (has a non-zero Kyrios tax) or ``NON``; ``GlobalTaxCalculation`` is not
sent. With automated sales tax ``TxnTaxDetail.TxnTaxCodeRef`` is left for QBO's AST to fill. Without it
(older companies on manual sales tax) QBO taxes nothing unless the transaction names one of the company's
codes, so :attr:`TaxPlan.txn_tax_code_id` is the active code whose rates add up to Kyrios's rate (a name
match first, then the lowest Id), else the company's first taxing code (Kyrios's amount travels anyway).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from kyrios_qbo.models.kyrios import KyriosLine, LineTax
from kyrios_qbo.models.qbo import CompanyInfo, TaxAgency, TaxCode, TaxRate
from kyrios_qbo.money import ZERO, format_rate

GlobalTaxCalculation = Literal["TaxInclusive", "TaxExcluded", "NotApplicable"]

NAME_LIMIT = 100
CODE_PREFIX = "Kyrios"
ZERO_CODE_NAMES = ("exempt", "zero-rated", "zero rated", "no vat", "zero", "0%")
US_TAXABLE, US_NON_TAXABLE = "TAX", "NON"
_ZERO_KINDS = {
    "zero": ("zero", "0.0% z", "0% z"),
    "exempt": ("exempt", "0.0% e"),
    "no vat": ("no vat", "out of scope"),
    "free": ("free", "fre"),
}

# Which agency usually collects which tax, to pick a sensible TaxAgencyId for a new rate.
_AGENCY_HINTS = {
    "vat": ("hmrc", "hm revenue", "revenue"),
    "gst": ("canada revenue", "cra", "australian taxation", "ato", "inland revenue", "iras"),
    "hst": ("canada revenue", "cra"),
    "tps": ("canada revenue", "cra", "agence du revenu"),
    "tvh": ("canada revenue", "cra", "agence du revenu"),
}


# Province → the agency a provincial sales tax is filed with, when the company has none yet (E: our guess
# of QBO Canada's names; QST is collected by Revenu Québec, PST by each province's finance ministry).
PROVINCIAL_AGENCIES: dict[str, str] = {
    "BC": "Minister of Finance (BC)",
    "MB": "Minister of Finance (MB)",
    "SK": "Minister of Finance (SK)",
    "QC": "Revenu Québec",
}
GENERIC_PROVINCIAL_AGENCY = "Minister of Finance"
_PROVINCE_WORDS = {
    "BC": ("bc", "british columbia"),
    "MB": ("mb", "manitoba"),
    "SK": ("sk", "saskatchewan"),
    "QC": ("qc", "quebec", "québec"),
}
_PROVINCIAL_WORDS = ("pst", "rst", "qst", "tvq")


class TaxSetupError(ValueError):
    """The company's tax setup cannot carry the Kyrios taxes (a permanent error a bookkeeper can fix)."""


class UnresolvedTaxPlan(ValueError):
    """A plan still has codes to create; call :meth:`TaxPlan.resolve` with their ids first."""


@dataclass(frozen=True)
class TaxRateToCreate:
    """One rate of a new code: either a new rate (name/value/agency) or an existing rate reused by id."""

    name: str
    rate_percent: Decimal
    agency_id: str | None = None
    existing_rate_id: str | None = None
    agency_name: str | None = None
    """An agency the company lacks: created first, its id passed to :meth:`detail`."""

    def detail(self, agency_ids: Mapping[str, str] | None = None) -> dict[str, str]:
        if self.existing_rate_id:
            return {"TaxRateId": self.existing_rate_id}
        detail = {
            "TaxRateName": self.name,
            "RateValue": format_rate(self.rate_percent),
            "TaxApplicableOn": "Sales",
        }
        agency_id = self.agency_id or (agency_ids or {}).get(self.agency_name or "")
        if agency_id:
            detail["TaxAgencyId"] = agency_id
        return detail


@dataclass(frozen=True)
class TaxCodeToCreate:
    key: str
    """Stable identity of the tax combination (for the id-mapping store and the ``requestid``)."""
    name: str
    rates: tuple[TaxRateToCreate, ...]

    def payload(self, agency_ids: Mapping[str, str] | None = None) -> dict[str, object]:
        """Body of ``POST taxservice/taxcode`` (``agency_ids``: name → id of the agencies created for it)."""
        return {"TaxCode": self.name, "TaxRateDetails": [rate.detail(agency_ids) for rate in self.rates]}


@dataclass(frozen=True)
class LineTaxCode:
    line_id: str
    tax_code_id: str | None
    """Existing QBO TaxCode id (``TAX``/``NON`` for US companies); ``None`` until a new code is created."""
    pending_key: str | None = None
    rate_keys: tuple[tuple[str, Decimal], ...] = ()
    """(rate identity, percent) per tax, so totals are rounded per QBO TaxRate as QBO does."""
    qbo_rates: tuple[tuple[str, str], ...] = ()
    """(Kyrios tax id, QBO TaxRate id) for each non-zero Kyrios tax of the line: where its amount goes in
    ``TxnTaxDetail.TaxLine``. A rate of a code still to be created reads ``pending:<key>:<index>``."""


@dataclass(frozen=True)
class TaxPlan:
    is_us: bool
    global_tax_calculation: GlobalTaxCalculation | None
    """``None`` for US companies (AST decides)."""
    lines: Mapping[str, LineTaxCode]
    to_create: tuple[TaxCodeToCreate, ...] = field(default=())
    txn_tax_code_id: str | None = None
    """US manual sales tax: the company's code the transaction names (``TxnTaxDetail.TxnTaxCodeRef``)."""
    txn_tax_percent: Decimal | None = None
    """The combined percent of :attr:`txn_tax_code_id`."""

    @property
    def agencies_to_create(self) -> tuple[str, ...]:
        """Names of the agencies the codes to create need and the company lacks."""
        names = {rate.agency_name for code in self.to_create for rate in code.rates if rate.agency_name}
        return tuple(sorted(names))

    @property
    def is_resolved(self) -> bool:
        return all(line.tax_code_id for line in self.lines.values())

    def resolve(
        self, created: Mapping[str, str], created_rates: Mapping[str, Sequence[str]] | None = None
    ) -> TaxPlan:
        """The plan with codes created since planning (``TaxCodeToCreate.key`` → new TaxCode id, and
        → the new code's TaxRate ids in the order of ``TaxCodeToCreate.rates``)."""
        missing = [code.key for code in self.to_create if code.key not in created]
        if missing:
            raise UnresolvedTaxPlan(f"no TaxCode id for {', '.join(missing)}")
        rate_ids = created_rates or {}

        def rate_id(ref: str) -> str:
            """The new rate's id; empty when QBO did not say (no TaxLine is sent for it then)."""
            if not ref.startswith("pending:"):
                return ref
            _, key, index = ref.rsplit(":", 2)
            ids = rate_ids.get(key) or ()
            return ids[int(index)] if int(index) < len(ids) else ""

        lines = {
            line_id: replace(
                line,
                tax_code_id=created[line.pending_key],
                pending_key=None,
                qbo_rates=tuple(
                    (tax_id, rate_id(ref)) for tax_id, ref in line.qbo_rates if rate_id(ref)
                ),
            )
            if line.pending_key
            else line
            for line_id, line in self.lines.items()
        }
        return replace(self, lines=lines, to_create=())

    def qbo_rate_ids(self) -> dict[str, dict[str, list[str]]]:
        """Kyrios tax id → QBO TaxRate id → the lines whose tax goes there (a resolved plan). One Kyrios
        tax lands on several QBO rates when lines carry it in different codes."""
        found: dict[str, dict[str, list[str]]] = {}
        for line_id, line in self.lines.items():
            for tax_id, rate in line.qbo_rates:
                found.setdefault(tax_id, {}).setdefault(rate, []).append(line_id)
        return found

    def tax_code_for(self, line_id: str) -> str:
        line = self.lines.get(line_id)
        if line is None:
            raise UnresolvedTaxPlan(f"the tax plan has no entry for line {line_id}")
        if not line.tax_code_id:
            raise UnresolvedTaxPlan(f"line {line_id} waits for TaxCode {line.pending_key} to be created")
        return line.tax_code_id


def global_tax_calculation(lines: Sequence[KyriosLine], prices_include_tax: bool) -> GlobalTaxCalculation:
    """``NotApplicable`` when no line carries a non-zero tax, else inclusive/exclusive per Kyrios."""
    if not any(tax.rate_percent > 0 for line in lines for tax in line.taxes):
        return "NotApplicable"
    return "TaxInclusive" if prices_include_tax else "TaxExcluded"


def plan_taxes(
    company: CompanyInfo,
    lines: Sequence[KyriosLine],
    *,
    prices_include_tax: bool,
    tax_codes: Iterable[TaxCode] = (),
    tax_rates: Iterable[TaxRate] = (),
    agencies: Iterable[TaxAgency] = (),
    provincial_agencies: Mapping[str, str] | None = None,
    manual_sales_tax: bool = False,
) -> TaxPlan:
    """Decide the QBO TaxCode of every line (see module docstring); ``manual_sales_tax``: a US company
    without automated sales tax (``tax_codes``/``tax_rates`` are then its codes)."""
    if company.is_us:
        chosen = _us_txn_code(lines, tax_codes, tax_rates) if manual_sales_tax else None
        return TaxPlan(
            is_us=True,
            global_tax_calculation=None,
            lines={
                line.line_id: LineTaxCode(
                    line.line_id,
                    US_TAXABLE if any(tax.rate_percent > 0 for tax in line.taxes) else US_NON_TAXABLE,
                    rate_keys=tuple((f"kyrios:{tax.tax_id}", tax.rate_percent) for tax in line.taxes),
                )
                for line in lines
            },
            txn_tax_code_id=chosen[0] if chosen else None,
            txn_tax_percent=chosen[1] if chosen else None,
        )
    address = company.company_addr or company.legal_addr
    region = (address.country_sub_division_code or "").strip().upper() if address else ""
    planner = _Planner(
        list(tax_codes),
        list(tax_rates),
        list(agencies),
        region=region,
        provincial_agencies=PROVINCIAL_AGENCIES if provincial_agencies is None else provincial_agencies,
    )
    decided = {line.line_id: planner.decide(line) for line in lines}
    return TaxPlan(
        is_us=False,
        global_tax_calculation=global_tax_calculation(lines, prices_include_tax),
        lines=decided,
        to_create=tuple(planner.to_create.values()),
    )


# ------------------------------------------------------------------------------------ internals


def _us_txn_code(
    lines: Sequence[KyriosLine], tax_codes: Iterable[TaxCode], tax_rates: Iterable[TaxRate]
) -> tuple[str, Decimal] | None:
    """(code id, combined percent) for a US company on manual sales tax (module docstring); None when
    no line is taxed or the company has no taxing code."""
    taxed = [line for line in lines if any(tax.rate_percent > 0 for tax in line.taxes)]
    if not taxed:
        return None
    rates = {rate.id: rate for rate in tax_rates}
    usable: list[tuple[TaxCode, Decimal]] = []
    for code in tax_codes:
        if code.active is False or code.is_deleted or code.is_us_pseudo_code or not code.sales_rate_ids:
            continue
        code_rates = [rates.get(rate_id) for rate_id in code.sales_rate_ids]
        live = [rate for rate in code_rates if rate is not None and rate.active is not False]
        if len(live) != len(code_rates):
            continue
        percent = sum((rate.rate_value or ZERO for rate in live), ZERO)
        if percent > 0:
            usable.append((code, percent))
    if not usable:
        return None
    # The rate most of the taxed amount carries (ties: the first line's).
    weights: dict[Decimal, Decimal] = {}
    for line in taxed:
        combined = sum((tax.rate_percent for tax in line.taxes), ZERO)
        weights[combined] = weights.get(combined, ZERO) + line.quantity * line.unit_price
    wanted = max(weights, key=lambda percent: weights[percent])
    names = [tax.name for line in taxed for tax in line.taxes]

    def preference(entry: tuple[TaxCode, Decimal]) -> tuple[int, int, tuple[int, int, str]]:
        code, percent = entry
        named = any(_names_match(name, code.name) for name in names)
        return (0 if percent == wanted else 1, 0 if named else 1, _id_order(code.id))

    code, percent = min(usable, key=preference)
    return code.id, percent


def _fold(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").casefold()).strip()


def _names_match(kyrios_name: str, qbo_name: str | None) -> bool:
    a, b = _fold(kyrios_name), _fold(qbo_name)
    return bool(a and b) and (a in b or b in a)


def _mentions(folded: str, names: Iterable[str]) -> bool:
    """Whether ``folded`` text names one of ``names``: a short name (bc, pst) as a word, a longer one
    (minist, british columbia) anywhere."""
    words = set(re.findall(r"\w+", folded))
    return any((name in words) if len(name) <= 3 else (name in folded) for name in names)


def _id_order(entity_id: str) -> tuple[int, int, str]:
    return (0, int(entity_id), "") if entity_id.isdigit() else (1, 0, entity_id)


def tax_set_key(taxes: Sequence[LineTax]) -> str:
    """Stable key of a combination of taxes (order and case do not matter): the id-mapping key under
    which the QBO TaxCode chosen for that combination is remembered."""
    canonical = "|".join(sorted(f"{_fold(tax.name)}={format_rate(tax.rate_percent)}" for tax in taxes))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return f"taxcode-{digest}"


def _truncate(name: str, limit: int = NAME_LIMIT) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


class _Planner:
    def __init__(
        self,
        codes: list[TaxCode],
        rates: list[TaxRate],
        agencies: list[TaxAgency],
        *,
        region: str = "",
        provincial_agencies: Mapping[str, str] = PROVINCIAL_AGENCIES,
    ) -> None:
        self.region = region
        self.provincial_agencies = provincial_agencies
        self.rates = {rate.id: rate for rate in rates}
        self.codes = sorted(
            (
                code
                for code in codes
                if code.active is not False
                and not code.is_deleted
                and not code.is_us_pseudo_code
                and code.sales_rate_ids
                and all(rate_id in self.rates for rate_id in code.sales_rate_ids)
            ),
            key=lambda code: _id_order(code.id),
        )
        self.code_names = {_fold(code.name) for code in codes}
        self.agencies = sorted(
            (
                agency
                for agency in agencies
                if agency.tax_tracked_on_sales is not False and not agency.is_deleted
            ),
            key=lambda agency: _id_order(agency.id),
        )
        self.sales_rate_ids = {rate_id for code in self.codes for rate_id in code.sales_rate_ids}
        self.to_create: dict[str, TaxCodeToCreate] = {}

    # -- deciding

    def decide(self, line: KyriosLine) -> LineTaxCode:
        taxes = [tax for tax in line.taxes if tax.rate_percent > 0] or list(line.taxes)
        if all(tax.rate_percent == 0 for tax in taxes):
            code = self._zero_code(taxes)
            if code is not None:
                return LineTaxCode(line.line_id, code.id, rate_keys=self._rate_keys(code, taxes))
            return self._pending(line.line_id, taxes or [])
        found = self._matching_code(taxes)
        if found is not None:
            return LineTaxCode(
                line.line_id,
                found.id,
                rate_keys=self._rate_keys(found, taxes),
                qbo_rates=self._pair(found, taxes),
            )
        return self._pending(line.line_id, taxes)

    def _pair(self, code: TaxCode, taxes: Sequence[LineTax]) -> tuple[tuple[str, str], ...]:
        """Each non-zero Kyrios tax → the code's rate of the same percent (a name match first)."""
        free = list(self._code_rates(code))
        pairs: list[tuple[str, str]] = []
        for tax in sorted(taxes, key=lambda t: (t.rate_percent, _fold(t.name))):
            same = [rate for rate in free if (rate.rate_value or ZERO) == tax.rate_percent]
            if tax.rate_percent <= 0 or not same:
                continue
            chosen = next((rate for rate in same if _names_match(tax.name, rate.name)), same[0])
            free.remove(chosen)
            pairs.append((tax.tax_id, chosen.id))
        return tuple(pairs)

    def _code_rates(self, code: TaxCode) -> list[TaxRate]:
        return [self.rates[rate_id] for rate_id in code.sales_rate_ids]

    def _matching_code(self, taxes: Sequence[LineTax]) -> TaxCode | None:
        wanted = sorted(tax.rate_percent for tax in taxes)
        best: tuple[int, TaxCode] | None = None
        for code in self.codes:
            rates = self._code_rates(code)
            if sorted(rate.rate_value or ZERO for rate in rates) != wanted:
                continue
            score = sum(
                1
                for tax in taxes
                if any(_names_match(tax.name, name) for name in (code.name, *(rate.name for rate in rates)))
            )
            if best is None or score > best[0]:
                best = (score, code)
        return best[1] if best else None

    def _zero_code(self, taxes: Sequence[LineTax]) -> TaxCode | None:
        zero_codes = [
            code
            for code in self.codes
            if all((rate.rate_value or ZERO) == 0 for rate in self._code_rates(code))
        ]

        def preference(code: TaxCode) -> tuple[int, int]:
            names = [code.name, *(rate.name for rate in self._code_rates(code))]
            if any(_names_match(tax.name, name) for tax in taxes for name in names):
                return (0, 0)
            folded = " ".join(_fold(name) for name in names)
            # A Kyrios tax called "Zero-rated" should land on UK "0.0% Z", "Exempt" on "Exempt", etc.
            for kind, aliases in _ZERO_KINDS.items():
                if any(kind in _fold(tax.name) for tax in taxes) and any(
                    alias in folded for alias in aliases
                ):
                    return (1, 0)
            for rank, hint in enumerate(ZERO_CODE_NAMES):
                if hint in folded:
                    return (2, rank)
            return (3, 0)

        ranked = sorted(zero_codes, key=preference)  # stable: ties keep the Id order
        return ranked[0] if ranked else None

    def _rate_keys(self, code: TaxCode, taxes: Sequence[LineTax]) -> tuple[tuple[str, Decimal], ...]:
        """Pair each QBO rate of ``code`` with a Kyrios tax (name first), keyed by the QBO TaxRate id."""
        return tuple((f"qbo:{rate.id}", rate.rate_value or ZERO) for rate in self._code_rates(code))

    # -- creating

    def _pending(self, line_id: str, taxes: Sequence[LineTax]) -> LineTaxCode:
        key = tax_set_key(taxes)
        code = self.to_create.get(key) or self._describe_new_code(key, taxes)
        self.to_create[key] = code
        parts = [(rate.rate_percent, index) for index, rate in enumerate(code.rates)]
        pairs: list[tuple[str, str]] = []
        for tax in sorted(taxes, key=lambda t: (_fold(t.name), t.rate_percent)):
            match = next((p for p in parts if p[0] == tax.rate_percent), None)
            if match is None or tax.rate_percent <= 0:
                continue
            parts.remove(match)
            reused = code.rates[match[1]].existing_rate_id
            pairs.append((tax.tax_id, reused or f"pending:{key}:{match[1]}"))
        return LineTaxCode(
            line_id,
            None,
            pending_key=key,
            rate_keys=tuple(
                (f"qbo:{rate.existing_rate_id}" if rate.existing_rate_id else f"new:{key}:{rate.name}",
                 rate.rate_percent)
                for rate in code.rates
            ),
            qbo_rates=tuple(pairs),
        )

    def _describe_new_code(self, key: str, taxes: Sequence[LineTax]) -> TaxCodeToCreate:
        if not taxes:
            parts = [("No tax", ZERO)]
        else:
            parts = sorted(
                ((tax.name.strip(), tax.rate_percent) for tax in taxes), key=lambda p: (p[0].casefold(), p[1])
            )
        rates = tuple(self._describe_rate(name, rate) for name, rate in parts)
        label = " + ".join(f"{name} {format_rate(rate)}%" for name, rate in parts)
        name = self._unused(f"{CODE_PREFIX} {label}", self.code_names)
        return TaxCodeToCreate(key=key, name=name, rates=rates)

    def _describe_rate(self, tax_name: str, rate: Decimal) -> TaxRateToCreate:
        name = _truncate(f"{CODE_PREFIX} {tax_name} {format_rate(rate)}%")
        same_name = [existing for existing in self.rates.values() if _fold(existing.name) == _fold(name)]
        for existing in same_name:
            if (existing.rate_value or ZERO) == rate and existing.active is not False:
                return TaxRateToCreate(name=name, rate_percent=rate, existing_rate_id=existing.id)
        if same_name:  # someone reused our name for another rate: stay unique rather than collide (6240)
            name = self._unused(name, {_fold(existing.name) for existing in self.rates.values()})
        agency_id, agency_name, identified = self._agency_for(tax_name)
        if agency_id and identified:
            reused = self._reusable_rate(tax_name, rate, agency_id)
            if reused is not None:
                return TaxRateToCreate(
                    name=reused.name or name, rate_percent=rate, existing_rate_id=reused.id
                )
        return TaxRateToCreate(name=name, rate_percent=rate, agency_id=agency_id, agency_name=agency_name)

    def _reusable_rate(self, tax_name: str, rate: Decimal, agency_id: str) -> TaxRate | None:
        """An active sales rate of ``rate`` % filed under ``agency_id`` (name match first, then lowest Id)."""
        same = [
            existing
            for existing in self.rates.values()
            if existing.id in self.sales_rate_ids
            and existing.active is not False
            and (existing.rate_value or ZERO) == rate
            and existing.agency_ref is not None
            and existing.agency_ref.value == agency_id
        ]
        same.sort(key=lambda existing: (not _names_match(tax_name, existing.name), _id_order(existing.id)))
        return same[0] if same else None

    def _province(self, folded: str) -> str:
        """The province a provincial tax belongs to: named in the tax, else the company's (QST: Québec)."""
        for province, names in _PROVINCE_WORDS.items():
            if _mentions(folded, names):
                return province
        if _mentions(folded, ("qst", "tvq")):
            return "QC"
        return self.region if self.region in _PROVINCE_WORDS else ""

    def _provincial_agency(self, folded: str) -> tuple[str | None, str | None, bool]:
        province = self._province(folded)
        wanted = self.provincial_agencies.get(province, GENERIC_PROVINCIAL_AGENCY)
        for agency in self.agencies:
            name = _fold(agency.display_name)
            if name == _fold(wanted):
                return agency.id, None, True
            if _mentions(name, ("canada revenue", "cra")):  # federal, never a provincial tax's
                continue
            if province and _mentions(name, ("minist", "finance", "revenu")):
                if _mentions(name, _PROVINCE_WORDS[province]):
                    return agency.id, None, True
            elif not province and _mentions(name, ("minist", "finance")):
                return agency.id, None, True
        return None, wanted, True

    def _agency_for(self, tax_name: str) -> tuple[str | None, str | None, bool]:
        """(existing agency id, or the name of an agency to create; whether the tax's agency was
        identified rather than guessed)."""
        folded = _fold(tax_name)
        words = re.findall(r"\w+", folded)
        if _mentions(folded, _PROVINCIAL_WORDS):
            return self._provincial_agency(folded)
        if not self.agencies:
            raise TaxSetupError(
                "QuickBooks has no sales tax agency yet: set up sales tax in QuickBooks (Taxes ▸ Set up) "
                "so Kyrios can add its tax rates"
            )
        hints = next((words_ for tax, words_ in _AGENCY_HINTS.items() if tax in words), ())

        def score(agency: TaxAgency) -> tuple[int, int]:
            agency_name = _fold(agency.display_name)
            if folded and folded in agency_name:
                return (0, 0)
            # Hints are listed most specific first.
            ranks = [rank for rank, hint in enumerate(hints) if hint in agency_name]
            return (1, min(ranks)) if ranks else (2, 0)

        best = sorted(self.agencies, key=score)[0]
        return best.id, None, score(best)[0] < 2

    @staticmethod
    def _unused(name: str, taken: set[str]) -> str:
        candidate = _truncate(name)
        counter = 2
        while _fold(candidate) in taken:
            suffix = f" ({counter})"
            candidate = _truncate(name, NAME_LIMIT - len(suffix)) + suffix
            counter += 1
        return candidate
