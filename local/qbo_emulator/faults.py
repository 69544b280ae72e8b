"""Fault bodies in Intuit's shapes (see tests/fixtures/qbo/fault-*.json and throttle-429.xml).

Every builder returns a ``QboError`` that the Flask layer turns into a response. The bodies follow
the captured samples byte-for-byte in structure:
- ValidationFault: ``{"Fault":{"Error":[{"Message","Detail","code"[,"element"]}],"type"},"time"}``
  (6240 has no ``element``; 2030 has ``element: "Id"`` and no ``time``; 610/5010 have ``element: ""``).
- 401: the lower-case ``fault.error[]`` shape with ``type: "AUTHENTICATION"`` and epoch-ms ``time``.
- 429: XML ``Fault type="SERVICE"`` code 3001, whatever the Accept header said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import jsonfmt
from .timefmt import fmt_time_ms

INACTIVE_TEXT = (
    "Something you're trying to use has been made inactive. Check the fields with accounts, "
    "customers, items, vendors or employees."
)


@dataclass
class QboError(Exception):
    """An answer QBO would give instead of the normal one."""

    status: int
    code: str
    message: str
    detail: str
    element: str | None = None
    fault_type: str = "ValidationFault"
    with_time: bool = True
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.code} {self.message}: {self.detail}"

    def error_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Message": self.message, "Detail": self.detail, "code": self.code}
        if self.element is not None:
            entry["element"] = self.element
        return entry

    def fault_object(self) -> dict[str, Any]:
        return {"Error": [self.error_entry()], "type": self.fault_type}

    def body(self, now: datetime) -> dict[str, Any]:
        out: dict[str, Any] = {"Fault": self.fault_object()}
        if self.with_time:
            out["time"] = fmt_time_ms(now)
        return out


def duplicate_name(detail_suffix: str = "null") -> QboError:
    # fault-6240-duplicate-name.json: no element key.
    return QboError(
        400, "6240", "Duplicate Name Exists Error", f"The name supplied already exists. : {detail_suffix}"
    )


def duplicate_tax_rate() -> QboError:
    # fault-6240-taxservice-duplicate-taxrate.json (with element "").
    return QboError(
        400,
        "6240",
        "Duplicate Name Exists Error",
        "The name supplied already exists. : Another tax rate is already using this \n"
        "name. Please use a different name.",
        element="",
    )


def stale_object(user: str = "QuickBooks User") -> QboError:
    # fault-5010-stale.batchitem.json
    return QboError(
        400,
        "5010",
        "Stale Object Error",
        f"Stale Object Error : You and {user} were working on this at the same time. {user} finished "
        "before you did, so your work was not saved.",
        element="",
    )


def object_not_found() -> QboError:
    # fault-610-object-not-found.batchitem.json
    return QboError(400, "610", "Object Not Found", f"Object Not Found : {INACTIVE_TEXT}", element="")


def invalid_reference(entity: str) -> QboError:
    # 2500 is what QBO answers for a reference to an id that does not exist (uncertain wording).
    return QboError(
        400,
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} assigned is invalid or not found",
        element="",
    )


def invalid_id(value: str) -> QboError:
    # fault-2030-invalid-id.json: element "Id", no "time".
    return QboError(
        400,
        "2030",
        "Invalid ID",
        f"Id should be a valid number. Supplied value:{value}",
        element="Id",
        with_time=False,
    )


def unsupported_property(entity: str, prop: str, known: list[str]) -> QboError:
    # fault-2010-unsupported-property.json (Jackson's message, truncated list of known properties).
    shown = ", ".join(f'"{k}"' for k in known[:60])
    more = " [truncated]" if len(known) > 60 else ""
    detail = (
        f'Property Name:Unrecognized field "{prop}" '
        f"(class com.intuit.schema.finance.v3.{entity}), not marked "
        f"as ignorable ({len(known)} known properties: {shown}{more}])\n specified is unsupported or invalid"
    )
    return QboError(400, "2010", "Request has invalid or unsupported property", detail)


def malformed_body(reason: str) -> QboError:
    # A body Jackson cannot parse is reported by QBO with the same 2010 code.
    return QboError(
        400,
        "2010",
        "Request has invalid or unsupported property",
        f"Property Name:{reason}\n specified is unsupported or invalid",
    )


def json_parse_error() -> QboError:
    # A body that is not JSON at all: the fault QBO answered in intuit/QuickBooks-V3-DotNET-SDK#376
    # (2026), code 2010 without an ``element``.
    return QboError(
        400,
        "2010",
        "Request has invalid or unsupported property",
        "Property Name:failed to parse json object; a property specified is unsupported or invalid",
    )


def unsupported_operation(relative: str, full_url: str) -> QboError:
    # fault-500-unsupported-operation.json: HTTP 400 with code "500".
    return QboError(
        400,
        "500",
        "Unsupported Operation",
        f"Operation Could not find resource for relative : {relative} "
        f"of full path: {full_url} is not supported.",
    )


def query_parse_error(detail: str) -> QboError:
    # Parser errors: 4000 "Error parsing query" / "QueryParserError: ..." (seen in SDK issues).
    return QboError(400, "4000", "Error parsing query", f"QueryParserError: {detail}")


def query_validation_error(detail: str) -> QboError:
    # fault-4001-invalid-query.json
    return QboError(400, "4001", "Invalid query", f"QueryValidationError: {detail}")


def business_validation(detail: str) -> QboError:
    # 6000 as in fault-6000-tax.xml / fault-6000-gst-hst.activepieces-raw.txt.
    return QboError(
        400,
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element="",
    )


def required_param(name: str) -> QboError:
    return QboError(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element=name,
    )


def invalid_value(name: str, detail: str) -> QboError:
    return QboError(400, "2050", "Invalid String", detail, element=name)


def payment_customer_mismatch() -> QboError:
    # 620 for a payment applied to an invoice of another customer (docs/qbo-facts.md; wording not captured).
    return QboError(
        400,
        "620",
        "Transaction Not Found",
        "Transaction Not Found : The transaction linked to this payment does not belong to the customer "
        "of the payment.",
        element="",
    )


def authorization_failed() -> QboError:
    # A valid token used for a company it was not granted for.
    return QboError(
        403,
        "3100",
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "",
        fault_type="AuthorizationFault",
    )


def system_fault(detail: str = "An application error has occurred while processing your request") -> QboError:
    return QboError(
        500,
        "10000",
        "An application error has occurred while processing your request",
        f"System Failure Error: {detail}",
        fault_type="SystemFault",
    )


def service_unavailable() -> QboError:
    return QboError(
        503,
        "10000",
        "Service Unavailable",
        "System Failure Error: Service is unavailable, try again later",
        fault_type="SystemFault",
    )


def auth_fault_body(detail: str, now: datetime) -> dict[str, Any]:
    """fault-401-3200.json, key for key."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(now.timestamp() * 1000),
        "status": None,
        "cdcresponse": [],
    }


WWW_AUTHENTICATE = 'Bearer realm="Intuit", error="invalid_token"'


def throttle_xml(now: datetime, status: int = 429) -> str:
    """throttle-429.xml with the current time."""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<IntuitResponse time="{fmt_time_ms(now)}" xmlns="http://schema.intuit.com/finance/v3">\n'
        '  <Fault type="SERVICE">\n'
        '    <Error code="3001">\n'
        f"      <Message>message=ThrottleExceeded; errorCode=003001; statusCode={status}</Message>\n"
        "      <Detail>The request limit was reached.  Try again later</Detail>\n"
        "    </Error>\n"
        "  </Fault>\n"
        "</IntuitResponse>\n"
    )


def dumps(body: Any) -> str:
    return jsonfmt.dumps(body)
