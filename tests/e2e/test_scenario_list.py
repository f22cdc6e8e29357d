"""The scenario list in the browser: create through the dialog, then the row menu's
activate, stop (keeping the profiles), clone, trash (refused while active) and restore."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e import data
from tests.e2e.conftest import SCREENSHOTS, LiveServer

# The worker and the server share two busy cores with the browser: be patient.
expect.set_options(timeout=15_000)


def row(page: Page, name: str) -> Any:
    link = page.get_by_role("link", name=name, exact=True)
    return page.locator("tr", has=link)


def status_filter(page: Page, name: str) -> Any:
    return page.get_by_role("group", name="Status").get_by_role("button", name=name, exact=True)


def menu_item(page: Page, scenario: str, item: str) -> Any:
    row(page, scenario).get_by_role("button", name=f"Actions for {scenario}").click()
    return page.get_by_role("menuitem", name=re.compile(rf"^{re.escape(item)}"))


def test_create_a_scenario_through_the_dialog(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        data.customers(client, "Customers")
        data.customers(client, "Newsletter readers")
    page.reload()
    expect(page.get_by_text("No scenarios yet — create one")).to_be_visible()

    page.get_by_role("button", name="+ Create", exact=True).click()
    dialog = page.get_by_role("dialog", name="New scenario")
    expect(dialog.get_by_role("button", name="Continue")).to_be_disabled()
    dialog.get_by_label("Name").fill("Spring sale")
    dialog.get_by_label("Profile database").select_option(label="Newsletter readers")
    for label in (
        "Disable reentry for the customer profile",
        "Disable reentry for already engaged customer profiles",
        "Discard existent task for customer profile on reentry",
        "Process each profile entry in the scenario separately",
    ):
        expect(dialog.get_by_label(label, exact=True)).to_be_visible()
    dialog.get_by_label("Disable reentry for already engaged customer profiles").check()
    dialog.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(r"#/scenarios/\d+$"))
    scenario_id = int(page.url.rsplit("/", 1)[1])
    with live.client() as client:
        created = data.ok(client.get(f"/scenarios/{scenario_id}"))
        databases = {d["name"]: d["id"] for d in data.ok(client.get("/databases"))}
    assert created["name"] == "Spring sale"
    assert created["reentry"] == "not_while_active"
    assert created["database_id"] == databases["Newsletter readers"]
    assert created["status"] == "draft"

    page.goto(live.url + "/#/")
    spring = row(page, "Spring sale")
    expect(spring.get_by_text("Draft", exact=True)).to_be_visible()
    expect(spring).to_contain_text("Newsletter readers")


def test_a_refused_create_shows_the_reason(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        data.customers(client)
        # Every scenario must name its team: a create without it is refused.
        data.ok(client.put("/scenario-attributes/team", json={"required": True}))
    page.reload()
    page.get_by_role("button", name="+ Create", exact=True).click()
    dialog = page.get_by_role("dialog", name="New scenario")
    dialog.get_by_label("Name").fill("Spring sale")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog.get_by_role("alert")).to_contain_text("team")
    expect(dialog).to_be_visible()
    expect(page).to_have_url(re.compile(r"/(#/?)?$"))


def test_activate_stop_keeping_profiles_clone_trash_restore(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        data.promo_codes(live.app)
        welcome = data.import_welcome(client, db)
    page.reload()
    welcome_row = row(page, "Welcome")
    expect(welcome_row.get_by_text("Draft", exact=True)).to_be_visible()
    expect(welcome_row.get_by_role("button", name="welcome", exact=True)).to_be_visible()

    # Activate from the menu; new profiles are captured and counted as inside.
    menu_item(page, "Welcome", "Activate").click()
    expect(welcome_row.get_by_text("Active", exact=True)).to_be_visible()
    with live.client() as client:
        for i in range(3):
            data.person(client, db, f"p{i}@example.com", f"P{i}", "unconfirmed")
        assert data.inside(client, welcome) == 3
    expect(welcome_row.get_by_label("Profiles inside now")).to_have_text("3", timeout=12_000)

    # Trash is refused while it is active, and says why.
    trash = menu_item(page, "Welcome", "Move to trash")
    expect(trash).to_be_disabled()
    expect(trash).to_have_attribute("title", re.compile("Stop the scenario first"))
    trash.click(force=True)
    page.keyboard.press("Escape")
    expect(welcome_row.get_by_text("Active", exact=True)).to_be_visible()

    # Stop, keeping the profiles: they stay frozen inside.
    menu_item(page, "Welcome", "Stop").click()
    dialog = page.get_by_role("dialog", name="Stop “Welcome”?")
    expect(dialog).to_contain_text("3 profiles are in the scenario now")
    dialog.get_by_label("Keep profiles in the scenario: they wake up on activation").check()
    dialog.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_contain_text("3 profiles are kept")
    expect(welcome_row.get_by_text("Inactive", exact=True)).to_be_visible()
    expect(welcome_row.get_by_label("Profiles inside now")).to_have_text("3")
    with live.client() as client:
        assert data.inside(client, welcome) == 3
        page_of_tasks = data.ok(client.get(f"/scenarios/{welcome}/nodes/read_time/tasks"))
        assert {t["state"] for t in page_of_tasks["tasks"]} == {"frozen"}

    # Activating again wakes them.
    menu_item(page, "Welcome", "Activate").click()
    expect(page.get_by_role("status")).to_contain_text("3 kept profiles woke up")
    expect(welcome_row.get_by_text("Active", exact=True)).to_be_visible()

    # The report: every element with its counts, and the statistics panel.
    menu_item(page, "Welcome", "Open report").click()
    expect(page).to_have_url(re.compile(rf"#/scenarios/{welcome}/report$"))
    expect(page.get_by_role("heading", name="Report: Welcome")).to_be_visible()
    expect(
        page.get_by_role("button", name="3 profiles in Give them a day to read it")
    ).to_be_visible()
    expect(page.get_by_role("region", name="Scenario statistics")).to_be_visible()
    page.go_back()

    # Clone: a new draft with the same graph.
    menu_item(page, "Welcome", "Clone").click()
    copy_row = row(page, "Welcome (copy)")
    expect(copy_row.get_by_text("Draft", exact=True)).to_be_visible()
    expect(copy_row.get_by_label("Profiles inside now")).to_have_text("0")

    # Stop without keeping: the profiles leave; then the trash takes it.
    menu_item(page, "Welcome", "Stop").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_contain_text("3 profiles left the scenario")
    expect(welcome_row.get_by_label("Profiles inside now")).to_have_text("0")
    menu_item(page, "Welcome", "Move to trash").click()
    expect(page.get_by_role("status")).to_contain_text("moved to the trash")
    expect(row(page, "Welcome")).to_have_count(0)
    expect(row(page, "Welcome (copy)")).to_have_count(1)

    # The trash view lists it; restore brings it back inactive.
    status_filter(page, "Trash").click()
    expect(row(page, "Welcome").get_by_text("In trash", exact=True)).to_be_visible()
    expect(row(page, "Welcome (copy)")).to_have_count(0)
    menu_item(page, "Welcome", "Restore from trash").click()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    status_filter(page, "All").click()
    expect(row(page, "Welcome").get_by_text("Inactive", exact=True)).to_be_visible()
    with live.client() as client:
        assert data.ok(client.get(f"/scenarios/{welcome}"))["status"] == "inactive"


def test_filter_by_status_and_tag(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        cart = data.pause_scenario(client, db, "Abandoned cart", ["cart", "ecommerce"])
        data.pause_scenario(client, db, "Birthday greetings", ["loyalty"])
        data.activate(client, cart)
    page.reload()
    expect(row(page, "Abandoned cart")).to_have_count(1)
    expect(row(page, "Birthday greetings")).to_have_count(1)

    status_filter(page, "Active").click()
    expect(row(page, "Birthday greetings")).to_have_count(0)
    expect(row(page, "Abandoned cart")).to_have_count(1)

    status_filter(page, "All").click()
    row(page, "Birthday greetings").get_by_role("button", name="loyalty").click()
    expect(row(page, "Abandoned cart")).to_have_count(0)
    expect(row(page, "Birthday greetings")).to_have_count(1)
    page.get_by_role("button", name="Clear the tag filter").click()
    expect(row(page, "Abandoned cart")).to_have_count(1)


def test_send_a_dynamic_segment(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = data.customers(client)
        cart = data.pause_scenario(client, db, "Abandoned cart", ["cart"])
        data.activate(client, cart)
        for i in range(4):
            data.person(client, db, f"s{i}@example.com", "Vip" if i < 3 else "Other", "subscribed")
        vip = {"type": "field", "field": "first_name", "value": "Vip"}
        segment = {
            "database_id": db,
            "name": "VIP customers",
            "kind": "dynamic",
            "rules": {"match": "all", "rules": [vip]},
        }
        data.ok(client.post("/segments", json=segment), 201)
    page.reload()
    menu_item(page, "Abandoned cart", "Send a dynamic segment").click()
    dialog = page.get_by_role("dialog", name="Send a dynamic segment to “Abandoned cart”")
    expect(dialog.get_by_label("Segment")).to_have_value(re.compile(r"\d+"))
    dialog.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("3 of 3 profiles entered the scenario")
    expect(row(page, "Abandoned cart").get_by_label("Profiles inside now")).to_have_text("3")


def test_scenario_list_screenshot(page: Page, live: LiveServer) -> None:
    hour = 3600.0
    with live.client() as client:
        db = data.customers(client)
        app_users = data.customers(client, "Mobile app users")
        data.promo_codes(live.app)
        old = data.pause_scenario(client, db, "Black Friday 2025", ["promo"])
        data.ok(client.post(f"/scenarios/{old}/trash"))
        data.pause_scenario(client, db, "Order confirmation", ["transactional"], reentry="parallel")
        live.clock.advance(2 * hour)
        birthday = data.pause_scenario(client, db, "Birthday greetings", ["loyalty"])
        data.activate(client, birthday)
        data.ok(client.post(f"/scenarios/{birthday}/stop", json={"keep_profiles": False}))
        live.clock.advance(3 * hour)
        data.pause_scenario(
            client,
            app_users,
            "Push: come back to the app",
            ["retention", "mobile"],
            reentry="restart",
        )
        live.clock.advance(1 * hour)
        welcome = data.import_welcome(client, db)
        data.activate(client, welcome)
        for name in ["Anna", "Boris", "Chen", "Dana", "Emil", "Farah", "Goran"]:
            data.person(client, db, f"{name.lower()}@example.com", name, "unconfirmed")
        live.clock.advance(2 * hour)
        cart = data.pause_scenario(client, db, "Abandoned cart reminder", ["cart", "ecommerce"])
        data.activate(client, cart)
        for pid in range(1, 5):
            data.engage(client, cart, pid)
        live.clock.advance(1 * hour)
        data.pause_scenario(client, db, "Win-back after 90 days", ["retention", "email"])
    page.reload()
    expect(row(page, "Welcome").get_by_label("Profiles inside now")).to_have_text("7")
    expect(row(page, "Abandoned cart reminder").get_by_label("Profiles inside now")).to_have_text(
        "4"
    )
    expect(row(page, "Birthday greetings").get_by_text("Inactive", exact=True)).to_be_visible()
    expect(row(page, "Black Friday 2025")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "scenario-list.png"))
