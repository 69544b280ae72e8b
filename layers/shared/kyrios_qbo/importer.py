"""Historical import QBO → Kyrios: the job (start, progress, cancel) and the state machine's steps.

The API starts a job (:func:`start_import`), which runs as an execution of
``statemachines/import.asl.json``; its task states call the step functions below through
``functions/import_steps``. Between states only an :class:`ImportCursor` travels (ids and counters,
never invoice data: Step Functions caps payloads at 256 KB):

1. :func:`count_step` — ``count(*)`` of the invoices with ``start <= TxnDate <= end``.
2. :func:`page_step`, repeated — the next page of at most 1000 invoices ``Id > after_id ORDERBY Id``,
   then :func:`kyrios_qbo.import_page.import_page`: the customers the invoices do not describe, read
   once per import, ``invoice.imported`` events in batches, the review rule for paid invoices, and
   progress every 100 invoices or 2 s, which is also the cancel check. Keyset paging (not
   ``STARTPOSITION``): an invoice created, deleted or re-dated during a long import cannot shift the
   pages, so none is skipped or read twice, and a retried page reads exactly the same rows.
3. :func:`finish_step` / :func:`fail_step` — the job's final status and summary.

Re-running is safe: event ids depend on realm + QBO invoice id only, and each published invoice gets
a once-marker (:mod:`kyrios_qbo.store.imported_invoices`), so a re-run or a retried page publishes nothing
Kyrios has already seen. Invoices the pusher created from Kyrios invoices are never imported back.

QBO queries: one count, one per page, and customers only where an invoice lacks its customer's name
or a usable ``BillEmail`` (``ceil(N/1000) + 1`` when every invoice carries both). Errors leave a step
as exceptions (:mod:`kyrios_qbo.import_errors`) whose class names the ASL matches: :class:`QboRetryable` and
:class:`AwsRetryable` are retried with back-off, :class:`ImportCancelled` ends the execution quietly,
anything else is caught and recorded on the job by :func:`fail_step`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)

from kyrios_qbo import aws_clients, store
from kyrios_qbo.config import get_settings
from kyrios_qbo.import_errors import AwsRetryable as AwsRetryable  # the ASL names these: re-exported
from kyrios_qbo.import_errors import ImportCancelled as ImportCancelled
from kyrios_qbo.import_errors import ImportStepFailed as ImportStepFailed
from kyrios_qbo.import_errors import QboRetryable as QboRetryable
from kyrios_qbo.import_page import import_page
from kyrios_qbo.models.qbo import Invoice
from kyrios_qbo.observability import logger
from kyrios_qbo.qbo_errors import QboError
from kyrios_qbo.qbo_query import MAX_PAGE_SIZE, Select
from kyrios_qbo.store import imported_invoices

MAX_SPAN_DAYS = 3653  # ten years, leap days included
EARLIEST_IMPORT_DATE = date(2000, 1, 1)
"""QuickBooks Online opened in 2000: an earlier date is a typo (year 1, SQL Server's 1753), not books."""
_LATEST_TIMEZONE = timedelta(hours=14)  # "today" somewhere on Earth (Kiribati, UTC+14)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Deadline = Callable[[], int] | None
"""Milliseconds left in the invocation (Lambda's ``context.get_remaining_time_in_millis``)."""


# ------------------------------------------------------------------------------------------ errors
class ImportRequestInvalid(ValueError):
    """A start request the API answers with 400, naming the field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# ------------------------------------------------------------------------------------------ models
class ImportRequest(BaseModel):
    """``POST /integrations/quickbooks/imports``: dates are inclusive, in the company's calendar."""

    model_config = ConfigDict(extra="forbid")

    start_date: date = Field(
        description=f"First invoice date to import (YYYY-MM-DD), {EARLIEST_IMPORT_DATE.isoformat()} or later."
    )
    end_date: date = Field(description="Last invoice date to import (YYYY-MM-DD), not in the future.")
    send_review_requests: StrictBool = Field(
        description="Send a review request for each contact's first paid invoice found by the import."
    )

    @field_validator("start_date", "end_date", mode="before")
    @classmethod
    def _iso_date_only(cls, value: Any) -> Any:
        # pydantic would also take epoch numbers and datetimes; the API promises YYYY-MM-DD.
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
            raise ValueError("must be a date written YYYY-MM-DD")
        return value.strip()


def check_import_range(request: ImportRequest, *, now: datetime | None = None) -> None:
    """Rules across fields; :class:`ImportRequestInvalid` names the field to correct."""
    if request.start_date > request.end_date:
        raise ImportRequestInvalid("start_date", "start_date must not be after end_date")
    if request.start_date < EARLIEST_IMPORT_DATE:
        raise ImportRequestInvalid(
            "start_date", f"start_date must be {EARLIEST_IMPORT_DATE.isoformat()} or later"
        )
    if (request.end_date - request.start_date).days >= MAX_SPAN_DAYS:
        raise ImportRequestInvalid(
            "start_date", "the range may cover at most 10 years: import older invoices in a second run"
        )
    latest_today = ((now or datetime.now(UTC)) + _LATEST_TIMEZONE).date()
    if request.end_date > latest_today:
        raise ImportRequestInvalid("end_date", "end_date is in the future")


class ImportSummary(BaseModel):
    published: int = Field(0, description="Invoices sent to Kyrios by this import.")
    already_imported: int = Field(0, description="Invoices skipped because an earlier import sent them.")
    from_kyrios: int = Field(0, description="Invoices skipped because they were created from Kyrios.")
    paid: int = Field(0, description="Paid invoices among those processed.")
    review_requests_sent: int = Field(0, description="Review requests sent to contacts.")


class ImportProgress(BaseModel):
    """``GET /integrations/quickbooks/imports/{id}``."""

    id: str
    state: Literal["running", "succeeded", "failed", "cancelled"]
    start_date: date | None = None
    end_date: date | None = None
    send_review_requests: bool | None = None
    total: int | None = Field(None, description="Invoices in the range (known once counted).")
    processed: int
    percent: int = Field(ge=0, le=100)
    started_at: str
    finished_at: str | None = None
    failure_reason: str | None = None
    summary: ImportSummary


class ImportCursor(ImportSummary):
    """What travels between states; counters add up to the job's summary."""

    model_config = ConfigDict(extra="ignore")

    account_id: str = Field(min_length=1)
    job_id: str = Field(min_length=1)
    after_id: str | None = None
    pages: int = 0
    total: int = 0
    processed: int = 0
    done: bool = False

    def summary(self) -> ImportSummary:
        return ImportSummary.model_validate(self.model_dump(include=set(ImportSummary.model_fields)))


# ------------------------------------------------------------------------------------------ API side


def _stepfunctions() -> Any:
    return aws_clients.client("stepfunctions")


def _require_connected(account_id: str) -> store.Connection:
    connection = store.get_connection(account_id)
    if connection is None or connection.status != "connected":
        raise store.NotConnected(account_id)
    return connection


def start_import(account_id: str, request: ImportRequest) -> ImportProgress:
    """Create the job and start its execution (named after the job, so a repeated start is harmless).

    Raises ``store.NotConnected`` and ``store.ImportAlreadyRunning`` (naming the running job).
    """
    connection = _require_connected(account_id)
    params = {
        "start_date": request.start_date.isoformat(),
        "end_date": request.end_date.isoformat(),
        "send_review_requests": request.send_review_requests,
        "realm_id": connection.realm_id,
    }
    job = store.create_import(account_id, params)
    cursor = ImportCursor(account_id=account_id, job_id=job.job_id)
    try:
        answer = _stepfunctions().start_execution(
            stateMachineArn=get_settings().require("import_state_machine_arn"),
            name=job.job_id,
            input=cursor.model_dump_json(),
        )
    except Exception:
        reason = "The import could not be started. Try again."
        store.finish_import(account_id, job.job_id, "failed", reason=reason)
        raise
    store.attach_import_execution(account_id, job.job_id, answer["executionArn"])
    logger.info("import started", extra={"account_id": account_id, "job_id": job.job_id, **params})
    return get_import_progress(account_id, job.job_id)


def get_import_progress(account_id: str, job_id: str) -> ImportProgress:
    """The job as the UI shows it; ``store.ImportNotFound`` for another account's or an unknown id."""
    job = store.get_import(account_id, job_id)
    if job is None:
        raise store.ImportNotFound(account_id, job_id)
    return _progress(job)


def cancel_import(account_id: str, job_id: str) -> ImportProgress:
    """Mark the job cancelled, then stop its execution. Cancelling a finished job changes nothing
    (``store.ImportNotRunning`` tells the API which state it ended in)."""
    job = store.get_import(account_id, job_id)
    if job is None:
        raise store.ImportNotFound(account_id, job_id)
    if job.status != "running":
        raise store.ImportNotRunning(job_id, job.status)
    # The status first: a running step sees it at its next progress update (every 100 invoices or
    # 2 s), stops publishing and settles the job's figures; they are left as they are here.
    job = store.finish_import(account_id, job_id, "cancelled", reason="Cancelled by the user.")
    if job.execution_arn:
        try:
            _stepfunctions().stop_execution(executionArn=job.execution_arn, cause="Cancelled by the user.")
        except Exception as exc:  # already stopped or gone: the job record is what counts
            logger.warning("could not stop the execution", extra={"job_id": job_id, "error": repr(exc)})
    return _progress(job)


def _progress(job: store.ImportJob) -> ImportProgress:
    params = job.params
    total = job.total
    if total is not None and job.status == "succeeded":
        percent = 100
    elif total:
        percent = min(99 if job.status == "running" else 100, job.processed * 100 // total)
    else:
        percent = 100 if job.status == "succeeded" else 0
    return ImportProgress(
        id=job.job_id,
        state=job.status,
        start_date=params.get("start_date"),
        end_date=params.get("end_date"),
        send_review_requests=params.get("send_review_requests"),
        total=total,
        processed=job.processed,
        percent=percent,
        started_at=job.created_at,
        finished_at=job.finished_at,
        failure_reason=job.reason if job.status == "failed" else None,
        summary=ImportSummary.model_validate(job.summary or {}),
    )


# ------------------------------------------------------------------------------------------ steps
@contextmanager
def _typed_failures() -> Iterator[None]:
    """Turn what a step can hit into the exception classes the ASL's Retry/Catch name."""
    try:
        yield
    except (store.ImportNotRunning, ImportCancelled) as exc:
        raise ImportCancelled(str(exc)) from exc
    except QboError as exc:
        if exc.retryable:
            raise QboRetryable(exc.explain()) from exc
        raise ImportStepFailed(exc.explain()) from exc
    except imported_invoices.StoreBusy as exc:
        raise AwsRetryable(str(exc)) from exc
    except Exception as exc:
        from kyrios_qbo.events import PublishFailed  # lazily, like the publishing itself

        if isinstance(exc, PublishFailed) or _is_transient_aws(exc):
            raise AwsRetryable(f"AWS was busy: {exc}") from exc
        raise


_TRANSIENT_AWS_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "InternalException", "ServiceUnavailable", "InternalFailure",
    "TransactionConflictException",
})


