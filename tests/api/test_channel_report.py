"""The channel report: per Email/SMS node, what happened to its messages over a period."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from scenaria.clock import DAY, FakeClock
from scenaria.model.profiles import ProfileDatabase, SubscriptionStatus
from scenaria.services.app import App, Config
from scenaria.store.database import Store
from tests.api.conftest import ClientFactory
from tests.api.test_tracking import SALE, links, message_key, opened_scenario, path, start
from tests.conftest import import_people, person

ZERO = {
    "sent": 0,
    "delivered": 0,
    "opened": 0,
    "clicked": 0,
    "unsubscribed": 0,
    "failed": 0,
    "skipped": 0,
}


@pytest.fixture
def app(store: Store, clock: FakeClock) -> Iterator[App]:
    """An app with no channel: messages stay queued until the test settles them."""
    with App(Config(), clock=clock, store=store, channels={}) as app:
        yield app


def finish(app: App, outcomes: dict[str, str]) -> None:
    """Mark queued email messages sent or failed, as a deliverer would."""
    now = app.clock.now()
    with app.store.transaction() as tx:
        claimed = tx.outbox.claim(["email"], now, 100, 60)
        assert {r["key"] for r in claimed} == set(outcomes)
        tx.outbox.finish_many(
            [
                {
                    "_key": key,
                    "status": status,
                    "reason": "550 mailbox unavailable" if status == "failed" else None,
                    "response": None,
                    "sent_at": now if status == "sent" else None,
                }
                for key, status in outcomes.items()
            ]
        )


def test_the_report_counts_each_message_once_per_outcome(
    app: App,
    db: ProfileDatabase,
    api: TestClient,
    admin: TestClient,
    make_client: ClientFactory,
    clock: FakeClock,
) -> None:
    assert db.id is not None
    sid = start(app, opened_scenario(db.id, groups=["team-a"]))
    people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in (1, 2, 3)]
    people.append(person(4, email_status=SubscriptionStatus.UNSUBSCRIBED))
    pids = import_people(app, db.id, people).profile_ids
    for pid in pids:
        app.scenarios.engage(sid, pid)
    app.run_pending()
    reader, clicker, bounced, skipped = pids
    keys = [message_key(app, pid) for pid in pids]
    finish(app, {keys[0]: "sent", keys[1]: "sent", keys[2]: "failed"})
    app.profiles.record_message_event(keys[0], "delivered")

    for _ in range(3):  # three opens of one message count as one opened message
        assert api.get(path(links(app, keys[0]).open_pixel)).status_code == 200
    api.get(path(links(app, keys[1]).open_pixel))
    api.get(path(links(app, keys[1]).click(SALE)), follow_redirects=False)
    api.get(path(links(app, keys[1]).click(SALE)), follow_redirects=False)
    api.post(path(links(app, keys[1]).unsubscribe))
    api.get(path(links(app, keys[2]).click("https://evil.example.com/")))  # refused

    response = admin.get(f"/scenarios/{sid}/channel-report")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["date_from"], report["date_to"]) == ("2025-12-26", "2026-01-01")
    assert [(n["id"], n["kind"], n["name"]) for n in report["nodes"]] == [
        ("mail", "email", "Sale email")
    ]
    counts = {k: v for k, v in report["nodes"][0].items() if k in ZERO}
    assert counts == {
        "sent": 2,
        "delivered": 1,
        "opened": 2,
        "clicked": 1,
        "unsubscribed": 1,
        "failed": 1,
        "skipped": 1,
    }
    assert skipped and reader and clicker and bounced

    # The same from a team member; nothing for an outsider.
    assert (
        make_client("alice", groups=["team-a"]).get(f"/scenarios/{sid}/channel-report").json()
        == report
    )
    outsider = make_client("bob", groups=["team-b"]).get(f"/scenarios/{sid}/channel-report")
    assert outsider.status_code == 404
    assert api.get(f"/scenarios/{sid}/channel-report").status_code == 401

    # A period before it all counts nothing; a week later the default period is empty too.
    before = admin.get(
        f"/scenarios/{sid}/channel-report",
        params={"date_from": "2025-12-01", "date_to": "2025-12-31"},
    ).json()
    assert {k: v for k, v in before["nodes"][0].items() if k in ZERO} == ZERO
    clock.advance(8 * DAY)
    later = admin.get(f"/scenarios/{sid}/channel-report").json()
    assert {k: v for k, v in later["nodes"][0].items() if k in ZERO} == ZERO
    since = admin.get(f"/scenarios/{sid}/channel-report", params={"date_from": "2026-01-01"})
    assert since.json()["nodes"][0]["opened"] == 2


def test_a_backwards_period_is_refused(app: App, db: ProfileDatabase, admin: TestClient) -> None:
    assert db.id is not None
    sid = start(app, opened_scenario(db.id))
    response = admin.get(
        f"/scenarios/{sid}/channel-report",
        params={"date_from": "2026-01-05", "date_to": "2026-01-01"},
    )
    assert response.status_code == 422
    assert "after" in response.json()["detail"]
    assert admin.get("/scenarios/999/channel-report").status_code == 404
