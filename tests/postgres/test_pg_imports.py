"""Concurrent imports of the same profiles on PostgreSQL: several clients posting
overlapping batches, new profiles then existing ones, in different orders. None
fails (no unique violation, no deadlock), every profile exists once, and each
import captured it per the scenarios' re-entry modes."""

from __future__ import annotations

import random
import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import text

from scenaria.api.app import create_app
from scenaria.model.profiles import FieldType, ImportSource
from scenaria.model.scenario import Edge, Node, ReentryMode, Scenario
from scenaria.services.app import App
from scenaria.services.profiles import ImportResult
from tests.conftest import person

CLIENTS = 3
PROFILES = 1000


def _scenario(app: App, database_id: int, name: str, mode: ReentryMode, on_update: bool) -> int:
    scenario = Scenario(
        database_id=database_id,
        name=name,
        reentry=mode,
        nodes=[
            Node(id="t", kind="trigger_any_import", settings={"on_update": on_update}),
            Node(id="wait", kind="pause", settings={"days": 1}),
        ],
        edges=[Edge(source="t", target="wait"), Edge(source="default", target="wait")],
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def _import_concurrently(app: App, database_id: int, seed: int) -> list[ImportResult]:
    """Each client imports every profile once, in its own order, in batches of 1,000
    (so rows are locked in chunks in the client's order, as a client sends them)."""
    start = threading.Barrier(CLIENTS)
    results: list[ImportResult] = []
    errors: list[BaseException] = []

    def client(n: int) -> None:
        order = list(range(PROFILES))
        random.Random(seed * 100 + n).shuffle(order)
        start.wait()
        try:
            for i in range(0, PROFILES, 1000):
                rows = [person(k) for k in order[i : i + 1000]]
                results.append(app.profiles.import_profiles(database_id, rows, ImportSource.API))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [], f"{len(errors)} imports failed, the first: {errors[0]!r}"
    return results


def _tasks(app: App, scenario_id: int) -> tuple[Counter[int], Counter[int]]:
    """(all tasks, live tasks) per profile."""
    with app.store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT profile_id, state FROM tasks WHERE scenario_id = :s"), {"s": scenario_id}
        ).all()
    live = Counter(r.profile_id for r in rows if r.state not in ("completed", "removed"))
    return Counter(r.profile_id for r in rows), live


def test_overlapping_concurrent_imports_neither_fail_nor_capture_twice(pg_app: App) -> None:
    db = pg_app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    new_only = _scenario(pg_app, db.id, "new only", ReentryMode.PARALLEL, on_update=False)
    every = _scenario(pg_app, db.id, "every import", ReentryMode.PARALLEL, on_update=True)
    once = _scenario(pg_app, db.id, "once ever", ReentryMode.ONCE_EVER, on_update=True)
    restart = _scenario(pg_app, db.id, "restart", ReentryMode.RESTART, on_update=True)

    created = _import_concurrently(pg_app, db.id, seed=1)  # new profiles, all overlapping
    assert sum(r.created for r in created) == PROFILES, "each profile is created once"
    assert sum(r.updated for r in created) == (CLIENTS - 1) * PROFILES
    updated = _import_concurrently(pg_app, db.id, seed=2)  # the same, now existing
    assert sum(r.created for r in updated) == 0
    assert sum(r.updated for r in updated) == CLIENTS * PROFILES
    assert pg_app.profiles.count_profiles(db.id) == PROFILES

    imports = 2 * CLIENTS
    with pg_app.store.read() as tx:
        ids = set(tx.profiles.by_keys(db.id, [f"user{i}@example.com" for i in range(PROFILES)]))
    assert len(ids) == PROFILES
    all_tasks, _ = _tasks(pg_app, new_only)
    assert set(all_tasks.values()) == {1}, "a profile is new to one import only"
    all_tasks, _ = _tasks(pg_app, every)
    assert set(all_tasks.values()) == {imports}, "parallel: each import its own task"
    all_tasks, _ = _tasks(pg_app, once)
    assert set(all_tasks.values()) == {1}, "once ever: one task whatever the imports"
    all_tasks, live = _tasks(pg_app, restart)
    assert set(all_tasks.values()) == {imports}
    assert set(live.values()) == {1}, "restart: one task running, the others discarded"
    assert len(live) == PROFILES
    captured = sum(r.captured for r in created + updated)
    assert captured == PROFILES * (1 + imports + 1 + imports)


