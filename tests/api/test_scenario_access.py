"""Access: a scenario assigned to groups exists only for their members; admins see all;
everything needs a token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from scenaria.model.profiles import ProfileDatabase
from scenaria.services.app import App
from tests.api.conftest import ClientFactory
from tests.api.test_scenarios_api import active, create, detail, engage, profiles, spec


@pytest.fixture
def sales(make_client: ClientFactory) -> TestClient:
    return make_client("sam", ["sales"])


@pytest.fixture
def marketing(make_client: ClientFactory) -> TestClient:
    return make_client("mia", ["marketing"])


def every_call(sid: int, task_id: int, pid: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Each scenario endpoint once, as (method, url, JSON body)."""
    base = f"/scenarios/{sid}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"name": "Mine now"}),
        ("POST", f"{base}/activate", None),
        ("POST", f"{base}/stop", {"keep_profiles": True}),
        ("POST", f"{base}/clone", None),
        ("POST", f"{base}/trash", None),
        ("POST", f"{base}/restore", None),
        ("POST", f"{base}/engage", {"profile_id": pid}),
        ("POST", f"{base}/profiles", {"profile_id": pid}),
        ("POST", f"{base}/clear", None),
        ("GET", f"{base}/file", None),
        ("GET", f"{base}/audit", None),
        ("GET", f"{base}/stats", None),
        ("GET", f"{base}/stats/realtime", None),
        ("GET", f"{base}/nodes/wait/tasks", None),
        ("DELETE", f"{base}/nodes/wait/tasks", None),
        ("GET", f"{base}/tasks/{task_id}/api-content", None),
        ("DELETE", f"{base}/tasks/{task_id}", None),
    ]


def test_another_groups_user_can_neither_see_nor_change_the_scenario(
    app: App, sales: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    sid = active(sales, db.id, groups=["sales"])
    pid = profiles(app, db.id, 1)[0]
    task_id = engage(sales, sid, pid, api_content={"a": 1})["task_id"]
    before = sales.get(f"/scenarios/{sid}").json()

    assert marketing.get("/scenarios").json() == []
    for method, url, body in every_call(sid, task_id, pid):
        response = marketing.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
        # Indistinguishable from a scenario that does not exist.
        assert response.json()["detail"] in (
            f"scenario {sid} does not exist",
            f"task {task_id} is not in scenario {sid}",
        )

    after = sales.get(f"/scenarios/{sid}").json()
    assert after == before
    assert sales.get(f"/scenarios/{sid}/stats/realtime").json()["inside"] == 1
    assert [e["user_name"] for e in sales.get(f"/scenarios/{sid}/audit").json()] == ["sam"] * 2


def test_members_and_admins_see_and_change_it(
    app: App, make_client: ClientFactory, sales: TestClient, admin: TestClient, db: ProfileDatabase
) -> None:
    sid = create(sales, db.id, groups=["sales", "vip"])["id"]
    colleague = make_client("sue", ["vip"])
    assert colleague.patch(f"/scenarios/{sid}", json={"name": "By Sue"}).status_code == 200
    assert admin.get(f"/scenarios/{sid}").json()["name"] == "By Sue"
    assert admin.post(f"/scenarios/{sid}/activate").status_code == 200
    assert [s["id"] for s in admin.get("/scenarios").json()] == [sid]
    assert [s["id"] for s in colleague.get("/scenarios").json()] == [sid]


def test_a_scenario_without_groups_is_everyones(
    sales: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    sid = create(sales, db.id)["id"]
    assert marketing.get(f"/scenarios/{sid}").status_code == 200
    assert [s["id"] for s in marketing.get("/scenarios").json()] == [sid]


def test_the_list_holds_only_what_the_user_may_see(
    sales: TestClient, marketing: TestClient, admin: TestClient, db: ProfileDatabase
) -> None:
    mine = create(sales, db.id, name="Sales", groups=["sales"])["id"]
    theirs = create(marketing, db.id, name="Marketing", groups=["marketing"])["id"]
    shared = create(admin, db.id, name="Shared")["id"]
    assert {s["id"] for s in sales.get("/scenarios").json()} == {mine, shared}
    assert {s["id"] for s in marketing.get("/scenarios").json()} == {theirs, shared}
    assert {s["id"] for s in admin.get("/scenarios").json()} == {mine, theirs, shared}


def test_a_user_cannot_lock_themselves_out(sales: TestClient, db: ProfileDatabase) -> None:
    reason = detail(sales.post("/scenarios", json=spec(db.id, groups=["marketing"])), 422)
    assert "lose access" in reason and "sales" in reason
    sid = create(sales, db.id, groups=["sales"])["id"]
    assert "lose access" in detail(
        sales.patch(f"/scenarios/{sid}", json={"groups": ["marketing"]}), 422
    )
    assert (
        sales.patch(f"/scenarios/{sid}", json={"groups": ["sales", "marketing"]}).status_code == 200
    )


def test_clone_of_a_visible_scenario_keeps_its_groups(
    sales: TestClient, marketing: TestClient, db: ProfileDatabase
) -> None:
    sid = create(sales, db.id, groups=["sales"])["id"]
    copy = sales.post(f"/scenarios/{sid}/clone").json()
    assert copy["groups"] == ["sales"]
    assert marketing.get(f"/scenarios/{copy['id']}").status_code == 404


def test_every_endpoint_needs_a_token(api: TestClient) -> None:
    calls = [
        ("GET", "/scenarios"),
        ("POST", "/scenarios"),
        ("POST", "/scenarios/validate"),
        ("GET", "/scenarios/1"),
        ("PATCH", "/scenarios/1"),
        ("POST", "/scenarios/1/activate"),
        ("POST", "/scenarios/1/stop"),
        ("POST", "/scenarios/1/trash"),
        ("POST", "/scenarios/1/engage"),
        ("POST", "/scenarios/1/clear"),
        ("POST", "/scenarios/import?database_id=1"),
        ("GET", "/scenarios/1/file"),
        ("GET", "/scenarios/1/audit"),
        ("GET", "/scenarios/1/stats"),
        ("GET", "/scenarios/1/stats/realtime"),
        ("GET", "/scenarios/1/nodes/wait/tasks"),
        ("DELETE", "/scenarios/1/nodes/wait/tasks"),
        ("DELETE", "/scenarios/1/tasks/1"),
        ("GET", "/scenarios/1/tasks/1/api-content"),
        ("GET", "/node-kinds"),
        ("GET", "/scenario-attributes"),
        ("PUT", "/scenario-attributes/brand"),
    ]
    for method, url in calls:
        response = api.request(method, url, json={})
        assert response.status_code == 401, (method, url)
        assert "token" in response.json()["detail"]
