"""Statistics through the HTTP API: period and real-time counts, tasks waiting in a node,
their API content, and taking tasks out."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from scenaria.clock import DAY, FakeClock
from scenaria.model.profiles import ProfileDatabase
from scenaria.services.app import App
from tests.api.test_scenarios_api import active, detail, engage, profiles

HOUR = 3600.0
START = datetime(2026, 1, 1, tzinfo=UTC)


def nodes(body: dict[str, object], key: str) -> dict[str, object]:
    items = body["nodes"]
    assert isinstance(items, list)
    return {n["id"]: n[key] for n in items}


def test_period_stats_default_to_the_last_seven_days(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id)
    for pid in profiles(app, db.id, 3):
        engage(admin, sid, pid)
    app.run_until_idle(clock)  # a day in the pause, then the exit
    body = admin.get(f"/scenarios/{sid}/stats").json()
    assert (body["date_from"], body["date_to"]) == ("2025-12-27", "2026-01-02")
    assert (body["entered"], body["completed"], body["errors"]) == (3, 3, 0)
    assert nodes(body, "entered") == {"default": 3, "wait": 3, "done": 3}
    assert nodes(body, "exited") == {"default": 3, "wait": 3, "done": 3}

    clock.advance(10 * DAY)
    later = admin.get(f"/scenarios/{sid}/stats").json()
    assert (later["entered"], later["completed"]) == (0, 0)


def test_period_stats_for_chosen_dates(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id)
    engage(admin, sid, profiles(app, db.id, 1)[0])
    app.run_pending()
    clock.advance(3 * DAY)
    engage(admin, sid, profiles(app, db.id, 1, start=2)[0])
    app.run_pending()

    def entered(**params: str) -> int:
        response = admin.get(f"/scenarios/{sid}/stats", params=params)
        assert response.status_code == 200, response.text
        value: int = response.json()["entered"]
        return value

    assert entered(date_from="2026-01-01", date_to="2026-01-01") == 1
    assert entered(date_from="2026-01-02", date_to="2026-01-04") == 1
    assert entered(date_from="2026-01-01", date_to="2026-01-04") == 2
    assert entered(date_from="2026-01-01") == 2  # a week from that day
    assert entered(date_to="2025-12-31") == 0


def test_period_stats_refuse_bad_ranges(admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    url = f"/scenarios/{sid}/stats"
    reason = detail(
        admin.get(url, params={"date_from": "2026-02-01", "date_to": "2026-01-01"}), 422
    )
    assert "after" in reason
    assert "date_from" in detail(admin.get(url, params={"date_from": "yesterday"}), 422)
    assert "YYYY-MM-DD" in detail(admin.get(url, params={"date_to": "0"}), 422)
    long = admin.get(url, params={"date_from": "1900-01-01", "date_to": "2100-01-01"})
    assert long.status_code == 200 and long.json()["entered"] == 0


def test_errors_are_counted(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    graph = {
        "nodes": [
            {"id": "default", "kind": "default_capture"},
            {
                "id": "call",
                "kind": "api_request",
                "settings": {"method": "POST", "url": "http://127.0.0.1:9/nothing-listens"},
            },
        ],
        "edges": [{"source": "default", "target": "call"}],
    }
    sid = active(admin, db.id, **graph)
    engage(admin, sid, profiles(app, db.id, 1)[0])
    app.run_until_idle(clock)
    body = admin.get(f"/scenarios/{sid}/stats").json()
    assert body["errors"] == 1 and body["failed"] == 1
    assert nodes(body, "errors")["call"] == 1


def test_realtime_stats_per_node(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    for pid in profiles(app, db.id, 4):
        engage(admin, sid, pid)
    body = admin.get(f"/scenarios/{sid}/stats/realtime").json()
    assert body["inside"] == 4 and nodes(body, "inside") == {"default": 4, "wait": 0, "done": 0}
    app.run_pending()
    body = admin.get(f"/scenarios/{sid}/stats/realtime").json()
    assert body["inside"] == 4 and nodes(body, "inside") == {"default": 0, "wait": 4, "done": 0}


def test_tasks_waiting_in_a_node_with_the_exact_time_they_leave(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id)
    pids = profiles(app, db.id, 5)
    for i, pid in enumerate(pids):
        engage(admin, sid, pid, **({"api_content": {"i": i}} if i == 0 else {}))
        app.run_pending()
        clock.advance(HOUR)

    page = admin.get(f"/scenarios/{sid}/nodes/wait/tasks", params={"limit": 2}).json()
    assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 0)
    first = page["tasks"][0]
    assert first["profile_id"] == pids[0] and first["state"] == "scheduled"
    assert first["has_api_content"] is True and page["tasks"][1]["has_api_content"] is False
    entered = datetime.fromisoformat(first["node_entered_at"])
    assert entered == START
    assert datetime.fromisoformat(first["leaves_at"]) == datetime(2026, 1, 2, tzinfo=UTC)

    rest = admin.get(f"/scenarios/{sid}/nodes/wait/tasks", params={"offset": 2}).json()
    assert [t["profile_id"] for t in rest["tasks"]] == pids[2:]
    assert admin.get(f"/scenarios/{sid}/nodes/done/tasks").json() == {
        "total": 0,
        "limit": 50,
        "offset": 0,
        "tasks": [],
    }
    assert "no node 'nope'" in detail(admin.get(f"/scenarios/{sid}/nodes/nope/tasks"), 404)
    detail(admin.get(f"/scenarios/{sid}/nodes/wait/tasks", params={"limit": 0}), 422)
    detail(admin.get(f"/scenarios/{sid}/nodes/wait/tasks", params={"offset": -1}), 422)


def test_download_api_content(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id, reentry="parallel")
    pid = profiles(app, db.id, 1)[0]
    with_content = engage(admin, sid, pid, api_content={"cart": [{"sku": "A1", "qty": 2}]})
    without = engage(admin, sid, pid)

    response = admin.get(f"/scenarios/{sid}/tasks/{with_content['task_id']}/api-content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "attachment" in response.headers["content-disposition"]
    assert response.json() == {"cart": [{"sku": "A1", "qty": 2}]}

    url = f"/scenarios/{sid}/tasks/{without['task_id']}/api-content"
    assert "without API content" in detail(admin.get(url), 404)
    assert "does not exist" in detail(admin.get(f"/scenarios/{sid}/tasks/987654/api-content"), 404)
    other = active(admin, db.id)
    url = f"/scenarios/{other}/tasks/{with_content['task_id']}/api-content"
    assert "not in scenario" in detail(admin.get(url), 404)


def test_remove_one_task(app: App, admin: TestClient, db: ProfileDatabase) -> None:
    sid = active(admin, db.id)
    pids = profiles(app, db.id, 2)
    tasks = [engage(admin, sid, pid)["task_id"] for pid in pids]
    app.run_pending()

    response = admin.delete(f"/scenarios/{sid}/tasks/{tasks[0]}")
    assert response.status_code == 200 and response.json() == {"removed": 1}
    page = admin.get(f"/scenarios/{sid}/nodes/wait/tasks").json()
    assert page["total"] == 1 and [t["task_id"] for t in page["tasks"]] == [tasks[1]]
    stats = admin.get(f"/scenarios/{sid}/stats").json()
    assert stats["removed"] == 1

    assert "already left" in detail(admin.delete(f"/scenarios/{sid}/tasks/{tasks[0]}"), 409)
    assert "does not exist" in detail(admin.delete(f"/scenarios/{sid}/tasks/55555"), 404)
    other = active(admin, db.id)
    assert "not in scenario" in detail(admin.delete(f"/scenarios/{other}/tasks/{tasks[1]}"), 404)
    actions = [e["action"] for e in admin.get(f"/scenarios/{sid}/audit").json()]
    assert actions[0] == "remove_task"


def test_remove_all_tasks_in_a_node(
    app: App, admin: TestClient, db: ProfileDatabase, clock: FakeClock
) -> None:
    sid = active(admin, db.id)
    for pid in profiles(app, db.id, 3):
        engage(admin, sid, pid)
    app.run_pending()
    late = engage(admin, sid, profiles(app, db.id, 1, start=10)[0])["task_id"]  # still at default

    response = admin.delete(f"/scenarios/{sid}/nodes/wait/tasks")
    assert response.json() == {"removed": 3}
    realtime = admin.get(f"/scenarios/{sid}/stats/realtime").json()
    assert realtime["inside"] == 1 and nodes(realtime, "inside")["default"] == 1
    assert admin.get(f"/scenarios/{sid}/nodes/default/tasks").json()["tasks"][0]["task_id"] == late
    assert "no node" in detail(admin.delete(f"/scenarios/{sid}/nodes/ghost/tasks"), 404)
    journal = admin.get(f"/scenarios/{sid}/audit").json()
    assert journal[0]["action"] == "remove_node_tasks"
    assert journal[0]["details"] == {"node_id": "wait", "tasks": 3}
