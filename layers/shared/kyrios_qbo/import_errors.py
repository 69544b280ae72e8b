"""What a step of the historical import raises; the state machine's Retry/Catch match the class names
(``statemachines/import.asl.json``). Re-exported by :mod:`kyrios_qbo.importer`."""

from __future__ import annotations


class QboRetryable(Exception):
    """QBO throttled us or failed on its side: the state machine retries the step with back-off."""


class AwsRetryable(Exception):
    """DynamoDB or EventBridge was busy or unreachable: the state machine retries the step."""


class ImportCancelled(Exception):
    """The job is no longer running (cancelled through the API): the execution ends quietly."""


class ImportStepFailed(Exception):
    """A permanent failure; the message is the reason shown to the user."""
