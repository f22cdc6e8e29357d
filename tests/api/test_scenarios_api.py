"""Scenario management through the HTTP API: every operation, and each refusal with a
4xx and a readable reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from scenaria.clock import DAY, FakeClock
from scenaria.model.profiles import FieldType, ProfileDatabase
from scenaria.services.app import App
from tests.api.conftest import ClientFactory
from tests.conftest import WELCOME, import_people, person

PAUSE_GRAPH: dict[str, Any] = {
    "nodes": [
        {"id": "default", "kind": "default_capture"},
        {"id": "wait", "kind": "pause", "name": "Wait a day", "settings": {"days": 1}},
        {"id": "done", "kind": "exit"},
    ],
    "edges": [
        {"source": "default", "target": "wait"},
        {"source": "wait", "target": "done"},
    ],
}


def spec(database_id: int, name: str = "Welcome", **extra: Any) -> dict[str, Any]:
    return {
        "database_id": database_id,
        "name": name,
        "reentry": "not_while_active",
        **PAUSE_GRAPH,
        **extra,
    }


def create(client: TestClient, database_id: int, **extra: Any) -> dict[str, Any]:
    response = client.post("/scenarios", json=spec(database_id, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def active(client: TestClient, database_id: int, **extra: Any) -> int:
    scenario_id: int = create(client, database_id, **extra)["id"]
    response = client.post(f"/scenarios/{scenario_id}/activate")
    assert response.status_code == 200, response.text
    return scenario_id


def profiles(app: App, database_id: int, count: int, start: int = 1) -> list[int]:
    people = [person(i) for i in range(start, start + count)]
    return import_people(app, database_id, people).profile_ids


def engage(client: TestClient, scenario_id: int, profile_id: int, **extra: Any) -> dict[str, Any]:
    response = client.post(
        f"/scenarios/{scenario_id}/engage", json={"profile_id": profile_id, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    text: str = response.json()["detail"]
    assert isinstance(text, str) and text
    return text


# -- create, read, list ---------------------------------------------------------------------


def test_create_then_get(admin: TestClient, db: ProfileDatabase) -> None:
    created = create(admin, db.id, description="Greets", tags=["onboarding"])
    assert created["status"] == "draft" and created["version"] == 1
    assert created["problems"] == []
    got = admin.get(f"/scenarios/{created['id']}").json()
    assert got["name"] == "Welcome" and got["tags"] == ["onboarding"]
    assert got["reentry"] == "not_while_active"
    assert [n["id"] for n in got["nodes"]] == ["default", "wait", "done"]


def test_create_without_graph_gets_the_default_capture(
    admin: TestClient, db: ProfileDatabase
) -> None:
    response = admin.post(
        "/scenarios", json={"database_id": db.id, "name": "Empty", "reentry": "parallel"}
    )
    assert response.status_code == 201
    body = response.json()
    assert [n["kind"] for n in body["nodes"]] == ["default_capture"]
    # Saved, but with a problem naming why it cannot be activated yet.
    assert [p["code"] for p in body["problems"]] == ["no_start"]


def test_create_needs_a_database_and_a_reentry_mode(admin: TestClient, db: ProfileDatabase) -> None:
    reason = detail(admin.post("/scenarios", json={"database_id": db.id, "name": "X"}), 422)
    assert "reentry" in reason
    reason = detail(admin.post("/scenarios", json={**spec(db.id), "reentry": "sometimes"}), 422)
    assert "reentry" in reason
    assert "does not exist" in detail(admin.post("/scenarios", json=spec(9999)), 404)


def test_list_shows_status_inside_and_tags_and_filters(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    running = active(admin, db.id, name="Running", tags=["welcome"])
    draft = create(admin, db.id, name="Draft", tags=["promo"])["id"]
    for pid in profiles(app, db.id, 3):
        engage(admin, running, pid)

    listed = {s["id"]: s for s in admin.get("/scenarios").json()}
    assert listed[running]["status"] == "active" and listed[running]["inside"] == 3
    assert listed[draft]["status"] == "draft" and listed[draft]["inside"] == 0
    assert listed[running]["tags"] == ["welcome"]

    assert [s["id"] for s in admin.get("/scenarios", params={"tag": "promo"}).json()] == [draft]
    by_status = admin.get("/scenarios", params={"status": "active"}).json()
    assert [s["id"] for s in by_status] == [running]
    assert "status" in detail(admin.get("/scenarios", params={"status": "paused"}), 422)


def test_unknown_scenario_is_404(admin: TestClient) -> None:
    assert "does not exist" in detail(admin.get("/scenarios/424242"), 404)
    detail(admin.get("/scenarios/0"), 422)
    detail(admin.get(f"/scenarios/{2**70}"), 422)


def test_malformed_json_body_is_a_readable_422(admin: TestClient) -> None:
    response = admin.post(
        "/scenarios", content=b'{"name": "x", ', headers={"Content-Type": "application/json"}
    )
    assert "JSON" in detail(response, 422)


def test_unknown_fields_in_a_body_are_refused(admin: TestClient, db: ProfileDatabase) -> None:
    reason = detail(admin.post("/scenarios", json={**spec(db.id), "colour": "red"}), 422)
    assert "colour" in reason


# -- update ---------------------------------------------------------------------------------


def test_update_changes_only_what_is_given(admin: TestClient, db: ProfileDatabase) -> None:
    sid = create(admin, db.id)["id"]
    response = admin.patch(
        f"/scenarios/{sid}",
        json={"name": "Renamed", "description": "New", "tags": ["a", "b"], "reentry": "restart"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["description"], body["tags"], body["reentry"]) == (
        "Renamed",
        "New",
        ["a", "b"],
        "restart",
    )
    assert body["version"] == 2 and len(body["nodes"]) == 3


def test_update_the_graph(admin: TestClient, db: ProfileDatabase) -> None:
    sid = create(admin, db.id)["id"]
    nodes = [*PAUSE_GRAPH["nodes"], {"id": "wait2", "kind": "pause", "settings": {"hours": 2}}]
    edges = [
        {"source": "default", "target": "wait"},
        {"source": "wait", "target": "wait2"},
        {"source": "wait2", "target": "done"},
    ]
    body = admin.patch(f"/scenarios/{sid}", json={"nodes": nodes, "edges": edges}).json()
    assert [n["id"] for n in body["nodes"]] == ["default", "wait", "done", "wait2"]
    assert body["problems"] == []


def test_update_the_database(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    other = app.profiles.create_database("Other")
    sid = create(admin, db.id)["id"]
    body = admin.patch(f"/scenarios/{sid}", json={"database_id": other.id}).json()
    assert body["database_id"] == other.id


def test_database_change_refused_while_active(
    admin: TestClient, app: App, db: ProfileDatabase
) -> None:
    other = app.profiles.create_database("Other")
    sid = active(admin, db.id)
    reason = detail(admin.patch(f"/scenarios/{sid}", json={"database_id": other.id}), 409)
    assert "stop the scenario" in reason


def test_invalid_graph_names_its_nodes(admin: TestClient, db: ProfileDatabase) -> None:
    graph = {
        "nodes": [
            {"id": "default", "kind": "default_capture"},
            {"id": "signup", "kind": "trigger_form_import"},
            {"id": "wait", "kind": "pause", "settings": {"days": 0}},
        ],
        "edges": [{"source": "default", "target": "wait"}],
    }
    response = admin.post("/scenarios", json={**spec(db.id), **graph})
    reason = detail(response, 422)
    assert "signup" in reason and "not connected" in reason
    problems = response.json()["problems"]
    assert [(p["node_id"], p["code"], p["blocks_save"]) for p in problems] == [
        ("signup", "start_not_connected", True)
    ]


def test_saved_with_problems_lists_them_and_activation_refuses(
    admin: TestClient, db: ProfileDatabase
) -> None:
    graph = {
        "nodes": [
            {"id": "default", "kind": "default_capture"},
            {"id": "wait", "kind": "pause", "settings": {"days": 0}},
        ],
        "edges": [{"source": "default", "target": "wait"}],
    }
    created = create(admin, db.id, **graph)
    assert [(p["node_id"], p["code"]) for p in created["problems"]] == [("wait", "bad_settings")]
    assert "longer than zero" in created["problems"][0]["message"]
    assert admin.get(f"/scenarios/{created['id']}").json()["problems"] == created["problems"]

    response = admin.post(f"/scenarios/{created['id']}/activate")
    assert "node 'wait'" in detail(response, 422)
    assert response.json()["problems"][0]["node_id"] == "wait"


def test_more_than_ten_triggers_are_refused(admin: TestClient, db: ProfileDatabase) -> None:
    triggers = [{"id": f"t{i}", "kind": "trigger_api_import"} for i in range(1, 12)]
    graph = {
        "nodes": [*PAUSE_GRAPH["nodes"], *triggers],
        "edges": [
            *PAUSE_GRAPH["edges"],
            *({"source": f"t{i}", "target": "wait"} for i in range(1, 12)),
        ],
    }
    response = admin.post("/scenarios", json={**spec(db.id), **graph})
    assert "at most 10 triggers" in detail(response, 422)
    assert [p["node_id"] for p in response.json()["problems"]] == ["t11"]
    ten = {"nodes": graph["nodes"][:-1], "edges": graph["edges"][:-1]}
    assert admin.post("/scenarios", json={**spec(db.id), **ten}).status_code == 201


def test_validate_without_saving(admin: TestClient, db: ProfileDatabase) -> None:
    body = admin.post("/scenarios/validate", json=spec(db.id)).json()
    assert body == {"valid": True, "problems": []}
    broken = {**spec(db.id), "edges": [{"source": "default", "target": "nowhere"}]}
    body = admin.post("/scenarios/validate", json=broken).json()
    assert body["valid"] is False
    assert ("default", "unknown_node") in [(p["node_id"], p["code"]) for p in body["problems"]]
    assert admin.get("/scenarios").json() == []


def test_an_active_scenario_must_stay_valid(admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    broken = [*PAUSE_GRAPH["nodes"][:1], {"id": "wait", "kind": "pause"}, PAUSE_GRAPH["nodes"][2]]
    reason = detail(admin.patch(f"/scenarios/{sid}", json={"nodes": broken}), 422)
    assert "must stay valid" in reason


def test_unstorable_values_are_refused(admin: TestClient, db: ProfileDatabase) -> None:
    nodes = [*PAUSE_GRAPH["nodes"][:2], {"id": "done", "kind": "exit", "settings": {"n": 2**70}}]
    reason = detail(admin.post("/scenarios", json={**spec(db.id), "nodes": nodes}), 422)
    assert "cannot be stored" in reason


# -- attributes -----------------------------------------------------------------------------


def test_required_attributes(admin: TestClient, db: ProfileDatabase) -> None:
    sid = create(admin, db.id)["id"]
    response = admin.put(
        "/scenario-attributes/brand", json={"required": True, "choices": ["acme", "zeta"]}
    )
    assert response.status_code == 200, response.text
    assert admin.get("/scenario-attributes").json() == [
        {"name": "brand", "required": True, "choices": ["acme", "zeta"]}
    ]

    response = admin.post("/scenarios", json=spec(db.id))
    reason = detail(response, 422)
    assert "attribute 'brand' is required" in reason and "acme, zeta" in reason
    assert response.json()["problems"][0]["code"] == "missing_attribute"
    # An existing scenario cannot be saved nor activated until it is set.
    assert "brand" in detail(admin.patch(f"/scenarios/{sid}", json={"name": "Y"}), 422)
    assert "brand" in detail(admin.post(f"/scenarios/{sid}/activate"), 422)
    assert "brand" in detail(
        admin.patch(f"/scenarios/{sid}", json={"attributes": {"brand": "other"}}), 422
    )
    assert "not defined" in detail(
        admin.patch(f"/scenarios/{sid}", json={"attributes": {"brand": "acme", "x": "1"}}), 422
    )

    body = admin.patch(f"/scenarios/{sid}", json={"attributes": {"brand": "acme"}}).json()
    assert body["attributes"] == {"brand": "acme"} and body["problems"] == []
    assert admin.post(f"/scenarios/{sid}/activate").status_code == 200
    created = create(admin, db.id, attributes={"brand": "zeta"})
    assert created["attributes"] == {"brand": "zeta"}


def test_only_admins_define_attributes(make_client: ClientFactory) -> None:
    user = make_client("ana", ["sales"])
    response = user.put("/scenario-attributes/brand", json={"required": True})
    assert "admin" in detail(response, 403)
    assert user.get("/scenario-attributes").json() == []


def test_attribute_definitions_are_checked(admin: TestClient) -> None:
    detail(admin.put("/scenario-attributes/Bad-Name", json={}), 422)
    detail(admin.put("/scenario-attributes/brand", json={"choices": []}), 422)
    assert "once" in detail(
        admin.put("/scenario-attributes/brand", json={"choices": ["a", "a"]}), 422
    )


# -- activate, stop, clone, trash -----------------------------------------------------------


def test_activate_and_stop_ending_the_tasks(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    sid = active(admin, db.id)
    assert admin.get(f"/scenarios/{sid}").json()["status"] == "active"
    for pid in profiles(app, db.id, 2):
        engage(admin, sid, pid)
    response = admin.post(f"/scenarios/{sid}/stop")
    assert response.json() == {"id": sid, "status": "inactive", "keep_profiles": False, "tasks": 2}
    assert admin.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 0
    assert "not active" in detail(admin.post(f"/scenarios/{sid}/stop"), 409)


def test_stop_keeping_profiles_freezes_them_until_reactivation(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id)
    for pid in profiles(app, db.id, 2):
        engage(admin, sid, pid)
    app.run_pending()
    response = admin.post(f"/scenarios/{sid}/stop", json={"keep_profiles": True})
    assert response.json()["tasks"] == 2 and response.json()["keep_profiles"] is True
    clock.advance(2 * DAY)
    app.run_pending()
    page = admin.get(f"/scenarios/{sid}/nodes/wait/tasks").json()
    assert [t["state"] for t in page["tasks"]] == ["frozen", "frozen"]

    assert admin.post(f"/scenarios/{sid}/activate").json() == {
        "id": sid,
        "status": "active",
        "woken": 2,
    }
    app.run_pending()
    assert admin.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 0


def test_activating_an_active_scenario_is_harmless(admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    assert admin.post(f"/scenarios/{sid}/activate").json()["woken"] == 0


def test_clone(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id, tags=["t"], description="d")
    engage(admin, sid, profiles(app, db.id, 1)[0])
    response = admin.post(f"/scenarios/{sid}/clone")
    assert response.status_code == 201
    copy = response.json()
    assert copy["id"] != sid and copy["name"] == "Welcome (copy)"
    assert copy["status"] == "draft" and copy["tags"] == ["t"] and copy["description"] == "d"
    assert copy["nodes"] == admin.get(f"/scenarios/{sid}").json()["nodes"]
    assert admin.get(f"/scenarios/{copy['id']}/stats/realtime").json()["inside"] == 0
    named = admin.post(f"/scenarios/{sid}/clone", json={"name": "Second"}).json()
    assert named["name"] == "Second"
    assert admin.get(f"/scenarios/{copy['id']}/audit").json()[0]["details"]["source"] == sid


def test_trash_refused_while_active_then_trash_and_restore(
    admin: TestClient, db: ProfileDatabase
) -> None:
    sid = active(admin, db.id)
    reason = detail(admin.post(f"/scenarios/{sid}/trash"), 409)
    assert "active scenario cannot go to the trash" in reason

    admin.post(f"/scenarios/{sid}/stop")
    assert admin.post(f"/scenarios/{sid}/trash").json()["status"] == "trashed"
    assert sid not in [s["id"] for s in admin.get("/scenarios").json()]
    trash = admin.get("/scenarios", params={"status": "trashed"}).json()
    assert [s["id"] for s in trash] == [sid]
    assert "already in the trash" in detail(admin.post(f"/scenarios/{sid}/trash"), 409)
    assert "restore it" in detail(admin.post(f"/scenarios/{sid}/activate"), 409)
    assert "restore it" in detail(admin.patch(f"/scenarios/{sid}", json={"name": "Z"}), 409)

    assert admin.post(f"/scenarios/{sid}/restore").json()["status"] == "inactive"
    assert "not in the trash" in detail(admin.post(f"/scenarios/{sid}/restore"), 409)
    assert admin.post(f"/scenarios/{sid}/activate").status_code == 200


# -- engagement -----------------------------------------------------------------------------


def test_engage_captures_with_api_content(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    pid = profiles(app, db.id, 1)[0]
    body = engage(admin, sid, pid, api_content={"order": {"id": 7}})
    assert body["captured"] is True and body["task_id"]
    assert body["refused_by"] is None and body["reason"] is None
    content = admin.get(f"/scenarios/{sid}/tasks/{body['task_id']}/api-content").json()
    assert content == {"order": {"id": 7}}


@pytest.mark.parametrize(
    ("mode", "finish_first", "refused_by", "words"),
    [
        ("once_ever", False, "once_ever", "already been in this scenario"),
        ("once_ever", True, "once_ever", "already been in this scenario"),
        ("not_while_active", False, "not_while_active", "in the scenario now"),
    ],
)
def test_engage_refused_by_each_reentry_rule(
    app: App,
    admin: TestClient,
    db: ProfileDatabase,
    clock: FakeClock,
    mode: str,
    finish_first: bool,
    refused_by: str,
    words: str,
) -> None:
    sid = active(admin, db.id, reentry=mode)
    pid = profiles(app, db.id, 1)[0]
    assert engage(admin, sid, pid)["captured"] is True
    if finish_first:
        app.run_until_idle(clock)
    again = engage(admin, sid, pid)
    assert again["captured"] is False and again["task_id"] is None
    assert again["refused_by"] == refused_by and words in again["reason"]


def test_not_while_active_admits_a_profile_again_once_it_left(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id, reentry="not_while_active")
    pid = profiles(app, db.id, 1)[0]
    engage(admin, sid, pid)
    app.run_until_idle(clock)
    assert engage(admin, sid, pid)["captured"] is True


def test_restart_replaces_the_running_task(
    app: App, admin: TestClient, db: ProfileDatabase
) -> None:
    sid = active(admin, db.id, reentry="restart")
    pid = profiles(app, db.id, 1)[0]
    first = engage(admin, sid, pid, api_content={"n": 1})["task_id"]
    second = engage(admin, sid, pid)["task_id"]
    assert second != first
    assert admin.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 1
    # The discarded task lost its data with it.
    detail(admin.get(f"/scenarios/{sid}/tasks/{first}/api-content"), 404)


def test_parallel_processes_each_entry(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id, reentry="parallel")
    pid = profiles(app, db.id, 1)[0]
    assert engage(admin, sid, pid)["captured"] and engage(admin, sid, pid)["captured"]
    assert admin.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 2


def test_engage_refusals(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    draft = create(admin, db.id)["id"]
    pid = profiles(app, db.id, 1)[0]
    reason = detail(admin.post(f"/scenarios/{draft}/engage", json={"profile_id": pid}), 409)
    assert "not active" in reason

    sid = active(admin, db.id)
    assert "does not exist" in detail(
        admin.post(f"/scenarios/{sid}/engage", json={"profile_id": 999_999}), 404
    )
    other = app.profiles.create_database("Other", {"first_name": FieldType.STRING})
    stranger = profiles(app, other.id, 1, start=50)[0]
    assert "another database" in detail(
        admin.post(f"/scenarios/{sid}/engage", json={"profile_id": stranger}), 422
    )
    detail(admin.post(f"/scenarios/{sid}/engage", json={"profile_id": "x"}), 422)
    detail(
        admin.post(f"/scenarios/{sid}/engage", json={"profile_id": pid, "api_content": [1]}), 422
    )
    huge = {"blob": "x" * 70_000}
    assert "bytes" in detail(
        admin.post(f"/scenarios/{sid}/engage", json={"profile_id": pid, "api_content": huge}), 422
    )


def test_add_a_profile_manually(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    pid = profiles(app, db.id, 1)[0]
    response = admin.post(f"/scenarios/{sid}/profiles", json={"profile_id": pid})
    assert response.status_code == 200 and response.json()["captured"] is True
    again = admin.post(f"/scenarios/{sid}/profiles", json={"profile_id": pid}).json()
    assert again["refused_by"] == "not_while_active"
    actions = [e["action"] for e in admin.get(f"/scenarios/{sid}/audit").json()]
    assert actions[:2] == ["add_profile", "add_profile"]


def test_clear_all_profiles(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    for pid in profiles(app, db.id, 3):
        engage(admin, sid, pid)
    assert admin.post(f"/scenarios/{sid}/clear").json() == {"removed": 3}
    assert admin.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 0
    assert admin.post(f"/scenarios/{sid}/clear").json() == {"removed": 0}


# -- files, catalogue, journal --------------------------------------------------------------


def test_export_and_import_round_trip(admin: TestClient, db: ProfileDatabase) -> None:
    admin.put("/scenario-attributes/brand", json={})
    sid = create(admin, db.id, tags=["x"], attributes={"brand": "acme"})["id"]
    exported = admin.get(f"/scenarios/{sid}/file")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/yaml")
    assert "attachment" in exported.headers["content-disposition"]
    document = yaml.safe_load(exported.text)
    assert document["name"] == "Welcome" and document["attributes"] == {"brand": "acme"}

    response = admin.post(
        "/scenarios/import",
        params={"database_id": db.id},
        content=exported.text,
        headers={"Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text
    imported = response.json()
    assert imported["id"] != sid and imported["attributes"] == {"brand": "acme"}
    assert imported["nodes"] == admin.get(f"/scenarios/{sid}").json()["nodes"]

    as_json = admin.get(f"/scenarios/{sid}/file", params={"format": "json"})
    assert as_json.headers["content-type"].startswith("application/json")
    again = admin.post(
        "/scenarios/import",
        params={"database_id": db.id},
        content=as_json.text,
        headers={"Content-Type": "application/json"},
    )
    assert again.status_code == 201
    detail(admin.get(f"/scenarios/{sid}/file", params={"format": "xml"}), 422)


def test_import_the_welcome_example(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    app.profiles.add_promo_codes("welcome", ["W1"])
    response = admin.post(
        "/scenarios/import", params={"database_id": db.id}, content=WELCOME.read_bytes()
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Welcome" and response.json()["reentry"] == "once_ever"


def test_import_refuses_bad_files(admin: TestClient, db: ProfileDatabase) -> None:
    bad = [
        (b"name: [unclosed", "not valid YAML/JSON"),
        (b'{"name": ', "not valid YAML/JSON"),
        (b"- just\n- a list\n", "mapping"),
        (b"name: X\ncolour: red\n", "unknown key"),
        (b"name: X\nattributes: [1]\n", "attributes"),
        (b"name: X\nnodes: 3\n", "nodes"),
        (b"\xff\xfe", "UTF-8"),
        (b"", "mapping"),
    ]
    for content, words in bad:
        response = admin.post("/scenarios/import", params={"database_id": db.id}, content=content)
        assert words in detail(response, 422), content
    assert admin.get("/scenarios").json() == []


def test_import_needs_an_existing_database(admin: TestClient) -> None:
    response = admin.post("/scenarios/import", params={"database_id": 77}, content=b"name: X\n")
    assert "database" in detail(response, 404)
    detail(admin.post("/scenarios/import", content=b"name: X\n"), 422)


def test_node_kind_catalogue(admin: TestClient) -> None:
    kinds = {k["kind"]: k for k in admin.get("/node-kinds").json()}
    assert {"default_capture", "pause", "condition", "email", "exit"} <= set(kinds)
    assert kinds["condition"]["branches"] == ["yes", "no"]
    assert kinds["pause"]["waits"] is True and kinds["pause"]["group"] == "operator"
    assert "days" in kinds["pause"]["settings_schema"]["properties"]


def test_the_audit_journal_records_who_did_what(
    app: App, make_client: ClientFactory, db: ProfileDatabase
) -> None:
    ana = make_client("ana", ["sales"])
    sid = create(ana, db.id, groups=["sales"])["id"]
    ana.patch(f"/scenarios/{sid}", json={"name": "Renamed"})
    ana.post(f"/scenarios/{sid}/activate")
    ana.post(f"/scenarios/{sid}/clear")
    ana.post(f"/scenarios/{sid}/stop", json={"keep_profiles": True})
    ana.post(f"/scenarios/{sid}/trash")
    ana.post(f"/scenarios/{sid}/restore")
    journal = ana.get(f"/scenarios/{sid}/audit").json()
    assert [e["action"] for e in journal] == [
        "restore",
        "trash",
        "stop",
        "clear_all",
        "activate",
        "update",
        "create",
    ]
    assert {e["user_name"] for e in journal} == {"ana"}
    assert journal[2]["details"] == {"keep_profiles": True, "tasks": 0}
    assert journal[5]["details"]["changed"] == ["name"]
    assert len(ana.get(f"/scenarios/{sid}/audit", params={"limit": 2}).json()) == 2
    assert json.loads(json.dumps(journal))[0]["at"].startswith("2026-01-01")


def test_import_refuses_a_yaml_alias_bomb(admin: TestClient, db: ProfileDatabase) -> None:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    bomb = "name: Bomb\ndescription: x\n" + "\n".join(lines) + "\n"
    response = admin.post("/scenarios/import", params={"database_id": db.id}, content=bomb.encode())
    assert "aliases (*name) are not allowed" in detail(response, 422)
    assert admin.get("/scenarios").json() == []


def test_import_refuses_an_over_large_file(admin: TestClient, db: ProfileDatabase) -> None:
    big = b"name: X\ndescription: " + b"x" * (1024 * 1024) + b"\n"
    response = admin.post("/scenarios/import", params={"database_id": db.id}, content=big)
    assert "at most 1048576 bytes" in detail(response, 422)


TEMPLATE_BOMBS = [
    "{{ (9 ** (9 ** 9)) % 7 }}",
    "{{ 'x' * 300000000 }}",
]


def email_graph(subject: str) -> dict[str, Any]:
    return {
        "nodes": [
            {"id": "default", "kind": "default_capture"},
            {"id": "mail", "kind": "email", "settings": {"subject": subject, "text": "Hi"}},
        ],
        "edges": [{"source": "default", "target": "mail"}],
    }


@pytest.mark.parametrize("subject", TEMPLATE_BOMBS)
def test_a_template_bomb_is_refused_with_the_node_named(
    admin: TestClient, db: ProfileDatabase, subject: str
) -> None:
    created = create(admin, db.id, **email_graph(subject))
    assert [(p["node_id"], p["code"]) for p in created["problems"]] == [("mail", "template_limit")]
    assert created["problems"][0]["message"].startswith("subject: template refused: line 1:")
    response = admin.post(f"/scenarios/{created['id']}/activate")
    assert "node 'mail'" in detail(response, 422)

    checked = admin.post("/scenarios/validate", json=spec(db.id, **email_graph(subject)))
    assert checked.status_code == 200
    assert [p["code"] for p in checked.json()["problems"]] == ["template_limit"]
