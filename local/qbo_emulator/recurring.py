"""RecurringTransaction: transaction templates with a schedule (issue 20, second round).

Sources: **D** = Intuit's RecurringTransaction reference
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/recurringtransaction;
its definition is quoted in python-quickbooks 0.9.12 ``quickbooks/objects/recurringtransaction.py``),
**I** = python-quickbooks' tests/integration/test_recurringtransaction.py (written against Intuit's
sandbox), **E** = the emulator's guess.
- The object is wrapped by its transaction type: ``POST recurringtransaction`` with
  ``{"Invoice": {..., "RecurringInfo": {...}}}`` (no Id: create; with ``Id`` + ``SyncToken`` in the inner
  object: update; ``?operation=delete``: delete), answers ``{"RecurringTransaction": {"Invoice": {...}}}``;
  read ``GET recurringtransaction/<id>``; ``SELECT * FROM RecurringTransaction [WHERE Type = 'Bill']``
  answers ``QueryResponse.RecurringTransaction[{<Type>: {...}}]`` (D, I).
- Types modelled: Invoice, Estimate, CreditMemo, SalesReceipt, RefundReceipt (the sales rules), Bill,
  Purchase, PurchaseOrder, Deposit, Transfer (their own rules); JournalEntry and VendorCredit are not
  modelled (400 Unsupported Operation). A template has no DocNumber and books nothing (D: templates
  for later use); no transaction is ever generated from the schedule (E: the emulator has no scheduler).
- ``RecurringInfo`` required (2020): ``Name`` required and unique among templates (6240, E), ``RecurType``
  Automated | Reminded | UnScheduled (D), ``Active``; ``ScheduleInfo`` required unless UnScheduled, with
  ``IntervalType`` Daily | Weekly | Monthly | Yearly and ``NumInterval`` (D); ``NextDate`` = ``StartDate``
  (E: the next date QBO computes from the schedule is not modelled). Own id sequence (E).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import faults, money_entities, more_entities

if TYPE_CHECKING:
    from .entities import Books
    from .state import Record

ENTITY = "RecurringTransaction"
SALES = ("Invoice", "Estimate", "CreditMemo", "SalesReceipt", "RefundReceipt")
TYPES = (*SALES, "Bill", "Purchase", "PurchaseOrder", "Deposit", "Transfer")
_SYSTEM = ("domain", "sparse", "Id", "SyncToken", "MetaData")


def flat(obj: dict[str, Any]) -> dict[str, Any]:
    """The stored ``{Type: template}`` as one row a query can filter on ``Type`` and sort on ``Id``."""
    typ = next(iter(obj))
    return {"Type": typ, **obj[typ]}


def wrap(row: dict[str, Any]) -> dict[str, Any]:
    return {row["Type"]: {k: v for k, v in row.items() if k != "Type"}}


def write(books: Books, body: dict[str, Any], operation: str) -> dict[str, Any]:
    typ, inner = _unwrap(body)
    if operation == "delete":
        rec = _existing(books, typ, inner)
        rec.deleted = True
        rec.updated = max(books.now(), rec.updated)
        rec.seq = books.state.next_seq()
        books._changed(rec, "Delete")
        return {typ: {"domain": "QBO", "status": "Deleted", "Id": rec.id}}
    if operation not in ("", "create", "update"):
        raise faults.QboError(400, "500", "Unsupported Operation", f"Operation {operation} is not supported.")
    if inner.get("Id") is None:
        built = _template(books, typ, inner, None)
        rec = books._new_record(ENTITY, built)
        system = {k: rec.data[k] for k in _SYSTEM}
        rec.data = {typ: system | {k: v for k, v in rec.data.items() if k not in _SYSTEM}}
        books._changed(rec, "Create")
        return rec.data
    rec = _existing(books, typ, inner)
    old = rec.data[typ]
    merged = old | inner if inner.get("sparse") is True else inner
    built = _template(books, typ, merged, old)
    books.state.touch(books.co, rec, bump_sync=False)
    meta = rec.data.pop("MetaData")
    system = {k: old[k] for k in _SYSTEM} | {"MetaData": meta, "SyncToken": str(int(old["SyncToken"]) + 1)}
    rec.data = {typ: system | built}
    books._changed(rec, "Update")
    return rec.data


def _unwrap(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    keys = [k for k in body if k not in ("domain", "sparse")]
    if len(keys) != 1 or not isinstance(body[keys[0]], dict):
        raise faults.malformed_body("RecurringTransaction holds exactly one transaction object")
    typ = keys[0]
    if typ not in TYPES:
        raise faults.QboError(
            400, "500", "Unsupported Operation", f"Recurring {typ} is not supported by the emulator."
        )
    return typ, dict(body[typ])


def _existing(books: Books, typ: str, inner: dict[str, Any]) -> Record:
    if inner.get("Id") is None:
        raise faults.required_param("Id")
    rec = books.get_live(ENTITY, inner["Id"])
    if typ not in rec.data:
        raise faults.object_not_found()
    if inner.get("SyncToken") is None:
        raise faults.required_param("SyncToken")
    if str(inner["SyncToken"]) != rec.data[typ]["SyncToken"]:
        raise faults.stale_object()
    return rec


def _template(books: Books, typ: str, inner: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    info = inner.get("RecurringInfo")
    if not isinstance(info, dict):
        raise faults.required_param("RecurringInfo")
    info = _info(books, copy.deepcopy(info), old)
    data = {
        k: v for k, v in inner.items() if k not in (*_SYSTEM, "RecurringInfo", "RecurDataRef", "DocNumber")
    }
    data = {k: v for k, v in data.items() if v is not None}
    for key in ("TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "Deposit"):
        if typ != "Transfer":
            data.pop(key, None)
    if typ in SALES:
        built = books._build_sales(None, data, typ)
    elif typ == "Bill":
        built = more_entities._bill(books, data)
    else:
        built = money_entities.shape(books, typ, data, None)
    built.pop("DocNumber", None)
    return built | {"RecurringInfo": info}


def _info(books: Books, info: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    name = str(info.get("Name") or "").strip()
    if not name:
        raise faults.required_param("RecurringInfo.Name")
    old_id = old["Id"] if old else None
    for rec in books.co.live(ENTITY):
        other = next(iter(rec.data.values()))
        if rec.id != old_id and str(other["RecurringInfo"]["Name"]).casefold() == name.casefold():
            raise faults.duplicate_name(name)
    info["Name"] = name
    info["RecurType"] = str(info.get("RecurType") or "Automated")
    if info["RecurType"] not in ("Automated", "Reminded", "UnScheduled"):
        raise faults.invalid_value("RecurType", f"Invalid RecurType: {info['RecurType']}")
    info["Active"] = info.get("Active", True) is not False
    sched = info.get("ScheduleInfo")
    if info["RecurType"] == "UnScheduled":
        info.pop("ScheduleInfo", None)
        return info
    if not isinstance(sched, dict):
        raise faults.required_param("RecurringInfo.ScheduleInfo")
    sched = {k: v for k, v in sched.items() if v is not None}
    if sched.get("IntervalType") not in ("Daily", "Weekly", "Monthly", "Yearly"):
        raise faults.invalid_value("IntervalType", f"Invalid IntervalType: {sched.get('IntervalType')}")
    if not sched.get("NumInterval"):
        raise faults.required_param("ScheduleInfo.NumInterval")
    sched["StartDate"] = books._txn_date({"TxnDate": sched.get("StartDate")})
    sched["NextDate"] = sched["StartDate"]
    info["ScheduleInfo"] = sched
    return info
