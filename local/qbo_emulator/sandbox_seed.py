"""What a fresh Intuit sandbox company holds, for ``seed="sandbox"`` companies (issue 20).

Intuit's sandbox company ("Sandbox Company_US", trading as Craig's Design and Landscaping
Services) comes with customers that have invoices and payments, items of every type with their
income / expense / asset accounts, payment methods, terms and a full Preferences object. Sources:
- Preferences: Intuit's API reference sample "Full update preferences" (developer.intuit.com
  .../all-entities/preferences), reproduced verbatim in python-quickbooks tests/unit/objects/
  test_preferences.py (PAYLOAD); we keep its structure and values and substitute this company's
  name, currency, term and account ids.
- Names: items "Rock Fountain" (Inventory, income "Sales of Product Income", unit price 275, cost
  125, 2 on hand), "Concrete", "Pest Control" (35), "Pump", discount account "Discounts given",
  vendors "Bob's Burger Joint", "Books by Bessie", "Hicks Hardware" appear in captured sandbox
  payloads in public repositories (Intuit's own sample objects on the API reference pages;
  PipedreamHQ/pipedream components/quickbooks test events; python-quickbooks
  tests/integration/test_estimate.py). The other names complete the list as the sandbox UI shows it
  (E: not all captured). Customers (all 29, with their Ids), account ids and items ids: captured
  payloads, see sandbox_data.py; other ids follow the emulator's sequences (E).
- Account types / subtypes: Intuit's Account reference (AccountSubType enum): SalesOfProductIncome,
  SuppliesMaterialsCogs, Inventory, AccountsReceivable, AccountsPayable, Checking, ...
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .sandbox_data import (
    ACCOUNT_IDS,
    ACCOUNTS,
    CUSTOMERS,
    EMPLOYEES,
    INVOICES,
    ITEMS,
    PAYMENT_METHODS,
    TERMS,
    VENDORS,
)
from .specs import currency_ref

if TYPE_CHECKING:
    from .entities import Books
    from .state import Company, Record



def create_accounts(books: Books, co: Company, minimal: list[tuple[str, str, str]]) -> None:
    """The minimal seed's accounts and the sandbox's, with the sandbox's ids where they are known
    (sandbox_data.ACCOUNT_IDS) and the lowest free ids otherwise, created in id order so the
    emulator's sequence ends at the highest (new accounts get ids after it, as in QBO)."""
    wanted = [a for a in minimal + ACCOUNTS if a[0] not in {r.data["Name"] for r in co.live("Account")}]
    fixed = set(ACCOUNT_IDS.values())
    free = (n for n in range(1, 10_000) if n not in fixed)
    ids = {name: ACCOUNT_IDS.get(name) or next(free) for name, _t, _s in wanted}
    for name, atype, sub in sorted(wanted, key=lambda a: ids[a[0]]):
        co.reserve_id("Account", ids[name])
        books.create("Account", {"Name": name, "AccountType": atype, "AccountSubType": sub}, emit=False)


def seed(books: Books, co: Company) -> None:
    """Add the sandbox records to a company that already has the minimal ones (caller holds the lock)."""
    create_accounts(books, co, [])
    acct: dict[str, str] = {a.data["Name"]: a.id for a in co.live("Account")}

    def ref(name: str) -> dict[str, str]:
        return {"value": acct[name], "name": name}

    for name, itype, income, price, taxable, inv in ITEMS:
        body: dict[str, Any] = {
            "Name": name,
            "Type": itype,
            "IncomeAccountRef": ref(income),
            "UnitPrice": Decimal(price),
            "Taxable": taxable and co.is_us,
        }
        if itype in ("Inventory", "NonInventory"):
            body["ExpenseAccountRef"] = ref("Cost of Goods Sold")
        if inv is not None:
            body |= {
                "AssetAccountRef": ref("Inventory Asset"),
                "PurchaseCost": Decimal(inv[0]),
                "QtyOnHand": Decimal(inv[1]),
                "TrackQtyOnHand": True,
                "InvStartDate": "2024-01-01",
            }
        books.create("Item", body, emit=False)
    customers: list[Record] = []
    for display, given, family, company, email, taxable, (line1, city, state, zip_), parent in CUSTOMERS:
        body = {"DisplayName": display, "GivenName": given, "FamilyName": family, "Taxable": taxable}
        if company:
            body["CompanyName"] = company
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        if line1:
            body["BillAddr"] = {"Line1": line1, "City": city, "CountrySubDivisionCode": state,
                                "PostalCode": zip_}
        if parent is not None:
            body |= {"Job": True, "BillWithParent": False,
                     "ParentRef": {"value": customers[parent - 1].id}}
        customers.append(books.create("Customer", body, emit=False))
    for display in VENDORS:
        books.create("Vendor", {"DisplayName": display, "CompanyName": display}, emit=False)
    for given, family in EMPLOYEES:
        books.create("Employee", {"GivenName": given, "FamilyName": family}, emit=False)
    for pm_name, pm_type in PAYMENT_METHODS:
        books.create("PaymentMethod", {"Name": pm_name, "Type": pm_type}, emit=False)
    terms = {t: books.create("Term", {"Name": t, "DueDays": d}, emit=False).id for t, d in TERMS}
    _seed_invoices(books, co, customers, acct)
    prefs = co.get("Preferences", "1")
    if prefs is not None:
        prefs.data = {k: prefs.data[k] for k in ("domain", "sparse", "Id", "SyncToken", "MetaData")} | (
            full_preferences(co, prefs.data, terms["Net 30"], acct)
        )


