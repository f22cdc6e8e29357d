"""The UI is served at ``/`` and signs in with an API token."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer


def test_sign_in_with_a_token_then_sign_out(browser: Any, live: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/")
    page.get_by_label("API token").fill(live.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Automation scenarios")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API token")).to_be_visible()
    context.close()


def test_a_wrong_token_returns_to_sign_in(browser: Any, live: LiveServer) -> None:
    context = browser.new_context()
    context.add_init_script("localStorage.setItem('scenaria.token', 'not-a-token');")
    page = context.new_page()
    page.goto(live.url + "/")
    expect(page.get_by_label("API token")).to_be_visible()
    context.close()
