"""Kyrios ↔ QBO id mappings per company and kind, the pushers' hold on a document, the customer email index.

A document's forward mapping item also carries the hold of the push applying it (``hold_owner``,
``hold_until``): taking the hold returns the mapping in the same write, and the write that records the
new version lets go of it, so a push costs no separate lock item. An item with a hold but no ``qbo_id``
is a document not in QBO yet; readers treat it as unmapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store import _holds
from kyrios_qbo.store.errors import (
    ConcurrentModification,
    InvalidKey,
    MappingConflict,
    StaleVersion,
)

MappingKind = Literal["invoice", "payment", "customer", "item", "tax_code", "tax_rate", "sales_receipt"]
MAPPING_KINDS: tuple[str, ...] = get_args(MappingKind)
SHARED_KINDS: frozenset[str] = frozenset({"tax_code", "tax_rate"})
"""Kinds whose QBO object serves many Kyrios keys (one 20 % code for every Kyrios tax at 20 %): they
have no reverse item, so no owner and no :class:`MappingConflict`."""


@dataclass(frozen=True)
class IdMapping:
    realm_id: str
    kind: MappingKind
    kyrios_id: str
    qbo_id: str
    sync_token: str | None
    applied_version: int
    """Newest Kyrios document version written to QBO (0 for unversioned things like items)."""
    updated_at: str


def _kind(kind: str) -> str:
    if kind not in MAPPING_KINDS:
        raise InvalidKey(f"unknown mapping kind {kind!r}; expected one of {MAPPING_KINDS}")
    return kind


def _forward_key(realm_id: str, kind: str, kyrios_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"MAP#{_kind(kind)}#{db.key_part(kyrios_id, 'Kyrios id')}")


def _reverse_key(realm_id: str, kind: str, qbo_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"QMAP#{_kind(kind)}#{db.key_part(qbo_id, 'QBO id')}")


def _to_mapping(realm_id: str, kind: str, item: db.Item) -> IdMapping:
    return IdMapping(
        realm_id=realm_id,
        kind=kind,  # type: ignore[arg-type]  # validated by _kind when the key was built
        kyrios_id=db.get_s(item, "kyrios_id"),
        qbo_id=db.get_s(item, "qbo_id"),
        sync_token=db.opt_s(item, "sync_token"),
        applied_version=db.get_int(item, "applied_version"),
        updated_at=db.get_s(item, "updated_at"),
    )


def get_mapping(realm_id: str, kind: MappingKind, kyrios_id: str) -> IdMapping | None:
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_forward_key(realm_id, kind, kyrios_id), ConsistentRead=True
    )
    item = answer.get("Item")
    return _to_mapping(realm_id, kind, item) if item and "qbo_id" in item else None


def find_kyrios_id(realm_id: str, kind: MappingKind, qbo_id: str) -> str | None:
    """Which Kyrios document a QBO object belongs to (None: not created or imported by us)."""
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_reverse_key(realm_id, kind, qbo_id), ConsistentRead=True
    )
    return db.get_s(answer["Item"], "kyrios_id") if "Item" in answer else None


def put_mapping(
    realm_id: str,
    kind: MappingKind,
    kyrios_id: str,
    *,
    qbo_id: str,
    sync_token: str | None,
    applied_version: int,
    new: bool = False,
    release: str | None = None,
) -> IdMapping:
    """Record that QBO now reflects ``applied_version`` of the Kyrios document.

    Only a newer version is accepted: :class:`StaleVersion` otherwise (the caller's write to QBO
    was superseded or already recorded). :class:`MappingConflict` if the QBO id already belongs to
    another Kyrios id (never for :data:`SHARED_KINDS`). Nothing is read first; every write is conditional:

    - a newer version of the QBO object already mapped (every update): one ``UpdateItem``;
    - a first mapping (``new=True`` when the caller just created the QBO object: skips trying the
      above): the reverse item is claimed first, then the forward one is written, so whatever a
      forward mapping names is always found by :func:`find_kyrios_id` (a crash in between leaves a
      reverse item alone, which the retry re-claims);
    - a document now mapped to another QBO object (rare): one transaction that also drops the old
      reverse item.

    ``release``: the owner of the document's hold (:func:`hold_document`), let go in the same write.
    """
    for _attempt in range(6):
        wanted = IdMapping(realm_id, kind, kyrios_id, qbo_id, sync_token, applied_version, db.iso_now())
        if new:
            _claim_reverse(wanted)
        current = _update_forward(wanted, first=new, release=release)
        if current is None:
            return wanted
        if _held_by_another(current, release):
            release = None  # ours expired and was taken: record the version, leave their hold alone
        elif "qbo_id" not in current:
            new = True  # nothing mapped yet: claim the reverse item, then write the first mapping
        else:
            _raise_if_stale(wanted, current)
            if _moved(wanted, current, release):
                return wanted
            new = False  # changed in between: judge again from the cheap case
    raise ConcurrentModification(f"mapping {kind} {kyrios_id} kept changing")


def _held_by_another(current: db.Item, release: str | None) -> bool:
    holder = db.opt_s(current, "hold_owner")
    return release is not None and holder is not None and holder != release


def _mapping_values(wanted: IdMapping, release: str | None) -> tuple[str, dict[str, Any], str]:
    """The ``UpdateExpression`` and values that make a forward item say ``wanted`` and let go of
    ``release``'s hold, and the condition that hold adds (empty when there is none to let go of)."""
    values: dict[str, Any] = {
        ":kyrios": db.s(wanted.kyrios_id),
        ":qbo": db.s(wanted.qbo_id),
        ":version": db.n(wanted.applied_version),
        ":now": db.s(wanted.updated_at),
    }
    sets = ["kyrios_id = :kyrios", "qbo_id = :qbo", "applied_version = :version", "updated_at = :now"]
    removes = []
    if wanted.sync_token is not None:
        values[":token"] = db.s(wanted.sync_token)
        sets.append("sync_token = :token")
    else:
        removes.append("sync_token")
    hold_condition = ""
    if release is not None:
        removes.append(_holds.ATTRIBUTES)
        values[":holder"] = db.s(release)
        hold_condition = f"(attribute_not_exists(hold_owner) OR {_holds.HELD_BY_HOLDER})"
    expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
    return expression, values, hold_condition


