"""CompanyCurrency and ExchangeRate, the multi-currency lists (issue 20, second round).

Sources: **D** = Intuit's API reference pages
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companycurrency and
/exchangerate; their definitions are quoted in python-quickbooks 0.9.12
``quickbooks/objects/companycurrency.py`` / ``exchangerate.py``), **I** = python-quickbooks'
``tests/integration`` (written against its maintainer's multi-currency sandbox), **E** = the emulator's guess.
- Both are "applicable only for those companies that enable multicurrency" (D): with
  ``CurrencyPrefs.MultiCurrencyEnabled`` false a create answers 6000 (E: the wording QBO uses is not
  captured); queries find nothing, as a fresh sandbox company (multi-currency off) has no such rows.
- CompanyCurrency: ``Code`` (ISO 4217) required (2020), not the home currency and not already in the
  list (6240, E); ``Name`` follows from the code ("Canadian Dollar", I: test_companycurrency reads
  ``Name`` of CompanyCurrency 1); ``Active``; deactivated, never deleted (D). Adding one gives the
  company an exchange rate for it (the company's setting, 1 until set, E).
- ExchangeRate: one object per active foreign currency, ``SourceCurrencyCode`` the foreign code,
  ``TargetCurrencyCode`` the home currency (I: test_exchangerate reads EUR -> USD), ``Rate``, ``AsOfDate``
  (today). ``POST exchangerate`` with ``SourceCurrencyCode`` and ``Rate`` (no Id, as python-quickbooks
  sends it; D: "set exchange rates") sets the company's rate for that currency, which new
  transactions use; history by date is not modelled (E: the latest rate answers every date).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import faults
from .jsonfmt import plain
from .specs import CURRENCY_NAMES

if TYPE_CHECKING:
    from datetime import datetime

    from .entities import Books
    from .state import Record

ENTITIES = ("CompanyCurrency", "ExchangeRate")


def _multi_currency_on(books: Books) -> None:
    if not books.co.multi_currency:
        raise faults.business_validation("Multicurrency is not enabled for this company.")


def create(books: Books, entity: str, body: dict[str, Any], created: datetime | None) -> Record:
    _multi_currency_on(books)
    if entity == "ExchangeRate":
        return set_rate(books, body)
    code = str(body.get("Code") or "").strip().upper()
    if not code:
        raise faults.required_param("Code")
    if code not in CURRENCY_NAMES:
        raise faults.invalid_value("Code", f"Invalid currency code: {code}")
    if code == books.co.home_currency or any(r.data.get("Code") == code for r in books.co.live(entity)):
        raise faults.duplicate_name(code)
    data = {"Code": code, "Name": CURRENCY_NAMES[code], "Active": body.get("Active", True) is not False}
    rec = books._new_record(entity, data, created)
    books.co.exchange_rates.setdefault(code, Decimal(1))
    _rate_record(books, code)
    return rec


def update(books: Books, rec: Record, given: dict[str, Any], sparse: bool) -> None:
    """CompanyCurrency: only ``Active`` changes (the code is the currency); ExchangeRate: as a POST."""
    if rec.entity == "ExchangeRate":
        set_rate(books, rec.data | given, touch=False)  # Books.update records the change
        return
    if "Code" in given and str(given["Code"]).upper() != rec.data["Code"]:
        raise faults.business_validation("The currency code of a CompanyCurrency cannot change.")
    rec.data["Active"] = given.get("Active", rec.data.get("Active", True)) is not False


def set_rate(books: Books, body: dict[str, Any], touch: bool = True) -> Record:
    code = str(body.get("SourceCurrencyCode") or "").strip().upper()
    if not code:
        raise faults.required_param("SourceCurrencyCode")
    if not any(r.data.get("Code") == code for r in books.co.live("CompanyCurrency")):
        raise faults.business_validation(f"{code} is not a currency of this company.")
    target = body.get("TargetCurrencyCode")
    if target and str(target).upper() != books.co.home_currency:
        raise faults.invalid_value(
            "TargetCurrencyCode", f"Rates are to the home currency {books.co.home_currency}."
        )
    try:
        rate = Decimal(str(body.get("Rate")))
    except InvalidOperation as exc:
        raise faults.invalid_value("Rate", f"Invalid Rate: {body.get('Rate')}") from exc
    if not rate.is_finite() or rate <= 0:
        raise faults.invalid_value("Rate", f"Invalid Rate: {body.get('Rate')}")
    books.co.exchange_rates[code] = rate
    rec = _rate_record(books, code)
    if touch:
        books.state.touch(books.co, rec)
    return rec


def _rate_record(books: Books, code: str) -> Record:
    data = {
        "SourceCurrencyCode": code,
        "TargetCurrencyCode": books.co.home_currency,
        "Rate": plain(books.co.exchange_rates.get(code, Decimal(1))),
        "AsOfDate": books.co.today(books.now()).isoformat(),
    }
    for rec in books.co.live("ExchangeRate"):
        if rec.data.get("SourceCurrencyCode") == code:
            rec.data.update(data)
            return rec
    return books._new_record("ExchangeRate", data)
