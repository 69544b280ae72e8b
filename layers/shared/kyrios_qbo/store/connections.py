"""Connections (account ↔ QuickBooks company), realm ownership and tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.errors import (
    AlreadyConnectedToAnotherCompany,
    ConcurrentModification,
    NotConnected,
    RealmOwnedByAnotherAccount,
    TokenVersionConflict,
)

ConnectionStatus = Literal["connected", "needs_reconnect", "disconnected"]
CONNECTION_SK = "CONNECTION"
OWNER_SK = "OWNER"
CONNECTED_GSI = "gsi1"
CONNECTED_GSI_PK = "CONNECTED"

DEFAULT_SETTINGS: dict[str, bool] = {
    "send_review_requests": True,
    "sync_contacts": True,
    "push_invoices": True,
    "push_payments": True,
}
"""Sync preferences of a new connection; update_settings accepts these keys with these types."""


class InvalidSetting(ValueError):
    """An unknown setting, or a value of the wrong type."""


@dataclass(frozen=True)
class EncryptedTokens:
    """OAuth tokens as ciphertext (encryption is the tokens module's job), expiries in epoch seconds."""

    access_token: bytes
    refresh_token: bytes
    access_expires_at: float
    refresh_expires_at: float
    """Intuit's rolling expiry (``x_refresh_token_expires_in``: 100 days, restarted as it is used)."""
    refresh_hard_expires_at: float | None = None
    """The grant's five-year maximum (``x_refresh_token_hard_expires_in``); None = not told (a
    refresh then keeps the stored one)."""

    def __repr__(self) -> str:  # never print ciphertext either
        return f"EncryptedTokens(access_expires_at={self.access_expires_at}, refresh_expires_at=...)"


@dataclass(frozen=True)
class CompanyInfo:
    company_name: str | None = None
    country: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Connection:
    account_id: str
    status: ConnectionStatus
    realm_id: str
    company: CompanyInfo
    connected_at: str
    settings: dict[str, Any] = field(default_factory=dict)
    status_reason: str | None = None
    tokens: EncryptedTokens | None = field(default=None, repr=False)
    token_version: int = 0
    last_push_at: str | None = None
    """When a push last succeeded (ISO; at most :data:`PUSH_MARK_SECONDS` stale, :func:`mark_pushed`)."""
    company_changed_at: str | None = None
    """When the company's setup (e.g. currency preferences) last changed as far as we know: every
    connect or reconnect, and an Intuit webhook about Preferences (:func:`mark_company_changed`).
    Company facts cached before it are read again (``kyrios_qbo.catalog``)."""
    reconnect_warned_until: float | None = None
    """The end of authorization the user was last told about (``reconnect_warnings``)."""


@dataclass(frozen=True)
class ConnectedAccount:
    account_id: str
    realm_id: str


# ---------------------------------------------------------------------------------------- reading
def _connection_key(account_id: str) -> db.Item:
    return db.key(db.account_pk(account_id), CONNECTION_SK)


def _owner_key(realm_id: str) -> db.Item:
    return db.key(db.realm_pk(realm_id), OWNER_SK)


def _to_connection(item: db.Item) -> Connection:
    tokens = None
    access, refresh = db.opt_b(item, "access_token_enc"), db.opt_b(item, "refresh_token_enc")
    if access is not None and refresh is not None:
        tokens = EncryptedTokens(
            access_token=access,
            refresh_token=refresh,
            access_expires_at=db.get_float(item, "access_expires_at"),
            refresh_expires_at=db.get_float(item, "refresh_expires_at"),
            refresh_hard_expires_at=db.opt_float(item, "refresh_hard_expires_at"),
        )
    status = db.get_s(item, "status")
    if status not in ("connected", "needs_reconnect", "disconnected"):
        raise ValueError(f"unknown connection status {status!r}")
    return Connection(
        account_id=db.get_s(item, "account_id"),
        status=status,  # type: ignore[arg-type]  # checked just above
        realm_id=db.get_s(item, "realm_id"),
        company=CompanyInfo(
            company_name=db.opt_s(item, "company_name"),
            country=db.opt_s(item, "country"),
            currency=db.opt_s(item, "currency"),
        ),
        connected_at=db.get_s(item, "connected_at"),
        settings={**DEFAULT_SETTINGS, **db.get_json(item, "settings", {})},
        status_reason=db.opt_s(item, "status_reason"),
        tokens=tokens,
        token_version=db.get_int(item, "token_version"),
        last_push_at=db.opt_s(item, "last_push_at"),
        company_changed_at=db.opt_s(item, "company_changed_at"),
        reconnect_warned_until=db.opt_float(item, "reconnect_warned_until"),
    )


def _get_connection_item(account_id: str) -> db.Item | None:
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_connection_key(account_id), ConsistentRead=True
    )
    item: db.Item | None = answer.get("Item")
    return item


