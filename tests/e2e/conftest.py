"""Browser fixtures: the real server (API + UI + worker) on a free port, and headless Chromium.

The server runs in a thread of the test process over a fake clock, so a test
advances time with ``live.clock.advance(...)`` and the worker thread moves the
tasks that became due, exactly as it would in production.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from scenaria.api.app import create_app
from scenaria.clock import FakeClock
from scenaria.services.app import App, Config
from scenaria.store.database import Store

CHROMIUM = os.environ.get("SCENARIA_CHROMIUM", "/usr/bin/chromium")
# Chromium must not reach out to Google's services: this machine's network is closed.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class LiveServer:
    url: str
    app: App
    clock: FakeClock
    token: str

    def client(self) -> httpx.Client:
        """An API client authenticated as the admin the browser signs in as."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    clock = FakeClock()
    store = Store(f"sqlite:///{tmp_path / 'scenaria.db'}")
    store.migrate()
    port = _free_port()
    app = App(
        Config(allowed_hosts=frozenset({"127.0.0.1"}), public_url=f"http://127.0.0.1:{port}"),
        clock=clock,
        store=store,
    )
    app.access.create_user("marketer", [], is_admin=True)
    token = app.access.issue_token("marketer").token
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app, run_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", app, clock, token)
    server.should_exit = True
    thread.join(20)
    app.close()


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
