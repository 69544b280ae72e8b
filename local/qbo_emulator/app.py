"""Flask application factory: the routes of every concern plus the cross-cutting hooks
(``intuit_tid`` on every answer, request log, fault injection, the catch-all SystemFault)."""

from __future__ import annotations

import logging
import socket
import struct
import time
import uuid

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import api, control_api, faults, oauth
from .core import Emulator
from .state import LoggedRequest
from .timefmt import fmt_time_ms

log = logging.getLogger("local.qbo_emulator")

OAUTH_ENDPOINTS = {
    "/oauth2/v1/tokens/bearer": "token",
    "/v2/oauth2/tokens/revoke": "revoke",
    "/connect/oauth2": "authorize",
    "/v1/openid_connect/userinfo": "userinfo",
    "/op/v1/jwks": "jwks",
}


def _new_tid() -> str:
    # Intuit-Tid looks like "1-5f732f5f-25dcb83b777d318c396aaf06" (exchanges/*.json)
    return f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def _drop_connection() -> None:
    """Close the client's socket without an answer (RST): what a reset looks like to the client."""
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _accounting_call(path: str) -> tuple[str, str] | None:
    """(realm, path after the realm) of an Accounting API path, else None."""
    parts = path.split("/", 4)
    if len(parts) > 3 and parts[1] == "v3" and parts[2] == "company":
        return parts[3], parts[4] if len(parts) > 4 else ""
    return None


def create_app(emu: Emulator) -> Flask:
    app = Flask("local.qbo_emulator")
    app.config["MAX_CONTENT_LENGTH"] = 20 * 1024 * 1024

    @app.before_request
    def before() -> Response | None:
        g.tid = _new_tid()
        if not emu.base_url:
            emu.base_url = request.host_url.rstrip("/")
        if request.path.startswith("/_emulator"):
            return None
        realm = ""
        call = _accounting_call(request.path)
        if call is not None:
            # Named now, not in the route, so that calls failed by an injected fault before the
            # write are logged with their realm and endpoint like any other (benchmarks count them).
            realm, rest = call
            g.realm = realm
            g.endpoint = api.endpoint_name(request.method, rest)
        rule = emu.faults.take(request.method, request.path, realm)
        if rule is None:
            return None
        if rule.after_write:
            g.after_fault = rule
            return None
        return _pre_write_fault(emu, rule.kind, rule.seconds)

    @app.after_request
    def after(resp: Response) -> Response:
        resp.headers["intuit_tid"] = g.get("tid", _new_tid())
        resp.headers["Intuit-Tid"] = resp.headers["intuit_tid"]
        if request.path.startswith("/_emulator"):
            return resp
        _log_request(emu, resp)
        rule = g.pop("after_fault", None)
        if rule is not None:
            if rule.kind == "reset":
                _drop_connection()
            elif rule.kind == "timeout":
                time.sleep(rule.seconds)
            else:
                replaced = _pre_write_fault(emu, rule.kind, 0)
                replaced.headers["intuit_tid"] = resp.headers["intuit_tid"]
                replaced.headers["Intuit-Tid"] = resp.headers["intuit_tid"]
                return replaced
        return resp

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        if request.path.startswith("/v3/"):
            fault = faults.unsupported_operation(request.path, request.base_url)
            return api.json_response(400, fault.body(emu.state.now()), api.JSON_FAULT)
        return api.json_response(
            err.code or 500, {"error": err.name, "error_description": err.description}, "application/json"
        )

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Response:
        # A bug in the emulator, never an answer QBO would give to bad input: logged loudly.
        log.exception("emulator error on %s %s", request.method, request.path)
        emu.state.request_log.unexpected_errors += 1
        fault = faults.system_fault(f"{type(err).__name__}")
        return api.json_response(500, fault.body(emu.state.now()), api.JSON_FAULT)

    oauth.register(app, emu)
    api.register(app, emu)
    control_api.register(app, emu)

    @app.route("/v3/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def v3_unknown(rest: str) -> Response:
        fault = faults.unsupported_operation(f"/v3/{rest}", request.base_url)
        return api.json_response(400, fault.body(emu.state.now()), api.JSON_FAULT)

    return app


def _pre_write_fault(emu: Emulator, kind: str, seconds: float) -> Response:
    now = emu.state.now()
    if kind == "429":
        return api.throttled(emu)
    if kind == "503":
        return api.json_response(503, faults.service_unavailable().body(now), api.JSON_FAULT)
    if kind == "timeout":
        time.sleep(seconds)
        return api.json_response(
            504,
            faults.QboError(
                504,
                "10000",
                "Gateway Timeout",
                "System Failure Error: upstream request timeout",
                fault_type="SystemFault",
            ).body(now),
            api.JSON_FAULT,
        )
    if kind == "reset":
        _drop_connection()
        return Response("", status=500)
    return api.json_response(500, faults.system_fault().body(now), api.JSON_FAULT)


def _log_request(emu: Emulator, resp: Response) -> None:
    path = request.path
    endpoint = g.get("endpoint")
    if endpoint is None:
        if path.startswith("/.well-known/"):
            endpoint = "GET discovery"
        else:
            endpoint = f"{request.method} {OAUTH_ENDPOINTS.get(path, path)}"
    entry = LoggedRequest(
        time=fmt_time_ms(emu.state.now()),
        method=request.method,
        path=path,
        endpoint=endpoint,
        realm=g.get("realm", ""),
        status=resp.status_code,
        minorversion=request.args.get("minorversion"),
        requestid=request.args.get("requestid"),
        intuit_tid=g.get("tid", ""),
        query=g.get("query"),
    )
    with emu.state.lock:
        emu.state.request_log.add(entry)
