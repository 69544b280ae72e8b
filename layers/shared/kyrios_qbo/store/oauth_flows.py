"""The two single-use items of the Connect flow: the OAuth ``state`` and the returned authorization.

1. ``POST …/connect`` (authenticated) stores ``OAUTH_STATE#<state>``: the account and the Kyrios
   user who asked, until it expires.
2. Intuit's redirect (public) uses the state up and stores ``OAUTH_RETURN#<ref>``: the same account
   and user, the company Intuit named and the authorization code (KMS ciphertext: a credential never
   sits in the table in clear). ``ref`` is a new random value that only the redirected browser sees.
3. ``POST …/connect/complete`` (authenticated) uses the ref up; only then is the code exchanged.

Each item is deleted by the one conditional ``DeleteItem`` that reads it, so a state or a ref is
honoured at most once, even by racing requests. Expiry is checked against the stored time (TTL runs
late).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.errors import OAuthStateInvalid

STATE_SK = "STATE"
RETURN_SK = "RETURN"


@dataclass(frozen=True)
class StartedFlow:
    """Who asked for the Intuit sign-in link."""

    account_id: str
    user_id: str
    """The ``sub`` of the Kyrios user's token ("" when the token has none)."""


@dataclass(frozen=True)
class ReturnedAuthorization:
    """What Intuit's redirect brought back for a started flow."""

    account_id: str
    user_id: str
    realm_id: str
    code_ciphertext: bytes = field(repr=False)


def _state_key(state: str) -> db.Item:
    return db.key(f"OAUTH_STATE#{db.key_part(state, 'OAuth state')}", STATE_SK)


def _return_key(ref: str) -> db.Item:
    return db.key(f"OAUTH_RETURN#{db.key_part(ref, 'connect reference')}", RETURN_SK)


def _put_once(key: db.Item, values: db.Item, ttl_seconds: float) -> None:
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    expires_at = db.now() + ttl_seconds
    db.client().put_item(
        TableName=db.table_name(),
        Item={
            **key,
            **values,
            "valid_until": db.n(expires_at),
            "expires_at": db.n(int(expires_at) + 1),  # TTL housekeeping only; it runs late
        },
        # A colliding random value would bind the flow to the wrong account: refuse it.
        ConditionExpression="attribute_not_exists(pk)",
    )


def _take(make_key: Callable[[str], db.Item], value: str) -> db.Item:
    """Delete the item and return what it held; :class:`OAuthStateInvalid` if unusable."""
    try:
        key = make_key(value)
    except ValueError as exc:
        raise OAuthStateInvalid("malformed") from exc
    try:
        answer = db.client().delete_item(
            TableName=db.table_name(),
            Key=key,
            ConditionExpression="attribute_exists(pk)",
            ReturnValues="ALL_OLD",
        )
    except Exception as exc:
        if db.is_condition_failure(exc):
            raise OAuthStateInvalid("unknown or already used") from exc
        raise
    old: db.Item = answer["Attributes"]
    if db.get_float(old, "valid_until") < db.now():
        raise OAuthStateInvalid("expired")
    return old


def put_oauth_state(state: str, flow: StartedFlow, ttl_seconds: float = 600) -> None:
    """Remember a fresh OAuth ``state`` for the account and user until it expires."""
    _put_once(
        _state_key(state),
        {
            "account_id": db.s(db.key_part(flow.account_id, "account id")),
            "user_id": db.s(flow.user_id),
        },
        ttl_seconds,
    )


def consume_oauth_state(state: str) -> StartedFlow:
    """Use the state exactly once; who started the flow.

    Raises :class:`OAuthStateInvalid` (``reason``: ``malformed``, ``unknown or already used``,
    ``expired``).
    """
    old = _take(_state_key, state)
    return StartedFlow(account_id=db.get_s(old, "account_id"), user_id=db.opt_s(old, "user_id") or "")


def put_returned_authorization(ref: str, returned: ReturnedAuthorization, ttl_seconds: float) -> None:
    """Keep Intuit's answer under ``ref`` until the user's browser completes the flow."""
    _put_once(
        _return_key(ref),
        {
            "account_id": db.s(returned.account_id),
            "user_id": db.s(returned.user_id),
            "realm_id": db.s(returned.realm_id),
            "code": {"B": returned.code_ciphertext},
        },
        ttl_seconds,
    )


def consume_returned_authorization(ref: str) -> ReturnedAuthorization:
    """Use the reference exactly once (same errors as :func:`consume_oauth_state`)."""
    old = _take(_return_key, ref)
    code = db.opt_b(old, "code")
    if code is None:
        raise OAuthStateInvalid("malformed")
    return ReturnedAuthorization(
        account_id=db.get_s(old, "account_id"),
        user_id=db.opt_s(old, "user_id") or "",
        realm_id=db.get_s(old, "realm_id"),
        code_ciphertext=code,
    )
