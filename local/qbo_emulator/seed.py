"""Default companies and app, and the building blocks the control API uses to add more.

Each company gets: CompanyInfo (Country alpha-2) and Preferences (currency + tax prefs), the accounts
"Sales of Product Income" and "Services" (Income), "Undeposited Funds" (Other Current Asset) and
"Discounts given" (Income), an item "Services" (Id 1, QBO's default item), and its tax setup:
US automated sales tax (one flat configurable rate) or, for a company without it (``automated_sales_tax``
false: an older company on QBO's manual sales tax), a state and a city rate with their codes; GB VAT
20/5/0; CA like a Canadian company set up in Ontario that also collects Quebec's QST (:data:`TAX_SETUPS`);
AU GST 10% / GST free.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import sandbox_seed
from .entities import Books
from .oauth import App
from .specs import ALPHA3, currency_ref
from .state import Company

if TYPE_CHECKING:
    from .core import Emulator

DEFAULT_CLIENT_ID = "emulator-client-id"
DEFAULT_CLIENT_SECRET = "emulator-client-secret"
DEFAULT_VERIFIER_TOKEN = "emulator-verifier-token"
DEFAULT_REDIRECT_URIS = [
    "http://localhost:3000/qbo/callback",
    "http://127.0.0.1:3000/qbo/callback",
    "http://localhost/callback",
    "http://127.0.0.1/callback",
]

US_REALM = "9341450000000001"
GB_REALM = "9341450000000002"
CA_REALM = "9341450000000003"
AU_REALM = "9341450000000004"

TIMEZONES = {
    "US": "America/Los_Angeles",
    "GB": "Europe/London",
    "CA": "America/Toronto",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    "IN": "Asia/Kolkata",
}
CURRENCIES = {"US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IN": "INR"}

# country -> agencies [(agency name, [(rate name, rate)])] and codes [(code name, [rate names])].
# CA: what a Canadian QBO company holds after "Set up sales tax" (agency per tax authority, a rate per tax,
# combined codes for two-tax provinces): GST and HST under the Canada Revenue Agency, QST under Revenu
# Québec, a combined GST/QST code. Sources: Intuit's QBO Canada sales-tax setup (agencies are the tax
# authorities; GST/HST is filed with the CRA, QST with Revenu Québec: D, QuickBooks Canada help "Set up
# and use sales tax"); a Quebec company's codes "TPS/TVQ QC - 9,975" (GST 5 % + QST 9.975 % in one code),
# "TPS", "TVQ", "Détaxé", "Exonéré" as a third-party integration lists them (I). Names in English and the
# Ontario HST are our guess (E); no PST agency: a company outside BC/MB/SK has none until its user adds
# one, which is what the pusher must then do (E).
TAX_SETUPS: dict[str, tuple[list[tuple[str, list[tuple[str, str]]]], list[tuple[str, list[str]]]]] = {
    "GB": (
        [("HMRC", [("20.0% S", "20"), ("5.0% R", "5"), ("0.0% Z", "0")])],
        [("20.0% S", ["20.0% S"]), ("5.0% R", ["5.0% R"]), ("0.0% Z", ["0.0% Z"])],
    ),
    "CA": (
        [
            ("Canada Revenue Agency", [("GST", "5"), ("HST ON", "13"), ("Zero-rated", "0"), ("Exempt", "0")]),
            ("Revenu Québec", [("QST", "9.975")]),
        ],
        [
            ("GST", ["GST"]),
            ("HST ON", ["HST ON"]),
            ("Zero-rated", ["Zero-rated"]),
            ("GST/QST QC", ["GST", "QST"]),
            ("Exempt", ["Exempt"]),
        ],
    ),
    "AU": (
        [("Australian Taxation Office", [("GST (sales)", "10"), ("GST free (sales)", "0")])],
        [("GST", ["GST (sales)"]), ("GST free", ["GST free (sales)"])],
    ),
    "NZ": (
        [("Inland Revenue", [("GST", "15"), ("Zero-rated", "0")])],
        [("GST", ["GST"]), ("Zero-rated", ["Zero-rated"])],
    ),
}
# A US company on QBO's manual sales tax (no AST): rates per jurisdiction, a code per rate or group of
# rates (TaxGroup), chosen per transaction with TxnTaxDetail.TxnTaxCodeRef (I: intuit/QuickBooks-V3-PHP-SDK
# #199, a company converted from QuickBooks Desktop without PartnerTaxEnabled; ruckus/quickbooks-ruby #262,
# the sandbox's "Sales Tax" code sent as txn_tax_code_id). Names and rates are our guess (E).
US_MANUAL_TAX: tuple[str, list[tuple[str, str]], list[tuple[str, list[str]]]] = (
    "Springfield Department of Revenue",
    [("State sales tax", "6.25"), ("City sales tax", "2")],
    [("State", ["State sales tax"]), ("Springfield", ["State sales tax", "City sales tax"])],
)
REGIONS = {"CA": "ON", "US": "CA", "AU": "NSW"}


@dataclass
class CompanySpec:
    realm_id: str
    name: str
    country: str
    home_currency: str | None = None
    multi_currency: bool = False
    ast_rate: str | None = "8.25"
    automated_sales_tax: bool = True
    """US only: false = QBO's manual sales tax (codes chosen per transaction, no AST)."""
    region: str | None = None
    """``CompanyAddr.CountrySubDivisionCode`` (province/state); default per country (:data:`REGIONS`)."""
    tz: str | None = None
    # "sandbox": what a fresh Intuit sandbox company holds; "minimal": nearly empty;
    # None: EmulatorConfig.default_seed ("sandbox" unless a test fixture asks for "minimal")
    seed: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompanySpec:
        return cls(
            realm_id=str(d["realm_id"]),
            name=str(d["name"]),
            country=str(d.get("country", "US")),
            home_currency=d.get("home_currency"),
            multi_currency=bool(d.get("multi_currency", False)),
            ast_rate=None if d.get("ast_rate", "8.25") is None else str(d.get("ast_rate", "8.25")),
            automated_sales_tax=bool(d.get("automated_sales_tax", True)),
            region=None if d.get("region") is None else str(d["region"]),
            tz=d.get("tz"),
            seed=None if d.get("seed") is None else str(d["seed"]),
        )


