"""Voids as Intuit documents them: ``invoice?operation=void`` and, for Payment and SalesReceipt,
``?operation=update&include=void`` with a sparse ``{Id, SyncToken, sparse: true}`` body."""

from __future__ import annotations

from typing import Any

from local.qbo_emulator import US_REALM, EmulatorServer

from .conftest import Target, sample
from .test_totals import customer, invoice, line


def _pay(us: Target, cust: str, invoice_id: str, amount: float) -> dict[str, Any]:
    resp = us.post(
        "payment",
        {
            "CustomerRef": {"value": cust},
            "TotalAmt": amount,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
        },
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["Payment"])


def _void_by_update(us: Target, entity: str, obj: dict[str, Any]) -> Any:
    body = {"Id": obj["Id"], "SyncToken": obj["SyncToken"], "sparse": True}
    return us.post(entity, body, operation="update", include="void")


def test_payment_void_by_update_zeroes_it_and_gives_the_invoice_balance_back(
    emulator: EmulatorServer, us: Target
) -> None:
    cust = customer(us)
    inv = invoice(us, [line(2, 50, "NON")], cust=cust)  # 100.00
    payment = _pay(us, cust, inv["Id"], 40)
    paid = us.get(f"invoice/{inv['Id']}").json()["Invoice"]
    assert paid["Balance"] == 60.0 and paid["SyncToken"] == "1"

    resp = _void_by_update(us, "payment", payment)

    assert resp.status_code == 200, resp.text
    voided = resp.json()["Payment"]
    real = sample("payment-void-response.json")["Payment"]
    assert voided["PrivateNote"] == real["PrivateNote"] == "Voided"
    assert (voided["TotalAmt"], voided["UnappliedAmt"], voided["Line"]) == (0, 0, []) == (
        real["TotalAmt"], real["UnappliedAmt"], real["Line"]
    )
    assert voided["SyncToken"] == str(int(payment["SyncToken"]) + 1)
    assert voided["sparse"] is False and voided["Id"] == payment["Id"]
    after = us.get(f"invoice/{inv['Id']}").json()["Invoice"]
    assert after["Balance"] == 100.0
    assert after["SyncToken"] == "2"  # bumped again by the void
    assert {"TxnId": payment["Id"], "TxnType": "Payment"} not in after["LinkedTxn"]
    assert us.get(f"customer/{cust}").json()["Customer"]["Balance"] == 100.0
    # the voided payment is still there (a void is not a delete)
    assert us.get(f"payment/{payment['Id']}").json()["Payment"]["PrivateNote"] == "Voided"
    log = emulator.control.requests(realm=US_REALM, endpoint="POST payment")
    assert [e["status"] for e in log] == [200, 200]


def test_sales_receipt_void_by_update(us: Target) -> None:
    body = {"CustomerRef": {"value": customer(us)}, "Line": [line(2, "12.50", "NON")]}
    resp = us.post("salesreceipt", body)
    receipt = resp.json()["SalesReceipt"]
    assert receipt["TotalAmt"] == 25.0

    void = _void_by_update(us, "salesreceipt", receipt)

    assert void.status_code == 200, void.text
    voided = void.json()["SalesReceipt"]
    assert voided["PrivateNote"] == "Voided" and voided["SyncToken"] == "1"
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert [ln["Amount"] for ln in voided["Line"]] == [0, 0]  # the sales line and the SubTotalLine
    assert voided["TxnTaxDetail"] == {"TotalTax": 0}
    assert us.get(f"salesreceipt/{receipt['Id']}").json()["SalesReceipt"]["PrivateNote"] == "Voided"


def test_void_by_update_checks_synctoken_sparse_and_entity(us: Target) -> None:
    cust = customer(us)
    inv = invoice(us, [line(1, 30, "NON")], cust=cust)
    payment = _pay(us, cust, inv["Id"], 30)

    stale = us.post("payment", {"Id": payment["Id"], "SyncToken": "7", "sparse": True},
                    operation="update", include="void")
    assert stale.status_code == 400 and stale.json()["Fault"]["Error"][0]["code"] == "5010"
    full = us.post("payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
                   operation="update", include="void")
    assert full.status_code == 400 and full.json()["Fault"]["Error"][0]["code"] == "2020"
    # an invoice is voided with operation=void, not include=void
    wrong = _void_by_update(us, "invoice", us.get(f"invoice/{inv['Id']}").json()["Invoice"])
    assert wrong.status_code == 400 and wrong.json()["Fault"]["Error"][0]["code"] == "500"
    # none of these wrote anything
    assert us.get(f"payment/{payment['Id']}").json()["Payment"]["TotalAmt"] == 30.0
    assert us.get(f"invoice/{inv['Id']}").json()["Invoice"]["Balance"] == 0


def test_invoice_operation_void_still_works(us: Target) -> None:
    inv = invoice(us, [line(1, 30, "NON")])
    void = us.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void")
    assert void.status_code == 200
    assert void.json()["Invoice"]["PrivateNote"] == "Voided" and void.json()["Invoice"]["TotalAmt"] == 0
