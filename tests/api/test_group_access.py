"""Access groups beyond the scenario endpoints: a scenario's messages and events, the
profile card, and profile databases (with their profiles, imports, events, segments)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.model.profiles import ProfileDatabase
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App
from tests.api.conftest import ClientFactory
from tests.conftest import WELCOME, import_people, person


@pytest.fixture
def sales(make_client: ClientFactory) -> TestClient:
    return make_client("sam", ["sales"])


@pytest.fixture
def marketing(make_client: ClientFactory) -> TestClient:
    return make_client("mia", ["marketing"])


def mailing(app: App, database_id: int, groups: list[str]) -> tuple[int, int, str]:
    """An active scenario of ``groups`` that emails one imported profile: (scenario id,
    profile id, the message's outbox key)."""
    scenario = Scenario(
        database_id=database_id,
        name="Mailing",
        groups=groups,
        nodes=[
            Node(id="imported", kind="trigger_api_import"),
            Node(id="mail", kind="email", settings={"subject": "Hi", "text": "Hello"}),
        ],
        edges=[Edge(source="imported", target="mail"), Edge(source="default", target="mail")],
    )
    saved = app.scenarios.save(scenario)
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    result = import_people(app, database_id, [person(1)])
    app.run_pending()
    with app.store.read() as tx:
        [message] = tx.outbox.all("email")
    return saved.scenario.id, result.row_ids[0] or 0, message["key"]


def card(client: TestClient, database_id: int, profile_id: int) -> dict[str, Any]:
    response = client.get(f"/databases/{database_id}/profiles/{profile_id}/card")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# -- messages and the card follow the scenario's groups -----------------------------------


def test_another_groups_user_cannot_write_events_into_a_message(
    app: App, sales: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    assert db.id is not None
    _, profile_id, key = mailing(app, db.id, ["sales"])

    for method, url, body in [
        ("POST", f"/messages/{key}/events", {"event": "clicked", "data": {"url": "/x"}}),
        ("GET", f"/messages/{key}/history", None),
    ]:
        refused = marketing.request(method, url, json=body)
        assert refused.status_code == 404, (url, refused.text)
        # Indistinguishable from a message that does not exist; no profile id leaks.
        assert refused.json() == {"detail": f"message {key} does not exist"}

    history = sales.get(f"/messages/{key}/history").json()["history"]
    assert [h["status"] for h in history] == ["queued"]
    recorded = sales.post(f"/messages/{key}/events", json={"event": "opened"})
    assert recorded.status_code == 200
    assert recorded.json()["profile_id"] == profile_id


def test_the_card_shows_only_events_and_tasks_of_scenarios_the_viewer_sees(
    app: App, admin: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    assert db.id is not None
    _, profile_id, key = mailing(app, db.id, ["sales"])
    assert admin.post(f"/messages/{key}/events", json={"event": "opened"}).status_code == 200
    custom = {"kind": "custom", "profile": {"id": profile_id}, "type": "purchase"}
    assert admin.post(f"/databases/{db.id}/events", json=custom).status_code == 200

    seen_by_admin = card(admin, db.id, profile_id)
    assert [e["type"] for e in seen_by_admin["events"]] == ["purchase", "opened"]
    assert len(seen_by_admin["interactions"]) == 1

    seen_by_marketing = card(marketing, db.id, profile_id)
    assert [e["type"] for e in seen_by_marketing["events"]] == ["purchase"]
    assert seen_by_marketing["interactions"] == []

    # The latest events it may see, however many hidden ones came after them.
    for _ in range(3):
        assert admin.post(f"/messages/{key}/events", json={"event": "clicked"}).status_code == 200
    latest = marketing.get(f"/databases/{db.id}/profiles/{profile_id}/card?events=1").json()
    assert [e["type"] for e in latest["events"]] == ["purchase"]
    assert [e["type"] for e in card(admin, db.id, profile_id)["events"]][:1] == ["clicked"]


# -- profile databases have groups ---------------------------------------------------------


def sales_database(sales: TestClient) -> int:
    body = {"name": "Sales leads", "fields": {"first_name": "string"}, "groups": ["sales"]}
    response = sales.post("/databases", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["groups"] == ["sales"]
    database_id: int = response.json()["id"]
    return database_id


def every_database_call(
    database_id: int, profile_id: int, segment_id: int
) -> list[tuple[str, str, dict[str, Any]]]:
    """Each call on the database, its profiles, events and segments, as (method, url,
    keyword arguments of the request)."""
    base = f"/databases/{database_id}"
    one = {"fields": {"email": "new@example.com"}}
    event = {"kind": "custom", "profile": {"id": profile_id}, "type": "purchase"}
    unsubscribe = {
        "kind": "subscription",
        "profile": {"match_key": "lead@example.com"},
        "channel": "email",
        "action": "unsubscribe",
    }
    return [
        ("GET", base, {}),
        ("PATCH", base, {"json": {"groups": []}}),
        ("GET", f"{base}/profiles/{profile_id}", {}),
        ("GET", f"{base}/profiles/by-key", {"params": {"key": "lead@example.com"}}),
        ("GET", f"{base}/profiles/{profile_id}/card", {}),
        ("POST", f"{base}/profiles", {"json": one}),
        ("POST", f"{base}/profiles/batch", {"json": {"profiles": [one]}}),
        ("POST", f"{base}/profiles/csv", {"files": {"file": ("p.csv", "email\nx@example.com\n")}}),
        ("POST", f"{base}/events", {"json": event}),
        ("POST", f"{base}/events/batch", {"json": {"events": [event, unsubscribe]}}),
        ("GET", f"/segments/{segment_id}", {}),
        ("GET", f"/segments/{segment_id}/members", {}),
        ("GET", f"/segments/{segment_id}/count", {}),
        ("POST", f"/segments/{segment_id}/members", {"json": {"profile_ids": [profile_id]}}),
        ("DELETE", f"/segments/{segment_id}", {}),
    ]


def test_a_database_in_groups_exists_only_for_their_members_and_admins(
    app: App, sales: TestClient, marketing: TestClient, admin: TestClient
) -> None:
    database_id = sales_database(sales)
    lead = {"fields": {"email": "lead@example.com"}, "subscriptions": {"email": "subscribed"}}
    profile_id = sales.post(f"/databases/{database_id}/profiles", json=lead).json()["profile_id"]
    # A segment with no groups of its own is still only for those who see its database.
    segment = sales.post(
        "/segments", json={"database_id": database_id, "name": "Leads", "kind": "static"}
    )
    assert segment.status_code == 201, segment.text
    segment_id = segment.json()["id"]
    before = card(sales, database_id, profile_id)

    assert [d["id"] for d in marketing.get("/databases").json()] == []
    assert marketing.get("/segments").json()["items"] == []
    for method, url, kwargs in every_database_call(database_id, profile_id, segment_id):
        response = marketing.request(method, url, **kwargs)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json()["detail"] in (
            f"profile database {database_id} does not exist",
            f"segment {segment_id} does not exist",
        )
    # Naming the database in a body is refused as if it did not exist.
    rules = {"rules": [{"type": "field", "field": "email", "op": "is_set"}]}
    for url, body in [
        ("/segments", {"database_id": database_id, "name": "Mine", "kind": "static"}),
        ("/segments/preview", {"database_id": database_id, "rules": rules}),
    ]:
        response = marketing.post(url, json=body)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["detail"] == f"profile database {database_id} does not exist"
    scenario = {"database_id": database_id, "name": "Theirs", "reentry": "once_ever"}
    refused = marketing.post("/scenarios", json=scenario)
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"profile database {database_id} does not exist"
    imported = marketing.post(
        "/scenarios/import", params={"database_id": database_id}, content=WELCOME.read_text()
    )
    assert imported.status_code == 404
    assert imported.json()["detail"] == f"profile database {database_id} does not exist"

    # Nothing changed, and the members and admins see and use it all.
    assert card(sales, database_id, profile_id) == before
    assert app.profiles.count_profiles(database_id) == 1
    for client in (sales, admin):
        assert [d["id"] for d in client.get("/databases").json()] == [database_id]
        assert client.get(f"/databases/{database_id}").json()["profiles"] == 1
        assert client.get(f"/segments/{segment_id}").status_code == 200
        assert client.post("/scenarios", json=scenario).status_code == 201


def test_a_database_without_groups_is_everyones(
    sales: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    assert db.groups == ()
    assert [d["id"] for d in marketing.get("/databases").json()] == [db.id]
    assert marketing.get(f"/databases/{db.id}").json()["groups"] == []
    lead = {"fields": {"email": "lead@example.com"}}
    assert marketing.post(f"/databases/{db.id}/profiles", json=lead).status_code == 200


def test_groups_are_changed_by_members_who_cannot_lock_themselves_out(
    sales: TestClient, marketing: TestClient
) -> None:
    refused = sales.post("/databases", json={"name": "Theirs", "groups": ["marketing"]})
    assert refused.status_code == 422
    assert "lose access to the profile database" in refused.json()["detail"]
    database_id = sales_database(sales)
    assert marketing.get(f"/databases/{database_id}").status_code == 404
    locked_out = sales.patch(f"/databases/{database_id}", json={"groups": ["marketing"]})
    assert locked_out.status_code == 422
    shared = sales.patch(f"/databases/{database_id}", json={"groups": ["sales", "marketing"]})
    assert shared.status_code == 200
    assert shared.json()["groups"] == ["marketing", "sales"]
    assert marketing.get(f"/databases/{database_id}").status_code == 200
