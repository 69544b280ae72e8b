"""Typed QuickBooks Online faults, parsed from whatever QBO (or a proxy in front of it) answered.

QBO answers a failed call in several shapes: the JSON ``{"Fault": {"Error": [...], "type": ...}}``,
the lower-case 401 ``{"fault": {"error": [...], "type": "AUTHENTICATION"}}``, XML
``<IntuitResponse><Fault>`` (throttling answers XML even when JSON was asked), a ``Fault`` inside a
batch item, and non-QBO bodies (an HTML page from a proxy, nothing at all). :func:`parse_fault`
turns every one of them into one of the exception classes below; it never raises itself.

``retryable`` tells the caller whether the same work may succeed later without anybody changing
anything (let the queue redeliver) or is permanent (sync log + dead-letter queue with
:meth:`QboError.explain`). The client's own HTTP retry loop only replays the identical request for
:class:`QboThrottled`, :class:`QboServerError` and :class:`QboUnavailable` (see ``transient``).
"""

from __future__ import annotations

import html
import json
import re
import time
import xml.etree.ElementTree as ET  # only parsed after refusing DTDs, see _parse_xml
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

_MAX_TEXT = 600  # QBO details can be kilobytes (2010 lists 83 field names); keep logs and the UI readable


@dataclass(frozen=True)
class FaultDetail:
    """One ``Error`` entry of a fault (QBO may send several)."""

    code: str | None
    message: str | None
    detail: str | None
    element: str | None


