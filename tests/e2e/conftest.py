"""Browser tests of the QuickBooks settings page (``ui/``) against the whole local stack.

- ``stack`` (module): :class:`local.runner.LocalBundle` — moto, the QBO emulator, the front door with
  every route of template.yaml — with the page mounted under ``/ui/`` on the front door's origin and
  ``UiReturnUrl`` pointing at it, so the OAuth callback brings the browser back to the page.
- ``browser`` (module): headless Chromium from the OS (``/usr/bin/chromium``, or
  ``KYRIOS_E2E_CHROMIUM``) driven by Playwright. Never ``playwright install``: it downloads. Without
  Playwright or a Chromium binary the tests skip and say why (they fail instead when
  ``KYRIOS_E2E_REQUIRED`` is set, as CI should, so a broken install cannot pass silently).
- ``page``: a fresh browser context (own localStorage) per test; ``shoot(page, name)`` saves a
  screenshot to ``artifacts/screenshots/`` (gitignored).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("KYRIOS_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDE = {"width": 1280, "height": 900}


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (pip install playwright; never `playwright install`)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and shutil.which(CHROMIUM) is None:
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set KYRIOS_E2E_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    missing = _browser_missing()
    if missing and os.environ.get("KYRIOS_E2E_REQUIRED"):
        pytest.fail(f"browser tests are required here (KYRIOS_E2E_REQUIRED), but {missing}")
    if missing:
        pytest.skip(missing)
    from local.runner import LocalBundle

    logging.getLogger("local").setLevel(logging.ERROR)
    quiet_metrics = "POWERTOOLS_METRICS_DISABLED" not in os.environ
    if quiet_metrics:  # EMF lines on stdout say nothing to a browser test
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    # The runner serves ui/ under /ui/ and points the OAuth callback's return URL at it.
    started = LocalBundle.start(
        stage="e2e",
        sqs_time_scale=0.003,  # a push handed back to SQS is retried within a second or two
        parameters={"LogLevel": "ERROR"},
    )
    try:
        yield started
    finally:
        started.stop()
        if quiet_metrics:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)


@pytest.fixture(scope="module")
def browser(stack: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture
def shoot() -> Callable[..., Path]:
    """``shoot(page, name, full_page=True)`` → the PNG written under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page: Any, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _shoot
