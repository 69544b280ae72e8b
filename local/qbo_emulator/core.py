"""The emulator object: state, OAuth, throttling, fault injection and webhooks together."""

from __future__ import annotations

import logging
from typing import Any

from .injection import FaultInjector
from .metering import Meter
from .oauth import OAuthStore
from .ratelimit import RateLimiter
from .seed import default_app, seed_defaults
from .state import EmulatorConfig, EmulatorState
from .webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


class Emulator:
    def __init__(self, config: EmulatorConfig | None = None, seed: bool = True) -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config)
        self.oauth = OAuthStore()
        self.ratelimiter = RateLimiter(self.state.clock, self.config)
        self.faults = FaultInjector()
        self.meter = Meter()
        self.webhooks = WebhookDispatcher(self)
        self.base_url = ""
        if seed:
            with self.state.lock:
                self.oauth.apps[default_app().client_id] = default_app()
                seed_defaults(self)

    @property
    def issuer(self) -> str:
        return self.base_url + "/op/v1"

    def discovery_document(self, base_url: str | None = None) -> dict[str, Any]:
        """Same keys as discovery-document-sandbox.json, pointing at this emulator."""
        base = (base_url or self.base_url).rstrip("/")
        return {
            "issuer": base + "/op/v1",
            "authorization_endpoint": base + "/connect/oauth2",
            "token_endpoint": base + "/oauth2/v1/tokens/bearer",
            "userinfo_endpoint": base + "/v1/openid_connect/userinfo",
            "revocation_endpoint": base + "/v2/oauth2/tokens/revoke",
            "jwks_uri": base + "/op/v1/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
        }

    def reset(self, keep_apps: bool = True, seed: bool = True) -> None:
        with self.state.lock:
            apps = dict(self.oauth.apps)
            self.state.companies.clear()
            self.state.requestids.clear()
            self.state.request_log.clear()
            self.oauth.clear_tokens()
            self.oauth.apps.clear()
            if keep_apps:
                self.oauth.apps.update(apps)
            else:
                self.oauth.apps[default_app().client_id] = default_app()
            self.faults.clear()
            self.ratelimiter.reset()
            self.meter.reset()
            self.webhooks.reset()
            if seed:
                seed_defaults(self)

    def emit(self, realm: str, changes: list[Any]) -> None:
        self.webhooks.emit(realm, changes)

    def close(self) -> None:
        self.webhooks.stop()