def _seed_invoices(books: Books, co: Company, customers: list[Any], acct: dict[str, str]) -> None:
    items = {i.data["Name"]: i for i in co.live("Item")}
    codes = [c.id for c in co.live("TaxCode")]
    today = co.today(books.now())
    for cust_i, lines, days_ago, paid in INVOICES:
        out = []
        for item_name, qty in lines:
            item = items[item_name]
            detail: dict[str, Any] = {
                "ItemRef": {"value": item.id},
                "Qty": Decimal(qty),
                "UnitPrice": item.data.get("UnitPrice") or Decimal(0),
            }
            if co.is_us:
                detail["TaxCodeRef"] = {"value": "TAX" if item.data.get("Taxable") else "NON"}
            elif codes:
                detail["TaxCodeRef"] = {"value": codes[0]}
            out.append({"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail})
        inv = books.create(
            "Invoice",
            {
                "CustomerRef": {"value": customers[cust_i].id},
                "TxnDate": (today - timedelta(days=days_ago)).isoformat(),
                "Line": out,
                "BillEmail": copy.deepcopy(customers[cust_i].data.get("PrimaryEmailAddr")),
            },
            emit=False,
        )
        if paid is None:
            continue
        total = Decimal(str(inv.data["TotalAmt"]))
        amount = total if paid == "full" else (total / 2).quantize(Decimal("0.01"))
        books.create(
            "Payment",
            {
                "CustomerRef": {"value": customers[cust_i].id},
                "TotalAmt": amount,
                "TxnDate": (today - timedelta(days=max(0, days_ago - 3))).isoformat(),
                "DepositToAccountRef": {"value": acct["Undeposited Funds"]},
                "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": inv.id, "TxnType": "Invoice"}]}],
            },
            emit=False,
        )


