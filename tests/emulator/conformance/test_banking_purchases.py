"""Conformance: Deposit, RefundReceipt, Purchase, PurchaseOrder, BillPayment, Transfer and
CreditCardPayment (issue 20, "the other entities a general client uses").

Sources: D = Intuit's API reference page of each entity (developer.intuit.com/app/developer/qbo/docs/
api/accounting/all-entities/<entity>: required attributes, what a create answers); PQ =
python-quickbooks 0.9.12 tests/integration, written against Intuit's sandbox (test_deposit.py,
test_refundreceipt.py, test_purchase.py, test_purchaseorder.py, test_billpayment.py, test_transfer.py,
test_creditcardpayment_entity.py: the bodies they send and what they read back) and its
``quickbooks/objects`` (the JSON names it expects). Faults: 2020 = a required parameter is missing
(fault shapes of tests/fixtures/qbo). E marks what only the emulator's own rule decides.
"""

from __future__ import annotations

from typing import Any

from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def _fault_code(r: Any) -> str:
    assert r.status_code == 400, r.text
    return str(r.json()["Fault"]["Error"][0]["code"])


def _account(t: Target, account_type: str, sub_type: str | None = None) -> dict[str, str]:
    body = {"Name": t.unique(account_type), "AccountType": account_type}
    if sub_type:
        body["AccountSubType"] = sub_type
    acct = _ok(t.post("account", body))["Account"]
    return {"value": acct["Id"], "name": acct["Name"]}


def _vendor(t: Target) -> dict[str, str]:
    vendor = _ok(t.post("vendor", {"DisplayName": t.unique("Vendor")}))["Vendor"]
    return {"value": vendor["Id"]}


def _service_item(t: Target) -> str:
    items = _ok(t.query("SELECT * FROM Item WHERE Type = 'Service'"))["QueryResponse"]["Item"]
    return str(items[0]["Id"])


def test_deposit_of_a_direct_line_reads_back(target: Target) -> None:
    """PQ test_deposit.py: a DepositLineDetail line of 20.00 from one bank account into another is
    created and read back by its Id; D: DepositToAccountRef is required; TotalAmt is the lines' sum."""
    source, bank = _account(target, "Bank"), _account(target, "Bank")
    line = {"Amount": 20.00, "DetailType": "DepositLineDetail", "DepositLineDetail": {"AccountRef": source}}
    assert _fault_code(target.post("deposit", {"Line": [line]})) == "2020"
    dep = _ok(target.post("deposit", {"DepositToAccountRef": bank, "Line": [line]}))["Deposit"]
    read = _ok(target.get(f"deposit/{dep['Id']}"))["Deposit"]
    assert read["Id"] == dep["Id"] and read["TotalAmt"] == 20
    assert read["DepositToAccountRef"]["value"] == bank["value"]
    assert read["Line"][0]["DepositLineDetail"]["AccountRef"]["value"] == source["value"]
    gone = _ok(target.post("deposit", {"Id": dep["Id"], "SyncToken": read["SyncToken"]}, operation="delete"))
    assert gone["Deposit"]["status"] == "Deleted"


def test_refund_receipt_without_customer_pays_from_the_account_given(target: Target) -> None:
    """PQ test_refundreceipt.py: no CustomerRef, one SalesItemLineDetail line of Amount 200 (no Qty /
    UnitPrice), TotalAmt 100 and Balance 100 sent, DepositToAccountRef the checking account: the line reads
    back 200 and the account is kept. TotalAmt follows the lines, as on every sales form (D); the
    client's 100 is not kept. D: DepositToAccountRef is required for a refund receipt."""
    bank = _account(target, "Bank", "Checking")
    item = _service_item(target)
    line = {"Amount": 200, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item}, "TaxCodeRef": {"value": "NON"}}}
    body = {"DocNumber": "DocNum123", "TotalAmt": 100, "Balance": 100, "PaymentType": "Check",
            "CheckPayment": {"CheckNum": "1001", "NameOnAcct": "John Smith"}, "Line": [line]}
    assert _fault_code(target.post("refundreceipt", body)) == "2020"
    rr = _ok(target.post("refundreceipt", body | {"DepositToAccountRef": bank}))["RefundReceipt"]
    read = _ok(target.get(f"refundreceipt/{rr['Id']}"))["RefundReceipt"]
    assert read["DocNumber"] == "DocNum123" and read["Line"][0]["Amount"] == 200
    assert read["TotalAmt"] == 200 and read["DepositToAccountRef"]["value"] == bank["value"]


