"""The documented totals rule (README "Totals rule") on invoices where the rounding choices matter:
an invoice discount spread over several tax rates, tax-inclusive lines, a combined GST+PST code.

Every figure is computed by hand in the comments (half-up to cents); each case is chosen so that a
different remainder rule (e.g. "last tax code takes the remainder") or per-line/per-group tax rounding
would give another cent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from local.qbo_emulator import AU_REALM, CA_REALM, EmulatorServer

from .conftest import Target, realm_target
from .test_totals import D, amt_discount, invoice, line, pct_discount, tax_code


def tax_lines(inv: dict[str, Any]) -> dict[Decimal, tuple[Decimal, Decimal]]:
    """TaxPercent -> (NetAmountTaxable, tax Amount) of the invoice's TaxLines."""
    out: dict[Decimal, tuple[Decimal, Decimal]] = {}
    for tl in inv["TxnTaxDetail"]["TaxLine"]:
        detail = tl["TaxLineDetail"]
        percent = D(detail["TaxPercent"])
        assert percent not in out, "one TaxLine per rate"
        out[percent] = (D(detail["NetAmountTaxable"]), D(tl["Amount"]))
    return out


def discount_amount(inv: dict[str, Any]) -> Decimal:
    return D(next(ln["Amount"] for ln in inv["Line"] if ln["DetailType"] == "DiscountLineDetail"))


def test_gb_percent_discount_over_20_5_and_zero_rated_lines_largest_group_takes_remainder(gb: Target) -> None:
    s, r, z = tax_code(gb, "20.0% S"), tax_code(gb, "5.0% R"), tax_code(gb, "0.0% Z")
    inv = invoice(gb, [line(3, "24.99", s), line(3, "12.49", r), line(1, "9.99", z), pct_discount(10)])
    # subtotal 74.97 + 37.47 + 9.99 = 122.43; D = round(12.243) = 12.24
    # Z: 12.24 × 9.99 / 122.43 = 0.99876 → 1.00; R: 12.24 × 37.47 / 122.43 = 3.74608 → 3.75
    # S (largest) takes the remainder 12.24 − 1.00 − 3.75 = 7.49 (its own rounding would say 7.50)
    # VAT 20 % on 74.97 − 7.49 = 67.48 → 13.496 → 13.50; 5 % on 37.47 − 3.75 = 33.72 → 1.686 → 1.69
    assert D(inv["Line"][3]["Amount"]) == D("122.43")
    assert discount_amount(inv) == D("12.24")
    assert tax_lines(inv) == {
        D(20): (D("67.48"), D("13.50")),
        D(5): (D("33.72"), D("1.69")),
        D(0): (D("8.99"), D(0)),
    }
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("15.19")
    assert D(inv["TotalAmt"]) == D("125.38")  # 122.43 − 12.24 + 15.19
    assert D(inv["Balance"]) == D("125.38")


def test_gb_amount_discount_matches_the_kyrios_sample_invoice(gb: Target) -> None:
    # The lines of events/kyrios-invoice-paid.json as the pusher sends them (line discount already in).
    s, r, z = tax_code(gb, "20.0% S"), tax_code(gb, "5.0% R"), tax_code(gb, "0.0% Z")
    inv = invoice(gb, [line(3, "76.50", s), line(4, "12.50", r), line(1, "9.99", z), amt_discount("10.00")])
    # subtotal 229.50 + 50.00 + 9.99 = 289.49; D = 10.00
    # R: 10 × 50.00 / 289.49 = 1.72717 → 1.73; Z: 10 × 9.99 / 289.49 = 0.34509 → 0.35; S: 10 − 2.08 = 7.92
    # VAT 20 % on 221.58 → 44.316 → 44.32; 5 % on 48.27 → 2.4135 → 2.41
    assert discount_amount(inv) == D("10.00")
    assert tax_lines(inv) == {
        D(20): (D("221.58"), D("44.32")),
        D(5): (D("48.27"), D("2.41")),
        D(0): (D("9.64"), D(0)),
    }
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("46.73")
    assert D(inv["TotalAmt"]) == D("326.22")  # 289.49 − 10.00 + 46.73, the sample's Kyrios total


def test_amount_discount_is_capped_at_the_subtotal(gb: Target) -> None:
    s = tax_code(gb, "20.0% S")
    inv = invoice(gb, [line(2, "15.00", s), amt_discount("45.00")])
    assert discount_amount(inv) == D("30.00")
    assert tax_lines(inv) == {D(20): (D(0), D(0))}
    assert D(inv["TotalAmt"]) == D(0)


