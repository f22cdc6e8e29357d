"""Tracking endpoints: open pixel, click redirect, unsubscribe, double opt-in, and the
message history; every bad link refused with nothing recorded."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from scenaria.api.app import create_app
from scenaria.channels.resources import EmailResource, Resources
from scenaria.channels.tracking import Links, Purpose, sign
from scenaria.clock import DAY, FakeClock
from scenaria.model.profiles import Channel, ProfileDatabase, SubscriptionStatus
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.api.conftest import ClientFactory
from tests.conftest import import_people, person, welcome_scenario

SALE = "https://shop.example.com/sale?utm=mail&id=7"
GIF_MAGIC = b"GIF89a"


def opened_scenario(database_id: int | None, groups: list[str] | None = None) -> Scenario:
    """default capture → email → pause 1 day → 'email opened?' → yes / no exits."""
    assert database_id is not None
    return Scenario(
        database_id=database_id,
        name="Opened?",
        groups=groups or [],
        nodes=[
            Node(id="default", kind="default_capture"),
            Node(
                id="mail",
                kind="email",
                name="Sale email",
                settings={
                    "subject": "Sale for {{ profile.first_name }}",
                    "html": f'<p>Hello {{{{ profile.first_name }}}}, <a href="{SALE}">sale</a></p>',
                    "text": f"Sale: {SALE}",
                },
            ),
            Node(id="wait", kind="pause", settings={"days": 1}),
            Node(
                id="check",
                kind="condition",
                settings={"rules": [{"type": "message", "node": "mail", "event": "opened"}]},
            ),
            Node(id="was_opened", kind="exit"),
            Node(id="not_opened", kind="exit"),
        ],
        edges=[
            Edge(source="default", target="mail"),
            Edge(source="mail", target="wait"),
            Edge(source="wait", target="check"),
            Edge(source="check", port="yes", target="was_opened"),
            Edge(source="check", port="no", target="not_opened"),
        ],
    )


def start(app: App, scenario: Scenario) -> int:
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def engaged(app: App, db: ProfileDatabase, scenario_id: int, count: int = 1) -> list[int]:
    assert db.id is not None
    people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in range(1, count + 1)]
    pids = import_people(app, db.id, people).profile_ids
    for pid in pids:
        assert app.scenarios.engage(scenario_id, pid).captured
    app.run_pending()
    return pids


def message_key(app: App, profile_id: int, node_id: str = "mail") -> str:
    with app.store.read() as tx:
        for task in tx.tasks.for_profile(profile_id):
            for row in tx.outbox.for_task(task.id):
                if row["node_id"] == node_id:
                    key: str = row["key"]
                    return key
    raise AssertionError(f"profile {profile_id} has no message from {node_id}")


def links(app: App, key: str) -> Links:
    return Links(app.config.public_url, app.config.secret, key)


def path(url: str) -> str:
    """The app-relative part of a tracking URL (the TestClient serves the app itself)."""
    return urlsplit(url).path


def events_of(app: App, profile_id: int) -> list[dict[str, Any]]:
    with app.store.read() as tx:
        return tx.events.for_profile(profile_id)


def subscription(app: App, profile_id: int, channel: str = "email") -> str | None:
    with app.store.read() as tx:
        value: str | None = tx.profiles.get(profile_id)["subscriptions"].get(channel)
        return value


def exit_node(app: App, profile_id: int) -> str | None:
    tasks = app.profiles.card(profile_id)["tasks"]
    assert len(tasks) == 1
    node: str | None = tasks[0]["exit_node"]
    return node


# ------------------------------------------------------------------------ the story


def test_opening_the_pixel_makes_the_opened_condition_true(
    app: App, db: ProfileDatabase, api: TestClient, clock: FakeClock
) -> None:
    sid = start(app, opened_scenario(db.id))
    reader, ignorer = engaged(app, db, sid, 2)
    key = message_key(app, reader)

    response = api.get(path(links(app, key).open_pixel))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(GIF_MAGIC)
    assert "no-store" in response.headers["cache-control"]
    # A second open (another device) is recorded too; the condition only asks "ever".
    assert api.get(path(links(app, key).open_pixel)).status_code == 200

    clock.advance(DAY + 1)
    app.run_pending()
    assert exit_node(app, reader) == "was_opened"
    assert exit_node(app, ignorer) == "not_opened"
    opened = [e for e in events_of(app, reader) if e["type"] == "opened"]
    assert len(opened) == 2
    assert {(e["outbox_key"], e["node_id"]) for e in opened} == {(key, "mail")}
    assert [e for e in events_of(app, ignorer) if e["type"] == "opened"] == []


def test_following_the_doi_link_takes_the_confirmed_branch(
    app: App, db: ProfileDatabase, api: TestClient, clock: FakeClock
) -> None:
    assert db.id is not None
    app.profiles.add_promo_codes("welcome", ["W1", "W2"])
    start(app, welcome_scenario(db.id, "http://127.0.0.1:9"))
    confirming, other = import_people(app, db.id, [person(1), person(2)]).profile_ids
    app.run_pending()
    assert subscription(app, confirming) == "unconfirmed"
    confirm = path(links(app, message_key(app, confirming, "welcome_email")).confirm)

    response = api.get(confirm)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "confirmed" in response.text
    assert subscription(app, confirming) == "subscribed"
    again = api.get(confirm)
    assert again.status_code == 200 and "already confirmed" in again.text
    confirmations = [e for e in events_of(app, confirming) if e["type"] != "subscription_pending"]
    assert [(e["type"], e["node_id"]) for e in confirmations] == [
        ("subscription_confirmed", "welcome_email")
    ]

    clock.advance(DAY + 1)
    app.run_pending()
    path_of = app.profiles.card(confirming)["tasks"][0]["path"]
    assert ("confirmed", "yes") in [(v["node_id"], v["port"]) for v in path_of]
    other_path = app.profiles.card(other)["tasks"][0]["path"]
    assert ("confirmed", "no") in [(v["node_id"], v["port"]) for v in other_path]


def test_a_click_redirects_to_the_link_in_the_message(
    app: App, db: ProfileDatabase, api: TestClient
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id)))
    key = message_key(app, pid)
    response = api.get(path(links(app, key).click(SALE)), follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == SALE
    clicks = [e for e in events_of(app, pid) if e["type"] == "clicked"]
    assert [(e["outbox_key"], e["data"]) for e in clicks] == [(key, {"url": SALE})]


def test_unsubscribe_asks_first_then_unsubscribes_once(
    app: App, db: ProfileDatabase, api: TestClient
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id)))
    key = message_key(app, pid)
    url = path(links(app, key).unsubscribe)

    page = api.get(url)
    assert page.status_code == 200
    assert "<form" in page.text and "user1@example.com" in page.text
    assert subscription(app, pid) == "subscribed"  # a link scanner's GET changes nothing

    done = api.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "no more email" in done.text
    assert subscription(app, pid) == "unsubscribed"
    assert api.post(url).status_code == 200
    after = api.get(url)
    assert "<form" not in after.text and "no more email" in after.text
    unsubscribed = [e for e in events_of(app, pid) if e["type"] == "unsubscribed"]
    assert [(e["outbox_key"], e["node_id"], e["data"]) for e in unsubscribed] == [
        (key, "mail", {"channel": "email"})
    ]


# ------------------------------------------------------------------------ bad links


def _altered(token: str) -> str:
    body, _, mac = token.partition(".")
    flipped = ("B" if body[5] == "A" else "A").join((body[:5], body[6:]))
    return f"{flipped}.{mac}"


def bad_links(app: App, key: str) -> list[tuple[str, str, str]]:
    """(method, path, why) for links that must be refused."""
    good = links(app, key)
    forged = sign(b"not the secret", Purpose.OPEN, key)
    other_click = sign(app.config.secret, Purpose.CLICK, key, "https://evil.example.com/")
    swapped = (
        sign(app.config.secret, Purpose.CLICK, key, SALE).split(".")[0]
        + "."
        + (other_click.split(".")[1])
    )
    open_token = path(good.open_pixel).rsplit("/", 1)[1]
    unsubscribe_token = path(good.unsubscribe).rsplit("/", 1)[1]
    return [
        ("GET", f"/t/o/{forged}", "forged"),
        ("GET", f"/t/o/{_altered(open_token)}", "altered"),
        ("GET", "/t/o/garbage", "not a token"),
        ("GET", "/t/o/abc.def", "not a token"),
        ("GET", f"/t/o/{unsubscribe_token}", "another purpose"),
        ("GET", f"/t/d/{unsubscribe_token}", "another purpose"),
        ("GET", f"/t/c/{open_token}", "another purpose"),
        ("GET", f"/t/u/{open_token}", "another purpose"),
        ("POST", f"/t/u/{open_token}", "another purpose"),
        ("POST", f"/t/u/{_altered(unsubscribe_token)}", "altered"),
        ("GET", path(good.click("https://evil.example.com/")), "not in the message"),
        ("GET", path(good.click("javascript:alert(1)")), "not http"),
        ("GET", f"/t/c/{swapped}", "mac of another token"),
    ]


def test_forged_altered_and_misused_links_are_refused_and_record_nothing(
    app: App, db: ProfileDatabase, api: TestClient
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id)))
    key = message_key(app, pid)
    before = events_of(app, pid)
    for method, url, why in bad_links(app, key):
        response = api.request(method, url, follow_redirects=False)
        assert response.status_code == 400, (why, url, response.text)
        assert "location" not in response.headers, why
        assert "tracking link" in response.json()["detail"], why
    assert events_of(app, pid) == before
    assert subscription(app, pid) == "subscribed"


def test_a_genuine_link_to_a_message_that_does_not_exist_is_404(app: App, api: TestClient) -> None:
    gone = links(app, "999:mail:1")
    for url in (gone.open_pixel, gone.confirm, gone.unsubscribe, gone.click(SALE)):
        response = api.get(path(url), follow_redirects=False)
        assert response.status_code == 404, url
        assert "does not exist" in response.json()["detail"]


def test_confirming_with_no_double_opt_in_pending_is_a_conflict(
    app: App, db: ProfileDatabase, api: TestClient
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id)))
    app.profiles.set_subscription(pid, Channel.EMAIL, SubscriptionStatus.UNSUBSCRIBED)
    response = api.get(path(links(app, message_key(app, pid)).confirm))
    assert response.status_code == 409
    assert "no double opt-in is pending" in response.json()["detail"]
    assert subscription(app, pid) == "unsubscribed"


# ------------------------------------------------------------------------ history


def test_message_history_lists_each_status_with_its_time(
    app: App, db: ProfileDatabase, api: TestClient, admin: TestClient, clock: FakeClock
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id)))
    key = message_key(app, pid)
    clock.advance(60)
    api.get(path(links(app, key).open_pixel))
    clock.advance(60)
    api.get(path(links(app, key).click(SALE)), follow_redirects=False)

    response = admin.get(f"/messages/{key}/history")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["key"], body["node_id"], body["profile_id"], body["channel"]) == (
        key,
        "mail",
        pid,
        "email",
    )
    statuses = [h["status"] for h in body["history"]]
    assert statuses[0] == "queued" and statuses[-2:] == ["opened", "clicked"]
    assert body["history"][-1]["url"] == SALE
    assert api.get(f"/messages/{key}/history").status_code == 401
    assert admin.get("/messages/999:mail:1/history").status_code == 404


def test_a_skipped_message_says_why(app: App, db: ProfileDatabase, admin: TestClient) -> None:
    assert db.id is not None
    sid = start(app, opened_scenario(db.id))
    (pid,) = import_people(
        app, db.id, [person(1, email_status=SubscriptionStatus.UNSUBSCRIBED)]
    ).profile_ids
    app.scenarios.engage(sid, pid)
    app.run_pending()
    history = admin.get(f"/messages/{message_key(app, pid)}/history").json()["history"]
    assert [h["status"] for h in history] == ["queued", "skipped"]
    assert "not subscribed to email" in history[1]["reason"]


def test_message_history_respects_scenario_groups(
    app: App, db: ProfileDatabase, make_client: ClientFactory
) -> None:
    (pid,) = engaged(app, db, start(app, opened_scenario(db.id, groups=["team-a"])))
    key = message_key(app, pid)
    assert make_client("alice", groups=["team-a"]).get(f"/messages/{key}/history").is_success
    outsider = make_client("bob", groups=["team-b"]).get(f"/messages/{key}/history")
    assert outsider.status_code == 404


@pytest.mark.parametrize("prefix", ["/t/o/", "/t/c/", "/t/u/", "/t/d/"])
def test_an_overlong_token_is_refused_without_a_server_error(api: TestClient, prefix: str) -> None:
    assert api.get(prefix + "x" * 9000).status_code == 422


# ------------------------------------------------------------- end to end over SMTP


@dataclass
class Inbox:
    """A real SMTP server's (aiosmtpd) handler that keeps what it receives."""

    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.received.append(email.message_from_bytes(content, policy=email.policy.default))
        return "250 OK"