def _update_forward(wanted: IdMapping, *, first: bool, release: str | None = None) -> db.Item | None:
    """Write the forward item if it maps the same QBO object to an older version (or, with ``first``,
    maps nothing yet), letting go of ``release``'s hold: None when written, else the item that stopped
    it (``{}``: there is none)."""
    expression, values, hold_condition = _mapping_values(wanted, release)
    condition = "qbo_id = :qbo AND applied_version < :version"
    if first:
        condition = f"attribute_not_exists(qbo_id) OR ({condition})"
    if hold_condition:
        condition = f"({condition}) AND {hold_condition}"
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_forward_key(wanted.realm_id, wanted.kind, wanted.kyrios_id),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if db.is_condition_failure(exc):
            return db.old_item(exc) or {}
        raise
    return None


def _raise_if_stale(wanted: IdMapping, current: db.Item) -> None:
    recorded = db.get_int(current, "applied_version")
    if recorded >= wanted.applied_version:
        raise StaleVersion(f"{wanted.kind} {wanted.kyrios_id}", wanted.applied_version, recorded)


def _reverse_item(wanted: IdMapping) -> dict[str, Any]:
    """Put of the reverse item: only if the QBO object is free or already this document's."""
    return {
        "TableName": db.table_name(),
        "Item": {
            **_reverse_key(wanted.realm_id, wanted.kind, wanted.qbo_id),
            "kyrios_id": db.s(wanted.kyrios_id),
            "updated_at": db.s(wanted.updated_at),
        },
        "ConditionExpression": "attribute_not_exists(pk) OR kyrios_id = :kyrios",
        "ExpressionAttributeValues": {":kyrios": db.s(wanted.kyrios_id)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _claim_reverse(wanted: IdMapping) -> None:
    """The QBO object belongs to this document from now on (:class:`MappingConflict` if to another)."""
    if wanted.kind in SHARED_KINDS:
        return
    try:
        db.client().put_item(**_reverse_item(wanted))
    except Exception as exc:
        if db.is_condition_failure(exc):
            holder = db.old_item(exc) or {}
            raise MappingConflict(wanted.kind, wanted.qbo_id, db.opt_s(holder, "kyrios_id") or "?") from exc
        raise


def _moved(wanted: IdMapping, current: db.Item, release: str | None) -> bool:
    """Point the document at another QBO object, exactly over the ``current`` forward item, moving the
    reverse item in the same transaction. False when ``current`` maps the same object (or changed
    meanwhile): the caller judges again."""
    old_qbo_id = db.get_s(current, "qbo_id")
    if old_qbo_id == wanted.qbo_id:
        return False
    expression, values, hold_condition = _mapping_values(wanted, release)
    values[":read_version"] = db.n(db.get_int(current, "applied_version"))
    values[":old_qbo"] = db.s(old_qbo_id)
    condition = "applied_version = :read_version AND qbo_id = :old_qbo"
    operations: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": db.table_name(),
                "Key": _forward_key(wanted.realm_id, wanted.kind, wanted.kyrios_id),
                "UpdateExpression": expression,
                "ConditionExpression": f"{condition} AND {hold_condition}" if hold_condition else condition,
                "ExpressionAttributeValues": values,
            }
        },
        {"Put": _reverse_item(wanted)},
        {
            "Delete": {
                "TableName": db.table_name(),
                "Key": _reverse_key(wanted.realm_id, wanted.kind, old_qbo_id),
                "ConditionExpression": "attribute_not_exists(pk) OR kyrios_id = :kyrios",
                "ExpressionAttributeValues": {":kyrios": db.s(wanted.kyrios_id)},
            }
        },
    ]
    if wanted.kind in SHARED_KINDS:
        operations = operations[:1]  # no reverse items to move
    try:
        db.client().transact_write_items(TransactItems=operations)
    except Exception as exc:
        codes = db.cancellation_codes(exc)
        if not codes:
            raise
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            holder = db.cancellation_items(exc)[1] or {}
            raise MappingConflict(wanted.kind, wanted.qbo_id, db.opt_s(holder, "kyrios_id") or "?") from exc
        return False  # forward item changed (or transaction conflict): judge again
    return True