def _is_transient_aws(exc: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return True
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code")) in _TRANSIENT_AWS_CODES
    return isinstance(exc, BotoCoreError) and "endpoint" in str(exc).lower()


def _running_job(cursor: ImportCursor) -> store.ImportJob:
    job = store.get_import(cursor.account_id, cursor.job_id)
    if job is None:
        raise ImportStepFailed(f"import {cursor.job_id} does not exist")
    if job.status != "running":
        raise ImportCancelled(f"import {cursor.job_id} is {job.status}")
    return job


def _open_client(job: store.ImportJob, deadline: Deadline) -> Any:
    from kyrios_qbo.qbo_access import open_client  # lazily: the API side never needs tokens

    client = open_client(job.account_id, deadline=deadline)
    if client.realm_id != job.params.get("realm_id"):
        raise ImportStepFailed(
            "The QuickBooks company connected to this account changed during the import. "
            "Start a new import for the company now connected."
        )
    return client


def _invoice_query(params: Mapping[str, Any]) -> Select:
    return (
        Select("Invoice")
        .where("TxnDate", ">=", date.fromisoformat(params["start_date"]))
        .where("TxnDate", "<=", date.fromisoformat(params["end_date"]))
    )


def count_step(cursor: ImportCursor, *, deadline: Deadline = None) -> ImportCursor:
    """Count the invoices of the range and record the total."""
    with _typed_failures():
        job = _running_job(cursor)
        total = _open_client(job, deadline).count(_invoice_query(job.params))
        store.update_import_progress(job.account_id, job.job_id, 0, total)
    return cursor.model_copy(update={"total": total, "done": total == 0})


def page_step(cursor: ImportCursor, *, deadline: Deadline = None) -> ImportCursor:
    """Import the next page after ``cursor.after_id``; the answer is the cursor for the next one."""
    with _typed_failures():
        job = _running_job(cursor)
        client = _open_client(job, deadline)
        query = _invoice_query(job.params)
        if cursor.after_id is not None:
            query = query.where("Id", ">", cursor.after_id)
        rows = client.query(query.order_by("Id").max(MAX_PAGE_SIZE))
        invoices = [Invoice.model_validate(row) for row in rows]
        counts = import_page(
            job,
            client,
            invoices,
            processed_before=cursor.processed,
            before=cursor.summary().model_dump(),
            total=cursor.total,
        )
        processed = cursor.processed + len(invoices)
    after_id = invoices[-1].id if invoices else cursor.after_id
    updated = {name: getattr(cursor, name) + value for name, value in counts.items()}
    logger.info(
        "import page done",
        extra={"job_id": cursor.job_id, "page": cursor.pages + 1, "invoices": len(invoices), **counts},
    )
    return cursor.model_copy(
        update={
            **updated,
            "after_id": after_id,
            "pages": cursor.pages + 1,
            "processed": processed,
            "total": max(cursor.total, processed),
            "done": len(invoices) < MAX_PAGE_SIZE,
        }
    )


def finish_step(cursor: ImportCursor) -> ImportCursor:
    """Mark the job succeeded with its summary."""
    with _typed_failures():
        store.update_import_progress(cursor.account_id, cursor.job_id, cursor.processed, cursor.total)
        summary = cursor.summary().model_dump()
        store.finish_import(cursor.account_id, cursor.job_id, "succeeded", summary=summary)
    logger.info("import succeeded", extra={"job_id": cursor.job_id, **cursor.summary().model_dump()})
    return cursor


def failure_reason(error: Mapping[str, Any] | None) -> str:
    """A sentence for the UI from the state machine's ``{"Error", "Cause"}`` of the failed step."""
    error = error or {}
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str):
        try:
            decoded = json.loads(cause)
        except ValueError:
            message = cause
        else:
            message = str(decoded.get("errorMessage") or "") if isinstance(decoded, dict) else cause
    message = message.strip()[:600]
    if name == "QboRetryable":
        return (
            "QuickBooks kept refusing or failing after several retries, so the import stopped. "
            f"Last answer: {message} Run the import again later: invoices already imported are not "
            "sent twice."
        )
    if name == "AwsRetryable" or name.startswith(("Lambda.", "States.")):
        return (
            f"The import stopped on a temporary problem on our side ({name}). Run it again: invoices "
            "already imported are not sent twice."
        )
    if name in {"NotConnected", "NeedsReconnect"}:
        return f"{message} Reconnect QuickBooks in Kyrios settings, then run the import again.".strip()
    return message or f"The import stopped on an unexpected error ({name})."


def fail_step(cursor: ImportCursor, error: Mapping[str, Any] | None) -> ImportCursor:
    """Record the failure; a job already cancelled stays cancelled."""
    reason = failure_reason(error)
    with suppress(store.ImportNotRunning):
        store.finish_import(
            cursor.account_id, cursor.job_id, "failed", reason=reason, summary=cursor.summary().model_dump()
        )
    logger.warning("import failed", extra={"job_id": cursor.job_id, "reason": reason})
    return cursor
