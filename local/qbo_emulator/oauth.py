"""Intuit OAuth 2.0 / OpenID Connect, enough for ``intuitlib.client.AuthClient`` to run unchanged.

Sources: docs/qbo-facts.md ("OAuth 2.0"), discovery-document-sandbox.json (discovery keys),
oauth-token-response.json (token response), oauth-token-error-invalid-grant.json (error body),
intuitlib/client.py + utils.py (what the client sends and reads; ``AuthClientError`` reads the
``intuit_tid`` header).

Model:
- authorization codes are single-use and live ``code_ttl_seconds`` (emulator time);
- access tokens live ``access_ttl_seconds`` (3600); refresh tokens ``refresh_ttl_seconds`` (100 days,
  rolling) with ``x_refresh_token_expires_in``; a 5-year hard limit reported only when the request
  carries ``x-include-refresh-token-hard-expires-in: true``;
- ``refresh_rotation="daily"`` (default, Intuit's rule): a refresh returns the SAME refresh token value
  until ``refresh_rotation_seconds`` (24 h) after it was issued, without extending its expiry; the
  first refresh after that returns a new value and the previous one expires at once (Intuit help
  article "Validity of Refresh Token", quoted in intuit/QuickBooks-V3-PHP-SDK#454 and #324: "if a new
  Refresh Token is returned, the previous one expires"; the value "can change every 24-26 hour
  period", intuit/oauth-jsclient#74). ``refresh_rotation="strict"`` rotates on every refresh (the
  token-race tests). Either way the previous value keeps working for
  ``refresh_grace_seconds`` (default 0, then ``invalid_grant``); a refresh stays "in flight" for
  ``refresh_latency_seconds`` (real time) and a second refresh of the same grant during that window
  loses with ``invalid_grant`` (the refresh race of docs/qbo-facts.md);
- revoking a refresh or access token kills the whole grant (all its tokens).
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Flask, Response, request

from . import jsonfmt

if TYPE_CHECKING:
    from .core import Emulator

SCOPE_ACCOUNTING = "com.intuit.quickbooks.accounting"


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    webhook_url: str | None = None
    verifier_token: str = "emulator-verifier-token"
    webhook_format: str = "legacy"  # or "cloudevents"
    name: str = "Kyrios"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AuthCode:
    code: str
    client_id: str
    realm: str
    redirect_uri: str
    scope: str
    expires_at: datetime
    used: bool = False
    grant_id: str | None = None


@dataclass
class Grant:
    id: str
    client_id: str
    realm: str
    scope: str
    refresh_token: str
    refresh_expires_at: datetime
    hard_expires_at: datetime
    revoked: bool = False
    in_flight_until: float = 0.0
    old_refresh: dict[str, datetime] = field(default_factory=dict)  # old value -> dies at
    refresh_issued_at: datetime | None = None  # when the current refresh token value was issued


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: datetime


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        out = {}
        if self.description:
            out["error_description"] = self.description
        out["error"] = self.error
        return out


def _invalid_grant() -> OAuthError:
    # oauth-token-error-invalid-grant.json
    return OAuthError(400, "invalid_grant", "Token invalid")


class OAuthStore:
    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_index: dict[str, str] = {}  # refresh token (current or old) -> grant id
        self.access: dict[str, AccessToken] = {}
        self._rsa_lock = threading.Lock()
        self._rsa_key: Any = None
        self.kid = "emulator-" + secrets.token_hex(6)

    def clear_tokens(self) -> None:
        self.codes.clear()
        self.grants.clear()
        self.refresh_index.clear()
        self.access.clear()

    # ------------------------------------------------------------------ tokens
    @staticmethod
    def _new_refresh() -> str:
        # Intuit refresh tokens look like "AB11" + digits + letters (oauth-token-response.json "L311...")
        return "AB11" + str(int(time.time())) + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")

    @staticmethod
    def _new_access() -> str:
        return "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(48)

    def new_grant(self, emu: Emulator, client_id: str, realm: str, scope: str) -> tuple[Grant, AccessToken]:
        now = emu.state.now()
        cfg = emu.state.config
        grant = Grant(
            id=uuid.uuid4().hex,
            client_id=client_id,
            realm=realm,
            scope=scope,
            refresh_token=self._new_refresh(),
            refresh_expires_at=now + timedelta(seconds=cfg.refresh_ttl_seconds),
            hard_expires_at=now + timedelta(seconds=cfg.refresh_hard_ttl_seconds),
        )
        grant.refresh_issued_at = now
        self.grants[grant.id] = grant
        self.refresh_index[grant.refresh_token] = grant.id
        return grant, self.new_access(emu, grant)

    def new_access(self, emu: Emulator, grant: Grant) -> AccessToken:
        tok = AccessToken(
            self._new_access(),
            grant.id,
            emu.state.now() + timedelta(seconds=emu.state.config.access_ttl_seconds),
        )
        self.access[tok.token] = tok
        return tok

    def token_response(
        self, emu: Emulator, grant: Grant, access: AccessToken, want_hard: bool
    ) -> dict[str, Any]:
        now = emu.state.now()
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": int((access.expires_at - now).total_seconds() + 0.5),
            "refresh_token": grant.refresh_token,
            "x_refresh_token_expires_in": int(
                (min(grant.refresh_expires_at, grant.hard_expires_at) - now).total_seconds() + 0.5
            ),
            "access_token": access.token,
        }
        if want_hard:
            body["x_refresh_token_hard_expires_in"] = int((grant.hard_expires_at - now).total_seconds() + 0.5)
        if "openid" in grant.scope.split():
            body["id_token"] = self.id_token(emu, grant)
        return body

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True
        for tok in [t for t, a in self.access.items() if a.grant_id == grant.id]:
            del self.access[tok]

    def live_grants(self, realm: str | None = None, client_id: str | None = None) -> list[Grant]:
        return [
            g
            for g in self.grants.values()
            if not g.revoked
            and (realm is None or g.realm == realm)
            and (client_id is None or g.client_id == client_id)
        ]

    # ------------------------------------------------------------------ OpenID
    def _key(self) -> Any:
        with self._rsa_lock:
            if self._rsa_key is None:
                from cryptography.hazmat.primitives.asymmetric import rsa

                self._rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._rsa_key

    def jwks(self) -> dict[str, Any]:
        import json as _json

        from jwt.algorithms import RSAAlgorithm

        jwk = _json.loads(RSAAlgorithm.to_jwk(self._key().public_key()))
        jwk |= {"kid": self.kid, "alg": "RS256", "use": "sig"}
        return {"keys": [jwk]}

    def id_token(self, emu: Emulator, grant: Grant) -> str:
        import jwt

        # intuitlib checks ``exp`` against the real wall clock, so real time here.
        now = int(time.time())
        payload = {
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, grant.client_id + grant.realm)),
            "aud": [grant.client_id],
            "realmid": grant.realm,
            "auth_time": now,
            "iss": emu.issuer,
            "exp": now + 3600,
            "iat": now,
        }
        return jwt.encode(payload, self._key(), algorithm="RS256", headers={"kid": self.kid})


# ---------------------------------------------------------------------- HTTP
def _client_auth(emu: Emulator) -> App:
    header = request.headers.get("Authorization", "")
    client_id = secret = None
    if header.lower().startswith("basic "):
        try:
            raw = base64.b64decode(header[6:].strip()).decode("utf-8")
            client_id, _, secret = raw.partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = secret = None
    elif request.form.get("client_id"):
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    app = emu.oauth.apps.get(client_id or "")
    if app is None or not secrets.compare_digest(app.client_secret, secret or ""):
        raise OAuthError(401, "invalid_client")
    return app


def _json(status: int, body: Any, extra: dict[str, str] | None = None) -> Response:
    resp = Response(jsonfmt.dumps(body), status=status, content_type="application/json;charset=UTF-8")
    resp.headers["Cache-Control"] = "no-store"
    for k, v in (extra or {}).items():
        resp.headers[k] = v
    return resp


CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Connect {app_name} to QuickBooks (emulator)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}}
main{{border:1px solid #ccc;border-radius:8px;padding:1.5rem}}
label{{display:block;font-weight:600;margin:.5rem 0}}
select{{width:100%;padding:.5rem;font-size:1rem}}.actions{{display:flex;gap:1rem;margin-top:1.5rem}}
button{{padding:.6rem 1.4rem;font-size:1rem;border-radius:4px;border:1px solid #2ca01c;cursor:pointer}}
.connect{{background:#2ca01c;color:#fff}}.cancel{{background:#fff;color:#2ca01c}}
button:focus{{outline:3px solid #0077c5;outline-offset:2px}}</style></head>
<body><main aria-labelledby="title">
<h1 id="title">{app_name} wants to connect to your QuickBooks company</h1>
<p>This is the QuickBooks Online <strong>emulator</strong>. {app_name} asks for access to: {scopes}.</p>
<form method="post" action="{action}">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="scope" value="{scope}">
<input type="hidden" name="state" value="{state}">
<label for="realm">Company</label>
<select id="realm" name="realm" required>{options}</select>
<div class="actions">
<button type="submit" class="connect" name="decision" value="approve">Connect</button>
<button type="submit" class="cancel" name="decision" value="deny">Cancel</button>
</div></form></main></body></html>"""


