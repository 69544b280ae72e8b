"""Settings read from environment variables (set per function in template.yaml).

Parsed once per container into a typed model, so a missing or malformed variable fails loudly at
cold start rather than in the middle of a sync. Settings that only some functions need are
optional here and checked where they are used with :meth:`Settings.require`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl, ValidationError, field_validator

INTUIT_DISCOVERY = {
    "production": "https://developer.intuit.com/.well-known/openid_configuration/",
    "sandbox": "https://developer.intuit.com/.well-known/openid_sandbox_configuration/",
}
QBO_API_BASE = {
    "production": "https://quickbooks.api.intuit.com/v3/company/",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com/v3/company/",
}


class ConfigError(RuntimeError):
    """A setting is missing or invalid: a deployment problem, never a user's."""


class Settings(BaseModel):
    """Every setting of the bundle. Field names are the environment variable names, lower-cased."""

    model_config = {"frozen": True, "extra": "ignore"}

    stage: str = Field(min_length=1)
    table_name: str = Field(min_length=1)
    event_bus_name: str | None = None
    poll_queue_url: str | None = None
    token_kms_key_id: str | None = None
    intuit_app_secret_id: str | None = None
    """Secrets Manager id of a JSON secret: ``client_id``, ``client_secret``, ``webhook_verifier_token``."""
    intuit_environment: str = "sandbox"
    """``sandbox``, ``production``, or the URL of an OpenID discovery document (local emulator)."""
    qbo_api_base_url: str | None = None
    """Overrides the Accounting API base derived from ``intuit_environment`` (local emulator)."""
    qbo_minor_version: int = 75
    oauth_redirect_uri: str | None = None
    ui_return_url: str | None = None
    import_state_machine_arn: str | None = None
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    qbo_retry_time_scale: float = Field(default=1.0, gt=0, le=1)
    """Multiplies the QBO client's backoff delays; below 1 only where time itself is compressed
    (the local stack and tests run the emulator with a time scale). What is retried never changes."""
    qbo_rate_time_scale: float = Field(default=1.0, gt=0, le=1)
    """Multiplies the spacing of each company's shared request budget (``store.rate``); below 1 only
    where the emulator's rate limits run on a compressed clock (the local stack sets it)."""
    safety_sweep_interval_minutes: int = Field(default=1440, ge=5)
    """A company is swept (one CDC) when it was not polled for this long (template SafetySweepInterval)."""
    safety_sweep_max_interval_minutes: int = Field(default=1440, ge=5)
    """How far the sweep may stretch the interval to stay within the budget (SafetySweepMaxInterval)."""
    coreplus_monthly_budget: int = Field(default=500_000, ge=1)
    """CorePlus calls the app may make in a calendar month (CorePlusMonthlyBudget; Builder tier: 500,000)."""
    webhook_silence_minutes: float = Field(default=360.0, gt=0)
    """No verified webhook for this long while companies are connected = the stream is silent
    (WebhookSilenceWindow): the sweep tightens to silent_sweep_interval_minutes."""
    silent_sweep_interval_minutes: int = Field(default=60, ge=5)
    """The sweep interval while webhooks are silent, stretched by the budget (SilentSweepInterval)."""
    reconnect_warning_days: float = Field(default=14.0, gt=0)
    """A company whose refresh token (rolling or 5-year) ends within this many days needs to be
    reconnected soon (ReconnectWarningDays)."""
    source_name: str = "kyrios.quickbooks"
    """EventBridge ``Source`` of the events this bundle publishes."""
    rounding_item_name: str = Field(default="Rounding adjustment", min_length=1, max_length=100)
    """QBO Item (created if missing) of the line that carries a cent QBO cannot be told otherwise."""
    rounding_account_id: str | None = None
    """Income account of that item; default: the account Kyrios products use."""

    @field_validator("intuit_environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value in INTUIT_DISCOVERY:
            return value
        HttpUrl(value)  # raises ValidationError with a clear message when it is not a URL
        return value

    @property
    def discovery_environment(self) -> str:
        """The value ``intuitlib.AuthClient`` takes as ``environment``."""
        return self.intuit_environment

    @property
    def api_base_url(self) -> str:
        """Accounting API base ending in ``/v3/company/``."""
        if self.qbo_api_base_url:
            return self.qbo_api_base_url.rstrip("/") + "/"
        if self.intuit_environment in QBO_API_BASE:
            return QBO_API_BASE[self.intuit_environment]
        raise ConfigError("QBO_API_BASE_URL is required when INTUIT_ENVIRONMENT is a discovery URL")

    @property
    def intuit_mode(self) -> Literal["production", "sandbox", "custom"]:
        if self.intuit_environment == "production":
            return "production"
        if self.intuit_environment == "sandbox":
            return "sandbox"
        return "custom"

    def require(self, name: str) -> str:
        """Return an optional string setting that the calling function cannot work without."""
        value = getattr(self, name)
        if not value:
            raise ConfigError(f"environment variable {name.upper()} is not set for this function")
        return str(value)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    fields = Settings.model_fields
    raw = {name: env[name.upper()] for name in fields if env.get(name.upper())}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this container (cached; tests call ``get_settings.cache_clear()`` after changing env)."""
    return load_settings()
