"""Intuit OAuth 2.0 through ``intuitlib``: authorize URL, code exchange, refresh, revoke.

``intuitlib.AuthClient`` is a ``requests.Session`` that fetches the OpenID discovery document in its
constructor and keeps the last tokens as attributes. So there is ONE per container (discovery fetched
once), every stateful call runs under a lock, and the token attributes are wiped before and after
each call: a token never outlives the call that produced it inside the shared object. intuitlib sets
no timeouts; :class:`_TimedAuthClient` gives every request one.

Errors become typed: :class:`InvalidGrant` (the refresh token or code is no longer valid: the user
must reconnect), :class:`IntuitUnavailable` (timeouts, resets, 429, 5xx: retry later) and
:class:`IntuitAuthError` for the rest. Each keeps Intuit's ``intuit_tid`` for support requests.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from intuitlib.client import AuthClient
from intuitlib.enums import Scopes
from intuitlib.exceptions import AuthClientError

from kyrios_qbo.config import ConfigError, get_settings
from kyrios_qbo.intuit_app import IntuitApp, get_intuit_app
from kyrios_qbo.observability import logger

T = TypeVar("T")

SCOPES = [Scopes.ACCOUNTING]
"""Accounting only: no ``openid`` means no id_token, whose validation in intuitlib makes an
untimed request to the JWKS endpoint."""

_TOKEN_ATTRIBUTES = (
    "access_token",
    "refresh_token",
    "expires_in",
    "x_refresh_token_expires_in",
    "x_refresh_token_hard_expires_in",
    "id_token",
    "realm_id",
    "state_token",
)


class IntuitAuthError(Exception):
    """Intuit's OAuth server refused a call (or could not be asked)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error: str | None = None,
        intuit_tid: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        """The OAuth ``error`` code Intuit answered (``invalid_grant``, ``invalid_client`` ...)."""
        self.intuit_tid = intuit_tid
        details = ", ".join(
            part
            for part in (
                f"HTTP {status}" if status is not None else "",
                f"error {error}" if error else "",
                f"intuit_tid {intuit_tid}" if intuit_tid else "",
            )
            if part
        )
        super().__init__(f"{message} ({details})" if details else message)


class InvalidGrant(IntuitAuthError):
    """The authorization code or refresh token is invalid, expired or revoked: reconnect needed."""


class IntuitUnavailable(IntuitAuthError):
    """Intuit could not be reached, timed out, throttled or failed on its side: try again later."""

    retryable = True


