"""The statistics panel and the list of profiles waiting in an element, in the browser:
numbers follow the server's clock without reloading the page."""

from __future__ import annotations

import json
import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e import data
from tests.e2e.conftest import LiveServer

# The worker and the server share two busy cores with the browser: be patient.
expect.set_options(timeout=15_000)

DAY = 86_400.0


def metric(page: Page, label: str) -> Any:
    panel = page.get_by_role("region", name="Scenario statistics")
    return panel.get_by_role("group", name=label).locator(".stats-metric-value")


def test_period_and_real_time_numbers_follow_the_clock(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        data.promo_codes(live.app)
        welcome = data.import_welcome(client, db)
        data.activate(client, welcome)
        data.person(client, db, "anna@example.com", "Anna", "subscribed")
        data.person(client, db, "boris@example.com", "Boris", "unconfirmed")
        data.person(client, db, "chen@example.com", "Chen", "unconfirmed")
        data.settle_in(client, welcome, "read_time", 3)

    page.goto(f"{live.url}/#/scenarios/{welcome}/report")
    page.evaluate("window.__notReloaded = true")
    panel = page.get_by_role("region", name="Scenario statistics")
    expect(page.get_by_role("heading", name="Report: Welcome")).to_be_visible()

    # Period statistics: the server's last 7 days by default.
    expect(panel.get_by_role("tab", name="Period")).to_have_attribute("aria-selected", "true")
    expect(panel.get_by_label("From")).to_have_value("2025-12-26")
    expect(panel.get_by_label("To")).to_have_value("2026-01-01")
    expect(metric(page, "Entered")).to_have_text("3")
    expect(metric(page, "Completed")).to_have_text("0")
    expect(metric(page, "Errors")).to_have_text("0")

    # A day later Anna (who confirmed) completes; the others get the SMS reminder.
    live.clock.advance(DAY + 60)
    with live.client() as client:
        data.settle_in(client, welcome, "sms_wait", 2)
    expect(metric(page, "Completed")).to_have_text("1")
    expect(metric(page, "Entered")).to_have_text("3")
    expect(panel.get_by_label("To")).to_have_value("2026-01-02")

    # Real time: who is inside now, and where.
    panel.get_by_role("tab", name="Real time").click()
    expect(metric(page, "In the scenario now")).to_have_text("2")
    expect(panel.locator(".stats-node")).to_have_text(["Wait after the SMS2"])
    panel.get_by_role("button", name="Wait after the SMS").click()
    waiting = page.get_by_role("dialog", name="Profiles in Wait after the SMS")
    expect(waiting.get_by_role("link")).to_have_text(["boris@example.com", "chen@example.com"])
    waiting.get_by_role("button", name="Close").click()
    expect(waiting).to_have_count(0)

    with live.client() as client:
        data.person(client, db, "dana@example.com", "Dana", "unconfirmed")
    expect(metric(page, "In the scenario now")).to_have_text("3")
    expect(panel.locator(".stats-node")).to_have_count(2)

    # Chosen dates: a period before anything happened shows zeros.
    panel.get_by_role("tab", name="Period").click()
    expect(metric(page, "Entered")).to_have_text("4")
    panel.get_by_label("To").fill("2025-12-31")
    panel.get_by_label("From").fill("2025-12-20")
    expect(metric(page, "Entered")).to_have_text("0")
    panel.get_by_role("button", name="Last 7 days").click()
    expect(metric(page, "Entered")).to_have_text("4")

    # Collapsible, and nothing above reloaded the page.
    panel.get_by_role("button", name="Statistics").click()
    expect(metric(page, "Entered")).to_have_count(0)
    panel.get_by_role("button", name="Statistics").click()
    expect(metric(page, "Entered")).to_have_text("4")
    assert page.evaluate("window.__notReloaded") is True


def test_profiles_waiting_in_an_element(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        cart = data.pause_scenario(client, db, "Abandoned cart", ["cart"])
        data.activate(client, cart)
        ids = [
            data.person(client, db, f"{n.lower()}@example.com", n, "subscribed")
            for n in ("Anna", "Boris", "Chen")
        ]
        data.engage(client, cart, ids[0], api_content={"cart": {"sku": "A-1", "total": 42}})
        data.engage(client, cart, ids[1])
        data.engage(client, cart, ids[2])
        data.wait_for(
            lambda: data.ok(client.get(f"/scenarios/{cart}/nodes/wait/tasks"))["total"] == 3
        )
        waiting = data.ok(client.get(f"/scenarios/{cart}/nodes/wait/tasks"))["tasks"]

    page.goto(f"{live.url}/#/scenarios/{cart}/report")
    page.get_by_role("button", name="3 profiles in Wait a day").click()
    drawer = page.get_by_role("dialog", name="Profiles in Wait a day")
    expect(drawer).to_contain_text("3 profiles are in this element now")
    rows = drawer.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(drawer.get_by_role("link", name="anna@example.com")).to_have_attribute(
        "href", f"#/databases/{db}/profiles/{ids[0]}"
    )
    # The exact time it leaves, with seconds, in the browser's locale.
    leaves = page.evaluate(
        """iso => new Date(iso).toLocaleString(undefined, {year: "numeric", month: "short",
        day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"})""",
        waiting[0]["leaves_at"],
    )
    anna = rows.filter(has_text="anna@example.com")
    expect(anna).to_contain_text(leaves)
    assert re.search(r"\d{1,2}:\d{2}:\d{2}", leaves)

    # Anna's API content downloads as a JSON file; the others have none.
    with page.expect_download() as download:
        anna.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename.endswith(".json")
    path = download.value.path()
    assert json.loads(path.read_text()) == {"cart": {"sku": "A-1", "total": 42}}
    expect(
        rows.filter(has_text="boris@example.com").get_by_role("button", name="Download")
    ).to_have_count(0)

    # Remove one, after confirming.
    drawer.get_by_role("button", name="Remove boris@example.com from the scenario").click()
    confirm = page.get_by_role("dialog", name="Remove the profile from the scenario?")
    confirm.get_by_role("button", name="Remove").click()
    expect(drawer).to_contain_text("2 profiles are in this element now")
    expect(drawer.get_by_role("link", name="boris@example.com")).to_have_count(0)
    with live.client() as client:
        assert data.inside(client, cart) == 2

    # Then all the others.
    drawer.get_by_role("button", name="Remove these profiles from the scenario").click()
    page.get_by_role("dialog", name="Remove these profiles from the scenario?").get_by_role(
        "button", name="Remove all"
    ).click()
    expect(drawer.get_by_text("No profiles in this element now.")).to_be_visible()
    expect(drawer.get_by_role("status")).to_contain_text("2 profiles were removed")
    with live.client() as client:
        assert data.inside(client, cart) == 0
    drawer.get_by_role("button", name="Close").click()
    expect(page.get_by_role("button", name=re.compile("profiles in Wait a day"))).to_have_count(0)


def test_task_list_pages_through_many_profiles(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        cart = data.pause_scenario(client, db, "Abandoned cart", ["cart"])
        data.activate(client, cart)
        rows = [
            {"fields": {"email": f"buyer{i:02d}@example.com"}, "subscriptions": {}}
            for i in range(23)
        ]
        ids = data.ok(client.post(f"/databases/{db}/profiles/batch", json={"profiles": rows}))[
            "profile_ids"
        ]
        for profile_id in ids:
            data.engage(client, cart, profile_id)
        data.settle_in(client, cart, "wait", 23)

    page.goto(f"{live.url}/#/scenarios/{cart}/report")
    page.get_by_role("button", name="23 profiles in Wait a day").click()
    drawer = page.get_by_role("dialog", name="Profiles in Wait a day")
    expect(drawer.locator("tbody tr")).to_have_count(20)
    expect(drawer.get_by_text(re.compile(r"^1\D20 of 23$"))).to_be_visible()
    expect(drawer.get_by_role("button", name="Previous")).to_be_disabled()
    drawer.get_by_role("button", name="Next").click()
    expect(drawer.locator("tbody tr")).to_have_count(3)
    expect(drawer.get_by_text(re.compile(r"^21\D23 of 23$"))).to_be_visible()
    expect(drawer.get_by_role("button", name="Next")).to_be_disabled()
    # The soonest to leave first: the last page holds the last engaged.
    expect(drawer.get_by_role("link", name="buyer22@example.com")).to_be_visible()
