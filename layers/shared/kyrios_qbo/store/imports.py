"""Historical import jobs: at most one running per account, monotonic progress, one final status.

Progress updates carry the running figures (``summary``) and are conditional on the job still
running, so each one is also the step's cancel check; a step that finds its job cancelled settles the
figures of what it did (:func:`settle_cancelled_import`)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from kyrios_qbo.store import _dynamo as db
from kyrios_qbo.store.errors import (
    ConcurrentModification,
    ImportAlreadyRunning,
    ImportNotFound,
    ImportNotRunning,
)

ImportStatus = Literal["running", "succeeded", "failed", "cancelled"]
FinalStatus = Literal["succeeded", "failed", "cancelled"]
LOCK_SK = "IMPORT_LOCK"


@dataclass(frozen=True)
class ImportJob:
    account_id: str
    job_id: str
    status: ImportStatus
    params: dict[str, Any]
    created_at: str
    updated_at: str
    processed: int = 0
    total: int | None = None
    execution_arn: str | None = None
    finished_at: str | None = None
    reason: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _job_key(account_id: str, job_id: str) -> db.Item:
    return db.key(db.account_pk(account_id), f"IMPORT#{db.key_part(job_id, 'import id')}")


def _lock_key(account_id: str) -> db.Item:
    return db.key(db.account_pk(account_id), LOCK_SK)


def _to_job(item: db.Item) -> ImportJob:
    status = db.get_s(item, "status")
    if status not in ("running", "succeeded", "failed", "cancelled"):
        raise ValueError(f"unknown import status {status!r}")
    total = item.get("total")
    return ImportJob(
        account_id=db.get_s(item, "account_id"),
        job_id=db.get_s(item, "job_id"),
        status=status,  # type: ignore[arg-type]  # checked just above
        params=db.get_json(item, "params", {}),
        created_at=db.get_s(item, "created_at"),
        updated_at=db.get_s(item, "updated_at"),
        processed=db.get_int(item, "processed"),
        total=None if total is None else int(total["N"]),
        execution_arn=db.opt_s(item, "execution_arn"),
        finished_at=db.opt_s(item, "finished_at"),
        reason=db.opt_s(item, "reason"),
        summary=db.get_json(item, "summary", {}),
    )


def new_job_id() -> str:
    """Sortable by creation time (newest-first listing), unguessable enough to appear in URLs."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(4)