def _error_page(message: str) -> Response:
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head><body>'
        f'<main><h1>Something went wrong</h1><p role="alert">{html.escape(message)}</p></main></body></html>'
    )
    return Response(body, status=400, content_type="text/html; charset=utf-8")


def register(flask_app: Flask, emu: Emulator) -> None:
    def discovery() -> Response:
        return _json(200, emu.discovery_document())

    flask_app.add_url_rule("/.well-known/openid_configuration", "discovery", discovery)
    flask_app.add_url_rule("/.well-known/openid_configuration/", "discovery_slash", discovery)
    flask_app.add_url_rule("/.well-known/openid_sandbox_configuration", "discovery_sb", discovery)
    flask_app.add_url_rule("/.well-known/openid_sandbox_configuration/", "discovery_sb_slash", discovery)

    def _redirect_with(redirect_uri: str, params: dict[str, str]) -> Response:
        sep = "&" if "?" in redirect_uri else "?"
        resp = Response("", status=302)
        resp.headers["Location"] = redirect_uri + sep + urlencode(params)
        return resp

    def _issue_code(app: App, realm: str, redirect_uri: str, scope: str) -> str:
        code = "AB11" + secrets.token_urlsafe(24)
        with emu.state.lock:
            emu.oauth.codes[code] = AuthCode(
                code,
                app.client_id,
                realm,
                redirect_uri,
                scope,
                emu.state.now() + timedelta(seconds=emu.state.config.code_ttl_seconds),
            )
        return code

    @flask_app.route("/connect/oauth2", methods=["GET", "POST"])
    def authorize() -> Response:
        src = request.values
        client_id = src.get("client_id", "")
        redirect_uri = src.get("redirect_uri", "")
        state = src.get("state", "")
        scope = src.get("scope", "")
        with emu.state.lock:
            app = emu.oauth.apps.get(client_id)
            companies = sorted(emu.state.companies.values(), key=lambda c: c.realm_id)
        if app is None:
            return _error_page("Unknown client_id: the app is not registered.")
        if redirect_uri not in app.redirect_uris:
            return _error_page("The redirect_uri is not registered for this app.")
        base = {"state": state} if state else {}
        if request.method == "GET":
            if src.get("response_type") != "code":
                return _redirect_with(redirect_uri, {"error": "unsupported_response_type"} | base)
            if not scope.strip():
                return _redirect_with(redirect_uri, {"error": "invalid_scope"} | base)
        auto = src.get("emulator_auto") or (src.get("decision") if request.method == "POST" else None)
        if auto in ("deny", "cancel"):
            return _redirect_with(redirect_uri, {"error": "access_denied"} | base)
        if auto == "approve":
            realm = src.get("realm") or (companies[0].realm_id if companies else "")
            if realm not in {c.realm_id for c in companies}:
                return _error_page(f"Unknown company {realm}.")
            code = _issue_code(app, realm, redirect_uri, scope)
            return _redirect_with(redirect_uri, {"code": code} | base | {"realmId": realm})
        options = "".join(
            f'<option value="{html.escape(c.realm_id)}">{html.escape(c.name)} ({html.escape(c.country)}, '
            f"{html.escape(c.home_currency)})</option>"
            for c in companies
        )
        page = CONSENT_PAGE.format(
            app_name=html.escape(app.name),
            scopes=html.escape(scope),
            action="/connect/oauth2",
            client_id=html.escape(client_id),
            redirect_uri=html.escape(redirect_uri),
            scope=html.escape(scope),
            state=html.escape(state),
            options=options,
        )
        return Response(page, status=200, content_type="text/html; charset=utf-8")

    @flask_app.route("/oauth2/v1/tokens/bearer", methods=["POST"])
    def token() -> Response:
        try:
            return _json(200, _token(emu))
        except OAuthError as err:
            extra = {"WWW-Authenticate": 'Basic realm="Intuit"'} if err.status == 401 else None
            return _json(err.status, err.body(), extra)

    @flask_app.route("/v2/oauth2/tokens/revoke", methods=["POST"])
    def revoke() -> Response:
        try:
            _client_auth(emu)
        except OAuthError as err:
            return _json(err.status, err.body())
        body: Any = request.get_json(silent=True, force=True) or {}
        tok = str(body.get("token") or request.form.get("token") or "")
        if not tok:
            return _json(400, {"error": "invalid_request"})
        with emu.state.lock:
            store = emu.oauth
            grant_id = store.refresh_index.get(tok) or (
                store.access[tok].grant_id if tok in store.access else None
            )
            if grant_id is not None:
                store.revoke_grant(store.grants[grant_id])
        return Response("", status=200)

    @flask_app.route("/v1/openid_connect/userinfo", methods=["GET"])
    def userinfo() -> Response:
        header = request.headers.get("Authorization", "")
        tok = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with emu.state.lock:
            acc = emu.oauth.access.get(tok)
            if acc is None or acc.expires_at <= emu.state.now():
                return _json(401, {"error": "invalid_token"})
            grant = emu.oauth.grants[acc.grant_id]
        return _json(
            200,
            {
                "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, grant.client_id + grant.realm)),
                "email": "owner@example.com",
                "emailVerified": True,
                "givenName": "Emulator",
                "familyName": "Owner",
            },
        )

    @flask_app.route("/op/v1/jwks", methods=["GET"])
    def jwks() -> Response:
        return _json(200, emu.oauth.jwks())


