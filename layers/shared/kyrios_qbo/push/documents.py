"""Steps shared by invoices and sales receipts: references, creation and update of the QBO document."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kyrios_qbo import catalog, mapping, matching, settlement, store
from kyrios_qbo.models.kyrios import KyriosDocument, KyriosLine
from kyrios_qbo.money import format_rate
from kyrios_qbo.push.outcomes import DocumentBusy, PushContext, PushResult
from kyrios_qbo.settlement import Settlement
from kyrios_qbo.tax import TaxPlan

HOLD_WAIT_SECONDS = 6.0
"""How long to wait for a concurrent push of the same document before handing the message back."""
HOLD_MARGIN_SECONDS = 15.0
_POLL = 0.2


class InconsistentDocument(mapping.MappingError):
    """Kyrios's totals are further from its lines than rounding explains: nothing is written to QBO."""

    code = "inconsistent_totals"


@dataclass(frozen=True)
class Prepared:
    """A document with every QBO reference resolved, ready to become a body."""

    refs: mapping.DocumentRefs
    plan: TaxPlan
    company: catalog.Company
    settlement: Settlement


@dataclass
class Hold:
    """This push's hold on its document (``store.hold_document``): the mapping read with it, whether the
    document is in QBO, and whether the hold was let go by the write that recorded the version."""

    kind: store.MappingKind
    kyrios_id: str
    current: store.IdMapping | None
    mapped: bool
    released: bool = False


@contextlib.contextmanager
def held(ctx: PushContext, kind: store.MappingKind, kyrios_id: str) -> Iterator[Hold]:
    """Only one invocation applies a document at a time; others wait briefly, then hand the message
    back (:class:`DocumentBusy`). Taking the hold also reads the document's mapping."""
    duration = max(30.0, ctx.seconds_left() + HOLD_MARGIN_SECONDS)
    give_up = time.monotonic() + min(HOLD_WAIT_SECONDS, max(0.0, ctx.seconds_left() - 10.0))
    while True:
        try:
            current = store.hold_document(ctx.realm_id, kind, kyrios_id, ctx.owner, duration)
            break
        except store.LeaseHeld as exc:
            if time.monotonic() >= give_up:
                raise DocumentBusy(f"{kind} {kyrios_id} is being pushed by another invocation") from exc
            time.sleep(_POLL)
    hold = Hold(kind, kyrios_id, current, mapped=current is not None)
    try:
        yield hold
    finally:
        if not hold.released:
            store.release_document(ctx.realm_id, kind, kyrios_id, ctx.owner, mapped=hold.mapped)


def already_applied(hold: Hold, version: int, label: str) -> PushResult | None:
    """'skipped' when QBO already has this version or a newer one (a redelivered, late or reordered
    snapshot must never roll QBO back)."""
    current = hold.current
    if current is None or current.applied_version < version:
        return None
    return PushResult(
        "skipped",
        f"QuickBooks already has version {current.applied_version} of this {label}",
        hold.kind,
        hold.kyrios_id,
        current.qbo_id,
    )


def settle(document: KyriosDocument, company: catalog.Company) -> Settlement:
    """The amounts QBO is told (``kyrios_qbo.settlement``); only an impossible document is refused."""
    try:
        return settlement.settle(document, us=company.info.is_us)
    except settlement.ImpossibleDocument as exc:
        raise InconsistentDocument(
            f"Kyrios {settlement.describe(document)} cannot be sent to QuickBooks: {exc}. Nothing was "
            "sent; correct the document in Kyrios and send it again"
        ) from exc


def prepare(ctx: PushContext, document: KyriosDocument) -> Prepared:
    """Customer, items and tax codes of the document (created in QBO where missing), and the amounts
    QBO is told (with a rounding-adjustment line where a cent cannot be told otherwise)."""
    company = catalog.company_for_currency(
        ctx.client, document.currency, changed_since=ctx.connection.company_changed_at
    )
    mapping.require_currency(document, company.profile)  # before any write: no stray customer
    settled = settle(document, company)
    currency = matching.CustomerCurrency(document.currency, company.profile.home_currency)
    customer = matching.match_customer(
        ctx.client, document.customer, owner=ctx.owner, seconds_left=ctx.seconds_left, currency=currency
    )
    lines = list(document.lines)
    if settled.rounding:
        rounding = KyriosLine(
            line_id=mapping.ROUNDING_LINE_ID, product=catalog.rounding_product(), quantity=1, unit_price=0
        )
        lines.append(rounding)
    items = catalog.ensure_items(ctx.client, (line.product for line in lines))
    plan = catalog.tax_plan(ctx.client, company, lines, prices_include_tax=document.prices_include_tax)
    return Prepared(mapping.DocumentRefs(customer.qbo_id, items), plan, company, settled)


