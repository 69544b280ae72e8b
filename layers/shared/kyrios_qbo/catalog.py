"""What a pushed document refers to in QBO besides its customer: the company's profile (country,
home currency, multi-currency), Items for Kyrios products and TaxCodes for Kyrios taxes.

Items are created on first use (a Service item with the company's income account) and remembered in
the id mapping (kind ``item``), so later documents cost no QBO call for them. Tax codes follow
``kyrios_qbo.tax``'s plan (existing codes matched by rate and name, missing ones created with
``create_tax_code``); the code chosen for each combination of Kyrios taxes is remembered in the id
mapping (kind ``tax_code``), so a known combination costs no QBO call either. Creations use
deterministic ``requestid`` values, so a retry after a timeout never creates a second item or code.

Company facts (CompanyInfo, Preferences, the income account) are read once per container and company
and kept for :data:`COMPANY_CACHE_SECONDS`, or until they matter again:

- the connection says the company changed since they were read (``Connection.company_changed_at``: set
  by every connect or reconnect, and by an Intuit webhook about ``Preferences``);
- a foreign-currency document meets a cached "multi-currency off": Preferences are read again before
  the document is refused (the user may just have turned it on, and a redrive must then succeed). A
  cached "on" is never re-read for that: QBO cannot turn multi-currency off once on (Intuit, "Manage
  multiple currencies": "cannot be disabled once it's been enabled");
- QBO refused a write for its currency (``QboCurrencyError``): :func:`forget_company`.

So a push in the home currency costs no read, and only a refused foreign-currency document costs one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kyrios_qbo import config, mapping, store, tax
from kyrios_qbo.models.kyrios import KyriosLine, KyriosProduct, LineTax
from kyrios_qbo.models.qbo import Account, CompanyInfo, Item, TaxAgency, TaxCode, TaxRate
from kyrios_qbo.qbo_client import QboClient
from kyrios_qbo.qbo_errors import QboDuplicateName
from kyrios_qbo.qbo_query import Select

COMPANY_CACHE_SECONDS = 900.0
MAX_NAME_ATTEMPTS = 5
# Income accounts in order of preference for service sales; "Discounts given" is Income too but wrong.
_INCOME_SUBTYPES = ("ServiceFeeIncome", "SalesOfProductIncome", "OtherPrimaryIncome")
_NOT_FOR_SALES = frozenset({"DiscountsRefundsGiven", "UnappliedCashPaymentIncome"})


class CatalogSetupError(mapping.MappingError):
    """The company lacks something we cannot create for it (e.g. an income account)."""

    code = "company_setup"


@dataclass(frozen=True)
class Company:
    """What pushing needs to know about one QBO company."""

    info: CompanyInfo
    profile: mapping.CompanyProfile
    automated_sales_tax: bool = True
    """US: ``Preferences.TaxPrefs.PartnerTaxEnabled`` (false: an older company on manual sales tax)."""


@dataclass
class _CachedCompany:
    company: Company
    income_account_id: str | None
    read_at: float
    read_at_wall: float = 0.0
    """Epoch seconds of the read, compared with ``Connection.company_changed_at``."""
    sales_tax_setup: tuple[list[TaxCode], list[TaxRate]] | None = None
    """US manual sales tax: the company's codes and rates, read once like the rest."""


_companies: dict[str, _CachedCompany] = {}
_lock = threading.Lock()


def _cache_key(client: QboClient) -> str:
    return f"{client.realm_id}@{getattr(client, '_base', '')}"


def forget_companies() -> None:
    """Drop cached company facts (a company changed its setup, or tests reset the QBO emulator)."""
    with _lock:
        _companies.clear()


def forget_company(client: QboClient) -> None:
    """Drop one company's cached facts: the next push reads them again (QBO refused its currency)."""
    with _lock:
        _companies.pop(_cache_key(client), None)


def _cached(client: QboClient, changed_since: str | None = None) -> _CachedCompany | None:
    with _lock:
        entry = _companies.get(_cache_key(client))
    if entry is None or time.monotonic() - entry.read_at > COMPANY_CACHE_SECONDS:
        return None
    if changed_since and _epoch(changed_since) >= entry.read_at_wall:
        return None
    return entry


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return float("inf")  # unreadable: treat as changed, a read is the safe answer


