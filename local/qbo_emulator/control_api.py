"""Control API under ``/_emulator/`` for tests, benchmarks and the demo (no auth, loopback only).

See README.md for the list; ``control.py`` is the typed client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request

from . import faults, jsonfmt, metering
from .entities import Books
from .oauth import App
from .seed import CompanySpec, add_company
from .specs import SPECS, find_spec
from .timefmt import fmt_time, parse_datetime

if TYPE_CHECKING:
    from .core import Emulator
    from .state import Company


Handler = Callable[..., Response]


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _ok(body: Any, status: int = 200) -> Response:
    return Response(jsonfmt.dumps(body), status=status, content_type="application/json")


def _body() -> dict[str, Any]:
    raw = request.get_data()
    if not raw.strip():
        return {}
    try:
        data = jsonfmt.loads(raw)
    except ValueError as exc:
        raise ControlError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError("expected a JSON object")
    return data


def register(app: Flask, emu: Emulator) -> None:
    def company(realm: str) -> Company:
        co = emu.state.company(str(realm))
        if co is None:
            raise ControlError(f"unknown realm {realm}", 404)
        return co

    def route(rule: str, methods: list[str]) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            def wrapped(**kw: Any) -> Response:
                try:
                    return fn(**kw)
                except ControlError as err:
                    return _ok({"error": str(err)}, err.status)
                except faults.QboError as err:
                    return _ok({"error": str(err), "Fault": err.fault_object()}, err.status)
                except (KeyError, ValueError, TypeError) as err:
                    return _ok({"error": f"{type(err).__name__}: {err}"}, 400)

            wrapped.__name__ = "ctl_" + fn.__name__
            app.add_url_rule("/_emulator" + rule, wrapped.__name__, wrapped, methods=methods)
            return fn

        return deco

    @route("/health", ["GET"])
    def health() -> Response:
        return _ok({"ok": True, "unexpected_errors": emu.state.request_log.unexpected_errors})

    @route("/reset", ["POST"])
    def reset() -> Response:
        b = _body()
        emu.reset(keep_apps=bool(b.get("keep_apps", True)), seed=bool(b.get("seed", True)))
        return _ok({"ok": True})

    @route("/config", ["GET", "POST"])
    def config() -> Response:
        if request.method == "POST":
            b = _body()
            with emu.state.lock:
                if "time_scale" in b:
                    emu.state.clock.set_scale(float(b["time_scale"]))
                if "webhook_retry_schedule" in b:
                    b["webhook_retry_schedule"] = [float(x) for x in b["webhook_retry_schedule"]]
                if b.get("webhook_retry_repeat_seconds") is not None:
                    b["webhook_retry_repeat_seconds"] = float(b["webhook_retry_repeat_seconds"])
                for k, v in list(b.items()):
                    if isinstance(v, Decimal):
                        b[k] = float(v)
                emu.config.update(b)
        return _ok(emu.config.as_dict())

    @route("/clock", ["GET"])
    def clock() -> Response:
        now = emu.state.now()
        return _ok({"now": now.isoformat(), "time_scale": emu.state.clock.time_scale})

    @route("/clock/advance", ["POST"])
    def advance() -> Response:
        b = _body()
        now = emu.state.clock.advance(float(b.get("seconds", 0)))
        return _ok({"now": now.isoformat()})

    @route("/clock/set", ["POST"])
    def set_clock() -> Response:
        b = _body()
        emu.state.clock.set(parse_datetime(str(b["time"])))
        return _ok({"now": emu.state.now().isoformat()})

    @route("/companies", ["GET", "POST"])
    def companies() -> Response:
        with emu.state.lock:
            if request.method == "POST":
                spec = CompanySpec.from_dict(_body())
                if spec.seed not in (None, "sandbox", "minimal"):
                    raise ControlError("seed must be 'sandbox' or 'minimal'")
                if spec.realm_id in emu.state.companies:
                    raise ControlError(f"realm {spec.realm_id} exists")
                add_company(emu, spec)
            return _ok({"companies": [_company_dict(c) for c in emu.state.companies.values()]})

    @route("/companies/<realm>/settings", ["POST"])
    def company_settings(realm: str) -> Response:
        b = _body()
        with emu.state.lock:
            co = company(realm)
            if "multi_currency" in b:
                co.multi_currency = bool(b["multi_currency"])
                prefs = co.get("Preferences", "1")
                if prefs is not None:
                    prefs.data["CurrencyPrefs"]["MultiCurrencyEnabled"] = co.multi_currency
                    emu.state.touch(co, prefs)
            if "ast_rate" in b and co.is_us:
                co.ast_rate = None if b["ast_rate"] is None else Decimal(str(b["ast_rate"]))
                for rate in co.live("TaxRate"):
                    if rate.data.get("Name") == "Automated Sales Tax rate":
                        rate.data["RateValue"] = co.ast_rate or Decimal(0)
            if "exchange_rates" in b:
                co.exchange_rates.update({k: Decimal(str(v)) for k, v in b["exchange_rates"].items()})
            return _ok(_company_dict(co))

    @route("/seed", ["POST"])
    def seed() -> Response:
        """Bulk objects for a realm without webhooks; each may carry MetaData.CreateTime (and TxnDate)."""
        b = _body()
        out: dict[str, list[str]] = {}
        with emu.state.lock:
            co = company(str(b["realm"]))
            books = Books(emu.state, co)
            for key, entity in (
                ("accounts", "Account"),
                ("items", "Item"),
                ("customers", "Customer"),
                ("vendors", "Vendor"),
                ("employees", "Employee"),
                ("invoices", "Invoice"),
                ("salesreceipts", "SalesReceipt"),
                ("payments", "Payment"),
            ):
                for obj in b.get(key, []) or []:
                    obj = dict(obj)
                    meta = obj.pop("MetaData", None) or {}
                    created = parse_datetime(str(meta["CreateTime"])) if meta.get("CreateTime") else None
                    rec = books.create(entity, obj, created=created, emit=False)
                    if meta.get("LastUpdatedTime"):
                        rec.updated = parse_datetime(str(meta["LastUpdatedTime"]))
                        rec.data["MetaData"]["LastUpdatedTime"] = fmt_time(co.local(rec.updated))
                    out.setdefault(key, []).append(rec.id)
        return _ok(out)

    @route("/apps", ["GET", "POST"])
    def apps() -> Response:
        with emu.state.lock:
            if request.method == "POST":
                b = _body()
                old = emu.oauth.apps.get(str(b["client_id"]))
                fmt = str(b.get("webhook_format", old.webhook_format if old else "legacy"))
                if fmt not in ("legacy", "cloudevents"):
                    raise ControlError("webhook_format must be legacy or cloudevents")
                app_ = App(
                    client_id=str(b["client_id"]),
                    client_secret=str(b.get("client_secret", old.client_secret if old else "")),
                    redirect_uris=list(b.get("redirect_uris", old.redirect_uris if old else [])),
                    webhook_url=b.get("webhook_url", old.webhook_url if old else None),
                    verifier_token=str(b.get("verifier_token", old.verifier_token if old else "")),
                    webhook_format=fmt,
                    name=str(b.get("name", old.name if old else "Kyrios")),
                )
                if not app_.client_secret:
                    raise ControlError("client_secret is required")
                emu.oauth.apps[app_.client_id] = app_
            return _ok({"apps": [a.as_dict() for a in emu.oauth.apps.values()]})

    @route("/oauth/code", ["POST"])
    def oauth_code() -> Response:
        import secrets
        from datetime import timedelta

        from .oauth import AuthCode

        b = _body()
        with emu.state.lock:
            app_ = emu.oauth.apps.get(str(b.get("client_id", "emulator-client-id")))
            if app_ is None:
                raise ControlError("unknown client_id")
            realm = str(b["realm"])
            company(realm)
            redirect_uri = str(b.get("redirect_uri") or app_.redirect_uris[0])
            code = "AB11" + secrets.token_urlsafe(24)
            emu.oauth.codes[code] = AuthCode(
                code,
                app_.client_id,
                realm,
                redirect_uri,
                str(b.get("scope", "com.intuit.quickbooks.accounting")),
                emu.state.now() + timedelta(seconds=emu.config.code_ttl_seconds),
            )
        return _ok({"code": code, "realmId": realm, "redirect_uri": redirect_uri})

    @route("/oauth/tokens", ["POST"])
    def oauth_tokens() -> Response:
        b = _body()
        with emu.state.lock:
            client_id = str(b.get("client_id", "emulator-client-id"))
            if client_id not in emu.oauth.apps:
                raise ControlError("unknown client_id")
            realm = str(b["realm"])
            company(realm)
            scope = str(b.get("scope", "com.intuit.quickbooks.accounting"))
            grant, access = emu.oauth.new_grant(emu, client_id, realm, scope.replace("openid", "").strip())
            body = emu.oauth.token_response(emu, grant, access, False)
        return _ok(body | {"realmId": realm})

    @route("/oauth/grants", ["GET"])
    def oauth_grants() -> Response:
        with emu.state.lock:
            rows = [
                {
                    "id": gr.id,
                    "client_id": gr.client_id,
                    "realm": gr.realm,
                    "revoked": gr.revoked,
                    "refresh_token": gr.refresh_token,
                    "refresh_expires_at": gr.refresh_expires_at.isoformat(),
                    "hard_expires_at": gr.hard_expires_at.isoformat(),
                }
                for gr in emu.oauth.grants.values()
            ]
        return _ok({"grants": rows})

    @route("/oauth/grants/hard-expiry", ["POST"])
    def oauth_hard_expiry() -> Response:
        """Move the five-year maximum of live grants (``realm``, ``client_id`` optional) to
        ``expires_in_seconds`` from now (emulator clock): a company near the end of its grant."""
        b = _body()
        seconds = b.get("expires_in_seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float | Decimal) or seconds < 0:
            raise ControlError("expires_in_seconds must be a non-negative number")
        n = 0
        with emu.state.lock:
            for gr in emu.oauth.live_grants(b.get("realm"), b.get("client_id")):
                gr.hard_expires_at = emu.state.now() + timedelta(seconds=float(seconds))
                n += 1
        return _ok({"moved": n})

    @route("/oauth/invalidate", ["POST"])
    def oauth_invalidate() -> Response:
        """what=access: access tokens expire now (-> 401/3200);
        refresh|all: grants revoked (-> invalid_grant)."""
        b = _body()
        what = str(b.get("what", "access"))
        realm = b.get("realm")
        client_id = b.get("client_id")
        n = 0
        with emu.state.lock:
            for gr in emu.oauth.live_grants(realm, client_id):
                if what == "access":
                    for acc in emu.oauth.access.values():
                        if acc.grant_id == gr.id:
                            acc.expires_at = emu.state.now()
                            n += 1
                else:
                    emu.oauth.revoke_grant(gr)
                    n += 1
        return _ok({"invalidated": n})

    @route("/faults", ["GET", "POST", "DELETE"])
    def fault_rules() -> Response:
        if request.method == "POST":
            rule = emu.faults.add(_body())
            return _ok(rule.as_dict())
        if request.method == "DELETE":
            emu.faults.clear()
        return _ok({"faults": emu.faults.listing()})

    def _as_user(realm: str, fn: Any) -> Any:
        with emu.state.lock:
            co = company(realm)
            books = Books(emu.state, co)
            result = fn(books)
            changes = books.changes
        emu.emit(realm, changes)
        return result

    @route("/actions/create-customer", ["POST"])
    def create_customer() -> Response:
        b = _body()
        realm = str(b.pop("realm"))
        rec = _as_user(realm, lambda books: books.create("Customer", b))
        return _ok({"Customer": rec.data})

    @route("/actions/pay-invoice", ["POST"])
    def pay_invoice() -> Response:
        b = _body()
        realm = str(b["realm"])

        def pay(books: Books) -> Any:
            inv = books.get_live("Invoice", str(b["invoice_id"]))
            amount = b.get("amount", inv.data["Balance"])
            return books.create(
                "Payment",
                {
                    "CustomerRef": {"value": inv.data["CustomerRef"]["value"]},
                    "TotalAmt": amount,
                    "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": inv.id, "TxnType": "Invoice"}]}],
                },
            )

        rec = _as_user(realm, pay)
        return _ok({"Payment": rec.data})

    @route("/actions/entity", ["POST"])
    def entity_action() -> Response:
        from .api import write

        b = _body()
        spec = find_spec(str(b["entity"]))
        if spec is None:
            raise ControlError("unknown entity")
        op = str(b.get("operation", "create"))
        obj = _as_user(
            str(b["realm"]),
            lambda books: write(books, spec.name, dict(b.get("body") or {}), None if op == "create" else op),
        )
        return _ok({spec.name: obj})

    @route("/entities/<realm>/<entity>", ["GET"])
    def list_entities(realm: str, entity: str) -> Response:
        spec = find_spec(entity)
        if spec is None:
            raise ControlError(f"unknown entity {entity}; known: {sorted(SPECS)}", 404)
        with emu.state.lock:
            co = company(realm)
            include_deleted = request.args.get("include_deleted") == "true"
            rows = [
                Books.deleted_shape(r) if r.deleted else r.data
                for r in co.records.get(spec.name, {}).values()
                if include_deleted or not r.deleted
            ]
            return _ok({spec.name: rows, "count": len(rows)})

    @route("/entities/<realm>/<entity>/<obj_id>", ["GET"])
    def get_entity(realm: str, entity: str, obj_id: str) -> Response:
        spec = find_spec(entity)
        if spec is None:
            raise ControlError(f"unknown entity {entity}", 404)
        with emu.state.lock:
            rec = company(realm).get(spec.name, obj_id, include_deleted=True)
            if rec is None:
                raise ControlError("not found", 404)
            return _ok({spec.name: Books.deleted_shape(rec) if rec.deleted else rec.data})

    @route("/requests", ["GET", "DELETE"])
    def requests_log() -> Response:
        with emu.state.lock:
            if request.method == "DELETE":
                emu.state.request_log.clear()
                return _ok({"ok": True})
            realm = request.args.get("realm")
            endpoint = request.args.get("endpoint")
            rows = [
                e.as_dict()
                for e in emu.state.request_log.entries
                if (realm is None or e.realm == realm) and (endpoint is None or e.endpoint == endpoint)
            ]
        return _ok({"requests": rows})

    @route("/requests/counts", ["GET"])
    def request_counts() -> Response:
        with emu.state.lock:
            return _ok(
                {
                    "counts": emu.state.request_log.counts_by_realm(),
                    "total": sum(emu.state.request_log.counts.values()),
                }
            )

    @route("/metering", ["GET", "DELETE"])
    def metering_counts() -> Response:
        """Core/CorePlus calls per realm and per app of one month (``?month=YYYY-MM``, default: now)."""
        if request.method == "DELETE":
            emu.meter.reset()
            return _ok({"ok": True})
        month = request.args.get("month") or metering.month_of(emu.state.now())
        if not metering.MONTH.fullmatch(month):
            raise ControlError("month must look like YYYY-MM")
        return _ok({**emu.meter.report(month), "months": emu.meter.months()})

    @route("/webhooks/deliveries", ["GET"])
    def deliveries() -> Response:
        return _ok({"deliveries": emu.webhooks.listing()})

    @route("/webhooks/switches", ["GET", "POST"])
    def switches() -> Response:
        if request.method == "POST":
            b = _body()
            sw = emu.webhooks.switches
            for k, v in b.items():
                if not hasattr(sw, k):
                    raise ControlError(f"unknown switch {k}")
                setattr(sw, k, type(getattr(sw, k))(v))
            emu.webhooks.switches_changed()
        return _ok(emu.webhooks.switches.as_dict())

    @route("/webhooks/wait", ["POST"])
    def webhooks_wait() -> Response:
        b = _body()
        return _ok({"idle": emu.webhooks.wait_idle(float(b.get("timeout", 5.0)))})


def _company_dict(co: Company) -> dict[str, Any]:
    return {
        "realm_id": co.realm_id,
        "name": co.name,
        "country": co.country,
        "home_currency": co.home_currency,
        "multi_currency": co.multi_currency,
        "tz": co.tz,
        "ast_rate": None if co.ast_rate is None else str(co.ast_rate),
        "automated_sales_tax": co.automated_sales_tax,
        "exchange_rates": {k: str(v) for k, v in co.exchange_rates.items()},
    }
