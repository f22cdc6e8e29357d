"""The editor keeps what the user works on in sight: connections to missing elements,
where new elements land, and the settings panel beside the selected element."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_editor import inspector, make_database, make_scenario, open_editor

Box = dict[str, float]


def box_of(page: Page, test_id: str) -> Box:
    box = page.get_by_test_id(test_id).bounding_box()
    assert box is not None, test_id
    return box


def overlap(a: Box, b: Box) -> bool:
    return (
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
    )


def inside(a: Box, b: Box) -> bool:
    return (
        a["x"] >= b["x"]
        and a["y"] >= b["y"]
        and a["x"] + a["width"] <= b["x"] + b["width"]
        and a["y"] + a["height"] <= b["y"] + b["height"]
    )


def scenario(client: httpx.Client, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> int:
    return make_scenario(client, make_database(client), nodes=nodes, edges=edges)


def test_a_connection_to_a_missing_element_shows_in_red_and_deleting_it_is_saved(
    page: Page, live: LiveServer
) -> None:
    nodes = [
        {"id": "new", "kind": "trigger_any_import", "name": "New", "position": [0, 0]},
        {
            "id": "mail",
            "kind": "email",
            "name": "Welcome",
            "settings": {"subject": "Hi", "text": "Hello"},
            "position": [300, 0],
        },
    ]
    edges = [
        {"source": "new", "target": "mail"},
        {"source": "mail", "port": "next", "target": "ghost"},
        {"source": "phantom", "port": "next", "target": "mail"},
    ]
    with live.client() as client:
        # An imported file can name an element that is not there; saving keeps it as a problem.
        sid = scenario(client, nodes, edges)
    open_editor(page, live, sid)
    mail = page.get_by_test_id("node-mail")
    stub = page.get_by_test_id("dangling-mail-out-next")
    expect(stub).to_be_visible()
    expect(stub).to_contain_text("ghost")
    expect(mail).to_have_class(re.compile("ed-has-problems"))
    expect(page.get_by_test_id("problems-mail")).to_contain_text("missing node 'ghost'")
    assert box_of(page, "dangling-mail-out-next")["x"] >= box_of(page, "node-mail")["x"] + 150
    incoming = page.get_by_test_id("dangling-mail-in-next")
    expect(incoming).to_contain_text("phantom")
    assert box_of(page, "dangling-mail-in-next")["x"] < box_of(page, "node-mail")["x"]

    delete = "Delete the connection {} the missing element {}"
    page.get_by_role("button", name=delete.format("to", "ghost")).click()
    expect(stub).to_have_count(0)
    page.get_by_role("button", name=delete.format("from", "phantom")).click()
    expect(incoming).to_have_count(0)
    expect(page.get_by_test_id("save-state")).to_have_text(re.compile("Unsaved"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-state")).to_have_text("All changes saved")
    expect(page.get_by_test_id("problems-mail")).to_have_count(0)
    with live.client() as client:
        saved = client.get(f"/scenarios/{sid}").json()
    assert [(e["source"], e["target"]) for e in saved["edges"]] == [("new", "mail")]
    assert not [p for p in saved["problems"] if p["code"] == "unknown_node"]


def test_elements_added_from_the_palette_land_on_free_spots(page: Page, live: LiveServer) -> None:
    # A block of elements filling the middle of the view.
    nodes: list[dict[str, Any]] = [{"id": "default", "kind": "default_capture", "position": [0, 0]}]
    for row in range(3):
        for column in range(3):
            nodes.append(
                {
                    "id": f"p{row}{column}",
                    "kind": "pause",
                    "name": f"Pause {row}.{column}",
                    "settings": {"days": 1},
                    "position": [column * 240, 140 + row * 130],
                }
            )
    with live.client() as client:
        sid = scenario(client, nodes, [])
    open_editor(page, live, sid)
    page.get_by_test_id("palette-sms").click()
    expect(page.get_by_test_id("node-sms_1")).to_be_visible()
    page.get_by_test_id("palette-email").click()
    expect(page.get_by_test_id("node-email_1")).to_be_visible()
    page.wait_for_timeout(300)  # the view may pan so the selected element is in sight
    others = [box_of(page, f"node-{n['id']}") for n in nodes]
    sms, email = box_of(page, "node-sms_1"), box_of(page, "node-email_1")
    for new in (sms, email):
        assert not any(overlap(new, other) for other in others), (new, others)
    assert not overlap(sms, email)
    # The last one is selected: it is in view, beside the settings panel, not under it.
    view = box_of(page, "canvas")
    assert inside(email, view)
    assert email["x"] + email["width"] <= box_of(page, "inspector")["x"]


def test_the_selected_element_stays_in_view_beside_the_settings(
    page: Page, live: LiveServer
) -> None:
    nodes = [
        {"id": "new", "kind": "trigger_any_import", "name": "New", "position": [0, 0]},
        {"id": "wait", "kind": "pause", "name": "Wait", "position": [700, 0]},
        {
            "id": "call",
            "kind": "api_request",
            "name": "Call",
            "settings": {"url": "http://127.0.0.1:9/x"},
            "position": [1400, 0],
        },
    ]
    edges = [{"source": "new", "target": "wait"}, {"source": "wait", "target": "call"}]
    with live.client() as client:
        sid = scenario(client, nodes, edges)
    open_editor(page, live, sid)
    before = box_of(page, "canvas")
    call = box_of(page, "node-call")
    # Fitted to the view, the right-most element is where the settings panel opens.
    assert call["x"] + call["width"] > before["x"] + before["width"] - 340
    page.get_by_test_id("node-call").click()
    expect(inspector(page)).to_be_visible()
    page.wait_for_timeout(400)
    call = box_of(page, "node-call")
    assert inside(call, box_of(page, "canvas"))
    assert call["x"] + call["width"] <= box_of(page, "inspector")["x"]


def test_settings_have_human_labels_help_a_fitting_headers_editor_and_an_email_preview(
    page: Page, live: LiveServer
) -> None:
    nodes = [
        {"id": "new", "kind": "trigger_any_import", "name": "New", "position": [0, 0]},
        {
            "id": "mail",
            "kind": "email",
            "name": "Welcome",
            "settings": {
                "subject": "Hi",
                "html": "<h1 id='greeting'>Hello there</h1><script>document.title='ran'</script>",
            },
            "position": [300, 0],
        },
        {
            "id": "call",
            "kind": "api_request",
            "name": "Call",
            "settings": {
                "url": "http://127.0.0.1:9/x",
                "headers": {
                    "Content-Type": "application/json",
                    "X-A-Rather-Long-Header-Name": "a-value-that-goes-on-for-quite-a-while-indeed",
                },
            },
            "position": [600, 0],
        },
    ]
    edges = [{"source": "new", "target": "mail"}, {"source": "mail", "target": "call"}]
    with live.client() as client:
        sid = scenario(client, nodes, edges)
    open_editor(page, live, sid)

    page.get_by_test_id("node-call").click()
    form = inspector(page)
    for raw in ("Url", "Timeout Seconds", "Method", "Body"):
        expect(form.get_by_label(raw, exact=True)).to_have_count(0)
    expect(form.get_by_label("URL", exact=True)).to_have_value("http://127.0.0.1:9/x")
    expect(form.get_by_label("Timeout (seconds)", exact=True)).to_have_value("10")
    expect(form.get_by_label("HTTP method", exact=True)).to_have_value("POST")
    expect(form).to_contain_text("operator's list of allowed hosts")
    # Every header row fits inside the panel, its remove button included.
    panel = box_of(page, "inspector")
    rows = form.get_by_test_id("map-row")
    expect(rows).to_have_count(2)
    for i in range(2):
        for part in (f"Headers name {i + 1}", f"Headers value {i + 1}", f"Remove Headers {i + 1}"):
            b = form.get_by_label(part, exact=True).bounding_box()
            assert b is not None and b["x"] + b["width"] <= panel["x"] + panel["width"] - 8, part
    scroll = form.locator(".ed-inspector-body").evaluate("e => e.scrollWidth - e.clientWidth")
    assert scroll == 0

    page.get_by_test_id("node-mail").click()
    form = inspector(page)
    expect(form.get_by_label("HTML body", exact=True)).to_be_visible()
    expect(form.get_by_label("Plain-text body", exact=True)).to_be_visible()
    expect(form.get_by_label("Html", exact=True)).to_have_count(0)
    preview = form.locator("iframe[title='HTML preview']")
    expect(preview).to_have_attribute("sandbox", "")
    expect(preview.content_frame.locator("#greeting")).to_have_text("Hello there")
    # No script of the email runs, in the frame or in the editor.
    assert preview.content_frame.locator("html").evaluate("() => document.title") != "ran"
    assert page.title() != "ran"
    form.get_by_label("HTML body", exact=True).fill("<p id='greeting'>Changed</p>")
    expect(preview.content_frame.locator("#greeting")).to_have_text("Changed")