def get_connection(account_id: str) -> Connection | None:
    """The account's connection in any status, or None if it never connected."""
    item = _get_connection_item(account_id)
    return _to_connection(item) if item is not None else None


def get_account_for_realm(realm_id: str) -> str | None:
    """The Kyrios account that owns this QuickBooks company (webhooks map realm → account)."""
    item = db.client().get_item(TableName=db.table_name(), Key=_owner_key(realm_id), ConsistentRead=True)
    return db.get_s(item["Item"], "account_id") if "Item" in item else None


def list_connected_accounts(limit: int = 100, cursor: str | None = None) -> db.Page[ConnectedAccount]:
    """Accounts with status ``connected`` for the schedule's fan-out, a page at a time.

    Read from the GSI, so eventually consistent: a just-connected account may show up one tick later.
    """
    kwargs: dict[str, Any] = {
        "TableName": db.table_name(),
        "IndexName": CONNECTED_GSI,
        "KeyConditionExpression": "gsi1pk = :pk",
        "ExpressionAttributeValues": {":pk": db.s(CONNECTED_GSI_PK)},
        "Limit": db.check_limit(limit),
    }
    start = db.decode_cursor(cursor, {"gsi1pk": CONNECTED_GSI_PK})
    if start:
        kwargs["ExclusiveStartKey"] = start
    answer = db.client().query(**kwargs)
    accounts = [
        ConnectedAccount(account_id=db.get_s(item, "account_id"), realm_id=db.get_s(item, "realm_id"))
        for item in answer.get("Items", [])
    ]
    return db.Page(accounts, db.encode_cursor(answer.get("LastEvaluatedKey")))


# ---------------------------------------------------------------------------------------- connect
FIVE_YEARS_SECONDS = 5 * 365 * 86_400
"""Intuit's maximum for a grant, used when the token endpoint did not report the hard expiry."""


def _token_values(tokens: EncryptedTokens, *, new_grant: bool) -> dict[str, Any]:
    """Attribute values of stored tokens. The hard expiry: Intuit's, else (a new grant) five years
    from now, else (a refresh that did not report it) whatever is stored (``if_not_exists``)."""
    hard = tokens.refresh_hard_expires_at
    if hard is None and new_grant:
        hard = db.now() + FIVE_YEARS_SECONDS
    return {
        ":access": {"B": tokens.access_token},
        ":refresh": {"B": tokens.refresh_token},
        ":access_exp": db.n(tokens.access_expires_at),
        ":refresh_exp": db.n(tokens.refresh_expires_at),
        ":hard_exp": db.n(hard if hard is not None else db.now() + FIVE_YEARS_SECONDS),
    }


def _hard_expiry_set(tokens: EncryptedTokens, *, new_grant: bool) -> str:
    if tokens.refresh_hard_expires_at is not None or new_grant:
        return "refresh_hard_expires_at = :hard_exp"
    return "refresh_hard_expires_at = if_not_exists(refresh_hard_expires_at, :hard_exp)"