DEFAULT_COMPANIES = [
    CompanySpec(US_REALM, "Sunrise Yoga LLC", "US", "USD", ast_rate="8.25"),
    CompanySpec(GB_REALM, "Thames Pottery Ltd", "GB", "GBP"),
    CompanySpec(CA_REALM, "Maple Leaf Bikes Inc.", "CA", "CAD"),
    CompanySpec(AU_REALM, "Harbour Coffee Pty Ltd", "AU", "AUD"),
]


def default_app() -> App:
    return App(
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        list(DEFAULT_REDIRECT_URIS),
        verifier_token=DEFAULT_VERIFIER_TOKEN,
    )


def add_company(emu: Emulator, spec: CompanySpec) -> Company:
    """Create a company with its standard records (caller holds the state lock)."""
    country = ALPHA3.get(spec.country.upper(), spec.country.upper())
    currency = spec.home_currency or CURRENCIES.get(country, "USD")
    co = Company(
        realm_id=spec.realm_id,
        name=spec.name,
        country=country,
        home_currency=currency,
        tz=spec.tz or TIMEZONES.get(country, "UTC"),
        multi_currency=spec.multi_currency,
        ast_rate=Decimal(spec.ast_rate) if (country == "US" and spec.ast_rate is not None) else None,
        automated_sales_tax=spec.automated_sales_tax or country != "US",
    )
    emu.state.companies[co.realm_id] = co
    books = Books(emu.state, co)
    addr = {"Id": "1", "Line1": "1 Emulator Street", "City": "Springfield", "Country": country}
    region = spec.region or REGIONS.get(country)
    if region:
        addr["CountrySubDivisionCode"] = region
    books._new_record(
        "CompanyInfo",
        {
            "CompanyName": co.name,
            "LegalName": co.name,
            "CompanyAddr": addr,
            "CustomerCommunicationAddr": addr,
            "LegalAddr": addr,
            "PrimaryPhone": {},
            "CompanyStartDate": "2024-01-01",
            "FiscalYearStartMonth": "January",
            "Country": country,
            "Email": {"Address": "owner@example.com"},
            "WebAddr": {},
            "SupportedLanguages": "en",
            "NameValue": [
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                {"Name": "SubscriptionStatus", "Value": "PAID"},
            ],
        },
        obj_id="1",
    )
    books._new_record("Preferences", preferences_body(co), obj_id="1")
    kind = spec.seed or emu.config.default_seed
    if kind not in ("sandbox", "minimal"):
        raise ValueError(f"seed must be 'sandbox' or 'minimal', not {kind!r}")
    minimal = [
        ("Sales of Product Income", "Income", "SalesOfProductIncome"),
        ("Services", "Income", "ServiceFeeIncome"),
        ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("Discounts given", "Income", "DiscountsRefundsGiven"),
    ]
    if kind == "sandbox":  # all accounts at once, with the sandbox's ids where known
        sandbox_seed.create_accounts(books, co, minimal)
    for name, atype, sub in minimal if kind == "minimal" else []:
        books.create("Account", {"Name": name, "AccountType": atype, "AccountSubType": sub}, emit=False)
    services = next(a for a in co.live("Account") if a.data["Name"] == "Services")
    books.create(
        "Item",
        {"Name": "Services", "Type": "Service", "IncomeAccountRef": {"value": services.id}},
        emit=False,
    )
    if co.is_us and co.automated_sales_tax:
        agency = books.create("TaxAgency", {"DisplayName": "Emulator Department of Revenue"}, emit=False)
        rate = books.seed_tax_rate("Automated Sales Tax rate", co.ast_rate or Decimal(0), agency.id)
        books.seed_tax_code("Automated Sales Tax", [rate])
    elif co.is_us:
        agency_name, rates, codes = US_MANUAL_TAX
        _seed_taxes(books, [(agency_name, rates)], codes)
    elif country in TAX_SETUPS:
        _seed_taxes(books, *TAX_SETUPS[country])
    if kind == "sandbox":
        sandbox_seed.seed(books, co)
    return co


