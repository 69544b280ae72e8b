"""The QuickBooks connection as Kyrios settings show it: status, sync settings, disconnect.

Connecting is :mod:`kyrios_qbo.connect_flow`. Nothing here knows about API Gateway; handlers adapt
events to these functions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kyrios_qbo import reconnect
from kyrios_qbo import tokens as token_vault
from kyrios_qbo.intuit_auth import IntuitAuthError, get_intuit_auth
from kyrios_qbo.models.api import ConnectionStatus, DisconnectResponse, SettingsPatch, SyncSettings
from kyrios_qbo.models.qbo import country_alpha2
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import coordination
from kyrios_qbo.store.errors import NotConnected


class NotConnectedError(Exception):
    """A settings change for an account without a live connection (409)."""


class SettingNotSupported(ValueError):
    """The store does not (yet) keep this setting; ``field`` names it."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------------------------------- status
def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def status(account_id: str) -> ConnectionStatus:
    """What the Settings → Integrations page shows."""
    connection = store.get_connection(account_id)
    if connection is None or connection.status == "disconnected":
        return ConnectionStatus(status="not_connected")
    ends = reconnect.due(connection.tokens) if connection.tokens is not None else None
    return ConnectionStatus(
        status="connected" if connection.status == "connected" else "needs_reconnect",
        realm_id=connection.realm_id,
        company_name=connection.company.company_name,
        country=country_alpha2(connection.company.country),
        currency=connection.company.currency,
        connected_at=_parse_time(connection.connected_at),
        settings=SyncSettings.model_validate(connection.settings),
        last_sync_at=_last_sync(connection),
        needs_reconnect_soon=connection.status == "connected" and ends is not None and ends.soon,
        reconnect_by=datetime.fromtimestamp(ends.reconnect_by, UTC) if ends is not None else None,
    )


def _last_sync(connection: store.Connection) -> datetime | None:
    """The later of the poller's last completed run (its cursor item) and the last successful push
    (``last_push_at`` on the connection, at most ``store.PUSH_MARK_SECONDS`` stale)."""
    polled = coordination.cursor_moved_at(connection.realm_id, coordination.POLL_CURSOR)
    pushed = _parse_time(connection.last_push_at)
    moments = [moment for moment in (polled, pushed) if moment is not None]
    return max(moments) if moments else None


def update_settings(account_id: str, patch: SettingsPatch) -> ConnectionStatus:
    """Apply a settings patch to a live (connected or needs_reconnect) connection."""
    changes = patch.changes()
    try:
        if changes:
            store.update_settings(account_id, changes)
        elif (current := store.get_connection(account_id)) is None or current.status == "disconnected":
            raise NotConnected(account_id)
    except NotConnected:
        raise NotConnectedError(f"account {account_id} is not connected to QuickBooks") from None
    except store.InvalidSetting as exc:
        field = next((name for name in changes if repr(name) in str(exc)), None)
        raise SettingNotSupported(field, str(exc)) from None
    return status(account_id)


# ---------------------------------------------------------------------------------------- disconnect
def disconnect(account_id: str) -> DisconnectResponse:
    """Forget the tokens and release the company, then revoke at Intuit. Idempotent."""
    previous = store.disconnect(account_id)
    if previous is None:
        return DisconnectResponse(revoked=True)
    token_vault.announce_status(
        account_id, previous.realm_id, "disconnected", "disconnected from Kyrios settings"
    )
    metrics.add_metric(name="Disconnected", unit="Count", value=1)
    if previous.tokens is None:
        return DisconnectResponse(revoked=True)
    try:
        refresh = token_vault.decrypt_token(account_id, previous.realm_id, "refresh", previous.token_version,
                                            previous.tokens.refresh_token)
        get_intuit_auth().revoke(refresh)
    except IntuitAuthError as exc:
        logger.warning("revoke failed", extra={"account_id": account_id, "status": exc.status,
                                               "intuit_tid": exc.intuit_tid})
        return DisconnectResponse(
            revoked=False,
            revoke_error="Intuit did not confirm the revocation; Kyrios forgot the tokens anyway. "
            "You can also disconnect the app in QuickBooks (Settings → Apps).",
        )
    logger.info("quickbooks disconnected", extra={"account_id": account_id, "realm_id": previous.realm_id})
    return DisconnectResponse(revoked=True)
