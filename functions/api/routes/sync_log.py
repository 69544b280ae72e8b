"""GET /integrations/quickbooks/sync-log: the account's recent pushes and pulls, newest first.

Query: ``limit`` (1-200, default 50) and ``cursor`` (opaque, the previous page's ``next_cursor``).
The account comes from the caller's JWT claims (``current_account_id``), never from the request.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from kyrios_qbo import store
from kyrios_qbo.models.api import SyncLogEntry, SyncLogPage

from . import ERROR_RESPONSES, ApiProblem, current_account_id, success_response

router = Router()
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@router.get(
    "/integrations/quickbooks/sync-log",
    summary="Sync log",
    description="Recent pushes to and pulls from QuickBooks with their outcome and, for failures, what "
    "QuickBooks said and what to do. Newest first; page with `cursor`.",
    responses={
        **success_response("Sync log entries, newest first, and the cursor of the next page.", SyncLogPage),
        **ERROR_RESPONSES,
    },
    tags=["Sync log"],
)
def get_sync_log(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Entries per page.")] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="The previous page's `next_cursor`.")
    ] = None,
) -> SyncLogPage:
    account_id = current_account_id(router.current_event)
    try:
        page = store.list_sync_log(account_id, limit=limit, cursor=cursor or None)
    except store.InvalidCursor:
        raise ApiProblem(400, "invalid_request", "cursor does not belong to this listing", "cursor") from None
    entries = [
        SyncLogEntry.model_validate({k: v for k, v in asdict(entry).items() if k != "account_id"})
        for entry in page.items
    ]
    return SyncLogPage(entries=entries, next_cursor=page.cursor)
