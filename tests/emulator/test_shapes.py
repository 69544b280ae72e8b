"""The emulator's answers hold the shape of the real payloads in tests/fixtures/qbo."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Target, sample

META_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
RESPONSE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")
# fields of the captured objects that depend on sandbox data we do not model
OPTIONAL = {
    "CustomField",
    "BillAddr",
    "ShipAddr",
    "DefaultTaxCodeRef",
    "ProjectRef",
    "DepositToAccountRef",
    "CustomerMemo",
    "BillEmail",
    "DeliveryInfo",
    "PaymentMethodRef",
    "PaymentRefNum",
    "LegalAddr",
    "CompanyAddr",
    "CustomerCommunicationAddr",
    "EmployerId",
    "PrimaryPhone",
    "TxnTaxCodeRef",
}


def same_shape(mine: dict[str, Any], real: dict[str, Any], optional: set[str] = OPTIONAL) -> None:
    missing = set(real) - set(mine) - optional
    assert not missing, f"missing keys {missing}"
    for key in set(real) & set(mine):
        a, b = mine[key], real[key]
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            assert isinstance(a, (int, float)) and not isinstance(a, bool), key
        else:
            assert type(a) is type(b), f"{key}: {type(a).__name__} != {type(b).__name__}"
    assert META_TIME.match(mine["MetaData"]["CreateTime"]) and META_TIME.match(
        mine["MetaData"]["LastUpdatedTime"]
    )


def envelope(body: dict[str, Any], entity: str, real_file: str) -> dict[str, Any]:
    real = sample(real_file)
    assert set(body) == set(real) == {entity, "time"}
    assert RESPONSE_TIME.match(body["time"])
    return dict(body[entity])


def test_customer(us: Target) -> None:
    body = us.post("customer", {"DisplayName": "Doe5, Jane"}).json()
    mine = envelope(body, "Customer", "customer-create-response.json")
    same_shape(mine, sample("customer-create-response.json")["Customer"])
    assert (mine["domain"], mine["sparse"], mine["SyncToken"]) == ("QBO", False, "0")


def test_customer_full_update_like_sample(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Doe2, Jane"}).json()["Customer"]
    request = sample("customer-update-request.json") | {"Id": cust["Id"], "SyncToken": cust["SyncToken"]}
    body = us.post("customer", request).json()
    mine = envelope(body, "Customer", "customer-update-response.json")
    real = sample("customer-update-response.json")["Customer"]
    same_shape(mine, real)
    assert (mine["DisplayName"], mine["PrintOnCheckName"], mine["SyncToken"]) == ("Jack Moe", "Jack Moe", "1")
    assert mine["PrimaryPhone"] == real["PrimaryPhone"]


def test_invoice(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Amy's Bird Sanctuary"}).json()["Customer"]["Id"]
    request = sample("invoice-create-request.json")
    request["CustomerRef"]["value"] = cust
    body = us.post("invoice", request).json()
    mine = envelope(body, "Invoice", "invoice-create-response.json")
    real = sample("invoice-create-response.json")["Invoice"]
    same_shape(mine, real)
    assert mine["Line"][0].keys() == real["Line"][0].keys()
    assert mine["Line"][1] == real["Line"][1]  # SubTotalLine, 100.00
    assert mine["TxnTaxDetail"] == real["TxnTaxDetail"]
    assert (mine["TotalAmt"], mine["Balance"]) == (real["TotalAmt"], real["Balance"])
    assert mine["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": "NON"}


def test_sales_receipt(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Receipt"}).json()["Customer"]["Id"]
    request = sample("salesreceipt-update-request.json")
    request["Line"][0]["SalesItemLineDetail"]["ItemRef"] = {"value": "1"}  # our company has no item 4
    body = us.post("salesreceipt", {"CustomerRef": {"value": cust}, "Line": request["Line"]}).json()
    mine = envelope(body, "SalesReceipt", "salesreceipt-response.json")
    real = sample("salesreceipt-response.json")["SalesReceipt"]
    same_shape(mine, real)
    assert mine["Line"][0]["Amount"] == real["Line"][0]["Amount"] == 337.5


def test_payment(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Red Rock Diner"}).json()["Customer"]["Id"]
    request = sample("payment-create-request.json") | {"CustomerRef": {"value": cust}}
    body = us.post("payment", request).json()
    mine = envelope(body, "Payment", "payment-create-response.json")
    real = sample("payment-create-response.json")["Payment"]
    same_shape(mine, real)
    assert (mine["UnappliedAmt"], mine["Line"]) == (25.0, [])


@pytest.mark.parametrize(
    ("path", "entity", "real_file"),
    [
        ("companyinfo/{realm}", "CompanyInfo", "companyinfo-response.json"),
        ("taxcode/1", "TaxCode", "taxcode-response.json"),
    ],
)
def test_reference_entities(us: Target, path: str, entity: str, real_file: str) -> None:
    body = us.get(path.format(realm=us.realm)).json()
    mine = envelope(body, entity, real_file)
    same_shape(mine, sample(real_file)[entity])


def test_delete_and_void_payment_shapes(us: Target) -> None:
    cust = us.post("customer", {"DisplayName": "Freeman"}).json()["Customer"]["Id"]
    pay = us.post("payment", {"CustomerRef": {"value": cust}, "TotalAmt": 10}).json()["Payment"]
    void = us.post("payment", {"Id": pay["Id"], "SyncToken": pay["SyncToken"]}, operation="void").json()
    same_shape(void["Payment"], sample("payment-void-response.json")["Payment"])
    gone = us.post(
        "payment", {"Id": pay["Id"], "SyncToken": void["Payment"]["SyncToken"]}, operation="delete"
    ).json()
    assert set(gone["Payment"]) == set(sample("payment-delete-response.json")["Payment"])
