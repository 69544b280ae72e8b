"""Connect, status, settings and disconnect of the QuickBooks integration (Settings → Integrations)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from kyrios_qbo import connect_flow, connection
from kyrios_qbo.models.api import (
    CompleteConnectRequest,
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
    current_user_id,
    error_response,
    success_response,
)

router = Router()
TAGS = ["Connection"]


@router.post(
    "/integrations/quickbooks/connect",
    summary="Start connecting QuickBooks",
    description="Returns the Intuit sign-in URL. Its single-use state is bound to the caller's account "
    "and user and expires after 10 minutes; Intuit then redirects the browser to the public callback, "
    "which sends it back to the Kyrios page with `?quickbooks=approved&ref=…` (or "
    "`?quickbooks=error&reason=…`). The page completes with `POST …/connect/complete`.",
    responses={
        **success_response("The Intuit sign-in URL to send the browser to.", ConnectResponse),
        **ERROR_RESPONSES,
    },
    tags=TAGS,
)
def start_connect() -> ConnectResponse:
    event = router.current_event
    url = connect_flow.start_connect(current_account_id(event), current_user_id(event))
    return ConnectResponse(authorize_url=url)


@router.post(
    "/integrations/quickbooks/connect/complete",
    summary="Complete connecting QuickBooks",
    description="Called by the Kyrios page when Intuit's redirect brought it `?quickbooks=approved&ref=…`. "
    "Only the account and user who started the sign-in can complete it; the ref is single-use and lives "
    "5 minutes. Intuit's authorization code is exchanged only here, so a refused completion leaves no "
    "grant at Intuit. Refusal codes: `invalid_state`, `state_expired`, `wrong_account`, `wrong_user`, "
    "`code_rejected`, `company_unavailable`, `realm_owned_by_another_account`, "
    "`already_connected_to_another_company`, `intuit_unavailable`.",
    responses={
        **success_response("Connected: the integration's status.", ConnectionStatus),
        **ERROR_RESPONSES,
        403: error_response("The sign-in was started by another account (`wrong_account`) or user "
                            "(`wrong_user`); nothing was connected."),
        409: error_response("The company belongs to another account, or this account is connected to "
                            "another company."),
        422: error_response("Intuit refused the code (`code_rejected`) or the company could not be read "
                            "(`company_unavailable`); nothing was connected."),
        503: error_response("Intuit did not answer (`intuit_unavailable`); start again in a moment."),
        **JSON_BODY_RESPONSE,
    },
    tags=TAGS,
)
def complete_connect(body: Annotated[CompleteConnectRequest, Body()]) -> ConnectionStatus:
    event = router.current_event
    account_id = current_account_id(event)
    try:
        connect_flow.complete_connect(ref=body.ref, account_id=account_id, user_id=current_user_id(event))
    except connect_flow.ConnectError as exc:
        raise ApiProblem(exc.status, exc.code, exc.message) from None
    return connection.status(account_id)


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
