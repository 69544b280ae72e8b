"""Helpers of the QBO → Kyrios tests: Lambda context, API Gateway events, the poll queue, the bus."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from local.lambda_context import LocalLambdaContext, lambda_context


@dataclass(frozen=True)
class Company:
    account_id: str
    realm_id: str
    item_id: str


@dataclass
class Relay:
    url: str
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    base64_bodies: bool = False


def api_gateway_event(body: bytes, headers: dict[str, str], *, base64_body: bool = False) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for POST /webhooks/intuit."""
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/intuit",
        "rawPath": "/webhooks/intuit",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "http": {
                "method": "POST",
                "path": "/webhooks/intuit",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "POST /webhooks/intuit",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode("utf-8"),
        "isBase64Encoded": base64_body,
    }


def call_webhook(body: bytes, headers: dict[str, str], *, base64_body: bool = False) -> dict[str, Any]:
    from functions.webhook.app import lambda_handler

    result: dict[str, Any] = lambda_handler(
        api_gateway_event(body, headers, base64_body=base64_body), lambda_context("webhook")
    )
    return result


@dataclass
class PollQueue:
    url: str
    arn: str
    sqs: Any

    def receive(self, realm_id: str, timeout: float = 3.0, expect: int | None = None) -> list[dict[str, Any]]:
        """Messages of this company now on the queue (others' leftovers are deleted)."""
        mine: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            for message in messages:
                if message["Attributes"].get("MessageGroupId") == realm_id:
                    mine.append(message)
                else:
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            if expect is not None and len(mine) >= expect:
                break
            if expect is None and not messages and mine:
                break
        return mine

    def record(self, message: dict[str, Any]) -> dict[str, Any]:
        """The SQS record Lambda's event source mapping would deliver for ``message``."""
        attributes = message["Attributes"]
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                "SentTimestamp": attributes.get("SentTimestamp", "0"),
                "SenderId": attributes.get("SenderId", "AIDA"),
                "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
                "SequenceNumber": attributes.get("SequenceNumber", "1"),
                "MessageGroupId": attributes["MessageGroupId"],
                "MessageDeduplicationId": attributes["MessageDeduplicationId"],
            },
            "messageAttributes": {},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": "us-east-1",
        }

    def run_poller(
        self, message: dict[str, Any], context: LocalLambdaContext | None = None
    ) -> dict[str, Any]:
        """Invoke the poller with the message as Lambda would; delete it on success, release it on failure."""
        from functions.contact_poller.app import lambda_handler

        result: dict[str, Any] = lambda_handler(
            {"Records": [self.record(message)]}, context or lambda_context("contact_poller")
        )
        if result.get("batchItemFailures"):
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        else:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return result

    def poll_now(
        self, realm_id: str, *, timeout: float = 3.0, expect: int | None = None
    ) -> list[dict[str, Any]]:
        """Receive this company's nudges and run the poller for each; returns the handler results."""
        return [
            self.run_poller(message) for message in self.receive(realm_id, timeout=timeout, expect=expect)
        ]


def tick() -> dict[str, Any]:
    """The schedule's invocation, with the input template.yaml gives it."""
    from functions.contact_poller.app import lambda_handler

    result: dict[str, Any] = lambda_handler({"kind": "tick"}, lambda_context("contact_poller"))
    return result


class Bus:
    """Events the bundle published, read back from the test queue on the bus by a background thread.

    ``bus(detail_type, n, timeout=5)`` → up to n events of that type; returns as soon as n arrived, so
    ``len(...) == n`` also catches too few, and a second call with a short timeout checks that nothing
    more came. Reading continuously keeps the queue short: moto's SQS slows down as a queue grows.
    """

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.buffered: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read_forever, name="bus-reader", daemon=True)
        self._thread.start()

    def _read_forever(self) -> None:
        while not self._stop.is_set():
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = answer.get("Messages", [])
            if not messages:
                continue
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            with self._changed:
                self.buffered.extend(json.loads(m["Body"]) for m in messages)
                self._changed.notify_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __call__(self, detail_type: str, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matching = [e for e in self.buffered if e["detail-type"] == detail_type]
                remaining = deadline - time.monotonic()
                if len(matching) >= n or remaining <= 0:
                    taken = matching[:n]
                    for event in taken:
                        self.buffered.remove(event)
                    return taken
                self._changed.wait(remaining)
