"""Sales forms as documents: ``GET <entity>/<id>/pdf`` and ``POST <entity>/<id>/send`` (issue 20, third
round: node-quickbooks' sandbox test creates a SalesReceipt, sends it and fetches its PDF).

Sources: **D** = Intuit's Invoice, SalesReceipt, Estimate, CreditMemo, RefundReceipt and PurchaseOrder
references ("Get ... as PDF": ``GET /v3/company/<realm>/<entity>/<id>/pdf`` answers the form as
``application/pdf``; "Send ...": ``POST .../<id>/send?sendTo=<email>`` e-mails the form and answers the
object with ``EmailStatus`` "EmailSent" and ``DeliveryInfo`` ``{DeliveryType: "Email", DeliveryTime}``,
to ``sendTo`` when given — which also becomes the ``BillEmail`` — else to the object's ``BillEmail``),
**E** = the emulator's guess.
- The PDF is a minimal valid one-page PDF naming the entity, its ``DocNumber`` and ``TotalAmt`` (E: the
  layout of Intuit's forms is not modelled). Nothing is e-mailed (nothing leaves the machine).
- Send with neither ``sendTo`` nor a ``BillEmail`` → 2020 for ``BillEmail`` (E: Intuit's fault is not
  captured); a ``sendTo`` without ``@`` → 2050 (E). Send bumps SyncToken and LastUpdatedTime (E).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import faults
from .timefmt import fmt_time

if TYPE_CHECKING:
    from .entities import Books

FORMS = ("Invoice", "SalesReceipt", "Estimate", "CreditMemo", "RefundReceipt", "PurchaseOrder")


def _escape(text: str) -> str:
    return "".join(c for c in text if 32 <= ord(c) < 127).replace("\\", "\\\\").replace("(", "\\(").replace(
        ")", "\\)"
    )


def pdf(entity: str, data: dict[str, Any]) -> bytes:
    """One page with the form's name, number and total (a valid PDF 1.4 with its xref table)."""
    line = f"{entity} {data.get('DocNumber') or data.get('Id')} total {data.get('TotalAmt', '')}"
    stream = f"BT /F1 14 Tf 72 720 Td ({_escape(line)}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def send(books: Books, entity: str, obj_id: str, send_to: str | None) -> dict[str, Any]:
    """Mark the form e-mailed (caller holds the lock); the object to answer."""
    rec = books.get_live(entity, obj_id)
    if send_to is not None and "@" not in send_to:
        raise faults.invalid_value("sendTo", f"Invalid email address: {send_to}")
    bill = rec.data.get("BillEmail")
    address = send_to or (bill.get("Address") if isinstance(bill, dict) else None)
    if not address:
        raise faults.required_param("BillEmail")
    if send_to:
        rec.data["BillEmail"] = {"Address": send_to}
    books.state.touch(books.co, rec)
    rec.data["EmailStatus"] = "EmailSent"
    when = fmt_time(books.co.local(rec.updated))
    rec.data["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": when}
    books._changed(rec, "Update")
    return rec.data
