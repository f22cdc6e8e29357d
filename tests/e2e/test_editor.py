"""The scenario editor in a real browser: building, saving, validating, running, counting."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from scenaria.clock import day_of
from tests.e2e.conftest import SCREENSHOTS, LiveServer
from tests.e2e.live import sixty_node_graph, write_counters

WELCOME = Path(__file__).resolve().parents[2] / "examples" / "welcome.yaml"
DAY = 86_400


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


def import_profiles(client: httpx.Client, database_id: int) -> None:
    """Ann confirmed her email subscription; Bob has not yet."""
    answer = client.post(
        f"/databases/{database_id}/profiles/batch",
        json={
            "profiles": [
                {
                    "fields": {
                        "email": "ann@example.com",
                        "phone": "+15550001",
                        "first_name": "Ann",
                    },
                    "subscriptions": {"email": "subscribed", "sms": "subscribed"},
                },
                {
                    "fields": {
                        "email": "bob@example.com",
                        "phone": "+15550002",
                        "first_name": "Bob",
                    },
                    "subscriptions": {"email": "unconfirmed", "sms": "subscribed"},
                },
            ]
        },
    )
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["captured"] == 2, answer.text


def open_editor(page: Page, live: LiveServer, scenario_id: int) -> None:
    page.goto(f"{live.url}/#/scenarios/{scenario_id}")
    expect(page.get_by_test_id("canvas")).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("node-default")).to_be_visible()


def inspector(page: Page) -> Locator:
    return page.get_by_test_id("inspector")


def drop(page: Page, kind: str, node_id: str, x: int, y: int, name: str | None = None) -> Locator:
    """Drag ``kind`` from the palette onto the canvas at (x, y); its settings open."""
    page.get_by_test_id(f"palette-{kind}").drag_to(
        page.get_by_test_id("canvas"), target_position={"x": x, "y": y}
    )
    node = page.get_by_test_id(f"node-{node_id}")
    expect(node).to_be_visible()
    expect(inspector(page).get_by_text(node_id, exact=True)).to_be_visible()
    if name is not None:
        inspector(page).get_by_label("Name", exact=True).fill(name)
    return node


def close_settings(page: Page) -> None:
    page.get_by_role("button", name="Close the settings").click()
    expect(inspector(page)).to_have_count(0)


def connect(page: Page, source: str, port: str, target: str) -> None:
    """Drag from an output handle to another element's input."""
    edges = page.locator(".react-flow__edge")
    before = edges.count()
    page.get_by_test_id(f"out-{source}-{port}").drag_to(page.get_by_test_id(f"in-{target}"))
    expect(edges).to_have_count(before + 1)


def drag_node(page: Page, node_id: str, dx: float, dy: float) -> None:
    """Move an element on the canvas with the mouse, by (dx, dy) screen pixels."""
    box = page.get_by_test_id(f"node-{node_id}").bounding_box()
    assert box is not None
    x, y = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 2, y, steps=2)  # React Flow starts the drag on the first move
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()
    moved = page.get_by_test_id(f"node-{node_id}").bounding_box()
    assert moved is not None
    assert abs(moved["x"] - box["x"] - dx) < 5 and abs(moved["y"] - box["y"] - dy) < 5, moved


def count(page: Page, what: str, node_id: str) -> Locator:
    return page.get_by_test_id(f"{what}-{node_id}")


