"""The page's files and how they are served (no browser needed: these run everywhere).

- ``local.ui_static`` serves ``ui/`` under /ui/ with the security headers, and nothing else;
- every file index.html and main.js load exists;
- every API call in app.js is a route of openapi.json (the page uses only the public API).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client
from werkzeug.wrappers import Response

from local import ui_static

REPO_ROOT = Path(__file__).resolve().parents[2]
UI = REPO_ROOT / "ui"


def _api_stand_in(environ: dict[str, object], start_response: object) -> object:
    return Response("api", status=200)(environ, start_response)  # type: ignore[arg-type]


@pytest.fixture
def client() -> Client:
    """The UI mounted beside another app, as the front door mounts it."""
    return Client(DispatcherMiddleware(_api_stand_in, {ui_static.MOUNT_PATH: ui_static.app}))


def test_mount_path_without_slash_redirects_keeping_the_query(client: Client) -> None:
    answer = client.get("/ui?token=abc&quickbooks=connected")
    assert answer.status_code == 308
    assert answer.headers["Location"].endswith("/ui/?token=abc&quickbooks=connected")


def test_index_is_served_with_the_security_headers(client: Client) -> None:
    answer = client.get("/ui/")
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    assert "<main id=\"qbo-settings\"" in answer.get_data(as_text=True)
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [("app.js", "text/javascript"), ("main.js", "text/javascript"), ("styles.css", "text/css")],
)
def test_assets_have_their_types(client: Client, name: str, mimetype: str) -> None:
    answer = client.get(f"/ui/{name}")
    assert answer.status_code == 200
    assert answer.mimetype == mimetype
    assert answer.get_data() == (UI / name).read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/ui/../template.yaml",
        "/ui/%2e%2e/template.yaml",
        "/ui/..%2ftemplate.yaml",
        "/ui//etc/passwd",
        "/ui/missing.js",
        "/ui/.hidden",
        "/ui/a/b.js",
    ],
)
def test_nothing_outside_the_folder_is_served(client: Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert "AWSTemplateFormatVersion" not in answer.get_data(as_text=True)


def test_only_reads_are_allowed(client: Client) -> None:
    answer = client.post("/ui/index.html")
    assert answer.status_code == 405
    assert answer.headers["Content-Security-Policy"]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            value = values.get(name)
            if value and tag in ("script", "link") and "://" not in value:
                self.found.append(value)


def test_every_file_the_page_loads_exists() -> None:
    parser = _Assets()
    parser.feed((UI / "index.html").read_text())
    imports = re.findall(r'from "\./([^"]+)"', (UI / "main.js").read_text())
    loaded = parser.found + imports
    assert {"main.js", "styles.css", "app.js"} <= set(loaded)
    for name in loaded:
        assert (UI / name).is_file(), f"index.html or main.js loads {name}, which does not exist"


def test_the_page_calls_only_routes_of_the_public_api() -> None:
    spec = json.loads((REPO_ROOT / "openapi.json").read_text())
    routes = {
        (method.upper(), path) for path, operations in spec["paths"].items() for method in operations
    }
    source = (UI / "app.js").read_text()
    base = re.search(r'const API = "([^"]+)";', source)
    assert base is not None
    calls = set()
    for method, argument in re.findall(r'this\.api\("([A-Z]+)", (API\b|`[^`]*`)', source):
        path = argument.strip("`").replace("${API}", base.group(1)).replace("API", base.group(1))
        path = re.sub(r"\$\{[^}]*\}+\)?\}?", "{}", path.split("?")[0])  # ${encodeURIComponent(id)} → {}
        calls.add((method, path))
    documented = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path in routes}
    assert calls == documented, f"app.js and openapi.json differ: {sorted(calls ^ documented)}"


def test_the_page_has_a_sentence_for_every_connect_refusal() -> None:
    """Every reason the callback redirects with, or the completion answers, reads as a sentence."""
    from kyrios_qbo import connect_flow

    reasons = set(connect_flow.REFUSALS) | {"internal_error"}  # the callback's last resort
    flow_source = Path(connect_flow.__file__).read_text()
    raised = set(re.findall(r'ConnectError\(\s*"([a-z_]+)"', flow_source)) | {"wrong_account", "wrong_user"}
    assert raised <= reasons  # (ConnectError refuses unknown codes at run time as well)
    source = (UI / "app.js").read_text()
    block = re.search(r"const CONNECT_ERRORS = \{(.*?)\n\};", source, re.S)
    assert block is not None
    sentences = set(re.findall(r"^  ([a-z_]+):", block.group(1), re.M))
    assert reasons <= sentences, f"no sentence on the page for {sorted(reasons - sentences)}"
