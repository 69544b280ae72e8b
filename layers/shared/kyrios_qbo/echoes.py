"""Webhooks about our own writes: every invoice, payment or customer the pusher creates makes Intuit
notify us of it, and a poll woken by that would find nothing to do.

A notification is an echo when each relevant change it names is one :meth:`WebhookNotification.
echo_candidates` allows and its QBO object has a reverse id mapping (written by the pusher right after
QBO answered, before Intuit's notification comes). Skipping the nudge loses nothing: the poller reads
everything since its cursor, so the next poll (a later webhook or the schedule) still sees these
changes; it only spares a poll, a CDC call against the company's budget and its DynamoDB traffic.
"""

from __future__ import annotations

from typing import cast

from kyrios_qbo.store import mappings
from kyrios_qbo.webhooks import WebhookNotification


def only_our_own_writes(notification: WebhookNotification, realm_id: str) -> bool:
    """True when the realm's part of the notification is nothing but echoes of this bundle's writes."""
    candidates = notification.echo_candidates(realm_id)
    if candidates is None:
        return False
    for entity, qbo_ids in candidates.items():
        kind = cast(mappings.MappingKind, entity)  # echo entities are mapping kinds by construction
        if mappings.mapped_qbo_ids(realm_id, kind, qbo_ids) != set(qbo_ids):
            return False
    return True
