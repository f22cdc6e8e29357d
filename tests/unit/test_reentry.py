"""Re-entry modes: what happens when a profile is captured again by the same scenario."""

from __future__ import annotations

from typing import Any

import pytest

from scenaria.clock import DAY, FakeClock
from scenaria.errors import InvalidInput, ScenarioNotActive
from scenaria.model.profiles import FieldType, ImportSource
from scenaria.model.scenario import Edge, Node, ReentryMode, Scenario
from scenaria.services.app import App
from tests.conftest import import_people, person

HOUR = 3600.0
WAIT_PATH = [("default", "next"), ("wait", "next"), ("done", "exit")]


def waiting_scenario(
    database_id: int, reentry: ReentryMode, *, import_trigger: bool = False
) -> Scenario:
    """default capture (and optionally an import trigger) → pause 1 day → exit."""
    nodes = [
        Node(id="default", kind="default_capture"),
        Node(id="wait", kind="pause", settings={"days": 1}),
        Node(id="done", kind="exit"),
    ]
    edges = [Edge(source="default", target="wait"), Edge(source="wait", target="done")]
    if import_trigger:
        nodes.append(Node(id="imported", kind="trigger_any_import", settings={"on_update": True}))
        edges.append(Edge(source="imported", target="wait"))
    return Scenario(
        database_id=database_id,
        name=f"Re-entry {reentry.value}",
        reentry=reentry,
        nodes=nodes,
        edges=edges,
    )


def start(app: App, scenario: Scenario) -> int:
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    assert saved.scenario.id is not None
    app.scenarios.activate(saved.scenario.id)
    return saved.scenario.id


def new_profile(app: App, db_id: int, i: int = 1) -> int:
    """A profile created while no import-triggered scenario listens."""
    return import_people(app, db_id, [person(i)]).profile_ids[0]


def tasks_of(app: App, profile_id: int, scenario_id: int) -> list[dict[str, Any]]:
    return [t for t in app.profiles.card(profile_id)["tasks"] if t["scenario_id"] == scenario_id]


def path_of(task: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["node_id"], v["port"]) for v in task["path"]]


LIVE = {"scheduled", "awaiting", "frozen"}


def live(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tasks if t["state"] in LIVE]


# ------------------------------------------------------------- engage (default capture)


def test_once_ever_refuses_while_inside_and_after_leaving(app: App, db, clock: FakeClock) -> None:
    pid = new_profile(app, db.id)
    sid = start(app, waiting_scenario(db.id, ReentryMode.ONCE_EVER))

    first = app.scenarios.engage(sid, pid)
    assert first.captured and first.refused is None
    app.run_pending()

    again = app.scenarios.engage(sid, pid)
    assert not again.captured
    assert (again.task_id, again.refused) == (None, "once_ever")

    app.run_until_idle(clock)
    (task,) = tasks_of(app, pid, sid)
    assert task["state"] == "finished"

    after = app.scenarios.engage(sid, pid)
    assert (after.task_id, after.refused) == (None, "once_ever")
    assert len(tasks_of(app, pid, sid)) == 1
    assert app.stats.scenario(sid, all_time=True).entered == 1


def test_not_while_active_refuses_only_while_inside(app: App, db, clock: FakeClock) -> None:
    pid = new_profile(app, db.id)
    sid = start(app, waiting_scenario(db.id, ReentryMode.NOT_WHILE_ACTIVE))

    first = app.scenarios.engage(sid, pid)
    assert first.captured
    app.run_pending()
    again = app.scenarios.engage(sid, pid)
    assert (again.task_id, again.refused) == (None, "not_while_active")
    assert len(tasks_of(app, pid, sid)) == 1

    app.run_until_idle(clock)
    after = app.scenarios.engage(sid, pid)
    assert after.captured and after.refused is None
    assert after.task_id != first.task_id
    old, new = tasks_of(app, pid, sid)
    assert (old["task_id"], old["state"]) == (first.task_id, "finished")
    assert (new["task_id"], new["state"]) == (after.task_id, "scheduled")
    assert app.stats.scenario(sid, all_time=True).entered == 2


