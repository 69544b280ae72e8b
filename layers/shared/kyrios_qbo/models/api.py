"""Request and response bodies of the UI API (``functions/api``) and its error shape.

These models are the API's contract: the OpenAPI document (``openapi.json``) is generated from the
routes that use them. Requests are strict (``extra="forbid"``, strict booleans) so that a typo in a
field name or ``"yes"`` instead of ``true`` is a 400 naming the field, not a silent no-op.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

ConnectionStatusName = Literal["connected", "needs_reconnect", "not_connected"]


class ApiError(BaseModel):
    """Every 4xx/5xx answer of the API: a stable machine code and a sentence for people."""

    error: str = Field(description="Stable machine-readable code, e.g. `not_connected`.")
    message: str = Field(description="What went wrong and what to do, in plain words.")
    field: str | None = Field(default=None, description="The offending request field, when there is one.")


class SyncSettings(BaseModel):
    """Per-account sync preferences. Everything is on by default."""

    model_config = ConfigDict(extra="ignore")

    send_review_requests: bool = Field(
        default=True, description="Send a review request to a contact when their first invoice is paid."
    )
    sync_contacts: bool = Field(
        default=True, description="Create Kyrios contacts from new QuickBooks customers."
    )
    push_invoices: bool = Field(default=True, description="Send Kyrios invoices to QuickBooks.")
    push_payments: bool = Field(default=True, description="Send Kyrios payments to QuickBooks.")


class SettingsPatch(BaseModel):
    """``PATCH /integrations/quickbooks/settings``: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    send_review_requests: StrictBool | None = None
    sync_contacts: StrictBool | None = None
    push_invoices: StrictBool | None = None
    push_payments: StrictBool | None = None

    def changes(self) -> dict[str, bool]:
        """The settings this patch sets (explicit ``null`` counts as not given)."""
        return {name: value for name, value in self.model_dump(exclude_none=True).items()}


class ConnectResponse(BaseModel):
    authorize_url: str = Field(description="Send the browser here to log in at Intuit and approve.")


class CompleteConnectRequest(BaseModel):
    """``POST /integrations/quickbooks/connect/complete``: the ``ref`` Intuit's redirect brought back."""

    model_config = ConfigDict(extra="forbid")

    ref: str = Field(
        min_length=1,
        max_length=128,
        description="The `ref` parameter of the Kyrios page's address after `?quickbooks=approved`.",
    )


class ConnectionStatus(BaseModel):
    """``GET /integrations/quickbooks``."""

    status: ConnectionStatusName
    realm_id: str | None = None
    company_name: str | None = None
    country: str | None = Field(default=None, description="ISO 3166 alpha-2 country of the company.")
    currency: str | None = Field(default=None, description="Home currency of the company (ISO 4217).")
    connected_at: datetime | None = Field(
        default=None,
        description="When the company was first connected to this account: only contacts and invoices "
        "created after it are synced. Reconnecting the same company keeps it.",
    )
    settings: SyncSettings | None = None
    last_sync_at: datetime | None = Field(default=None, description="Time of the last successful sync.")
    needs_reconnect_soon: bool = Field(
        default=False,
        description="The QuickBooks authorization ends within the warning window (Intuit's refresh token: "
        "100 days without use, or five years at most): ask the user to reconnect before reconnect_by.",
    )
    reconnect_by: datetime | None = Field(
        default=None,
        description="When the stored QuickBooks authorization stops working (the earlier of Intuit's two "
        "limits); reconnecting starts a new authorization.",
    )


class DisconnectResponse(BaseModel):
    """``DELETE /integrations/quickbooks``: the local disconnect always happens."""

    status: Literal["not_connected"] = "not_connected"
    revoked: bool = Field(description="Intuit confirmed the revocation (or there was nothing to revoke).")
    revoke_error: str | None = Field(
        default=None, description="Why revocation at Intuit failed; the tokens are forgotten anyway."
    )


class SyncLogEntry(BaseModel):
    """One push to or pull from QuickBooks, as the settings page lists it."""

    entry_id: str
    at: str = Field(description="When it happened (ISO 8601, UTC).")
    kind: str = Field(description="What happened, e.g. `invoice.push`, `contact.pull`, `import`.")
    direction: Literal["push", "pull"]
    entity: str = Field(description="What it happened to, in words a bookkeeper recognises.")
    outcome: Literal["ok", "failed", "skipped"]
    message: str = Field(description="Plain-language explanation, including what to do on failure.")
    qbo_detail: str | None = Field(default=None, description="What QuickBooks said, for support.")
    intuit_tid: str | None = None
    kyrios_id: str | None = None
    qbo_id: str | None = None


class SyncLogPage(BaseModel):
    """``GET /integrations/quickbooks/sync-log``: newest first."""

    entries: list[SyncLogEntry]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")
