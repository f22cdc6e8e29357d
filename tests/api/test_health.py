"""The probes: /healthz answers while the process lives; /readyz tells a dead engine
thread or an unreachable database with 503, and the engine recovers by itself."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scenaria.api.app import create_app
from scenaria.channels.resources import EmailResource, Resources
from scenaria.clock import FakeClock
from scenaria.model import scenario_file
from scenaria.model.profiles import FieldType, ImportSource, SubscriptionStatus
from scenaria.model.scenario import Scenario
from scenaria.services.app import App, Config
from scenaria.services.worker import Worker
from scenaria.store.database import Store
from tests.conftest import person

EMAIL = """
scenaria: 1
name: Welcome
reentry: once_ever
nodes:
  - {id: new_profile, kind: trigger_any_import}
  - {id: hello, kind: email, settings: {subject: "Hello", text: "Welcome"}}
edges:
  - {source: new_profile, target: hello}
"""


def eventually(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def paused_scenario(app: App) -> tuple[int, int]:
    """An active scenario that takes each imported profile into a one-day pause."""
    db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
    assert db.id is not None
    scenario = Scenario.model_validate(
        {
            "database_id": db.id,
            "name": "Wait",
            "reentry": "once_ever",
            "nodes": [
                {"id": "new", "kind": "trigger_api_import"},
                {"id": "wait", "kind": "pause", "settings": {"days": 1}},
            ],
            "edges": [{"source": "new", "target": "wait"}],
        }
    )
    saved = app.scenarios.save(scenario)
    assert saved.problems == []
    app.scenarios.activate(saved.scenario.id)
    return db.id, saved.scenario.id


def test_probes_need_no_token_and_tell_no_secret(app: App) -> None:
    worker = Worker(app, idle_seconds=0.01)
    with TestClient(create_app(app, worker=worker)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        eventually(
            lambda: all(s.last_pass_seconds_ago is not None for s in worker.status()),
            "both loops to complete a pass",
        )
        ready = client.get("/readyz")
        body = ready.json()
    assert ready.status_code == 200
    assert body["status"] == "ready"
    assert body["database"] == {"status": "ok", "dialect": app.store.dialect, "error": None}
    for loop in ("scheduler", "deliverer"):
        assert body[loop]["status"] == "running" and body[loop]["alive"] is True
        assert body[loop]["restarts"] == 0 and body[loop]["last_error"] is None
        assert body[loop]["last_pass_seconds_ago"] >= 0
    assert body["delivery"] == {"status": "ok", "paused_resources": []}
    text = str(body)
    assert app.config.secret.hex() not in text and app.store.url not in text


def test_a_dead_scheduler_thread_makes_the_process_unready_until_restarted(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = threading.Event()
    broken.set()
    run_batch = app.scheduler.run_batch

    def out_of_memory() -> int:
        if broken.is_set():
            raise MemoryError
        return run_batch()

    monkeypatch.setattr(app.scheduler, "run_batch", out_of_memory)
    db_id, scenario_id = paused_scenario(app)
    worker = Worker(app, idle_seconds=0.01, restart_seconds=0.01, max_restart_seconds=0.05)
    with TestClient(create_app(app, worker=worker)) as client:
        # The scheduler thread dies; the supervisor restarts it, and it dies again.
        eventually(lambda: worker.status()[0].restarts >= 2, "the scheduler to be restarted")
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not_ready"
        assert body["scheduler"]["status"] in ("dead", "restarting")
        assert body["scheduler"]["last_error"] == "MemoryError"
        assert body["scheduler"]["restarts"] >= 2
        assert body["deliverer"]["status"] == "running"
        assert client.get("/healthz").status_code == 200
        # Meanwhile a new task stays at its trigger, past due.
        app.profiles.import_profiles(db_id, [person(1)], ImportSource.API)
        assert {n.id: n.inside for n in app.stats.realtime(scenario_id).nodes}["new"] == 1

        # Once batches stop failing the restarted thread does its work and is ready.
        broken.clear()
        eventually(lambda: client.get("/readyz").status_code == 200, "the engine to recover")
        body = client.get("/readyz").json()
        assert body["scheduler"]["status"] == "running"
        assert body["scheduler"]["restarts"] >= 2
        eventually(
            lambda: {n.id: n.inside for n in app.stats.realtime(scenario_id).nodes}["wait"] == 1,
            "the waiting task to move on",
        )


def test_an_unreachable_database_makes_the_process_unready(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'no such directory' / 'scenaria.db'}"
    with App(Config(), store=Store(missing)) as app, TestClient(create_app(app)) as client:
        ready = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert ready.status_code == 503
    body = ready.json()
    assert body["database"]["status"] == "unreachable"
    assert body["database"]["error"] == "OperationalError"
    assert "no such directory" not in ready.text
    # `serve --no-worker`: the engine runs in `scenaria worker` processes, not here.
    assert body["scheduler"]["status"] == body["deliverer"]["status"] == "not_in_this_process"


def test_a_paused_resource_shows_in_readyz_and_leaves_the_process_ready(
    store: Store, clock: FakeClock
) -> None:
    with socket.socket() as s:  # a port nobody listens on: every connection is refused
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    resources = Resources(email={"default": EmailResource(smtp_port=closed)})
    with App(Config(resources=resources), clock=clock, store=store) as app:
        db = app.profiles.create_database("Customers", {"first_name": FieldType.STRING})
        assert db.id is not None
        saved = app.scenarios.save(scenario_file.loads(EMAIL, db.id))
        assert saved.problems == []
        app.scenarios.activate(saved.scenario.id)
        people = [person(i, email_status=SubscriptionStatus.SUBSCRIBED) for i in range(5)]
        app.profiles.import_profiles(db.id, people, ImportSource.API)
        worker = Worker(app, idle_seconds=0.01)
        with TestClient(create_app(app, worker=worker)) as client:
            eventually(
                lambda: client.get("/readyz").json()["delivery"]["status"] == "degraded",
                "the circuit breaker to pause the SMTP server",
            )
            ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    [paused] = body["delivery"]["paused_resources"]
    assert (paused["channel"], paused["resource"], paused["failures"]) == ("email", "default", 3)
    assert "reason" not in paused and str(closed) not in ready.text  # no addresses in public