def test_build_the_welcome_scenario_from_an_empty_canvas_and_watch_it_run(
    page: Page, live: LiveServer
) -> None:
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(client, db)
    open_editor(page, live, sid)
    # The built-in default capture goes to the bottom-left corner, out of the way.
    canvas = page.get_by_test_id("canvas").bounding_box()
    default = page.get_by_test_id("node-default").bounding_box()
    assert canvas is not None and default is not None
    drag_node(page, "default", canvas["x"] + 40 - default["x"], canvas["y"] + 430 - default["y"])

    # Step 1: capture every new profile.
    drop(page, "trigger_any_import", "trigger_any_import_1", 135, 80)
    close_settings(page)
    # Step 2: the welcome email.
    drop(page, "email", "email_1", 385, 80, name="Welcome email")
    form = inspector(page)
    form.get_by_label("Subject", exact=True).fill("Welcome, {{ profile.first_name or 'friend' }}!")
    form.get_by_label("HTML body", exact=True).fill(
        "<p>Hello {{ profile.first_name or 'friend' }}, please confirm your subscription.</p>"
    )
    form.get_by_label("Plain-text body", exact=True).fill(
        "Hello, please confirm your subscription."
    )
    close_settings(page)
    # Step 3: give them a day, then: confirmed? yes: +100 loyalty points, then exit.
    drop(page, "pause", "pause_1", 635, 80, name="Give them a day to read it")
    inspector(page).get_by_label("Days", exact=True).fill("1")
    close_settings(page)
    drop(page, "condition", "condition_1", 885, 80, name="Email subscription confirmed?")
    form = inspector(page)
    form.get_by_role("button", name="+ Add rule").click()
    form.get_by_label("Type", exact=True).select_option("subscription")
    expect(form.get_by_label("Channel", exact=True)).to_have_value("email")
    expect(form.get_by_label("Subscription status", exact=True)).to_have_value("subscribed")
    close_settings(page)
    drop(page, "update_profile", "update_profile_1", 1120, 80, name="+100 loyalty points")
    form = inspector(page)
    form.get_by_role("button", name="+ Add field change").click()
    form.get_by_label("Profile field", exact=True).fill("loyalty_points")
    form.get_by_label("Change", exact=True).select_option("increment")
    form.get_by_label("Value", exact=True).fill("100")
    close_settings(page)
    drop(page, "exit", "exit_1", 1120, 270, name="Done")
    close_settings(page)
    # Step 4: the others: an SMS reminder once, then the call centre.
    drop(page, "condition", "condition_2", 885, 270, name="There is an existing SMS sending")
    form = inspector(page)
    form.get_by_role("button", name="+ Add rule").click()
    form.get_by_label("Type", exact=True).select_option("sent")
    expect(form.get_by_label("Channel", exact=True)).to_have_value("sms")
    close_settings(page)
    drop(page, "sms", "sms_1", 635, 270, name="Reminder SMS")
    inspector(page).get_by_label("Message", exact=True).fill(
        "{{ profile.first_name or 'Hi' }}, please confirm your subscription."
    )
    close_settings(page)
    drop(page, "pause", "pause_2", 385, 270, name="Wait after the SMS")
    inspector(page).get_by_label("Days", exact=True).fill("1")
    close_settings(page)
    drop(page, "api_request", "api_request_1", 885, 450, name="Ask the call centre to phone")
    inspector(page).get_by_label("URL", exact=True).fill("http://127.0.0.1:8765/call-requests")
    close_settings(page)

    # Wire everything but the trigger.
    connect(page, "email_1", "next", "pause_1")
    connect(page, "pause_1", "next", "condition_1")
    connect(page, "condition_1", "yes", "update_profile_1")
    connect(page, "update_profile_1", "next", "exit_1")
    connect(page, "condition_1", "no", "condition_2")
    connect(page, "condition_2", "yes", "api_request_1")
    connect(page, "condition_2", "no", "sms_1")
    connect(page, "sms_1", "next", "pause_2")
    connect(page, "pause_2", "next", "condition_1")
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))

    # An unconnected trigger forbids saving: the error is shown on the trigger itself.
    page.get_by_role("button", name="Save").click()
    trigger = page.get_by_test_id("node-trigger_any_import_1")
    expect(trigger).to_have_class(re.compile("ed-has-problems"))
    expect(page.get_by_test_id("problems-trigger_any_import_1")).to_contain_text(
        "not connected to any element"
    )
    expect(page.get_by_test_id("problems")).to_contain_text("cannot be saved")
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))

    # Fix it, save, activate.
    connect(page, "trigger_any_import_1", "next", "email_1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    expect(trigger).not_to_have_class(re.compile("ed-has-problems"))
    expect(page.get_by_test_id("problems")).to_have_count(0)
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("scenario-status")).to_have_text("active")

    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    assert {(e["source"], e["port"], e["target"]) for e in saved["edges"]} == {
        ("trigger_any_import_1", "next", "email_1"),
        ("email_1", "next", "pause_1"),
        ("pause_1", "next", "condition_1"),
        ("condition_1", "yes", "update_profile_1"),
        ("update_profile_1", "next", "exit_1"),
        ("condition_1", "no", "condition_2"),
        ("condition_2", "yes", "api_request_1"),
        ("condition_2", "no", "sms_1"),
        ("sms_1", "next", "pause_2"),
        ("pause_2", "next", "condition_1"),
    }
    assert all(n["position"] is not None for n in saved["nodes"])

    # Two new profiles come in: both get the email and wait a day.
    with live.client() as client:
        import_profiles(client, db)
    expect(count(page, "entered", "email_1")).to_have_text("in 2", timeout=15_000)
    expect(count(page, "inside", "pause_1")).to_have_text("2")

    # A day later Ann (confirmed) got her points and left; Bob got the SMS and waits.
    live.clock.advance(DAY + 60)
    expect(count(page, "entered", "update_profile_1")).to_have_text("in 1", timeout=15_000)
    expect(count(page, "entered", "exit_1")).to_have_text("in 1")
    expect(count(page, "entered", "sms_1")).to_have_text("in 1")
    expect(count(page, "inside", "pause_2")).to_have_text("1")
    expect(count(page, "inside", "pause_1")).to_have_count(0)

    # Bob's task, from the count above "Wait after the SMS": remove it.
    count(page, "inside", "pause_2").click()
    drawer = page.get_by_role("dialog", name=re.compile("Profiles in"))
    expect(drawer).to_contain_text("Wait after the SMS")
    drawer.get_by_role("button", name="Remove bob@example.com from the scenario").click()
    page.get_by_role("dialog", name="Remove the profile from the scenario?").get_by_role(
        "button", name="Remove"
    ).click()
    expect(drawer).to_contain_text("No profiles in this element now")
    drawer.get_by_role("button", name="Close").click()
    expect(count(page, "inside", "pause_2")).to_have_count(0)
    expect(count(page, "exited", "pause_2")).to_have_text("out 1", timeout=15_000)


