"""The first-paid-invoice rule: when does a contact get a review request?

Rule (one review opportunity per contact and QuickBooks company):

* A contact's **first paid invoice that the bundle observes** consumes the contact's single review
  opportunity, whether or not "Send Review Request to Contacts" (``send_review_requests``) is on:

  - setting on  → a ``review.requested`` event is published and the marker is ``sent``;
  - setting off → no event, the marker is written as ``skipped``.

  So a later paid invoice is never "first" just because earlier ones were paid while the setting
  was off, and turning the setting on later does not send requests for old payments.
* "Paid" means ``Balance == 0`` and ``TotalAmt > 0`` (QBO's definition); partial payments do not
  count and do not consume the opportunity. Voided invoices (zeroed) are not paid.
* Invoices created in QBO before the company was connected but paid after it **count**: the
  payment is what happened now, and it is the contact's first paid invoice we observe.
* Invoices the bundle itself pushed from Kyrios (``invoice`` id mapping, or ``Kyrios invoice`` in
  ``PrivateNote``) are skipped by the live poller *before* calling this: Kyrios core recorded
  those payments itself and runs its own review flow for them (see :mod:`kyrios_qbo.polling`).
* ``origin`` says who observed the payment: ``live`` (the contact poller) or ``import`` (the
  historical import, which passes its own review-request preference as ``send_enabled``). Both
  share the same marker, so a contact gets at most one request across both paths.

Exactly once: the marker item (``REALM#<realm>`` / ``REVIEW#<customer>``) is claimed with a
conditional write as ``pending`` *before* publishing and set to ``sent`` after. A crash in between
leaves ``pending`` for that invoice; the retry (the poller's cursor did not move) finds its own
claim and publishes again. The event id is derived from realm + customer only
(:class:`~kyrios_qbo.models.published.ReviewRequested`), so such a repeat — or any other — is
dropped by Kyrios as a duplicate. A ``pending`` claim abandoned for longer than
:data:`ABANDONED_CLAIM_SECONDS` (its invoice was unpaid before the retry) can be taken over by
another paid invoice of the same contact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from kyrios_qbo.models.published import ContactIdentity, ReviewRequested
from kyrios_qbo.store.review_opportunities import (
    ReviewOrigin,
    claim_review,
    mark_review_sent,
)


def request_review_if_first_paid(
    *,
    account_id: str,
    realm_id: str,
    customer: ContactIdentity,
    invoice_id: str,
    amount: Decimal,
    currency: str,
    paid_at: datetime | date,
    origin: ReviewOrigin,
    send_enabled: bool,
) -> bool:
    """Apply the rule to one paid invoice; True if this call published a ``review.requested``.

    The caller has established that the invoice is paid in full and is not one the bundle pushed.
    Raises whatever publishing raises (the marker then stays ``pending`` for this invoice, so a
    retry publishes again with the same event id).
    """
    customer_id = customer.qbo_customer_id
    if not send_enabled:
        claim_review(realm_id, customer_id, state="skipped", invoice_id=invoice_id, origin=origin)
        return False
    if not claim_review(realm_id, customer_id, state="pending", invoice_id=invoice_id, origin=origin):
        return False
    from kyrios_qbo import events  # lazily: only paid invoices need the publisher

    event = ReviewRequested(
        account_id=account_id,
        realm_id=realm_id,
        occurred_at=datetime.now(UTC),
        contact=customer,
        qbo_invoice_id=invoice_id,
        amount=amount,
        currency=currency,
        paid_at=paid_at,
        origin=origin,
    )
    events.publish([event])
    mark_review_sent(realm_id, customer_id, invoice_id)
    return True
