"""Accounting API v3 under ``/v3/company/<realm>/``: auth, throttling, requestid replay, CRUD,
query, CDC, batch and the tax service.

Response shapes follow the captured samples: ``{"<Entity>": {...}, "time": ...}`` for reads and
writes (customer-*.json, invoice-*.json), ``{"<Entity>": {"domain","status":"Deleted","Id"}}`` for
deletes (invoice-delete-response.json), ``QueryResponse`` (query-customer-response.json),
``CDCResponse`` (cdc-response.json), ``BatchItemResponse`` (batch-response.json).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request

from . import documents, faults, jsonfmt, metering, query, recurring
from .entities import Books, check_id
from .specs import SPECS, find_spec
from .state import CachedResponse, Company, Record
from .timefmt import fmt_time, fmt_time_ms, parse_datetime
from .upload import upload

if TYPE_CHECKING:
    from .core import Emulator

JSON_OK = "application/json;charset=utf-8"
JSON_FAULT = "application/json"


def json_response(status: int, body: Any, content_type: str = JSON_OK) -> Response:
    return Response(jsonfmt.dumps(body), status=status, content_type=content_type)


def fault_response(emu: Emulator, err: faults.QboError, company: Company | None = None) -> Response:
    now = emu.state.now()
    local = company.local(now) if company else now
    resp = json_response(err.status, err.body(local), JSON_FAULT)
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def auth_failure(emu: Emulator, detail: str) -> Response:
    resp = json_response(401, faults.auth_fault_body(detail, emu.state.now()), JSON_FAULT)
    resp.headers["WWW-Authenticate"] = faults.WWW_AUTHENTICATE
    return resp


def throttled(emu: Emulator) -> Response:
    resp = Response(faults.throttle_xml(emu.state.now()), status=429, content_type="application/xml")
    if emu.config.retry_after is not None:
        resp.headers["Retry-After"] = str(emu.config.retry_after)
    return resp


def _check_bearer(emu: Emulator, realm: str) -> Response | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return auth_failure(emu, "Token invalid")
    token = header[7:].strip()
    with emu.state.lock:
        acc = emu.oauth.access.get(token)
        if acc is None:
            return auth_failure(emu, "Token invalid")
        if acc.expires_at <= emu.state.now():
            return auth_failure(emu, f"Token expired: {token[-50:]}")
        grant = emu.oauth.grants.get(acc.grant_id)
        if grant is None or grant.revoked:
            return auth_failure(emu, "Token revoked")
        if grant.realm != realm:
            return fault_response(emu, faults.authorization_failed())
    return None


def endpoint_name(method: str, rest: str) -> str:
    """How the request log names an Accounting call: ``"POST invoice"``, ``"GET query"``,
    ``"POST taxservice"``; ``rest`` is the path after ``/v3/company/<realm>/``."""
    if rest.lower().startswith("taxservice/"):
        return f"{method} taxservice"
    return f"{method} {rest.split('/')[0].lower() or '-'}"


def register(app: Flask, emu: Emulator) -> None:
    @app.teardown_request
    def release_rate_slot(_exc: BaseException | None) -> None:
        realm = g.pop("rate_slot", None)
        if realm is not None:
            emu.ratelimiter.done(realm)

    @app.route("/v3/company/<realm>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.route("/v3/company/<realm>/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def accounting(realm: str, rest: str = "") -> Response:
        g.realm = realm
        g.endpoint = endpoint_name(request.method, rest)
        denied = _check_bearer(emu, realm)
        if denied is not None:
            return denied
        is_batch = rest.lower() == "batch"
        if not emu.ratelimiter.allow(realm, is_batch):
            return throttled(emu)
        g.rate_slot = realm  # in flight until the answer is out (teardown below), injected delays included
        emu.meter.count(
            emu.state.now(),
            realm,
            metering.client_id_of(emu, request.headers.get("Authorization", "")),
            metering.classify(request.method, rest, request.get_data(cache=True)),
        )
        requestid = request.args.get("requestid") or None
        g.requestid = requestid
        if request.method == "POST" and requestid:
            with emu.state.lock:
                cached = emu.state.requestids.get((realm, requestid))
            if cached is not None:
                g.replayed = True
                return Response(cached.body, status=cached.status, content_type=cached.content_type)
        with emu.state.lock:
            company = emu.state.company(realm)
            if company is None:
                return fault_response(emu, faults.authorization_failed())
            books = Books(emu.state, company)
            try:
                resp = _dispatch(emu, company, books, realm, rest)
            except faults.QboError as err:
                resp = fault_response(emu, err, company)
            if request.method == "POST" and requestid and resp.status_code == 200:
                emu.state.requestids[(realm, requestid)] = CachedResponse(
                    resp.status_code,
                    resp.get_data(as_text=True),
                    resp.content_type or JSON_OK,
                    emu.state.now(),
                )
            changes = books.changes
        emu.emit(realm, changes)
        return resp


def _now_local(emu: Emulator, company: Company) -> str:
    return fmt_time_ms(company.local(emu.state.now()))


def _read_body(allow_empty: bool = False) -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if allow_empty:
            return {}
        raise faults.malformed_body("No content to map due to end-of-input")
    try:
        body = jsonfmt.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise faults.json_parse_error() from exc
    if not isinstance(body, dict):
        raise faults.malformed_body("Cannot deserialize instance out of START_ARRAY token")
    return body


def _unsupported(realm: str, rest: str) -> faults.QboError:
    relative = f"/v3/company/{realm}/{rest}".rstrip("/")
    return faults.unsupported_operation(relative, request.base_url)


def _dispatch(emu: Emulator, company: Company, books: Books, realm: str, rest: str) -> Response:
    parts = [p for p in rest.split("/") if p]
    method = request.method
    if not parts:
        raise _unsupported(realm, rest)
    head = parts[0].lower()
    now = _now_local(emu, company)
    if head == "query" and len(parts) == 1 and method in ("GET", "POST"):
        text = request.args.get("query")
        if text is None and method == "POST":
            text = request.get_data(as_text=True)
        g.query = text
        result = run_query(emu, company, text or "")
        if isinstance(result.get("Invoice"), list):
            result["Invoice"] = [with_includes(realm, "Invoice", o) for o in result["Invoice"]]
        return json_response(200, {"QueryResponse": result, "time": now})
    if head == "cdc" and len(parts) == 1 and method == "GET":
        return json_response(200, cdc(emu, company))
    if head == "batch" and len(parts) == 1 and method == "POST":
        return json_response(200, batch(emu, company, books, _read_body()))
    if head == "taxservice" and len(parts) == 2 and parts[1].lower() == "taxcode" and method == "POST":
        return json_response(200, books.create_tax_code(_read_body()))
    if head == "companyinfo" and method == "GET" and len(parts) == 2:
        if parts[1] not in (realm, "1"):
            check_id(parts[1])
            raise faults.object_not_found()
        rec = company.get("CompanyInfo", "1")
        assert rec is not None
        return json_response(200, {"CompanyInfo": rec.data, "time": now})
    if head == "upload" and len(parts) == 1 and method == "POST":
        return json_response(200, upload(books, realm, request.content_type or "", request.get_data(), now))
    if head == "preferences" and len(parts) == 1 and method == "GET":
        rec = company.get("Preferences", "1")
        assert rec is not None
        return json_response(200, {"Preferences": rec.data, "time": now})
    spec = find_spec(head)
    if spec is None:
        raise _unsupported(realm, rest)
    doc_op = (method, parts[2].lower()) if len(parts) == 3 else None
    if spec.name in documents.FORMS and doc_op in (("GET", "pdf"), ("POST", "send")):
        if method == "GET":
            pdf = documents.pdf(spec.name, books.get_live(spec.name, parts[1]).data)
            return Response(pdf, status=200, content_type="application/pdf")
        obj = documents.send(books, spec.name, parts[1], request.args.get("sendTo"))
        return json_response(200, {spec.key: obj, "time": now})
    if method == "GET" and len(parts) == 2:
        rec = books.get_live(spec.name, parts[1])
        return json_response(200, {spec.key: with_includes(realm, spec.name, rec.data), "time": now})
    if method == "POST" and len(parts) == 1:
        body = _read_body()
        obj = write(books, spec.name, body, request.args.get("operation"), request.args.get("include"))
        return json_response(200, {spec.key: with_includes(realm, spec.name, obj), "time": now})
    raise _unsupported(realm, rest)


def with_includes(realm: str, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
    """``?include=invoiceLink`` (D: Intuit's Invoice reference, minorversion 36+: "InvoiceLink —
    sharable link for the invoice sent to external customers ... generated only for invoices with
    online payment enabled and having a valid customer email address"). The link's exact form is
    not captured (E): an https URL unique per invoice."""
    wanted = {p.strip().lower() for p in (request.args.get("include") or "").split(",")}
    if entity != "Invoice" or "invoicelink" not in wanted or obj.get("status") == "Deleted":
        return obj
    online_keys = ("AllowOnlinePayment", "AllowOnlineCreditCardPayment", "AllowOnlineACHPayment")
    online = any(obj.get(k) is True for k in online_keys)
    bill_email = obj.get("BillEmail")
    email = bill_email.get("Address") if isinstance(bill_email, dict) else None
    if not online or not email or "@" not in str(email):
        return obj
    token = hashlib.sha256(f"{realm}:{obj.get('Id')}".encode()).hexdigest()[:40]
    return obj | {"InvoiceLink": f"https://developer.intuit.com/comingSoonview/scs-v1-{token}"}


def write(
    books: Books, entity: str, body: dict[str, Any], operation: str | None, include: str | None = None
) -> dict[str, Any]:
    """create / update / void / delete of one object; returns the object shape to answer.

    Two void forms, as Intuit documents them: ``invoice?operation=void`` and, for Payment and
    SalesReceipt, ``?operation=update&include=void`` with a sparse ``{Id, SyncToken}`` body.
    """
    op = (operation or "").lower()
    if entity == recurring.ENTITY:  # {<Type>: {...}} bodies, their own create / update / delete
        return recurring.write(books, body, op)
    if (include or "").lower() == "void":
        if op not in ("", "update"):
            raise faults.QboError(
                400,
                "500",
                "Unsupported Operation",
                f"Operation {operation} is not supported with include=void.",
            )
        return books.void_by_update(entity, body).data
    if op == "void":
        return books.void(entity, body).data
    if op == "delete":
        rec = books.delete(entity, body)
        return Books.deleted_shape(rec)
    if op not in ("", "update", "create"):
        raise faults.QboError(400, "500", "Unsupported Operation", f"Operation {operation} is not supported.")
    if entity == "Preferences" and "Id" not in body:
        body = body | {"Id": "1"}
    if "Id" in body or op == "update":
        rec = books.update(entity, body)
        _after_company_update(books, entity, rec)
        return rec.data
    return books.create(entity, body).data


def _after_company_update(books: Books, entity: str, rec: Record) -> None:
    if entity == "Preferences":
        cur = (rec.data.get("CurrencyPrefs") or {}).get("MultiCurrencyEnabled")
        if cur is not None:
            if books.co.multi_currency and cur is False:
                rec.data["CurrencyPrefs"]["MultiCurrencyEnabled"] = True  # QBO cannot turn it off
            books.co.multi_currency = bool(rec.data["CurrencyPrefs"]["MultiCurrencyEnabled"])


# ------------------------------------------------------------------------ query
def _objects(company: Company, entity: str) -> list[dict[str, Any]]:
    rows = [r.data for r in company.live(entity)]
    if entity == "TaxCode" and company.is_us:
        # taxcode-query-response.json: US pseudo codes, without SyncToken/domain
        stamp = fmt_time(company.local(datetime(2024, 1, 1, 12, 0, tzinfo=UTC)))
        pseudo = [
            {"TaxGroup": False, "Name": "TAX", "Taxable": True, "Description": "TAX", "Id": "TAX"},
            {"TaxGroup": False, "Name": "NON", "Taxable": False, "Description": "NON", "Id": "NON"},
            {
                "TaxGroup": True,
                "Name": "CustomSalesTax",
                "Taxable": True,
                "Description": "CustomSalesTax",
                "Id": "CustomSalesTax",
            },
        ]
        rows = [p | {"MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}} for p in pseudo] + rows
    return rows


def run_query(emu: Emulator, company: Company, text: str) -> dict[str, Any]:
    q = query.parse(text, emu.config.query_max_results)
    result = query.run(q, _objects(company, q.entity.name), company.zone)
    if q.entity.name == "TaxCode" and company.is_us and not q.count and not q.order:
        # keep the pseudo codes first as QBO lists them
        rows = result.get("TaxCode")
        if rows:
            pseudo = {"TAX": 0, "NON": 1, "CustomSalesTax": 2}
            rows.sort(key=lambda o: (pseudo.get(o["Id"], 3), int(o["Id"]) if o["Id"].isdigit() else 0))
    return result


# ------------------------------------------------------------------------ CDC
def cdc(emu: Emulator, company: Company) -> dict[str, Any]:
    names = request.args.get("entities")
    since_text = request.args.get("changedSince")
    if not names:
        raise faults.required_param("entities")
    if not since_text:
        raise faults.required_param("changedSince")
    try:
        since = parse_datetime(since_text, company.zone)  # type: ignore[arg-type]
    except ValueError as exc:
        raise faults.QboError(
            400,
            "2010",
            "Request has invalid or unsupported property",
            f"Property Name:changedSince specified is unsupported or invalid: {since_text}",
        ) from exc
    now = emu.state.now()
    if since < now - timedelta(days=emu.config.cdc_lookback_days):
        # Intuit: CDC looks back 30 days at most (exact fault text not captured)
        raise faults.QboError(
            400,
            "4001",
            "Invalid query",
            "QueryValidationError: changedSince cannot be more than "
            f"{emu.config.cdc_lookback_days} days in the past",
        )
    specs = []
    for raw in names.split(","):
        spec = find_spec(raw.strip())
        if spec is None or spec.kind == "company":
            raise faults.query_validation_error(f"invalid context declaration: {raw.strip()}")
        if spec not in specs:
            specs.append(spec)
    changed: list[Record] = []
    for spec in specs:
        for rec in company.records.get(spec.name, {}).values():
            if rec.updated.replace(microsecond=0) >= since:
                changed.append(rec)
    changed.sort(key=lambda r: (r.updated.replace(microsecond=0), r.seq))
    changed = changed[: emu.config.cdc_max_objects]
    per_entity: dict[str, list[dict[str, Any]]] = {s.name: [] for s in specs}
    for rec in changed:
        if rec.deleted:
            obj = Books.deleted_shape(rec) | {
                "MetaData": {"LastUpdatedTime": fmt_time(company.local(rec.updated))}
            }
        else:
            obj = rec.data
        per_entity[rec.entity].append(obj)
    responses: list[dict[str, Any]] = []
    for spec in specs:
        rows = per_entity[spec.name]
        responses.append({spec.key: rows, "startPosition": 1, "maxResults": len(rows)} if rows else {})
    return {"CDCResponse": [{"QueryResponse": responses}], "time": _now_local(emu, company)}


# ------------------------------------------------------------------------ batch
def batch(emu: Emulator, company: Company, books: Books, body: dict[str, Any]) -> dict[str, Any]:
    for key in body:
        if key != "BatchItemRequest":
            raise faults.unsupported_property("IntuitBatchRequest", key, ["BatchItemRequest"])
    items = body.get("BatchItemRequest")
    if not isinstance(items, list) or not items:
        raise faults.required_param("BatchItemRequest")
    if len(items) > emu.config.batch_max_items:
        raise faults.QboError(
            400,
            "1000",
            "Batch request exceeds the maximum number of items",
            f"Number of items in BatchItemRequest ({len(items)}) exceeds the maximum of "
            f"{emu.config.batch_max_items}",
        )
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            raise faults.malformed_body("BatchItemRequest")
        bid = item.get("bId")
        try:
            out.append(_batch_item(emu, company, books, item) | {"bId": bid})
        except faults.QboError as err:
            out.append({"Fault": err.fault_object(), "bId": bid})
    return {"BatchItemResponse": out, "time": _now_local(emu, company)}


def _batch_item(emu: Emulator, company: Company, books: Books, item: dict[str, Any]) -> dict[str, Any]:
    if "Query" in item:
        return {"QueryResponse": run_query(emu, company, str(item["Query"]))}
    entity_keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
    if len(entity_keys) != 1:
        raise faults.malformed_body("BatchItemRequest must name exactly one entity")
    spec = find_spec(entity_keys[0])
    if spec is None or spec.name != entity_keys[0]:
        raise faults.unsupported_property("BatchItemRequest", entity_keys[0], sorted(SPECS))
    obj = item[entity_keys[0]]
    if not isinstance(obj, dict):
        raise faults.malformed_body(entity_keys[0])
    op = str(item.get("operation") or "create").lower()
    if op == "create" and "Id" in obj:
        obj = {k: v for k, v in obj.items() if k != "Id"}
    result = write(books, spec.name, obj, op if op in ("void", "delete", "update") else None)
    return {spec.key: result}