def company(client: QboClient, *, changed_since: str | None = None) -> Company:
    """The company's profile: 2 QBO reads the first time per container (or after ``changed_since``, the
    connection's ``company_changed_at``), then none."""
    entry = _cached(client, changed_since)
    if entry is not None:
        return entry.company
    return _read_company(client)


def company_for_currency(client: QboClient, currency: str, *, changed_since: str | None = None) -> Company:
    """:func:`company`, read again when a ``currency`` document meets a cached "multi-currency off"."""
    entry = _cached(client, changed_since)
    if entry is None:
        return _read_company(client)
    profile = entry.company.profile
    if currency.upper() != profile.home_currency and not profile.multicurrency_enabled:
        return _read_company(client)
    return entry.company


def _read_company(client: QboClient) -> Company:
    wall = time.time()
    info = CompanyInfo.model_validate(client.company_info())
    preferences = client.query("SELECT * FROM Preferences")
    currency_prefs: Mapping[str, Any] = (preferences[0] if preferences else {}).get("CurrencyPrefs") or {}
    home = (currency_prefs.get("HomeCurrency") or {}).get("value") or _default_currency(info)
    profile = mapping.CompanyProfile.from_company_info(
        info, home_currency=str(home), multicurrency_enabled=bool(currency_prefs.get("MultiCurrencyEnabled"))
    )
    tax_prefs: Mapping[str, Any] = (preferences[0] if preferences else {}).get("TaxPrefs") or {}
    found = Company(
        info=info, profile=profile, automated_sales_tax=bool(tax_prefs.get("PartnerTaxEnabled"))
    )
    with _lock:
        previous = _companies.get(_cache_key(client))
        income = previous.income_account_id if previous is not None else None
        _companies[_cache_key(client)] = _CachedCompany(found, income, time.monotonic(), wall)
    return found


def _default_currency(info: CompanyInfo) -> str:
    by_country = {"US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IE": "EUR", "IN": "INR"}
    return by_country.get(info.country_alpha2 or "", "USD")


# ------------------------------------------------------------------------------------ items


def income_account_id(client: QboClient) -> str:
    """The income account new items post to (``AccountType = 'Income'``), cached like the company."""
    entry = _cached(client)
    if entry is not None and entry.income_account_id:
        return entry.income_account_id
    rows = client.query(Select("Account").where("AccountType", "=", "Income"))
    accounts = [Account.model_validate(row) for row in rows]
    usable = [a for a in accounts if a.active is not False and a.account_sub_type not in _NOT_FOR_SALES]
    if not usable:
        raise CatalogSetupError(
            "the QuickBooks company has no income account for Kyrios products: add an Income account in "
            "QuickBooks (Chart of accounts), then sync again"
        )

    def preference(account: Account) -> tuple[int, int, str]:
        sub = account.account_sub_type or ""
        rank = _INCOME_SUBTYPES.index(sub) if sub in _INCOME_SUBTYPES else len(_INCOME_SUBTYPES)
        return (rank, int(account.id) if account.id.isdigit() else 0, account.id)

    chosen = min(usable, key=preference).id
    with _lock:
        cached = _companies.get(_cache_key(client))
        if cached is not None:
            cached.income_account_id = chosen
    return chosen


def ensure_items(client: QboClient, products: Iterable[KyriosProduct]) -> dict[str, str]:
    """QBO Item id per Kyrios product id, creating the items not mapped yet."""
    item_ids: dict[str, str] = {}
    for product in products:
        if product.id in item_ids:
            continue
        known = store.get_mapping(client.realm_id, "item", product.id)
        item_ids[product.id] = known.qbo_id if known else _create_item(client, product)
    return item_ids


ROUNDING_PRODUCT_ID = mapping.ROUNDING_PRODUCT_ID


