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


def test_a_stored_wrong_token_returns_to_sign_in_and_says_why(
    browser: Any, live: LiveServer
) -> None:
    context = browser.new_context()
    context.add_init_script("localStorage.setItem('scenaria.token', 'not-a-token');")
    page = context.new_page()
    page.goto(live.url + "/")
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("This token is unknown or revoked.")
    context.close()


def test_signing_in_with_a_wrong_token_says_it_is_unknown(browser: Any, live: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/")
    page.get_by_label("API token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("This token is unknown or revoked.")
    expect(page.get_by_label("API token")).to_be_visible()
    # The right token still signs in, and the message goes.
    page.get_by_label("API token").fill(live.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Automation scenarios")).to_be_visible()
    expect(page.get_by_text("This token is unknown or revoked.")).to_have_count(0)
    context.close()


def test_signing_in_while_the_server_is_unreachable_says_so(browser: Any, live: LiveServer) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(live.url + "/")
    # The page is loaded; from now on the server answers nothing.
    page.route("**/*", lambda route: route.abort("connectionrefused"))
    page.get_by_label("API token").fill(live.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The server cannot be reached")
    expect(page.get_by_label("API token")).to_be_visible()
    context.close()
