"""Banking and purchase transactions a general QBO client touches (issue 20, second round): Deposit,
RefundReceipt, Purchase, PurchaseOrder, BillPayment, Transfer and CreditCardPayment.

Sources: **D** = Intuit's API reference page of the entity
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/<entity>; its entity
definitions are quoted in python-quickbooks 0.9.12 ``quickbooks/objects/<entity>.py``), **I** = a
client's tests written against Intuit's sandbox (python-quickbooks ``tests/integration``), **E** = the
emulator's own guess.
- Deposit: ``DepositToAccountRef`` and ``Line`` required (D: "records one or more deposits": a
  ``DepositLineDetail`` line with an ``AccountRef``, or a line whose ``LinkedTxn`` names a payment held
  in Undeposited Funds); ``TotalAmt`` = sum of the lines less ``CashBack.Amount`` (D; the sum is E).
- RefundReceipt: the sales receipt's line, tax and totals rules (``Books._build_sales``),
  ``CustomerRef`` optional, ``DepositToAccountRef`` required (D: "the account from which the refund is
  paid"; I: python-quickbooks' test_refundreceipt sends no customer); ``Balance`` 0 (E, as SalesReceipt).
- Purchase: ``AccountRef`` (the bank / credit-card account paid from) and ``PaymentType`` Cash | Check |
  CreditCard required (D), expense lines as Bill (``more_entities.expense_lines``); ``Credit`` only
  for CreditCard (D). A duplicate DocNumber is not checked (``include=allowduplicatedocnum`` is
  accepted and ignored, E).
- PurchaseOrder: non-posting (D); ``VendorRef``, ``APAccountRef`` and ``Line`` required (D), ``POStatus``
  Open by default (D), ``TotalAmt`` = sum of the lines.
- BillPayment: ``VendorRef``, ``PayType`` Check | CreditCard, ``Line`` and ``TotalAmt`` required (D);
  ``CheckPayment.BankAccountRef`` for Check, ``CreditCardPayment.CCAccountRef`` for CreditCard (D).
  Lines link Bills (``LinkedTxn[{TxnId, TxnType: "Bill"}]``): each lowers the bill's ``Balance`` and
  adds the payment to the bill's ``LinkedTxn``; more than the bill's open balance or a line total above
  ``TotalAmt`` -> 6000 (E; D: "If TotalAmt is greater than the total on the lines being paid, the
  overpayment is treated as a credit"). Void (``?operation=update&include=void``, D; python-quickbooks
  sends it) zeroes the payment, "Voided" note, and gives the bills their balance back; delete too.
- Transfer: ``FromAccountRef``, ``ToAccountRef`` and ``Amount`` required (D); the two accounts differ
  (E). CreditCardPayment: ``CreditCardAccountRef`` (a Credit Card account), ``BankAccountRef`` and
  ``Amount`` required (D: "a more limited Transfer form").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import faults
from .jsonfmt import money
from .more_entities import _ap_account, _resolved, expense_lines
from .specs import currency_ref

if TYPE_CHECKING:
    from datetime import datetime

    from .entities import Books
    from .state import Record

ZERO = Decimal(0)
ENTITIES = (
    "Deposit",
    "RefundReceipt",
    "Purchase",
    "PurchaseOrder",
    "BillPayment",
    "Transfer",
    "CreditCardPayment",
)


def _amount(value: Any, name: str) -> Decimal:
    if value is None or value == "":
        raise faults.required_param(name)
    try:
        amount = money(value)
    except (InvalidOperation, ValueError, TypeError) as exc:
        raise faults.invalid_value(name, f"Invalid number: {value}") from exc
    if not amount.is_finite():
        raise faults.invalid_value(name, f"Invalid number: {value}")
    if amount < 0:
        raise faults.business_validation(f"{name} cannot be negative.")
    return amount


def _account(books: Books, ref: Any, name: str) -> dict[str, str]:
    if not ref:
        raise faults.required_param(name)
    return _resolved(books, "Account", ref)


def create(books: Books, entity: str, body: dict[str, Any], created: datetime | None) -> Record:
    data = dict(body)
    if entity == "RefundReceipt":
        data.pop("Balance", None)
        if not data.get("DocNumber"):
            data["DocNumber"] = books.co.next_doc_number("RefundReceipt")
    rec = books._new_record(entity, shape(books, entity, data, None), created)
    if entity == "RefundReceipt":
        rec.next_line_id = books._store_next_line
    if entity == "BillPayment":
        _apply_bills(books, rec.id, rec.data, +1)
    return rec


def update(books: Books, rec: Record, given: dict[str, Any], sparse: bool) -> None:
    merged = books._merge(
        rec, given, sparse, {}, keep=() if sparse else ("DocNumber", "TxnDate", "CurrencyRef")
    )
    if rec.entity == "BillPayment":
        _apply_bills(books, rec.id, rec.data, -1)
        try:
            shaped = shape(books, rec.entity, merged, rec)
            _apply_bills(books, rec.id, shaped, +1)
        except faults.QboError:
            _apply_bills(books, rec.id, rec.data, +1)
            raise
        rec.data = shaped
        return
    rec.data = shape(books, rec.entity, merged, rec)
    if rec.entity == "RefundReceipt":
        rec.next_line_id = books._store_next_line


def shape(books: Books, entity: str, data: dict[str, Any], rec: Record | None) -> dict[str, Any]:
    data["TxnDate"] = books._txn_date(data)
    if entity == "RefundReceipt":
        data.pop("TotalAmt", None)
        data = books._build_sales(rec, data, "RefundReceipt")
        data["Balance"] = ZERO
        data.setdefault("PrintStatus", "NotSet")
        data["DepositToAccountRef"] = _account(books, data.get("DepositToAccountRef"), "DepositToAccountRef")
        return data
    data["CurrencyRef"] = currency_ref(books.co.home_currency)
    if entity == "Deposit":
        return _deposit(books, data)
    if entity in ("Purchase", "PurchaseOrder"):
        return _purchase(books, entity, data)
    if entity == "BillPayment":
        return _bill_payment(books, data)
    return _transfer(books, entity, data)


def _deposit(books: Books, data: dict[str, Any]) -> dict[str, Any]:
    data["DepositToAccountRef"] = _account(books, data.get("DepositToAccountRef"), "DepositToAccountRef")
    lines = data.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required_param("Line")
    out: list[dict[str, Any]] = []
    total = ZERO
    for i, raw in enumerate(lines):
        if not isinstance(raw, dict):
            raise faults.malformed_body("Line")
        line = dict(raw)
        amount = _amount(line.get("Amount"), "Line.Amount")
        if line.get("LinkedTxn"):
            if not isinstance(line["LinkedTxn"], list):
                raise faults.malformed_body("Line.LinkedTxn")
        else:
            detail = line.get("DepositLineDetail")
            if not isinstance(detail, dict):
                raise faults.required_param("Line.DepositLineDetail")
            detail = dict(detail)
            detail["AccountRef"] = _account(
                books, detail.get("AccountRef"), "Line.DepositLineDetail.AccountRef"
            )
            line["DetailType"] = "DepositLineDetail"
            line["DepositLineDetail"] = detail
        line["Id"] = str(i + 1)
        line["LineNum"] = i + 1
        line["Amount"] = amount
        total += amount
        out.append(line)
    data["Line"] = out
    cash_back = data.get("CashBack")
    if isinstance(cash_back, dict) and cash_back.get("Amount") is not None:
        total -= _amount(cash_back["Amount"], "CashBack.Amount")
    data["TotalAmt"] = total
    return data


def _purchase(books: Books, entity: str, data: dict[str, Any]) -> dict[str, Any]:
    if entity == "Purchase":
        data["AccountRef"] = _account(books, data.get("AccountRef"), "AccountRef")
        ptype = data.get("PaymentType")
        if not ptype:
            raise faults.required_param("PaymentType")
        if ptype not in ("Cash", "Check", "CreditCard"):
            raise faults.invalid_value("PaymentType", f"Invalid PaymentType: {ptype}")
        if ptype != "CreditCard":
            data.pop("Credit", None)
        entity_ref = data.get("EntityRef")
        if entity_ref:
            kind = str(entity_ref.get("type") or "Vendor") if isinstance(entity_ref, dict) else "Vendor"
            if kind not in ("Vendor", "Customer", "Employee"):
                raise faults.invalid_value("EntityRef.type", f"Invalid EntityRef type: {kind}")
            who = books.resolve_ref(kind, entity_ref)
            data["EntityRef"] = {"value": who.id, "name": who.data.get("DisplayName"), "type": kind}
    else:
        if not data.get("VendorRef"):
            raise faults.required_param("VendorRef")
        vendor = books.resolve_ref("Vendor", data["VendorRef"])
        data["VendorRef"] = {"value": vendor.id, "name": vendor.data.get("DisplayName")}
        given_ap = data.get("APAccountRef")
        data["APAccountRef"] = _resolved(books, "Account", given_ap) if given_ap else _ap_account(books)
        data["POStatus"] = str(data.get("POStatus") or "Open")
        if data["POStatus"] not in ("Open", "Closed"):
            raise faults.invalid_value("POStatus", f"Invalid POStatus: {data['POStatus']}")
    data["Line"], data["TotalAmt"] = expense_lines(books, data.get("Line"), entity)
    return data


def _bill_payment(books: Books, data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("VendorRef"):
        raise faults.required_param("VendorRef")
    vendor = books.resolve_ref("Vendor", data["VendorRef"])
    data["VendorRef"] = {"value": vendor.id, "name": vendor.data.get("DisplayName")}
    pay_type = data.get("PayType")
    if pay_type not in ("Check", "CreditCard"):
        if not pay_type:
            raise faults.required_param("PayType")
        raise faults.invalid_value("PayType", f"Invalid PayType: {pay_type}")
    key, ref_key = (
        ("CheckPayment", "BankAccountRef") if pay_type == "Check" else ("CreditCardPayment", "CCAccountRef")
    )
    detail = data.get(key)
    if not isinstance(detail, dict):
        raise faults.required_param(key)
    data[key] = dict(detail) | {ref_key: _account(books, detail.get(ref_key), f"{key}.{ref_key}")}
    data.pop("CreditCardPayment" if pay_type == "Check" else "CheckPayment", None)
    given_ap = data.get("APAccountRef")
    data["APAccountRef"] = _resolved(books, "Account", given_ap) if given_ap else _ap_account(books)
    total = _amount(data.get("TotalAmt"), "TotalAmt")
    lines = data.get("Line")
    if not isinstance(lines, list) or not lines:
        raise faults.required_param("Line")
    out: list[dict[str, Any]] = []
    applied = ZERO
    for raw in lines:
        if not isinstance(raw, dict) or not isinstance(raw.get("LinkedTxn"), list) or not raw["LinkedTxn"]:
            raise faults.required_param("Line.LinkedTxn")
        amount = _amount(raw.get("Amount"), "Line.Amount")
        links = []
        for link in raw["LinkedTxn"]:
            if not isinstance(link, dict) or str(link.get("TxnType") or "Bill") != "Bill":
                raise faults.business_validation("A bill payment line must link a Bill.")
            bill = books.get_live("Bill", link.get("TxnId"))
            links.append({"TxnId": bill.id, "TxnType": "Bill"})
        applied += amount
        out.append({"Amount": amount, "LinkedTxn": links})
    if applied > total:
        raise faults.business_validation(
            f"The amount applied ({applied}) is more than the payment total ({total})."
        )
    data["Line"] = out
    data["TotalAmt"] = total
    return data


def _apply_bills(books: Books, payment_id: str, data: dict[str, Any], sign: int) -> None:
    """Move each linked bill's Balance by the line amount (+1 apply, -1 give back) and keep the
    payment in the bill's LinkedTxn while some amount is applied."""
    for line in data.get("Line", []):
        for link in line.get("LinkedTxn", []):
            bill = books.co.get("Bill", str(link["TxnId"]))
            if bill is None:
                continue
            balance = money(bill.data.get("Balance") or 0) - sign * money(line["Amount"])
            if balance < 0:
                raise faults.business_validation(
                    f"The payment is more than the open balance of bill {bill.id}."
                )
            bill.data["Balance"] = balance
            others = [lt for lt in bill.data.get("LinkedTxn", []) if str(lt.get("TxnId")) != payment_id]
            bill.data["LinkedTxn"] = others + (
                [{"TxnId": payment_id, "TxnType": "BillPayment"}] if sign > 0 else []
            )
            books.state.touch(books.co, bill)
            books._changed(bill, "Update")


