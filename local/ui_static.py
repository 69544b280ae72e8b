"""The reference QuickBooks settings page (``ui/``) as a tiny WSGI app, for the local front door.

Mount it under ``/ui`` on the same origin as the API, so the page calls the API without CORS::

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from local import ui_static
    wsgi = DispatcherMiddleware(front_door_wsgi, {ui_static.MOUNT_PATH: ui_static.app})

Only files that exist directly in ``ui/`` are served (no directory listing, no ``..``), with headers
a deployed Kyrios page would also send: a content security policy that allows only same-origin
scripts, styles and requests, no referrer (the dev token may arrive in the query string), and no
caching (the page changes while people work on it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.utils import redirect, send_from_directory
from werkzeug.wrappers import Request, Response

UI_ROOT = Path(__file__).resolve().parent.parent / "ui"
MOUNT_PATH = "/ui"
INDEX = "index.html"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def make_app(root: Path = UI_ROOT) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A WSGI app serving ``root``'s files; mount it at :data:`MOUNT_PATH`."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = _respond(request, root)
        except HTTPException as exc:
            response = exc.get_response(environ)
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response(environ, start_response)

    return serve


def _respond(request: Request, root: Path) -> Response:
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
    path_info = str(request.environ.get("PATH_INFO", ""))
    if not path_info:
        # /ui → /ui/ so that the page's relative links (app.js, styles.css) resolve under /ui/.
        query = request.query_string.decode("latin-1")
        return redirect(request.script_root + "/" + (f"?{query}" if query else ""), code=308)
    name = path_info.lstrip("/") or INDEX
    if "/" in name or name.startswith("."):
        raise NotFound()
    return send_from_directory(root, name, request.environ, max_age=0)


app = make_app()
