"""OAuth tokens of a connected company: encrypted at rest, refreshed once per company at a time.

At rest: each token is KMS-encrypted (``TOKEN_KMS_KEY_ID``) with the encryption context
``{account_id, realm_id, token}``, so a ciphertext cannot be replayed for another account, company or
token kind. Plaintexts are cached per container by (account, realm, kind, token version, ciphertext
digest): a warm container decrypts each token version once, and the refresh token is only decrypted
when a refresh is due.

Refresh (access token within :data:`REFRESH_MARGIN_SECONDS` of expiry, or QBO answered 401):
1. threads of one container queue on an in-process lock (cheap), containers on a DynamoDB lease
   (``token-refresh`` per realm: conditional put with owner + expiry);
2. after taking the lease the connection is read again: if the token version moved, someone else
   refreshed and their token is used;
3. otherwise Intuit is asked, and the rotated refresh token is saved (conditional on the version we
   read) BEFORE the new access token is handed out, so the newest refresh token is never lost;
4. whoever finds the lease taken polls the stored version until it changes (bounded by the caller's
   deadline) and uses the new token.
``invalid_grant`` → connection ``needs_reconnect``, a ``connection.status_changed`` event and
:class:`NeedsReconnect`; pending work is untouched (callers keep their messages).

Every stored refresh also stores both ends of the refresh token (rolling 100 days, five-year
maximum) and, when one is near, publishes the one ``connection.needs_reconnect_soon`` of that
approach (:mod:`kyrios_qbo.reconnect`).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

from kyrios_qbo import aws_clients, reconnect
from kyrios_qbo.config import get_settings
from kyrios_qbo.intuit_auth import InvalidGrant, IssuedTokens, get_intuit_auth
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import coordination
from kyrios_qbo.store.errors import LeaseHeld, NotConnected, TokenVersionConflict

__all__ = [
    "REFRESH_MARGIN_SECONDS",
    "NeedsReconnect",
    "NotConnected",
    "TokenProvider",
    "TokenRefreshTimeout",
    "announce_status",
    "encrypt_tokens",
]

REFRESH_MARGIN_SECONDS = 300.0
"""Refresh when the access token has less than this left (Intuit's tokens live an hour)."""
LEASE_NAME = "token-refresh"
LEASE_SECONDS = 30.0
"""Longer than one refresh call with its retries (HTTP timeout 10 s, 2 attempts) plus the save."""
MAX_WAIT_SECONDS = 25.0
"""Longest a waiter polls for another refresher's result when the caller gave no deadline."""
DEADLINE_MARGIN_SECONDS = 1.0
POLL_SECONDS = 0.1

TokenKind = Literal["access", "refresh", "code"]
Deadline = float | Callable[[], int] | None
"""Epoch seconds, or Lambda's ``context.get_remaining_time_in_millis`` (as in ``qbo_client``)."""


class NeedsReconnect(Exception):
    """The user must reconnect QuickBooks (refresh token rejected). Pending work must be kept."""

    retryable = False

    def __init__(self, account_id: str, realm_id: str | None, reason: str) -> None:
        super().__init__(f"account {account_id} must reconnect QuickBooks: {reason}")
        self.account_id = account_id
        self.realm_id = realm_id
        self.reason = reason


class TokenRefreshTimeout(Exception):
    """Another invocation is refreshing and did not finish in time: retry later (nothing is lost)."""

    retryable = True


# ---------------------------------------------------------------------------------------- KMS
_cache_lock = threading.Lock()
_plaintexts: OrderedDict[tuple[str, ...], str] = OrderedDict()
_CACHE_SIZE = 4096
"""Plaintexts kept per container, least recently used dropped first: room for the access token of
every company a poller container meets tick after tick (a few KB each, so a few MB), so a warm
container does not pay a KMS decrypt per company per tick."""


def _kms() -> Any:
    return aws_clients.client("kms")


def _context(account_id: str, realm_id: str, kind: TokenKind) -> dict[str, str]:
    return {"account_id": account_id, "realm_id": realm_id, "token": kind}


def _cache_key(account_id: str, realm_id: str, kind: TokenKind, version: int, blob: bytes) -> tuple[str, ...]:
    # The digest makes a key unique even if a version number were ever reused.
    return (account_id, realm_id, kind, str(version), hashlib.sha256(blob).hexdigest()[:32])


def _remember(key: tuple[str, ...], plaintext: str) -> None:
    with _cache_lock:
        _plaintexts[key] = plaintext
        _plaintexts.move_to_end(key)
        while len(_plaintexts) > _CACHE_SIZE:
            _plaintexts.popitem(last=False)


def _encrypt(account_id: str, realm_id: str, kind: TokenKind, plaintext: str) -> bytes:
    answer = _kms().encrypt(
        KeyId=get_settings().require("token_kms_key_id"),
        Plaintext=plaintext.encode(),
        EncryptionContext=_context(account_id, realm_id, kind),
    )
    return bytes(answer["CiphertextBlob"])


def decrypt_token(account_id: str, realm_id: str, kind: TokenKind, version: int, blob: bytes) -> str:
    """The plaintext token (KMS only on the first use of this version in this container)."""
    key = _cache_key(account_id, realm_id, kind, version, blob)
    with _cache_lock:
        cached = _plaintexts.get(key)
        if cached is not None:
            _plaintexts.move_to_end(key)
    if cached is not None:
        return cached
    answer = _kms().decrypt(CiphertextBlob=blob, EncryptionContext=_context(account_id, realm_id, kind))
    plaintext = bytes(answer["Plaintext"]).decode()
    _remember(key, plaintext)
    return plaintext


def encrypt_tokens(
    account_id: str, realm_id: str, tokens: IssuedTokens, *, stored_refresh: tuple[str, bytes] | None = None
) -> store.EncryptedTokens:
    """Tokens as stored: one KMS ciphertext per token, bound to account, company and kind.

    ``stored_refresh``: (plaintext, ciphertext) of the refresh token stored now. Intuit answers a
    refresh with the same refresh token for ~24 h, so most refreshes keep its ciphertext (valid: the
    encryption context names account, company and kind, not the version) and cost one Encrypt, not two.
    """
    refresh_expires_at = tokens.refresh_expires_at or (time.time() + 100 * 86_400)  # Intuit's 100 days
    unchanged = stored_refresh is not None and hmac.compare_digest(stored_refresh[0], tokens.refresh_token)
    return store.EncryptedTokens(
        access_token=_encrypt(account_id, realm_id, "access", tokens.access_token),
        refresh_token=stored_refresh[1] if stored_refresh is not None and unchanged
        else _encrypt(account_id, realm_id, "refresh", tokens.refresh_token),
        access_expires_at=tokens.access_expires_at,
        refresh_expires_at=refresh_expires_at,
        refresh_hard_expires_at=tokens.refresh_hard_expires_at,
    )


def encrypt_code(account_id: str, realm_id: str, code: str) -> bytes:
    """An authorization code as it waits in the table between Intuit's redirect and the completion."""
    return _encrypt(account_id, realm_id, "code", code)


def decrypt_code(account_id: str, realm_id: str, blob: bytes) -> str:
    """The code back (single use: never cached)."""
    answer = _kms().decrypt(CiphertextBlob=blob, EncryptionContext=_context(account_id, realm_id, "code"))
    return bytes(answer["Plaintext"]).decode()


def remember_saved(account_id: str, realm_id: str, version: int, encrypted: store.EncryptedTokens,
                   tokens: IssuedTokens) -> None:
    """Prime the plaintext cache with tokens we just saved (no KMS decrypt for our own write)."""
    access_key = _cache_key(account_id, realm_id, "access", version, encrypted.access_token)
    _remember(access_key, tokens.access_token)
    _remember(_cache_key(account_id, realm_id, "refresh", version, encrypted.refresh_token),
              tokens.refresh_token)


def forget_cached() -> None:
    """Drop every cached plaintext (tests; a container that must forget a disconnected account)."""
    with _cache_lock:
        _plaintexts.clear()


# ---------------------------------------------------------------------------------------- events
def announce_status(account_id: str, realm_id: str, status: str, reason: str) -> None:
    """Publish ``connection.status_changed``. A failure is logged, never raised: the stored status is
    the truth and Kyrios reads it through the status API as well."""
    from kyrios_qbo import events  # lazy: the hot path (a valid cached token) never needs EventBridge
    from kyrios_qbo.models.published import ConnectionStatusChanged

    try:
        event = ConnectionStatusChanged(
            account_id=account_id,
            realm_id=realm_id,
            status=status,  # validated by the model
            reason=reason[:500] or "unspecified",
            occurred_at=datetime.now(UTC),
        )
        events.publish([event])
    except Exception as exc:
        logger.error("could not publish connection status", extra={"account_id": account_id,
                                                                   "status": status, "error": repr(exc)})


# ---------------------------------------------------------------------------------------- provider
_account_locks: dict[str, threading.Lock] = {}
_account_locks_guard = threading.Lock()


def _account_lock(account_id: str) -> threading.Lock:
    with _account_locks_guard:
        return _account_locks.setdefault(account_id, threading.Lock())


@dataclass(frozen=True)
class _Current:
    version: int
    access_token: str
    access_expires_at: float


class TokenProvider:
    """Access tokens of one account's company, for :class:`kyrios_qbo.qbo_client.QboClient`."""

    def __init__(
        self,
        account_id: str,
        realm_id: str,
        *,
        deadline: Deadline = None,
        connection: store.Connection | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        self.realm_id = realm_id
        self._deadline = deadline
        self._clock = clock
        self._current: _Current | None = None
        if connection is not None and connection.realm_id == realm_id:
            self._current = self._from_connection(connection)

    # -- the TokenProvider protocol of qbo_client
    def access_token(self, realm_id: str) -> str:
        self._check_realm(realm_id)
        current = self._current
        if current is None or self._expiring(current):
            current = self._from_connection(self._load())
            self._current = current
        if self._expiring(current):
            current = self._refresh(seen_version=current.version, rejected=None)
            self._current = current
        return current.access_token

    def refresh_after_unauthorized(self, realm_id: str, rejected_token: str) -> str:
        self._check_realm(realm_id)
        current = self._from_connection(self._load())
        if current.access_token != rejected_token and not self._expiring(current):
            self._current = current  # someone already replaced the rejected token
            return current.access_token
        self._current = self._refresh(seen_version=current.version, rejected=rejected_token)
        return self._current.access_token

    # -- helpers
    def _check_realm(self, realm_id: str) -> None:
        if realm_id != self.realm_id:
            raise ValueError("token provider asked for another company than the one it serves")

    def _expiring(self, current: _Current) -> bool:
        return current.access_expires_at - self._clock() <= REFRESH_MARGIN_SECONDS

    def _load(self) -> store.Connection:
        """The live connection of this account and company, or the typed reason there is none."""
        connection = store.get_connection(self.account_id)
        if connection is None or connection.status == "disconnected" or connection.realm_id != self.realm_id:
            raise NotConnected(self.account_id)
        if connection.status == "needs_reconnect":
            reason = connection.status_reason or "needs reconnect"
            raise NeedsReconnect(self.account_id, self.realm_id, reason)
        if connection.tokens is None:
            raise NotConnected(self.account_id)
        return connection

    def _from_connection(self, connection: store.Connection) -> _Current:
        tokens = connection.tokens
        if tokens is None:
            raise NotConnected(self.account_id)
        access = decrypt_token(self.account_id, self.realm_id, "access", connection.token_version,
                               tokens.access_token)
        return _Current(connection.token_version, access, tokens.access_expires_at)

    def _usable(self, candidate: _Current, seen_version: int, rejected: str | None) -> bool:
        """A token someone else stored since we looked, that is neither expiring nor the rejected one."""
        return (
            candidate.version != seen_version
            and candidate.access_token != rejected
            and not self._expiring(candidate)
        )

    def _wait_until(self) -> float:
        """Epoch seconds after which waiting for a refresh is pointless for this caller."""
        limit = self._clock() + MAX_WAIT_SECONDS
        if self._deadline is None:
            return limit
        if callable(self._deadline):
            caller = self._clock() + self._deadline() / 1000.0
        else:
            caller = float(self._deadline)
        return min(limit, caller - DEADLINE_MARGIN_SECONDS)

    def _refresh(self, *, seen_version: int, rejected: str | None) -> _Current:
        wait_until = self._wait_until()
        lock = _account_lock(self.account_id)
        if not lock.acquire(timeout=max(0.0, wait_until - self._clock())):
            raise TokenRefreshTimeout(f"token refresh of account {self.account_id} is taking too long")
        try:
            current = self._from_connection(self._load())
            if self._usable(current, seen_version, rejected):
                return current
            return self._refresh_under_lease(current, rejected, wait_until)
        finally:
            lock.release()

    def _refresh_under_lease(self, seen: _Current, rejected: str | None, wait_until: float) -> _Current:
        owner = f"tokens-{uuid.uuid4()}"
        while True:
            try:
                coordination.acquire_lease(self.realm_id, LEASE_NAME, owner, LEASE_SECONDS)
                break
            except LeaseHeld as held:
                # Another container refreshes: wait for its result (or for its lease to run out).
                theirs = self._wait_for_other_refresher(seen, rejected, held.expires_at, wait_until)
                if theirs is not None:
                    return theirs
        try:
            connection = self._load()  # re-read under the lease: someone may have refreshed already
            current = self._from_connection(connection)
            if self._usable(current, seen.version, rejected):
                return current
            return self._call_intuit_and_save(connection)
        finally:
            coordination.release_lease(self.realm_id, LEASE_NAME, owner)

    def _wait_for_other_refresher(
        self, seen: _Current, rejected: str | None, lease_expires_at: float, wait_until: float
    ) -> _Current | None:
        """The other refresher's token once stored; None when its lease ran out (try to take it)."""
        while True:
            now = self._clock()
            if now >= wait_until:
                raise TokenRefreshTimeout(f"token refresh of account {self.account_id} is taking too long")
            if now > lease_expires_at:
                return None
            time.sleep(min(POLL_SECONDS * random.uniform(0.5, 1.5), max(0.0, wait_until - now)))  # noqa: S311
            current = self._from_connection(self._load())
            if current.version != seen.version:
                if self._usable(current, seen.version, rejected):
                    return current
                return None  # stored but already unusable: refresh ourselves

    def _call_intuit_and_save(self, connection: store.Connection) -> _Current:
        assert connection.tokens is not None  # _load guarantees it
        refresh_token = decrypt_token(self.account_id, self.realm_id, "refresh", connection.token_version,
                                      connection.tokens.refresh_token)
        try:
            issued = get_intuit_auth().refresh(refresh_token)
        except InvalidGrant as exc:
            # A refresh that raced ours (after its lease ran out) also ends here: look again first.
            latest = self._from_connection(self._load())
            if latest.version != connection.token_version:
                return latest
            self._reconnect_needed(exc)
        metrics.add_metric(name="TokenRefreshes", unit="Count", value=1)
        encrypted = encrypt_tokens(self.account_id, self.realm_id, issued,
                                   stored_refresh=(refresh_token, connection.tokens.refresh_token))
        try:
            version = store.save_tokens(self.account_id, encrypted, connection.token_version)
        except TokenVersionConflict:
            # Stored meanwhile by someone else (a reconnect, or a refresher whose lease outlived ours):
            # theirs is the newest by the version order, so it wins.
            logger.warning("token version moved during refresh", extra={"account_id": self.account_id})
            return self._from_connection(self._load())
        remember_saved(self.account_id, self.realm_id, version, encrypted, issued)
        reconnect.warn_if_soon(self.account_id, self.realm_id, encrypted)
        logger.info("token refreshed", extra={"account_id": self.account_id, "realm_id": self.realm_id,
                                              "token_version": version})
        return _Current(version, issued.access_token, issued.access_expires_at)

    def _reconnect_needed(self, exc: InvalidGrant) -> NoReturn:
        reason = "QuickBooks refused the stored authorization (invalid_grant): reconnect QuickBooks"
        logger.warning(
            "refresh token rejected",
            extra={"account_id": self.account_id, "realm_id": self.realm_id, "intuit_tid": exc.intuit_tid},
        )
        if store.mark_needs_reconnect(self.account_id, reason):
            announce_status(self.account_id, self.realm_id, "needs_reconnect", reason)
        raise NeedsReconnect(self.account_id, self.realm_id, reason) from None