def void_bill_payment(books: Books, rec: Record) -> None:
    _apply_bills(books, rec.id, rec.data, -1)
    rec.data["Line"] = []
    rec.data["TotalAmt"] = ZERO
    rec.data["PrivateNote"] = "Voided"


def give_back(books: Books, rec: Record) -> None:
    """Delete of a BillPayment: its bills get their balance back."""
    if rec.entity == "BillPayment":
        _apply_bills(books, rec.id, rec.data, -1)


def _transfer(books: Books, entity: str, data: dict[str, Any]) -> dict[str, Any]:
    if entity == "Transfer":
        src, dst = "FromAccountRef", "ToAccountRef"
    else:
        src, dst = "BankAccountRef", "CreditCardAccountRef"
    data[src] = _account(books, data.get(src), src)
    data[dst] = _account(books, data.get(dst), dst)
    if data[src]["value"] == data[dst]["value"]:
        raise faults.business_validation("Transfer accounts must be different.")
    if entity == "CreditCardPayment":
        card = books.co.get("Account", data[dst]["value"])
        if card is None or card.data.get("AccountType") != "Credit Card":
            raise faults.business_validation("CreditCardAccountRef must be a Credit Card account.")
    data["Amount"] = _amount(data.get("Amount"), "Amount")
    return data
