"""Historical import of QuickBooks invoices: start one, follow its progress, cancel it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from kyrios_qbo import importer, store

from . import (
    CONFLICT_RESPONSE,
    ERROR_RESPONSES,
    JSON_BODY_RESPONSE,
    ApiProblem,
    current_account_id,
    error_response,
    success_response,
)

router = Router()
TAGS = ["Import"]
JobId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
NOT_FOUND = {404: error_response("No import with this id for the caller's account.")}


@router.post(
    "/integrations/quickbooks/imports",
    summary="Import previous invoices",
    description="Starts importing the QuickBooks invoices dated from start_date to end_date (inclusive) "
    "into Kyrios. Answers 202 with the job; follow it with GET. One import runs at a time per account "
    "(409 names the running one). Re-running a range imports nothing twice.",
    responses={
        **success_response("The import started.", importer.ImportProgress, status=202),
        **ERROR_RESPONSES,
        **CONFLICT_RESPONSE,
        **JSON_BODY_RESPONSE,
    },
    tags=TAGS,
)
def start_import(request: Annotated[importer.ImportRequest, Body()]) -> Response[str]:
    account_id = current_account_id(router.current_event)
    try:
        importer.check_import_range(request)
        progress = importer.start_import(account_id, request)
    except importer.ImportRequestInvalid as exc:
        raise ApiProblem(400, "invalid_request", exc.message, exc.field) from None
    except store.ImportAlreadyRunning as exc:
        raise ApiProblem(
            409,
            "import_running",
            f"Import {exc.running_job_id} is still running: wait for it or cancel it.",
        ) from None
    return Response(
        status_code=202, content_type=content_types.APPLICATION_JSON, body=progress.model_dump_json()
    )


@router.get(
    "/integrations/quickbooks/imports/<job_id>",
    summary="Import progress",
    description="State (running, succeeded, failed, cancelled), invoices counted and processed, percent, "
    "times, the failure reason and a summary (published, paid, review requests sent).",
    responses={
        **success_response("The import's progress.", importer.ImportProgress),
        **ERROR_RESPONSES,
        **NOT_FOUND,
    },
    tags=TAGS,
)
def get_import(job_id: JobId) -> importer.ImportProgress:
    account_id = current_account_id(router.current_event)
    try:
        return importer.get_import_progress(account_id, job_id)
    except store.ImportNotFound:
        raise ApiProblem(404, "import_not_found", "No such import for this account.") from None


@router.delete(
    "/integrations/quickbooks/imports/<job_id>",
    summary="Cancel an import",
    description="Stops a running import. Invoices already imported stay in Kyrios. Cancelling an import "
    "that already ended answers 409 with its state.",
    responses={
        **success_response("The import's progress.", importer.ImportProgress),
        **ERROR_RESPONSES,
        **NOT_FOUND,
        409: error_response("The import already ended."),
    },
    tags=TAGS,
)
def cancel_import(job_id: JobId) -> importer.ImportProgress:
    account_id = current_account_id(router.current_event)
    try:
        return importer.cancel_import(account_id, job_id)
    except store.ImportNotFound:
        raise ApiProblem(404, "import_not_found", "No such import for this account.") from None
    except store.ImportNotRunning as exc:
        raise ApiProblem(409, "import_not_running", f"The import already ended ({exc.status}).") from None