def test_restart_discards_the_running_task_and_its_data(app: App, db, clock: FakeClock) -> None:
    pid = new_profile(app, db.id)
    sid = start(app, waiting_scenario(db.id, ReentryMode.RESTART))
    t0 = clock.now()

    first = app.scenarios.engage(sid, pid, {"order": 1})
    app.run_pending()
    clock.advance(12 * HOUR)
    second = app.scenarios.engage(sid, pid, {"order": 2})
    assert second.captured and second.refused is None
    assert second.task_id != first.task_id

    old, new = tasks_of(app, pid, sid)
    assert old["task_id"] == first.task_id
    assert (old["state"], old["end_reason"], old["exit_node"]) == ("removed", "restarted", "wait")
    assert old["data"] == {}, "the old task's API content is deleted"
    assert path_of(old) == [("default", "next"), ("wait", "restarted")]
    assert new["data"] == {"api_content": {"order": 2}}
    assert new["entered_at"] == clock.now()

    app.run_pending()
    in_wait = app.stats.tasks_in_node(sid, "wait")
    assert [(t["task_id"], t["api_content"]) for t in in_wait] == [(second.task_id, {"order": 2})]

    # The old task's pause would have ended at t0 + 1 day: nothing happens then.
    clock.advance_to(t0 + DAY)
    app.run_pending()
    old, new = tasks_of(app, pid, sid)
    assert path_of(old) == [("default", "next"), ("wait", "restarted")]
    assert new["node_id"] == "wait" and new["state"] == "scheduled"

    # The new task starts from the beginning and runs its full pause.
    app.run_until_idle(clock)
    old, new = tasks_of(app, pid, sid)
    assert path_of(new) == WAIT_PATH
    assert new["state"] == "finished"
    assert new["ended_at"] == t0 + 12 * HOUR + DAY
    assert path_of(old) == [("default", "next"), ("wait", "restarted")]

    stats = app.stats.scenario(sid, all_time=True)
    assert (stats.entered, stats.removed, stats.completed, stats.inside) == (2, 1, 1, 0)


def test_restart_before_the_first_task_moved(app: App, db, clock: FakeClock) -> None:
    """Re-captured while still at the start element: the old task still ends as restarted."""
    pid = new_profile(app, db.id)
    sid = start(app, waiting_scenario(db.id, ReentryMode.RESTART))
    first = app.scenarios.engage(sid, pid, {"n": 1})
    second = app.scenarios.engage(sid, pid, {"n": 2})
    app.run_until_idle(clock)

    old, new = tasks_of(app, pid, sid)
    assert (old["task_id"], old["end_reason"], old["data"]) == (first.task_id, "restarted", {})
    assert (new["task_id"], new["state"]) == (second.task_id, "finished")
    assert path_of(new) == WAIT_PATH
    assert new["data"] == {"api_content": {"n": 2}}


def test_parallel_keeps_every_entry_as_its_own_task(app: App, db, clock: FakeClock) -> None:
    pid = new_profile(app, db.id)
    sid = start(app, waiting_scenario(db.id, ReentryMode.PARALLEL))

    results = []
    for n in range(3):
        results.append(app.scenarios.engage(sid, pid, {"n": n}))
        app.run_pending()
        clock.advance(HOUR)
    assert all(r.captured and r.refused is None for r in results)
    assert len({r.task_id for r in results}) == 3

    tasks = tasks_of(app, pid, sid)
    assert len(live(tasks)) == 3
    assert [t["data"]["api_content"] for t in tasks] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert app.stats.scenario(sid, all_time=True).inside == 3
    assert len(app.stats.tasks_in_node(sid, "wait")) == 3

    app.run_until_idle(clock)
    tasks = tasks_of(app, pid, sid)
    assert [t["state"] for t in tasks] == ["finished"] * 3
    assert all(path_of(t) == WAIT_PATH for t in tasks)
    stats = app.stats.scenario(sid, all_time=True)
    assert (stats.entered, stats.completed, stats.inside) == (3, 3, 0)


