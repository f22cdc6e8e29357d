"""Events ingestion: custom events, subscription changes, message events; all on the card."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.clock import FakeClock
from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App


@pytest.fixture
def pid(admin: TestClient, db: ProfileDatabase) -> int:
    body = {"fields": {"email": "ann@example.com"}, "subscriptions": {"sms": "subscribed"}}
    response = admin.post(f"/databases/{db.id}/profiles", json=body)
    assert response.status_code == 200, response.text
    profile_id: int = response.json()["profile_id"]
    return profile_id


def card(client: TestClient, db: ProfileDatabase, profile_id: int) -> dict[str, Any]:
    response = client.get(f"/databases/{db.id}/profiles/{profile_id}/card")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def custom(profile: dict[str, Any], type_: str = "purchase", **properties: Any) -> dict[str, Any]:
    return {"kind": "custom", "profile": profile, "type": type_, "properties": properties}


def subscription(profile: dict[str, Any], action: str, channel: str = "email", **extra: Any) -> Any:
    return {
        "kind": "subscription",
        "profile": profile,
        "channel": channel,
        "action": action,
        **extra,
    }


def test_a_custom_event_by_id_or_key_appears_on_the_card(
    admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    first = admin.post(f"/databases/{db.id}/events", json=custom({"id": pid}, total=99.5))
    second = admin.post(
        f"/databases/{db.id}/events",
        json=custom({"match_key": "ANN@example.com"}, "page_view", url="/shoes", tags=["a"]),
    )
    assert first.status_code == second.status_code == 200, first.text + second.text
    assert first.json() == {"profile_id": pid, "recorded": True}
    assert second.json()["profile_id"] == pid
    events = card(admin, db, pid)["events"]
    assert [(e["type"], e["data"]) for e in events] == [
        ("page_view", {"url": "/shoes", "tags": ["a"]}),
        ("purchase", {"total": 99.5}),
    ]
    assert events[0]["at"] == "2026-01-01T00:00:00Z"


def test_double_opt_in_subscribe_then_confirm(
    admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    ref = {"id": pid}
    pending = admin.post(
        f"/databases/{db.id}/events", json=subscription(ref, "subscribe", double_opt_in=True)
    )
    assert pending.json() == {"profile_id": pid, "recorded": True}
    profile = admin.get(f"/databases/{db.id}/profiles/{pid}").json()
    assert profile["subscriptions"] == {"email": "unconfirmed", "sms": "subscribed"}

    confirmed = admin.post(f"/databases/{db.id}/events", json=subscription(ref, "confirm"))
    assert confirmed.json()["recorded"] is True
    again = admin.post(f"/databases/{db.id}/events", json=subscription(ref, "confirm"))
    assert again.json()["recorded"] is False, "a second confirmation changes nothing"

    admin.post(f"/databases/{db.id}/events", json=subscription(ref, "unsubscribe", "sms"))
    after = card(admin, db, pid)
    assert after["subscriptions"] == {"email": "subscribed", "sms": "unsubscribed"}
    assert [(e["type"], e["data"]) for e in after["events"]] == [
        ("unsubscribed", {"channel": "sms"}),
        ("subscription_confirmed", {"channel": "email"}),
        ("subscription_pending", {"channel": "email"}),
    ]


def test_subscribe_without_double_opt_in_is_immediate(
    admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    response = admin.post(f"/databases/{db.id}/events", json=subscription({"id": pid}, "subscribe"))
    assert response.json()["recorded"] is True
    after = card(admin, db, pid)
    assert after["subscriptions"]["email"] == "subscribed"
    assert after["events"][0]["type"] == "subscribed"


def test_confirming_with_nothing_pending_is_409(
    admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    response = admin.post(f"/databases/{db.id}/events", json=subscription({"id": pid}, "confirm"))
    assert response.status_code == 409
    assert "no double opt-in is pending" in response.json()["detail"]


def test_a_batch_applies_in_order_in_one_transaction(
    admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    ref = {"id": pid}
    batch = [
        subscription(ref, "subscribe", double_opt_in=True),
        subscription({"match_key": "ann@example.com"}, "confirm"),
        custom(ref, "purchase", total=10),
    ]
    response = admin.post(f"/databases/{db.id}/events/batch", json={"events": batch})
    assert response.status_code == 200, response.text
    assert response.json()["recorded"] == 3
    assert card(admin, db, pid)["subscriptions"]["email"] == "subscribed"


@pytest.mark.parametrize(
    ("event", "status", "reason"),
    [
        (custom({"id": 9999}), 422, "event #2: profile 9999 does not exist"),
        (custom({"match_key": "bo@example.com"}), 422, "event #2: no profile of database"),
        (custom({"id": 1}, "opened"), 422, "event #2: 'opened' is a reserved event type"),
        (subscription({"id": 1}, "confirm"), 409, "event #2: cannot confirm the email"),
    ],
)
def test_one_bad_event_refuses_the_whole_batch(
    admin: TestClient,
    db: ProfileDatabase,
    pid: int,
    event: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    batch = [custom({"id": pid}, "visit"), event]
    response = admin.post(f"/databases/{db.id}/events/batch", json={"events": batch})
    assert response.status_code == status
    assert reason in response.json()["detail"]
    assert card(admin, db, pid)["events"] == []


def test_an_event_for_a_profile_of_another_database_is_refused(
    app: App, admin: TestClient, db: ProfileDatabase, pid: int
) -> None:
    other = app.profiles.create_database("Partners")
    response = admin.post(f"/databases/{other.id}/events", json=custom({"id": pid}))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"event #1: profile {pid} is not in profile database {other.id}"
    )
    by_key = admin.post(
        f"/databases/{other.id}/events", json=custom({"match_key": "ann@example.com"})
    )
    assert by_key.status_code == 422


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"profile": {"id": 1}, "type": "x"}, "kind"),
        ({"kind": "weird", "profile": {"id": 1}, "type": "x"}, "kind"),
        ({"kind": "custom", "profile": {"id": 1, "match_key": "a"}, "type": "x"}, "profile"),
        ({"kind": "custom", "profile": {}, "type": "x"}, "profile"),
        ({"kind": "custom", "profile": {"id": 1}, "type": "has space"}, "type"),
        ({"kind": "custom", "profile": {"id": 1}, "type": "x", "properties": []}, "properties"),
        (
            {"kind": "subscription", "profile": {"id": 1}, "channel": "fax", "action": "confirm"},
            "channel",
        ),
        (
            {"kind": "subscription", "profile": {"id": 1}, "channel": "sms", "action": "sub"},
            "action",
        ),
    ],
)
def test_malformed_events_are_422(
    admin: TestClient, db: ProfileDatabase, body: dict[str, Any], reason: str
) -> None:
    response = admin.post(f"/databases/{db.id}/events", json=body)
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_unstorable_properties_are_422(admin: TestClient, db: ProfileDatabase, pid: int) -> None:
    too_big = admin.post(f"/databases/{db.id}/events", json=custom({"id": pid}, n=2**64))
    assert too_big.status_code == 422
    assert "does not fit in 64 bits" in too_big.json()["detail"]
    not_json = admin.post(
        f"/databases/{db.id}/events",
        content=b'{"kind": "custom", "profile": {"id": 1}, "type": "x", "properties": {"n": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert not_json.status_code == 422


def test_an_empty_or_oversized_batch_is_422(admin: TestClient, db: ProfileDatabase) -> None:
    assert admin.post(f"/databases/{db.id}/events/batch", json={"events": []}).status_code == 422
    many = [custom({"id": 1})] * 1001
    assert admin.post(f"/databases/{db.id}/events/batch", json={"events": many}).status_code == 422


def test_message_events_reach_the_condition_and_the_card(
    app: App, clock: FakeClock, admin: TestClient, db: ProfileDatabase
) -> None:
    """An email, a pause, then a condition on whether the email was opened."""
    scenario = Scenario(
        database_id=db.id or 0,
        name="Opened?",
        nodes=[
            Node(id="imported", kind="trigger_api_import"),
            Node(id="mail", kind="email", settings={"subject": "Hi", "text": "Hello"}),
            Node(id="wait", kind="pause", settings={"hours": 1}),
            Node(
                id="opened",
                kind="condition",
                settings={"rules": [{"type": "message", "node": "mail", "event": "opened"}]},
            ),
            Node(id="yes", kind="exit"),
            Node(id="no", kind="exit"),
        ],
        edges=[
            Edge(source="imported", target="mail"),
            Edge(source="default", target="mail"),
            Edge(source="mail", target="wait"),
            Edge(source="wait", target="opened"),
            Edge(source="opened", port="yes", target="yes"),
            Edge(source="opened", port="no", target="no"),
        ],
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    rows = [
        {"fields": {"email": f"{name}@example.com"}, "subscriptions": {"email": "subscribed"}}
        for name in ("opener", "ignorer")
    ]
    opener, ignorer = admin.post(
        f"/databases/{db.id}/profiles/batch", json={"profiles": rows}
    ).json()["profile_ids"]
    app.run_pending()
    with app.store.read() as tx:
        keys = {m["profile_id"]: m["key"] for m in tx.outbox.all("email")}

    response = admin.post(f"/messages/{keys[opener]}/events", json={"event": "opened"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "profile_id": opener,
        "event": "opened",
        "at": "2026-01-01T00:00:00Z",
    }
    clicked = admin.post(
        f"/messages/{keys[opener]}/events", json={"event": "clicked", "data": {"url": "/a"}}
    )
    assert clicked.status_code == 200
    app.run_until_idle(clock)

    opener_card = card(admin, db, opener)
    assert opener_card["interactions"][0]["exit_node"] == "yes"
    assert [(e["type"], e["outbox_key"], e["node_id"]) for e in opener_card["events"]] == [
        ("clicked", keys[opener], "mail"),
        ("opened", keys[opener], "mail"),
    ]
    assert card(admin, db, ignorer)["interactions"][0]["exit_node"] == "no"


def test_a_message_event_for_an_unknown_message_is_404(admin: TestClient) -> None:
    response = admin.post("/messages/1:mail:1/events", json={"event": "opened"})
    assert response.status_code == 404
    assert response.json()["detail"] == "message 1:mail:1 does not exist"
    wrong = admin.post("/messages/1:mail:1/events", json={"event": "liked"})
    assert wrong.status_code == 422
