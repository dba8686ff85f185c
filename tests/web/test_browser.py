"""The dashboard as a person uses it: in Chromium, against a real hypercorn server."""

from __future__ import annotations

import asyncio

from playwright.async_api import BrowserContext, Locator, Page, expect

from tests.conftest import PASSWORD
from tests.web.conftest import log_in


def flash(page: Page, category: str) -> Locator:
    """The flash messages of one category."""
    return page.locator(f'.flash[data-category="{category}"] .flash-text')


def delivery_badge(page: Page, channel: str) -> Locator:
    """The status badge of one channel's delivery on an alert page."""
    return page.locator(f'[data-live-alert] tr[data-channel="{channel}"] .badge')


async def test_failed_login_shows_the_error_flash_which_can_be_dismissed(page: Page) -> None:
    await log_in(page, password="not the password")
    error = page.locator('.flash[data-category="error"]')
    await expect(error.locator(".flash-text")).to_have_text("Invalid username or password.")
    await expect(page).to_have_url("/login")
    # dismissed from the keyboard: the button is a real, focusable button
    await error.get_by_role("button", name="Dismiss this message").focus()
    await page.keyboard.press("Enter")
    await expect(error).to_have_count(0)


async def test_login_shows_the_success_flash(page: Page) -> None:
    await log_in(page)
    await expect(page).to_have_url("/")
    await expect(flash(page, "success")).to_have_text("Welcome, alice.")


async def test_logout_shows_its_flash(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url("/login")
    await expect(flash(page, "info")).to_have_text("You have been logged out.")


async def test_an_alert_sent_from_the_form_reaches_sent_on_every_channel_live(
    page: Page, context: BrowserContext, gate: asyncio.Event
) -> None:
    await log_in(page)
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("critical").check()
    await page.get_by_label("gated", exact=True).check()
    await page.get_by_label("gated2").check()
    await page.get_by_role("button", name="Send alert").click()
    await expect(page).to_have_url("/alerts/1")
    await expect(flash(page, "success")).to_have_text("Alert #1 is on its way to 2 channel(s).")
    for channel in ("gated", "gated2"):  # the channels hold the alert until the gate opens
        await expect(delivery_badge(page, channel)).to_have_text("sending")

    listing = await context.new_page()  # the dashboard's list follows the same alert
    await listing.goto("/")
    row = listing.locator('[data-live-alert="1"]')
    await expect(row.locator('[data-channel="gated"] .badge')).to_have_text("sending")
    await expect(listing.locator("[data-live-state]")).to_have_attribute("data-live-state", "open")
    await expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "open")
    for each in (page, listing):  # a mark that a reload would wipe out
        await each.evaluate("window.notReloaded = true")

    gate.set()
    for channel in ("gated", "gated2"):
        await expect(delivery_badge(page, channel)).to_have_text("sent")
        await expect(row.locator(f'[data-channel="{channel}"] .badge')).to_have_text("sent")
    await expect(page.locator(".alert-status .badge")).to_have_text("sent")
    await expect(page.locator(".attempts-table tbody tr")).to_have_count(2)
    await expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "done")
    for each in (page, listing):
        assert await each.evaluate("window.notReloaded") is True


async def test_a_failing_channel_shows_failed_with_its_error(page: Page) -> None:
    await log_in(page)
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("rejecting").check()
    await page.get_by_role("button", name="Send alert").click()
    await expect(page).to_have_url("/alerts/1")
    await expect(delivery_badge(page, "rejecting")).to_have_text("failed")
    error = page.locator('[data-live-alert] tr[data-channel="rejecting"] .error-text')
    await expect(error).to_have_text("PermanentDeliveryError: [21211] invalid recipient")


async def test_the_404_page(page: Page) -> None:
    await log_in(page)
    response = await page.goto("/alerts/999")
    assert response is not None
    assert response.status == 404
    await expect(page.locator("h1")).to_have_text("404 · Not Found")
    await expect(page.locator(".error-page p").first).to_have_text("There is no alert #999.")
    await page.get_by_role("link", name="Back to the dashboard").click()
    await expect(page).to_have_url("/")


async def test_the_403_page_for_a_non_admin(page: Page) -> None:
    await log_in(page)
    await expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    response = await page.goto("/admin")
    assert response is not None
    assert response.status == 403
    await expect(page.locator("h1")).to_have_text("403 · Forbidden")
    await expect(page.locator(".error-page p").first).to_have_text(
        "Only administrators can see this page."
    )


async def test_an_admin_sends_a_test_alert_and_sees_the_outcome(page: Page) -> None:
    await log_in(page, "root")
    await page.get_by_role("link", name="Admin").click()
    await page.get_by_role("button", name="Send a test alert via rejecting").click()
    await expect(page).to_have_url("/admin#channels")
    await expect(flash(page, "error")).to_have_text(
        "Test via rejecting failed: PermanentDeliveryError: [21211] invalid recipient"
    )


