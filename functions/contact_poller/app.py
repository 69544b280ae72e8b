"""Contact poller: the schedule's fan-out, and one company's poll per message of the FIFO poll queue.

* Schedule (``{"kind": "tick"}`` from the template, or a plain EventBridge scheduled event): the
  safety sweep, :func:`kyrios_qbo.sweep.run_tick` — one nudge per company that is *due* (not polled
  for the sweep interval); no polling here.
* Poll queue (SQS FIFO, batch size 1, ReportBatchItemFailures): :func:`kyrios_qbo.polling.poll_company`,
  or, for the sweep's own continuation message, the tick again (it stopped near its deadline).
  A record fails (SQS redelivers after the visibility timeout, the DLQ after 5 tries) when another
  poller holds the company or QBO/AWS failed in a way a retry may fix; the cursor has not moved
  then. Not connected, needs reconnect, a stale or unreadable nudge: acknowledged and logged (no
  retry storm; the company is polled again by the schedule once it is reconnected).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from kyrios_qbo import nudges, polling, sweep
from kyrios_qbo.observability import logger, metrics, tracer


def _is_schedule(event: dict[str, Any]) -> bool:
    return event.get("kind") == "tick" or event.get("detail-type") == "Scheduled Event"


def _make_record_handler(context: Any) -> Any:
    deadline = getattr(context, "get_remaining_time_in_millis", None)
    request_id = getattr(context, "aws_request_id", None)

    def handle(record: SQSRecord) -> dict[str, Any]:
        if sweep.is_continuation(record.body):
            swept = sweep.run_tick(remaining_ms=deadline)
            logger.info("sweep continued", extra=swept.as_dict())
            return {"status": "swept"}
        try:
            nudge = nudges.parse_nudge(record.body)
        except nudges.InvalidNudge as exc:
            logger.error(
                "unreadable poll message dropped", extra={"message_id": record.message_id, "error": str(exc)}
            )
            return {"status": "invalid"}
        owner = f"poll-{request_id}-{record.message_id}" if request_id else None
        try:
            result = polling.poll_company(nudge.account_id, nudge.realm_id, deadline=deadline, owner=owner)
        except polling.PollBusy as exc:
            logger.info(
                "company busy; retrying later", extra={"realm_id": nudge.realm_id, "holder": exc.holder}
            )
            raise
        logger.info(
            "poll finished",
            extra={
                "account_id": result.account_id,
                "realm_id": result.realm_id,
                "status": result.status,
                "reason": result.reason,
                "nudge_reason": nudge.reason,
                "customers_seen": result.customers_seen,
                "invoices_seen": result.invoices_seen,
                "contacts_published": result.contacts_published,
                "reviews_requested": result.reviews_requested,
            },
        )
        return {"status": result.status}

    return handle


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> Mapping[str, Any]:
    if _is_schedule(event):
        result = sweep.run_tick(remaining_ms=getattr(context, "get_remaining_time_in_millis", None))
        logger.info("safety sweep tick", extra=result.as_dict())
        return result.as_dict()
    # One processor per invocation: it keeps the batch's results, and it is cheap to create.
    processor = SqsFifoPartialProcessor()
    # With batch size 1 every failure is "the entire batch": report it as the record's failure (SQS
    # redelivers it later) instead of failing the invocation — a busy company is routine, not an error.
    processor.raise_on_entire_batch_failure = False
    return process_partial_response(
        event=event, record_handler=_make_record_handler(context), processor=processor, context=context
    )
