"""Connect QuickBooks: start the OAuth flow, complete the callback, status, settings, disconnect.

Rules (one company per account, one account per company):
- a company connected to another Kyrios account is refused; so is a second company while one is
  connected (or awaiting reconnection) — disconnect first;
- reconnecting the same company stores the new tokens and keeps settings, cursors and mappings;
- ``connected_at`` is the cutoff for "only contacts and invoices created after the integration": it
  is set by the first connection of a company to an account and KEPT when that account reconnects the
  same company (also after a disconnect): what happened in between is caught up by the sync cursors,
  while a new cutoff would silently skip it or, worse, a reset one would import history as "new".

Nothing here knows about API Gateway; handlers adapt events to these functions.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kyrios_qbo import tokens as token_vault
from kyrios_qbo.intuit_auth import IntuitAuthError, IntuitUnavailable, IssuedTokens, get_intuit_auth
from kyrios_qbo.models.api import ConnectionStatus, DisconnectResponse, SettingsPatch, SyncSettings
from kyrios_qbo.models.qbo import CompanyInfo as QboCompanyInfo
from kyrios_qbo.models.qbo import country_alpha2
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.qbo_client import QboClient
from kyrios_qbo.qbo_errors import QboAuthError, QboError
from kyrios_qbo.store import connections as store
from kyrios_qbo.store import coordination
from kyrios_qbo.store.errors import (
    AlreadyConnectedToAnotherCompany,
    NotConnected,
    OAuthStateInvalid,
    RealmOwnedByAnotherAccount,
)

STATE_TTL_SECONDS = 600
_REALM_ID = re.compile(r"[0-9]{1,32}")
_MAX_PARAM = 2048

# Home currency when Preferences cannot be read (QBO derives it from the country at sign-up).
_CURRENCY_BY_COUNTRY = {
    "US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IE": "EUR", "FR": "EUR",
    "DE": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "IN": "INR", "ZA": "ZAR", "SG": "SGD",
    "HK": "HKD", "AE": "AED", "MX": "MXN", "BR": "BRL",
}


class ConnectError(Exception):
    """The connect flow failed. ``code`` goes back to the UI (``?quickbooks=error&reason=<code>``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotConnectedError(Exception):
    """A settings change for an account without a live connection (409)."""


class SettingNotSupported(ValueError):
    """The store does not (yet) keep this setting; ``field`` names it."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Connected:
    account_id: str
    realm_id: str
    company_name: str | None


# ---------------------------------------------------------------------------------------- connect
def start_connect(account_id: str) -> str:
    """The Intuit consent URL for this account, with a fresh single-use state (256 bits, 10 minutes)."""
    state = secrets.token_urlsafe(32)
    store.put_oauth_state(state, account_id, ttl_seconds=STATE_TTL_SECONDS)
    return get_intuit_auth().authorization_url(state)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_PARAM:
        return None
    return value


def complete_connect(*, state: str | None, code: str | None, realm_id: str | None,
                     error: str | None) -> Connected:
    """Finish the OAuth redirect: check the state, exchange the code, store the connection.

    Raises :class:`ConnectError` with a short code for every refusal; stored data is unchanged then
    (apart from the state, which is used up by any callback that presents it).
    """
    state, code, realm_id, error = _clean(state), _clean(code), _clean(realm_id), _clean(error)
    if state is None:
        raise ConnectError("invalid_state", "The sign-in link is missing its state. Start again from Kyrios.")
    try:
        account_id = store.consume_oauth_state(state)
    except OAuthStateInvalid as exc:
        raise ConnectError(
            "invalid_state", f"The sign-in link is {exc.reason}. Start again from Kyrios settings."
        ) from None
    if error is not None:
        if error == "access_denied":
            raise ConnectError("access_denied", "Access to QuickBooks was not granted.")
        raise ConnectError("intuit_error", "Intuit could not complete the sign-in. Please try again.")
    if code is None or realm_id is None or not _REALM_ID.fullmatch(realm_id):
        raise ConnectError("invalid_request", "Intuit's answer lacks the code or the company id.")

    _refuse_conflicts_early(account_id, realm_id)
    auth = get_intuit_auth()
    try:
        issued = auth.exchange_code(code, realm_id)
    except IntuitUnavailable:
        raise ConnectError("intuit_unavailable", "Intuit did not answer. Try again in a moment.") from None
    except IntuitAuthError:
        raise ConnectError("code_rejected", "Intuit did not accept the sign-in. Start again.") from None

    try:
        company = read_company(realm_id, issued)
        encrypted = token_vault.encrypt_tokens(account_id, realm_id, issued)
        previous = store.get_connection(account_id)
        connection = store.connect(account_id, realm_id, company, encrypted)
    except RealmOwnedByAnotherAccount:
        _revoke_quietly(issued)
        raise ConnectError("realm_owned_by_another_account", _OWNED_MESSAGE) from None
    except AlreadyConnectedToAnotherCompany:
        _revoke_quietly(issued)
        raise ConnectError("already_connected_to_another_company", _OTHER_COMPANY_MESSAGE) from None
    except QboError as exc:
        _revoke_quietly(issued)
        logger.warning("company info unreadable after connect",
                       extra={"account_id": account_id, "realm_id": realm_id, "intuit_tid": exc.intuit_tid})
        raise ConnectError("company_unavailable",
                           "QuickBooks did not let us read the company. Please try again.") from None
    except BaseException:
        _revoke_quietly(issued)  # never leave a grant at Intuit that nobody stores
        raise

    token_vault.remember_saved(account_id, realm_id, connection.token_version, encrypted, issued)
    reconnect = previous is not None and previous.realm_id == realm_id
    metrics.add_metric(name="Connected", unit="Count", value=1)
    logger.info("quickbooks connected",
                extra={"account_id": account_id, "realm_id": realm_id, "reconnect": reconnect})
    token_vault.announce_status(account_id, realm_id, "connected", "connected from Kyrios settings")
    return Connected(account_id, realm_id, company.company_name)


_OWNED_MESSAGE = (
    "This QuickBooks company is already connected to another Kyrios account. Disconnect it there first."
)
_OTHER_COMPANY_MESSAGE = (
    "This Kyrios account is connected to a different QuickBooks company. Disconnect it first."
)


def _refuse_conflicts_early(account_id: str, realm_id: str) -> None:
    """Refuse before exchanging the code, so no grant is created at Intuit for a doomed connect.

    ``store.connect`` enforces the same rules atomically; this is only the cheap common case.
    """
    owner = store.get_account_for_realm(realm_id)
    if owner is not None and owner != account_id:
        raise ConnectError("realm_owned_by_another_account", _OWNED_MESSAGE)
    current = store.get_connection(account_id)
    if current is not None and current.status != "disconnected" and current.realm_id != realm_id:
        raise ConnectError("already_connected_to_another_company", _OTHER_COMPANY_MESSAGE)


class _IssuedTokenProvider:
    """Token provider over tokens just issued (nothing stored yet): no refresh possible."""

    def __init__(self, realm_id: str, issued: IssuedTokens) -> None:
        self._realm_id = realm_id
        self._issued = issued

    def access_token(self, realm_id: str) -> str:
        if realm_id != self._realm_id:
            raise ValueError("token provider asked for another company")
        return self._issued.access_token

    def refresh_after_unauthorized(self, realm_id: str, rejected_token: str) -> str:
        # The code was issued for another company than the realmId of the redirect, or revoked.
        raise QboAuthError(status=401, message="fresh tokens were refused for this company")


def read_company(realm_id: str, issued: IssuedTokens) -> store.CompanyInfo:
    """Name, country and home currency of the company, read with the tokens just issued.

    Reading it also proves the tokens belong to ``realm_id`` (the redirect's ``realmId`` is only a
    query parameter).
    """
    client = QboClient(realm_id, _IssuedTokenProvider(realm_id, issued))
    info = QboCompanyInfo.model_validate(client.company_info())
    country = info.country_alpha2
    currency = _home_currency(client) or _CURRENCY_BY_COUNTRY.get(country or "")
    name = info.company_name or info.legal_name
    return store.CompanyInfo(company_name=name, country=country, currency=currency)


def _home_currency(client: QboClient) -> str | None:
    try:
        rows = client.query("SELECT * FROM Preferences")
    except QboError:
        return None
    for row in rows:
        home: Any = (row.get("CurrencyPrefs") or {}).get("HomeCurrency") or {}
        value = home.get("value") if isinstance(home, dict) else None
        if isinstance(value, str) and re.fullmatch(r"[A-Z]{3}", value):
            return value
    return None


def _revoke_quietly(issued: IssuedTokens) -> None:
    try:
        get_intuit_auth().revoke(issued.refresh_token)
    except Exception as exc:
        logger.warning("could not revoke unused tokens", extra={"error": type(exc).__name__})


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
    return ConnectionStatus(
        status="connected" if connection.status == "connected" else "needs_reconnect",
        realm_id=connection.realm_id,
        company_name=connection.company.company_name,
        country=country_alpha2(connection.company.country),
        currency=connection.company.currency,
        connected_at=_parse_time(connection.connected_at),
        settings=SyncSettings.model_validate(connection.settings),
        last_sync_at=coordination.cursor_moved_at(connection.realm_id, coordination.POLL_CURSOR),
    )


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
