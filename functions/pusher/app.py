"""Push queue → QuickBooks: each SQS record holds one EventBridge event from the Kyrios bus.

Partial batch responses: a record whose push may succeed later (throttling, QBO down, the document
or customer busy in another invocation) is reported failed and SQS redelivers it; a permanent failure
is parked on the push DLQ with its reason as message attributes and acknowledged; so is a retryable one
on the queue's last allowed receive (``PUSH_MAX_RECEIVES``), so no message reaches the DLQ without a
reason. Powertools idempotency, keyed on the Kyrios account + event id, short-circuits replays of events
already applied (only successful pushes are remembered; parked ones can be redriven).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyrios_qbo import dead_letters, push
from kyrios_qbo.config import get_settings
from kyrios_qbo.observability import logger, metrics, tracer

idempotency_config = IdempotencyConfig(
    event_key_jmespath="[detail.account_id, detail.event_id]", expires_after_seconds=24 * 3600
)


@cache
def _push_once() -> Any:
    """The idempotent push, built on first use (the persistence layer needs the settings)."""
    persistence = DynamoDBPersistenceLayer(table_name=get_settings().require("idempotency_table_name"))

    @idempotent_function(
        data_keyword_argument="event", persistence_store=persistence, config=idempotency_config
    )
    def push_once(*, event: dict[str, Any], final_attempt: bool, context: LambdaContext) -> dict[str, Any]:
        result = push.push_event(
            str(event.get("detail-type", "")),
            event.get("detail"),
            deadline=context.get_remaining_time_in_millis,
            final_attempt=final_attempt,
        )
        return asdict(result)

    return push_once


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    body = record.body
    try:
        envelope = json.loads(body)
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict) or "detail-type" not in envelope:
        dead_letters.send(dead_letters.DeadLetter(
            body, dead_letters.FailureReason.MALFORMED_EVENT, "the message is not an EventBridge event",
            account_id=dead_letters.account_of(body),
        ))
        return
    final_attempt = dead_letters.is_last_receive(int(record.attributes.approximate_receive_count or 1))
    try:
        _push_once()(event=envelope, final_attempt=final_attempt, context=lambda_context)
    except push.PushFailure as failure:
        kind, kyrios_id = failure.document or (None, None)
        dead_letters.send(dead_letters.DeadLetter(
            body, failure.reason, failure.message,
            account_id=failure.account_id or dead_letters.account_of(body), event_id=failure.event_id,
            document_kind=kind, document_id=kyrios_id, cause=failure.cause,
        ))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency_config.register_lambda_context(context)
    # A processor per invocation: it holds the batch's outcomes, so a shared one is only safe while a
    # process runs one invocation at a time (true on Lambda, not for the local runner's threads).
    # A batch whose every record must be retried (QBO down for the company) is answered as a partial
    # response too, not as an invocation error: same redelivery, without error alarms and tracebacks.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