def test_au_tax_inclusive_with_percent_discount(emulator: EmulatorServer) -> None:
    au = realm_target(emulator, AU_REALM, "AU")
    gst, free = tax_code(au, "GST"), tax_code(au, "GST free")
    inv = invoice(
        au,
        [line(2, "55.00", gst), line(3, "9.99", gst), line(4, "5.00", free), pct_discount("7.5")],
        GlobalTaxCalculation="TaxInclusive",
    )
    # gross subtotal 110.00 + 29.97 + 20.00 = 159.97; D = round(11.99775) = 12.00
    # GST free: 12 × 20.00 / 159.97 = 1.50028 → 1.50; GST group (largest) 10.50
    # GST group G = 139.97 − 10.50 = 129.47; net = round(129.47 × 100 / 110) = 117.70; tax = 11.77
    # GST free G = 18.50; net = 18.50; tax 0
    sales = [ln for ln in inv["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
    assert [D(ln["SalesItemLineDetail"]["TaxInclusiveAmt"]) for ln in sales] == [
        D("110.00"), D("29.97"), D("20.00")
    ]
    # stored line Amount = round(gross × 100 / (100 + R)): 100.00, 27.24545 → 27.25, 20.00
    assert [D(ln["Amount"]) for ln in sales] == [D("100.00"), D("27.25"), D("20.00")]
    assert discount_amount(inv) == D("12.00")
    assert tax_lines(inv) == {D(10): (D("117.70"), D("11.77")), D(0): (D("18.50"), D(0))}
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("11.77")
    assert D(inv["TotalAmt"]) == D("147.97")  # 159.97 − 12.00: tax never changes an inclusive total


def _combined_gst_pst(ca: Target) -> str:
    """A "GST/PST BC" code sharing the company's GST rate (by TaxRateId) plus a new 7 % PST rate."""
    gst_rate = ca.query("SELECT * FROM TaxRate WHERE Name = 'GST'").json()["QueryResponse"]["TaxRate"][0]
    agency = ca.query("SELECT * FROM TaxAgency").json()["QueryResponse"]["TaxAgency"][0]["Id"]
    resp = ca.post(
        "taxservice/taxcode",
        {
            "TaxCode": "GST/PST BC",
            "TaxRateDetails": [
                {"TaxRateId": gst_rate["Id"], "TaxApplicableOn": "Sales"},
                {"TaxRateName": "PST BC", "RateValue": 7, "TaxAgencyId": agency, "TaxApplicableOn": "Sales"},
            ],
        },
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["TaxCodeId"])


def test_ca_combined_gst_pst_code_rounds_once_per_rate(emulator: EmulatorServer) -> None:
    ca = realm_target(emulator, CA_REALM, "CA")
    combined, gst, zero = _combined_gst_pst(ca), tax_code(ca, "GST"), tax_code(ca, "Zero-rated")
    inv = invoice(
        ca, [line(3, "15.95", combined), line(1, "19.15", gst), line(1, "25.00", zero), pct_discount(10)]
    )
    # subtotal 47.85 + 19.15 + 25.00 = 92.00; D = 9.20
    # zero: 9.20 × 25 / 92 = 2.50; GST only: 9.20 × 19.15 / 92 = 1.915 → 1.92 (half up)
    # GST+PST (largest) takes 9.20 − 4.42 = 4.78
    # GST is one rate across two groups: 43.07 + 17.23 = 60.30 → 3.015 → 3.02 (per group: 2.15 + 0.86 = 3.01)
    # PST on 43.07 → 3.0149 → 3.01
    assert discount_amount(inv) == D("9.20")
    assert tax_lines(inv) == {
        D(5): (D("60.30"), D("3.02")),
        D(7): (D("43.07"), D("3.01")),
        D(0): (D("22.50"), D(0)),
    }
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("6.03")
    assert D(inv["TotalAmt"]) == D("88.83")  # 92.00 − 9.20 + 6.03


def test_ca_combined_code_tax_inclusive_last_rate_takes_the_remainder(emulator: EmulatorServer) -> None:
    ca = realm_target(emulator, CA_REALM, "CA")
    combined = _combined_gst_pst(ca)
    inv = invoice(ca, [line(1, "50.00", combined)], GlobalTaxCalculation="TaxInclusive")
    # R = 12: net = round(50 × 100 / 112) = round(44.642857) = 44.64; tax in the group 5.36
    # GST (first rate by id) round(44.64 × 5 %) = round(2.232) = 2.23; PST takes 5.36 − 2.23 = 3.13
    # (its own rounding, 3.1248 → 3.12, would lose a cent)
    assert tax_lines(inv) == {D(5): (D("44.64"), D("2.23")), D(7): (D("44.64"), D("3.13"))}
    assert D(inv["Line"][0]["Amount"]) == D("44.64")
    assert D(inv["TxnTaxDetail"]["TotalTax"]) == D("5.36")
    assert D(inv["TotalAmt"]) == D("50.00")