def full_preferences(
    co: Company, current: dict[str, Any], net30: str, acct: dict[str, str]
) -> dict[str, Any]:
    """Intuit's Preferences sample with this company's values (see the module docstring)."""
    name = co.name
    bye = f"\n\nSincerely,\n{name}"
    msg = (
        "Please remit payment at your earliest convenience.\n"
        "Thank you for your business - we appreciate it very much."
    )
    return {
        "AccountingInfoPrefs": {
            "FirstMonthOfFiscalYear": "January",
            "UseAccountNumbers": True,
            "TaxYearMonth": "January",
            "ClassTrackingPerTxn": False,
            "TrackDepartments": False,
            "TaxForm": "6",
            "CustomerTerminology": "Customers",
            "DepartmentTerminology": "Location",
            "ClassTrackingPerTxnLine": False,
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "CustomField": [
                {
                    "CustomField": [
                        {
                            "Name": "SalesFormsPrefs.UseSalesCustom3",
                            "Type": "BooleanType",
                            "BooleanValue": False,
                        },
                        {
                            "Name": "SalesFormsPrefs.UseSalesCustom2",
                            "Type": "BooleanType",
                            "BooleanValue": False,
                        },
                        {
                            "Name": "SalesFormsPrefs.UseSalesCustom1",
                            "Type": "BooleanType",
                            "BooleanValue": True,
                        },
                    ]
                },
                {
                    "CustomField": [
                        {
                            "Name": "SalesFormsPrefs.SalesCustomName1",
                            "Type": "StringType",
                            "StringValue": "Crew #",
                        }
                    ]
                },
            ],
            "CustomTxnNumbers": False,
            "AllowDeposit": True,
            "AllowDiscount": True,
            "DefaultDiscountAccount": acct.get("Discounts given", ""),
            "AllowEstimates": True,
            "ETransactionEnabledStatus": "NotApplicable",
            "ETransactionAttachPDF": False,
            "ETransactionPaymentEnabled": False,
            "IPNSupportEnabled": False,
            "AllowServiceDate": False,
            "AllowShipping": False,
            "DefaultTerms": {"value": net30},
            "DefaultCustomerMessage": "Thank you for your business and have a great day!",
            "EmailCopyToCompany": False,
            "AutoApplyCredit": True,
            "AutoApplyPayments": True,
            "UsingPriceLevels": False,
        },
        "EmailMessagesPrefs": {
            "InvoiceMessage": {
                "Subject": f"Invoice from {name}",
                "Message": f"Your invoice is attached.  {msg}{bye}",
            },
            "EstimateMessage": {
                "Subject": f"Estimate from {name}",
                "Message": "Please review the estimate below.  Feel free to contact us if you have any "
                f"questions.\nWe look forward to working with you.{bye}",
            },
            "SalesReceiptMessage": {
                "Subject": f"Sales Receipt from {name}",
                "Message": f"Your sales receipt is attached.\nThank you for your business - we appreciate it "
                f"very much.{bye}",
            },
            "StatementMessage": {
                "Subject": f"Statement from {name}",
                "Message": f"Your statement is attached.  {msg}{bye}",
            },
        },
        "VendorAndPurchasesPrefs": {
            "TrackingByCustomer": True,
            "BillableExpenseTracking": True,
            "POCustomField": [
                {
                    "CustomField": [
                        {
                            "Name": "PurchasePrefs.UsePurchaseCustom3",
                            "Type": "BooleanType",
                            "BooleanValue": False,
                        },
                        {
                            "Name": "PurchasePrefs.UsePurchaseCustom2",
                            "Type": "BooleanType",
                            "BooleanValue": True,
                        },
                        {
                            "Name": "PurchasePrefs.UsePurchaseCustom1",
                            "Type": "BooleanType",
                            "BooleanValue": True,
                        },
                    ]
                },
                {
                    "CustomField": [
                        {
                            "Name": "PurchasePrefs.PurchaseCustomName2",
                            "Type": "StringType",
                            "StringValue": "Sales Rep",
                        },
                        {
                            "Name": "PurchasePrefs.PurchaseCustomName1",
                            "Type": "StringType",
                            "StringValue": "Crew #",
                        },
                    ]
                },
            ],
        },
        "TimeTrackingPrefs": {
            "UseServices": True,
            "BillCustomers": True,
            "ShowBillRateToAll": False,
            "WorkWeekStartDate": "Monday",
            "MarkTimeEntriesBillable": True,
        },
        "TaxPrefs": copy.deepcopy(current.get("TaxPrefs") or {"UsingSalesTax": True}),
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": co.multi_currency,
            "HomeCurrency": currency_ref(co.home_currency),
        },
        "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
        "OtherPrefs": {
            "NameValue": [
                {
                    "Name": "SalesFormsPrefs.DefaultCustomerMessage",
                    "Value": "Thank you for your business and have a great day!",
                },
                {"Name": "SalesFormsPrefs.DefaultItem", "Value": "1"},
                {"Name": "DTXCopyMemo", "Value": "false"},
                {"Name": "UncategorizedAssetAccountId", "Value": acct.get("Uncategorized Asset", "")},
                {"Name": "UncategorizedIncomeAccountId", "Value": acct.get("Uncategorized Income", "")},
                {"Name": "UncategorizedExpenseAccountId", "Value": acct.get("Uncategorized Expense", "")},
                {"Name": "SFCEnabled", "Value": "true"},
                {"Name": "DataPartner", "Value": "false"},
                {"Name": "Vendor1099Enabled", "Value": "true"},
                {"Name": "TimeTrackingFeatureEnabled", "Value": "true"},
                {"Name": "FDPEnabled", "Value": "false"},
                {"Name": "ProjectsEnabled", "Value": "false"},
                {"Name": "DateFormat", "Value": "Month Date Year separated by a slash"},
                {"Name": "DateFormatMnemonic", "Value": "MMDDYYYY_SEP_SLASH"},
                {"Name": "NumberFormat", "Value": "US Number Format"},
                {"Name": "NumberFormatMnemonic", "Value": "US_NB"},
                {"Name": "WarnDuplicateCheckNumber", "Value": "true"},
                {"Name": "WarnDuplicateBillNumber", "Value": "false"},
                {"Name": "SignoutInactiveMinutes", "Value": "60"},
                {"Name": "AccountingInfoPrefs.ShowAccountNumbers", "Value": "false"},
            ]
        },
    }
