"""Browser fixtures: Debian's Chromium, driven by Playwright, against a real hypercorn server.

Playwright's own browser download does not work everywhere Herald is tested, so the tests
launch the system's ``/usr/bin/chromium`` (``make test`` installs it). When a test fails, a
screenshot of its page is saved under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from quart import Quart

from app.db import get_db
from tests.conftest import PASSWORD, add_user, migrated_app, require_installed
from tests.sample_channels import (
    GatedChannel,
    RejectingChannel,
    SecondGatedChannel,
    path,
)
from tests.servers import hypercorn_server

CHROMIUM = Path("/usr/bin/chromium")
# Quiet, offline Chromium: no first-run screens, no calls home, no QUIC, no GPU.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHASE_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, Any]:
    """Keep each phase's report on the test, so that fixtures can tell whether it failed."""
    report = yield
    item.stash.setdefault(PHASE_REPORTS, {})[report.when] = report
    return report


@pytest.fixture(name="gate")
def _gate() -> asyncio.Event:
    """Holds the GatedChannel's deliveries until a test sets it."""
    return asyncio.Event()


@pytest.fixture(name="served_app")
async def _served_app(settings: dict[str, Any], gate: asyncio.Event) -> Quart:
    """An app with two gated channels and one that refuses, users alice and root (admin)."""
    channels = [path(GatedChannel), path(SecondGatedChannel), path(RejectingChannel)]
    app = await migrated_app(settings | {"CHANNELS": channels, "GATE": gate})
    async with get_db(app).connected():
        await add_user(app, "alice")
        await add_user(app, "root", admin=True)
    return app


@pytest.fixture(name="base_url")
async def _base_url(served_app: Quart) -> AsyncIterator[str]:
    async with hypercorn_server(served_app) as url:
        yield url


@pytest.fixture(name="chromium")
def _chromium() -> Path:
    require_installed(CHROMIUM.exists(), "chromium")
    return CHROMIUM


@pytest.fixture(name="browser")
async def _browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(name="context")
async def _context(browser: Browser, base_url: str) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(base_url=base_url)
    context.set_default_timeout(10_000)
    yield context
    await context.close()


@pytest.fixture(name="page")
async def _page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    page = await context.new_page()
    yield page
    call = request.node.stash.get(PHASE_REPORTS, {}).get("call")
    if call is not None and call.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        shot = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=shot, full_page=True)
        print(f"screenshot of the failed page: {shot}")


async def log_in(page: Page, username: str = "alice", password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    await page.goto("/login")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
