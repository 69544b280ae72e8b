"""QBO entities the bundle reads, as permissive models.

``extra="allow"``: QBO adds fields with every minor version (and leaks internals such as ``LineEx``), and
a new field must never break a sync. Python names are snake_case; aliases are QBO's PascalCase names
(``sync_token`` ↔ ``SyncToken``); a few QBO names are lower-case (``domain``, ``sparse``, ``status``,
``value``, ``name``). Deleted entities come back as ``{"domain", "status": "Deleted", "Id"}`` only, so
everything but ``Id`` is optional.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from kyrios_qbo.money import ZERO


class QboModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        alias_generator=to_pascal,
        frozen=True,
        coerce_numbers_to_str=True,
    )


class Ref(BaseModel):
    """``{"value": "12", "name": "Design"}``."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    value: str
    name: str | None = None


class EmailAddr(QboModel):
    address: str | None = None


class PhoneNumber(QboModel):
    free_form_number: str | None = None


class PhysicalAddress(QboModel):
    id: str | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    line4: str | None = None
    city: str | None = None
    country_sub_division_code: str | None = None
    postal_code: str | None = None
    country: str | None = None


class MetaData(QboModel):
    create_time: datetime | None = None
    last_updated_time: datetime | None = None


class QboEntity(QboModel):
    """Fields every QBO entity has."""

    ENTITY: ClassVar[str] = ""

    id: str
    sync_token: str | None = None
    domain: str | None = Field(default=None, alias="domain")
    sparse: bool | None = Field(default=None, alias="sparse")
    status: str | None = Field(default=None, alias="status")
    meta_data: MetaData | None = None

    @property
    def is_deleted(self) -> bool:
        """CDC and delete answers mark removed entities with ``status: "Deleted"``."""
        return self.status == "Deleted"


# ------------------------------------------------------------------------------------ customers


class Customer(QboEntity):
    ENTITY: ClassVar[str] = "Customer"

    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    fully_qualified_name: str | None = None
    primary_email_addr: EmailAddr | None = None
    primary_phone: PhoneNumber | None = None
    bill_addr: PhysicalAddress | None = None
    active: bool | None = None
    job: bool | None = None
    balance: Decimal | None = None
    currency_ref: Ref | None = None
    default_tax_code_ref: Ref | None = None

    @property
    def email(self) -> str | None:
        """Primary email, trimmed and lower-cased (the key we match Kyrios contacts on)."""
        address = self.primary_email_addr.address if self.primary_email_addr else None
        address = (address or "").strip().lower()
        return address or None


# ------------------------------------------------------------------------------------ transactions


class SalesItemLineDetail(QboModel):
    item_ref: Ref | None = None
    unit_price: Decimal | None = None
    qty: Decimal | None = None
    tax_code_ref: Ref | None = None
    tax_inclusive_amt: Decimal | None = None


class DiscountLineDetail(QboModel):
    percent_based: bool | None = None
    discount_percent: Decimal | None = None
    discount_account_ref: Ref | None = None


class LinkedTxn(QboModel):
    txn_id: str
    txn_type: str | None = None


class Line(QboModel):
    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Decimal | None = None
    detail_type: str | None = None
    sales_item_line_detail: SalesItemLineDetail | None = None
    discount_line_detail: DiscountLineDetail | None = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class TaxLineDetail(QboModel):
    tax_rate_ref: Ref | None = None
    percent_based: bool | None = None
    tax_percent: Decimal | None = None
    net_amount_taxable: Decimal | None = None


class TaxLine(QboModel):
    amount: Decimal | None = None
    detail_type: str | None = None
    tax_line_detail: TaxLineDetail | None = None


class TxnTaxDetail(QboModel):
    txn_tax_code_ref: Ref | None = None
    total_tax: Decimal | None = None
    tax_line: list[TaxLine] = Field(default_factory=list)


class SalesTransaction(QboEntity):
    """What Invoice, SalesReceipt and Estimate share."""

    doc_number: str | None = None
    txn_date: date | None = None
    currency_ref: Ref | None = None
    exchange_rate: Decimal | None = None
    private_note: str | None = None
    line: list[Line] = Field(default_factory=list)
    txn_tax_detail: TxnTaxDetail | None = None
    customer_ref: Ref | None = None
    bill_email: EmailAddr | None = None
    bill_addr: PhysicalAddress | None = None
    total_amt: Decimal | None = None
    global_tax_calculation: str | None = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)

    @property
    def sales_lines(self) -> list[Line]:
        return [line for line in self.line if line.detail_type == "SalesItemLineDetail"]

    @property
    def is_voided(self) -> bool:
        """QBO voids by zeroing amounts and writing ``PrivateNote: "Voided"`` (no status field)."""
        return (self.private_note or "").strip() == "Voided" and (self.total_amt or ZERO) == 0