def rounding_product() -> KyriosProduct:
    """The product of the rounding-adjustment line (its Item is created on first use like any other)."""
    name = config.get_settings().rounding_item_name
    return KyriosProduct(
        id=ROUNDING_PRODUCT_ID,
        name=name,
        description="Rounding adjustment so the total equals the Kyrios document to the cent",
    )


def _create_item(client: QboClient, product: KyriosProduct) -> str:
    configured = config.get_settings().rounding_account_id if product.id == ROUNDING_PRODUCT_ID else None
    account_id = configured or income_account_id(client)
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        body = mapping.item_payload(product, account_id, attempt=attempt)
        request_id = mapping.request_id("item", client.realm_id, product.id, attempt)
        try:
            created = Item.model_validate(client.create("Item", body, request_id=request_id))
        except QboDuplicateName:
            continue  # another item, customer-facing or inactive, has the name: try the next one
        stored = store.put_mapping_if_absent(
            client.realm_id, "item", product.id, qbo_id=created.id, sync_token=created.sync_token
        )
        return stored.qbo_id
    raise CatalogSetupError(
        f"QuickBooks already has items named like {product.name!r}; rename them in QuickBooks, then sync "
        "again"
    )


# ------------------------------------------------------------------------------------ taxes


def tax_plan(
    client: QboClient, company_: Company, lines: Sequence[KyriosLine], *, prices_include_tax: bool
) -> tax.TaxPlan:
    """A resolved :class:`tax.TaxPlan` for the lines: from the mapping when every combination of taxes is
    known, else from QBO's tax setup (3 queries), creating missing codes."""
    if company_.info.is_us and company_.automated_sales_tax:
        return tax.plan_taxes(company_.info, lines, prices_include_tax=prices_include_tax)
    if company_.info.is_us:  # manual sales tax: the transaction names one of the company's codes
        codes, rates = _sales_tax_setup(client)
        return tax.plan_taxes(
            company_.info, lines, prices_include_tax=prices_include_tax, tax_codes=codes, tax_rates=rates,
            manual_sales_tax=True,
        )
    remembered = _remembered_plan(client.realm_id, lines, prices_include_tax)
    if remembered is not None:
        return remembered
    plan = tax.plan_taxes(
        company_.info,
        lines,
        prices_include_tax=prices_include_tax,
        tax_codes=[TaxCode.model_validate(row) for row in client.query("SELECT * FROM TaxCode")],
        tax_rates=[TaxRate.model_validate(row) for row in client.query("SELECT * FROM TaxRate")],
        agencies=[TaxAgency.model_validate(row) for row in client.query("SELECT * FROM TaxAgency")],
    )
    agency_ids = {name: _ensure_agency(client, name) for name in plan.agencies_to_create}
    created: dict[str, str] = {}
    created_rates: dict[str, list[str]] = {}
    for code in plan.to_create:
        request_id = mapping.request_id("taxcode", client.realm_id, code.key)
        answer = client.create_tax_code(code.payload(agency_ids), request_id=request_id)
        created[code.key] = str(answer.get("TaxCodeId") or answer.get("TaxCode", {}).get("Id") or "")
        if not created[code.key]:
            raise CatalogSetupError(f"QuickBooks did not return an id for the new tax code {code.name!r}")
        created_rates[code.key] = _created_rate_ids(code, answer.get("TaxRateDetails") or [])
    resolved = plan.resolve(created, created_rates)
    for line in lines:
        rate_ids = dict(resolved.lines[line.line_id].qbo_rates)
        code_id = resolved.tax_code_for(line.line_id)
        for line_tax in line.taxes:
            if line_tax.tax_id in rate_ids:
                # Several codes share a rate (GST in "GST" and "GST/PST BC"), and a QBO id maps from one
                # key only: the mapping names the rate within its code.
                store.put_mapping_if_absent(
                    client.realm_id, "tax_rate", _rate_key(line, line_tax),
                    qbo_id=f"{code_id}{_IN_CODE}{rate_ids[line_tax.tax_id]}",
                )
        store.put_mapping_if_absent(
            client.realm_id, "tax_code", tax_combination_key(line), qbo_id=resolved.tax_code_for(line.line_id)
        )
    return resolved