def put_mapping_if_absent(
    realm_id: str, kind: MappingKind, kyrios_id: str, *, qbo_id: str, sync_token: str | None = None
) -> IdMapping:
    """Map an unversioned thing (customer, item, tax code) once; returns the stored mapping.

    If it is already mapped the existing mapping wins and is returned unchanged (first writer wins);
    the loser's QBO object keeps its reverse item, so the poller still knows Kyrios created it.
    """
    try:
        return put_mapping(
            realm_id, kind, kyrios_id, qbo_id=qbo_id, sync_token=sync_token, applied_version=0, new=True
        )
    except StaleVersion:
        existing = get_mapping(realm_id, kind, kyrios_id)
        if existing is None:  # pragma: no cover - StaleVersion means it exists; mappings are never deleted
            raise ConcurrentModification(f"mapping {kind} {kyrios_id} vanished") from None
        return existing


def update_sync_token(realm_id: str, kind: MappingKind, kyrios_id: str, sync_token: str) -> None:
    """Remember QBO's newest SyncToken (e.g. a payment bumped the invoice's) without a version change."""
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_forward_key(realm_id, kind, kyrios_id),
            UpdateExpression="SET sync_token = :token, updated_at = :now",
            ConditionExpression="attribute_exists(qbo_id)",
            ExpressionAttributeValues={":token": db.s(sync_token), ":now": db.s(db.iso_now())},
        )
    except Exception as exc:
        if db.is_condition_failure(exc):
            raise InvalidKey(f"no {kind} mapping for Kyrios id {kyrios_id}") from exc
        raise


# ---------------------------------------------------------------------------------------- holds
def hold_document(
    realm_id: str, kind: MappingKind, kyrios_id: str, owner: str, duration_seconds: float
) -> IdMapping | None:
    """Hold the document for one push and read its mapping, in one write (None: not in QBO yet).

    Succeeds when nobody holds it, the hold expired, or it is already ``owner``'s; raises
    :class:`LeaseHeld` otherwise. Let go with ``put_mapping(..., release=owner)`` or
    :func:`release_document`.
    """
    key = _forward_key(realm_id, kind, kyrios_id)
    item = _holds.take(key, owner, duration_seconds, f"push {kind} {kyrios_id}")
    return _to_mapping(realm_id, kind, item) if "qbo_id" in item else None