class Invoice(SalesTransaction):
    ENTITY: ClassVar[str] = "Invoice"

    due_date: date | None = None
    balance: Decimal | None = None
    email_status: str | None = None

    @property
    def is_paid(self) -> bool:
        """Paid in full: nothing left to pay on a non-zero invoice (a voided invoice is not paid)."""
        return self.balance is not None and self.balance == 0 and (self.total_amt or ZERO) > 0

    @property
    def paid_state(self) -> str:
        """``paid``, ``partially_paid`` or ``unpaid``."""
        total, balance = self.total_amt or ZERO, self.balance if self.balance is not None else self.total_amt
        if self.is_paid:
            return "paid"
        if balance is not None and 0 < balance < total:
            return "partially_paid"
        return "unpaid"


class SalesReceipt(SalesTransaction):
    ENTITY: ClassVar[str] = "SalesReceipt"

    deposit_to_account_ref: Ref | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None


class Estimate(SalesTransaction):
    ENTITY: ClassVar[str] = "Estimate"

    txn_status: str | None = None


class PaymentLine(QboModel):
    amount: Decimal | None = None
    linked_txn: list[LinkedTxn] = Field(default_factory=list)


class Payment(QboEntity):
    ENTITY: ClassVar[str] = "Payment"

    txn_date: date | None = None
    total_amt: Decimal | None = None
    unapplied_amt: Decimal | None = None
    customer_ref: Ref | None = None
    currency_ref: Ref | None = None
    deposit_to_account_ref: Ref | None = None
    payment_method_ref: Ref | None = None
    payment_ref_num: str | None = None
    private_note: str | None = None
    line: list[PaymentLine] = Field(default_factory=list)

    @property
    def invoice_ids(self) -> list[str]:
        """Ids of the invoices this payment is applied to."""
        return [txn.txn_id for line in self.line for txn in line.linked_txn if txn.txn_type == "Invoice"]


# ------------------------------------------------------------------------------------ tax


class TaxRateDetailRef(QboModel):
    tax_rate_ref: Ref
    tax_type_applicable: str | None = None
    tax_order: int | None = None


class TaxRateList(QboModel):
    tax_rate_detail: list[TaxRateDetailRef] = Field(default_factory=list)


class TaxCode(QboEntity):
    ENTITY: ClassVar[str] = "TaxCode"

    name: str | None = None
    description: str | None = None
    active: bool | None = None
    taxable: bool | None = None
    tax_group: bool | None = None
    sales_tax_rate_list: TaxRateList | None = None
    purchase_tax_rate_list: TaxRateList | None = None

    @property
    def sales_rate_ids(self) -> list[str]:
        if not self.sales_tax_rate_list:
            return []
        return [detail.tax_rate_ref.value for detail in self.sales_tax_rate_list.tax_rate_detail]

    @property
    def is_us_pseudo_code(self) -> bool:
        """``TAX``/``NON``/``CustomSalesTax``: US automated-sales-tax placeholders, not real codes."""
        return self.id in {"TAX", "NON", "CustomSalesTax"}


class TaxRate(QboEntity):
    ENTITY: ClassVar[str] = "TaxRate"

    name: str | None = None
    description: str | None = None
    active: bool | None = None
    rate_value: Decimal | None = None
    agency_ref: Ref | None = None
    special_tax_type: str | None = None
    display_type: str | None = None


class TaxAgency(QboEntity):
    ENTITY: ClassVar[str] = "TaxAgency"

    display_name: str | None = None
    tax_tracked_on_sales: bool | None = None
    tax_tracked_on_purchases: bool | None = None


# ------------------------------------------------------------------------------------ items, accounts


class Item(QboEntity):
    ENTITY: ClassVar[str] = "Item"

    name: str | None = None
    sku: str | None = None
    description: str | None = None
    type: str | None = None
    active: bool | None = None
    unit_price: Decimal | None = None
    income_account_ref: Ref | None = None
    sales_tax_code_ref: Ref | None = None


class Account(QboEntity):
    ENTITY: ClassVar[str] = "Account"

    name: str | None = None
    account_type: str | None = None
    account_sub_type: str | None = None
    classification: str | None = None
    active: bool | None = None
    currency_ref: Ref | None = None


# ------------------------------------------------------------------------------------ company