def connect(account_id: str, realm_id: str, company: CompanyInfo, tokens: EncryptedTokens) -> Connection:
    """Connect the account to the company: claim the realm and store the connection atomically.

    Reconnecting the same company keeps settings, cursors, mappings (they are keyed by realm) and the
    first ``connected_at``: it is the cutoff for "only what was created after connecting", and a
    reconnect must not hide what happened while the tokens were expired.
    Raises :class:`RealmOwnedByAnotherAccount` or :class:`AlreadyConnectedToAnotherCompany`.
    """
    from kyrios_qbo.store import sweep  # sweep reads this module's constants

    db.key_part(account_id, "account id")
    now_iso = db.iso_now()
    due_now = sweep.due_key(realm_id, account_id, db.now())
    previous = get_connection(account_id)
    same_company = previous is not None and previous.realm_id == realm_id
    values: dict[str, Any] = {
        ":account": db.s(account_id),
        ":realm": db.s(realm_id),
        ":connected": db.s("connected"),
        ":needs": db.s("needs_reconnect"),
        ":now": db.s(now_iso),
        ":connected_at": db.s(previous.connected_at if previous is not None and same_company else now_iso),
        ":gsi_pk": db.s(CONNECTED_GSI_PK),
        ":gsi_sk": db.s(db.account_pk(account_id)),
        ":g2pk": due_now["gsi2pk"],
        ":g2sk": due_now["gsi2sk"],
        ":defaults": db.json_value({}),
        ":zero": db.n(0),
        ":one": db.n(1),
        **_token_values(tokens, new_grant=True),
    }
    sets = [
        "account_id = :account",
        "realm_id = :realm",
        "#status = :connected",
        "connected_at = :connected_at",
        "updated_at = :now",
        "company_changed_at = :now",  # a (re)connect may follow any change: read the company again
        "gsi1pk = :gsi_pk",
        "gsi1sk = :gsi_sk",
        "gsi2pk = :g2pk",  # due for the safety sweep at once: the first poll sets the cursor
        "gsi2sk = :g2sk",
        "settings = if_not_exists(settings, :defaults)",
        "access_token_enc = :access",
        "refresh_token_enc = :refresh",
        "access_expires_at = :access_exp",
        "refresh_expires_at = :refresh_exp",
        _hard_expiry_set(tokens, new_grant=True),
        "token_version = if_not_exists(token_version, :zero) + :one",
    ]
    removes = ["status_reason", "disconnected_at", "reconnect_warned_until"]  # a new grant
    if not same_company:
        removes.append("last_push_at")  # another company's pushes are not this one's "last sync"
    for name, value in (
        ("company_name", company.company_name),
        ("country", company.country),
        ("currency", company.currency),
    ):
        if value:
            values[f":{name}"] = db.s(value)
            sets.append(f"{name} = :{name}")
        else:
            removes.append(name)
    try:
        db.client().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": db.table_name(),
                        "Item": {
                            **_owner_key(realm_id),
                            "account_id": db.s(account_id),
                            "claimed_at": db.s(now_iso),
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR account_id = :account",
                        "ExpressionAttributeValues": {":account": db.s(account_id)},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Update": {
                        "TableName": db.table_name(),
                        "Key": _connection_key(account_id),
                        "UpdateExpression": f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
                        # A live connection (or one awaiting reconnection) to another company must be
                        # disconnected first: its realm claim would otherwise be orphaned.
                        "ConditionExpression": "attribute_not_exists(pk)"
                        " OR NOT (#status IN (:connected, :needs))"
                        " OR realm_id = :realm",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    except Exception as exc:
        codes = db.cancellation_codes(exc)
        if not codes:
            raise
        if codes[0] == "ConditionalCheckFailed":
            raise RealmOwnedByAnotherAccount(realm_id) from exc
        if codes[1] == "ConditionalCheckFailed":
            held = db.cancellation_items(exc)[1] or {}
            raise AlreadyConnectedToAnotherCompany(account_id, db.opt_s(held, "realm_id")) from exc
        if "TransactionConflict" in codes:
            raise ConcurrentModification(f"connection of {account_id} changed concurrently") from exc
        raise
    connection = get_connection(account_id)
    if connection is None:  # pragma: no cover - written just above in a strongly consistent table
        raise ConcurrentModification(f"connection of {account_id} vanished after connecting")
    return connection


def save_tokens(account_id: str, tokens: EncryptedTokens, expected_version: int) -> int:
    """Store refreshed tokens if nobody else did since ``expected_version``; returns the new version.

    Raises :class:`TokenVersionConflict` (re-read: someone refreshed first, or the account
    disconnected) — the newest refresh token must never be overwritten by an older one.
    """
    try:
        answer = db.client().update_item(
            TableName=db.table_name(),
            Key=_connection_key(account_id),
            UpdateExpression="SET access_token_enc = :access, refresh_token_enc = :refresh, "
            "access_expires_at = :access_exp, refresh_expires_at = :refresh_exp, "
            f"{_hard_expiry_set(tokens, new_grant=False)}, "
            "token_version = token_version + :one, updated_at = :now",
            ConditionExpression="token_version = :expected AND #status IN (:connected, :needs)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                **_token_values(tokens, new_grant=False),
                ":one": db.n(1),
                ":expected": db.n(expected_version),
                ":now": db.s(db.iso_now()),
                ":connected": db.s("connected"),
                ":needs": db.s("needs_reconnect"),
            },
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        old = db.old_item(exc)
        current = db.get_int(old, "token_version") if old else None
        raise TokenVersionConflict(account_id, expected_version, current) from exc
    return db.get_int(answer["Attributes"], "token_version")


PUSH_MARK_SECONDS = 60.0
"""``last_push_at`` is rewritten only when it is older than this: a burst of pushes costs one write."""


def mark_pushed(account_id: str, realm_id: str, known: str | None) -> bool:
    """Record now as the connection's ``last_push_at`` (a push to ``realm_id`` succeeded).

    ``known`` is the ``last_push_at`` of the connection the caller already read: when it is younger than
    :data:`PUSH_MARK_SECONDS` nothing is sent at all (no read, no write). Otherwise one conditional
    ``UpdateItem`` that only moves the time forward past the same threshold, so concurrent pushes of a
    burst write it once; False when nothing was written (recent enough, or the account is no longer
    connected to that company).
    """
    now = db.now()
    cutoff = now - PUSH_MARK_SECONDS
    if known is not None:
        try:
            if db.parse_iso(known).timestamp() >= cutoff:
                return False
        except ValueError:
            pass  # unreadable: overwrite it
    moment = datetime.fromtimestamp(now, UTC)
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_connection_key(account_id),
        UpdateExpression="SET last_push_at = :now",
        ConditionExpression="realm_id = :realm AND #status <> :disconnected"
        " AND (attribute_not_exists(last_push_at) OR last_push_at < :cutoff)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":now": db.s(db.iso(moment)),
            ":cutoff": db.s(db.iso(datetime.fromtimestamp(cutoff, UTC))),
            ":realm": db.s(realm_id),
            ":disconnected": db.s("disconnected"),
        },
    )


