"""The scenario editor in a real browser: building, saving, validating, running, counting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import SCREENSHOTS, LiveServer

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
                    "fields": {"email": "ann@example.com", "phone": "+15550001", "first_name": "Ann"},
                    "subscriptions": {"email": "subscribed", "sms": "subscribed"},
                },
                {
                    "fields": {"email": "bob@example.com", "phone": "+15550002", "first_name": "Bob"},
                    "subscriptions": {"email": "unconfirmed", "sms": "subscribed"},
                },
            ]
        },
    )
    assert answer.status_code in (200, 201), answer.text
    assert answer.json()["captured"] == 2, answer.text


def open_editor(page: Page, live: LiveServer, scenario_id: int) -> None:
    page.goto(f"{live.url}/#/scenarios/{scenario_id}")
    expect(page.get_by_test_id("canvas")).to_be_visible()
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


def count(page: Page, what: str, node_id: str) -> Locator:
    return page.get_by_test_id(f"{what}-{node_id}")


def test_build_the_welcome_scenario_from_an_empty_canvas_and_watch_it_run(
    page: Page, live: LiveServer
) -> None:
    with live.client() as client:
        db = make_database(client)
        sid = make_scenario(client, db)
    open_editor(page, live, sid)
    canvas = page.get_by_test_id("canvas")
    # The built-in default capture goes to the bottom-left corner, out of the way.
    page.get_by_test_id("node-default").drag_to(canvas, target_position={"x": 150, "y": 470})

    # Step 1: capture every new profile.
    drop(page, "trigger_any_import", "trigger_any_import_1", 135, 80)
    close_settings(page)
    # Step 2: the welcome email.
    drop(page, "email", "email_1", 385, 80, name="Welcome email")
    form = inspector(page)
    form.get_by_label("Subject", exact=True).fill("Welcome, {{ profile.first_name or 'friend' }}!")
    form.get_by_label("Html", exact=True).fill(
        "<p>Hello {{ profile.first_name or 'friend' }}, please confirm your subscription.</p>"
    )
    form.get_by_label("Text", exact=True).fill("Hello, please confirm your subscription.")
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
    expect(form.get_by_label("Status", exact=True)).to_have_value("subscribed")
    close_settings(page)
    drop(page, "update_profile", "update_profile_1", 1120, 80, name="+100 loyalty points")
    form = inspector(page)
    form.get_by_role("button", name="+ Add update").click()
    form.get_by_label("Field", exact=True).fill("loyalty_points")
    form.get_by_label("Op", exact=True).select_option("increment")
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
    inspector(page).get_by_label("Text", exact=True).fill(
        "{{ profile.first_name or 'Hi' }}, please confirm your subscription."
    )
    close_settings(page)
    drop(page, "pause", "pause_2", 385, 270, name="Wait after the SMS")
    inspector(page).get_by_label("Days", exact=True).fill("1")
    close_settings(page)
    drop(page, "api_request", "api_request_1", 885, 450, name="Ask the call centre to phone")
    inspector(page).get_by_label("Url", exact=True).fill(
        "http://127.0.0.1:8765/call-requests"
    )
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
