"""Task states of the historical import state machine (statemachines/import.asl.json).

Each state sends ``{"step": "count" | "page" | "finish" | "fail", "cursor": {...}}`` and gets the next
cursor back. The steps live in :mod:`kyrios_qbo.importer`; exceptions leave this handler unchanged,
because the state machine's Retry/Catch match on their class names.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from kyrios_qbo import importer
from kyrios_qbo.observability import logger, metrics, tracer


class UnknownStep(ValueError):
    """The state machine sent a step this handler does not know (a deployment mismatch)."""


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("step") if isinstance(event, dict) else None
    raw_cursor = event.get("cursor") if isinstance(event, dict) else None
    if not isinstance(raw_cursor, dict):
        raise UnknownStep(f"step {step!r} came without a cursor object")
    cursor = importer.ImportCursor.model_validate(raw_cursor)
    logger.append_keys(job_id=cursor.job_id, account_id=cursor.account_id, step=step)
    deadline = context.get_remaining_time_in_millis
    if step == "count":
        result = importer.count_step(cursor, deadline=deadline)
    elif step == "page":
        result = importer.page_step(cursor, deadline=deadline)
    elif step == "finish":
        result = importer.finish_step(cursor)
    elif step == "fail":
        result = importer.fail_step(cursor, raw_cursor.get("error"))
    else:
        raise UnknownStep(f"unknown import step {step!r}")
    answer: dict[str, Any] = result.model_dump(mode="json")
    return answer
