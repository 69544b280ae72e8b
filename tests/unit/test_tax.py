"""Tax decisions for GB, CA, AU and US companies (pure, QBO entities in QBO's own JSON shape)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from kyrios_qbo.models.kyrios import KyriosLine
from kyrios_qbo.models.qbo import CompanyInfo, TaxAgency, TaxCode, TaxRate
from kyrios_qbo.tax import TaxSetupError, UnresolvedTaxPlan, global_tax_calculation, plan_taxes
from tests.fixtures import QBO_SAMPLES

COMPANY = json.loads((QBO_SAMPLES / "companyinfo-response.json").read_text())["CompanyInfo"]


def company(country: str) -> CompanyInfo:
    return CompanyInfo.model_validate({**COMPANY, "Country": country})


def rate(rate_id: str, name: str, value: str, agency: str = "1", active: bool = True) -> TaxRate:
    return TaxRate.model_validate(
        {"Id": rate_id, "Name": name, "RateValue": value, "AgencyRef": {"value": agency}, "Active": active}
    )


def code(code_id: str, name: str, *rate_ids: str, active: bool = True) -> TaxCode:
    return TaxCode.model_validate(
        {
            "Id": code_id,
            "Name": name,
            "Active": active,
            "Taxable": True,
            "TaxGroup": len(rate_ids) > 1,
            "SalesTaxRateList": {
                "TaxRateDetail": [
                    {"TaxRateRef": {"value": r}, "TaxTypeApplicable": "TaxOnAmount"} for r in rate_ids
                ]
            },
            "PurchaseTaxRateList": {"TaxRateDetail": []},
        }
    )


def agency(agency_id: str, name: str) -> TaxAgency:
    return TaxAgency.model_validate({"Id": agency_id, "DisplayName": name, "TaxTrackedOnSales": True})


def line(line_id: str, *taxes: tuple[str, str]) -> KyriosLine:
    return KyriosLine.model_validate(
        {
            "line_id": line_id,
            "product": {"id": "p", "name": "Thing"},
            "quantity": "1",
            "unit_price": "10.00",
            "taxes": [{"tax_id": f"t-{n[:20]}-{r}", "name": n, "rate_percent": r} for n, r in taxes],
        }
    )


GB_RATES = [
    rate("1", "20.0% S", "20"),
    rate("2", "5.0% R", "5"),
    rate("3", "0.0% Z", "0"),
    rate("4", "Exempt", "0"),
]
GB_CODES = [
    code("10", "20.0% S", "1"),
    code("11", "5.0% R", "2"),
    code("12", "0.0% Z", "3"),
    code("13", "Exempt", "4"),
]
GB_AGENCIES = [agency("1", "HMRC")]


def test_gb_standard_reduced_and_zero() -> None:
    plan = plan_taxes(
        company("GB"),
        [line("a", ("VAT", "20")), line("b", ("VAT", "5")), line("c"), line("d", ("Zero-rated", "0"))],
        prices_include_tax=False,
        tax_codes=GB_CODES,
        tax_rates=GB_RATES,
        agencies=GB_AGENCIES,
    )
    assert plan.is_resolved and plan.to_create == ()
    assert [plan.tax_code_for(x) for x in "abcd"] == [
        "10",
        "11",
        "13",
        "12",
    ]  # no tax → Exempt; named → 0.0% Z
    assert plan.global_tax_calculation == "TaxExcluded"
    assert plan.lines["a"].rate_keys == (("qbo:1", Decimal("20")),)


def test_gb_inclusive_and_no_tax_at_all() -> None:
    inclusive = plan_taxes(
        company("GBR"),
        [line("a", ("VAT", "20"))],
        prices_include_tax=True,
        tax_codes=GB_CODES,
        tax_rates=GB_RATES,
        agencies=GB_AGENCIES,
    )
    assert inclusive.global_tax_calculation == "TaxInclusive"
    untaxed = plan_taxes(
        company("GB"),
        [line("a")],
        prices_include_tax=True,
        tax_codes=GB_CODES,
        tax_rates=GB_RATES,
        agencies=GB_AGENCIES,
    )
    assert untaxed.global_tax_calculation == "NotApplicable"
    assert untaxed.tax_code_for("a") == "13"


CA_RATES = [
    rate("1", "GST", "5", "1"),
    rate("2", "PST (BC)", "7", "2"),
    rate("3", "HST ON", "13", "1"),
    rate("4", "Exempt", "0", "1"),
]
CA_CODES = [
    code("2", "GST", "1"),
    code("5", "GST/PST BC", "1", "2"),
    code("6", "HST ON", "3"),
    code("7", "Exempt", "4"),
]


def test_ca_gst_plus_pst_uses_the_combined_code() -> None:
    plan = plan_taxes(
        company("CAN"),
        [line("a", ("GST", "5"), ("PST", "7")), line("b", ("GST", "5"))],
        prices_include_tax=False,
        tax_codes=CA_CODES,
        tax_rates=CA_RATES,
    )
    assert plan.tax_code_for("a") == "5"
    assert plan.tax_code_for("b") == "2"
    assert plan.lines["a"].rate_keys == (("qbo:1", Decimal("5")), ("qbo:2", Decimal("7")))


def test_ca_combination_missing_is_created_with_agencies() -> None:
    codes = [c for c in CA_CODES if c.id != "5"]
    agencies = [agency("1", "Canada Revenue Agency"), agency("2", "BC Ministry of Finance")]
    plan = plan_taxes(
        company("CA"),
        [line("a", ("PST", "7"), ("GST", "5")), line("b", ("GST", "5"), ("PST", "7"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=CA_RATES,
        agencies=agencies,
    )
    assert not plan.is_resolved
    assert len(plan.to_create) == 1  # both lines share one new code
    new = plan.to_create[0]
    assert new.payload() == {
        "TaxCode": "Kyrios GST 5% + PST 7%",
        "TaxRateDetails": [
            {"TaxRateId": "1"},  # the company's GST 5 % under the Canada Revenue Agency, reused
            {
                "TaxRateName": "Kyrios PST 7%",
                "RateValue": "7",
                "TaxApplicableOn": "Sales",
                "TaxAgencyId": "2",
            },
        ],
    }
    with pytest.raises(UnresolvedTaxPlan):
        plan.tax_code_for("a")
    with pytest.raises(UnresolvedTaxPlan):
        plan.resolve({})
    resolved = plan.resolve({new.key: "42"})
    assert resolved.is_resolved and resolved.tax_code_for("a") == resolved.tax_code_for("b") == "42"
    # Deterministic: the same taxes in another order give the same key and name.
    again = plan_taxes(
        company("CA"),
        [line("z", ("GST", "5"), ("PST", "7"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=CA_RATES,
        agencies=agencies,
    )
    assert again.to_create[0].key == new.key and again.to_create[0].name == new.name


def test_au_gst() -> None:
    rates = [rate("1", "GST (sales)", "10"), rate("2", "GST free (sales)", "0")]
    codes = [code("3", "GST", "1"), code("4", "FRE", "2")]
    plan = plan_taxes(
        company("AUS"),
        [line("a", ("GST", "10")), line("b")],
        prices_include_tax=True,
        tax_codes=codes,
        tax_rates=rates,
    )
    assert (plan.tax_code_for("a"), plan.tax_code_for("b")) == ("3", "4")
    assert plan.global_tax_calculation == "TaxInclusive"


def test_us_automated_sales_tax() -> None:
    plan = plan_taxes(
        company("US"),
        [line("a", ("Sales tax", "8.25")), line("b"), line("c", ("None", "0"))],
        prices_include_tax=False,
        tax_codes=GB_CODES,
        tax_rates=GB_RATES,
    )
    assert plan.is_us and plan.global_tax_calculation is None
    assert [plan.tax_code_for(x) for x in "abc"] == ["TAX", "NON", "NON"]


def test_name_match_is_preferred_over_id_order() -> None:
    rates = [rate("1", "Tourism levy", "5"), rate("2", "GST", "5")]
    codes = [code("1", "Levy", "1"), code("2", "GST", "2")]
    plan = plan_taxes(
        company("CA"), [line("a", ("GST", "5"))], prices_include_tax=False, tax_codes=codes, tax_rates=rates
    )
    assert plan.tax_code_for("a") == "2"
    unnamed = plan_taxes(
        company("CA"), [line("a", ("Sales", "5"))], prices_include_tax=False, tax_codes=codes, tax_rates=rates
    )
    assert unnamed.tax_code_for("a") == "1"  # equal scores: lowest Id, stable


def test_inactive_and_us_pseudo_codes_are_ignored() -> None:
    rates = [rate("1", "VAT", "20")]
    codes = [code("TAX", "TAX", "1"), code("5", "VAT old", "1", active=False)]
    plan = plan_taxes(
        company("GB"),
        [line("a", ("VAT", "20"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=rates,
        agencies=GB_AGENCIES,
    )
    assert plan.to_create[0].name == "Kyrios VAT 20%"


def test_zero_code_is_created_when_none_exists_and_existing_rates_are_reused() -> None:
    rates = [rate("1", "VAT", "20"), rate("9", "Kyrios No tax 0%", "0")]
    plan = plan_taxes(
        company("IE"),
        [line("a")],
        prices_include_tax=False,
        tax_codes=[code("1", "VAT", "1")],
        tax_rates=rates,
        agencies=[agency("7", "Revenue")],
    )
    assert plan.to_create[0].payload() == {
        "TaxCode": "Kyrios No tax 0%",
        "TaxRateDetails": [{"TaxRateId": "9"}],
    }


def test_name_clashes_get_a_counter_and_names_stay_short() -> None:
    rates = [rate("1", "Kyrios VAT 20%", "17.5")]
    codes = [code("1", "Kyrios VAT 20%", "1")]
    long_name = "V" * 98
    plan = plan_taxes(
        company("GB"),
        [line("a", ("VAT", "20")), line("b", (long_name, "12.5"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=rates,
        agencies=GB_AGENCIES,
    )
    by_line = {c.key: c for c in plan.to_create}
    first = by_line[plan.lines["a"].pending_key]  # type: ignore[index]
    assert first.name == "Kyrios VAT 20% (2)"
    assert first.rates[0].name == "Kyrios VAT 20% (2)"
    second = by_line[plan.lines["b"].pending_key]  # type: ignore[index]
    assert len(second.name) <= 100 and all(len(r.name) <= 100 for r in second.rates)
    assert second.rates[0].detail()["RateValue"] == "12.5"


def test_no_agency_is_a_setup_error_in_plain_words() -> None:
    with pytest.raises(TaxSetupError, match="set up sales tax in QuickBooks"):
        plan_taxes(company("GB"), [line("a", ("VAT", "20"))], prices_include_tax=False)


@pytest.mark.parametrize(
    ("taxes", "inclusive", "expected"),
    [
        ((), False, "NotApplicable"),
        ((("VAT", "0"),), True, "NotApplicable"),
        ((("VAT", "20"),), False, "TaxExcluded"),
        ((("VAT", "20"),), True, "TaxInclusive"),
    ],
)
def test_global_tax_calculation(taxes: Any, inclusive: bool, expected: str) -> None:
    assert global_tax_calculation([line("a", *taxes)], inclusive) == expected


def _ca_company(region: str) -> CompanyInfo:
    return CompanyInfo.model_validate(
        {**COMPANY, "Country": "CA", "CompanyAddr": {"CountrySubDivisionCode": region, "Country": "CA"}}
    )


def test_ca_pst_goes_to_the_province_of_the_company_and_its_agency_is_created_when_missing() -> None:
    codes = [c for c in CA_CODES if c.id != "5"]
    plan = plan_taxes(
        _ca_company("SK"),
        [line("a", ("GST", "5"), ("PST", "6"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=CA_RATES,
        agencies=[agency("1", "Canada Revenue Agency")],
    )
    assert plan.agencies_to_create == ("Minister of Finance (SK)",)
    [new] = plan.to_create
    assert new.payload({"Minister of Finance (SK)": "77"})["TaxRateDetails"] == [
        {"TaxRateId": "1"},
        {"TaxRateName": "Kyrios PST 6%", "RateValue": "6", "TaxApplicableOn": "Sales", "TaxAgencyId": "77"},
    ]
    # The GST of the new code is the company's GST rate: the line's GST lands on rate 1 at once.
    assert dict(plan.lines["a"].qbo_rates)["t-GST-5"] == "1"


def test_ca_qst_is_filed_with_revenu_quebec_and_an_existing_qst_rate_is_reused() -> None:
    rates = [*CA_RATES, rate("9", "QST", "9.975", "3")]
    codes = [*CA_CODES, code("10", "QST only", "9")]
    agencies = [agency("1", "Canada Revenue Agency"), agency("3", "Revenu Québec")]
    plan = plan_taxes(
        _ca_company("ON"),
        [line("a", ("GST", "5"), ("QST", "9.975"))],
        prices_include_tax=False,
        tax_codes=codes,
        tax_rates=rates,
        agencies=agencies,
    )
    [new] = plan.to_create
    assert new.payload()["TaxRateDetails"] == [{"TaxRateId": "1"}, {"TaxRateId": "9"}]
    assert plan.agencies_to_create == ()