class QboError(Exception):
    """A failed QBO call. Subclasses say what kind; attributes keep what QBO said."""

    retryable: ClassVar[bool] = False
    """The same work may succeed later without anyone changing anything."""
    transient: ClassVar[bool] = False
    """Replaying the identical HTTP request may succeed (the client's own retry loop)."""

    def __init__(
        self,
        *,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        fault_type: str | None = None,
        errors: tuple[FaultDetail, ...] = (),
        b_id: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.intuit_tid = intuit_tid
        self.fault_type = fault_type
        self.errors = errors
        self.b_id = b_id
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [type(self).__name__]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        text = ": ".join(p for p in (self.message, self.detail) if p)
        if text:
            parts.append(text)
        if self.element:
            parts.append(f"element {self.element}")
        if self.intuit_tid:
            parts.append(f"intuit_tid {self.intuit_tid}")
        return " | ".join(parts)

    def qbo_said(self) -> str:
        """QBO's own words (message and detail), or an empty string when it said nothing useful."""
        message, detail = self.message or "", self.detail or ""
        if detail and message and detail.startswith(message):
            return detail  # 5010 and 610 details repeat the message as a prefix
        return ": ".join(p for p in (message, detail) if p)

    def _said_sentence(self) -> str:
        said = self.qbo_said()
        return f' QuickBooks said: "{said}".' if said else ""

    def _reference(self) -> str:
        return f" (Intuit reference {self.intuit_tid})" if self.intuit_tid else ""

    def explain(self) -> str:
        """A sentence a bookkeeper can act on: what happened, what QBO said, what to do."""
        status = f" (HTTP {self.status})" if self.status else ""
        return (
            f"QuickBooks rejected the request{status}.{self._said_sentence()} If this keeps happening, "
            f"contact support with the reference below.{self._reference()}"
        )

    def to_log(self) -> dict[str, Any]:
        """Structured fields for the logger and the sync log (no secrets: details are redacted)."""
        return {
            "error_class": type(self).__name__,
            "status": self.status,
            "code": self.code,
            "fault_message": self.message,  # not "message": that key belongs to the log record
            "fault_detail": self.detail,
            "element": self.element,
            "intuit_tid": self.intuit_tid,
            "retryable": self.retryable,
        }


class QboValidationError(QboError):
    """QBO refused the data (ValidationFault): permanent until someone changes the data."""

    def explain(self) -> str:
        field = f" The field concerned is {self.element}." if self.element else ""
        return (
            f"QuickBooks refused the data we sent.{self._said_sentence()}{field} Correct the record in "
            f"Kyrios (or the referenced record in QuickBooks) and send it again.{self._reference()}"
        )


class QboDuplicateName(QboValidationError):
    """6240: the name is already used by a customer, vendor or employee (possibly inactive)."""

    def explain(self) -> str:
        return (
            "QuickBooks refused the name because another customer, vendor or employee already uses it "
            "(inactive ones count too)." + self._said_sentence() + " Rename or merge the existing record "
            "in QuickBooks, or change the name in Kyrios, then sync again." + self._reference()
        )


class QboStaleObject(QboValidationError):
    """5010: someone changed the object since we read it (stale SyncToken). Re-read and re-apply."""

    retryable = True

    def explain(self) -> str:
        return (
            "The record was changed in QuickBooks while we were saving it, so QuickBooks kept the other "
            "change." + self._said_sentence() + " The sync re-reads the record and tries again by itself; "
            "nothing to do unless this message keeps coming back." + self._reference()
        )


class QboNotFound(QboValidationError):
    """610: the object, or one it refers to, does not exist or was made inactive."""

    def explain(self) -> str:
        return (
            "QuickBooks could not find a record this one refers to: it was deleted or made inactive."
            + self._said_sentence()
            + " Check the customer, product/service and account used, reactivate it in QuickBooks if "
            "needed, then sync again." + self._reference()
        )


class QboTaxError(QboValidationError):
    """6000 business validation, almost always a missing or invalid tax code outside the US."""

    def explain(self) -> str:
        return (
            "QuickBooks could not work out the tax for this transaction." + self._said_sentence()
            + " Make sure every line has a tax rate in Kyrios and that the rate exists in QuickBooks "
            "(Taxes settings), then sync again." + self._reference()
        )


class QboThrottled(QboError):
    """429 / 3001 ThrottleExceeded (formerly also HTTP 403): too many requests for this company."""

    retryable = True
    transient = True

    def __init__(self, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(**kwargs)

    def explain(self) -> str:
        wait = f" in about {round(self.retry_after)} seconds" if self.retry_after else " shortly"
        return (
            "QuickBooks asked us to slow down: too many requests for this company in a short time. "
            f"The sync retries by itself{wait}; nothing to do." + self._reference()
        )


class QboAuthError(QboError):
    """401 / 3200 (token expired or revoked) after one refresh, or 403 authorization failures."""

    def explain(self) -> str:
        return (
            "QuickBooks no longer accepts this connection (access expired or was revoked)."
            + self._said_sentence()
            + " Reconnect QuickBooks in Kyrios settings; pending changes are kept and sent after "
            "reconnecting." + self._reference()
        )


class QboServerError(QboError):
    """5xx or SystemFault: a problem on Intuit's side."""

    retryable = True
    transient = True

    def explain(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return (
            f"QuickBooks had an internal problem{status}.{self._said_sentence()} The sync retries by "
            "itself; if it keeps failing, check status.developer.intuit.com." + self._reference()
        )


class QboUnavailable(QboError):
    """QBO could not be reached or did not answer in time (timeout, connection reset)."""

    retryable = True
    transient = True

    def explain(self) -> str:
        return (
            "QuickBooks could not be reached or did not answer in time"
            + (f" ({self.detail})" if self.detail else "")
            + ". The sync retries by itself; nothing to do."
        )


class QboCurrencyError(QboTaxError):
    """6000 business validation about currency: multi-currency is off, or the transaction's currency is
    not its customer's. The company's currency preferences are read again before the next push."""

    def explain(self) -> str:
        return (
            "QuickBooks refused the currency of this transaction." + self._said_sentence()
            + " Turn on multi-currency in QuickBooks (Account and settings → Advanced → Currency) to bill "
            "in other currencies, or bill in the company's home currency, then send it again."
            + self._reference()
        )


# --- parsing -----------------------------------------------------------------------------------------

_THROTTLE_CODES = frozenset({"3001", "003001"})
_AUTH_CODES = frozenset({"3200", "003200", "3100", "003100"})
_BY_CODE: dict[str, type[QboError]] = {
    "6240": QboDuplicateName,
    "5010": QboStaleObject,
    "610": QboNotFound,
    "6000": QboTaxError,
}
# A token fragment QBO echoes in 3200 details ("Token expired: AB0160…"): never keep it.
_TOKEN_ECHO = re.compile(r"(?i)\b(token[a-z ]*:\s*)\S+")
_TAGS = re.compile(r"<[^>]+>")


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = _TOKEN_ECHO.sub(r"\1[redacted]", text.strip())
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return text or None


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup treating ``-`` and ``_`` alike (``intuit_tid`` / ``Intuit-Tid``)."""
    if not headers or not isinstance(headers, Mapping):
        return None
    wanted = name.lower().replace("_", "-")
    for key, value in headers.items():
        if str(key).lower().replace("_", "-") == wanted:
            return str(value)
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def _errors_from_json_fault(fault: Mapping[str, Any]) -> tuple[FaultDetail, ...]:
    """Read ``Fault.Error[]`` (capitalised) or ``fault.error[]`` (the 401 shape)."""
    raw = fault.get("Error", fault.get("error"))
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        return ()
    errors = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        errors.append(
            FaultDetail(
                code=_str_or_none(item.get("code", item.get("Code"))),
                message=_clip(_str_or_none(item.get("Message", item.get("message")))),
                detail=_clip(_str_or_none(item.get("Detail", item.get("detail")))),
                element=_str_or_none(item.get("element", item.get("Element"))),
            )
        )
    return tuple(errors)


def _find_fault(value: Any, depth: int = 0) -> Mapping[str, Any] | None:
    """The first ``Fault``/``fault`` object anywhere in a decoded JSON value (wrappers nest it)."""
    if depth > 8:
        return None
    if isinstance(value, Mapping):
        for key in ("Fault", "fault"):
            candidate = value.get(key)
            if isinstance(candidate, Mapping):
                return candidate
        children: list[Any] = list(value.values())
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _find_fault(child, depth + 1)
        if found is not None:
            return found
    return None


def _json_candidates(text: str) -> list[Any]:
    """Decoded JSON values in ``text``: the whole text, a JSON string holding JSON, or embedded objects.

    Logs and wrappers (like the activepieces capture of a 6000 fault) put a QBO fault inside other text,
    sometimes with raw newlines inside strings, which ``strict=False`` tolerates.
    """
    decoder = json.JSONDecoder(strict=False)
    found: list[Any] = []
    stripped = text.strip()
    try:
        whole = decoder.decode(stripped)
    except ValueError:
        whole = None
    if isinstance(whole, str):
        stripped = whole  # a JSON string that itself carries the body
    elif whole is not None:
        return [whole]
    start = stripped.find("{")
    tries = 0
    while start != -1 and tries < 20:
        tries += 1
        try:
            value, end = decoder.raw_decode(stripped, start)
        except ValueError:
            start = stripped.find("{", start + 1)
            continue
        found.append(value)
        start = stripped.find("{", end)
    return found


def _xml_text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext())


def _parse_xml(text: str) -> tuple[str | None, tuple[FaultDetail, ...]] | None:
    """``IntuitResponse/Fault`` → (fault type, errors); tolerant of bodies that are not well-formed."""
    if "<Fault" not in text:
        return None
    # Refuse DTDs outright (no entity expansion tricks); QBO never sends one. Fall back to regexes.
    if "<!DOCTYPE" not in text.upper() and "<!ENTITY" not in text.upper():
        try:
            root = ET.fromstring(text)  # noqa: S314 - DTD-free by the check above
        except ET.ParseError:
            root = None
        if root is not None:
            fault = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Fault"), None)
            if fault is not None:
                errors = []
                for err in fault:
                    if err.tag.rsplit("}", 1)[-1] != "Error":
                        continue
                    children = {child.tag.rsplit("}", 1)[-1]: child for child in err}
                    errors.append(
                        FaultDetail(
                            code=_str_or_none(err.get("code")),
                            message=_clip(_xml_text(children.get("Message"))),
                            detail=_clip(_xml_text(children.get("Detail"))),
                            element=_str_or_none(err.get("element")),
                        )
                    )
                return _str_or_none(fault.get("type")), tuple(errors)
    return _parse_xml_loosely(text)


_XML_FAULT_TYPE = re.compile(r"<Fault\b[^>]*\btype=\"([^\"]*)\"")
_XML_ERROR = re.compile(r"<Error\b([^>]*)>(.*?)</Error>", re.DOTALL)
_XML_ATTR = re.compile(r"\b(code|element)=\"([^\"]*)\"")
_XML_CHILD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL) for name in ("Message", "Detail")}


def _parse_xml_loosely(text: str) -> tuple[str | None, tuple[FaultDetail, ...]] | None:
    fault_type = _XML_FAULT_TYPE.search(text)
    errors = []
    for attrs, inner in _XML_ERROR.findall(text):
        attributes = dict(_XML_ATTR.findall(attrs))
        texts: dict[str, str | None] = {}
        for name, pattern in _XML_CHILD.items():
            match = pattern.search(inner)
            texts[name] = html.unescape(_TAGS.sub("", match.group(1))) if match else None
        errors.append(
            FaultDetail(
                code=_str_or_none(attributes.get("code")),
                message=_clip(texts["Message"]),
                detail=_clip(texts["Detail"]),
                element=_str_or_none(attributes.get("element")),
            )
        )
    if not errors and fault_type is None:
        return None
    return (fault_type.group(1) if fault_type else None), tuple(errors)


def _non_qbo_summary(text: str) -> str | None:
    """A short description of a body that is not a QBO fault (an HTML error page, plain text)."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title:
        return _clip(html.unescape(title.group(1)))
    plain = _TAGS.sub(" ", text)
    plain = " ".join(plain.split())
    return _clip(plain[:200]) if plain else None


def _choose_class(status: int | None, fault_type: str | None, codes: list[str], text: str) -> type[QboError]:
    kind = (fault_type or "").lower()
    if status == 429 or any(c in _THROTTLE_CODES for c in codes) or "throttleexceeded" in text.lower():
        return QboThrottled
    if status == 401 or any(c in _AUTH_CODES for c in codes) or kind.startswith("authentication"):
        return QboAuthError
    if kind == "authorizationfault" or (status == 403 and not codes):
        return QboAuthError
    if (status is not None and status >= 500) or kind == "systemfault":
        return QboServerError
    if status == 408:
        return QboUnavailable
    if "6000" in codes and ("currency" in text.lower() or "multicurrency" in text.lower()):
        return QboCurrencyError
    for code in codes:
        if code in _BY_CODE:
            return _BY_CODE[code]
    if codes or kind.endswith("validationfault") or (status is not None and 400 <= status < 500):
        return QboValidationError
    return QboError


def _decode(body: bytes | str | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace").lstrip("\ufeff")
    return body.lstrip("\ufeff")


def parse_fault(
    status: int | None,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    *,
    now: float | None = None,
) -> QboError:
    """The typed error for a failed QBO answer. Never raises, whatever the body holds."""
    try:
        return _parse_fault(status, body, headers, now)
    except Exception:  # garbage in must never become a crash in the sync path
        tid = header(headers, "intuit_tid")
        return QboError(status=status, message="unreadable error answer", intuit_tid=tid)


def _parse_fault(
    status: int | None, body: bytes | str | None, headers: Mapping[str, str] | None, now: float | None
) -> QboError:
    text = _decode(body)
    tid = header(headers, "intuit_tid")
    fault_type: str | None = None
    errors: tuple[FaultDetail, ...] = ()
    b_id: str | None = None
    parsed = False

    if text.lstrip().startswith("<"):
        xml_result = _parse_xml(text)
        if xml_result is not None:
            fault_type, errors = xml_result
            parsed = True
    if not parsed and text.strip():
        for candidate in _json_candidates(text):
            fault = _find_fault(candidate)
            if fault is not None:
                fault_type = _str_or_none(fault.get("type"))
                errors = _errors_from_json_fault(fault)
                if isinstance(candidate, Mapping):
                    b_id = _str_or_none(candidate.get("bId"))
                parsed = True
                break
    if not parsed and "<Fault" in text:
        xml_result = _parse_xml_loosely(text)
        if xml_result is not None:
            fault_type, errors = xml_result
            parsed = True

    codes = [e.code for e in errors if e.code]
    cls = _choose_class(status, fault_type, codes, text if parsed else "")
    first = _most_relevant(errors)
    if parsed:
        message, detail, code, element = first.message, first.detail, first.code, first.element
    else:
        message = "unexpected answer (not a QuickBooks fault)" if text.strip() else "empty answer"
        detail, code, element = _non_qbo_summary(text), None, None
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": message,
        "detail": detail,
        "element": element,
        "intuit_tid": tid,
        "fault_type": fault_type,
        "errors": errors,
        "b_id": b_id,
    }
    if cls is QboThrottled:
        return QboThrottled(retry_after=parse_retry_after(header(headers, "Retry-After"), now), **kwargs)
    return cls(**kwargs)


def _most_relevant(errors: tuple[FaultDetail, ...]) -> FaultDetail:
    """The error that decides the class (a known code first), else the first one."""
    for err in errors:
        if err.code and (err.code in _BY_CODE or err.code in _THROTTLE_CODES or err.code in _AUTH_CODES):
            return err
    return errors[0] if errors else FaultDetail(None, None, None, None)


def fault_from_batch_item(item: Mapping[str, Any], intuit_tid: str | None = None) -> QboError | None:
    """The typed error of one ``BatchItemResponse`` entry, or None when the item succeeded."""
    fault = item.get("Fault") if isinstance(item, Mapping) else None
    if not isinstance(fault, Mapping):
        return None
    errors = _errors_from_json_fault(fault)
    codes = [e.code for e in errors if e.code]
    fault_type = _str_or_none(fault.get("type"))
    # A batch item has no HTTP status of its own: classify by its codes and type only.
    cls = _choose_class(None, fault_type, codes, "")
    first = _most_relevant(errors)
    kwargs: dict[str, Any] = {
        "code": first.code,
        "message": first.message,
        "detail": first.detail,
        "element": first.element,
        "intuit_tid": intuit_tid,
        "fault_type": fault_type,
        "errors": errors,
        "b_id": _str_or_none(item.get("bId")),
    }
    if cls is QboThrottled:
        return QboThrottled(**kwargs)
    return cls(**kwargs)


def unavailable(exc: BaseException, *, what: str) -> QboUnavailable:
    """A :class:`QboUnavailable` for a transport failure (timeout, reset), without leaking the URL."""
    return QboUnavailable(message=f"{what} failed", detail=type(exc).__name__)
