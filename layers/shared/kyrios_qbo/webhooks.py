"""Intuit webhooks: signature check and payload parsing (pure: no AWS, no network).

Intuit signs the exact bytes it POSTs: header ``intuit-signature`` = base64(HMAC-SHA256(body,
verifier token)). Two payload formats exist and both are accepted:

* legacy: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}``;
* CloudEvents (required for apps from 2026): a top-level JSON array of ``{"specversion": "1.0", "id",
  "type": "qbo.customer.created.v1", "time", "intuitentityid", "intuitaccountid", ...}``.

A webhook only tells us *which companies* changed: the poller (CDC) is the source of truth, so a
lost, late, repeated or reordered webhook is harmless. :func:`read_webhook` therefore returns the
realms whose changes matter to us; :mod:`kyrios_qbo.webhook_intake` nudges the poller for each.

Order of checks in :func:`read_webhook`: signature over the raw bytes (:class:`BadSignature`, 401),
then JSON and shape (:class:`MalformedPayload`). The signature comes first so an unauthenticated
caller learns nothing about what we accept. There is no size limit of our own: API Gateway bounds
what it delivers and the signature is the guard. A signed delivery we cannot read is not refused
(Intuit holds back later events until a failed one is acknowledged): :func:`find_realm_ids` recovers
the companies it names with a bounded scan of the raw bytes, and the intake polls those (or all).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_RECOVERED_REALMS = 100
"""An unreadable delivery naming more companies than this is answered with a sweep of all of them."""

RELEVANT_ENTITIES = frozenset({"customer", "invoice", "payment"})
"""Entities whose changes the poller acts on: customers (contacts, email index) and invoices
(paid → review request). A payment changes its invoices' balance, so it counts too. Changes to
anything else (vendors, accounts, classes, ...) do not wake the poller."""

ECHO_ANY_CHANGE = frozenset({"invoice", "payment"})
ECHO_CREATION = frozenset({"customer"})
"""Changes that can be echoes of this bundle's own writes (Intuit notifies those too): any change to an
invoice or payment it wrote (the poller never acts on those), and the creation of a customer it
created (a later update may move the email the index is keyed by, so it still wakes the poller)."""

SIGNATURE_HEADER = "intuit-signature"

# Realm ids are decimal numbers today; accept a little more, bounded so that a realm is always a
# safe SQS message group id and DynamoDB key part.
_REALM = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLOUDEVENT_TYPE = re.compile(r"^qbo\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)(?:\.v\d+)?$")
# A realm named in raw bytes, in either format: "realmId": "123" / "intuitaccountid": 123.
_RAW_REALM = re.compile(
    rb'"(?:realmId|intuitaccountid)"\s*:\s*(?:"\s*([A-Za-z0-9_-]{1,64})\s*"|([0-9]{1,64})(?![0-9A-Za-z_.-]))'
)


class WebhookRejected(Exception):
    """The request is refused; ``status`` is the HTTP answer, ``reason`` safe to return and log."""

    status: int = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BadSignature(WebhookRejected):
    status = 401


class MalformedPayload(WebhookRejected):
    """Signed (when raised by :func:`read_webhook`) but not a notification we can read."""

    status = 400
    raw: bytes = b""


@dataclass(frozen=True)
class EntityChange:
    """One changed object named by a notification (entity lower-cased: ``customer``)."""

    realm_id: str
    entity: str
    entity_id: str | None
    operation: str | None
    occurred_at: str | None


@dataclass(frozen=True)
class WebhookNotification:
    format: Literal["legacy", "cloudevents"]
    changes: tuple[EntityChange, ...]
    realms_without_entities: tuple[str, ...] = ()
    """Legacy notifications that name a realm but list no entities (treated as "something changed")."""

    @property
    def realm_ids(self) -> tuple[str, ...]:
        """Every realm named, in first-seen order."""
        seen = dict.fromkeys([*(c.realm_id for c in self.changes), *self.realms_without_entities])
        return tuple(seen)

    @property
    def realms_to_poll(self) -> tuple[str, ...]:
        """Realms with at least one relevant change (or an unspecific one), in first-seen order."""
        relevant = [c.realm_id for c in self.changes if c.entity in RELEVANT_ENTITIES]
        return tuple(dict.fromkeys([*relevant, *self.realms_without_entities]))


    def echo_candidates(self, realm_id: str) -> dict[str, tuple[str, ...]] | None:
        """The QBO ids, per entity (= id mapping kind), that must all be this bundle's own for the
        realm's relevant changes to be nothing but echoes of its writes; None when some change cannot
        be an echo (or the realm was named without entities): then the company must be polled."""
        if realm_id in self.realms_without_entities:
            return None
        ids: dict[str, dict[str, None]] = {}
        for change in self.changes:
            if change.realm_id != realm_id or change.entity not in RELEVANT_ENTITIES:
                continue
            operation = (change.operation or "").lower()
            echo = change.entity in ECHO_ANY_CHANGE or (
                change.entity in ECHO_CREATION and operation.startswith("create")
            )
            if not echo or not change.entity_id:
                return None
            ids.setdefault(change.entity, {})[change.entity_id] = None
        return {entity: tuple(entity_ids) for entity, entity_ids in ids.items()} or None


# ------------------------------------------------------------------------------------- raw request


def header_value(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A header by name in any case (API Gateway v2 lower-cases them; other callers may not)."""
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The exact bytes Intuit sent. API Gateway base64-encodes bodies it considers binary; a body
    marked so that is not base64 cannot be the bytes Intuit signed (:class:`BadSignature`)."""
    if body is None:
        return b""
    if is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadSignature("body is marked base64-encoded but is not valid base64") from None
    # API Gateway hands text bodies over as str; Intuit sends UTF-8, so this restores its bytes.
    return body.encode("utf-8", "surrogatepass")


def expected_signature(raw: bytes, verifier_token: str) -> str:
    """base64(HMAC-SHA256(raw, verifier token)), as Intuit computes it."""
    digest = hmac.new(verifier_token.encode("utf-8"), raw, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_is_valid(raw: bytes, signature: str | None, verifier_token: str) -> bool:
    """Constant-time comparison of the header with the expected signature."""
    if not signature or not verifier_token:
        return False
    expected = expected_signature(raw, verifier_token).encode("ascii")
    # compare_digest needs equal types; a non-ASCII header can never match, so compare bytes.
    return hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace"))


# ------------------------------------------------------------------------------------- payloads


def _realm(value: Any, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _REALM.match(value.strip()):
        raise MalformedPayload(f"{where}: missing or invalid realm id")
    return value.strip()


def _optional_text(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()[:128]
    return None


def _parse_legacy(payload: Mapping[str, Any]) -> WebhookNotification:
    notifications = payload.get("eventNotifications")
    if not isinstance(notifications, list):
        raise MalformedPayload("eventNotifications must be a list")
    changes: list[EntityChange] = []
    bare_realms: list[str] = []
    for index, notification in enumerate(notifications):
        where = f"eventNotifications[{index}]"
        if not isinstance(notification, Mapping):
            raise MalformedPayload(f"{where} must be an object")
        realm_id = _realm(notification.get("realmId"), where)
        event = notification.get("dataChangeEvent")
        entities = event.get("entities") if isinstance(event, Mapping) else None
        if event is not None and not isinstance(event, Mapping):
            raise MalformedPayload(f"{where}.dataChangeEvent must be an object")
        if entities is None:
            bare_realms.append(realm_id)
            continue
        if not isinstance(entities, list):
            raise MalformedPayload(f"{where}.dataChangeEvent.entities must be a list")
        if not entities:
            bare_realms.append(realm_id)
        for position, entity in enumerate(entities):
            if not isinstance(entity, Mapping) or not isinstance(entity.get("name"), str):
                raise MalformedPayload(f"{where}.dataChangeEvent.entities[{position}] needs a name")
            changes.append(
                EntityChange(
                    realm_id=realm_id,
                    entity=entity["name"].strip().lower(),
                    entity_id=_optional_text(entity.get("id")),
                    operation=_optional_text(entity.get("operation")),
                    occurred_at=_optional_text(entity.get("lastUpdated")),
                )
            )
    return WebhookNotification(
        format="legacy", changes=tuple(changes), realms_without_entities=tuple(bare_realms)
    )


def _parse_cloudevents(events: list[Any]) -> WebhookNotification:
    changes: list[EntityChange] = []
    for index, event in enumerate(events):
        where = f"event[{index}]"
        if not isinstance(event, Mapping):
            raise MalformedPayload(f"{where} must be an object")
        if not isinstance(event.get("specversion"), str):
            raise MalformedPayload(f"{where}: not a CloudEvent (no specversion)")
        event_type = event.get("type")
        match = _CLOUDEVENT_TYPE.match(event_type) if isinstance(event_type, str) else None
        if match is None:
            raise MalformedPayload(f"{where}: type must look like qbo.<entity>.<operation>.v1")
        changes.append(
            EntityChange(
                realm_id=_realm(event.get("intuitaccountid"), where),
                entity=match.group(1).lower(),
                entity_id=_optional_text(event.get("intuitentityid")),
                operation=match.group(2).lower(),
                occurred_at=_optional_text(event.get("time")),
            )
        )
    return WebhookNotification(format="cloudevents", changes=tuple(changes))


def parse_notification(raw: bytes) -> WebhookNotification:
    """Parse either format; anything else raises :class:`MalformedPayload` with the reason."""
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedPayload("body is not UTF-8") from None
    except ValueError:
        raise MalformedPayload("body is not valid JSON") from None
    except RecursionError:
        raise MalformedPayload("body nests too deeply to be read") from None
    if isinstance(payload, list):
        return _parse_cloudevents(payload)
    if isinstance(payload, Mapping) and "eventNotifications" in payload:
        return _parse_legacy(payload)
    raise MalformedPayload("unknown payload: neither eventNotifications nor a CloudEvents array")


def find_realm_ids(raw: bytes, limit: int = MAX_RECOVERED_REALMS) -> tuple[str, ...] | None:
    """The realm ids an unreadable body names (``"realmId"`` / ``"intuitaccountid"`` values), in
    first-seen order, found by one linear scan of the bytes. None when it names more than ``limit``
    (the caller then polls every company)."""
    found: dict[str, None] = {}
    for match in _RAW_REALM.finditer(raw):
        found[(match.group(1) or match.group(2)).decode("ascii")] = None
        if len(found) > limit:
            return None
    return tuple(found)


def read_webhook(
    *,
    body: str | None,
    is_base64_encoded: bool,
    headers: Mapping[str, Any] | None,
    verifier_token: str,
) -> WebhookNotification:
    """Check the signature, then the shape; return the parsed notification or raise
    :class:`BadSignature` (nothing may be done) or :class:`MalformedPayload` (signed but unreadable:
    ``raw`` holds the verified bytes for :func:`find_realm_ids`)."""
    raw = raw_body(body, is_base64_encoded)
    if not signature_is_valid(raw, header_value(headers, SIGNATURE_HEADER), verifier_token):
        raise BadSignature("missing or invalid intuit-signature")
    try:
        return parse_notification(raw)
    except MalformedPayload as exc:
        exc.raw = raw
        raise