async def visit_every_page(page: Page) -> list[str]:
    """As root, send an alert and open each page; the paths visited."""
    await log_in(page, "root")
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("rejecting").check()
    await page.get_by_role("button", name="Send alert").click()
    await expect(delivery_badge(page, "rejecting")).to_have_text("failed")
    paths = ["/", "/alerts/1", "/stats", "/admin", "/login"]
    for path in paths[:-1]:
        await page.goto(path)
        await expect(page.locator("main h1, main h2").first).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    return paths


async def test_pages_load_only_their_own_assets_and_break_no_policy(
    page: Page, base_url: str
) -> None:
    requested: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    await visit_every_page(page)
    assert requested
    assert [url for url in requested if not url.startswith(base_url + "/")] == []
    assert any(url.endswith("/static/herald.js") for url in requested)
    assert errors == []  # a blocked script, style or connection would be logged here


async def test_pages_fit_a_phone_screen(context: BrowserContext) -> None:
    page = await context.new_page()
    await page.set_viewport_size({"width": 360, "height": 740})
    await log_in(page, "root")
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("rejecting").check()
    await page.get_by_role("button", name="Send alert").click()
    for path in ("/", "/alerts/1", "/stats", "/admin"):
        await page.goto(path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width} px wide on a 360 px screen"


async def test_logging_in_and_sending_work_from_the_keyboard_alone(page: Page) -> None:
    await page.goto("/login")
    # the username field takes the focus by itself; typing before it has would go nowhere
    await expect(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(flash(page, "success")).to_have_text("Welcome, alice.")
    await page.get_by_label("Title").focus()
    await page.keyboard.type("Disk full")
    await page.keyboard.press("Tab")
    await page.keyboard.type("db1 at 99%")
    await page.keyboard.press("Tab")  # the severity radio group: arrows choose within it
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Tab")  # the first channel box
    await page.keyboard.press("Space")
    await page.keyboard.press("Enter")  # submits the form
    await expect(page).to_have_url("/alerts/1")
    await expect(page.locator(".facts")).to_contain_text("warning")
    await expect(page.locator('[data-live-alert] tr[data-channel="gated"]')).to_have_count(1)
    await expect(page.locator("[data-live-alert] tbody tr[data-channel]")).to_have_count(1)


async def test_an_alert_is_acknowledged_then_resolved_with_its_buttons(
    page: Page, gate: asyncio.Event
) -> None:
    await log_in(page)
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("gated", exact=True).check()
    await page.get_by_role("button", name="Send alert").click()
    await expect(page).to_have_url("/alerts/1")
    gate.set()
    await expect(delivery_badge(page, "gated")).to_have_text("sent")
    await expect(page.locator("#state .badge").first).to_have_text("firing")
    await page.get_by_role("button", name="Acknowledge").click()
    await expect(flash(page, "success")).to_have_text("Alert #1 is acknowledged: no more repeats.")
    await expect(page.locator("#state .badge").first).to_have_text("acknowledged")
    await expect(page.locator("#acknowledged")).to_contain_text("by alice")
    await expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
    await page.get_by_role("button", name="Resolve").click()
    await expect(page.locator("#state .badge").first).to_have_text("resolved")
    resolved = page.locator(
        '[data-live-alert] tr[data-channel="gated"][data-notification="resolved"] .badge'
    )
    await expect(resolved).to_have_text("sent")  # the channel that was told is told again


async def test_the_list_acknowledges_in_place(page: Page) -> None:
    await log_in(page)
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("rejecting").check()
    await page.get_by_role("button", name="Send alert").click()
    await page.get_by_role("link", name="Dashboard").click()
    row = page.locator("table.alerts tbody tr").first
    await row.get_by_role("button", name="Acknowledge").click()
    await expect(page).to_have_url("/")
    await expect(page.locator("table.alerts tbody tr").first.locator(".state .badge")).to_have_text(
        "acknowledged"
    )


async def test_a_silence_is_created_keeps_an_alert_quiet_and_is_expired(page: Page) -> None:
    await log_in(page)
    await page.get_by_role("link", name="Silences").click()
    await page.get_by_label("Label").fill("severity")
    await page.get_by_label("Value", exact=True).fill("crit.*")
    await page.get_by_label("value is a regular expression").check()
    await page.get_by_label("For").select_option("4h")
    await page.get_by_label("Comment").fill("database upgrade")
    await page.get_by_role("button", name="Create silence").click()
    await expect(flash(page, "success")).to_contain_text("Silence #1 holds until")
    silence = page.locator("#silence-1")
    await expect(silence).to_have_attribute("data-state", "active")
    await expect(silence).to_contain_text('severity=~"crit.*"')
    await page.get_by_role("link", name="Dashboard").click()
    await page.get_by_label("Message", exact=True).fill("db1 is down")
    await page.get_by_label("critical").check()
    await page.get_by_label("rejecting").check()
    await page.get_by_role("button", name="Send alert").click()
    await expect(page.locator("#state")).to_contain_text("silenced")
    await expect(page.locator("#state")).to_contain_text("silence #1")
    await page.get_by_role("link", name="Silences").click()
    await page.locator("#silence-1").get_by_role("button", name="Expire").click()
    await expect(page.locator("#silence-1")).to_have_attribute("data-state", "expired")
