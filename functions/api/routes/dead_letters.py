"""POST /integrations/quickbooks/dead-letters/redrive: send the account's parked pushes again.

Use it after reconnecting QuickBooks (messages parked as ``needs_reconnect``) or after fixing the data a
push was refused for. Only the caller's own record of parked messages is read (never the shared DLQ),
so the answer says nothing about other accounts: how many moved, and how many of the caller's are left.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from kyrios_qbo import dead_letters

from . import ERROR_RESPONSES, current_account_id, success_response

router = Router()


@router.post(
    "/integrations/quickbooks/dead-letters/redrive",
    summary="Redrive parked pushes",
    description="Sends the caller's parked Kyrios events back to the push queue (after reconnecting, or "
    "after fixing the data). Answers `redriven` (sent again) and `left` (the caller's still parked); "
    "other accounts' parked events are neither moved nor counted.",
    responses={
        **success_response("How many parked changes of this account were sent again."),
        **ERROR_RESPONSES,
    },
    tags=["Sync log"],
)
def redrive_dead_letters() -> dict[str, Any]:
    account_id = current_account_id(router.current_event)
    result = dead_letters.redrive(account_id)
    return {"redriven": result.moved, "left": result.left}
