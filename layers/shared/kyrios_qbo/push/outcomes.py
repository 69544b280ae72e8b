"""What a push ends in: a result to acknowledge, or a typed failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from kyrios_qbo.dead_letters import FailureReason
from kyrios_qbo.qbo_client import QboClient
from kyrios_qbo.qbo_errors import QboError
from kyrios_qbo.store.connections import Connection

DocumentKind = Literal["invoice", "sales_receipt"]


@dataclass(frozen=True)
class PushResult:
    """A push that needs no redelivery. ``failed`` means QBO took the document but it does not match
    Kyrios (e.g. a different total): reported in the sync log and as ``sync.failed``, not retried."""

    outcome: Literal["ok", "skipped", "failed"]
    message: str
    kind: str
    kyrios_id: str | None
    qbo_id: str | None = None
    qbo_writes: int = 0


class PushFailure(Exception):
    """Permanent: retrying the same message cannot help. The message is parked with ``reason``."""

    def __init__(
        self,
        reason: FailureReason,
        message: str,
        *,
        account_id: str | None = None,
        event_id: str | None = None,
        error: QboError | None = None,
        document: tuple[str, str] | None = None,
        cause: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.account_id = account_id
        self.event_id = event_id
        self.error = error
        self.document = document
        """(kind, Kyrios id) of the document the event is about, when it could be read."""
        self.cause = cause
        """``dead_letters.AUTH_CAUSE`` when retries ran out on Intuit's token side."""


class DocumentBusy(Exception):
    """Another invocation is applying this document right now; retry the message later."""

    retryable = True


@dataclass(frozen=True)
class Subject:
    """The Kyrios document an event is about."""

    kind: DocumentKind
    kyrios_id: str
    version: int
    label: str


@dataclass(frozen=True)
class PushContext:
    """Everything a document push needs besides the document."""

    account_id: str
    connection: Connection
    client: QboClient
    owner: str
    """Names this attempt (leases, claims)."""
    seconds_left: Callable[[], float]

    @property
    def realm_id(self) -> str:
        return self.client.realm_id

    @property
    def connected_at(self) -> datetime:
        return datetime.fromisoformat(self.connection.connected_at.replace("Z", "+00:00"))

    def before_connecting(self, moment: datetime) -> bool:
        """Whether a Kyrios document dated ``moment`` (an invoice's ``created_at``, a payment's ``paid_at``)
        predates the connection. Decided at whole-second precision in UTC, because Kyrios sends seconds
        while ``connected_at`` keeps microseconds: a document from the connection's own second counts as
        after it (pushed), one from an earlier second as before (skipped)."""
        return _whole_second(moment) < _whole_second(self.connected_at)


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)
