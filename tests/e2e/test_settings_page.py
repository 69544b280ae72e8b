"""Settings → Integrations → QuickBooks in headless Chromium, as a person uses it.

The page (``ui/``) is served by the local stack's front door and calls the real API handlers; Intuit
is the emulator's consent page; Kyrios core is a put_events on the local bus. What the page shows
is compared with what the API, the emulator and the queues really hold.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from local.demo_steps.actors import KyriosCore

expect = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed").expect
# The first answer of a cold local stack can take several seconds on a loaded 2-core machine; the page
# is judged on what it shows, not on how fast a shared CI box serves it (Playwright's default is 5 s).
expect.set_options(timeout=15_000)
Page = Any  # playwright.sync_api.Page; imported lazily so that a machine without Playwright skips

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

SAMPLE_INVOICE_EVENT = REPO_ROOT / "events" / "kyrios-invoice-sent.json"
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "quickbooks-settings.png"
NARROW = {"width": 375, "height": 740}  # a small phone
LAST_YEAR = date.today().year - 1


# ---------------------------------------------------------------------------- helpers
def new_account() -> str:
    return f"acct-e2e-{uuid.uuid4().hex[:12]}"


def new_company(stack: Any, name: str) -> str:
    realm = str(9_341_450_100_000_000 + uuid.uuid4().int % 10**9)
    stack.emulator.control.add_company(realm, name, "US")
    return realm


def open_settings(page: Page, stack: Any, account: str) -> None:
    page.goto(f"{stack.api_url}/ui/?token={stack.dev_token(account)}")
    expect(page.locator('[data-section="connection"] [data-view="loading"]')).to_be_hidden()


def connect_through_intuit(
    page: Page, stack: Any, realm: str, button: str, decision: str = "Connect"
) -> None:
    """Press Connect/Reconnect, pick the company on Intuit's (emulated) consent page, come back."""
    page.get_by_role("button", name=button).click()
    page.wait_for_url(re.compile(re.escape(stack.emulator.url) + r"/connect/oauth2.*"))
    page.get_by_label("Company", exact=True).select_option(realm)
    page.get_by_role("button", name=decision, exact=True).click()
    page.wait_for_url(re.compile(re.escape(stack.api_url) + r"/ui/.*"))
    expect(page.locator('[data-section="connection"] [data-view="loading"]')).to_be_hidden()


def api_status(stack: Any, account: str) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.api_url}/integrations/quickbooks",
        headers={"Authorization": f"Bearer {stack.dev_token(account)}"},
        timeout=10,
    )
    answer.raise_for_status()
    return dict(answer.json())


def refresh_until(page: Page, found: Callable[[], bool], timeout: float = 20.0) -> None:
    """Press the page's Refresh button until ``found()`` holds (the page itself refreshes every 15 s)."""
    deadline = time.monotonic() + timeout
    refresh = page.get_by_role("button", name="Refresh")
    while not found():
        assert time.monotonic() < deadline, "the page never showed it"
        expect(refresh).to_be_enabled()
        refresh.click()
        page.wait_for_timeout(250)


def seed_archive(stack: Any, realm: str, count: int) -> list[str]:
    """``count`` invoices of last year in QBO (what the import should bring over); their QBO ids."""
    control = stack.emulator.control
    customers = control.seed(
        realm,
        customers=[
            {
                "DisplayName": f"Archive Client {n}",
                "PrimaryEmailAddr": {"Address": f"archive{n}.{realm[-4:]}@example.com"},
                "MetaData": {"CreateTime": f"{LAST_YEAR}-01-0{n}T10:00:00Z"},
            }
            for n in (1, 2, 3)
        ],
    )["customers"]
    invoices = [
        {
            "CustomerRef": {"value": customers[n % 3]},
            "TxnDate": f"{LAST_YEAR}-{1 + n % 12:02d}-10",
            "DocNumber": f"ARCH-{n:03d}",
            "Line": [
                {
                    "Amount": f"{40 + n}.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": f"{40 + n}.00"},
                }
            ],
        }
        for n in range(count)
    ]
    return list(control.seed(realm, invoices=invoices)["invoices"])


