"""The local API Gateway: HTTP on 127.0.0.1 → API Gateway HTTP API events (payload format 2.0).

Each :class:`Route` comes from an ``HttpApi`` event of a function in template.yaml. A request is
matched like API Gateway matches routes (exact paths before ``{param}`` paths before ``{proxy+}``;
method ``ANY`` matches every method), checked by the JWT authorizer unless the route says
``Auth: Authorizer: NONE`` (missing/invalid token → 401 ``{"message":"Unauthorized"}``), turned
into the event Lambda receives (``rawPath``, ``routeKey``, ``pathParameters``,
``queryStringParameters``, ``cookies``, lower-cased ``headers``, ``isBase64Encoded`` for binary
bodies, ``requestContext.authorizer.jwt.claims``) and the function's answer is turned back into
HTTP the way API Gateway interprets payload format 2.0 responses. No route → 404
``{"message":"Not Found"}``; the function raising → 500 ``{"message":"Internal Server Error"}``.

Besides the template's routes, ``mounts`` serves other WSGI apps on the same origin: the runner
mounts the reference settings page (``ui/``, see :mod:`local.ui_static`) under ``/ui``, which is also
where the OAuth callback sends the browser back to.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from local.devtoken import InvalidToken, verify_token

log = logging.getLogger(__name__)

_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded|[^;]*\+json|[^;]*\+xml))(;.*)?$",
    re.IGNORECASE,
)

Invoke = Callable[[str, dict[str, Any]], Any]
"""``invoke(function_logical_id, event) -> handler result``."""


@dataclass(frozen=True)
class Route:
    """One ``HttpApi`` event of the template."""

    method: str  # upper case, or ANY
    path: str  # e.g. /integrations/quickbooks/imports/{job_id}
    function_id: str
    authorized: bool
    event_name: str = ""

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def specificity(self) -> tuple[int, int, int]:
        """Sort key: API Gateway prefers fewer greedy, then fewer variable segments, then exact method."""
        segments = self.path.strip("/").split("/")
        greedy = sum(1 for part in segments if part.endswith("+}"))
        variables = sum(1 for part in segments if part.startswith("{"))
        return (greedy, variables, 1 if self.method == "ANY" else 0)

    def match(self, path: str) -> dict[str, str] | None:
        pattern = ""
        for part in self.path.strip("/").split("/"):
            if part.startswith("{") and part.endswith("+}"):
                pattern += "/(?P<" + _group(part[1:-2]) + ">.+)"
            elif part.startswith("{") and part.endswith("}"):
                pattern += "/(?P<" + _group(part[1:-1]) + ">[^/]+)"
            elif part:
                pattern += "/" + re.escape(part)
        found = re.fullmatch(pattern or "/", path)
        if found is None:
            return None
        names = _path_names(self.path)
        return {names[group]: value for group, value in found.groupdict().items()}


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _path_names(path: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for part in path.strip("/").split("/"):
        if part.startswith("{"):
            name = part[1:-1].rstrip("+")
            names[_group(name)] = name
    return names


@dataclass
class JwtAuthorizer:
    """The template's JWT authorizer, with the local development key."""

    issuer: str
    audiences: Sequence[str]

    def claims(self, authorization: str | None) -> dict[str, Any] | None:
        """Claims as API Gateway passes them (strings), or None when the token is missing/invalid."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        try:
            claims = verify_token(token.strip(), issuer=self.issuer, audiences=self.audiences)
        except (InvalidToken, ValueError) as exc:  # whatever the token holds, API Gateway says 401
            log.info("front door refused a token: %s", exc)
            return None
        return {name: _claim_string(value) for name, value in claims.items()}


def _claim_string(value: Any) -> str:
    # API Gateway hands claims over as strings; arrays become "[a b]".
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class FrontDoor:
    """A threaded werkzeug server in front of the functions' ``HttpApi`` routes."""

    routes: list[Route]
    invoke: Invoke
    authorizer: JwtAuthorizer
    host: str = "127.0.0.1"
    port: int = 0
    api_id: str = "local"
    account_id: str = "123456789012"
    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None
    served: list[str] = field(default_factory=list)
    mounts: dict[str, Callable[..., Iterable[bytes]]] = field(default_factory=dict)
    """WSGI apps served under a path prefix on the same origin (e.g. ``{"/ui": ui_static.app}``)."""

    def bind(self) -> None:
        """Bind the port now (the URL must be known before the functions' environment is computed)."""
        if self._server is None:
            app: Callable[..., Iterable[bytes]] = self._wsgi
            if self.mounts:
                app = DispatcherMiddleware(self._wsgi, self.mounts)
            self._server = make_server(
                self.host, self.port, app, threaded=True, request_handler=_QuietHandler
            )
            self._server.daemon_threads = True  # type: ignore[attr-defined]  # ThreadedWSGIServer has it

    def start(self) -> None:
        self.bind()
        assert self._server is not None
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="front-door", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            if self._thread is not None:
                self._server.shutdown()
                self._thread.join(timeout=5)
            self._server.server_close()
        self._server = None
        self._thread = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("front door not bound")
        return f"http://{self.host}:{self._server.server_port}"

    def route_keys(self) -> list[str]:
        return [route.route_key for route in self.routes]

    # -- request handling
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def find_route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in sorted(self.routes, key=Route.specificity):
            if route.method not in (method, "ANY"):
                continue
            params = route.match(path)
            if params is not None:
                return route, params
        return None

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        found = self.find_route(request.method, request.path)
        if found is None:
            return _json_response(404, {"message": "Not Found"}, request_id)
        route, path_params = found
        claims: dict[str, Any] | None = None
        if route.authorized:
            claims = self.authorizer.claims(request.headers.get("Authorization"))
            if claims is None:
                response = _json_response(401, {"message": "Unauthorized"}, request_id)
                response.headers["www-authenticate"] = 'Bearer error="invalid_token"'
                return response
        event = self.build_event(request, route, path_params, claims, request_id)
        self.served.append(route.route_key)
        try:
            result = self.invoke(route.function_id, event)
        except Exception:
            log.exception("%s failed on %s", route.function_id, route.route_key)
            return _json_response(500, {"message": "Internal Server Error"}, request_id)
        return _lambda_response(result, request_id)

    def build_event(
        self,
        request: Request,
        route: Route,
        path_params: Mapping[str, str],
        claims: Mapping[str, Any] | None,
        request_id: str,
    ) -> dict[str, Any]:
        """The API Gateway HTTP API (payload format 2.0) event for this request."""
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            if key == "cookie":
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        now = datetime.now(UTC)
        raw_query = request.query_string.decode("latin-1")
        context: dict[str, Any] = {
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": request.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": False,
        }
        cookies = [part.strip() for part in request.headers.get("Cookie", "").split(";") if part.strip()]
        if cookies:
            event["cookies"] = cookies
        if request.args:
            event["queryStringParameters"] = {
                key: ",".join(request.args.getlist(key)) for key in request.args
            }
        if path_params:
            event["pathParameters"] = dict(path_params)
        body = request.get_data()
        if body:
            content_type = request.headers.get("Content-Type", "")
            if _TEXT_TYPES.match(content_type):
                event["body"] = body.decode("utf-8", errors="replace")
            else:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        return event


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


def _json_response(status: int, body: Any, request_id: str) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    response.headers["apigw-requestid"] = request_id
    return response


def _lambda_response(result: Any, request_id: str) -> Response:
    """How API Gateway reads a payload format 2.0 answer."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200, JSON, and the whole answer as the body.
        body = result if isinstance(result, str) else json.dumps(result)
        return _with_request_id(Response(body, status=200, content_type="application/json"), request_id)
    raw_body = result.get("body") or ""
    payload = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode()
    response = Response(payload, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return _with_request_id(response, request_id)


def _with_request_id(response: Response, request_id: str) -> Response:
    response.headers["apigw-requestid"] = request_id
    response.headers["date"] = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    return response
