"""Connect QuickBooks: a connection belongs to the Kyrios user who started it and approved at Intuit.

Three steps (threat model in README, "The Connect flow"):

1. :func:`start_connect` (authenticated ``POST …/connect``): a fresh single-use ``state`` bound to the
   caller's account and user (their token's ``sub``), and Intuit's consent URL carrying it.
2. :func:`return_from_intuit` (Intuit's redirect to the public callback): uses the state up, keeps the
   company id and the authorization code (encrypted) under a new random ``ref``, and sends the
   browser to the Kyrios page with that ref. It exchanges nothing: whoever sent someone else a
   consent link learns neither the ref nor gets a grant.
3. :func:`complete_connect` (authenticated ``POST …/connect/complete`` from the Kyrios page): uses
   the ref up and refuses unless the caller is the account and user who started. Only then is the code
   exchanged: a refused, replayed or late completion leaves no grant at Intuit (the unexchanged code
   dies there within minutes). Whatever fails after the exchange revokes the new tokens.

Company rules (one company per account, one account per company):
- a company connected to another Kyrios account is refused; so is a second company while one is
  connected (or awaiting reconnection) — disconnect first;
- reconnecting the same company stores the new tokens and keeps settings, cursors and mappings;
- ``connected_at`` is the cutoff for "only contacts and invoices created after the integration": set
  by the first connection of a company to an account and KEPT on reconnects (also after a
  disconnect): what happened in between is caught up by the sync cursors.

Every refusal is a :class:`ConnectError` whose ``code`` the UI turns into a sentence.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from kyrios_qbo import dead_letters, store
from kyrios_qbo import reconnect as reconnect_notice
from kyrios_qbo import tokens as token_vault
from kyrios_qbo.intuit_auth import IntuitAuthError, IntuitUnavailable, IssuedTokens, get_intuit_auth
from kyrios_qbo.models.qbo import CompanyInfo as QboCompanyInfo
from kyrios_qbo.observability import logger, metrics
from kyrios_qbo.qbo_client import QboClient
from kyrios_qbo.qbo_errors import QboAuthError, QboError

STATE_TTL_SECONDS = 600
"""From the click on Connect to Intuit's redirect: time to sign in at Intuit and pick a company."""
RETURN_TTL_SECONDS = 300
"""From Intuit's redirect to the completion: the Kyrios page completes at once when it loads; Intuit's
authorization codes are short-lived anyway."""
_TOO_LATE = "The sign-in took too long. Start again from Kyrios."
_REALM_ID = re.compile(r"[0-9]{1,32}")
_MAX_PARAM = 2048

# Home currency when Preferences cannot be read (QBO derives it from the country at sign-up).
_CURRENCY_BY_COUNTRY = {
    "US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "IE": "EUR", "FR": "EUR",
    "DE": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "IN": "INR", "ZA": "ZAR", "SG": "SGD",
    "HK": "HKD", "AE": "AED", "MX": "MXN", "BR": "BRL",
}


REFUSALS = frozenset({
    "invalid_state", "state_expired", "access_denied", "intuit_error", "invalid_request",
    "wrong_account", "wrong_user", "code_rejected", "intuit_unavailable", "company_unavailable",
    "realm_owned_by_another_account", "already_connected_to_another_company",
})
"""Every refusal code of the flow (the settings page has a sentence for each, tested)."""


