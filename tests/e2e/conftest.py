"""Browser fixtures: the real server (API + UI + worker) on a free port, and headless Chromium.

The server runs in a thread of the test process over a fake clock, so a test
advances time with ``live.clock.advance(...)`` and the worker thread moves the
tasks that became due, exactly as it would in production.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, serve_live

__all__ = ["SCREENSHOTS", "LiveServer"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    with serve_live(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, live: LiveServer) -> Iterator[object]:
    """A signed-in page (token in localStorage) at the scenario list."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"localStorage.setItem('scenaria.token', {live.token!r});")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(live.url + "/")
    yield page
    context.close()
