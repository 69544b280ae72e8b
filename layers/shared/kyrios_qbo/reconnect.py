"""Tokens over years: tell the user to reconnect before Intuit's refresh token ends.

A refresh token ends at the earlier of two limits, both stored from every exchange and refresh
(``store.connections.EncryptedTokens``): the *rolling* 100 days (``x_refresh_token_expires_in``,
restarted while it is used: only a company nobody polled for months nears it) and the *five-year
maximum* of the grant (``x_refresh_token_hard_expires_in``, reported when the token request sends
``x-include-refresh-token-hard-expires-in: true``, which ``intuit_auth`` does; when Intuit does not
report it, five years from the grant). Within ``ReconnectWarningDays`` of that end the company
*needs to reconnect soon*: the status API says so (and by when), and ONE
``connection.needs_reconnect_soon`` event goes on the bus (``store.reconnect_warnings`` claims it), for
Kyrios to notify the user. Reconnecting (a new grant: five more years) clears it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kyrios_qbo.config import get_settings
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import reconnect_warnings

Limit = Literal["rolling_100_days", "five_year_maximum"]


@dataclass(frozen=True)
class ReconnectDue:
    reconnect_by: float
    """Epoch seconds when the stored authorization stops working."""
    limit: Limit
    soon: bool
    """Within the warning window (``ReconnectWarningDays``)."""


def due(tokens: store.EncryptedTokens, *, now: float | None = None) -> ReconnectDue:
    """When these tokens end, by which limit, and whether that is soon."""
    at = time.time() if now is None else now
    hard = tokens.refresh_hard_expires_at
    if hard is not None and hard <= tokens.refresh_expires_at:
        by, limit = hard, "five_year_maximum"
    else:
        by, limit = tokens.refresh_expires_at, "rolling_100_days"
    window = get_settings().reconnect_warning_days * 86_400.0
    return ReconnectDue(by, limit, by - at <= window)  # type: ignore[arg-type]


_REASONS: dict[str, str] = {
    "five_year_maximum": "QuickBooks authorizations last at most five years: reconnect QuickBooks to "
    "keep syncing",
    "rolling_100_days": "QuickBooks has not been reached for months and its authorization is about to "
    "lapse: reconnect QuickBooks to keep syncing",
}


def warn_if_soon(account_id: str, realm_id: str, tokens: store.EncryptedTokens, *,
                 now: float | None = None) -> bool:
    """After tokens were stored: publish the one ``connection.needs_reconnect_soon`` of this
    approach when the end is near. True when this call published it. Never raises (the tokens are
    stored; the status API shows the same)."""
    at = time.time() if now is None else now
    verdict = due(tokens, now=at)
    if not verdict.soon:
        return False
    try:
        if not reconnect_warnings.claim_notice(account_id, realm_id, verdict.reconnect_by, at):
            return False
    except Exception as exc:
        logger.warning("could not record the reconnect notice", extra={"account_id": account_id,
                                                                       "error": str(exc)})
        return False
    from kyrios_qbo import events  # lazy: the hot path never needs EventBridge
    from kyrios_qbo.models.published import ConnectionNeedsReconnectSoon

    event = ConnectionNeedsReconnectSoon(
        account_id=account_id,
        realm_id=realm_id,
        occurred_at=datetime.fromtimestamp(at, UTC),
        reconnect_by=datetime.fromtimestamp(verdict.reconnect_by, UTC),
        limit=verdict.limit,
        reason=_REASONS[verdict.limit],
    )
    try:
        events.publish([event])
    except Exception as exc:
        logger.error("could not publish the reconnect notice", extra={"account_id": account_id,
                                                                      "error": repr(exc)})
        try:
            reconnect_warnings.release_notice(account_id, verdict.reconnect_by)
        except Exception as release_exc:
            logger.warning("could not release the reconnect notice", extra={"error": str(release_exc)})
        return False
    metrics.add_metric(name="ReconnectSoonNotices", unit="Count", value=1)
    logger.info("reconnect notice published", extra={
        "account_id": account_id, "realm_id": realm_id, "limit": verdict.limit,
        "days_left": round((verdict.reconnect_by - at) / 86_400.0, 1)})
    return True