def kyrios_invoice_sent(account: str, number: str) -> dict[str, Any]:
    """The sample ``invoice.sent`` detail (events/), for this account, issued now, without taxes."""
    detail = copy.deepcopy(json.loads(SAMPLE_INVOICE_EVENT.read_text())["detail"])
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    invoice = detail["invoice"]
    detail.update(event_id=f"evt_{uuid.uuid4().hex[:20]}", account_id=account, occurred_at=now)
    invoice.update(
        id=f"inv_{uuid.uuid4().hex[:12]}", number=number, created_at=now, currency="USD",
        issue_date=date.today().isoformat(), due_date=date.today().isoformat(),
    )
    for line in invoice["lines"]:
        line["taxes"] = []  # a US company without automated sales tax on these products
    totals = invoice["totals"]
    totals["tax_total"] = "0.00"
    totals["total"] = str(Decimal(totals["subtotal"]) - Decimal(totals["discount_total"]))
    return dict(detail)


def no_horizontal_scroll(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


# ---------------------------------------------------------------------------- the journey
def test_connect_toggle_import_failure_reconnect_redrive_disconnect(
    page: Page, stack: Any, shoot: Callable[..., Path]
) -> None:
    account = new_account()
    realm = new_company(stack, "Harbour Coaching LLC")
    control = stack.emulator.control
    connection = page.locator('[data-section="connection"]')
    announcer = page.locator("#qbo-announcer")

    # Not connected: one thing to do.
    open_settings(page, stack, account)
    expect(connection.get_by_text("Not connected", exact=True)).to_be_visible()
    expect(page.locator('[data-section="import"]')).to_be_hidden()
    assert "token=" not in page.url, "the dev token must leave the address bar"
    shoot(page, "01-not-connected")

    # Connect → Intuit consent → back on the page, connected, focus on the outcome.
    connect_through_intuit(page, stack, realm, "Connect to QuickBooks")
    status = api_status(stack, account)
    assert status["status"] == "connected" and status["realm_id"] == realm
    expect(connection.get_by_text("Connected", exact=True)).to_be_visible()
    expect(connection.locator('dd[data-field="company_name"]')).to_have_text("Harbour Coaching LLC")
    since = connection.locator('time[data-field="connected_at"]')
    assert datetime.fromisoformat(since.get_attribute("datetime") or "") == datetime.fromisoformat(
        status["connected_at"]
    )
    expect(since).to_contain_text(str(datetime.fromisoformat(status["connected_at"]).year))
    expect(announcer).to_have_text("QuickBooks is connected to Harbour Coaching LLC.")
    expect(page.locator("#qbo-connection-title")).to_be_focused()
    assert "quickbooks=" not in page.url
    shoot(page, "02-connected")

    # Send Review Request to Contacts: saved at once, and still off after a reload.
    reviews = page.get_by_label("Send Review Request to Contacts")
    expect(reviews).to_be_checked()
    reviews.uncheck()
    saved = page.locator('[data-feedback="send_review_requests"]')
    expect(saved).to_have_text("Saved: review requests are off.")
    assert api_status(stack, account)["settings"]["send_review_requests"] is False
    page.reload()
    expect(page.get_by_label("Send Review Request to Contacts")).not_to_be_checked()

    # Import: the API's validation message lands on the field it names.
    imported_ids = seed_archive(stack, realm, 7)
    page.get_by_label("Start date").fill(f"{LAST_YEAR}-12-31")
    page.get_by_label("End date").fill(f"{LAST_YEAR}-01-01")
    page.get_by_role("button", name="Start import").click()
    start_field = page.get_by_label("Start date")
    start_error = page.locator('[data-error-for="start_date"]')
    expect(start_error).to_have_text("The start date must not be after the end date.")
    expect(start_field).to_have_attribute("aria-invalid", "true")
    expect(start_field).to_be_focused()
    shoot(page, "03-import-invalid")

    # A valid range: the progress bar follows the job to 100 % and the summary adds up.
    start_field.fill(f"{LAST_YEAR}-01-01")
    page.get_by_label("End date").fill(f"{LAST_YEAR}-12-31")
    import_reviews = page.get_by_label("Send review requests for paid invoices found")
    expect(import_reviews).not_to_be_checked()  # starts from the account's setting, switched off above
    import_reviews.check()
    page.get_by_role("button", name="Start import").click()
    expect(start_field).not_to_have_attribute("aria-invalid", "true")
    progress = page.locator("#qbo-import-progress")
    expect(progress).to_have_js_property("value", 100, timeout=30_000)
    n = len(imported_ids)
    progress_text = page.locator('[data-field="import_progress"]')
    expect(progress_text).to_have_text(f"{n} of {n} invoices processed (100 %)")
    expect(page.locator('[data-field="import_heading"]')).to_contain_text("Import finished")
    expect(page.locator('[data-summary="published"]')).to_have_text(str(n))
    expect(announcer).to_have_text(f"Import finished: {n} invoices imported.")
    expect(page.get_by_role("button", name="Cancel import")).to_be_hidden()
    shoot(page, "04-import-finished")

    # Intuit revokes the app; Kyrios sends an invoice: the push fails and the log says what to do.
    control.invalidate_tokens("all", realm=realm)
    number = f"K-E2E-{uuid.uuid4().hex[:6].upper()}"
    core = KyriosCore(stack.client("events"), stack.resources.event_bus_name)
    core.publish("invoice.sent", kyrios_invoice_sent(account, number))
    failed = page.locator(".log .entry--failed").filter(has_text=f"Invoice {number}")
    refresh_until(page, lambda: failed.count() > 0)
    expect(failed).to_contain_text("Failed")
    expect(failed).to_contain_text("Kyrios → QuickBooks")
    expect(failed).to_contain_text("QuickBooks needs to be reconnected")
    expect(connection.get_by_text("Needs reconnect", exact=True)).to_be_visible()
    expect(announcer).to_contain_text("QuickBooks needs to be reconnected")
    expect(announcer).to_have_class(re.compile(r"\bnotice--warn\b"))
    retry = page.get_by_role("button", name="Retry failed changes")
    expect(retry).to_be_disabled()
    expect(page.get_by_text("Reconnect QuickBooks first.")).to_be_visible()
    assert stack.queue_depth("PushDeadLetterQueue") >= 1
    shoot(page, "05-sync-failure")
    wide = page.viewport_size
    page.set_viewport_size(NARROW)
    assert no_horizontal_scroll(page), "the page scrolls sideways on a narrow screen"
    shoot(page, "05-sync-failure-narrow")
    page.set_viewport_size(wide)

    # Reconnect: the change kept because of the connection goes to QuickBooks by itself, once; with
    # nothing left to retry, the retry panel goes away.
    connect_through_intuit(page, stack, realm, "Reconnect to QuickBooks")
    expect(connection.get_by_text("Connected", exact=True)).to_be_visible()
    expect(retry).to_be_enabled()
    expect(page.get_by_text("Reconnect QuickBooks first.")).to_be_hidden()
    synced = page.locator(".log .entry--ok").filter(has_text=f"Invoice {number}")
    refresh_until(page, lambda: synced.count() > 0)
    expect(retry).to_be_hidden()
    in_qbo = [i for i in control.entities(realm, "Invoice") if i.get("DocNumber") == number]
    assert len(in_qbo) == 1
    shoot(page, "06-redriven")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        DOCS_SCREENSHOT.write_bytes(shoot(page, "quickbooks-settings").read_bytes())

    # Disconnect, by keyboard: Escape keeps the connection, confirming ends it.
    disconnect = connection.get_by_role("button", name="Disconnect")
    disconnect.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Disconnect QuickBooks?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep connected")).to_be_focused()
    shoot(page, "07-disconnect-confirm", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(disconnect).to_be_focused()
    assert api_status(stack, account)["status"] == "connected"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Disconnect")).to_be_focused()
    page.keyboard.press("Enter")
    expect(connection.get_by_text("Not connected", exact=True)).to_be_visible()
    expect(announcer).to_contain_text("QuickBooks is disconnected.")
    expect(page.get_by_role("button", name="Connect to QuickBooks")).to_be_focused()
    expect(page.locator('[data-section="import"]')).to_be_hidden()
    assert api_status(stack, account)["status"] == "not_connected"
    assert not [g for g in control.grants() if g["realm"] == realm and not g["revoked"]]
    shoot(page, "08-disconnected")


def test_setting_that_cannot_be_saved_is_reverted_with_the_reason(
    page: Page, stack: Any, shoot: Callable[..., Path]
) -> None:
    account = new_account()
    realm = new_company(stack, "Riverside Yoga Ltd")
    open_settings(page, stack, account)
    connect_through_intuit(page, stack, realm, "Connect to QuickBooks")
    reviews = page.get_by_label("Send Review Request to Contacts")
    expect(reviews).to_be_checked()

    # Someone else disconnects QuickBooks while this page is open.
    requests.delete(
        f"{stack.api_url}/integrations/quickbooks",
        headers={"Authorization": f"Bearer {stack.dev_token(account)}"},
        timeout=10,
    ).raise_for_status()
    reviews.click()  # not uncheck(): that insists on the new state, which the page rightly takes back
    feedback = page.locator('[data-feedback="send_review_requests"]')
    expect(feedback).to_have_text("Not saved: Connect QuickBooks before changing its settings.")
    expect(feedback).to_have_class(re.compile(r"\bfeedback--error\b"))
    connection = page.locator('[data-section="connection"]')
    expect(connection.get_by_text("Not connected", exact=True)).to_be_visible()
    expect(page.locator('[data-setting="send_review_requests"]')).to_be_checked()
    shoot(page, "09-setting-not-saved")


def test_cancelled_consent_and_missing_token_are_explained(
    page: Page, stack: Any, shoot: Callable[..., Path]
) -> None:
    account = new_account()
    realm = new_company(stack, "Cancelled Consent Inc")
    open_settings(page, stack, account)
    connect_through_intuit(page, stack, realm, "Connect to QuickBooks", decision="Cancel")
    announcer = page.locator("#qbo-announcer")
    expect(announcer).to_have_text("QuickBooks was not connected: access was not granted at Intuit.")
    expect(announcer).to_have_class(re.compile(r"\bnotice--error\b"))
    expect(page.get_by_role("button", name="Connect to QuickBooks")).to_be_visible()
    assert api_status(stack, account)["status"] == "not_connected"
    shoot(page, "10-consent-cancelled")

    # Without a token (fresh browser storage) the page says how to get one instead of failing silently.
    page.evaluate("window.localStorage.clear()")
    page.goto(f"{stack.api_url}/ui/")
    expect(page.get_by_role("alert")).to_contain_text("Your session has ended.")
    expect(page.get_by_role("alert")).to_contain_text("?token=")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()


def test_a_consent_link_from_another_account_is_refused_on_the_page(
    page: Page, stack: Any, shoot: Callable[..., Path]
) -> None:
    """Account M mails its Intuit sign-in link to B's admin; B approves and lands on B's own Kyrios page.
    The page says why nothing was connected, and B's company stays free at Intuit and in Kyrios."""
    attacker, victim = new_account(), new_account()
    realm = new_company(stack, "Victim Bakery LLC")
    link = requests.post(
        f"{stack.api_url}/integrations/quickbooks/connect",
        headers={"Authorization": f"Bearer {stack.dev_token(attacker)}"},
        timeout=10,
    ).json()["authorize_url"]
    open_settings(page, stack, victim)  # B is signed in to Kyrios in this browser
    page.goto(link)
    page.get_by_label("Company", exact=True).select_option(realm)
    page.get_by_role("button", name="Connect", exact=True).click()
    page.wait_for_url(re.compile(re.escape(stack.api_url) + r"/ui/.*"))
    announcer = page.locator("#qbo-announcer")
    expect(announcer).to_contain_text("started from another Kyrios account, so nothing was connected")
    expect(announcer).to_have_class(re.compile(r"\bnotice--error\b"))
    assert "ref=" not in page.url
    assert api_status(stack, victim)["status"] == "not_connected"
    assert api_status(stack, attacker)["status"] == "not_connected"
    grants = [g for g in stack.emulator.control.grants() if g["realm"] == realm and not g["revoked"]]
    assert grants == []
    shoot(page, "11-consent-from-another-account")