def test_an_import_that_loses_a_deadlock_is_run_again(pg_app: App) -> None:
    """Another transaction holding a profile the import needs, then asking for one the
    import holds: PostgreSQL aborts the import (it waited first) and the import runs
    again once the other commits; its triggers fire once."""
    db = pg_app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    every = _scenario(pg_app, db.id, "every import", ReentryMode.PARALLEL, on_update=True)
    pg_app.profiles.import_profiles(db.id, [person(1), person(2)], ImportSource.API)
    with pg_app.store.engine.connect() as conn:
        ids = dict(
            conn.execute(text("SELECT match_key, id FROM profiles ORDER BY match_key")).all()
        )
    first, second = ids["user1@example.com"], ids["user2@example.com"]

    other = pg_app.store.engine.connect()
    other.begin()
    other.execute(text("SELECT id FROM profiles WHERE id = :i FOR UPDATE"), {"i": second})
    results: list[ImportResult] = []
    errors: list[BaseException] = []

    def importer() -> None:  # locks user1, then waits for user2
        try:
            rows = [person(1), person(2)]
            results.append(pg_app.profiles.import_profiles(db.id or 0, rows, ImportSource.API))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=importer)
    thread.start()
    try:
        blocked = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        with pg_app.store.engine.connect() as probe:
            for _ in range(600):
                waiting = probe.execute(text(blocked)).scalar_one()
                probe.rollback()  # pg_stat_activity holds still within one transaction
                if waiting or not thread.is_alive():
                    break
                threading.Event().wait(0.05)
            else:
                activity = probe.execute(
                    text(
                        "SELECT pid, state, wait_event_type, wait_event, left(query, 60) "
                        "FROM pg_stat_activity WHERE datname = current_database()"
                    )
                ).all()
                raise AssertionError(f"the import never waited for the other: {activity}")
        assert thread.is_alive(), f"the import did not wait: {errors or results}"
        # Now the other transaction wants the profile the import holds: a deadlock.
        other.execute(text("SELECT id FROM profiles WHERE id = :i FOR UPDATE"), {"i": first})
        other.commit()
    finally:
        other.close()
        thread.join(60)
    assert errors == [], f"the import failed: {errors[0]!r}"
    assert results[0].updated == 2
    all_tasks, _ = _tasks(pg_app, every)
    assert all_tasks == Counter({first: 2, second: 2}), "captured once per import"


def test_clients_posting_overlapping_batches_to_the_api_get_no_server_error(pg_app: App) -> None:
    db = pg_app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    pg_app.access.create_user("importer", [], is_admin=True)
    token = pg_app.access.issue_token("importer").token
    statuses: list[int] = []
    start = threading.Barrier(CLIENTS)
    api_app = create_app(pg_app)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(api_app, headers=headers) as warm:
        # FastAPI builds a route on its first request; building one in several threads at
        # once trips a warning (serving, routes are built in the one event loop thread).
        empty = warm.post(f"/databases/{db.id}/profiles/batch", json={"profiles": []})
        assert empty.status_code == 422

    def client(n: int) -> None:
        order = list(range(300))
        random.Random(n).shuffle(order)
        with TestClient(api_app, headers=headers) as api:
            start.wait()
            for _ in range(2):  # new profiles, then the same ones again
                rows = [{"fields": {"email": f"user{k}@example.com"}} for k in order]
                response = api.post(f"/databases/{db.id}/profiles/batch", json={"profiles": rows})
                statuses.append(response.status_code)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * (2 * CLIENTS)
    assert db.id is not None and pg_app.profiles.count_profiles(db.id) == 300
