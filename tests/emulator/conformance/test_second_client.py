"""Conformance: what a second client's sandbox tests need (issue 20, third round: node-quickbooks 2.0.50's
own tests, run unchanged against the emulator; local/qbo_emulator/THIRD_PARTY.md), and the Attachable
file upload python-quickbooks' sandbox test_create_file sends.

Sources: NQ = node-quickbooks 2.0.50 test/index.js (mcohen01/node-quickbooks, written against Intuit's
sandbox: what it sends and what it expects back); D-sr = Intuit's SalesReceipt reference, whose "Create a
salesreceipt" sample body has Line only; D-q = Intuit's Budget / JournalEntry / VendorCredit references
(each lists Query); D-up = Intuit's Attachable reference, "Upload attachments" (multipart
file_metadata_NN + file_content_NN, answered by an AttachableResponse); PQ = python-quickbooks 0.9.12
client.make_request (the multipart body it sends, content base64) and tests/integration/test_attachable.py.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.emulator.conformance.test_sandbox_company import sandbox_co  # noqa: F401  (fixture)
from tests.emulator.conftest import Target


def _ok(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_sales_receipt_without_a_customer(target: Target) -> None:
    """NQ 'should create a new SalesReceipt' (exact body: no CustomerRef, no ItemRef, a 2 % discount)
    + D-sr: created, no Fault; the discount is 2 % of 14."""
    body = {"DocNumber": "1044", "TxnDate": "2014-08-04", "PrivateNote": "Memo for SalesReceipt",
            "CustomerMemo": {"value": "my message"}, "Line": [
                {"Description": "Line description", "Amount": 14, "DetailType": "SalesItemLineDetail",
                 "SalesItemLineDetail": {"ServiceDate": "2014-08-14", "UnitPrice": 14, "Qty": 1,
                                         "TaxCodeRef": {"value": "TAX"}}},
                {"Amount": 0.28, "DetailType": "DiscountLineDetail",
                 "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 2}}]}
    if target.country != "US":
        body["Line"][0]["SalesItemLineDetail"].pop("TaxCodeRef")
    made = _ok(target.post("salesreceipt", body))["SalesReceipt"]
    read = _ok(target.get(f"salesreceipt/{made['Id']}"))["SalesReceipt"]
    assert read["DocNumber"] == "1044" and "CustomerRef" not in read
    discount = [ln for ln in read["Line"] if ln["DetailType"] == "DiscountLineDetail"]
    assert float(discount[0]["Amount"]) == 0.28


def test_sandbox_chart_of_accounts_has_travel(sandbox_co: Target) -> None:  # noqa: F811
    """NQ 'should fetch Accounts' (more than 20), 'should fetch Expense Accounts by AccountType' (fewer
    than 20, all Expense), 'should fetch the Travel Account' (exactly one, an Expense account)."""
    def rows(q: str) -> list[dict[str, Any]]:
        return list(_ok(sandbox_co.query(q))["QueryResponse"].get("Account", []))

    assert len(rows("select * from account")) > 20
    expense = rows("select * from account where AccountType = 'Expense'")
    assert 0 < len(expense) < 20 and {a["AccountType"] for a in expense} == {"Expense"}
    travel = rows("select * from account where Name = 'Travel'")
    assert [a["AccountType"] for a in travel] == ["Expense"]


def test_budget_journal_entry_and_vendor_credit_are_queryable(sandbox_co: Target) -> None:  # noqa: F811
    """NQ 'should fetch Budget / JournalEntry / VendorCredit' + D-q: a QueryResponse, no Fault."""
    for entity in ("Budget", "JournalEntry", "VendorCredit"):
        out = _ok(sandbox_co.query(f"select * from {entity}"))
        assert isinstance(out["QueryResponse"], dict) and "Fault" not in out


def _upload(target: Target, body: bytes, boundary: str) -> Any:
    headers = target.headers() | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return target.session.post(target.base + "upload", params={"minorversion": "75"}, data=body,
                               headers=headers, timeout=30)


def test_upload_a_file_as_python_quickbooks_sends_it(target: Target) -> None:
    """PQ test_create_file + D-up: metadata (AttachableRef to a vendor, FileName, ContentType) and the
    content base64 with Content-Transfer-Encoding, LF line ends; answer AttachableResponse[0].Attachable
    with the file's name, type and decoded size, readable by Id with its AttachableRef."""
    vendor = _ok(target.post("vendor", {"DisplayName": target.unique("Vendor")}))["Vendor"]
    meta = {"AttachableRef": [{"EntityRef": {"type": "Vendor", "value": vendor["Id"]}}],
            "FileName": "tmp_upload.txt", "ContentType": "text/plain"}
    content = b"hello, attachment\n"
    b = "-------------PythonMultipartPost"
    body = (f"\n--{b}\nContent-Disposition: form-data; name=\"file_metadata_01\"\n"
            f"Content-Type: application/json\n\n{json.dumps(meta)}\n\n--{b}\n"
            f"Content-Disposition: form-data; name=\"file_content_01\"\nContent-Type: text/plain\n"
            f"Content-Transfer-Encoding: base64\n\n{base64.b64encode(content).decode()}\n\n--{b}--\n")
    out = _ok(_upload(target, body.encode(), b))
    att = out["AttachableResponse"][0]["Attachable"]
    got = (att["FileName"], att["ContentType"], int(att["Size"]))
    assert got == ("tmp_upload.txt", "text/plain", len(content))
    read = _ok(target.get(f"attachable/{att['Id']}"))["Attachable"]
    assert read["AttachableRef"][0]["EntityRef"]["value"] == vendor["Id"]
    assert read["FileAccessUri"].endswith(f"/download/{att['Id']}")


