"""Entities a general QBO client touches beyond the bundle's own (issue 20): PaymentMethod, Term,
Class, Department (name lists), Estimate and CreditMemo (sales forms sharing the invoice's line and
tax rules of ``Books._build_sales``) and Bill (a purchase form).

Rules and their sources (Intuit API reference pages of each entity, and python-quickbooks'
``quickbooks/objects/*.py`` docstrings which quote them):
- PaymentMethod / Term / Class / Department: ``Name`` required (2020), unique among live rows of
  the entity, case-insensitive (6240, as Item/Account); "Delete is achieved by setting the Active
  attribute to false in an entity update request" (python-quickbooks paymentmethod.py, the same text
  on Term/Class/Department) — ``?operation=delete`` answers Unsupported Operation.
- Term: ``Type`` STANDARD (``DueDays``) or DATE_DRIVEN (``DayOfMonthDue``); default STANDARD (D).
- PaymentMethod: ``Type`` CREDIT_CARD | NON_CREDIT_CARD, default NON_CREDIT_CARD (D).
- Estimate: ``CustomerRef`` and ``Line`` required; ``TxnStatus`` Pending by default; no Balance (D).
  Deletable, not voidable.
- CreditMemo: ``CustomerRef`` and ``Line`` required; ``RemainingCredit`` = ``TotalAmt`` and
  ``Balance`` = ``TotalAmt`` while nothing is applied (D). Deletable.
- Bill: ``VendorRef`` and ``Line`` required (2020); lines ``AccountBasedExpenseLineDetail`` (needs
  ``AccountRef``) or ``ItemBasedExpenseLineDetail`` (needs ``ItemRef``; Qty × UnitPrice when both are
  given); ``TotalAmt`` = Σ lines, ``Balance`` = ``TotalAmt``, ``APAccountRef`` defaults to the company's
  Accounts Payable account (created on first use, E), ``DueDate`` = TxnDate + 30 days (E). Deletable.
  Purchase-side tax is not modelled (E).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import faults
from .jsonfmt import money, plain
from .specs import currency_ref

if TYPE_CHECKING:
    from .entities import Books
    from .state import Record

ZERO = Decimal(0)
NAME_LISTS = ("PaymentMethod", "Term", "Class", "Department")
ENTITIES = (*NAME_LISTS, "Estimate", "CreditMemo", "Bill")


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def _ref(ref: Any) -> str | None:
    if isinstance(ref, dict):
        v = ref.get("value")
        return None if v is None else str(v)
    return None if ref is None else str(ref)


def _list_shape(books: Books, entity: str, data: dict[str, Any], exclude: str | None) -> dict[str, Any]:
    name = str(data.get("Name") or "").strip()
    if not name:
        raise faults.required_param("Name")
    wanted = _norm(name)
    if any(_norm(str(r.data.get("Name", ""))) == wanted and r.id != exclude for r in books.co.live(entity)):
        raise faults.duplicate_name()
    data["Name"] = name
    data["Active"] = data.get("Active", True) is not False
    if entity in ("Class", "Department"):
        sub_key = "SubClass" if entity == "Class" else "SubDepartment"
        parent = _ref(data.get("ParentRef"))
        if parent:
            prec = books.resolve_ref(entity, data["ParentRef"])
            data["ParentRef"] = {"value": prec.id}
            data["FullyQualifiedName"] = f"{prec.data.get('FullyQualifiedName', prec.data['Name'])}:{name}"
        else:
            data.pop("ParentRef", None)
            data["FullyQualifiedName"] = name
        data[sub_key] = bool(parent)
    if entity == "Term":
        data["Type"] = str(data.get("Type") or "STANDARD")
        if data["Type"] not in ("STANDARD", "DATE_DRIVEN"):
            raise faults.invalid_value("Type", f"Invalid Term Type: {data['Type']}")
        if data["Type"] == "STANDARD":
            data["DueDays"] = int(data.get("DueDays") or 0)
    if entity == "PaymentMethod":
        data["Type"] = str(data.get("Type") or "NON_CREDIT_CARD")
        if data["Type"] not in ("CREDIT_CARD", "NON_CREDIT_CARD"):
            raise faults.invalid_value("Type", f"Invalid PaymentMethod Type: {data['Type']}")
    return data


def create(books: Books, entity: str, body: dict[str, Any], created: datetime | None) -> Record:
    if entity in NAME_LISTS:
        return books._new_record(entity, _list_shape(books, entity, dict(body), None), created)
    if entity == "Estimate":
        return _create_sales_form(books, "Estimate", body, created)
    if entity == "CreditMemo":
        return _create_sales_form(books, "CreditMemo", body, created)
    if entity == "Bill":
        data = _bill(books, dict(body))
        return books._new_record("Bill", data, created)
    raise KeyError(entity)


def update(books: Books, rec: Record, given: dict[str, Any], sparse: bool) -> None:
    entity = rec.entity
    keep = () if sparse else ("DocNumber", "TxnDate", "CurrencyRef")
    merged = books._merge(rec, given, sparse, {}, keep=keep)
    if entity in NAME_LISTS:
        rec.data = _list_shape(books, entity, merged, rec.id)
    elif entity in ("Estimate", "CreditMemo"):
        merged["TxnDate"] = books._txn_date(merged)
        built = books._build_sales(rec, merged, entity)
        _finish_sales_form(entity, built)
        rec.next_line_id = books._store_next_line
        rec.data = built
    elif entity == "Bill":
        if not sparse:
            merged["LinkedTxn"] = rec.data.get("LinkedTxn", [])
        rec.data = _bill(books, merged)
        rec.data["Balance"] = rec.data["TotalAmt"] - _paid(books, rec.id)
    else:
        raise KeyError(entity)


def _finish_sales_form(entity: str, data: dict[str, Any]) -> None:
    data.setdefault("PrintStatus", "NeedToPrint")
    data.setdefault("EmailStatus", "NotSet")
    if entity == "Estimate":
        data.setdefault("TxnStatus", "Pending")
        data.pop("Balance", None)
    else:
        data["RemainingCredit"] = data["TotalAmt"]
        data["Balance"] = data["TotalAmt"]


def _create_sales_form(books: Books, entity: str, body: dict[str, Any], created: datetime | None) -> Record:
    data = dict(body)
    data.pop("TotalAmt", None)  # computed, as for invoices (python-quickbooks sends it)
    data["TxnDate"] = books._txn_date(data)
    if not data.get("DocNumber"):
        data["DocNumber"] = books.co.next_doc_number(entity if entity != "CreditMemo" else "Invoice")
    data = books._build_sales(None, data, entity)
    _finish_sales_form(entity, data)
    rec = books._new_record(entity, data, created)
    rec.next_line_id = books._store_next_line
    return rec


def _ap_account(books: Books) -> dict[str, str]:
    for a in books.co.live("Account"):
        if a.data.get("AccountType") == "Accounts Payable":
            return {"value": a.id, "name": str(a.data["Name"])}
    acct = books.create(
        "Account",
        {
            "Name": "Accounts Payable (A/P)",
            "AccountType": "Accounts Payable",
            "AccountSubType": "AccountsPayable",
        },
        emit=False,
    )
    return {"value": acct.id, "name": str(acct.data["Name"])}


def _bill(books: Books, data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("VendorRef"):
        raise faults.required_param("VendorRef")
    vendor = books.resolve_ref("Vendor", data["VendorRef"])
    data["VendorRef"] = {"value": vendor.id, "name": vendor.data.get("DisplayName")}
    data["Line"], total = expense_lines(books, data.get("Line"), "Bill")
    data["TxnDate"] = books._txn_date(data)
    data.setdefault(
        "DueDate", (datetime.fromisoformat(data["TxnDate"]) + timedelta(days=30)).date().isoformat()
    )
    given_ap = data.get("APAccountRef")
    data["APAccountRef"] = _resolved(books, "Account", given_ap) if given_ap else _ap_account(books)
    data["CurrencyRef"] = currency_ref(books.co.home_currency)
    data["TotalAmt"] = total
    data["Balance"] = total
    data.setdefault("LinkedTxn", [])
    return data


def _resolved(books: Books, entity: str, ref: Any) -> dict[str, str]:
    rec = books.resolve_ref(entity, ref)
    return {"value": rec.id, "name": str(rec.data.get("Name") or rec.data.get("DisplayName") or "")}


def expense_lines(books: Books, lines: Any, entity: str) -> tuple[list[dict[str, Any]], Decimal]:
    """Bill / Purchase / PurchaseOrder lines: ``AccountBasedExpenseLineDetail`` (needs ``AccountRef``) or
    ``ItemBasedExpenseLineDetail`` (needs ``ItemRef``; Qty x UnitPrice when both are given), an optional
    ``CustomerRef`` (billable to a customer) resolved; returns the lines and their total."""
    if not isinstance(lines, list) or not lines:
        raise faults.required_param("Line")
    out: list[dict[str, Any]] = []
    total = ZERO
    for i, raw in enumerate(lines):
        if not isinstance(raw, dict):
            raise faults.malformed_body("Line")
        line = copy.deepcopy(raw)
        dtype = line.get("DetailType")
        if dtype == "AccountBasedExpenseLineDetail":
            detail = _detail(line, dtype)
            acct = books.resolve_ref("Account", detail.get("AccountRef") or None)
            detail["AccountRef"] = {"value": acct.id, "name": acct.data.get("Name")}
            detail.setdefault("BillableStatus", "NotBillable")
            detail.setdefault("TaxCodeRef", {"value": "NON"})
            if line.get("Amount") is None:
                raise faults.required_param("Line.Amount")
            amount = money(line["Amount"])
        elif dtype == "ItemBasedExpenseLineDetail":
            detail = _detail(line, dtype)
            item = books.resolve_ref("Item", detail.get("ItemRef") or None)
            detail["ItemRef"] = {"value": item.id, "name": item.data.get("Name")}
            detail.setdefault("BillableStatus", "NotBillable")
            qty, price = detail.get("Qty"), detail.get("UnitPrice")
            if qty is not None and price is not None:
                amount = money(Decimal(str(qty)) * Decimal(str(price)))
                detail["Qty"], detail["UnitPrice"] = plain(qty), plain(price)
            elif line.get("Amount") is not None:
                amount = money(line["Amount"])
            else:
                raise faults.required_param("Line.Amount")
        elif dtype is None:
            raise faults.required_param("Line.DetailType")
        else:
            raise faults.business_validation(f"Unsupported line DetailType {dtype} for {entity}.")
        if detail.get("CustomerRef"):
            cust = books.resolve_ref("Customer", detail["CustomerRef"])
            detail["CustomerRef"] = {"value": cust.id, "name": cust.data.get("DisplayName")}
        line[dtype] = detail
        line["Id"] = str(line.get("Id") or i + 1)
        line["LineNum"] = i + 1
        line["Amount"] = amount
        total += amount
        out.append(line)
    return out, total


def _detail(line: dict[str, Any], dtype: str) -> dict[str, Any]:
    detail = line.get(dtype) or {}
    if not isinstance(detail, dict):
        raise faults.malformed_body(f"Line.{dtype}")
    return detail


def _paid(books: Books, bill_id: str) -> Decimal:
    """What the company's bill payments apply to a bill (its Balance is the rest, D)."""
    return sum(
        (
            money(line["Amount"])
            for bp in books.co.live("BillPayment")
            for line in bp.data.get("Line", [])
            if any(str(link.get("TxnId")) == bill_id for link in line.get("LinkedTxn", []))
        ),
        ZERO,
    )
