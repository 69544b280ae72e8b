"""Steps shared by invoices and sales receipts: references, creation and update of the QBO document."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kyrios_qbo import catalog, mapping, matching, store
from kyrios_qbo.models.kyrios import KyriosDocument, check_kyrios_totals
from kyrios_qbo.push.outcomes import PushContext, PushResult
from kyrios_qbo.tax import TaxPlan


class InconsistentDocument(mapping.MappingError):
    """Kyrios' own totals do not add up from its lines: nothing is written to QBO."""

    code = "inconsistent_totals"


@dataclass(frozen=True)
class Prepared:
    """A document with every QBO reference resolved, ready to become a body."""

    refs: mapping.DocumentRefs
    plan: TaxPlan
    company: catalog.Company


def already_applied(
    ctx: PushContext, kind: store.MappingKind, kyrios_id: str, version: int, label: str
) -> tuple[store.IdMapping | None, PushResult | None]:
    """The document's mapping, and a 'skipped' result when QBO already has this version or a newer one
    (a redelivered, late or reordered snapshot must never roll QBO back)."""
    current = store.get_mapping(ctx.realm_id, kind, kyrios_id)
    if current is None or current.applied_version < version:
        return current, None
    return current, PushResult(
        "skipped",
        f"QuickBooks already has version {current.applied_version} of this {label}",
        kind,
        kyrios_id,
        current.qbo_id,
    )


def check_totals(document: KyriosDocument) -> None:
    mismatches = check_kyrios_totals(document)
    if mismatches:
        raise InconsistentDocument(
            "Kyrios' totals do not add up from the lines ("
            + "; ".join(m.describe() for m in mismatches)
            + "), so nothing was sent to QuickBooks: correct the document in Kyrios and send it again"
        )


def prepare(ctx: PushContext, document: KyriosDocument) -> Prepared:
    """Customer, items and tax codes of the document (created in QBO where missing)."""
    company = catalog.company(ctx.client)
    customer = matching.match_customer(
        ctx.client, document.customer, owner=ctx.owner, seconds_left=ctx.seconds_left
    )
    items = catalog.ensure_items(ctx.client, (line.product for line in document.lines))
    plan = catalog.tax_plan(
        ctx.client, company, document.lines, prices_include_tax=document.prices_include_tax
    )
    return Prepared(mapping.DocumentRefs(customer.qbo_id, items), plan, company)


def total_mismatch(document: KyriosDocument, answer: Mapping[str, Any]) -> str | None:
    """None when QBO's ``TotalAmt`` equals the Kyrios total to the cent, else a sentence saying so."""
    qbo_total = answer.get("TotalAmt")
    if mapping.totals_match(document.totals.total, qbo_total):
        return None
    return (
        f"QuickBooks computed a total of {qbo_total} {document.currency} but Kyrios says "
        f"{document.totals.total}: check the tax setup in QuickBooks (rates, automated sales tax) "
        "and correct the document in one of the two systems"
    )


def save_state(
    ctx: PushContext,
    kind: store.MappingKind,
    kyrios_id: str,
    qbo_id: str,
    sync_token: str | None,
    version: int,
) -> None:
    """Record that QBO reflects ``version``; an equal or newer record already there is fine (we hold
    the document's lease, so that can only be our own earlier attempt)."""
    with contextlib.suppress(store.StaleVersion):
        store.put_mapping(
            ctx.realm_id, kind, kyrios_id, qbo_id=qbo_id, sync_token=sync_token, applied_version=version
        )


def write_document(
    ctx: PushContext,
    *,
    entity: str,
    kind: store.MappingKind,
    kyrios_id: str,
    version: int,
    body: dict[str, Any],
    current: store.IdMapping | None,
    final: bool,
) -> dict[str, Any]:
    """Create the QBO document (requestid keyed by the document) or sparse-update it (keyed by document +
    version; a stale SyncToken re-reads and re-applies).

    ``final``: nothing else is written to QBO for this version, so the version is recorded as applied
    here. Otherwise a new QBO id is still remembered before returning, with applied version 0, so a
    crash before the caller's :func:`save_state` updates rather than creates again."""
    if current is None:
        answer = ctx.client.create(
            entity, body, request_id=mapping.request_id(kind, ctx.realm_id, kyrios_id)
        )
        with contextlib.suppress(store.StaleVersion):
            store.put_mapping(
                ctx.realm_id, kind, kyrios_id, qbo_id=str(answer["Id"]),
                sync_token=_token(answer), applied_version=version if final else 0, new=True,
            )
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
        save_state(ctx, kind, kyrios_id, str(answer.get("Id") or current.qbo_id), _token(answer), version)
    return answer


def _token(answer: Mapping[str, Any]) -> str | None:
    token = answer.get("SyncToken")
    return str(token) if token is not None else None


def amount(value: object) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)
