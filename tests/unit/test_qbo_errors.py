"""Every real QBO fault sample parses into the right typed error (samples read in place)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kyrios_qbo.qbo_errors import (
    QboAuthError,
    QboCurrencyError,
    QboDuplicateName,
    QboError,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboTaxError,
    QboThrottled,
    QboUnavailable,
    QboValidationError,
    fault_from_batch_item,
    header,
    parse_fault,
    parse_retry_after,
)
from tests.fixtures import QBO_SAMPLES

EXCHANGES = QBO_SAMPLES / "exchanges"


def sample_bytes(name: str) -> bytes:
    return (QBO_SAMPLES / name).read_bytes()


def exchange_responses(name: str) -> list[tuple[int, dict[str, str], str]]:
    """(status, single-valued headers, body) of each recorded response in an exchanges file."""
    out = []
    for entry in json.loads((EXCHANGES / name).read_text()):
        response = entry["response"]
        headers = {k: v[0] for k, v in response["headers"].items()}
        out.append((response["status"]["code"], headers, response["body"]))
    return out


# --- captured exchanges: real status codes and headers -----------------------------------------------


def test_401_exchange_is_auth_error_with_tid_and_no_token_fragment() -> None:
    [(status, headers, body)] = exchange_responses("qbo_api-error-401.json")
    error = parse_fault(status, body, headers)
    assert type(error) is QboAuthError
    assert error.status == 401
    assert error.code == "3200"
    assert error.fault_type == "AUTHENTICATION"
    assert error.message == "message=AuthenticationFailed; errorCode=003200; statusCode=401"
    assert error.intuit_tid == "1-5f7349e0-0fd2bee86a8a83c67a77fbb2"
    assert error.element is None
    assert error.retryable is False
    # QBO echoes a fragment of the rejected access token in the detail: it must not reach logs.
    assert error.detail == "Token expired: [redacted]"
    assert "AB01601390262" not in str(error) + error.explain() + json.dumps(error.to_log())
    assert "Reconnect QuickBooks" in error.explain()
    assert "1-5f7349e0-0fd2bee86a8a83c67a77fbb2" in error.explain()


def test_6240_exchange_has_no_element() -> None:
    [(status, headers, body)] = exchange_responses("qbo_api-error-validation.json")
    error = parse_fault(status, body, headers)
    assert type(error) is QboDuplicateName
    assert isinstance(error, QboValidationError)
    assert (error.status, error.code, error.element) == (400, "6240", None)
    assert error.message == "Duplicate Name Exists Error"
    assert error.detail == "The name supplied already exists. : null"
    assert error.intuit_tid == "1-5f733d9a-1d4e21aa217ba43177113df4"
    assert error.retryable is False
    explanation = error.explain()
    assert "already uses it" in explanation
    assert "Duplicate Name Exists Error" in explanation


def test_2010_exchange_is_validation_error_with_clipped_detail() -> None:
    [(status, headers, body)] = exchange_responses("qbo_api-error-400_json.json")
    error = parse_fault(status, body, headers)
    assert type(error) is QboValidationError
    assert error.code == "2010"
    assert error.intuit_tid == "1-5f733c5a-55d0ff60812923e8b22c622b"
    assert error.detail is not None and error.detail.startswith('Property Name:Unrecognized field "BadJson"')
    assert len(error.detail) <= 600  # the real detail is ~1.4 kB
    assert "Correct the record" in error.explain()


def test_code_500_with_http_400_is_validation_not_server_error() -> None:
    unsupported, invalid_id = exchange_responses("qbo_api-error-500.json")
    status, headers, body = unsupported
    error = parse_fault(status, body, headers)
    assert type(error) is QboValidationError
    assert (error.status, error.code) == (400, "500")
    assert error.message == "Unsupported Operation"
    assert error.intuit_tid == "1-5f733cd3-284572515eb5f21f8e8afa62"

    status, headers, body = invalid_id
    error = parse_fault(status, body, headers)
    assert type(error) is QboValidationError
    assert (error.code, error.element) == ("2030", "Id")
    assert error.intuit_tid == "1-5f733d63-44139ea355338a7d238f5e99"
    assert "The field concerned is Id." in error.explain()


# --- standalone samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "cls", "code", "element", "message"),
    [
        ("fault-2010-unsupported-property.json", 400, QboValidationError, "2010", None,
         "Request has invalid or unsupported property"),
        ("fault-2030-invalid-id.json", 400, QboValidationError, "2030", "Id", "Invalid ID"),
        ("fault-4001-invalid-query.json", 400, QboValidationError, "4001", None, "Invalid query"),
        ("fault-401-3200.json", 401, QboAuthError, "3200", None,
         "message=AuthenticationFailed; errorCode=003200; statusCode=401"),
        ("fault-500-unsupported-operation.json", 400, QboValidationError, "500", None,
         "Unsupported Operation"),
        ("fault-6240-duplicate-name.json", 400, QboDuplicateName, "6240", None,
         "Duplicate Name Exists Error"),
        ("fault-6240-duplicate-name.xml", 400, QboDuplicateName, "6240", None, "Duplicate Name Exists Error"),
        ("fault-6240-taxservice-duplicate-taxrate.json", 400, QboDuplicateName, "6240", None,
         "Duplicate Name Exists Error"),
        ("fault-6000-tax.xml", 400, QboTaxError, "6000", None,
         "A business validation error has occurred while processing your request"),
        ("throttle-429.xml", 429, QboThrottled, "3001", None,
         "message=ThrottleExceeded; errorCode=003001; statusCode=429"),
        ("throttle-429-production-php-sdk-issue54.xml", 429, QboThrottled, "3001", None,
         "message=ThrottleExceeded; errorCode=003001; statusCode=429"),
        ("throttle-403-legacy.xml", 403, QboThrottled, "3001", None,
         "message=ThrottleExceeded; errorCode=003001; statusCode=403"),
    ],
)
def test_sample_parses_into_class(
    name: str, status: int, cls: type[QboError], code: str, element: str | None, message: str
) -> None:
    error = parse_fault(status, sample_bytes(name), {"intuit_tid": "tid-123"})
    assert type(error) is cls
    assert error.status == status
    assert error.code == code
    assert error.element == element  # "" in a sample means "no element": normalised to None
    assert error.message == message
    assert error.intuit_tid == "tid-123"
    assert error.explain().endswith("(Intuit reference tid-123)") or cls is QboThrottled


def test_xml_throttle_details_and_fault_type() -> None:
    error = parse_fault(429, sample_bytes("throttle-429.xml"), {"Retry-After": "7"})
    assert isinstance(error, QboThrottled)
    assert error.fault_type == "SERVICE"
    assert error.detail == "The request limit was reached.  Try again later"
    assert error.retry_after == 7.0
    assert error.retryable and error.transient
    assert "in about 7 seconds" in error.explain()


def test_legacy_403_throttle_is_not_an_auth_error() -> None:
    error = parse_fault(403, sample_bytes("throttle-403-legacy.xml"), {})
    assert isinstance(error, QboThrottled)
    assert error.retry_after is None
    assert "retries by itself shortly" in error.explain()


def test_6240_xml_detail_keeps_placeholder_text() -> None:
    error = parse_fault(400, sample_bytes("fault-6240-duplicate-name.xml"))
    assert error.detail == (
        "The name supplied already exists. : Another $$customer$$ is already using this name. "
        "Please use a different name."
    )
    assert error.fault_type == "ValidationFault"


def test_malformed_6000_xml_still_yields_tax_error_with_readable_detail() -> None:
    # The SO capture is not well-formed (unescaped & inside an <a>): the loose parser must cope.
    error = parse_fault(400, sample_bytes("fault-6000-tax.xml"), {"intuit_tid": "t"})
    assert isinstance(error, QboTaxError)
    assert error.detail is not None
    assert error.detail.startswith("Business Validation Error: We're sorry, QuickBooks encountered an error")
    assert "<a " not in error.detail
    assert error.detail.endswith("Please click here for more information")
    assert "tax rate" in error.explain()


@pytest.mark.parametrize("detail", [
    "Business Validation Error: The currency of the transaction (EUR) must match the currency of the "
    "customer (GBP).",
    "Business Validation Error: Multicurrency is not turned on for this company; you can only use the "
    "home currency GBP.",
])
def test_6000_about_currency_is_explained_as_currency_not_tax(detail: str) -> None:
    body = json.dumps({"Fault": {"type": "ValidationFault", "Error": [{
        "Message": "A business validation error has occurred while processing your request",
        "Detail": detail, "code": "6000", "element": ""}]}})
    error = parse_fault(400, body.encode())
    assert isinstance(error, QboCurrencyError) and not error.retryable
    assert "currency" in error.explain() and "multi-currency" in error.explain()
    assert "tax rate" not in error.explain()


def test_activepieces_6000_text_yields_tax_error() -> None:
    error = parse_fault(400, sample_bytes("fault-6000-gst-hst.activepieces-raw.txt"))
    assert isinstance(error, QboTaxError)
    assert error.code == "6000"
    assert error.message == "A business validation error has occurred while processing your request"
    assert error.detail is not None and "GST/HST rate" in error.detail
    assert error.fault_type == "ValidationFault"
    assert "GST/HST rate" in error.explain()


def test_401_body_keeps_json_null_element_as_none() -> None:
    error = parse_fault(401, sample_bytes("fault-401-3200.json"))
    assert error.element is None
    assert error.errors[0].code == "3200"


# --- batch items -----------------------------------------------------------------------------------


def test_batch_item_5010() -> None:
    item = json.loads(sample_bytes("fault-5010-stale.batchitem.json"))
    error = fault_from_batch_item(item, intuit_tid="tid-b")
    assert isinstance(error, QboStaleObject)
    assert error.status is None
    assert (error.code, error.element, error.b_id, error.intuit_tid) == ("5010", None, "bid3", "tid-b")
    assert error.retryable is True and error.transient is False
    assert "re-reads the record" in error.explain()
    # The detail repeats the message: say it once.
    assert error.qbo_said().startswith("Stale Object Error : You and Christian Pelczarski")


def test_batch_item_610() -> None:
    item = json.loads(sample_bytes("fault-610-object-not-found.batchitem.json"))
    error = fault_from_batch_item(item)
    assert isinstance(error, QboNotFound)
    assert (error.code, error.b_id) == ("610", "bid2")
    assert "made inactive" in error.explain()
    assert error.retryable is False


def test_batch_response_items() -> None:
    items = json.loads(sample_bytes("batch-response.json"))["BatchItemResponse"]
    results = [fault_from_batch_item(item) for item in items]
    assert results[0] is None
    assert isinstance(results[1], QboNotFound)
    assert isinstance(results[2], QboStaleObject)
    assert results[3] is None


def test_batch_fault_text_parses_through_parse_fault_too() -> None:
    error = parse_fault(400, sample_bytes("fault-5010-stale.batchitem.json"))
    assert isinstance(error, QboStaleObject)
    assert error.b_id == "bid3"


# --- not QBO at all --------------------------------------------------------------------------------


def test_html_from_a_proxy_with_502_is_server_error() -> None:
    body = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    error = parse_fault(502, body, {"Content-Type": "text/html"})
    assert type(error) is QboServerError
    assert error.code is None
    assert error.message == "unexpected answer (not a QuickBooks fault)"
    assert error.detail == "502 Bad Gateway"
    assert error.retryable and error.transient
    assert "internal problem (HTTP 502)" in error.explain()


def test_html_with_404_is_permanent() -> None:
    error = parse_fault(404, "<html><body><h1>Not Found</h1></body></html>")
    assert type(error) is QboValidationError
    assert error.detail == "Not Found"
    assert error.retryable is False


@pytest.mark.parametrize("body", [b"", None, "   "])
def test_empty_body(body: bytes | str | None) -> None:
    error = parse_fault(503, body)
    assert type(error) is QboServerError
    assert error.message == "empty answer"
    assert error.detail is None


def test_empty_body_401_is_auth() -> None:
    assert type(parse_fault(401, b"")) is QboAuthError


def test_empty_body_429_is_throttle_with_retry_after_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    retry_at = format_datetime(now + timedelta(seconds=30), usegmt=True)
    error = parse_fault(429, b"", {"retry-after": retry_at}, now=now.timestamp())
    assert isinstance(error, QboThrottled)
    assert error.retry_after == pytest.approx(30.0)


def test_system_fault_json_is_server_error() -> None:
    body = {"Fault": {"Error": [{"Message": "An application error has occurred", "Detail": "x",
                                 "code": "10000"}], "type": "SystemFault"}}
    error = parse_fault(500, json.dumps(body))
    assert type(error) is QboServerError
    assert error.code == "10000"


def test_multiple_errors_pick_the_known_code() -> None:
    body = {"Fault": {"Error": [{"Message": "Other", "code": "2050"},
                                {"Message": "Stale Object Error", "code": "5010"}],
                      "type": "ValidationFault"}}
    error = parse_fault(400, json.dumps(body))
    assert isinstance(error, QboStaleObject)
    assert error.message == "Stale Object Error"
    assert [e.code for e in error.errors] == ["2050", "5010"]


def test_xml_with_doctype_is_not_expanded() -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]>'
        '<IntuitResponse><Fault type="ValidationFault"><Error code="6240"><Message>&x;</Message>'
        "</Error></Fault></IntuitResponse>"
    )
    error = parse_fault(400, body)
    assert isinstance(error, QboDuplicateName)
    assert error.message != "boom"


# --- helpers ---------------------------------------------------------------------------------------


def test_header_lookup_tolerates_case_and_separator() -> None:
    headers = {"Intuit-Tid": "abc"}
    assert header(headers, "intuit_tid") == "abc"
    assert header({"intuit_tid": "def"}, "Intuit-Tid") == "def"
    assert header(None, "x") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0.5", 0.5), ("-3", 0.0), ("soon", None), ("", None), (None, None), ("nan", None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_unavailable_class_flags() -> None:
    error = QboUnavailable(message="POST Invoice failed", detail="ReadTimeout")
    assert error.retryable and error.transient
    assert "ReadTimeout" in error.explain()


# --- never raises ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    status=st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300)),
    headers=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4),
)
def test_parse_fault_never_raises(status: int | None, body: bytes | str, headers: dict[str, str]) -> None:
    error = parse_fault(status, body, headers)
    assert isinstance(error, QboError)
    assert isinstance(error.explain(), str) and error.explain()


_json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["Fault", "fault", "Error", "error", "code", "Message", "type", "x"]),
                      children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values)
def test_parse_fault_never_raises_on_odd_json(value: Any) -> None:
    error = parse_fault(400, json.dumps(value))
    assert isinstance(error, QboError)
    error.explain()
    if isinstance(value, dict):
        item_error = fault_from_batch_item(value)
        assert item_error is None or isinstance(item_error, QboError)