def mark_company_changed(account_id: str, realm_id: str) -> bool:
    """Record now as the connection's ``company_changed_at`` (QBO told us the company's Preferences
    changed). One conditional ``UpdateItem``; False when the account is not connected to ``realm_id``."""
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_connection_key(account_id),
        UpdateExpression="SET company_changed_at = :now",
        ConditionExpression="realm_id = :realm AND #status <> :gone",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":now": db.s(db.iso_now()),
            ":realm": db.s(realm_id),
            ":gone": db.s("disconnected"),
        },
    )


def mark_needs_reconnect(account_id: str, reason: str) -> bool:
    """Connected → needs_reconnect (refresh token rejected). False if it was not connected.

    The account leaves the poller's fan-out and the sweep's due index; its realm stays claimed and
    its data is kept.
    """
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_connection_key(account_id),
        UpdateExpression="SET #status = :needs, status_reason = :reason, updated_at = :now "
        "REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk",
        ConditionExpression="#status = :connected",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":needs": db.s("needs_reconnect"),
            ":connected": db.s("connected"),
            ":reason": db.s(reason or "unspecified"),
            ":now": db.s(db.iso_now()),
        },
    )


def disconnect(account_id: str) -> Connection | None:
    """Forget the tokens and release the realm; returns the connection as it was (None if not live).

    Read the tokens from the returned connection to revoke them at Intuit. Idempotent.
    """
    current = get_connection(account_id)
    if current is None or current.status == "disconnected":
        return None
    try:
        db.client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": db.table_name(),
                        "Key": _connection_key(account_id),
                        "UpdateExpression": "SET #status = :disconnected, disconnected_at = :now, "
                        "updated_at = :now "
                        "REMOVE access_token_enc, refresh_token_enc, access_expires_at, refresh_expires_at, "
                        "refresh_hard_expires_at, reconnect_warned_until, "
                        "gsi1pk, gsi1sk, gsi2pk, gsi2sk, status_reason",
                        "ConditionExpression": "realm_id = :realm AND #status <> :disconnected",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":disconnected": db.s("disconnected"),
                            ":now": db.s(db.iso_now()),
                            ":realm": db.s(current.realm_id),
                        },
                    }
                },
                {
                    "Delete": {
                        "TableName": db.table_name(),
                        "Key": _owner_key(current.realm_id),
                        "ConditionExpression": "attribute_not_exists(pk) OR account_id = :account",
                        "ExpressionAttributeValues": {":account": db.s(account_id)},
                    }
                },
            ]
        )
    except Exception as exc:
        if db.cancellation_codes(exc):
            raise ConcurrentModification(f"connection of {account_id} changed while disconnecting") from exc
        raise
    return current


def update_settings(account_id: str, changes: Mapping[str, Any]) -> Connection:
    """Change sync preferences (keys and types of :data:`DEFAULT_SETTINGS`) of a live connection."""
    for name, value in changes.items():
        if name not in DEFAULT_SETTINGS:
            raise InvalidSetting(f"unknown setting {name!r}")
        if type(value) is not type(DEFAULT_SETTINGS[name]):
            raise InvalidSetting(f"setting {name!r} must be {type(DEFAULT_SETTINGS[name]).__name__}")
    for _attempt in range(5):
        item = _get_connection_item(account_id)
        if item is None or db.get_s(item, "status") == "disconnected":
            raise NotConnected(account_id)
        merged = {**DEFAULT_SETTINGS, **db.get_json(item, "settings", {}), **changes}
        try:
            db.client().update_item(
                TableName=db.table_name(),
                Key=_connection_key(account_id),
                UpdateExpression="SET settings = :new, updated_at = :now",
                # Compare-and-set on the stored map: concurrent PATCHes of different keys both land.
                ConditionExpression="settings = :old AND #status <> :disconnected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":new": db.json_value({k: v for k, v in merged.items() if k in DEFAULT_SETTINGS}),
                    ":old": item["settings"],
                    ":now": db.s(db.iso_now()),
                    ":disconnected": db.s("disconnected"),
                },
            )
        except Exception as exc:
            if db.is_condition_failure(exc):
                continue
            raise
        updated = get_connection(account_id)
        if updated is not None:
            return updated
    raise ConcurrentModification(f"settings of {account_id} kept changing")