def _created_rate_ids(code: tax.TaxCodeToCreate, details: Sequence[Mapping[str, Any]]) -> list[str]:
    """The TaxRate id of each rate of ``code``, in its order: a reused rate keeps its id, a new one is
    found in QBO's answer by name (by position when QBO echoed no names)."""
    by_name = {str(d.get("TaxRateName") or "").casefold(): str(d.get("TaxRateId") or "") for d in details}
    ids: list[str] = []
    for index, rate in enumerate(code.rates):
        found = rate.existing_rate_id or by_name.get(rate.name.casefold())
        if not found and index < len(details):
            found = str(details[index].get("TaxRateId") or "")
        ids.append(found or "")
    return ids


def _ensure_agency(client: QboClient, name: str) -> str:
    """The id of the TaxAgency called ``name``, created when the company has none (a provincial agency
    for PST/QST: see ``kyrios_qbo.tax``)."""
    for row in client.query(Select("TaxAgency").where("DisplayName", "=", name)):
        return str(TaxAgency.model_validate(row).id)
    request_id = mapping.request_id("taxagency", client.realm_id, name)
    try:
        created = client.create("TaxAgency", {"DisplayName": name}, request_id=request_id)
    except QboDuplicateName:  # created meanwhile by another push
        rows = client.query(Select("TaxAgency").where("DisplayName", "=", name))
        if not rows:
            raise
        return str(TaxAgency.model_validate(rows[0]).id)
    return str(TaxAgency.model_validate(created).id)


_IN_CODE = "/"


def _rate_key(line: KyriosLine, line_tax: LineTax) -> str:
    """Mapping key of the QBO TaxRate that carries ``line_tax`` within the line's combination of taxes
    (remembered with the combination's code, so a known combination needs no QBO call for its rates)."""
    return f"{tax_combination_key(line)}/{tax.tax_set_key([line_tax])}"


def tax_combination_key(line: KyriosLine) -> str:
    """The mapping key of a line's combination of taxes (the key ``kyrios_qbo.tax`` plans codes by)."""
    taxes = [t for t in line.taxes if t.rate_percent > 0] or list(line.taxes)
    return tax.tax_set_key(taxes)


def _sales_tax_setup(client: QboClient) -> tuple[list[TaxCode], list[TaxRate]]:
    """A US manual-sales-tax company's codes and rates: 2 queries once per cached company, not per push."""
    entry = _cached(client)
    if entry is not None and entry.sales_tax_setup is not None:
        return entry.sales_tax_setup
    setup = (
        [TaxCode.model_validate(row) for row in client.query("SELECT * FROM TaxCode")],
        [TaxRate.model_validate(row) for row in client.query("SELECT * FROM TaxRate")],
    )
    with _lock:
        cached = _companies.get(_cache_key(client))
        if cached is not None:
            cached.sales_tax_setup = setup
    return setup


def _remembered_plan(
    realm_id: str, lines: Sequence[KyriosLine], prices_include_tax: bool
) -> tax.TaxPlan | None:
    decided: dict[str, tax.LineTaxCode] = {}
    for line in lines:
        known = store.get_mapping(realm_id, "tax_code", tax_combination_key(line))
        if known is None:
            return None
        qbo_rates: list[tuple[str, str]] = []
        for line_tax in line.taxes:
            if line_tax.rate_percent <= 0:
                continue
            rate = store.get_mapping(realm_id, "tax_rate", _rate_key(line, line_tax))
            if rate is None:  # remembered before rates were: plan again (and remember them)
                return None
            qbo_rates.append((line_tax.tax_id, rate.qbo_id.rpartition(_IN_CODE)[2]))
        rate_keys = tuple((f"kyrios:{t.tax_id}", t.rate_percent) for t in line.taxes)
        decided[line.line_id] = tax.LineTaxCode(
            line.line_id, known.qbo_id, rate_keys=rate_keys, qbo_rates=tuple(qbo_rates)
        )
    return tax.TaxPlan(
        is_us=False,
        global_tax_calculation=tax.global_tax_calculation(lines, prices_include_tax),
        lines=decided,
    )