@dataclass(frozen=True)
class IssuedTokens:
    """Tokens from the token endpoint. Values are hidden from ``repr`` so they never reach a log."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float
    """Epoch seconds, computed from ``expires_in`` and the time the request was sent."""
    refresh_expires_at: float | None = None
    refresh_hard_expires_at: float | None = None


class _TimedAuthClient(AuthClient):  # type: ignore[misc]  # intuitlib has no type hints
    """``AuthClient`` whose every HTTP request (discovery included) has a timeout."""

    def __init__(self, *args: Any, timeout: float, **kwargs: Any) -> None:
        self._timeout = timeout  # set first: the parent constructor already fetches discovery
        super().__init__(*args, **kwargs)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        response: requests.Response = super().request(method, url, *args, **kwargs)
        return response


def _oauth_error_code(content: bytes | None) -> str | None:
    """The ``error`` field of an OAuth error body, if the body is JSON that has one."""
    if not content:
        return None
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) and len(error) <= 64 else None


def translate_error(exc: BaseException, *, what: str) -> IntuitAuthError:
    """The typed error for a failed intuitlib call. Never includes the response body (it may echo input)."""
    if isinstance(exc, AuthClientError):
        status = exc.status_code
        error = _oauth_error_code(exc.content)
        tid = exc.intuit_tid if isinstance(exc.intuit_tid, str) else None
        said: dict[str, Any] = {"status": status, "error": error, "intuit_tid": tid}
        if error == "invalid_grant":
            return InvalidGrant(f"{what}: Intuit rejected the grant", **said)
        if status == 429 or status >= 500:
            return IntuitUnavailable(f"{what}: Intuit is unavailable", **said)
        return IntuitAuthError(f"{what}: Intuit refused the request", **said)
    if isinstance(exc, requests.RequestException):
        return IntuitUnavailable(f"{what}: {type(exc).__name__}")
    if isinstance(exc, ValueError):  # a 200 whose body is not JSON
        return IntuitUnavailable(f"{what}: unreadable answer from Intuit")
    return IntuitAuthError(f"{what}: {type(exc).__name__}")


class IntuitAuth:
    """The OAuth operations this bundle needs, thread-safe over one shared ``AuthClient``."""

    def __init__(self, app: IntuitApp, *, redirect_uri: str, environment: str, timeout: float) -> None:
        try:
            self._client = _TimedAuthClient(
                app.client_id, app.client_secret, redirect_uri, environment, timeout=timeout
            )
        except Exception as exc:  # discovery document unreachable or malformed
            raise translate_error(exc, what="discovery") from None
        self._client.include_refresh_token_hard_expires_in = True
        self._redirect_uri = redirect_uri
        self._lock = threading.Lock()

    def _wipe(self) -> None:
        for name in _TOKEN_ATTRIBUTES:
            setattr(self._client, name, None)

    def authorization_url(self, state: str) -> str:
        """The Intuit consent URL carrying our own random ``state`` (intuitlib's default is weak)."""
        if not self._redirect_uri:
            raise ConfigError("environment variable OAUTH_REDIRECT_URI is not set for this function")
        with self._lock:
            try:
                url: str = self._client.get_authorization_url(SCOPES, state_token=state)
            finally:
                self._wipe()
        return url

    def _token_call(self, what: str, call: Any, *args: Any) -> IssuedTokens:
        with self._lock:
            self._wipe()
            sent_at = time.time()
            try:
                call(*args)
                tokens = self._issued(sent_at)
            except IntuitAuthError:
                raise
            except Exception as exc:
                error = translate_error(exc, what=what)
                logger.warning(
                    "intuit token call failed",
                    extra={"operation": what, "status": error.status, "error": error.error,
                           "intuit_tid": error.intuit_tid},
                )
                raise error from None
            finally:
                self._wipe()
        return tokens

    def _issued(self, sent_at: float) -> IssuedTokens:
        client = self._client
        access, refresh = client.access_token, client.refresh_token
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise IntuitAuthError("token endpoint answered without access_token/refresh_token")
        try:
            expires_in = float(client.expires_in) if client.expires_in is not None else 3600.0
        except (TypeError, ValueError):
            expires_in = 3600.0

        def later(seconds: Any) -> float | None:
            try:
                return sent_at + float(seconds) if seconds is not None else None
            except (TypeError, ValueError):
                return None

        return IssuedTokens(
            access_token=access,
            refresh_token=refresh,
            access_expires_at=sent_at + expires_in,
            refresh_expires_at=later(client.x_refresh_token_expires_in),
            refresh_hard_expires_at=later(client.x_refresh_token_hard_expires_in),
        )

    def exchange_code(self, code: str, realm_id: str) -> IssuedTokens:
        """Trade the authorization code from the callback for tokens."""
        if not self._redirect_uri:
            raise ConfigError("environment variable OAUTH_REDIRECT_URI is not set for this function")
        return self._token_call("exchange_code", self._client.get_bearer_token, code, realm_id)

    def refresh(self, refresh_token: str, *, attempts: int = 2) -> IssuedTokens:
        """New tokens for a refresh token. Transport failures are retried (a bounded few times)."""
        return _with_retries(
            lambda: self._token_call("refresh", self._client.refresh, refresh_token), attempts
        )

    def revoke(self, token: str, *, attempts: int = 3) -> None:
        """Revoke a refresh (or access) token at Intuit, retrying transient failures."""

        def call() -> None:
            with self._lock:
                self._wipe()
                try:
                    self._client.revoke(token=token)
                except Exception as exc:
                    raise translate_error(exc, what="revoke") from None
                finally:
                    self._wipe()

        _with_retries(call, attempts)


def _with_retries(call: Callable[[], T], attempts: int) -> T:
    """Run ``call``; on :class:`IntuitUnavailable` try again after a short jittered backoff."""
    for attempt in range(1, max(1, attempts) + 1):
        try:
            return call()
        except IntuitUnavailable:
            if attempt >= attempts:
                raise
            time.sleep(random.uniform(0, 0.2 * 2**attempt))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")


_auth_lock = threading.Lock()
_auth: dict[tuple[str, ...], IntuitAuth] = {}


def get_intuit_auth() -> IntuitAuth:
    """The container's :class:`IntuitAuth` for the current settings and app credentials.

    Keyed by everything it was built from, so a rotated secret or another environment (tests) gets a
    new client while a warm container reuses its discovery document and connection pool.
    """
    settings = get_settings()
    app = get_intuit_app()
    key = (
        app.client_id,
        app.client_secret,
        settings.oauth_redirect_uri or "",
        settings.discovery_environment,
        str(settings.http_timeout_seconds),
    )
    auth = _auth.get(key)
    if auth is None:
        with _auth_lock:
            auth = _auth.get(key)
            if auth is None:
                auth = IntuitAuth(
                    app,
                    redirect_uri=settings.oauth_redirect_uri or "",
                    environment=settings.discovery_environment,
                    timeout=settings.http_timeout_seconds,
                )
                _auth[key] = auth
    return auth
