"""The API docs open in a browser that can reach nothing but this server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer


def test_docs_list_the_operations_offline(browser: Any, live: LiveServer) -> None:
    context = browser.new_context()
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.goto(live.url + "/docs")
    engage = page.locator(".opblock-summary-path", has_text="/scenarios/{scenario_id}/engage")
    expect(engage.first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 20
    assert outside == []
    context.close()