# ISO 3166 alpha-3 → alpha-2 (CompanyInfo.Country may be either since late 2025).
_ALPHA3_TEXT = """
    AFG:AF ALB:AL DZA:DZ AND:AD AGO:AO ATG:AG ARG:AR ARM:AM AUS:AU AUT:AT AZE:AZ BHS:BS BHR:BH BGD:BD
    BRB:BB BLR:BY BEL:BE BLZ:BZ BEN:BJ BTN:BT BOL:BO BIH:BA BWA:BW BRA:BR BRN:BN BGR:BG BFA:BF BDI:BI
    KHM:KH CMR:CM CAN:CA CPV:CV CAF:CF TCD:TD CHL:CL CHN:CN COL:CO COM:KM COG:CG COD:CD CRI:CR CIV:CI
    HRV:HR CUB:CU CYP:CY CZE:CZ DNK:DK DJI:DJ DMA:DM DOM:DO ECU:EC EGY:EG SLV:SV GNQ:GQ ERI:ER EST:EE
    SWZ:SZ ETH:ET FJI:FJ FIN:FI FRA:FR GAB:GA GMB:GM GEO:GE DEU:DE GHA:GH GRC:GR GRD:GD GTM:GT GIN:GN
    GNB:GW GUY:GY HTI:HT HND:HN HKG:HK HUN:HU ISL:IS IND:IN IDN:ID IRN:IR IRQ:IQ IRL:IE ISR:IL ITA:IT
    JAM:JM JPN:JP JOR:JO KAZ:KZ KEN:KE KIR:KI PRK:KP KOR:KR KWT:KW KGZ:KG LAO:LA LVA:LV LBN:LB LSO:LS
    LBR:LR LBY:LY LIE:LI LTU:LT LUX:LU MAC:MO MDG:MG MWI:MW MYS:MY MDV:MV MLI:ML MLT:MT MHL:MH MRT:MR
    MUS:MU MEX:MX FSM:FM MDA:MD MCO:MC MNG:MN MNE:ME MAR:MA MOZ:MZ MMR:MM NAM:NA NRU:NR NPL:NP NLD:NL
    NZL:NZ NIC:NI NER:NE NGA:NG MKD:MK NOR:NO OMN:OM PAK:PK PLW:PW PAN:PA PNG:PG PRY:PY PER:PE PHL:PH
    POL:PL PRT:PT PRI:PR QAT:QA ROU:RO RUS:RU RWA:RW KNA:KN LCA:LC VCT:VC WSM:WS SMR:SM STP:ST SAU:SA
    SEN:SN SRB:RS SYC:SC SLE:SL SGP:SG SVK:SK SVN:SI SLB:SB SOM:SO ZAF:ZA SSD:SS ESP:ES LKA:LK SDN:SD
    SUR:SR SWE:SE CHE:CH SYR:SY TWN:TW TJK:TJ TZA:TZ THA:TH TLS:TL TGO:TG TON:TO TTO:TT TUN:TN TUR:TR
    TKM:TM TUV:TV UGA:UG UKR:UA ARE:AE GBR:GB USA:US URY:UY UZB:UZ VUT:VU VAT:VA VEN:VE VNM:VN YEM:YE
    ZMB:ZM ZWE:ZW GIB:GI IMN:IM JEY:JE GGY:GG BMU:BM CYM:KY VGB:VG ABW:AW CUW:CW GUM:GU VIR:VI PSE:PS
    XKX:XK
"""
_ALPHA3 = dict(pair.split(":") for pair in _ALPHA3_TEXT.split())
# Older QBO data sometimes spells the country out.
_NAMES = {"UNITED STATES": "US", "UNITED KINGDOM": "GB", "CANADA": "CA", "AUSTRALIA": "AU", "INDIA": "IN"}


def country_alpha2(value: str | None) -> str | None:
    """``'GBR'``/``'gb'``/``'United Kingdom'`` → ``'GB'``; ``None`` when empty or unknown."""
    if not value:
        return None
    code = value.strip().upper()
    if len(code) == 2 and code.isalpha():
        return code
    if len(code) == 3 and code in _ALPHA3:
        return _ALPHA3[code]
    return _NAMES.get(code)


class NameValue(QboModel):
    name: str
    value: str | None = None


class CompanyInfo(QboEntity):
    ENTITY: ClassVar[str] = "CompanyInfo"

    company_name: str | None = None
    legal_name: str | None = None
    country: str | None = None
    company_addr: PhysicalAddress | None = None
    legal_addr: PhysicalAddress | None = None
    email: EmailAddr | None = None
    name_value: list[NameValue] = Field(default_factory=list)

    @property
    def country_alpha2(self) -> str | None:
        """The company's country as ISO alpha-2, from ``Country`` or, failing that, its addresses."""
        for candidate in (
            self.country,
            self.company_addr.country if self.company_addr else None,
            self.legal_addr.country if self.legal_addr else None,
        ):
            code = country_alpha2(candidate)
            if code:
                return code
        return None

    @property
    def is_us(self) -> bool:
        """US companies use automated sales tax (``TAX``/``NON``); everyone else uses TaxCodes."""
        return self.country_alpha2 == "US"

    def setting(self, name: str) -> str | None:
        """A value from the ``NameValue`` list (e.g. ``OfferingSku``)."""
        return next((item.value for item in self.name_value if item.name == name), None)