def release_document(
    realm_id: str, kind: MappingKind, kyrios_id: str, owner: str, *, mapped: bool
) -> bool:
    """Let go of ``owner``'s hold without recording a version; a document that is not in QBO leaves
    no item behind. ``mapped``: the caller knows the document is in QBO (one write instead of two).
    False if the hold was not ``owner``'s (any more)."""
    key = _forward_key(realm_id, kind, kyrios_id)
    if not mapped:
        try:
            db.client().delete_item(
                TableName=db.table_name(),
                Key=key,
                ConditionExpression=f"{_holds.HELD_BY_HOLDER} AND attribute_not_exists(qbo_id)",
                ExpressionAttributeValues={":holder": db.s(owner)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except Exception as exc:
            if not db.is_condition_failure(exc):
                raise
            if db.opt_s(db.old_item(exc) or {}, "hold_owner") != owner:
                return False
    return _holds.let_go(key, owner)  # in QBO: keep the mapping, drop the hold


# ---------------------------------------------------------------------------------------- email index
def normalize_email(email: str) -> str:
    """The form emails are indexed by: trimmed and case-folded."""
    normalized = email.strip().casefold() if isinstance(email, str) else ""
    local, _, domain = normalized.partition("@")
    if not local or not domain or " " in normalized:
        raise InvalidKey(f"not an email address: {email!r}")
    return normalized


def _email_key(realm_id: str, email: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), f"EMAIL#{db.key_part(normalize_email(email), 'email')}")


def find_customer_by_email(realm_id: str, email: str) -> str | None:
    """QBO customer id indexed for this email in the company."""
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_email_key(realm_id, email), ConsistentRead=True
    )
    return db.get_s(answer["Item"], "qbo_customer_id") if "Item" in answer else None


def index_customer_email(realm_id: str, email: str, qbo_customer_id: str) -> None:
    """Point the email at the QBO customer (overwrites: QBO is the truth about who has which email)."""
    db.client().put_item(
        TableName=db.table_name(),
        Item={
            **_email_key(realm_id, email),
            "qbo_customer_id": db.s(db.key_part(qbo_customer_id, "QBO customer id")),
            "updated_at": db.s(db.iso_now()),
        },
    )


def move_customer_email(
    realm_id: str, qbo_customer_id: str, old_email: str | None, new_email: str | None
) -> None:
    """The customer's email changed in QBO: index the new one, drop the old one if it still points here."""
    if new_email:
        index_customer_email(realm_id, new_email, qbo_customer_id)
    if old_email and (not new_email or normalize_email(old_email) != normalize_email(new_email)):
        try:
            db.client().delete_item(
                TableName=db.table_name(),
                Key=_email_key(realm_id, old_email),
                ConditionExpression="qbo_customer_id = :customer",
                ExpressionAttributeValues={":customer": db.s(qbo_customer_id)},
            )
        except Exception as exc:
            if not db.is_condition_failure(exc):  # it points at another customer now: leave it
                raise


def mapped_qbo_ids(realm_id: str, kind: MappingKind, qbo_ids: Iterable[str]) -> set[str]:
    """Which of these QBO ids have an id mapping of ``kind`` (created or pushed by the bundle), in
    batched reads: a poll or an import page checks hundreds at once."""
    prefix = f"QMAP#{kind}#"
    items = db.batch_get([_reverse_key(realm_id, kind, qbo_id) for qbo_id in qbo_ids], what="id mappings")
    return {db.get_s(item, "sk")[len(prefix) :] for item in items}


def index_customer_emails(realm_id: str, emails_by_customer: Mapping[str, str]) -> None:
    """:func:`index_customer_email` for many customers at once, in batched writes (overwrites, as it
    does). Two customers with one email: the later one in the mapping wins (callers pass them oldest
    change first), as with one put after the other."""
    now = db.iso_now()
    latest = {normalize_email(email): customer_id for customer_id, email in emails_by_customer.items()}
    db.batch_put(
        [
            {
                **_email_key(realm_id, email),
                "qbo_customer_id": db.s(db.key_part(customer_id, "QBO customer id")),
                "updated_at": db.s(now),
            }
            for email, customer_id in latest.items()
        ],
        what="the customer email index",
    )