def test_settings_panel_edits_are_saved(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(
            client,
            db,
            nodes=[
                {"id": "new", "kind": "trigger_any_import", "name": "New", "position": [0, 0]},
                {
                    "id": "call",
                    "kind": "api_request",
                    "name": "Call",
                    "settings": {"url": "http://127.0.0.1:9/x"},
                    "position": [300, 0],
                },
            ],
            edges=[{"source": "new", "target": "call"}],
        )
    open_editor(page, live, sid)
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    page.get_by_test_id("node-new").click()
    inspector(page).get_by_label("Also when an existing profile is updated").check()
    page.get_by_test_id("node-call").click()
    form = inspector(page)
    expect(form.get_by_label("URL", exact=True)).to_have_value("http://127.0.0.1:9/x")
    form.get_by_label("Name", exact=True).fill("Tell the CRM")
    form.get_by_label("HTTP method", exact=True).select_option("PUT")
    form.get_by_label("URL", exact=True).fill("http://127.0.0.1:9/crm/{{ profile.email }}")
    form.get_by_role("button", name="+ Add").click()
    form.get_by_label("Headers name 1").fill("X-Source")
    form.get_by_label("Headers value 1").fill("scenaria")
    form.get_by_label("Request body", exact=True).fill('{"email": {{ profile.email | tojson }}}')
    form.get_by_label("Timeout (seconds)", exact=True).fill("30")
    expect(page.get_by_test_id("node-call")).to_contain_text("Tell the CRM")
    expect(page.get_by_test_id("node-call")).to_contain_text("PUT http://127.0.0.1:9/crm/")
    # The scenario's own settings: About and the settings dialog.
    page.get_by_role("button", name="About").click()
    about = page.get_by_role("region", name="About")
    about.get_by_label("Description").fill("Tells the CRM about every new customer.")
    about.get_by_label("Tags").fill("crm, onboarding")
    page.get_by_label("Scenario name").fill("CRM sync")
    page.get_by_role("button", name="Scenario settings").click()
    dialog = page.get_by_role("dialog", name="Scenario settings")
    dialog.get_by_label("Process each profile entry in the scenario separately").check()
    dialog.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    assert saved["name"] == "CRM sync"
    assert saved["description"] == "Tells the CRM about every new customer."
    assert saved["tags"] == ["crm", "onboarding"]
    assert saved["reentry"] == "parallel"
    nodes = {n["id"]: n for n in saved["nodes"]}
    assert nodes["new"]["settings"] == {"on_update": True}
    assert nodes["call"]["name"] == "Tell the CRM"
    assert nodes["call"]["settings"] == {
        "url": "http://127.0.0.1:9/crm/{{ profile.email }}",
        "method": "PUT",
        "headers": {"X-Source": "scenaria"},
        "body": '{"email": {{ profile.email | tojson }}}',
        "timeout_seconds": 30,
    }
    assert saved["problems"] == []

    # Reloading shows what was saved.
    page.reload()
    page.get_by_test_id("node-call").click()
    expect(inspector(page).get_by_label("Headers value 1")).to_have_value("scenaria")
    expect(inspector(page).get_by_label("HTTP method", exact=True)).to_have_value("PUT")


def test_the_default_capture_cannot_be_deleted(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(
            client,
            db,
            nodes=[
                {"id": "default", "kind": "default_capture", "position": [0, 0]},
                {"id": "wait", "kind": "pause", "settings": {"hours": 2}, "position": [300, 0]},
                {"id": "bye", "kind": "exit", "position": [600, 0]},
            ],
            edges=[{"source": "default", "target": "wait"}, {"source": "wait", "target": "bye"}],
        )
    open_editor(page, live, sid)
    default = page.get_by_test_id("node-default")
    default.click()
    expect(inspector(page)).to_contain_text("cannot be removed")
    expect(inspector(page).get_by_role("button", name="Delete element")).to_have_count(0)
    page.keyboard.press("Delete")
    page.keyboard.press("Backspace")
    expect(default).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")

    # Other elements go with Delete, and so do their edges.
    page.get_by_test_id("node-bye").click()
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("node-bye")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    # An edge goes the same way.
    page.locator(".react-flow__edge").click()
    expect(page.locator(".react-flow__edge.selected")).to_have_count(1)
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__edge")).to_have_count(0)
    # Selecting everything and deleting keeps the default capture.
    page.get_by_test_id("node-wait").click()
    page.get_by_test_id("node-default").click(modifiers=["Control"])
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("node-wait")).to_have_count(0)
    expect(default).to_be_visible()
    # Clicking a palette item adds the element in the middle of the view, selected.
    page.get_by_role("button", name="Add Exit").click()
    added = page.get_by_test_id("node-exit_1")
    expect(added).to_be_in_viewport()
    expect(inspector(page).get_by_text("exit_1", exact=True)).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    assert [n["id"] for n in saved["nodes"]] == ["default", "exit_1"]
    assert saved["edges"] == []


def test_activation_refused_then_stop_keeping_profiles_and_clear_them(
    page: Page, live: LiveServer
) -> None:
    rule = {"type": "subscription", "channel": "email", "status": "subscribed"}
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(
            client,
            db,
            nodes=[
                {"id": "new", "kind": "trigger_any_import", "position": [0, 0]},
                {
                    "id": "ok",
                    "kind": "condition",
                    "settings": {"rules": [rule]},
                    "position": [260, 0],
                },
                {"id": "wait", "kind": "pause", "settings": {"days": 3}, "position": [520, -90]},
                {"id": "bye", "kind": "exit", "position": [520, 90]},
            ],
            edges=[
                {"source": "new", "target": "ok"},
                {"source": "ok", "port": "yes", "target": "wait"},
            ],
        )
    open_editor(page, live, sid)
    # Saved with an unwired "no" branch: activation is refused and says where.
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("alert")).to_contain_text("cannot be activated")
    expect(page.get_by_test_id("problems-ok")).to_contain_text("'no' branch is not connected")
    expect(page.get_by_test_id("node-ok")).to_have_class(re.compile("ed-has-problems"))
    expect(page.get_by_test_id("scenario-status")).to_have_text("draft")

    connect(page, "ok", "no", "bye")
    page.get_by_role("button", name="Activate").click()  # saves, then activates
    expect(page.get_by_test_id("scenario-status")).to_have_text("active")
    expect(page.get_by_test_id("problems-ok")).to_have_count(0)
    with live.client() as client:
        import_profiles(client, db)
    expect(count(page, "inside", "wait")).to_have_text("1", timeout=15_000)

    # Stop, keeping the profile: it stays, frozen.
    page.get_by_role("button", name="Stop").click()
    dialog = page.get_by_role("dialog", name="Stop the scenario?")
    dialog.get_by_label("Keep profiles in the scenario: they wake up on activation").check()
    dialog.get_by_role("button", name="Stop").click()
    expect(page.get_by_test_id("scenario-status")).to_have_text("inactive")
    with live.client() as client:
        assert client.get(f"/scenarios/{sid}").json()["status"] == "inactive"
        assert client.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 1
    expect(count(page, "inside", "wait")).to_have_text("1")

    # Removing an element with a profile in it asks first.
    page.get_by_test_id("node-wait").click()
    inspector(page).get_by_role("button", name="Delete element").click()
    page.get_by_role("button", name="Save").click()
    confirm = page.get_by_role("dialog", name="Remove elements with profiles in them?")
    expect(confirm).to_contain_text("1 profile(s)")
    confirm.get_by_role("button", name="Cancel").click()
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))
    page.reload()  # nothing was saved: the element is still there

    # "Clear all profiles" in the scenario settings, after a confirmation.
    page.get_by_role("button", name="Scenario settings").click()
    settings = page.get_by_role("dialog", name="Scenario settings")
    expect(settings.get_by_label("Profile database")).to_be_enabled()
    settings.get_by_role("button", name="Clear all profiles").click()
    page.get_by_role("dialog", name="Clear all profiles?").get_by_role(
        "button", name="Clear all profiles"
    ).click()
    expect(page.get_by_role("status").filter(has_text="taken out")).to_contain_text("1 profile")
    settings.get_by_role("button", name="Cancel").click()
    expect(count(page, "inside", "wait")).to_have_count(0)
    with live.client() as client:
        assert client.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 0


