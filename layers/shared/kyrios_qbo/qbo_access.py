"""The one way functions get a :class:`~kyrios_qbo.qbo_client.QboClient` for a Kyrios account.

:func:`open_client` loads the account's connection, refuses with a typed error when there is nothing
to talk to (:class:`NotConnected`, :class:`NeedsReconnect` — keep the work, do not drop it), and wires
the client to the account's tokens (:class:`kyrios_qbo.tokens.TokenProvider`) and to the company's
request budget shared by every invocation (``store.rate``).
"""

from __future__ import annotations

import time

from kyrios_qbo.config import get_settings
from kyrios_qbo.qbo_client import Deadline, QboClient
from kyrios_qbo.qbo_errors import QboThrottled
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import rate
from kyrios_qbo.tokens import NeedsReconnect, NotConnected, TokenProvider, TokenRefreshTimeout

__all__ = [
    "NeedsReconnect",
    "NotConnected",
    "SharedRateBudget",
    "TokenRefreshTimeout",
    "client_for",
    "open_client",
]

MAX_BUDGET_WAIT_SECONDS = 20.0
DEADLINE_MARGIN_SECONDS = 2.0


class SharedRateBudget:
    """``RateLimiter`` of qbo_client over each company's request slots in DynamoDB (``store.rate``)."""

    def __init__(self, deadline: Deadline = None) -> None:
        self._deadline = deadline
        self._time_scale = get_settings().qbo_rate_time_scale

    def _max_wait(self) -> float:
        if self._deadline is None:
            return MAX_BUDGET_WAIT_SECONDS
        remaining = (
            self._deadline() / 1000.0 if callable(self._deadline) else float(self._deadline) - time.time()
        )
        return max(0.0, min(MAX_BUDGET_WAIT_SECONDS, remaining - DEADLINE_MARGIN_SECONDS))

    def acquire(self, realm_id: str) -> None:
        if not rate.wait_for_qbo_request(realm_id, max_wait=self._max_wait(), time_scale=self._time_scale):
            # Same handling as QBO's own throttle: retry later, nothing is lost.
            raise QboThrottled(message="the company's shared QuickBooks request budget is used up")


def client_for(connection: store.Connection, *, deadline: Deadline = None) -> QboClient:
    """A client for a connection the caller already loaded (saves a read when it needs settings too)."""
    if connection.status == "disconnected" or connection.tokens is None:
        raise NotConnected(connection.account_id)
    if connection.status == "needs_reconnect":
        raise NeedsReconnect(connection.account_id, connection.realm_id,
                             connection.status_reason or "needs reconnect")
    provider = TokenProvider(
        connection.account_id, connection.realm_id, deadline=deadline, connection=connection
    )
    budget = SharedRateBudget(deadline)
    return QboClient(connection.realm_id, provider, rate_limiter=budget, deadline=deadline)


def open_client(account_id: str, *, deadline: Deadline = None) -> QboClient:
    """A QBO client for the account's connected company.

    ``deadline``: epoch seconds, or Lambda's ``context.get_remaining_time_in_millis``; retries, token
    waits and budget waits stop in time for the caller to hand the work back to its queue.
    Raises :class:`NotConnected` or :class:`NeedsReconnect`.
    """
    connection = store.get_connection(account_id)
    if connection is None:
        raise NotConnected(account_id)
    return client_for(connection, deadline=deadline)