def test_purchase_by_credit_card_with_an_item_line(target: Target) -> None:
    """PQ test_purchase.py: PaymentType CreditCard from a credit-card account, one
    ItemBasedExpenseLineDetail (Qty 1, UnitPrice 100, billable to a customer, TaxCodeRef NON):
    AccountRef, DocNumber, TotalAmt 100 and the line's refs read back; D: AccountRef and PaymentType
    are required (2020)."""
    card = _account(target, "Credit Card", "CreditCard")
    cust = _ok(target.post("customer", {"DisplayName": target.unique("Cust")}))["Customer"]["Id"]
    item = _service_item(target)
    detail = {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": 100, "BillableStatus": "NotBillable",
              "CustomerRef": {"value": cust}, "TaxCodeRef": {"value": "NON"}}
    line = {"Amount": 100, "DetailType": "ItemBasedExpenseLineDetail", "ItemBasedExpenseLineDetail": detail}
    body: dict[str, Any] = {"DocNumber": "Doc123", "AccountRef": card, "Line": [line]}
    assert _fault_code(target.post("purchase", body)) == "2020"
    body["PaymentType"] = "CreditCard"
    made = _ok(target.post("purchase", body, include="allowduplicatedocnum"))["Purchase"]
    read = _ok(target.get(f"purchase/{made['Id']}"))["Purchase"]
    assert read["AccountRef"]["value"] == card["value"] and read["DocNumber"] == "Doc123"
    assert read["TotalAmt"] == 100
    got = read["Line"][0]["ItemBasedExpenseLineDetail"]
    assert (got["Qty"], got["UnitPrice"]) == (1, 100)
    assert got["CustomerRef"]["value"] == cust and got["ItemRef"]["value"] == item
    assert got["TaxCodeRef"]["value"] == "NON"


def test_purchase_order_needs_a_vendor_and_is_open(target: Target) -> None:
    """PQ test_purchaseorder.py: VendorRef, APAccountRef and an item line of 100 read back with TotalAmt
    100; D: VendorRef is required (2020), POStatus is Open for a new order."""
    vendor = _vendor(target)
    ap = _account(target, "Accounts Payable", "AccountsPayable")
    detail = {"ItemRef": {"value": _service_item(target)}, "Qty": 1, "UnitPrice": 100}
    line = {"Amount": 100, "DetailType": "ItemBasedExpenseLineDetail", "ItemBasedExpenseLineDetail": detail}
    assert _fault_code(target.post("purchaseorder", {"APAccountRef": ap, "Line": [line]})) == "2020"
    po = _ok(target.post("purchaseorder", {"VendorRef": vendor, "APAccountRef": ap, "Line": [line]}))
    read = _ok(target.get(f"purchaseorder/{po['PurchaseOrder']['Id']}"))["PurchaseOrder"]
    assert read["VendorRef"]["value"] == vendor["value"] and read["APAccountRef"]["value"] == ap["value"]
    assert read["TotalAmt"] == 100 and read["POStatus"] == "Open"