def _boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_an_imported_scenario_is_laid_out_and_shows_live_counts(
    page: Page, live: LiveServer
) -> None:
    live.app.profiles.add_promo_codes("welcome", ["WELCOME-1", "WELCOME-2"])
    with live.client() as client:
        db = make_database(client)
        answer = client.post(
            f"/scenarios/import?database_id={db}",
            content=WELCOME.read_bytes(),
            headers={"Content-Type": "application/yaml"},
        )
        assert answer.status_code == 201, answer.text
        imported = answer.json()
    sid = imported["id"]
    assert all(n["position"] is None for n in imported["nodes"])
    ids = [n["id"] for n in imported["nodes"]]
    assert len(ids) == 12

    open_editor(page, live, sid)
    boxes = {}
    for node_id in ids:
        node = page.get_by_test_id(f"node-{node_id}")
        expect(node).to_be_in_viewport()
        box = node.bounding_box()
        assert box is not None
        boxes[node_id] = box
    canvas = page.get_by_test_id("canvas").bounding_box()
    assert canvas is not None
    for node_id, box in boxes.items():
        assert canvas["x"] <= box["x"] and box["x"] + box["width"] <= canvas["x"] + canvas["width"]
        assert (
            canvas["y"] <= box["y"] and box["y"] + box["height"] <= canvas["y"] + canvas["height"]
        )
        for other, other_box in boxes.items():
            assert other == node_id or not _boxes_overlap(box, other_box), (node_id, other)
    # Left to right along the way profiles go; yes above no.
    assert boxes["new_profile"]["x"] < boxes["welcome_email"]["x"] < boxes["read_time"]["x"]
    assert boxes["loyalty_points"]["y"] < boxes["sms_sent"]["y"]

    # Moving a node then "Auto-layout" puts it back in line; the layout is saved.
    drag_node(page, "promo_email", -300, 150)
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))
    page.get_by_role("button", name="Auto-layout").click()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    positions = {n["id"]: n["position"] for n in saved["nodes"]}
    assert all(p is not None for p in positions.values())
    assert positions["promo_email"][0] > positions["promo_code"][0]

    # Run it and watch the counts above the elements.
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("scenario-status")).to_have_text("active")
    with live.client() as client:
        import_profiles(client, db)
    expect(count(page, "inside", "read_time")).to_have_text("2", timeout=15_000)
    live.clock.advance(DAY + 60)
    expect(count(page, "entered", "promo_email")).to_have_text("in 1", timeout=15_000)
    expect(count(page, "inside", "sms_wait")).to_have_text("1")
    expect(count(page, "entered", "new_profile")).to_have_text("in 2")
    page.get_by_role("button", name="Close the settings").click()
    page.get_by_role("button", name="Fit view").click()
    page.get_by_role("button", name="Dismiss").click()
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "editor.png"))


