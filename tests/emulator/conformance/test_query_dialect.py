"""Conformance: QBO's query language (issue 20, "Query dialect").

Each case runs against the emulator and, when QBO_SANDBOX_* is set, a real Intuit sandbox (the
``target`` fixture of tests/emulator/conftest.py). Sources of the expected answers:
- D-query: Intuit, "Data queries" (developer.intuit.com .../explore-the-quickbooks-online-api/data-queries
  and the blog "Deep dive into QuickBooks Online data queries", 2017): LIKE with ``%`` only, no OR,
  ORDERBY, STARTPOSITION/MAXRESULTS, COUNT(*), backslash escapes, keywords in any case.
- I20: issue 20 (a third-party client's unchanged sandbox tests): ``SELECT *, Sku FROM Item`` is
  accepted; TaxCode ignores MAXRESULTS.
"""

from __future__ import annotations

from tests.emulator.conftest import Target


def _make_customers(t: Target, prefix: str, names: list[str]) -> None:
    for name in names:
        r = t.post("customer", {"DisplayName": f"{prefix} {name}"})
        assert r.status_code == 200, r.text


def _names(resp_json: dict, entity: str = "Customer") -> list[str]:
    return [o["DisplayName"] for o in resp_json["QueryResponse"].get(entity, [])]


def test_star_plus_projection_is_accepted_and_returns_full_items(target: Target) -> None:
    """I20: python-quickbooks-style ``SELECT *, Sku FROM Item`` parses; ``*`` returns every property."""
    r = target.query("SELECT *, Sku FROM Item MAXRESULTS 5")
    assert r.status_code == 200, r.text
    items = r.json()["QueryResponse"]["Item"]
    assert items and all("Name" in i and "Type" in i and "SyncToken" in i for i in items)


def test_field_projection_returns_the_listed_fields(target: Target) -> None:
    """D-query response attributes: ``sparse`` is true when not every property is returned.
    (Which extra properties real QBO adds to a projection is not captured: we only assert the
    listed ones are present.)"""
    prefix = target.unique("Proj")
    _make_customers(target, prefix, ["A"])
    r = target.query(f"SELECT Id, DisplayName FROM Customer WHERE DisplayName = '{prefix} A'")
    assert r.status_code == 200, r.text
    [row] = r.json()["QueryResponse"]["Customer"]
    assert row["DisplayName"] == f"{prefix} A" and row["Id"]


def test_keywords_are_case_insensitive(target: Target) -> None:
    """D-query examples use both ``SELECT`` and ``select``; node-quickbooks sends lower case."""
    prefix = target.unique("Case")
    _make_customers(target, prefix, ["A", "B"])
    r = target.query(f"select * from customer where DisplayName like '{prefix}%' orderby DisplayName desc")
    assert r.status_code == 200, r.text
    assert _names(r.json()) == [f"{prefix} B", f"{prefix} A"]


def test_in_like_orderby_and_paging(target: Target) -> None:
    """D-query: IN lists, LIKE with %, ORDERBY ASC/DESC, STARTPOSITION is 1-based, MAXRESULTS pages."""
    prefix = target.unique("Page")
    _make_customers(target, prefix, ["A", "B", "C", "D"])
    base = f"SELECT * FROM Customer WHERE DisplayName LIKE '{prefix}%'"
    r = target.query(f"{base} ORDERBY DisplayName ASC STARTPOSITION 2 MAXRESULTS 2")
    assert r.status_code == 200, r.text
    body = r.json()["QueryResponse"]
    assert _names(r.json()) == [f"{prefix} B", f"{prefix} C"]
    assert body["startPosition"] == 2 and body["maxResults"] == 2
    r = target.query(
        f"SELECT * FROM Customer WHERE DisplayName IN ('{prefix} A', '{prefix} D') ORDER BY DisplayName DESC"
    )
    assert _names(r.json()) == [f"{prefix} D", f"{prefix} A"]
    r = target.query(f"SELECT * FROM Customer WHERE DisplayName LIKE '%{prefix[-8:]} C'")
    assert _names(r.json()) == [f"{prefix} C"]


def test_count_star(target: Target) -> None:
    """D-query: ``SELECT COUNT(*)`` answers ``QueryResponse.totalCount`` only."""
    prefix = target.unique("Count")
    _make_customers(target, prefix, ["A", "B", "C"])
    r = target.query(f"SELECT COUNT(*) FROM Customer WHERE DisplayName LIKE '{prefix}%'")
    assert r.status_code == 200, r.text
    assert r.json()["QueryResponse"] == {"totalCount": 3}


def test_or_is_rejected(target: Target) -> None:
    """D-query: "The OR operation is not supported in WHERE clauses" (4001, fault-4001-invalid-query.json)."""
    r = target.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'")
    assert r.status_code == 400
    assert r.json()["Fault"]["Error"][0]["code"] in ("4000", "4001")


def test_taxcode_ignores_maxresults(target: Target) -> None:
    """I20: QBO returns every TaxCode whatever MAXRESULTS says."""
    every = target.query("SELECT * FROM TaxCode").json()["QueryResponse"]["TaxCode"]
    r = target.query("SELECT * FROM TaxCode MAXRESULTS 1")
    assert r.status_code == 200, r.text
    assert len(r.json()["QueryResponse"]["TaxCode"]) == len(every) > 1