def test_upload_binary_file_with_filename_and_no_metadata_part(target: Target) -> None:
    """D-up: a file part with a filename (raw bytes, CRLF) and no metadata part is stored unlinked, its
    name and type from the part; two files answer two entries in suffix order. E: no file part → 400."""
    b = "XyZBoundary"
    png = bytes(range(256))
    body = b"".join([
        f"--{b}\r\nContent-Disposition: form-data; name=\"file_content_02\"; filename=\"b.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n".encode(), png, b"\r\n",
        f"--{b}\r\nContent-Disposition: form-data; name=\"file_content_01\"; filename=\"a.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\nabc\r\n--{b}--\r\n".encode()])
    out = _ok(_upload(target, body, b))["AttachableResponse"]
    got = [(a["FileName"], a["ContentType"], int(a["Size"])) for a in (e["Attachable"] for e in out)]
    assert got == [("a.txt", "text/plain", 3), ("b.bin", "application/octet-stream", 256)]
    empty = _upload(target, f"--{b}--\r\n".encode(), b)
    assert empty.status_code == 400 and "Fault" in empty.json()


def test_sales_receipt_as_pdf_and_sent(target: Target) -> None:
    """NQ 'should create a new SalesReceipt' then sends it and writes its PDF + D (SalesReceipt / Invoice
    references, "Get as PDF", "Send"): the PDF is application/pdf; send?sendTo= answers the object with
    EmailStatus EmailSent, DeliveryInfo Email and that BillEmail. E: nobody to send to → 400."""
    line = {"Amount": 14, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"UnitPrice": 14, "Qty": 1, "TaxCodeRef": {"value": "TAX"}}}
    made = _ok(target.post("salesreceipt", {"DocNumber": "1044", "Line": [line]}))["SalesReceipt"]
    r = target.session.get(target.base + f"salesreceipt/{made['Id']}/pdf", params={"minorversion": "75"},
                           headers=target.headers() | {"Accept": "application/pdf"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/pdf")
    assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    assert target.post(f"salesreceipt/{made['Id']}/send", None).status_code == 400
    to = "buyer@example.com"
    sent = _ok(target.post(f"salesreceipt/{made['Id']}/send", None, sendTo=to))["SalesReceipt"]
    assert sent["EmailStatus"] == "EmailSent" and sent["DeliveryInfo"]["DeliveryType"] == "Email"
    assert sent["BillEmail"]["Address"] == to
    assert int(sent["SyncToken"]) == int(made["SyncToken"]) + 1
