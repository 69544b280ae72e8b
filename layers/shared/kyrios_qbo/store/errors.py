"""Typed errors of the store: each names an impossible or contested state, never a crash."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every store error."""


class InvalidKey(StoreError, ValueError):
    """An id or key part is empty, too long or contains control characters."""


class NotConnected(StoreError):
    """The account has no live connection (never connected, or disconnected)."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} is not connected to QuickBooks")
        self.account_id = account_id


class RealmOwnedByAnotherAccount(StoreError):
    """The QuickBooks company is already connected to a different Kyrios account."""

    def __init__(self, realm_id: str) -> None:
        super().__init__(f"QuickBooks company {realm_id} is connected to another Kyrios account")
        self.realm_id = realm_id


class AlreadyConnectedToAnotherCompany(StoreError):
    """The account is connected (or awaiting reconnection) to a different company: disconnect first."""

    def __init__(self, account_id: str, connected_realm_id: str | None) -> None:
        super().__init__(
            f"account {account_id} is already connected to QuickBooks company {connected_realm_id}"
        )
        self.account_id = account_id
        self.connected_realm_id = connected_realm_id


class TokenVersionConflict(StoreError):
    """Tokens were saved by someone else since they were read (or the connection went away)."""

    def __init__(self, account_id: str, expected: int, current: int | None) -> None:
        super().__init__(f"token version of {account_id} is {current}, expected {expected}")
        self.account_id = account_id
        self.expected = expected
        self.current = current


class OAuthStateInvalid(StoreError):
    """The OAuth ``state`` is unknown, expired or was already used."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"OAuth state is invalid: {reason}")
        self.reason = reason


class LeaseHeld(StoreError):
    """Another owner holds the lease until ``expires_at`` (epoch seconds)."""

    def __init__(self, name: str, holder: str, expires_at: float) -> None:
        super().__init__(f"lease {name} is held by {holder} until {expires_at:.3f}")
        self.name = name
        self.holder = holder
        self.expires_at = expires_at


class LeaseLost(StoreError):
    """The lease is no longer ours: it expired and another owner took it (or it was released)."""


class ClaimHeld(StoreError):
    """Another owner claimed the key and the claim has not expired."""

    def __init__(self, key: str, holder: str, expires_at: float) -> None:
        super().__init__(f"{key} is claimed by {holder} until {expires_at:.3f}")
        self.key = key
        self.holder = holder
        self.expires_at = expires_at


class StaleVersion(StoreError):
    """A mapping already reflects this document version or a newer one."""

    def __init__(self, key: str, attempted: int, current: int) -> None:
        super().__init__(f"{key}: version {attempted} is not newer than applied version {current}")
        self.key = key
        self.attempted = attempted
        self.current = current


class MappingConflict(StoreError):
    """A QBO id is already mapped to a different Kyrios id of the same kind."""

    def __init__(self, kind: str, qbo_id: str, kyrios_id: str) -> None:
        super().__init__(f"QBO {kind} {qbo_id} is already mapped to Kyrios id {kyrios_id}")
        self.kind = kind
        self.qbo_id = qbo_id
        self.kyrios_id = kyrios_id


class ImportAlreadyRunning(StoreError):
    """The account already has a running import."""

    def __init__(self, account_id: str, running_job_id: str | None) -> None:
        super().__init__(f"account {account_id} already has a running import {running_job_id}")
        self.account_id = account_id
        self.running_job_id = running_job_id


class ImportNotFound(StoreError):
    def __init__(self, account_id: str, job_id: str) -> None:
        super().__init__(f"import {job_id} of account {account_id} does not exist")
        self.job_id = job_id


class ImportNotRunning(StoreError):
    """The import already finished; its status is ``status``."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"import {job_id} is {status}, not running")
        self.job_id = job_id
        self.status = status


class InvalidCursor(StoreError, ValueError):
    """A paging cursor was not produced by this store for this listing."""


class ConcurrentModification(StoreError):
    """An item kept changing under us; the caller may retry the whole operation."""


class StoreBusy(StoreError, RuntimeError):
    """DynamoDB kept part of a batch unprocessed (throttling): retry the work later."""
