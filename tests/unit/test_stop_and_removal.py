"""Stopping a scenario (end or freeze) and taking tasks out of it: each is an exit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from scenaria.clock import DAY, FakeClock
from scenaria.errors import Conflict, NotFound
from scenaria.model.scenario import Edge, Node, Scenario
from scenaria.services.app import App
from scenaria.services.stats import NodeStats
from tests.conftest import HttpSink, import_people, person, welcome_scenario

HOUR = 3600.0
FULL_PATH = [("default", "next"), ("first", "next"), ("second", "next"), ("done", "exit")]


def two_pauses(database_id: int) -> Scenario:
    """default capture → pause 1 day → pause 1 day → exit."""
    return Scenario(
        database_id=database_id,
        name="Two pauses",
        nodes=[
            Node(id="default", kind="default_capture"),
            Node(id="first", kind="pause", settings={"days": 1}),
            Node(id="second", kind="pause", settings={"days": 1}),
            Node(id="done", kind="exit"),
        ],
        edges=[
            Edge(source="default", target="first"),
            Edge(source="first", target="second"),
            Edge(source="second", target="done"),
        ],
    )


@dataclass
class Populated:
    scenario_id: int
    early: list[int]
    """Profiles engaged a day ago: now waiting in ``second``."""
    late: list[int]
    """Profiles engaged just now: waiting in ``first``."""
    t0: float


def populate(app: App, db_id: int, clock: FakeClock) -> Populated:
    saved = app.scenarios.save(two_pauses(db_id))
    assert saved.problems == [] and saved.scenario.id is not None
    sid = saved.scenario.id
    app.scenarios.activate(sid)
    pids = import_people(app, db_id, [person(i) for i in range(1, 5)]).profile_ids
    early, late = pids[:2], pids[2:]
    t0 = clock.now()
    app.scenarios.engage_many(sid, early)
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()
    app.scenarios.engage_many(sid, late)
    app.run_pending()
    clock.advance(HOUR)
    for pid in early:
        assert task_of(app, pid)["node_id"] == "second"
    for pid in late:
        assert task_of(app, pid)["node_id"] == "first"
    return Populated(sid, early, late, t0)


def task_of(app: App, profile_id: int) -> dict[str, Any]:
    (task,) = app.profiles.card(profile_id)["tasks"]
    return task


def path_of(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["node_id"], v["port"]) for v in task["path"]]


def nodes(app: App, scenario_id: int) -> dict[str, NodeStats]:
    return {n.id: n for n in app.stats.scenario(scenario_id, all_time=True).nodes}


def assert_taken_out(app: App, pid: int, node: str, reason: str) -> dict[str, Any]:
    task = task_of(app, pid)
    assert (task["state"], task["end_reason"], task["exit_node"]) == ("removed", reason, node)
    assert task["node_id"] is None
    assert task["ended_at"] == app.clock.now()
    last = task["path"][-1]
    assert (last["node_id"], last["port"], last["left_at"]) == (node, reason, app.clock.now())
    return task


def snapshot(app: App, pids: list[int]) -> dict[int, tuple[Any, ...]]:
    out = {}
    for pid in pids:
        t = task_of(app, pid)
        out[pid] = (t["state"], t["node_id"], t["end_reason"], t["ended_at"], path_of(t))
    return out


# --------------------------------------------------------------------------- stop


def test_stop_ends_every_task_as_an_exit_at_its_node(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)
    assert app.scenarios.stop(s.scenario_id) == 4

    for pid in s.early:
        task = assert_taken_out(app, pid, "second", "scenario_stopped")
        assert path_of(task) == [
            ("default", "next"),
            ("first", "next"),
            ("second", "scenario_stopped"),
        ]
    for pid in s.late:
        task = assert_taken_out(app, pid, "first", "scenario_stopped")
        assert path_of(task) == [("default", "next"), ("first", "scenario_stopped")]

    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.entered, stats.removed, stats.completed, stats.inside) == (4, 4, 0, 0)
    by_node = nodes(app, s.scenario_id)
    assert (by_node["first"].exited, by_node["first"].inside) == (4, 0)
    assert (by_node["second"].exited, by_node["second"].inside) == (2, 0)
    assert by_node["done"].entered == 0

    # Nothing of theirs moves again, neither while stopped nor after reactivation.
    before = snapshot(app, s.early + s.late)
    clock.advance(3 * DAY)
    app.run_until_idle(clock)
    assert app.scenarios.activate(s.scenario_id) == 0, "nobody was kept to wake up"
    app.run_until_idle(clock)
    assert snapshot(app, s.early + s.late) == before


def test_stop_freezes_tasks_and_activation_resumes_them(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)
    everyone = s.early + s.late
    assert app.scenarios.stop(s.scenario_id, keep_profiles=True) == 4
    frozen = snapshot(app, everyone)
    assert all(state == "frozen" for state, *_ in frozen.values())

    # Their pauses end at t0 + 2 days; long past that, while stopped, nobody moves.
    clock.advance_to(s.t0 + 5 * DAY)
    app.run_pending()
    app.run_until_idle(clock)
    assert snapshot(app, everyone) == frozen
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.inside, stats.removed, stats.completed) == (4, 0, 0)
    by_node = nodes(app, s.scenario_id)
    assert (by_node["first"].inside, by_node["second"].inside) == (2, 2)

    # Activation wakes them where they stopped; their overdue pauses fire at once.
    assert app.scenarios.activate(s.scenario_id) == 4
    woke_at = clock.now()
    app.run_pending()
    for pid in s.early:
        task = task_of(app, pid)
        assert path_of(task) == FULL_PATH
        assert (task["state"], task["end_reason"], task["ended_at"]) == (
            "finished",
            "exit_node",
            woke_at,
        )
    for pid in s.late:
        task = task_of(app, pid)
        assert (task["state"], task["node_id"]) == ("scheduled", "second")
        assert task["path"][-1]["node_id"] == "first"
        assert task["path"][-1]["left_at"] == woke_at

    # The next pause runs its full length from the wake-up.
    clock.advance(DAY - 1)
    app.run_pending()
    assert all(task_of(app, pid)["node_id"] == "second" for pid in s.late)
    app.run_until_idle(clock)
    for pid in s.late:
        task = task_of(app, pid)
        assert path_of(task) == FULL_PATH
        assert task["ended_at"] == woke_at + DAY
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.completed, stats.removed, stats.inside) == (4, 0, 0)


def test_frozen_tasks_can_be_cleared_and_then_do_not_wake(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)
    app.scenarios.stop(s.scenario_id, keep_profiles=True)
    assert app.scenarios.clear_all(s.scenario_id) == 4
    for pid in s.late:
        assert_taken_out(app, pid, "first", "cleared")
    assert app.scenarios.activate(s.scenario_id) == 0
    before = snapshot(app, s.early + s.late)
    app.run_until_idle(clock)
    assert snapshot(app, s.early + s.late) == before


# --------------------------------------------------------------------------- removal


def test_remove_one_task(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)
    victim, survivor = s.late
    victim_task = task_of(app, victim)["task_id"]

    app.scenarios.remove_task(victim_task)

    task = assert_taken_out(app, victim, "first", "removed_by_user")
    assert path_of(task) == [("default", "next"), ("first", "removed_by_user")]
    assert task_of(app, survivor)["state"] == "scheduled"
    by_node = nodes(app, s.scenario_id)
    assert by_node["first"].inside == 1
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.removed, stats.inside) == (1, 3)
    assert [t["profile_id"] for t in app.stats.tasks_in_node(s.scenario_id, "first")] == [survivor]

    before = snapshot(app, [victim])
    app.run_until_idle(clock)
    assert snapshot(app, [victim]) == before
    for pid in (*s.early, survivor):
        assert path_of(task_of(app, pid)) == FULL_PATH

    with pytest.raises(Conflict):
        app.scenarios.remove_task(victim_task)  # already removed
    with pytest.raises(Conflict):
        app.scenarios.remove_task(task_of(app, survivor)["task_id"])  # already finished
    assert snapshot(app, [victim]) == before
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.removed, stats.completed, stats.inside) == (1, 3, 0)


def test_remove_all_tasks_in_a_node(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)

    assert app.scenarios.remove_node_tasks(s.scenario_id, "second") == 2

    for pid in s.early:
        assert_taken_out(app, pid, "second", "removed_by_user")
    for pid in s.late:
        assert task_of(app, pid)["node_id"] == "first"
    by_node = nodes(app, s.scenario_id)
    assert (by_node["second"].inside, by_node["first"].inside) == (0, 2)
    assert app.stats.tasks_in_node(s.scenario_id, "second") == []
    assert app.stats.scenario(s.scenario_id, all_time=True).removed == 2

    before = snapshot(app, s.early)
    app.run_until_idle(clock)
    assert snapshot(app, s.early) == before
    for pid in s.late:
        assert path_of(task_of(app, pid)) == FULL_PATH
    assert nodes(app, s.scenario_id)["second"].exited == 4

    assert app.scenarios.remove_node_tasks(s.scenario_id, "second") == 0
    with pytest.raises(NotFound):
        app.scenarios.remove_node_tasks(s.scenario_id, "no_such_node")


def test_clear_all_profiles(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)

    assert app.scenarios.clear_all(s.scenario_id) == 4

    for pid in s.early:
        assert_taken_out(app, pid, "second", "cleared")
    for pid in s.late:
        assert_taken_out(app, pid, "first", "cleared")
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.removed, stats.inside) == (4, 0)
    assert all(n.inside == 0 for n in stats.nodes)

    before = snapshot(app, s.early + s.late)
    clock.advance(3 * DAY)
    app.run_until_idle(clock)
    assert snapshot(app, s.early + s.late) == before

    # The scenario itself stays active and captures again.
    again = app.scenarios.engage(s.scenario_id, s.early[0])
    assert again.captured
    assert app.stats.scenario(s.scenario_id, all_time=True).inside == 1


def test_deleting_a_node_takes_its_tasks_out(app: App, db, clock: FakeClock) -> None:
    s = populate(app, db.id, clock)
    current = app.scenarios.get(s.scenario_id)
    edited = current.model_copy(
        update={
            "nodes": [n for n in current.nodes if n.id != "second"],
            "edges": [
                Edge(source="default", target="first"),
                Edge(source="first", target="done"),
            ],
        }
    )

    saved = app.scenarios.save(edited)
    assert saved.problems == []

    for pid in s.early:
        task = assert_taken_out(app, pid, "second", "node_deleted")
        assert path_of(task) == [("default", "next"), ("first", "next"), ("second", "node_deleted")]
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.removed, stats.inside) == (2, 2)

    before = snapshot(app, s.early)
    app.run_until_idle(clock)
    assert snapshot(app, s.early) == before
    for pid in s.late:
        task = task_of(app, pid)
        assert path_of(task) == [("default", "next"), ("first", "next"), ("done", "exit")]
        assert task["state"] == "finished"
    stats = app.stats.scenario(s.scenario_id, all_time=True)
    assert (stats.removed, stats.completed, stats.inside) == (2, 2, 0)


@pytest.mark.parametrize("take_out", ["remove_task", "clear_all", "stop"])
def test_taken_out_task_gets_no_pending_api_request_retry(
    app: App, db, clock: FakeClock, http_sink: HttpSink, take_out: str
) -> None:
    """A profile taken out while its call-centre request waits for a retry is not phoned."""
    app.profiles.add_promo_codes("welcome", ["C1"])
    saved = app.scenarios.save(welcome_scenario(db.id, http_sink.url))
    sid = saved.scenario.id
    assert sid is not None
    app.scenarios.activate(sid)
    (pid,) = import_people(app, db.id, [person(1)]).profile_ids
    http_sink.status = 500
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()
    clock.advance(DAY)
    app.run_pending()
    assert len(http_sink.requests) == 1
    task = task_of(app, pid)
    assert (task["node_id"], task["state"]) == ("call_centre", "awaiting")

    if take_out == "remove_task":
        app.scenarios.remove_task(task["task_id"])
    elif take_out == "clear_all":
        app.scenarios.clear_all(sid)
    else:
        app.scenarios.stop(sid)
    before = snapshot(app, [pid])
    assert before[pid][0] == "removed"

    http_sink.status = 200
    app.run_until_idle(clock)
    assert len(http_sink.requests) == 1, "the call centre was asked about a removed profile"
    assert snapshot(app, [pid]) == before