def _bodies(message: EmailMessage) -> str:
    parts = [message] if not message.is_multipart() else list(message.walk())
    return "\n".join(str(p.get_content()) for p in parts if p.get_content_maintype() == "text")


def test_the_doi_link_in_a_received_email_takes_the_confirmed_branch(
    store: Store, clock: FakeClock, db: ProfileDatabase
) -> None:
    assert db.id is not None
    inbox = Inbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = Config(
            allowed_hosts=frozenset({"127.0.0.1"}),
            public_url="http://track.test",
            secret=b"e2e-secret",
            resources=Resources(email={"default": EmailResource(smtp_port=port)}),
        )
        with App(config, clock=clock, store=store) as app, TestClient(create_app(app)) as api:
            app.profiles.add_promo_codes("welcome", ["W1"])
            start(app, welcome_scenario(db.id, "http://127.0.0.1:9"))
            (pid,) = import_people(app, db.id, [person(1)]).profile_ids
            app.run_pending()
            assert len(inbox.received) == 1
            body = _bodies(inbox.received[0])
            confirm = re.search(r"http://track\.test/t/d/[A-Za-z0-9_.%-]+", body)
            pixel = re.search(r"http://track\.test/t/o/[A-Za-z0-9_.%-]+", body)
            assert confirm and pixel, body

            assert api.get(path(pixel.group(0))).status_code == 200
            assert api.get(path(confirm.group(0))).status_code == 200
            assert subscription(app, pid) == "subscribed"
            clock.advance(DAY + 1)
            app.run_pending()
            visits = app.profiles.card(pid)["tasks"][0]["path"]
            assert ("confirmed", "yes") in [(v["node_id"], v["port"]) for v in visits]
            assert len(inbox.received) == 2  # the promo email
            types = {e["type"] for e in events_of(app, pid)}
            assert {"opened", "subscription_confirmed"} <= types
    finally:
        controller.stop()
