"""Connect, status, settings and disconnect of the QuickBooks integration (Settings → Integrations)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from kyrios_qbo import connection
from kyrios_qbo.models.api import (
    ConnectionStatus,
    ConnectResponse,
    DisconnectResponse,
    SettingsPatch,
)

from . import (
    CONFLICT_RESPONSE,
    ERROR_RESPONSES,
    JSON_BODY_RESPONSE,
    ApiProblem,
    current_account_id,
    success_response,
)

router = Router()
TAGS = ["Connection"]


@router.post(
    "/integrations/quickbooks/connect",
    summary="Start connecting QuickBooks",
    description="Returns the Intuit sign-in URL. Its single-use state is bound to the caller's account "
    "and expires after 10 minutes; Intuit then redirects the browser to the public callback.",
    responses={
        **success_response("The Intuit sign-in URL to send the browser to.", ConnectResponse),
        **ERROR_RESPONSES,
    },
    tags=TAGS,
)
def start_connect() -> ConnectResponse:
    account_id = current_account_id(router.current_event)
    return ConnectResponse(authorize_url=connection.start_connect(account_id))


@router.get(
    "/integrations/quickbooks",
    summary="Connection status",
    description="connected, needs_reconnect or not_connected, with the company, settings and last sync.",
    responses={**success_response("The integration's status.", ConnectionStatus), **ERROR_RESPONSES},
    tags=TAGS,
)
def get_status() -> ConnectionStatus:
    return connection.status(current_account_id(router.current_event))


@router.patch(
    "/integrations/quickbooks/settings",
    summary="Change sync settings",
    description="Only the fields given change. Unknown fields or non-boolean values are refused (400).",
    responses={
        **success_response("The status with the settings now in force.", ConnectionStatus),
        **ERROR_RESPONSES,
        **CONFLICT_RESPONSE,
        **JSON_BODY_RESPONSE,
    },
    tags=TAGS,
)
def update_settings(patch: Annotated[SettingsPatch, Body()]) -> ConnectionStatus:
    account_id = current_account_id(router.current_event)
    try:
        return connection.update_settings(account_id, patch)
    except connection.NotConnectedError:
        raise ApiProblem(409, "not_connected", "Connect QuickBooks before changing its settings.") from None
    except connection.SettingNotSupported as exc:
        raise ApiProblem(400, "unsupported_setting", str(exc), exc.field) from None


@router.delete(
    "/integrations/quickbooks",
    summary="Disconnect QuickBooks",
    description="Forgets the tokens and releases the company, then revokes the authorization at Intuit. "
    "Idempotent: disconnecting when not connected answers not_connected.",
    responses={
        **success_response("Disconnected; says whether Intuit confirmed the revocation.", DisconnectResponse),
        **ERROR_RESPONSES,
    },
    tags=TAGS,
)
def disconnect() -> DisconnectResponse:
    return connection.disconnect(current_account_id(router.current_event))