def _seed_taxes(
    books: Books, agencies: list[tuple[str, list[tuple[str, str]]]], codes: list[tuple[str, list[str]]]
) -> None:
    rates: dict[str, Any] = {}
    for agency_name, agency_rates in agencies:
        agency = books.create("TaxAgency", {"DisplayName": agency_name}, emit=False)
        for rate_name, value in agency_rates:
            rates[rate_name] = books.seed_tax_rate(rate_name, Decimal(value), agency.id)
    for code_name, rate_names in codes:
        books.seed_tax_code(code_name, [rates[name] for name in rate_names])


def preferences_body(co: Company) -> dict[str, Any]:
    tax: dict[str, Any] = {"UsingSalesTax": True}
    if co.is_us and co.automated_sales_tax:
        # automated sales tax; false = "AST enabled but the company doesn't have sales tax set up" (D: Intuit
        # blog 2017-12-11, quoted in quickbooks-ruby#443): a US company added with ast_rate None, which is
        # how a fresh sandbox company computes no tax (I: Torqvoice#330, python-quickbooks test_salesreceipt)
        tax["PartnerTaxEnabled"] = co.ast_rate is not None
    # a US company on manual sales tax has no PartnerTaxEnabled at all (PHP-SDK #199)
    return {
        "AccountingInfoPrefs": {
            "TrackDepartments": False,
            "ClassTrackingPerTxn": False,
            "CustomerTerminology": "Customers",
        },
        "ProductAndServicesPrefs": {
            "ForSales": True,
            "ForPurchase": True,
            "QuantityWithPriceAndRate": True,
            "QuantityOnHand": True,
        },
        "SalesFormsPrefs": {
            "AllowDiscount": True,
            "AllowDeposit": True,
            "AllowShipping": False,
            "CustomTxnNumbers": False,
            "AutoApplyCredit": True,
            "DefaultTerms": {"value": "3"},
        },
        "TaxPrefs": tax,
        "CurrencyPrefs": {
            "MultiCurrencyEnabled": co.multi_currency,
            "HomeCurrency": currency_ref(co.home_currency),
        },
        "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": ""}]},
    }


def seed_defaults(emu: Emulator) -> None:
    for spec in DEFAULT_COMPANIES:
        add_company(emu, spec)
