"""Typed client of the emulator's control API (``/_emulator/...``), used by tests and the demo.

ctl = EmulatorControl("http://127.0.0.1:8765")
ctl.reset()
tokens = ctl.issue_tokens(realm="9341450000000001")
ctl.inject_fault(kind="reset", path="/invoice", method="POST", after_write=True)
"""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControlError(RuntimeError):
    pass


class EmulatorControl:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        resp = self._session.request(
            method,
            f"{self.base_url}/_emulator{path}",
            json=body,
            params=params,
            timeout=timeout or self.timeout,
        )
        if resp.status_code >= 400:
            raise EmulatorControlError(f"{method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    # ------------------------------------------------------------------ state
    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/health"))

    def reset(self, keep_apps: bool = True, seed: bool = True) -> None:
        self._call("POST", "/reset", {"keep_apps": keep_apps, "seed": seed})

    def config(self, **changes: Any) -> dict[str, Any]:
        """Read (no arguments) or change EmulatorConfig fields (time_scale, rate_limits, per_minute, ...)."""
        if changes:
            return dict(self._call("POST", "/config", changes))
        return dict(self._call("GET", "/config"))

    def now(self) -> str:
        return str(self._call("GET", "/clock")["now"])

    def advance_clock(self, seconds: float) -> str:
        return str(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def set_clock(self, iso_time: str) -> str:
        return str(self._call("POST", "/clock/set", {"time": iso_time})["now"])

    def companies(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/companies")["companies"])

    def add_company(
        self,
        realm_id: str,
        name: str,
        country: str,
        home_currency: str | None = None,
        multi_currency: bool = False,
        ast_rate: str | None = "8.25",
        seed: str | None = None,
        automated_sales_tax: bool = True,
        region: str | None = None,
    ) -> list[dict[str, Any]]:
        """A new company. ``seed="sandbox"`` fills it like a fresh Intuit sandbox company (customers,
        invoices, payments, items, accounts, terms, payment methods: sandbox_seed.py); ``"minimal"``
        gives the nearly empty company tests that count records start from; None: config.default_seed.
        ``automated_sales_tax=False``: a US company on manual sales tax; ``region``: the province/state of
        its address (CA default ON)."""
        body = {
            "seed": seed,
            "realm_id": realm_id,
            "name": name,
            "country": country,
            "home_currency": home_currency,
            "multi_currency": multi_currency,
            "ast_rate": ast_rate,
            "automated_sales_tax": automated_sales_tax,
            "region": region,
        }
        return list(self._call("POST", "/companies", body)["companies"])

    def company_settings(
        self,
        realm: str,
        multi_currency: bool | None = None,
        ast_rate: str | None = None,
        exchange_rates: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if multi_currency is not None:
            body["multi_currency"] = multi_currency
        if ast_rate is not None:
            body["ast_rate"] = ast_rate
        if exchange_rates is not None:
            body["exchange_rates"] = exchange_rates
        return dict(self._call("POST", f"/companies/{realm}/settings", body))

    def seed(self, realm: str, **objects: list[dict[str, Any]]) -> dict[str, list[str]]:
        """Bulk-create without webhooks: customers=[...], items=[...], invoices=[...], payments=[...], ...
        Each object may carry ``MetaData: {"CreateTime": iso, "LastUpdatedTime": iso}`` and ``TxnDate``."""
        # Its time grows with what is seeded (thousands of invoices on a busy machine take over 30 s).
        body = {"realm": realm, **objects}
        return dict(self._call("POST", "/seed", body, timeout=max(self.timeout, 300.0)))

    # ------------------------------------------------------------------ apps & OAuth
    def apps(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/apps")["apps"])

    def register_app(
        self,
        client_id: str,
        client_secret: str | None = None,
        redirect_uris: list[str] | None = None,
        webhook_url: str | None = None,
        verifier_token: str | None = None,
        webhook_format: str | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Create or update an app (fields left None keep their value)."""
        body: dict[str, Any] = {"client_id": client_id}
        for key, value in (
            ("client_secret", client_secret),
            ("redirect_uris", redirect_uris),
            ("webhook_url", webhook_url),
            ("verifier_token", verifier_token),
            ("webhook_format", webhook_format),
            ("name", name),
        ):
            if value is not None:
                body[key] = value
        return list(self._call("POST", "/apps", body)["apps"])

    def authorization_code(
        self, realm: str, client_id: str = "emulator-client-id", redirect_uri: str | None = None
    ) -> str:
        return str(
            self._call(
                "POST", "/oauth/code", {"realm": realm, "client_id": client_id, "redirect_uri": redirect_uri}
            )["code"]
        )

    def issue_tokens(self, realm: str, client_id: str = "emulator-client-id") -> dict[str, Any]:
        """A connected grant without the browser dance: token response + realmId."""
        return dict(self._call("POST", "/oauth/tokens", {"realm": realm, "client_id": client_id}))

    def grants(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/oauth/grants")["grants"])

    def set_hard_expiry(
        self, expires_in_seconds: float, realm: str | None = None, client_id: str | None = None
    ) -> int:
        """Move the five-year maximum of the live grants (of ``realm``/``client_id``) to
        ``expires_in_seconds`` from now; how many grants moved."""
        body: dict[str, Any] = {
            "expires_in_seconds": expires_in_seconds, "realm": realm, "client_id": client_id
        }
        return int(self._call("POST", "/oauth/grants/hard-expiry", body)["moved"])

    def invalidate_tokens(
        self, what: str = "access", realm: str | None = None, client_id: str | None = None
    ) -> int:
        """``access``: access tokens expire now (401/3200);
        ``refresh``/``all``: grants revoked (invalid_grant)."""
        body: dict[str, Any] = {"what": what, "realm": realm, "client_id": client_id}
        return int(self._call("POST", "/oauth/invalidate", body)["invalidated"])

    # ------------------------------------------------------------------ faults
    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        realm: str | None = None,
        after_write: bool = False,
        seconds: float = 5.0,
    ) -> dict[str, Any]:
        """kind: 500 | 503 | 429 | timeout | reset; path is a regex searched in the request path."""
        return dict(
            self._call(
                "POST",
                "/faults",
                {
                    "kind": kind,
                    "count": count,
                    "method": method,
                    "path": path,
                    "realm": realm,
                    "after_write": after_write,
                    "seconds": seconds,
                },
            )
        )

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # ------------------------------------------------------------------ acting as a QBO user
    def create_customer(self, realm: str, **fields: Any) -> dict[str, Any]:
        return dict(self._call("POST", "/actions/create-customer", {"realm": realm, **fields})["Customer"])

    def pay_invoice(self, realm: str, invoice_id: str, amount: str | float | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"realm": realm, "invoice_id": invoice_id}
        if amount is not None:
            body["amount"] = amount
        return dict(self._call("POST", "/actions/pay-invoice", body)["Payment"])

    def user_action(self, realm: str, entity: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        """create/update/void/delete any entity as a QBO user would (webhooks fire)."""
        out = self._call(
            "POST",
            "/actions/entity",
            {"realm": realm, "entity": entity, "operation": operation, "body": body},
        )
        return dict(next(iter(out.values())))

    def entities(self, realm: str, entity: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        params = {"include_deleted": "true"} if include_deleted else None
        out = self._call("GET", f"/entities/{realm}/{entity}", params=params)
        return [o for k, v in out.items() if k != "count" for o in v]

    def entity(self, realm: str, entity: str, obj_id: str) -> dict[str, Any]:
        out = self._call("GET", f"/entities/{realm}/{entity}/{obj_id}")
        return dict(next(iter(out.values())))

    # ------------------------------------------------------------------ request log
    def requests(self, realm: str | None = None, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("realm", realm), ("endpoint", endpoint)) if v is not None}
        return list(self._call("GET", "/requests", params=params)["requests"])

    def request_counts(self) -> dict[str, dict[str, int]]:
        """{realm: {"POST invoice": n, "GET query": n, ...}}; OAuth calls are under realm ""."""
        return dict(self._call("GET", "/requests/counts")["counts"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    # ------------------------------------------------------------------ metering
    def metering(self, month: str | None = None) -> dict[str, Any]:
        """Core/CorePlus calls of ``month`` (``YYYY-MM`` of the emulator clock; default: its current
        month): ``{"month", "realms": {realm: {"Core", "CorePlus"}}, "apps": {client_id: {...}},
        "months"}``."""
        return dict(self._call("GET", "/metering", params={"month": month} if month else None))

    def clear_metering(self) -> None:
        self._call("DELETE", "/metering")

    # ------------------------------------------------------------------ webhooks
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/webhooks/deliveries")["deliveries"])

    def webhook_switches(self, **switches: Any) -> dict[str, Any]:
        """enabled, drop_next, duplicate_next, delay_seconds, reorder."""
        if switches:
            return dict(self._call("POST", "/webhooks/switches", switches))
        return dict(self._call("GET", "/webhooks/switches"))

    def wait_webhooks(self, timeout: float = 5.0) -> bool:
        return bool(self._call("POST", "/webhooks/wait", {"timeout": timeout})["idle"])

    def close(self) -> None:
        self._session.close()