def total_mismatch(document: KyriosDocument, answer: Mapping[str, Any]) -> str | None:
    """None when QBO's ``TotalAmt`` equals the Kyrios total to the cent, else a sentence saying so."""
    qbo_total = answer.get("TotalAmt")
    if mapping.totals_match(document.totals.total, qbo_total):
        return None
    return (
        f"QuickBooks recorded a total of {qbo_total} {document.currency} although it was told Kyrios's "
        f"{document.totals.total} for {settlement.describe(document)}: check the document in QuickBooks"
    )


def notes(document: KyriosDocument, prepared: Prepared, answer: Mapping[str, Any]) -> str:
    """What the sync log should add to an ok outcome: a rounding line, a US sales tax rate (automated, or
    of the code a manual-sales-tax company uses) other than Kyrios's (QBO carries Kyrios's amount
    anyway). Empty when there is nothing to say."""
    said: list[str] = []
    if prepared.settlement.note:
        said.append(prepared.settlement.note)
    if prepared.company.info.is_us:
        lines = (answer.get("TxnTaxDetail") or {}).get("TaxLine") or []
        qbo_rate = sum(
            (amount((line.get("TaxLineDetail") or {}).get("TaxPercent")) for line in lines), Decimal(0)
        )
        combined = {sum((t.rate_percent for t in kyrios.taxes), Decimal(0)) for kyrios in document.lines}
        kyrios_rates = sorted(rate for rate in combined if rate > 0)
        if lines and kyrios_rates and any(rate != qbo_rate for rate in kyrios_rates):
            shown = ", ".join(f"{format_rate(rate)} %" for rate in kyrios_rates)
            whose = "automated sales tax" if prepared.company.automated_sales_tax else "sales tax code"
            said.append(
                f"Kyrios charged {shown} but QuickBooks' {whose} rate is "
                f"{format_rate(qbo_rate)} %; the document carries Kyrios's tax of "
                f"{prepared.settlement.tax_total}"
            )
    return "; ".join(said)


def save_state(
    ctx: PushContext, hold: Hold, qbo_id: str, sync_token: str | None, version: int, *, new: bool = False
) -> None:
    """Record that QBO reflects ``version`` and let go of the hold in the same write (``new``: the QBO
    object was just created); an equal or newer record already there is fine (we hold the document, so
    that can only be our own earlier attempt)."""
    with contextlib.suppress(store.StaleVersion):
        store.put_mapping(
            ctx.realm_id, hold.kind, hold.kyrios_id, qbo_id=qbo_id, sync_token=sync_token,
            applied_version=version, new=new, release=ctx.owner,
        )
        hold.mapped = hold.released = True


def write_document(
    ctx: PushContext,
    hold: Hold,
    *,
    entity: str,
    version: int,
    body: dict[str, Any],
    final: bool,
) -> dict[str, Any]:
    """Create the QBO document (requestid keyed by the document) or sparse-update it (keyed by document +
    version; a stale SyncToken re-reads and re-applies).

    ``final``: nothing else is written to QBO for this version, so the version is recorded as applied
    here. Otherwise a new QBO id is still remembered before returning, with applied version 0, so a
    crash before the caller's :func:`save_state` updates rather than creates again."""
    kind, kyrios_id, current = hold.kind, hold.kyrios_id, hold.current
    if current is None:
        answer = ctx.client.create(
            entity, body, request_id=mapping.request_id(kind, ctx.realm_id, kyrios_id)
        )
        if final:
            save_state(ctx, hold, str(answer["Id"]), _token(answer), version, new=True)
        else:
            with contextlib.suppress(store.StaleVersion):
                store.put_mapping(
                    ctx.realm_id, kind, kyrios_id, qbo_id=str(answer["Id"]),
                    sync_token=_token(answer), applied_version=0, new=True,
                )
                hold.mapped = True
        return answer
    known = {"Id": current.qbo_id, "SyncToken": current.sync_token} if current.sync_token else None
    answer = ctx.client.update_with_refetch(
        entity,
        current.qbo_id,
        lambda _obj: body,
        request_id=mapping.request_id(f"{kind}-update", ctx.realm_id, kyrios_id, version),
        current=known,
    )
    if final:
        save_state(ctx, hold, str(answer.get("Id") or current.qbo_id), _token(answer), version)
    return answer


def _token(answer: Mapping[str, Any]) -> str | None:
    token = answer.get("SyncToken")
    return str(token) if token is not None else None


def amount(value: object) -> Decimal:
    """A QBO number as a Decimal (absent: 0)."""
    return Decimal(str(value)) if value is not None else Decimal(0)
