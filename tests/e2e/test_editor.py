"""The scenario editor in a real browser: building, saving, validating, running, counting."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer


def make_database(client: httpx.Client) -> int:
    answer = client.post(
        "/databases",
        json={"name": "Customers", "fields": {"first_name": "string", "loyalty_points": "int"}},
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def make_scenario(client: httpx.Client, database_id: int, **extra: Any) -> int:
    body = {"database_id": database_id, "name": "Welcome", "reentry": "once_ever", **extra}
    answer = client.post("/scenarios", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def open_editor(page: Page, live: LiveServer, scenario_id: int) -> None:
    page.goto(f"{live.url}/#/scenarios/{scenario_id}")
    expect(page.get_by_test_id("canvas")).to_be_visible()


def test_smoke(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        sid = make_scenario(client, make_database(client))
    open_editor(page, live, sid)
    expect(page.get_by_test_id("node-default")).to_be_visible()
    page.get_by_test_id("palette-email").drag_to(
        page.get_by_test_id("canvas"), target_position={"x": 500, "y": 200}
    )
    expect(page.get_by_test_id("node-email_1")).to_be_visible()
    page.get_by_test_id("out-default-next").drag_to(page.get_by_test_id("in-email_1"))
    page.screenshot(path="/tmp/shots/smoke.png")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
