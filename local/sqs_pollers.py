"""Lambda's SQS event source mapping, locally: poll a queue, call the function, delete what succeeded.

Like the Lambda service: up to ``BatchSize`` messages per invocation, gathered for at most
``MaximumBatchingWindowInSeconds``; the ``{"Records": [...]}`` event Lambda sends; with
``ReportBatchItemFailures`` only the ``batchItemFailures`` stay on the queue, without it (or when
the function raises, or answers something malformed) the whole batch does. Messages that stay
become visible again and are received again; once a message was received more than the queue's
``maxReceiveCount`` times, SQS itself (moto too: checked by tests/integration/test_local_runner.py)
moves it to the dead-letter queue named in the queue's ``RedrivePolicy``.

One deliberate difference: Lambda leaves a failed message invisible for the queue's whole
``VisibilityTimeout`` (12 minutes for the push queue); locally that wait is multiplied by
``time_scale`` (``ChangeMessageVisibility``) so that retries happen within a demo.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class SqsMapping:
    """One ``SQS`` event of a function in the template, with its queue's physical ids."""

    function_id: str
    event_name: str
    queue_id: str
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    concurrency: int = 1
    visibility_timeout: int = 30


@dataclass
class PollerStats:
    invocations: int = 0
    received: int = 0
    deleted: int = 0
    failed: int = 0
    errors: int = 0
    last_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class SqsPoller:
    """Runs one mapping with ``concurrency`` worker threads."""

    def __init__(self, mapping: SqsMapping, invoke: Invoke, sqs: Any, *, time_scale: float = 1.0) -> None:
        self.mapping = mapping
        self.invoke = invoke
        self.sqs = sqs
        self.failure_visibility = max(0, round(mapping.visibility_timeout * time_scale))
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        for number in range(max(1, self.mapping.concurrency)):
            thread = threading.Thread(
                target=self._run, name=f"sqs-{self.mapping.function_id}-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    @property
    def busy(self) -> bool:
        with self._busy_lock:
            return self._busy > 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as exc:  # the poller must survive a broken endpoint during shutdown
                if self._stop.is_set():
                    return
                self.stats.add(errors=1)
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("poller of %s: %s", self.mapping.function_id, exc)
                self._stop.wait(0.5)

    def _receive(self, limit: int, wait_seconds: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.mapping.queue_url,
            MaxNumberOfMessages=max(1, min(10, limit)),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the function; returns how many messages it carried."""
        mapping = self.mapping
        messages = self._receive(mapping.batch_size, wait_seconds)
        if not messages:
            return 0
        with self._busy_lock:
            self._busy += 1
        try:
            window_ends = time.monotonic() + mapping.batching_window_seconds
            while len(messages) < mapping.batch_size and time.monotonic() < window_ends:
                more = self._receive(mapping.batch_size - len(messages), 0)
                if not more:
                    self._stop.wait(min(0.05, max(0.0, window_ends - time.monotonic())))
                messages.extend(more)
            self._deliver(messages)
        finally:
            with self._busy_lock:
                self._busy -= 1
        return len(messages)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        event = {"Records": [self.record(message) for message in messages]}
        self.stats.add(invocations=1, received=len(messages))
        by_id = {message["MessageId"]: message for message in messages}
        try:
            result = self.invoke(mapping.function_id, event)
            failed_ids = self._failed_ids(result, set(by_id))
        except Exception as exc:
            log.warning("%s raised on a batch of %d: %s", mapping.function_id, len(messages), exc)
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            failed_ids = set(by_id)
        done = [message for message_id, message in by_id.items() if message_id not in failed_ids]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        for message_id in failed_ids:
            self.sqs.change_message_visibility(
                QueueUrl=mapping.queue_url,
                ReceiptHandle=by_id[message_id]["ReceiptHandle"],
                VisibilityTimeout=self.failure_visibility,
            )
        self.stats.add(deleted=len(done), failed=len(failed_ids))

    def _failed_ids(self, result: Any, batch_ids: set[str]) -> set[str]:
        """Which messages stay on the queue, as Lambda reads the function's answer."""
        if not self.mapping.report_batch_item_failures:
            return set()
        if result is None:
            return set()
        if not isinstance(result, dict):
            return batch_ids  # Lambda treats an unreadable answer as a failure of the whole batch
        failures = result.get("batchItemFailures")
        if failures is None:
            return set()
        if not isinstance(failures, list):
            return batch_ids
        ids: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in batch_ids:
                return batch_ids  # empty or unknown identifier: the whole batch failed
            ids.add(identifier)
        return ids

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """One entry of ``Records`` as Lambda builds it from a received message."""
        attributes = dict(message.get("Attributes", {}))
        attributes.setdefault("ApproximateReceiveCount", "1")
        attributes.setdefault("SentTimestamp", str(int(time.time() * 1000)))
        attributes.setdefault("SenderId", "AIDAIENQZJOLO23YVJ4VO")
        attributes.setdefault("ApproximateFirstReceiveTimestamp", str(int(time.time() * 1000)))
        message_attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        body = message.get("Body", "")
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": attributes,
            "messageAttributes": message_attributes,
            "md5OfBody": message.get("MD5OfBody")
            or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self.mapping.queue_arn.split(":")[3]
            if self.mapping.queue_arn.count(":") >= 5
            else "",
        }