def test_bill_payment_pays_the_bill_and_void_gives_it_back(target: Target) -> None:
    """PQ test_billpayment.py: a Check bill payment of 200 linking a new bill of 200 reads back PayType,
    TotalAmt, PrivateNote and one line of 200; voided (``operation=update&include=void``, sparse
    {Id, SyncToken}, as python-quickbooks sends it; D) its TotalAmt is 0 and its note says "Voided".
    D: a bill's Balance is what is left to pay, so the bill reads 0 after the payment; E: the void gives
    the bill its balance back (as a voided Payment does for invoices)."""
    vendor = _vendor(target)
    expense = _account(target, "Expense")
    bank = _account(target, "Bank", "Checking")
    bill_line = {"Amount": 200, "DetailType": "AccountBasedExpenseLineDetail",
                 "AccountBasedExpenseLineDetail": {"AccountRef": expense}}
    bill = _ok(target.post("bill", {"VendorRef": vendor, "Line": [bill_line]}))["Bill"]
    body = {"PayType": "Check", "TotalAmt": 200, "PrivateNote": "Private Note", "VendorRef": vendor,
            "CheckPayment": {"BankAccountRef": bank},
            "Line": [{"Amount": 200, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]}
    no_bank = {k: v for k, v in body.items() if k != "CheckPayment"}
    assert _fault_code(target.post("billpayment", no_bank)) == "2020"
    bp = _ok(target.post("billpayment", body))["BillPayment"]
    read = _ok(target.get(f"billpayment/{bp['Id']}"))["BillPayment"]
    assert (read["PayType"], read["TotalAmt"], read["PrivateNote"]) == ("Check", 200, "Private Note")
    assert [ln["Amount"] for ln in read["Line"]] == [200]
    paid = _ok(target.get(f"bill/{bill['Id']}"))["Bill"]
    assert paid["Balance"] == 0
    assert {"TxnId": bp["Id"], "TxnType": "BillPayment"} in paid["LinkedTxn"]
    noted = {"Id": bill["Id"], "SyncToken": paid["SyncToken"], "sparse": True, "PrivateNote": "paid"}
    assert _ok(target.post("bill", noted))["Bill"]["Balance"] == 0  # an update keeps what was paid
    void = {"Id": bp["Id"], "SyncToken": read["SyncToken"], "sparse": True}
    _ok(target.post("billpayment", void, operation="update", include="void"))
    voided = _ok(target.get(f"billpayment/{bp['Id']}"))["BillPayment"]
    assert voided["TotalAmt"] == 0 and "Voided" in voided["PrivateNote"]
    assert _ok(target.get(f"bill/{bill['Id']}"))["Bill"]["Balance"] == 200


def test_transfer_create_and_full_update(target: Target) -> None:
    """PQ test_transfer.py: Amount 100 between two asset accounts reads back both refs; a full update
    with Amount + 1 reads back the new amount. D: FromAccountRef, ToAccountRef and Amount required."""
    src, dst = _account(target, "Bank"), _account(target, "Other Current Asset")
    assert _fault_code(target.post("transfer", {"FromAccountRef": src, "Amount": 100})) == "2020"
    body = {"FromAccountRef": src, "ToAccountRef": dst, "Amount": 100}
    made = _ok(target.post("transfer", body))["Transfer"]
    read = _ok(target.get(f"transfer/{made['Id']}"))["Transfer"]
    assert read["Amount"] == 100
    assert (read["FromAccountRef"]["value"], read["ToAccountRef"]["value"]) == (src["value"], dst["value"])
    read["Amount"] += 1
    _ok(target.post("transfer", read))
    assert _ok(target.get(f"transfer/{made['Id']}"))["Transfer"]["Amount"] == 101


def test_credit_card_payment_answers_as_credit_card_payment_txn(target: Target) -> None:
    """D + PQ creditcardpayment_entity.py ("JSON object name doesn't match the endpoint name"): the
    URL and query name are CreditCardPayment, the object in answers is CreditCardPaymentTxn; PQ
    test_creditcardpayment_entity.py: Amount 100 from a bank account to a new credit-card account reads
    back both refs."""
    bank = _account(target, "Bank")
    card = _account(target, "Credit Card", "CreditCard")
    body = {"Amount": 100, "BankAccountRef": bank, "CreditCardAccountRef": card}
    made = _ok(target.post("creditcardpayment", body))["CreditCardPaymentTxn"]
    read = _ok(target.get(f"creditcardpayment/{made['Id']}"))["CreditCardPaymentTxn"]
    assert read["Amount"] == 100 and read["CreditCardAccountRef"]["value"] == card["value"]
    assert read["BankAccountRef"]["value"] == bank["value"]
    listed = _ok(target.query(f"SELECT * FROM CreditCardPayment WHERE Id = '{made['Id']}'"))
    assert [o["Id"] for o in listed["QueryResponse"]["CreditCardPaymentTxn"]] == [made["Id"]]