def create_import(account_id: str, params: Mapping[str, Any]) -> ImportJob:
    """Start a job (``params``: JSON-able, e.g. date range and review preference).

    Raises :class:`ImportAlreadyRunning` while another import of the account runs.
    """
    job_id = new_job_id()
    now = db.iso_now()
    item: db.Item = {
        **_job_key(account_id, job_id),
        "account_id": db.s(account_id),
        "job_id": db.s(job_id),
        "status": db.s("running"),
        "params": db.json_value(dict(params)),
        "created_at": db.s(now),
        "updated_at": db.s(now),
        "processed": db.n(0),
    }
    try:
        db.client().transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": db.table_name(),
                        "Item": {**_lock_key(account_id), "job_id": db.s(job_id), "locked_at": db.s(now)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {
                    "Put": {
                        "TableName": db.table_name(),
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except Exception as exc:
        codes = db.cancellation_codes(exc)
        if codes and codes[0] == "ConditionalCheckFailed":
            holder = db.cancellation_items(exc)[0] or {}
            raise ImportAlreadyRunning(account_id, db.opt_s(holder, "job_id")) from exc
        if codes:
            raise ConcurrentModification(f"imports of {account_id} changed concurrently") from exc
        raise
    return _to_job(item)


def get_import(account_id: str, job_id: str) -> ImportJob | None:
    answer = db.client().get_item(
        TableName=db.table_name(), Key=_job_key(account_id, job_id), ConsistentRead=True
    )
    return _to_job(answer["Item"]) if "Item" in answer else None


def get_running_import_id(account_id: str) -> str | None:
    answer = db.client().get_item(TableName=db.table_name(), Key=_lock_key(account_id), ConsistentRead=True)
    return db.get_s(answer["Item"], "job_id") if "Item" in answer else None


def _require(account_id: str, job_id: str) -> ImportJob:
    job = get_import(account_id, job_id)
    if job is None:
        raise ImportNotFound(account_id, job_id)
    return job


def attach_import_execution(account_id: str, job_id: str, execution_arn: str) -> None:
    """Remember the Step Functions execution running the job (to stop it on cancel)."""
    _update_running(
        account_id, job_id, "SET execution_arn = :arn, updated_at = :now", {":arn": db.s(execution_arn)}
    )


def update_import_progress(
    account_id: str,
    job_id: str,
    processed: int,
    total: int | None = None,
    summary: Mapping[str, Any] | None = None,
) -> bool:
    """Record progress (and the running figures, if given) in one conditional ``UpdateItem``.

    It doubles as the cancel check of a running step: :class:`ImportNotRunning` once the job was
    cancelled or ended. False (nothing written) if ``processed`` is below what is stored (a retried step).
    """
    if processed < 0 or (total is not None and total < 0):
        raise ValueError("progress counts cannot be negative")
    sets = "SET #processed = :processed, updated_at = :now" + (
        ", #total = :total" if total is not None else ""
    )
    values: dict[str, Any] = {":processed": db.n(processed)}
    if total is not None:
        values[":total"] = db.n(total)
    if summary is not None:
        sets += ", summary = :summary"
        values[":summary"] = db.json_value(dict(summary))
    try:
        _update_running(account_id, job_id, sets, values, extra_condition="#processed <= :processed")
    except _ProgressBehind:
        return False
    return True


def settle_cancelled_import(
    account_id: str, job_id: str, processed: int, summary: Mapping[str, Any]
) -> bool:
    """A step that found its job cancelled records what it really did up to then (the cancel kept the
    figures of the last progress update, and the step finished the batch it was publishing).

    False if the job is not cancelled or already records more.
    """
    return db.conditional_write(
        "update_item",
        TableName=db.table_name(),
        Key=_job_key(account_id, job_id),
        UpdateExpression="SET #processed = :processed, summary = :summary, updated_at = :now",
        ConditionExpression="#status = :cancelled AND #processed <= :processed",
        ExpressionAttributeNames={"#status": "status", "#processed": "processed"},
        ExpressionAttributeValues={
            ":processed": db.n(processed),
            ":summary": db.json_value(dict(summary)),
            ":cancelled": db.s("cancelled"),
            ":now": db.s(db.iso_now()),
        },
    )


def finish_import(
    account_id: str,
    job_id: str,
    status: FinalStatus,
    *,
    reason: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> ImportJob:
    """Close the job and free the account for the next import.

    Finishing again with the same status is a no-op returning the job; finishing a job that already
    ended differently raises :class:`ImportNotRunning`. Without ``summary`` the recorded figures stay.
    """
    if status not in ("succeeded", "failed", "cancelled"):
        raise ValueError(f"not a final import status: {status!r}")
    now = db.iso_now()
    values: dict[str, Any] = {
        ":status": db.s(status),
        ":running": db.s("running"),
        ":now": db.s(now),
    }
    sets = ["#status = :status", "finished_at = :now", "updated_at = :now"]
    if summary is not None:
        values[":summary"] = db.json_value(dict(summary))
        sets.append("summary = :summary")
    if reason:
        values[":reason"] = db.s(reason)
        sets.append("reason = :reason")
    try:
        db.client().transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": db.table_name(),
                        "Key": _job_key(account_id, job_id),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ConditionExpression": "#status = :running",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                    }
                },
                {
                    "Delete": {
                        "TableName": db.table_name(),
                        "Key": _lock_key(account_id),
                        # The lock may already be gone (cleaned up by hand); never free another job's.
                        "ConditionExpression": "attribute_not_exists(pk) OR job_id = :job",
                        "ExpressionAttributeValues": {":job": db.s(job_id)},
                    }
                },
            ]
        )
    except Exception as exc:
        if not db.cancellation_codes(exc):
            raise
        job = _require(account_id, job_id)
        if job.status == status:
            return job
        if job.status != "running":
            raise ImportNotRunning(job_id, job.status) from exc
        raise ConcurrentModification(f"import {job_id} changed while finishing") from exc
    return _require(account_id, job_id)


def list_imports(account_id: str, limit: int = 20, cursor: str | None = None) -> db.Page[ImportJob]:
    """The account's imports, newest first."""
    pk = db.account_pk(account_id)
    kwargs: dict[str, Any] = {
        "TableName": db.table_name(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": db.s(pk), ":prefix": db.s("IMPORT#")},
        "ScanIndexForward": False,
        "Limit": db.check_limit(limit),
    }
    start = db.decode_cursor(cursor, {"pk": pk}, sk_prefix="IMPORT#")
    if start:
        kwargs["ExclusiveStartKey"] = start
    answer = db.client().query(**kwargs)
    return db.Page(
        [_to_job(item) for item in answer.get("Items", [])], db.encode_cursor(answer.get("LastEvaluatedKey"))
    )


class _ProgressBehind(Exception):
    pass


def _update_running(
    account_id: str, job_id: str, update: str, values: dict[str, Any], extra_condition: str | None = None
) -> None:
    condition = "#status = :running" + (f" AND {extra_condition}" if extra_condition else "")
    names = {"#status": "status"}
    if "#processed" in update:
        names["#processed"] = "processed"
    if "#total" in update:
        names["#total"] = "total"
    try:
        db.client().update_item(
            TableName=db.table_name(),
            Key=_job_key(account_id, job_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={**values, ":running": db.s("running"), ":now": db.s(db.iso_now())},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not db.is_condition_failure(exc):
            raise
        old = db.old_item(exc)
        if old is None:
            raise ImportNotFound(account_id, job_id) from exc
        if db.get_s(old, "status") != "running":
            raise ImportNotRunning(job_id, db.get_s(old, "status")) from exc
        raise _ProgressBehind() from exc
