"""Query language: parsing (pure) and answers over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from local.qbo_emulator import US_REALM, EmulatorServer, faults, query

from .conftest import Target, sample


def rows(t: Target, q: str, entity: str = "Customer") -> list[dict[str, Any]]:
    resp = t.query(q)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["QueryResponse"].get(entity, []))


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM Customer",
        "select count(*) from Invoice where TxnDate >= '2026-01-01'",
        "SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien' AND Active = true ORDERBY DisplayName DESC "
        "STARTPOSITION 11 MAXRESULTS 10",
        "SELECT Id, DisplayName FROM Customer WHERE Id IN ('1', '2') ORDER BY Id",
        "SELECT * FROM Customer WHERE MetaData.CreateTime > '2026-01-01T00:00:00-08:00'",
    ],
)
def test_parser_accepts(text: str) -> None:
    q = query.parse(text)
    assert q.entity.name in ("Customer", "Invoice")


def test_parser_reads_escapes_and_paging() -> None:
    q = query.parse(
        "SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird' STARTPOSITION 3 MAXRESULTS 5000"
    )
    assert q.where[0].values == ["Amy's Bird"]
    assert (q.start, q.max_results) == (3, 1000)  # capped at 1000


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT * FROM Custmoer", "4001"),
        ("SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'", "4001"),
        ("SELECT * FROM Customer WHERE Nickname = 'x'", "4001"),
        ("SELECT * FROM Customer JOIN Invoice", "4000"),
        ("SELECT * FROM Customer WHERE DisplayName = 'Cutlery 'R Us'", "4000"),
        ("SELECT * FROM Customer WHERE DisplayName = %", "4000"),
        ("", "4000"),
        ("DELETE FROM Customer", "4000"),
    ],
)
def test_parser_rejects(text: str, code: str) -> None:
    with pytest.raises(faults.QboError) as err:
        query.parse(text)
    assert err.value.code == code and err.value.status == 400


def test_apostrophe_display_name_round_trip(us: Target) -> None:
    name = "Amy's Bird Sanctuary"
    us.post("customer", {"DisplayName": name})
    found = rows(us, "SELECT * FROM Customer WHERE DisplayName = 'Amy\\'s Bird Sanctuary'")
    assert [r["DisplayName"] for r in found] == [name]
    like = rows(us, "SELECT * FROM Customer WHERE DisplayName LIKE 'Amy\\'s%'")
    assert len(like) == 1


def test_paging_and_count(emulator: EmulatorServer, us: Target) -> None:
    emulator.control.seed(US_REALM, customers=[{"DisplayName": f"Pager {i:03d}"} for i in range(25)])
    count = us.query("SELECT count(*) FROM Customer").json()
    assert set(count) == {"QueryResponse", "time"} and count["QueryResponse"] == {"totalCount": 25}
    page = us.query("SELECT * FROM Customer ORDERBY DisplayName STARTPOSITION 11 MAXRESULTS 10").json()
    qr = page["QueryResponse"]
    assert qr["startPosition"] == 11 and qr["maxResults"] == 10
    assert [c["DisplayName"] for c in qr["Customer"]] == [f"Pager {i:03d}" for i in range(10, 20)]
    last = rows(us, "SELECT * FROM Customer ORDERBY DisplayName DESC STARTPOSITION 1 MAXRESULTS 2")
    assert [c["DisplayName"] for c in last] == ["Pager 024", "Pager 023"]
    empty = us.query("SELECT * FROM Customer STARTPOSITION 100").json()
    assert empty["QueryResponse"] == {}


def test_filters_on_nested_email_active_and_dates(emulator: EmulatorServer, us: Target) -> None:
    emulator.control.seed(
        US_REALM,
        customers=[
            {
                "DisplayName": "Old",
                "PrimaryEmailAddr": {"Address": "old@example.com"},
                "MetaData": {"CreateTime": "2026-01-05T10:00:00-08:00"},
            },
            {
                "DisplayName": "New",
                "PrimaryEmailAddr": {"Address": "New@Example.com"},
                "MetaData": {"CreateTime": "2026-02-05T10:00:00-08:00"},
            },
            {"DisplayName": "Gone", "Active": False},
        ],
    )
    assert [
        c["DisplayName"]
        for c in rows(us, "SELECT * FROM Customer WHERE PrimaryEmailAddr = 'new@example.com'")
    ] == ["New"]
    after = rows(
        us,
        "SELECT * FROM Customer WHERE MetaData.CreateTime >= '2026-02-01T00:00:00-08:00' "
        "AND MetaData.CreateTime < '2026-03-01'",
    )
    assert [c["DisplayName"] for c in after] == ["New"]
    assert "Gone" not in [c["DisplayName"] for c in rows(us, "SELECT * FROM Customer")]  # inactive hidden
    assert [c["DisplayName"] for c in rows(us, "SELECT * FROM Customer WHERE Active = false")] == ["Gone"]
    both = rows(us, "SELECT * FROM Customer WHERE Active IN (true, false)")
    assert len(both) == 3
    by_id = rows(us, "SELECT * FROM Customer WHERE Id IN ('1', '2', '3')")
    assert sorted(c["Id"] for c in by_id) == ["1", "2"]  # 3 is inactive


def test_invoice_txndate_and_amount_filters(emulator: EmulatorServer, us: Target) -> None:
    cust = emulator.control.seed(US_REALM, customers=[{"DisplayName": "Dated"}])["customers"][0]
    line = {
        "Amount": 10,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }
    emulator.control.seed(
        US_REALM,
        invoices=[
            {"CustomerRef": {"value": cust}, "TxnDate": f"2026-0{m}-15", "Line": [line | {"Amount": 10 * m}]}
            for m in (1, 2, 3)
        ],
    )
    found = rows(us, "SELECT * FROM Invoice WHERE TxnDate >= '2026-02-01' ORDERBY TxnDate", "Invoice")
    assert [i["TxnDate"] for i in found] == ["2026-02-15", "2026-03-15"]
    big = rows(us, "SELECT * FROM Invoice WHERE TotalAmt > '25.00'", "Invoice")
    assert [i["TotalAmt"] for i in big] == [30.0]
    by_customer = rows(us, f"SELECT * FROM Invoice WHERE CustomerRef = '{cust}'", "Invoice")
    assert len(by_customer) == 3


def test_query_response_shape_matches_sample(us: Target) -> None:
    us.post("customer", {"DisplayName": "Shape"})
    body = us.query("SELECT * FROM Customer").json()
    real = sample("query-customer-response.json")
    assert set(body) == set(real)
    assert set(body["QueryResponse"]) == set(real["QueryResponse"])
    mine, theirs = body["QueryResponse"]["Customer"][0], real["QueryResponse"]["Customer"][1]
    for key in (
        "domain",
        "sparse",
        "Id",
        "SyncToken",
        "MetaData",
        "DisplayName",
        "Active",
        "Balance",
        "CurrencyRef",
        "FullyQualifiedName",
        "PrintOnCheckName",
    ):
        assert type(mine[key]) is type(theirs[key]), key


def test_query_by_post_with_text_body(us: Target) -> None:
    resp = us.session.post(
        us.base + "query",
        data="SELECT count(*) FROM Item",
        timeout=10,
        headers=us.headers() | {"Content-Type": "application/text"},
    )
    assert resp.json()["QueryResponse"] == {"totalCount": 1}


def test_us_taxcode_query_lists_pseudo_codes_first(us: Target) -> None:
    codes = rows(us, "SELECT * FROM TaxCode", "TaxCode")
    assert [c["Id"] for c in codes[:3]] == ["TAX", "NON", "CustomSalesTax"]
    assert "SyncToken" not in codes[0]  # as in taxcode-query-response.json
