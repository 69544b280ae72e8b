"""Kyrios → QBO: the rule for which QBO writes a Kyrios event needs, in order.

``push_event(detail_type, detail, ...)`` is the one entry point (``functions/pusher`` calls it per SQS
record). It is state-based: every event carries its whole document and version, and QBO is made to match
the newest version seen (``invoices``, ``receipts``); older or repeated snapshots are acknowledged without
a write. Failures come back typed: :class:`PushFailure` (permanent, park the message with its reason) or
any exception with ``retryable = True`` (let SQS redeliver).
"""

from kyrios_qbo.push.core import push_event
from kyrios_qbo.push.outcomes import DocumentBusy, PushFailure, PushResult

__all__ = ["DocumentBusy", "PushFailure", "PushResult", "push_event"]
