"""TimeActivity and Attachable (issue 20, second round).

Sources: **D** = Intuit's API reference page of the entity
(https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/<entity>; the entity
definitions are quoted in python-quickbooks 0.9.12 ``quickbooks/objects/<entity>.py``), **I** =
python-quickbooks' ``tests/integration``, written against Intuit's sandbox, **E** = the emulator's guess.
- TimeActivity ("a record of time worked by a vendor or employee", D): ``NameOf`` Employee | Vendor
  required, with ``EmployeeRef`` or ``VendorRef`` to match (D); the time as ``Hours``/``Minutes`` or as
  ``StartTime``/``EndTime`` (D: one of the two is required). From start and end the emulator fills in
  ``Hours``/``Minutes`` less any break (E). ``BillableStatus`` NotBillable by default, ``Taxable`` false
  (D defaults); ``TxnDate`` today by default (E, as every transaction); an optional ``CustomerRef`` and
  ``ItemRef`` are resolved. Deletable (D).
- Attachable, metadata only (D: "In the case of a note, use the create attachable endpoint"): a
  ``Note`` or a ``FileName`` is required (E: what QBO answers for neither is not captured: 2020), each
  ``AttachableRef[].EntityRef`` names an existing object of its ``type`` (invalid reference otherwise,
  E); files come through the upload endpoint (``upload.py``: ``Size`` and ``FileAccessUri``); a
  ``FileName`` sent here has no content. ``Category`` defaults to "Other" (E). Deletable (D).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from . import faults
from .jsonfmt import plain
from .specs import find_spec

if TYPE_CHECKING:
    from .entities import Books
    from .state import Record

ENTITIES = ("TimeActivity", "Attachable")


def create(books: Books, entity: str, body: dict[str, Any], created: datetime | None) -> Record:
    data = _time_activity(books, dict(body)) if entity == "TimeActivity" else _attachable(books, dict(body))
    return books._new_record(entity, data, created)


def update(books: Books, rec: Record, given: dict[str, Any], sparse: bool) -> None:
    merged = books._merge(rec, given, sparse, {}, keep=() if sparse else ("TxnDate",))
    if rec.entity == "TimeActivity":
        rec.data = _time_activity(books, merged)
    else:
        rec.data = _attachable(books, merged)


def _named(books: Books, entity: str, ref: Any) -> dict[str, str]:
    rec = books.resolve_ref(entity, ref)
    return {"value": rec.id, "name": str(rec.data.get("DisplayName") or rec.data.get("Name") or "")}


def _number(data: dict[str, Any], key: str) -> Decimal | None:
    raw = data.get(key)
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise faults.invalid_value(key, f"Invalid number: {raw}") from exc
    if not value.is_finite():
        raise faults.invalid_value(key, f"Invalid number: {raw}")
    if value < 0:
        raise faults.business_validation(f"{key} cannot be negative.")
    return value


def _time_activity(books: Books, data: dict[str, Any]) -> dict[str, Any]:
    name_of = data.get("NameOf")
    if not name_of:
        raise faults.required_param("NameOf")
    if name_of not in ("Employee", "Vendor"):
        raise faults.invalid_value("NameOf", f"Invalid NameOf: {name_of}")
    ref_key = f"{name_of}Ref"
    if not data.get(ref_key):
        raise faults.required_param(ref_key)
    data[ref_key] = _named(books, name_of, data[ref_key])
    data.pop("VendorRef" if name_of == "Employee" else "EmployeeRef", None)
    for key, entity in (("CustomerRef", "Customer"), ("ItemRef", "Item")):
        if data.get(key):
            data[key] = _named(books, entity, data[key])
    for key in ("HourlyRate", "CostRate", "Hours", "Minutes", "BreakHours", "BreakMinutes"):
        value = _number(data, key)
        if value is not None:
            data[key] = plain(value)
    if data.get("StartTime") and data.get("EndTime"):
        try:
            start = datetime.fromisoformat(str(data["StartTime"]))
            end = datetime.fromisoformat(str(data["EndTime"]))
        except ValueError as exc:
            raise faults.invalid_value("StartTime", "Invalid StartTime or EndTime") from exc
        if (start.tzinfo is None) != (end.tzinfo is None):
            raise faults.invalid_value("EndTime", "StartTime and EndTime: both with an offset or neither.")
        breaks = int(data.get("BreakHours") or 0) * 60 + int(data.get("BreakMinutes") or 0)
        minutes = int((end - start).total_seconds() // 60) - breaks
        if minutes < 0:
            raise faults.business_validation("EndTime must be after StartTime.")
        data["Hours"], data["Minutes"] = divmod(minutes, 60)
    elif data.get("Hours") is None and data.get("Minutes") is None:
        raise faults.required_param("Hours")
    data["BillableStatus"] = str(data.get("BillableStatus") or "NotBillable")
    if data["BillableStatus"] not in ("Billable", "NotBillable", "HasBeenBilled"):
        raise faults.invalid_value("BillableStatus", f"Invalid BillableStatus: {data['BillableStatus']}")
    data["Taxable"] = data.get("Taxable") is True
    data["TxnDate"] = books._txn_date(data)
    return data


def _attachable(books: Books, data: dict[str, Any]) -> dict[str, Any]:
    if not data.get("Note") and not data.get("FileName"):
        raise faults.required_param("Note")
    refs = data.get("AttachableRef") or []
    if not isinstance(refs, list):
        raise faults.malformed_body("AttachableRef")
    out = []
    for ref in refs:
        entity_ref = ref.get("EntityRef") if isinstance(ref, dict) else None
        if not isinstance(entity_ref, dict):
            raise faults.required_param("AttachableRef.EntityRef")
        spec = find_spec(str(entity_ref.get("type") or ""))
        if spec is None:
            raise faults.invalid_value(
                "AttachableRef.EntityRef.type", f"Invalid type: {entity_ref.get('type')}"
            )
        target = books.resolve_ref(spec.name, entity_ref, must_be_active=False)
        out.append(dict(ref) | {"EntityRef": {"type": spec.name, "value": target.id}})
    data["AttachableRef"] = out
    data.setdefault("Category", "Other")
    return data
