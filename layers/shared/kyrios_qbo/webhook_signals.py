"""What the webhook tells the safety sweep (:mod:`kyrios_qbo.sweep`), in constant time.

* :func:`sweep_everyone` — a signed delivery we cannot read that names no company: every company not
  polled since now becomes due (one conditional write, ``store.sweep_signals``) and one continuation
  message makes the poller run the tick at once; the tick does the paging.
* :func:`note_webhook` — a verified delivery arrived: what ends a silent stream (the tick tightens
  the sweep while none arrives for ``WebhookSilenceWindow``).
"""

from __future__ import annotations

import time

from kyrios_qbo.observability import logger
from kyrios_qbo.store import sweep_signals as signals_store
from kyrios_qbo.sweep import current_interval, send_continuation

NOTE_WEBHOOK_SECONDS = 60.0
"""A container records a verified delivery at most this often (silence is measured in hours)."""


def sweep_everyone(*, now: float | None = None) -> float:
    """Make every company not polled since now due at once, and run the tick: one write and one
    message whatever the number of companies. Returns the due-time cutoff stored."""
    at = time.time() if now is None else now
    until = at + current_interval(at)
    signals_store.advance(until)
    send_continuation(at)
    return until


_last_noted = 0.0


def note_webhook(*, now: float | None = None) -> None:
    """A verified webhook delivery arrived. Written at most once a :data:`NOTE_WEBHOOK_SECONDS` per
    container; never fails the webhook."""
    global _last_noted
    at = time.time() if now is None else now
    if at - _last_noted < NOTE_WEBHOOK_SECONDS:
        return
    try:
        signals_store.note_webhook(at)
        _last_noted = at
    except Exception as exc:
        logger.warning("could not record the webhook delivery", extra={"error": str(exc)})
