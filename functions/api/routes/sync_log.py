"""GET /integrations/quickbooks/sync-log: the account's recent pushes and pulls, newest first.

Query: ``limit`` (1-200, default 50) and ``cursor`` (opaque, the previous page's ``next_cursor``).
The account comes from the caller's JWT claims (``current_account_id``), never from the request.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from kyrios_qbo import store

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
        **success_response("Sync log entries, newest first, and the cursor of the next page."),
        **ERROR_RESPONSES,
    },
    tags=["Sync log"],
)
def get_sync_log() -> dict[str, Any]:
    account_id = current_account_id(router.current_event)
    raw_limit = router.current_event.get_query_string_value("limit", "") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        message = f"limit must be a whole number from 1 to {MAX_LIMIT}"
        raise ApiProblem(400, "invalid_request", message, "limit")
    cursor = router.current_event.get_query_string_value("cursor", "") or None
    try:
        page = store.list_sync_log(account_id, limit=int(raw_limit), cursor=cursor)
    except store.InvalidCursor:
        raise ApiProblem(400, "invalid_request", "cursor does not belong to this listing", "cursor") from None
    entries = [{k: v for k, v in asdict(entry).items() if k != "account_id"} for entry in page.items]
    return {"entries": entries, "next_cursor": page.cursor}