def test_a_sixty_node_scenario_with_a_million_inside_shows_every_count(
    page: Page, live: LiveServer
) -> None:
    nodes, edges = sixty_node_graph()
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(client, db, name="Big", nodes=nodes, edges=edges)
    write_counters(live, sid, [n["id"] for n in nodes])
    with live.client() as client:
        assert client.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 1_000_000

    open_editor(page, live, sid)
    expect(page.locator(".react-flow__node")).to_have_count(60, timeout=15_000)
    expect(page.locator("[data-testid^='counts-']")).to_have_count(60, timeout=15_000)
    expect(page.locator("[data-testid^='inside-']")).to_have_count(10)
    expect(count(page, "inside", "l0s0")).to_have_text("100,000")
    expect(count(page, "entered", "l9s3")).to_have_text("in 1,000,059")
    for node in nodes:
        expect(page.get_by_test_id(f"node-{node['id']}")).to_be_in_viewport()

    # A poll re-renders only the counts that changed, never the elements.
    renders = "() => ({...window.scenariaEditorRenders})"
    before = page.evaluate(renders)
    for _ in range(6):  # until a whole poll (2 s) passes without any render
        page.wait_for_timeout(2500)
        now = page.evaluate(renders)
        if now == before:
            break
        before = now
    assert now == before, "the canvas keeps re-rendering while nothing changes"
    with live.app.store.transaction() as tx:
        tx.counters.add(Counter({(sid, "l0s0", day_of(live.clock.now()), "entered"): 1}))
    expect(count(page, "inside", "l0s0")).to_have_text("100,001", timeout=10_000)
    page.wait_for_timeout(2500)  # and one more where nothing changed
    after = page.evaluate(renders)
    assert after["nodes"] == before["nodes"], (before, after)
    assert after["counts"] - before["counts"] == 1, (before, after)


def test_a_required_attribute_is_chosen_in_the_about_section(page: Page, live: LiveServer) -> None:
    with live.client() as client:
        sid = make_scenario(client, make_database(client))
        answer = client.put(
            "/scenario-attributes/team", json={"required": True, "choices": ["sales", "support"]}
        )
        assert answer.status_code == 200, answer.text
    open_editor(page, live, sid)
    page.get_by_label("Scenario name").fill("Welcome (sales)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("problems")).to_contain_text("attribute 'team' is required")
    about = page.get_by_role("region", name="About")
    about.get_by_label("team").select_option("sales")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    assert saved["attributes"] == {"team": "sales"}
    assert saved["name"] == "Welcome (sales)"