def _token(emu: Emulator) -> dict[str, Any]:
    app = _client_auth(emu)
    grant_type = request.form.get("grant_type", "")
    want_hard = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
    store = emu.oauth
    cfg = emu.state.config
    if grant_type == "authorization_code":
        code = request.form.get("code", "")
        with emu.state.lock:
            ac = store.codes.get(code)
            now = emu.state.now()
            if ac is None or ac.client_id != app.client_id:
                raise _invalid_grant()
            if ac.used:
                # a replayed code also revokes what it produced (RFC 6749 4.1.2)
                for g in store.live_grants(ac.realm, ac.client_id):
                    if g.id == ac.grant_id:
                        store.revoke_grant(g)
                raise _invalid_grant()
            ac.used = True
            if ac.expires_at <= now:
                raise _invalid_grant()
            if request.form.get("redirect_uri", "") != ac.redirect_uri:
                raise _invalid_grant()
            grant, access = store.new_grant(emu, app.client_id, ac.realm, ac.scope)
            ac.grant_id = grant.id
            return store.token_response(emu, grant, access, want_hard)
    if grant_type == "refresh_token":
        rt = request.form.get("refresh_token", "")
        with emu.state.lock:
            now = emu.state.now()
            gid = store.refresh_index.get(rt)
            found = store.grants.get(gid or "")
            if found is None or found.client_id != app.client_id or found.revoked:
                raise _invalid_grant()
            grant = found
            if grant.client_id != app.client_id or grant.revoked:
                raise _invalid_grant()
            if now >= grant.refresh_expires_at or now >= grant.hard_expires_at:
                raise _invalid_grant()
            if rt != grant.refresh_token:
                dies = grant.old_refresh.get(rt)
                if dies is None or now >= dies:
                    raise _invalid_grant()
                # within grace: a new access token, the current refresh token
                return store.token_response(emu, grant, store.new_access(emu, grant), want_hard)
            age = now - (grant.refresh_issued_at or now)
            if cfg.refresh_rotation != "strict" and age < timedelta(seconds=cfg.refresh_rotation_seconds):
                # Intuit keeps the refresh token value for ~24 h: a new access token, the SAME refresh
                # token, its expiry not extended (x_refresh_token_expires_in counts down:
                # intuit/oauth-jsclient#74, IntuitDeveloper/oauth2-nodejs#2)
                return store.token_response(emu, grant, store.new_access(emu, grant), want_hard)
            if grant.in_flight_until > time.monotonic():
                raise _invalid_grant()  # lost the race against a concurrent refresh
            grant.in_flight_until = time.monotonic() + cfg.refresh_latency_seconds + 5.0
        time.sleep(cfg.refresh_latency_seconds)
        with emu.state.lock:
            grant.in_flight_until = 0.0
            if grant.revoked:
                raise _invalid_grant()
            now = emu.state.now()
            old = grant.refresh_token
            grant.old_refresh[old] = now + timedelta(seconds=cfg.refresh_grace_seconds)
            grant.refresh_token = store._new_refresh()
            grant.refresh_issued_at = now
            store.refresh_index[grant.refresh_token] = grant.id
            grant.refresh_expires_at = now + timedelta(seconds=cfg.refresh_ttl_seconds)
            return store.token_response(emu, grant, store.new_access(emu, grant), want_hard)
    raise OAuthError(400, "unsupported_grant_type")
