"""The profile card in the browser: a profile imported through the API goes through the
welcome scenario; its card shows fields, subscriptions, events and the path it took."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e import data
from tests.e2e.conftest import SCREENSHOTS, LiveServer

# The worker and the server share two busy cores with the browser: be patient.
expect.set_options(timeout=15_000)

DAY = 86_400.0

REWARD_PATH = [
    "Any profile import",
    "Welcome email",
    "Give them a day to read it",
    "Email subscription confirmed?",
    "+100 loyalty points",
    "Promo code",
    "Promo offer",
]


def anna_through_welcome(live: LiveServer) -> tuple[int, int, int]:
    """Anna is imported unconfirmed, confirms her email, buys, and completes the welcome
    scenario a day later; Boris is still waiting in it. Returns (database, Anna, Boris)."""
    with live.client() as client:
        db = data.customers(client)
        data.promo_codes(live.app)
        welcome = data.import_welcome(client, db)
        data.activate(client, welcome)
        anna = data.person(client, db, "anna@example.com", "Anna", "unconfirmed")
        boris = data.person(client, db, "boris@example.com", "Boris", "unconfirmed")
        subscribe = {
            "kind": "subscription",
            "profile": {"match_key": "anna@example.com"},
            "channel": "email",
            "action": "subscribe",
        }
        data.ok(client.post(f"/databases/{db}/events", json=subscribe))
        purchase = {
            "kind": "custom",
            "profile": {"id": anna},
            "type": "purchase",
            "properties": {"order": "A-1001", "total": 59.9},
        }
        data.ok(client.post(f"/databases/{db}/events", json=purchase))
        data.settle_in(client, welcome, "read_time", 2)
        live.clock.advance(DAY + 60)

        def finished() -> Any:
            card = data.ok(client.get(f"/databases/{db}/profiles/{anna}/card"))
            return card["interactions"] and card["interactions"][0]["state"] == "finished"

        data.wait_for(finished)
        # She also left a cart: she waits in that scenario now.
        cart = data.pause_scenario(client, db, "Abandoned cart reminder", ["cart"])
        data.activate(client, cart)
        data.engage(client, cart, anna, api_content={"cart": ["A-1002"]})
        data.settle_in(client, cart, "wait", 1)
    return db, anna, boris


def test_profile_card_shows_fields_subscriptions_events_and_scenarios(
    page: Page, live: LiveServer
) -> None:
    db, anna, boris = anna_through_welcome(live)
    page.goto(f"{live.url}/#/databases/{db}/profiles/{anna}")

    expect(page.get_by_role("heading", name="Anna")).to_be_visible()
    expect(page.get_by_text("anna@example.com · profile")).to_be_visible()
    fields = page.get_by_role("region", name="Fields")
    expect(fields.locator("dt")).to_have_text(["email", "phone", "first_name", "loyalty_points"])
    expect(fields.locator("dd")).to_have_text(["anna@example.com", "+15550001234", "Anna", "100"])
    subscriptions = page.get_by_role("region", name="Subscriptions")
    expect(subscriptions.locator("dd")).to_have_text(["subscribed", "subscribed"])

    # The Scenarios tab is open first: each pass with its path and where it left.
    expect(page.get_by_role("tab", name="Scenarios")).to_have_attribute("aria-selected", "true")
    tasks = page.locator(".interactions-table tbody tr")
    expect(tasks).to_have_count(2)
    cart = tasks.filter(has_text="Abandoned cart reminder")
    expect(cart).to_contain_text("still inside")
    expect(cart.locator(".path-step")).to_have_text(["Default profile capture", "Wait a day"])
    expect(cart.locator(".path-step.current")).to_have_text("Wait a day")
    task = tasks.filter(has=page.get_by_role("link", name="Welcome", exact=True))
    expect(task.get_by_role("link", name="Welcome")).to_have_attribute(
        "href", re.compile(r"#/scenarios/\d+$")
    )
    expect(task.get_by_text("Completed", exact=True)).to_be_visible()
    expect(task.get_by_label("Path").locator(".path-step")).to_have_text(REWARD_PATH)
    exit_node = task.locator(".exit-node")
    expect(exit_node).to_have_text("Promo offer")
    expect(exit_node).to_have_attribute("title", "Element ID: promo_email")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "profile-card.png"))

    page.get_by_role("tab", name="Events").click()
    purchase = page.locator("tr", has_text="purchase")
    expect(purchase).to_contain_text("A-1001")
    expect(purchase).to_contain_text("59.9")
    expect(page.locator("tr", has_text="subscribed").get_by_text("email")).to_be_visible()

    # Boris is still inside: where he is now ends his path, and he has not left.
    page.goto(f"{live.url}/#/databases/{db}/profiles/{boris}")
    task = page.locator(".interactions-table tbody tr")
    expect(task).to_contain_text("still inside")
    expect(task.locator(".path-step.current")).to_have_text("Wait after the SMS")
    expect(task.locator(".exit-node")).to_have_count(0)


def test_find_a_profile_by_its_match_key(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        anna = data.person(client, db, "anna@example.com", "Anna", "subscribed")
    page.reload()
    page.get_by_role("link", name="Profiles").click()
    page.get_by_label("Match key").fill("nobody@example.com")
    page.get_by_role("button", name="Open profile card").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "No profile with email “nobody@example.com” in Customers"
    )
    page.get_by_label("Match key").fill("anna@example.com")
    page.get_by_role("button", name="Open profile card").click()
    expect(page).to_have_url(re.compile(rf"#/databases/{db}/profiles/{anna}$"))
    expect(page.get_by_role("heading", name="Anna")).to_be_visible()
