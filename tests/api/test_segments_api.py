"""The segments API: CRUD, static members, dynamic rules, count preview, access,
and sending a segment's members to a scenario, each refusal with a readable reason."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.clock import FakeClock
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.model.scenario import Edge, Node, ReentryMode, Scenario
from scenaria.services.app import App
from tests.api.conftest import ClientFactory
from tests.conftest import import_people, person

RICH = {"type": "field", "field": "loyalty_points", "op": "gte", "value": 20}


@pytest.fixture
def people(app: App, db: ProfileDatabase) -> list[int]:
    """Four profiles with 0, 10, 20 and 30 loyalty points."""
    assert db.id is not None
    rows = [person(i, loyalty_points=(i - 1) * 10) for i in range(1, 5)]
    return import_people(app, db.id, rows).profile_ids


def pause_scenario(app: App, database_id: int, **changes: Any) -> int:
    """A saved scenario: default capture → pause 1 day → exit."""
    scenario = Scenario(
        database_id=database_id,
        name="Pause a day",
        reentry=ReentryMode.NOT_WHILE_ACTIVE,
        nodes=[
            Node(id="default", kind="default_capture"),
            Node(id="wait", kind="pause", settings={"days": 1}),
            Node(id="done", kind="exit"),
        ],
        edges=[Edge(source="default", target="wait"), Edge(source="wait", target="done")],
    ).model_copy(update=changes)
    saved = app.scenarios.save(scenario)
    assert saved.problems == [] and saved.scenario.id is not None
    return saved.scenario.id


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/segments", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def refused(response: Any, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    for phrase in phrases:
        assert phrase in detail, detail


# ------------------------------------------------------------------------ CRUD


def test_create_get_list_update_delete(admin: TestClient, db, people: list[int]) -> None:
    dynamic = create(
        admin,
        database_id=db.id,
        name="Rich",
        kind="dynamic",
        rules={"match": "all", "rules": [{**RICH, "value": "20"}]},
    )
    assert dynamic["rules"]["rules"][0]["value"] == 20  # coerced to the field's type
    assert dynamic["groups"] == [] and dynamic["created_at"].startswith("2026-01-01")
    static = create(admin, database_id=db.id, name="Picked", kind="static")
    assert static["rules"] is None

    assert admin.get(f"/segments/{dynamic['id']}").json() == dynamic
    listed = admin.get("/segments").json()["items"]
    assert [s["id"] for s in listed] == [dynamic["id"], static["id"]]
    only_static = admin.get("/segments", params={"kind": "static"}).json()["items"]
    assert [s["id"] for s in only_static] == [static["id"]]
    assert admin.get("/segments", params={"database_id": db.id + 1}).json()["items"] == []

    renamed = admin.patch(
        f"/segments/{dynamic['id']}",
        json={"name": "Richest", "rules": {"rules": [{**RICH, "value": 30}]}},
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Richest"
    assert admin.get(f"/segments/{dynamic['id']}/count").json() == {"count": 1}

    deleted = admin.delete(f"/segments/{dynamic['id']}")
    assert deleted.json() == {"id": dynamic["id"], "deleted": True}
    refused(admin.get(f"/segments/{dynamic['id']}"), 404, f"segment {dynamic['id']} does not exist")


def test_bad_segments_are_refused_with_a_reason(admin: TestClient, db) -> None:
    refused(
        admin.post("/segments", json={"database_id": db.id, "name": "x", "kind": "dynamic"}),
        422,
        "a dynamic segment needs rules",
    )
    refused(
        admin.post(
            "/segments",
            json={
                "database_id": db.id,
                "name": "x",
                "kind": "static",
                "rules": {"rules": [RICH]},
            },
        ),
        422,
        "a static segment has no rules",
    )
    refused(
        admin.post("/segments", json={"database_id": 999, "name": "x", "kind": "static"}),
        422,
        "profile database 999 does not exist",
    )
    refused(
        admin.post(
            "/segments",
            json={
                "database_id": db.id,
                "name": "x",
                "kind": "dynamic",
                "rules": {
                    "rules": [
                        {"type": "field", "field": "age", "op": "gt", "value": 3},
                        {"type": "field", "field": "first_name", "op": "lt", "value": "b"},
                    ]
                },
            },
        ),
        422,
        "rule 1 (field 'age' gt 3): 'age' is not a field of the profile database",
        "rule 2 (field 'first_name' lt 'b'): 'lt' needs a number or date field",
    )
    refused(
        admin.post(
            "/segments",
            json={
                "database_id": db.id,
                "name": "x",
                "kind": "dynamic",
                "rules": {"rules": [{"type": "weather", "sunny": True}]},
            },
        ),
        422,
        "rules.rules.0",
    )
    refused(
        admin.post("/segments", json={"database_id": db.id, "name": "", "kind": "static"}),
        422,
        "name",
    )
    refused(
        admin.post(
            "/segments",
            content=b'{"database_id": 1, "name": ',
            headers={"Content-Type": "application/json"},
        ),
        422,
        "JSON",
    )
    refused(admin.get("/segments/0"), 422, "segment_id")
    refused(admin.get(f"/segments/{2**64}"), 422, "segment_id")
    refused(admin.patch("/segments/1", json={"kind": "static"}), 422, "kind")


def test_update_refusals(admin: TestClient, db) -> None:
    static = create(admin, database_id=db.id, name="Picked", kind="static")
    refused(
        admin.patch(f"/segments/{static['id']}", json={"rules": {"rules": [RICH]}}),
        422,
        "is static: it has no rules",
    )
    refused(admin.patch("/segments/999", json={"name": "Ghost"}), 404, "segment 999 does not exist")


# --------------------------------------------------------------- static members


def test_fill_and_empty_a_static_segment(admin: TestClient, db, people: list[int]) -> None:
    segment = create(admin, database_id=db.id, name="Picked", kind="static")
    members = f"/segments/{segment['id']}/members"

    added = admin.post(
        members,
        json={"profile_ids": [people[0], 777], "match_keys": ["User2@Example.com", "no@one.org"]},
    )
    assert added.status_code == 200, added.text
    assert added.json() == {
        "changed": 2,
        "unchanged": 0,
        "unknown_profile_ids": [777],
        "unknown_match_keys": ["no@one.org"],
    }
    page = admin.get(members).json()
    assert [m["id"] for m in page["items"]] == people[:2]
    assert page["items"][1]["match_key"] == "user2@example.com"
    assert page["items"][1]["fields"]["loyalty_points"] == 10
    assert page["next_after"] is None

    admin.post(members, json={"profile_ids": people})
    first = admin.get(members, params={"limit": 3}).json()
    assert [m["id"] for m in first["items"]] == people[:3] and first["next_after"] == people[2]
    rest = admin.get(members, params={"limit": 3, "after": first["next_after"]}).json()
    assert [m["id"] for m in rest["items"]] == people[3:] and rest["next_after"] is None

    removed = admin.post(f"{members}/remove", json={"profile_ids": [people[0], people[0]]})
    assert removed.json()["changed"] == 1
    assert admin.get(f"/segments/{segment['id']}/count").json() == {"count": 3}
    assert admin.delete(members).json() == {"removed": 3}
    assert admin.get(f"/segments/{segment['id']}/count").json() == {"count": 0}


def test_member_refusals(admin: TestClient, db) -> None:
    dynamic = create(admin, database_id=db.id, name="Rich", kind="dynamic", rules={"rules": [RICH]})
    members = f"/segments/{dynamic['id']}/members"
    refused(admin.post(members, json={"profile_ids": [1]}), 409, "is dynamic")
    refused(admin.post(f"{members}/remove", json={"profile_ids": [1]}), 409, "is dynamic")
    refused(admin.delete(members), 409, "is dynamic")
    refused(admin.post(members, json={}), 422, "name at least one profile")
    refused(admin.post(members, json={"profile_ids": [0]}), 422, "profile_ids")
    refused(admin.get(members, params={"limit": 0}), 422, "limit")
    refused(admin.post("/segments/999/members", json={"profile_ids": [1]}), 404, "segment 999")


# ------------------------------------------------------------ rules and preview


def test_count_preview_without_saving(admin: TestClient, db, people: list[int]) -> None:
    body = {
        "database_id": db.id,
        "rules": {
            "match": "any",
            "rules": [
                {"type": "field", "field": "loyalty_points", "op": "lt", "value": 5},
                {"type": "group", "rules": [RICH, {"type": "subscription", "channel": "sms"}]},
            ],
        },
    }
    response = admin.post("/segments/preview", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 3}
    assert admin.get("/segments").json()["items"] == []
    refused(
        admin.post("/segments/preview", json={**body, "database_id": 999}),
        422,
        "profile database 999 does not exist",
    )
    refused(
        admin.post(
            "/segments/preview",
            json={
                "database_id": db.id,
                "rules": {"rules": [{"type": "event", "event": "opened", "within_days": 0}]},
            },
        ),
        422,
        "within_days",
    )


def test_a_participation_rule_after_running_a_scenario(
    app: App, admin: TestClient, db, people: list[int], clock: FakeClock
) -> None:
    sid = pause_scenario(app, db.id)
    app.scenarios.activate(sid)
    rich = create(admin, database_id=db.id, name="Rich", kind="dynamic", rules={"rules": [RICH]})

    def inside(how: str) -> int:
        rule = {"type": "scenario", "scenario_id": sid, "participation": how}
        response = admin.post(
            "/segments/preview", json={"database_id": db.id, "rules": {"rules": [rule]}}
        )
        assert response.status_code == 200, response.text
        count: int = response.json()["count"]
        return count

    sent = admin.post(f"/scenarios/{sid}/send-segment", json={"segment_id": rich["id"]})
    assert sent.status_code == 200, sent.text
    assert sent.json() == {
        "segment_id": rich["id"],
        "scenario_id": sid,
        "processed": 2,
        "captured": 2,
        "refused": {"once_ever": 0, "not_while_active": 0},
        "batches": 1,
    }
    app.run_pending()
    assert (inside("ever"), inside("now"), inside("completed"), inside("failed")) == (2, 2, 0, 0)

    again = admin.post(f"/scenarios/{sid}/send-segment", json={"segment_id": rich["id"]})
    assert again.json()["captured"] == 0
    assert again.json()["refused"] == {"once_ever": 0, "not_while_active": 2}

    app.run_until_idle(clock)
    assert (inside("ever"), inside("now"), inside("completed"), inside("failed")) == (2, 0, 2, 0)
    completed = create(
        admin,
        database_id=db.id,
        name="Completed",
        kind="dynamic",
        rules={"rules": [{"type": "scenario", "scenario_id": sid, "participation": "completed"}]},
    )
    page = admin.get(f"/segments/{completed['id']}/members").json()
    assert [m["id"] for m in page["items"]] == people[2:]


# ------------------------------------------------------------ send to a scenario


def test_send_segment_refusals(app: App, admin: TestClient, db, people: list[int]) -> None:
    other = app.profiles.create_database("Other", {"first_name": FieldType.STRING})
    elsewhere = create(admin, database_id=other.id, name="Elsewhere", kind="static")
    here = create(admin, database_id=db.id, name="Here", kind="static")
    sid = pause_scenario(app, db.id)

    refused(
        admin.post(f"/scenarios/{sid}/send-segment", json={"segment_id": elsewhere["id"]}),
        422,
        f"segment {elsewhere['id']} 'Elsewhere' is of profile database {other.id}",
        "they must be the same",
    )
    refused(
        admin.post(f"/scenarios/{sid}/send-segment", json={"segment_id": here["id"]}),
        409,
        "is draft, not active",
    )
    refused(
        admin.post("/scenarios/999/send-segment", json={"segment_id": here["id"]}),
        404,
        "scenario 999 does not exist",
    )
    refused(
        admin.post(f"/scenarios/{sid}/send-segment", json={"segment_id": 999}),
        404,
        "segment 999 does not exist",
    )
    refused(admin.post(f"/scenarios/{sid}/send-segment", json={}), 422, "segment_id")


# ------------------------------------------------------------------- access


def test_groups_hide_segments_and_scenarios(
    app: App, make_client: ClientFactory, db, people: list[int]
) -> None:
    sales = make_client("sam", ["sales"])
    ops = make_client("olga", ["ops"])
    boss = make_client("boss", admin=True)
    theirs = create(ops, database_id=db.id, name="Ops list", kind="static", groups=["ops"])
    mine = create(sales, database_id=db.id, name="Sales list", kind="static", groups=["sales"])
    shared = create(sales, database_id=db.id, name="Everyone", kind="static")

    assert [s["id"] for s in sales.get("/segments").json()["items"]] == [mine["id"], shared["id"]]
    assert len(boss.get("/segments").json()["items"]) == 3
    for request in (
        lambda: sales.get(f"/segments/{theirs['id']}"),
        lambda: sales.get(f"/segments/{theirs['id']}/members"),
        lambda: sales.get(f"/segments/{theirs['id']}/count"),
        lambda: sales.patch(f"/segments/{theirs['id']}", json={"name": "Mine"}),
        lambda: sales.post(f"/segments/{theirs['id']}/members", json={"profile_ids": people}),
        lambda: sales.delete(f"/segments/{theirs['id']}"),
    ):
        refused(request(), 404, f"segment {theirs['id']} does not exist")
    refused(
        sales.post(
            "/segments",
            json={"database_id": db.id, "name": "x", "kind": "static", "groups": ["ops"]},
        ),
        422,
        "the segment would be hidden from you",
    )

    ops_scenario = pause_scenario(app, db.id, groups=["ops"])
    app.scenarios.activate(ops_scenario)
    refused(
        sales.post(f"/scenarios/{ops_scenario}/send-segment", json={"segment_id": shared["id"]}),
        404,
        f"scenario {ops_scenario} does not exist",
    )
    refused(
        ops.post(f"/scenarios/{ops_scenario}/send-segment", json={"segment_id": mine["id"]}),
        404,
        f"segment {mine['id']} does not exist",
    )
    rule = {"type": "scenario", "scenario_id": ops_scenario}
    refused(
        sales.post("/segments/preview", json={"database_id": db.id, "rules": {"rules": [rule]}}),
        422,
        f"scenario {ops_scenario} does not exist",
    )
    sent = ops.post(f"/scenarios/{ops_scenario}/send-segment", json={"segment_id": theirs["id"]})
    assert sent.status_code == 200 and sent.json()["processed"] == 0


def test_segments_need_a_token(api: TestClient) -> None:
    refused(api.get("/segments"), 401, "token")
    refused(api.post("/segments/preview", json={}), 401, "token")
    refused(api.post("/scenarios/1/send-segment", json={"segment_id": 1}), 401, "token")


def test_openapi_documents_every_segment_route(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert set(paths["/segments"]) == {"get", "post"}
    assert set(paths["/segments/{segment_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/segments/{segment_id}/members"]) == {"get", "post", "delete"}
    assert "post" in paths["/segments/{segment_id}/members/remove"]
    assert "get" in paths["/segments/{segment_id}/count"]
    assert "post" in paths["/segments/preview"]
    assert "post" in paths["/scenarios/{scenario_id}/send-segment"]
