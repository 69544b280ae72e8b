"""What a fresh Intuit sandbox company holds, for ``seed="sandbox"`` companies (issue 20).

Intuit's sandbox company ("Sandbox Company_US", trading as Craig's Design and Landscaping
Services) comes with customers that have invoices and payments, items of every type with their
income / expense / asset accounts, payment methods, terms and a full Preferences object. Sources:
- Preferences: Intuit's API reference sample "Full update preferences" (developer.intuit.com
  .../all-entities/preferences), reproduced verbatim in python-quickbooks tests/unit/objects/
  test_preferences.py (PAYLOAD); we keep its structure and values and substitute this company's
  name, currency, term and account ids.
- Names: customers "Amy's Bird Sanctuary" (Id 1), "Cool Cars", items "Rock Fountain" (Inventory,
  income "Sales of Product Income", unit price 275, cost 125, 2 on hand), "Concrete", "Pest Control"
  (35), "Pump", discount account "Discounts given", vendors "Bob's Burger Joint", "Books by Bessie",
  "Hicks Hardware" appear in captured sandbox payloads in public repositories (Intuit's own sample
  objects on the API reference pages; PipedreamHQ/pipedream components/quickbooks test events;
  python-quickbooks tests/integration/test_estimate.py). The other names complete the list as the
  sandbox UI shows it (E: not all captured); Ids follow the emulator's own sequences (E: Intuit's ids
  differ, e.g. "Discounts given" is 86 there), except that the items keep the sandbox order so
  "Pest Control" is Item 10 and "Rock Fountain" Item 5 as in the samples.
- Account types / subtypes: Intuit's Account reference (AccountSubType enum): SalesOfProductIncome,
  SuppliesMaterialsCogs, Inventory, AccountsReceivable, AccountsPayable, Checking, ...
"""

from __future__ import annotations

import copy
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .specs import currency_ref

if TYPE_CHECKING:
    from .entities import Books
    from .state import Company

ACCOUNTS = [
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Design income", "Income", "ServiceFeeIncome"),
    ("Landscaping Services", "Income", "ServiceFeeIncome"),
    ("Pest Control Services", "Income", "OtherPrimaryIncome"),
    ("Supplies", "Expense", "SuppliesMaterials"),
    ("Job Expenses", "Expense", "OtherBusinessExpenses"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Uncategorized Income", "Income", "ServiceFeeIncome"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets"),
]

# name, type, income account, unit price, taxable, (purchase cost, qty on hand) for inventory
ITEMS: list[tuple[str, str, str, str, bool, tuple[str, str] | None]] = [
    ("Hours", "Service", "Services", "0", False, None),
    ("Concrete", "Service", "Landscaping Services", "0", True, None),
    ("Design", "Service", "Design income", "75", False, None),
    ("Rock Fountain", "Inventory", "Sales of Product Income", "275", True, ("125", "2")),
    ("Gardening", "Service", "Landscaping Services", "0", False, None),
    ("Installation", "Service", "Landscaping Services", "50", False, None),
    ("Lighting", "Service", "Landscaping Services", "0", True, None),
    ("Maintenance & Repair", "Service", "Landscaping Services", "0", False, None),
    ("Pest Control", "Service", "Pest Control Services", "35", False, None),
    ("Pump", "Inventory", "Sales of Product Income", "15", True, ("10", "25")),
    ("Refunds & Allowances", "NonInventory", "Sales of Product Income", "0", False, None),
    ("Rocks", "NonInventory", "Landscaping Services", "0", True, None),
    ("Sod", "NonInventory", "Landscaping Services", "0", True, None),
    ("Sprinkler Heads", "Inventory", "Sales of Product Income", "2", True, ("0.75", "25")),
    ("Sprinkler Pipes", "Inventory", "Sales of Product Income", "4", True, ("2.5", "31")),
    ("Trimming", "Service", "Landscaping Services", "35", False, None),
]

CUSTOMERS = [
    ("Amy's Bird Sanctuary", "Amy", "Lauterbach", "Birds@Intuit.com"),
    ("Bill's Windsurf Shop", "Bill", "Lucchini", "Surf@Intuit.com"),
    ("Cool Cars", "Grace", "Pariente", "Cool_Cars@intuit.com"),
    ("Diego Rodriguez", "Diego", "Rodriguez", "Diego@Rodriguez.com"),
    ("Dukes Basketball Camp", "Peter", "Dukes", "Dukes_bball@intuit.com"),
    ("Freeman Sporting Goods", "Sasha", "Tillou", "Sporting_goods@intuit.com"),
    ("Jeff's Jalopies", "Jeff", "Chin", "Jalopies@intuit.com"),
    ("Kookies by Kathy", "Kathy", "Kuplis", "qbwebsamplecompany@yahoo.com"),
    ("Red Rock Diner", "Stephanie", "Martini", "qbwebsamplecompany@yahoo.com"),
    ("Sushi by Katsuyuki", "Katsuyuki", "Yasuda", "Sushi@intuit.com"),
]
VENDORS = [
    "Bob's Burger Joint",
    "Books by Bessie",
    "Brosnahan Insurance Agency",
    "Cal Telephone",
    "Hicks Hardware",
    "Norton Lumber and Building Materials",
    "PG&E",
    "Tania's Nursery",
]
EMPLOYEES = [("Emily", "Platt"), ("John", "Johnson")]
PAYMENT_METHODS = [
    ("Cash", "NON_CREDIT_CARD"),
    ("Check", "NON_CREDIT_CARD"),
    ("Visa", "CREDIT_CARD"),
    ("MasterCard", "CREDIT_CARD"),
    ("Discover", "CREDIT_CARD"),
    ("American Express", "CREDIT_CARD"),
    ("Diners Club", "CREDIT_CARD"),
]
TERMS = [("Due on receipt", 0), ("Net 10", 10), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60)]
# customer index, [(item name, qty)], days ago, paid ("full" | "part" | None)
INVOICES: list[tuple[int, list[tuple[str, str]], int, str | None]] = [
    (0, [("Pest Control", "3"), ("Rock Fountain", "1")], 40, "full"),
    (2, [("Design", "4"), ("Installation", "2")], 30, "part"),
    (3, [("Trimming", "2")], 20, None),
    (6, [("Sprinkler Heads", "10"), ("Sprinkler Pipes", "5")], 12, None),
    (9, [("Pump", "2"), ("Gardening", "1")], 5, "full"),
]


def seed(books: Books, co: Company) -> None:
    """Add the sandbox records to a company that already has the minimal ones (caller holds the lock)."""
    acct: dict[str, str] = {a.data["Name"]: a.id for a in co.live("Account")}
    for name, atype, sub in ACCOUNTS:
        if name not in acct:
            acct[name] = books.create(
                "Account", {"Name": name, "AccountType": atype, "AccountSubType": sub}, emit=False
            ).id

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
    customers = []
    for display, given, family, email in CUSTOMERS:
        customers.append(
            books.create(
                "Customer",
                {
                    "DisplayName": display,
                    "GivenName": given,
                    "FamilyName": family,
                    "CompanyName": display,
                    "PrimaryEmailAddr": {"Address": email},
                    "BillAddr": {"Line1": "4581 Finch St.", "City": "Bayshore", "PostalCode": "94326"},
                },
                emit=False,
            )
        )
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
