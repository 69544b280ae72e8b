"""Push queue → QuickBooks: each SQS record holds one EventBridge event from the Kyrios bus.

Partial batch responses: a record whose push may succeed later (throttling, QBO down, the document
or customer busy in another invocation) is reported failed and SQS redelivers it; a permanent failure
is parked on the push DLQ with its reason as message attributes and acknowledged; so is a retryable one
on the queue's last allowed receive (``PUSH_MAX_RECEIVES``), so no message reaches the DLQ without a
reason. A replayed event (SQS at-least-once, EventBridge retries, a redrive) needs no record of its own:
the push is state-based, under the document's hold, and a version QBO already has is skipped before any
QBO call (``push.documents.already_applied``), as for the same document under a new event id.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyrios_qbo import dead_letters, push
from kyrios_qbo.observability import logger, metrics, tracer


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
        push.push_event(
            str(envelope.get("detail-type", "")),
            envelope.get("detail"),
            deadline=lambda_context.get_remaining_time_in_millis,
            final_attempt=final_attempt,
        )
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
    # A processor per invocation: it holds the batch's outcomes, so a shared one is only safe while a
    # process runs one invocation at a time (true on Lambda, not for the local runner's threads).
    # A batch whose every record must be retried (QBO down for the company) is answered as a partial
    # response too, not as an invocation error: same redelivery, without error alarms and tracebacks.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