class ConnectError(Exception):
    """The connect flow was refused. ``code`` is stable (the UI maps it to a sentence); ``status`` is
    the HTTP status of the completion's answer."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        if code not in REFUSALS:
            raise ValueError(f"unknown refusal code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Connected:
    account_id: str
    realm_id: str
    company_name: str | None
    reconnect: bool
    resumed: int = 0
    """Pushes parked because of the connection and sent again now (``dead_letters``)."""


# ---------------------------------------------------------------------------------------- 1. start
def start_connect(account_id: str, user_id: str) -> str:
    """The Intuit consent URL for this user, with a fresh single-use state (256 bits, 10 minutes)."""
    state = secrets.token_urlsafe(32)
    store.put_oauth_state(state, store.StartedFlow(account_id, user_id), ttl_seconds=STATE_TTL_SECONDS)
    return get_intuit_auth().authorization_url(state)


# ---------------------------------------------------------------------------------------- 2. return
def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_PARAM:
        return None
    return value


def _used_state(state: str | None) -> store.StartedFlow:
    if state is None:
        raise ConnectError("invalid_state", "The sign-in link is missing its state. Start again from Kyrios.")
    try:
        return store.consume_oauth_state(state)
    except store.OAuthStateInvalid as exc:
        if exc.reason == "expired":
            raise ConnectError("state_expired", _TOO_LATE) from None
        raise ConnectError(
            "invalid_state", f"The sign-in link is {exc.reason}. Start again from Kyrios settings."
        ) from None


def return_from_intuit(*, state: str | None, code: str | None, realm_id: str | None,
                       error: str | None) -> str:
    """Intuit's redirect: keep its answer for the user who started, return the ref for their page.

    The state is used up by any redirect that presents it. Raises :class:`ConnectError`.
    """
    state, code, realm_id, error = _clean(state), _clean(code), _clean(realm_id), _clean(error)
    started = _used_state(state)
    if error is not None:
        if error == "access_denied":
            raise ConnectError("access_denied", "Access to QuickBooks was not granted.")
        raise ConnectError("intuit_error", "Intuit could not complete the sign-in. Please try again.")
    if code is None or realm_id is None or not _REALM_ID.fullmatch(realm_id):
        raise ConnectError("invalid_request", "Intuit's answer lacks the code or the company id.")
    ref = secrets.token_urlsafe(32)
    returned = store.ReturnedAuthorization(
        account_id=started.account_id,
        user_id=started.user_id,
        realm_id=realm_id,
        code_ciphertext=token_vault.encrypt_code(started.account_id, realm_id, code),
    )
    store.put_returned_authorization(ref, returned, ttl_seconds=RETURN_TTL_SECONDS)
    return ref


# ---------------------------------------------------------------------------------------- 3. complete
_OWNED_MESSAGE = (
    "This QuickBooks company is already connected to another Kyrios account. Disconnect it there first."
)
_OTHER_COMPANY_MESSAGE = (
    "This Kyrios account is connected to a different QuickBooks company. Disconnect it first."
)


_NOT_THE_STARTER = {
    "wrong_account": "This QuickBooks sign-in was started from another Kyrios account. Nothing was "
    "connected; start again from your own Kyrios settings.",
    "wrong_user": "This QuickBooks sign-in was started by another Kyrios user. Nothing was connected; "
    "whoever connects QuickBooks must start and approve it themselves.",
}


def _returned_for(ref: str | None, account_id: str, user_id: str) -> store.ReturnedAuthorization:
    ref = _clean(ref)
    if ref is None:
        raise ConnectError("invalid_state", "The connection reference is missing. Start again from Kyrios.")
    try:
        returned = store.consume_returned_authorization(ref)
    except store.OAuthStateInvalid as exc:
        if exc.reason == "expired":
            raise ConnectError("state_expired", _TOO_LATE) from None
        raise ConnectError(
            "invalid_state", "This sign-in was already used or is unknown. Start again from Kyrios."
        ) from None
    mismatch = ("wrong_account" if returned.account_id != account_id
                else "wrong_user" if returned.user_id != user_id else None)
    if mismatch is not None:
        logger.warning("connect completion refused",
                       extra={"reason": mismatch, "account_id": account_id, "realm_id": returned.realm_id})
        metrics.add_metric(name="ConnectCompletionRefused", unit="Count", value=1)
        raise ConnectError(mismatch, _NOT_THE_STARTER[mismatch], status=403)
    return returned


def complete_connect(*, ref: str | None, account_id: str, user_id: str) -> Connected:
    """Exchange the code kept under ``ref`` for the caller, store the connection.

    Raises :class:`ConnectError`; stored data is unchanged then (apart from the ref, used up by any
    completion that presents it) and no grant is left at Intuit.
    """
    returned = _returned_for(ref, account_id, user_id)
    realm_id = returned.realm_id
    _refuse_conflicts_early(account_id, realm_id)
    code = token_vault.decrypt_code(account_id, realm_id, returned.code_ciphertext)
    try:
        issued = get_intuit_auth().exchange_code(code, realm_id)
    except IntuitUnavailable:
        raise ConnectError("intuit_unavailable", "Intuit did not answer. Start again soon.", 503) from None
    except IntuitAuthError:
        raise ConnectError("code_rejected", "Intuit did not accept the sign-in. Start again.", 422) from None

    try:
        company = read_company(realm_id, issued)
        encrypted = token_vault.encrypt_tokens(account_id, realm_id, issued)
        previous = store.get_connection(account_id)
        connection = store.connect(account_id, realm_id, company, encrypted)
    except store.RealmOwnedByAnotherAccount:
        _revoke_quietly(issued)
        raise ConnectError("realm_owned_by_another_account", _OWNED_MESSAGE, 409) from None
    except store.AlreadyConnectedToAnotherCompany:
        _revoke_quietly(issued)
        raise ConnectError("already_connected_to_another_company", _OTHER_COMPANY_MESSAGE, 409) from None
    except QboError as exc:
        _revoke_quietly(issued)
        logger.warning("company info unreadable after connect",
                       extra={"account_id": account_id, "realm_id": realm_id, "intuit_tid": exc.intuit_tid})
        raise ConnectError("company_unavailable",
                           "QuickBooks did not let us read the company. Please try again.", 422) from None
    except BaseException:
        _revoke_quietly(issued)  # never leave a grant at Intuit that nobody stores
        raise

    token_vault.remember_saved(account_id, realm_id, connection.token_version, encrypted, issued)
    reconnect = previous is not None and previous.realm_id == realm_id
    metrics.add_metric(name="Connected", unit="Count", value=1)
    logger.info("quickbooks connected",
                extra={"account_id": account_id, "realm_id": realm_id, "reconnect": reconnect})
    token_vault.announce_status(account_id, realm_id, "connected", "connected from Kyrios settings")
    reconnect_notice.warn_if_soon(account_id, realm_id, encrypted)  # a grant already near its end
    return Connected(account_id, realm_id, company.company_name, reconnect, _resume_parked(account_id))


def _resume_parked(account_id: str) -> int:
    """Send again what was parked only because the connection needed renewing (tokens revoked or
    expired): reconnecting is all it waited for. What was parked for a permanent reason stays until
    the document changes or the user presses *Retry failed changes*. A failure here never undoes the
    connection: the user's retry still works."""
    try:
        return dead_letters.redrive(account_id, only=dead_letters.because_of_connection).moved
    except Exception as exc:
        logger.warning("parked pushes not resumed after connecting",
                       extra={"account_id": account_id, "error": type(exc).__name__})
        return 0


def _refuse_conflicts_early(account_id: str, realm_id: str) -> None:
    """Refuse before exchanging the code, so no grant is created at Intuit for a doomed connect.

    ``store.connect`` enforces the same rules atomically; this is only the cheap common case.
    """
    owner = store.get_account_for_realm(realm_id)
    if owner is not None and owner != account_id:
        raise ConnectError("realm_owned_by_another_account", _OWNED_MESSAGE, 409)
    current = store.get_connection(account_id)
    if current is not None and current.status != "disconnected" and current.realm_id != realm_id:
        raise ConnectError("already_connected_to_another_company", _OTHER_COMPANY_MESSAGE, 409)


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