def test_engaging_into_an_inactive_scenario_raises(app: App, db, clock: FakeClock) -> None:
    pid = new_profile(app, db.id)
    saved = app.scenarios.save(waiting_scenario(db.id, ReentryMode.PARALLEL))
    sid = saved.scenario.id
    assert sid is not None

    with pytest.raises(ScenarioNotActive):
        app.scenarios.engage(sid, pid)  # a draft never activated

    app.scenarios.activate(sid)
    assert app.scenarios.engage(sid, pid).captured
    app.scenarios.stop(sid)
    with pytest.raises(ScenarioNotActive):
        app.scenarios.engage(sid, pid)

    (task,) = tasks_of(app, pid, sid)
    assert task["end_reason"] == "scenario_stopped"
    assert app.stats.scenario(sid, all_time=True).entered == 1


def test_profile_of_another_database_is_refused(app: App, db, clock: FakeClock) -> None:
    other = app.profiles.create_database("Partners", {"first_name": FieldType.STRING})
    stranger = import_people(app, other.id, [person(1)]).profile_ids[0]
    mine = new_profile(app, db.id, 2)
    sid = start(app, waiting_scenario(db.id, ReentryMode.PARALLEL))

    with pytest.raises(InvalidInput):
        app.scenarios.engage(sid, stranger)
    with pytest.raises(InvalidInput):
        app.scenarios.engage_many(sid, [mine, stranger])

    assert app.profiles.card(stranger)["tasks"] == []
    assert app.profiles.card(mine)["tasks"] == [], "the whole request is refused"
    assert app.stats.scenario(sid, all_time=True).entered == 0


# --------------------------------------------------------------------------- repeated imports


# Captures expected from the second import (profile still inside) and from a third
# import after every task of the profile has ended.
IMPORT_CASES = [
    (ReentryMode.ONCE_EVER, 0, 0),
    (ReentryMode.NOT_WHILE_ACTIVE, 0, 1),
    (ReentryMode.RESTART, 1, 1),
    (ReentryMode.PARALLEL, 1, 1),
]


@pytest.mark.parametrize(("mode", "while_inside", "after_leaving"), IMPORT_CASES)
def test_repeated_imports_with_on_update_trigger(
    app: App, db, clock: FakeClock, mode: ReentryMode, while_inside: int, after_leaving: int
) -> None:
    sid = start(app, waiting_scenario(db.id, mode, import_trigger=True))

    first = import_people(app, db.id, [person(1)], ImportSource.FILE)
    assert (first.created, first.captured) == (1, 1)
    (pid,) = first.profile_ids
    app.run_pending()
    clock.advance(HOUR)

    second = import_people(app, db.id, [person(1, first_name="Renamed")], ImportSource.FILE)
    assert (second.created, second.updated, second.captured) == (0, 1, while_inside)
    app.run_pending()
    tasks = tasks_of(app, pid, sid)
    assert len(tasks) == 1 + while_inside
    expected_live = 2 if mode is ReentryMode.PARALLEL else 1
    assert len(live(tasks)) == expected_live
    if mode is ReentryMode.RESTART:
        old, new = tasks
        assert (old["state"], old["end_reason"]) == ("removed", "restarted")
        assert path_of(old) == [("imported", "next"), ("wait", "restarted")]
        assert new["node_id"] == "wait"
    assert path_of(tasks[0])[0] == ("imported", "next")

    app.run_until_idle(clock)
    assert live(tasks_of(app, pid, sid)) == []

    third = import_people(app, db.id, [person(1, first_name="Again")], ImportSource.FILE)
    assert third.captured == after_leaving
    assert len(tasks_of(app, pid, sid)) == 1 + while_inside + after_leaving
    stats = app.stats.scenario(sid, all_time=True)
    assert stats.entered == 1 + while_inside + after_leaving


def test_update_import_does_not_capture_without_on_update(app: App, db, clock: FakeClock) -> None:
    scenario = waiting_scenario(db.id, ReentryMode.PARALLEL, import_trigger=True)
    trigger = scenario.node("imported")
    assert trigger is not None
    trigger.settings = {"on_update": False}
    sid = start(app, scenario)

    assert import_people(app, db.id, [person(1)]).captured == 1
    again = import_people(app, db.id, [person(1, first_name="Renamed")])
    assert (again.updated, again.captured) == (1, 0)
    (pid,) = again.profile_ids
    assert len(tasks_of(app, pid, sid)) == 1
